"""Alerts in the reader's language: the aggregators store what broke (the rule, the unit, the value
and the threshold), the pages say it: "Huyện Tân Biên: đúng hạn 7 ngày 86,5% < 90%", in English
"Huyện Tân Biên: on time, 7 days 86.5% < 90%"; the place is the unit's own name, an area's in the
2025 scheme ("Khu vực Tân Biên cũ: ...").

The rules' titles are configuration (``alerts.<name>.title`` and ``title_en``). ``realtime.js``
writes the pushed alerts the same way in the browser, from the titles its page embeds
(``titles``); ``tests/test_alerts.py`` holds the two to the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ioc.config import AlertRule
from layouts import format as fmt
from layouts.i18n import _, using


def titles(rules: Mapping[str, AlertRule], lang: str) -> dict[str, str]:
    """Each rule's title in ``lang`` (English falls back to the Vietnamese one), by rule name."""
    return {
        name: (rule.title_en or rule.title) if lang == "en" else rule.title for name, rule in rules.items()
    }


def describe(alert: Mapping[str, Any], rules: Mapping[str, AlertRule], lang: str) -> str:
    """The whole alert: where, what, and the condition. A rule no longer configured is named."""
    where = alert.get("unit_name") or alert["unit"]
    title = titles(rules, lang).get(alert["rule"], alert["rule"])
    with using(lang):
        return f"{where}: {title} {condition(alert)}"


def condition(alert: Mapping[str, Any]) -> str:
    """The value against the threshold: "86,5% < 90%", "25 > 20", "17 phút (ngưỡng 15 phút)"."""
    value, threshold = float(alert["value"]), float(alert["threshold"])
    if alert.get("kind") == "stale":
        if value < 0:
            return _("chưa từng có số liệu")
        return _("{m} phút (ngưỡng {limit} phút)").format(m=int(value), limit=f"{threshold:g}")
    sign = "<" if alert.get("comparison") == "below" else ">"
    if alert.get("kind") == "kpi" and str(alert.get("kpi") or "").endswith("rate"):
        return f"{fmt.percent(value)} {sign} {fmt.percent(threshold, 0)}"
    return f"{fmt.number(value)} {sign} {fmt.number(threshold)}"
