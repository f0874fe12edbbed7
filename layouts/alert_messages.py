"""Alert messages for people away from the screens: an email's subject and text, a webhook's JSON.

Short, Vietnamese first then English: what happened (raised, still active, escalated, resolved),
the unit, the rule, the value against its threshold, since when, and the link to the unit's room.
An alert is data (rule, unit, value, threshold: never a person or a case), and a count below the
public views' threshold (``public.k``) is said as "dưới k", as every public figure is: a message
may end up in a chat group or a phone's lock screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ioc.config import AlertRule
from ioc.config_delivery import Event
from layouts import format as fmt
from layouts.alert_text import condition, titles
from layouts.i18n import N_, _, using

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HEADS: dict[str, str] = {
    "raised": N_("CẢNH BÁO"),
    "reminder": N_("VẪN CÒN CẢNH BÁO (chưa ai xác nhận)"),
    "escalated": N_("CHUYỂN CẤP: cảnh báo chưa ai xác nhận"),
    "cleared": N_("ĐÃ HẾT CẢNH BÁO"),
}
ROOMS = {
    "province": "/",
    "district": "/district/{code}",
    "area": "/area/{code}",
    "commune": "/commune/{code}",
}


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    payload: dict[str, Any]


def hidden(alert: Mapping[str, Any], k: int) -> bool:
    """A count of cases below the public threshold: said as "dưới k", never as the number."""
    return alert.get("kind") == "cases" and float(alert["value"]) < k


def compose(
    event: Event,
    alert: Mapping[str, Any],
    rules: Mapping[str, AlertRule],
    *,
    level: str,
    link_base: str,
    k: int,
    at: datetime,
) -> Message:
    """The message of ``event`` for ``alert`` (as the alert store keeps it, with its rule's kind,
    comparison and KPI), in both languages."""
    link = link_base.rstrip("/") + ROOMS.get(level, "/").format(code=alert["unit"])
    masked = hidden(alert, k)
    lines, subjects = [], []
    for lang in ("vi", "en"):
        with using(lang):
            where = alert.get("unit_name") or alert["unit"]
            title = titles(rules, lang).get(alert["rule"], alert["rule"])
            said = _("dưới {k}").format(k=k) if masked else condition(alert)
            since = datetime.fromisoformat(alert["since"]).astimezone(TZ)
            head = _(HEADS[event])
            subjects.append(f"[IOC Tây Ninh] {head}: {where} · {title}")
            lines += [
                f"{head} · {where}: {title} {said}",
                _("Từ {time}").format(time=fmt.date_time(since))
                + (
                    " · " + _("đã hết lúc {time}").format(time=fmt.date_time(at.astimezone(TZ)))
                    if event == "cleared"
                    else ""
                ),
                _("Xem: {link}").format(link=link),
                "",
            ]
    payload = {
        "version": 1,
        "event": event,
        "alert": {
            **{
                key: alert.get(key)
                for key in ("id", "rule", "feed", "unit", "unit_name", "kind", "kpi", "window")
            },
            **{key: alert.get(key) for key in ("comparison", "threshold", "since", "severity")},
            "level": level,
            "value": None if masked else alert["value"],
            "value_hidden_below": k if masked else None,
        },
        "text": {"vi": lines[0], "en": lines[4]},
        "link": link,
        "at": at.isoformat(timespec="seconds"),
    }
    return Message(subject=subjects[0], text="\n".join(lines).rstrip() + "\n", payload=payload)
