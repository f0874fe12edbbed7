"""Small counts of health and location data stay out of public views: every count 1–9 is hidden,
and no hidden count can be worked out from a shown total and its shown siblings."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.disclosure import hidden_units, public_value

K = 10
TAY_NINH_CITY = "703"


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


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_no_small_count_is_shown_and_none_can_be_derived(units, data) -> None:
    counts = {
        code: float(data.draw(st.one_of(st.just(0), st.integers(1, 9), st.integers(10, 500)), label=code))
        for code in units.codes
    }
    hidden = hidden_units(counts, units, K)
    assert all(code in hidden for code, c in counts.items() if 0 < c < K)
    assert family_leaks(counts, units, hidden) == []


def test_public_values_of_vaccination_are_hidden_or_whole_percent(units) -> None:
    communes = units.children(TAY_NINH_CITY)
    docs = {
        code: {
            "doses": {"value": 40},
            "people_first_dose": {"value": 40},
            "coverage_first_dose": {"value": 0.4567},
        }
        for code in units.codes
    }
    docs[communes[0]] = {
        "doses": {"value": 7},
        "people_first_dose": {"value": 7},
        "coverage_first_dose": {"value": 0.0123},
    }
    small = public_value("vaccination", "doses", communes[0], docs, units, K)
    assert small.hidden and small.value is None
    rate = public_value("vaccination", "coverage_first_dose", communes[0], docs, units, K)
    assert rate.hidden  # its coverage times its population would give the 7 back
    big = public_value("vaccination", "coverage_first_dose", TAY_NINH_CITY, docs, units, K)
    assert not big.hidden and big.value == 0.46
    # dossiers are not sensitive: shown as they are, however small
    assert (
        public_value(
            "public_services", "received", communes[0], {communes[0]: {"received": {"value": 2}}}, units, K
        ).value
        == 2
    )
