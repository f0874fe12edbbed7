"""Small counts of sensitive data kept out of public views (the embeds and cards).

FEEDS.md: health data (vaccination) in public views suppresses counts 1–9 and shows percentages
rounded to whole numbers; location data of people (mobile data) suppresses a unit with fewer than
``k`` subscribers (default 10). A suppressed unit reads "dưới 10" ("<10"), never 0.

*Primary* suppression hides every count ``0 < c < k``. *Complementary* suppression makes sure a
hidden count cannot be worked out from what is shown: a parent's total minus its shown children
would give a lone hidden child, so every family (a unit and its children) whose total is shown
has either no hidden child or at least two; the second is the smallest shown child that is not
zero (a zero if there is none). A unit whose only child is hidden is hidden too (it equals the
child). Hiding a parent makes it a hidden child of its own parent, so the rule runs until nothing
changes. Rates follow their numerator: a rate whose numerator count is hidden is hidden (the
coverage of a unit times its public population would give the count back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ioc.units import UnitTable

# Per feed: which count each public KPI is protected by (the count whose small values are the
# sensitive fact), as a KPI name of the same document; a rate's own numerator is its entry's.
PROTECTED_BY: dict[str, dict[str, str]] = {
    "vaccination": {
        "doses": "doses",
        "doses_by_dose_number": "doses",
        "people_first_dose": "people_first_dose",
        "coverage_first_dose": "people_first_dose",
        "dropout_rate": "people_first_dose",
    },
    "mobile_data": {
        "traffic_gb": "subscribers",
        "subscribers": "subscribers",
        "share_5g": "subscribers",
        "traffic_per_capita_mb": "subscribers",
    },
}
WHOLE_PERCENT = frozenset({"vaccination"})  # health: percentages rounded to whole numbers


def hidden_units(counts: Mapping[str, float | None], units: UnitTable, k: int) -> set[str]:
    """The units whose count (and whatever it protects) a public view must not show."""
    hidden = {u for u, c in counts.items() if c is not None and 0 < c < k}
    families = {p: units.children(p) for p in units.codes if units.children(p)}
    changed = True
    while changed:
        changed = False
        for parent, children in families.items():
            if parent in hidden:
                continue
            inside = [c for c in children if c in hidden]
            if len(inside) != 1:
                continue
            shown = [c for c in children if c not in hidden and counts.get(c) is not None]
            if not shown:  # the parent equals its one hidden child
                hidden.add(parent)
            else:  # the smallest that is not zero; a zero only when every other is zero
                hidden.add(min(shown, key=lambda c: (counts[c] == 0, counts[c])))
            changed = True
    return hidden


@dataclass(frozen=True)
class Shown:
    """A value as a public view may show it: ``hidden`` means "dưới k", whatever the value was."""

    value: Any
    hidden: bool


def public_value(
    feed: str,
    kpi: str,
    unit: str,
    docs: Mapping[str, dict[str, Any] | None],
    units: UnitTable,
    k: int,
) -> Shown:
    """``kpi`` of ``unit`` for a public view, given every unit's document of the same window (and
    vaccine, for vaccination) so that complementary suppression sees the unit's whole family."""
    return public_values(feed, kpi, [unit], docs, units, k)[unit]


def public_values(
    feed: str,
    kpi: str,
    codes: list[str],
    docs: Mapping[str, dict[str, Any] | None],
    units: UnitTable,
    k: int,
) -> dict[str, Shown]:
    """``public_value`` of several units at once (a map's), suppressing over the tree once."""
    guard = PROTECTED_BY.get(feed, {}).get(kpi)
    hidden: set[str] = set()
    if guard is not None:
        counts = {u: _count((d or {}).get(guard, {}).get("value")) for u, d in docs.items()}
        hidden = hidden_units(counts, units, k)
    found = {}
    for unit in codes:
        value = ((docs.get(unit) or {}).get(kpi) or {}).get("value")
        if guard is None or value is None:
            found[unit] = Shown(value, False)
        elif unit in hidden:
            found[unit] = Shown(None, True)
        elif feed in WHOLE_PERCENT and kpi.endswith(("rate", "coverage_first_dose")):
            found[unit] = Shown(round(value, 2), False)  # a fraction: whole percent
        else:
            found[unit] = Shown(value, False)
    return found


def series_hidden(feed: str, doc: Mapping[str, Any], k: int, step_h: int = 24) -> bool:
    """Whether a unit's series, shown in blocks of ``step_h`` hours ending now (days), would show
    a small count of protected data (a day with 1 to k-1 doses, or of 1 to k-1 subscriber-periods
    of mobile data): a public view then shows none of it, since the days add up to the totals
    shown beside them."""
    guard = {"vaccination": "doses", "mobile_data": "subscribers"}.get(feed)
    hours = doc.get(guard) if guard else None
    if not isinstance(hours, list):
        return False
    blocks = [sum(h or 0 for h in hours[max(0, end - step_h) : end]) for end in range(len(hours), 0, -step_h)]
    return any(0 < b < k for b in blocks)


def _count(value: Any) -> float | None:
    """A count, or the sum of a breakdown (doses by dose number)."""
    if isinstance(value, dict):
        return float(sum(value.values()))
    return float(value) if isinstance(value, int | float) else None
