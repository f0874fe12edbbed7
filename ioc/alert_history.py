"""An alert's history (``/alerts/history?feed=&id=``, and the same as JSON at
``/api/v1/alerts/history``): every occurrence of it, raised, notified whom (and whether it went),
acknowledged by whom with what comment, escalated, resolved, oldest first.

It is drawn from the feed's alert log (bounded, ``ioc:{<feed>}:alerts:log``) and the delivery
log (``ioc:{delivery}:log``); whoever may see the alert's unit may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Flask, jsonify, request

from ioc import admin, alert_store, delivery_log
from ioc.alert_rules import RuleBook
from ioc.export_pages import FORMATS, send
from ioc.feeds import FEED_SPECS
from ioc.login import TEMPLATES, audit_view, current_user
from ioc.login import refused as refuse
from ioc.sheets import Kind, Sheet
from ioc.units import UnitTable
from layouts.i18n import N_, _

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SAID = {
    "raised": N_("Cảnh báo xuất hiện"),
    "cleared": N_("Hết cảnh báo"),
    "acknowledged": N_("Đã xác nhận"),
    "sent": N_("Đã gửi"),
    "given_up": N_("Gửi không được, đã bỏ"),
}
MESSAGES = {
    "raised": N_("cảnh báo"),
    "reminder": N_("nhắc lại"),
    "escalated": N_("chuyển cấp"),
    "cleared": N_("hết cảnh báo"),
}


@dataclass(frozen=True)
class Asked:
    feed: str
    alert_id: str


def timeline(client: redis.Redis, feed: str, alert_id: str) -> list[dict[str, str]]:
    """The alert's events from both logs, oldest first (each with ``at``, ``event`` and the rest)."""
    events = alert_store.history(client, feed, alert_id)
    events += [
        {**e, "event": e["outcome"], "message": e["event"]} for e in delivery_log.delivered(client, alert_id)
    ]
    return sorted(events, key=lambda e: e["at"])


def history_sheet(events: list[dict[str, str]], made_for: dict[str, str]) -> Sheet:
    """An alert's events as the page lists them: when, what, value and threshold, who and their
    note, the message and where it went (or why it did not)."""
    heads = (
        _("Thời điểm"),
        _("Sự kiện"),
        _("Giá trị"),
        _("Ngưỡng"),
        _("Người xác nhận"),
        _("Ghi chú"),
        _("Tin nhắn"),
        _("Nơi nhận"),
        _("Lỗi"),
    )

    def number(text: str | None) -> float | None:
        try:
            return float(text) if text else None
        except ValueError:
            return None

    said = {k: _(v) for k, v in SAID.items()}
    messages = {k: _(v) for k, v in MESSAGES.items()}
    rows = [
        (
            datetime.fromisoformat(e["at"]),
            said.get(e["event"], e["event"]),
            number(e.get("value")),
            number(e.get("threshold")),
            e.get("by"),
            e.get("comment"),
            messages.get(e.get("message") or "", e.get("message")),
            e.get("point"),
            e.get("error"),
        )
        for e in events
    ]
    kinds: tuple[Kind, ...] = ("time", "text", "number", "number", "text", "text", "text", "text", "text")
    return Sheet("lich-su-canh-bao", _("Lịch sử cảnh báo"), heads, kinds, rows, made_for, _("Thông tin"))


def install(server: Flask, client: redis.Redis, units: UnitTable, rules: RuleBook) -> None:
    bp = Blueprint("alert_history", __name__, template_folder=str(TEMPLATES))

    def asked() -> Asked | Any:
        person = current_user()
        if person is None:
            return refuse(401, "login required")
        feed, alert_id = request.args.get("feed", ""), request.args.get("id", "")
        if feed not in FEED_SPECS:
            return refuse(400, f"feed: {feed[:40]!r} is not a feed")
        rule, _sep, unit = alert_id.rpartition("|")
        if not rule or unit not in set(units.codes):
            return refuse(400, f"id: {alert_id[:80]!r} is not an alert (<rule>|<unit>)")
        if not person.sees_alert(unit, units):
            return refuse(403, f"unit {unit!r} is outside your scope")
        return Asked(feed, alert_id)

    @bp.get("/api/v1/alerts/history")
    def api_history() -> Any:
        found = asked()
        if not isinstance(found, Asked):
            return found
        events = timeline(client, found.feed, found.alert_id)
        return jsonify({"feed": found.feed, "id": found.alert_id, "events": events})

    @bp.get("/alerts/history.<fmt>")
    def download(fmt: str) -> Any:
        """The same events as the page, as CSV or XLSX (audited as an export)."""
        if fmt not in FORMATS:
            return refuse(404, f"no format {fmt[:10]!r}; formats: {', '.join(FORMATS)}")
        found = asked()
        if not isinstance(found, Asked):
            return found
        sheet = history_sheet(
            timeline(client, found.feed, found.alert_id),
            {_("Bảng"): _("Lịch sử cảnh báo"), _("Nguồn"): found.feed, _("Mã cảnh báo"): found.alert_id},
        )
        audit_view("export", table="alert_history", format=fmt, feed=found.feed, alert=found.alert_id)
        return send(sheet, fmt)

    @bp.get("/alerts/history")
    def page() -> Any:
        found = asked()
        if not isinstance(found, Asked):
            return found
        feed, alert_id = found.feed, found.alert_id
        rule, _sep, unit = alert_id.rpartition("|")
        title = rules.current()[rule].title if rule in rules.current() else rule
        return admin.page(
            "alert_history.html",
            events=timeline(client, feed, alert_id),
            said={k: _(v) for k, v in SAID.items()},
            messages={k: _(v) for k, v in MESSAGES.items()},
            heading=f"{units.names().get(unit, unit)}: {title}",
            download="/alerts/history",
            query=urlencode({"feed": feed, "id": alert_id}),
            feed_title=_(FEED_SPECS[feed].title),
            local=lambda iso: datetime.fromisoformat(iso).astimezone(TZ).strftime("%H:%M:%S %d/%m/%Y"),
        )

    server.register_blueprint(bp)
