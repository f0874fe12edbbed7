"""Small counts of health and location data stay out of public views: every count 1–9 is hidden,
and no hidden count can be worked out from what is shown (a total and its shown parts, a window
and the window inside it, a rate and its denominator). The attacker's end-to-end test is
tests/test_disclosure_attack.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.disclosure import PublicView, Shown, Tree, hidden_units
from ioc.kpis import TZ
from ioc.schemas import WINDOWS
from ioc.snapshots import Cut

K = 10
TAY_NINH_CITY = "703"
AS_OF = datetime(2026, 11, 22, 10, 42, tzinfo=TZ)


def family_leaks(counts, units, hidden) -> list[str]:
    """Hidden units a reader could compute exactly: the lone hidden child of a shown parent."""
    leaks = []
    for parent in units.codes:
        children = units.children(parent)
        inside = [c for c in children if c in hidden]
        if children and parent not in hidden and len(inside) == 1:
            leaks.append(inside[0])
    return leaks


def test_a_commune_cannot_be_derived_from_its_district_total(units) -> None:
    """Tây Ninh city 50 = Phường 1 (3) + the others: 3 is hidden, and so is the smallest other
    commune, so 50 minus what is shown leaves two unknowns, not Phường 1's count."""
    communes = units.children(TAY_NINH_CITY)
    counts = dict.fromkeys(communes, 0.0)
    counts |= {communes[0]: 3.0, communes[1]: 20.0, communes[2]: 27.0}
    counts[TAY_NINH_CITY] = 50.0
    counts[units.province] = 50.0
    hidden = hidden_units(counts, units, K)
    assert communes[0] in hidden and communes[1] in hidden  # primary, then its complement
    assert communes[2] not in hidden and TAY_NINH_CITY not in hidden
    shown = sum(counts[c] for c in communes if c not in hidden)
    assert counts[TAY_NINH_CITY] - shown == 23.0  # two hidden communes together, neither alone
    assert family_leaks(counts, units, hidden) == []


def test_a_lone_child_hides_its_parent_and_the_rule_climbs(units) -> None:
    """Every commune of Tây Ninh city zero but one with 4: the city's 4 is hidden (primary), so its
    communes need no complement; at the province level the city is then a lone hidden child, so
    the smallest other district is hidden too."""
    counts = dict.fromkeys(units.codes, 0.0)
    districts = units.children(units.province)
    for code in districts:
        counts[code] = 100.0 + len(code)
    communes = units.children(TAY_NINH_CITY)
    counts |= dict.fromkeys(communes, 0.0) | {communes[0]: 4.0, TAY_NINH_CITY: 4.0}
    counts[units.province] = sum(counts[d] for d in districts)
    hidden = hidden_units(counts, units, K)
    assert {communes[0], TAY_NINH_CITY} <= hidden
    assert [c for c in communes if c in hidden] == [communes[0]]  # its district is hidden: enough
    assert len([d for d in districts if d in hidden]) == 2
    assert family_leaks(counts, units, hidden) == []


def remainder_leaks(counts, units, hidden) -> list[str]:
    """Shown units whose count minus their nearest shown descendants' is from 1 to k-1: the sum
    of the hidden units in between, which a reader computes."""
    found = []

    def nearest_shown(code: str) -> list[str]:
        return [n for c in units.children(code) for n in ([c] if c not in hidden else nearest_shown(c))]

    for code in units.codes:
        if code not in hidden and 0 < counts[code] - sum(counts[n] for n in nearest_shown(code)) < K:
            found.append(code)
    return found


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_no_small_count_is_shown_and_none_can_be_derived(units, data) -> None:
    """Communes drawn at random (0, small or large), their districts and the province their sums."""
    counts = {
        code: float(data.draw(st.one_of(st.just(0), st.integers(1, 9), st.integers(10, 500)), label=code))
        for code in units.level_codes("commune")
    }
    for level in ("district", "province"):
        for code in units.level_codes(level):
            counts[code] = sum(counts[c] for c in units.children(code))
    hidden = hidden_units(counts, units, K)
    assert all(code in hidden for code, c in counts.items() if 0 < c < K)
    assert family_leaks(counts, units, hidden) == []
    assert remainder_leaks(counts, units, hidden) == []
    assert counts[units.province] < K or units.province not in hidden  # never hides everything


def view(
    units, feed: str, figures: dict[str, dict[str, Any]], series: dict[str, Any] | None = None
) -> PublicView:
    """A public view of ``figures`` (unit -> KPI documents, the same in every window unless a
    unit's entry is keyed by window) as of ``AS_OF``."""
    docs = {w: {u: f.get(w, f) for u, f in figures.items()} for w in WINDOWS}
    cut = Cut({"as_of": AS_OF.isoformat()}, docs, series or {}, "test")
    return PublicView(feed, cut, Tree.of(units), K)


def summed(units, leaves: dict[str, Any], make) -> dict[str, Any]:
    """Every unit's figures, built by ``make`` from the sum of its communes' numbers."""
    totals: dict[str, Any] = {}
    for code in Tree.of(units).bottom_up:  # children first
        parts = [totals[c] for c in units.children(code)] or [leaves.get(code, 0)]
        totals[code] = parts[0] if len(parts) == 1 else _add(parts)
    return {code: make(value) for code, value in totals.items()}


def _add(parts: list[Any]) -> Any:
    if isinstance(parts[0], dict):
        return {key: _add([p[key] for p in parts]) for key in parts[0]}
    if isinstance(parts[0], tuple):
        return tuple(_add([p[i] for p in parts]) for i in range(len(parts[0])))
    return sum(parts)


