"""The KPI API of FEEDS.md, ``GET /api/v1/kpis?feed=&unit=&window=``, and the case lists behind
the overdue counts, ``GET /api/v1/cases?feed=&unit=``."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Blueprint, jsonify, request

from ioc import alert_store, audit, keys
from ioc.access import User
from ioc.cases import said_case
from ioc.config import AlertRule
from ioc.documents import (
    WINDOWS,
    Alert,
    Case,
    CasesAnswer,
    KpiAnswer,
    Kpis,
    SaidAlert,
    SnapshotMeta,
    has_parts,
)
from ioc.feeds import FEED_SPECS
from ioc.history import History, instant
from ioc.kpis import TZ
from ioc.login import audit_view, user
from ioc.login import refused as refuse  # one JSON refusal for the whole API
from ioc.privacy import redact
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable
from layouts.alert_text import describe
from layouts.geography import record_keys

COMMENT_MAX = 300  # an acknowledgement's comment
APPROXIMATE_REASON = (
    "pre-2025 records are placed here by approximation: a pre-2025 commune split between this and "
    "another 2025 unit has its records counted in one of them, or (an area) the records filed at its "
    "former district count in it though the district's territory and the area's communes differ; "
    "this unit may count too many or too few (the province's figures are exact)"
)


def unit_and_window_error(units: UnitTable, unit: str, window: str) -> str | None:
    """What is wrong with a request's unit or window, if anything."""
    if unit not in set(units.codes):
        return f"unknown unit {unit!r} in scheme {units.scheme}"
    if window not in WINDOWS:
        return f"unknown window {window!r}; windows: {', '.join(WINDOWS)}"
    return None


def outside(unit: str) -> str:
    return (
        f"unit {unit!r} is outside your scope: a duty officer sees the communes and cases of their own units"
    )


def read_cases(
    reader: SnapshotReader, units: UnitTable, counted_in: Mapping[str, Collection[str]], feed: str, unit: str
) -> tuple[SnapshotMeta | None, list[Case] | None]:
    """``feed``'s meta and every overdue case of ``unit``, newest breach first (None: not yet
    computed). A commune's are those of its parent's list whose records count in it
    (``counted_in``: ``layouts.geography.record_keys``)."""
    commune = units.level(unit) == "commune"
    found = reader.cases(feed, (units.parent(unit) or unit) if commune else unit)
    if found is not None and commune:
        found = [case for case in found if case["unit_code"] in counted_in.get(unit, ())]
    return reader.meta(feed), found


def visible_alerts(client: redis.Redis, units: UnitTable, person: User) -> list[Alert]:
    """Every active alert of every feed that ``person`` may see: not yet acknowledged first, then
    the newest."""
    found = [a for feed in FEED_SPECS for a in alert_store.read_active(client, feed).values()]
    found = [a for a in found if person.sees_alert(a["unit"] or units.province, units)]
    found.sort(key=lambda a: a["id"])
    found.sort(key=lambda a: a["since"], reverse=True)  # stable: ties stay by id
    found.sort(key=lambda a: "acked_by" in a)
    return found


def past_kpis(
    history: History, feed: str, unit: str, window: str, moment: datetime
) -> tuple[SnapshotMeta | None, Kpis | None]:
    """The meta and the KPIs of ``unit`` over ``window`` as they were known at ``moment``."""
    field = keys.snapshot_field(unit, window)
    past = history.at(feed, moment, [field])
    if past is None or keys.META_FIELD not in past.docs or field not in past.docs:
        return None, None
    return json.loads(past.docs[keys.META_FIELD]), json.loads(past.docs[field])["kpis"]


def no_history(history: History, feed: str, moment: datetime) -> str:
    span = history.span(feed)
    held = f"it holds {span[0]} to {span[1]}" if span else "it holds none yet"
    return (
        f"no figures of feed {feed!r} known at {moment.astimezone(TZ).isoformat(timespec='minutes')} "
        f"in the history ({held}; hourly for {history.hourly_days} days, daily for {history.daily_days})"
    )


def kpi_blueprint(
    reader: SnapshotReader, units: UnitTable, rules: Mapping[str, AlertRule], history: History | None = None
) -> Blueprint:
    """The API's routes; ``rules`` are the alert rules, whose titles the alerts' text says;
    ``history`` answers for an instant in the past (``?at=``)."""
    api = Blueprint("kpi_api", __name__)
    known_units = set(units.codes)
    counted_in = record_keys(units)  # a commune's cases: its parent's list, those counted in it
    kpi_feeds = [feed for feed, spec in FEED_SPECS.items() if spec.has_kpis]

    def said(alert: Alert) -> SaidAlert:
        """The alert with its text, in Vietnamese and English, as the API has always answered."""
        return {**alert, "text": describe(alert, rules, "vi"), "text_en": describe(alert, rules, "en")}

    @api.get("/api/v1/kpis")
    def kpis() -> Any:
        feed = request.args.get("feed", "")
        unit = request.args.get("unit", units.province)
        window = request.args.get("window", "")
        if feed not in FEED_SPECS:
            return refuse(400, f"unknown feed {feed!r}; feeds: {', '.join(kpi_feeds)}")
        if not FEED_SPECS[feed].has_kpis:
            return refuse(400, f"feed {feed} has no KPIs; its figures are in /api/v1/index766")
        if wrong := unit_and_window_error(units, unit, window):
            return refuse(400, wrong)
        if not user().sees_kpis(unit, units):
            return refuse(403, outside(unit))
        if units.parent(unit) not in (None, units.province):
            audit_view("commune_kpis", feed=feed, unit=unit)
        asked = request.args.get("at")
        if asked is not None:  # the KPIs as they were known at an instant in the past
            try:
                moment = instant(asked)
            except ValueError as exc:
                return refuse(400, str(exc))
            if history is None:
                return refuse(404, "at: this server keeps no history")
            meta, values = past_kpis(history, feed, unit, window, moment)
            if meta is None or values is None:
                return refuse(404, no_history(history, feed, moment))
        else:
            meta = reader.meta(feed)
            values = reader.kpis(feed, unit, window)
        if meta is None or values is None:
            return refuse(503, f"no KPIs computed yet for feed {feed!r} (is its connector configured?)")
        vaccine = request.args.get("vaccine")
        if vaccine is not None:
            if not has_parts(values):
                return refuse(400, f"vaccine= applies to the vaccination feed only, not {feed!r}")
            by_vaccine = values["by_vaccine"]
            if vaccine not in by_vaccine:
                return refuse(400, f"unknown vaccine {vaccine!r}; vaccines: {', '.join(sorted(by_vaccine))}")
            values = by_vaccine[vaccine]
        body: KpiAnswer = {
            "feed": feed,
            "unit": unit,
            "scheme": units.scheme,
            "window": window,
            "as_of": meta["as_of"],
            "approximate": unit in units.approximate,
            "kpis": values,
        }
        if asked is not None:
            body["at"] = moment.astimezone(TZ).isoformat(timespec="seconds")
        if vaccine is not None:
            body["vaccine"] = vaccine
        if unit in units.approximate:
            body["approximate_reason"] = APPROXIMATE_REASON
        return jsonify(body)

    @api.get("/api/v1/cases")
    def cases() -> Any:
        """Every overdue case of a district, an area, a commune or the province, newest breach
        first; never cut. A commune's are those of its parent's list whose records count in it."""
        feed = request.args.get("feed", "")
        unit = request.args.get("unit", units.province)
        with_cases = [f for f, spec in FEED_SPECS.items() if spec.cases is not None]
        if feed not in with_cases:
            return refuse(400, f"no case list for feed {feed!r}; feeds with one: {', '.join(with_cases)}")
        if unit not in known_units:
            return refuse(400, f"unknown unit {unit!r} in scheme {units.scheme}")
        if not user().sees_cases(unit, units):
            return refuse(403, outside(unit))
        audit_view("cases", feed=feed, unit=unit)
        meta, found = read_cases(reader, units, counted_in, feed, unit)
        if meta is None:
            return refuse(503, f"no KPIs computed yet for feed {feed!r} (is its connector configured?)")
        if found is None:
            return refuse(503, f"no case list of unit {unit!r} computed yet for feed {feed!r}")
        answer: CasesAnswer = {
            "feed": feed,
            "unit": unit,
            "as_of": meta["as_of"],
            "count": len(found),
            "cases": [said_case(case) for case in found],
        }
        return jsonify(answer)

    @api.get("/api/v1/alerts")
    def active_alerts() -> Any:
        """Every active alert of every feed: not yet acknowledged first, then the newest."""
        return jsonify({"alerts": [said(a) for a in visible_alerts(reader.client, units, user())]})

    @api.post("/api/v1/alerts/ack")
    def acknowledge() -> Any:
        """``{"feed", "id", "comment"?}``: a duty officer (or an administrator) has seen the alert
        and is on it, and may say what is being done (at most 300 characters, redacted).
        Who it was is the person logged in (``by``, if sent, must be them)."""
        person = user()
        if person.role == "leader":
            return refuse(403, "a leader does not acknowledge alerts: duty officers and administrators do")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return refuse(400, "the body must be a JSON object with feed and id")
        feed, alert_id = (str(body.get(k) or "").strip() for k in ("feed", "id"))
        comment = body.get("comment") or ""
        if not isinstance(comment, str) or len(comment) > COMMENT_MAX:
            return refuse(400, f"comment: text of at most {COMMENT_MAX} characters")
        if feed not in FEED_SPECS:
            return refuse(400, f"unknown feed {feed!r}; feeds: {', '.join(FEED_SPECS)}")
        if not alert_id:
            return refuse(400, "id (the alert to acknowledge) is required")
        active = alert_store.read_active(reader.client, feed)
        unit = active[alert_id]["unit"] if alert_id in active else units.province
        if not person.sees_alert(unit, units):  # a province-wide alert (a stale feed) is every officer's
            return refuse(403, outside(unit))
        try:
            said_comment = redact(" ".join(comment.split()))  # one line, no names, phones or ids
            alert = alert_store.acknowledge(
                reader.client, feed, alert_id, person.name, datetime.now(UTC), comment=said_comment
            )
        except alert_store.UnknownAlert as exc:
            return refuse(404, str(exc))
        audit_view("ack", feed=feed, alert=alert_id)
        return jsonify(said(alert))

    @api.get("/api/v1/audit")
    def audit_log() -> Any:
        """The newest audit entries (administrators only): ``?count=`` (≤ 5000), ``?action=``."""
        if user().role != "admin":
            return refuse(403, "the audit log is for administrators")
        raw = request.args.get("count", "200")
        if not raw.isdigit() or not 1 <= int(raw) <= 5000:
            return refuse(400, f"count: {raw!r} is not a whole number from 1 to 5000")
        audit_view("audit_read")
        return jsonify({"entries": audit.read(reader.client, int(raw), request.args.get("action"))})

    @api.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    return api