def test_a_vaccine_hidden_in_one_window_hides_the_units_doses_everywhere(units) -> None:
    """A commune has 3 COVID-19 doses this month beside 200 DPT: its total minus its DPT gives the
    3 back, and so does its month minus its week, so none of its doses figures is shown, in any
    window or vaccine; the sister with COVID-19 doses of its own is hidden with it (the city minus
    the rest would give the 3 back too), and the city and a third commune stay."""
    city = units.children(TAY_NINH_CITY)
    # per commune: (today, 7d, mtd, 30d, ytd) of DPT and of COVID-19
    leaves = {
        city[0]: {"DPT": (20, 100, 150, 180, 200), "COVID": (0, 0, 3, 3, 3)},
        city[1]: {"DPT": (20, 100, 150, 180, 200), "COVID": (0, 0, 12, 12, 12)},
        city[2]: {"DPT": (20, 100, 150, 180, 200), "COVID": (0, 0, 0, 0, 0)},
    }
    zero = {"DPT": (0,) * 5, "COVID": (0,) * 5}

    def doc(counts: dict[str, tuple[int, ...]]) -> dict[str, Any]:
        windows = dict(zip(("today", "7d", "mtd", "30d", "ytd"), range(5), strict=True))
        return {
            w: {
                "doses": {"value": counts["DPT"][i] + counts["COVID"][i]},
                "by_vaccine": {v: {"doses": {"value": counts[v][i]}} for v in counts},
            }
            for w, i in windows.items()
        }

    shown = view(
        units,
        "vaccination",
        summed(units, {c: leaves.get(c, zero) for c in units.level_codes("commune")}, doc),
    )
    for window in WINDOWS:
        for vaccine in (None, "DPT", "COVID"):
            values = shown.values("doses", [*city[:3], TAY_NINH_CITY], window, vaccine)
            assert values[city[0]].hidden and values[city[1]].hidden, (window, vaccine)
            assert not values[city[2]].hidden and not values[TAY_NINH_CITY].hidden
    assert shown.value("doses", TAY_NINH_CITY, "mtd", "COVID").value == 15


def test_a_rate_is_guarded_by_its_own_counts_and_shown_in_whole_percent(units) -> None:
    """1 of 12 children not finishing DPT shows as 8%: with the 12 shown beside it that gives the 1
    back, so the dropout is hidden while the 12 (and their coverage) stay; 70 of 180 shows 39%."""
    city = units.children(TAY_NINH_CITY)
    leaves = {city[0]: (12, 12, 1, 5000), city[1]: (180, 180, 70, 6000), city[2]: (150, 150, 40, 7000)}

    def doc(counts: tuple[int, int, int, int]) -> dict[str, Any]:
        people, first, dropped, population = counts
        rate = lambda n, d: {"value": n / d if d else None, "numerator": n, "denominator": d}  # noqa: E731
        return {
            "by_vaccine": {
                "DPT-VGB-Hib": {
                    "people_first_dose": {"value": people},
                    "coverage_first_dose": rate(people, population),
                    "dropout_rate": rate(dropped, first),
                }
            }
        }

    shown = view(
        units,
        "vaccination",
        summed(units, {c: leaves.get(c, (0, 0, 0, 1000)) for c in units.level_codes("commune")}, doc),
    )
    dpt = "DPT-VGB-Hib"
    assert shown.value("people_first_dose", city[0], "7d", dpt) == shown.value(
        "people_first_dose", city[0], "ytd", dpt
    )
    assert shown.value("people_first_dose", city[0], "7d", dpt).value == 12
    assert shown.value("coverage_first_dose", city[1], "7d", dpt).value == 0.03  # 180 / 6000
    dropout = shown.values("dropout_rate", city[:3], "7d", dpt)
    assert dropout[city[0]].hidden and dropout[city[2]].hidden  # the 1, and its complement
    assert dropout[city[1]].value == 0.39  # 70 / 180, whole percent


def test_a_unit_hidden_to_protect_its_sister_shows_no_days(units) -> None:
    """A commune with 5 doses in the week is hidden, and so is its smallest sister (otherwise the
    city's week minus the others gives the 5); the sister's days would add up to its hidden week,
    so its series is hidden too, while the busy commune's is shown."""
    city = units.children(TAY_NINH_CITY)
    start = (AS_OF - timedelta(hours=167)).replace(minute=0)
    days = {city[0]: [0] * 24 * 6 + [5] + [0] * 23, city[1]: [1] * 168, city[2]: [2] * 168}
    hourly = {c: days.get(c, [0] * 168) for c in units.level_codes("commune")}
    for code in Tree.of(units).bottom_up:
        if units.children(code):
            hourly[code] = [sum(h) for h in zip(*(hourly[c] for c in units.children(code)), strict=True)]

    def doc(hours: list[int]) -> dict[str, Any]:
        return {w: {"doses": {"value": sum(hours)}} for w in WINDOWS} | {
            "today": {"doses": {"value": sum(hours[-11:])}}
        }

    figures = {code: doc(hours) for code, hours in hourly.items()}
    series = {
        code: {"start": start.isoformat(), "step_s": 3600, "doses": hours} for code, hours in hourly.items()
    }
    shown = view(units, "vaccination", figures, series)
    assert shown.value("doses", city[0], "7d").hidden and shown.series_hidden(city[0])
    assert shown.value("doses", city[1], "7d").hidden and shown.series_hidden(city[1])
    assert not shown.series_hidden(city[2]) and shown.value("doses", city[2], "7d").value == 336


def test_dossiers_are_not_sensitive(units) -> None:
    """Public services: shown as they are, however small."""
    shown = view(units, "public_services", {code: {"received": {"value": 2}} for code in units.codes})
    assert shown.value("received", units.children(TAY_NINH_CITY)[0], "7d") == Shown(2, False)
