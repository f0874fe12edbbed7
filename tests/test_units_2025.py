"""The units of the province of today: areas (khu vực) between the province and its 96 communes,
by default the 24 former districts or a province's own grouping, and record keys that keep each
code with its scheme (codes are reused: 25459 is old Phường 3 and new Phường Tân Ninh)."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from ioc.cases import lists_by_unit
from ioc.config import ConfigError
from ioc.units import UnitTable, key_code, record_key


@pytest.fixture(scope="module")
def new(geodata: Path) -> UnitTable:
    return UnitTable.load(geodata, "2025")


def counted_in(units: UnitTable, key: str) -> set[str]:
    return set(units.rollup().filter(pl.col("code") == key)["unit"].to_list())


def crosswalk_rows(geodata: Path) -> list[dict[str, str]]:
    with (geodata / "tayninh_crosswalk_2025.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_commune_is_in_one_of_the_24_former_district_areas(new, geodata) -> None:
    areas = new.level_codes("area")
    assert len(areas) == 24 and new.middle == "area"
    communes = new.level_codes("commune")
    assert len(communes) == 96
    assert sorted(c for a in areas for c in new.children(a)) == sorted(communes)
    assert all(new.parent(a) == "80" for a in areas)
    names = [new.name(a) for a in areas]
    assert len(set(names)) == 24, Counter(names).most_common(2)
    assert new.name("706") == "Khu vực Tân Châu cũ"
    assert new.name("708") == "Khu vực Châu Thành cũ (Tây Ninh cũ)"  # Long An had a Châu Thành too
    assert new.name("808") == "Khu vực Châu Thành cũ (Long An cũ)"
    # Each commune sits in the former district that gave it most of its old units.
    rows = crosswalk_rows(geodata)
    for commune in communes:
        votes = Counter(r["old_district_code"] for r in rows if r["new_code"] == commune)
        assert votes[new.parent(commune)] == max(votes.values()), (commune, votes)


def test_a_tie_goes_to_the_district_of_the_code_the_commune_kept(new) -> None:
    """Phường Thanh Điền (25633) took Xã Thanh Điền (Châu Thành, 708) and Phường Hiệp Tân (Hòa
    Thành, 709), whose code it kept: it is in Hòa Thành's area, and said to take part of 708."""
    assert new.parent("25633") == "709"
    assert new.split_areas["25633"] == ["708"]
    assert len(new.split_areas) == 15  # the communes made of several former districts' units


def test_population_adds_up_and_old_long_an_is_estimated(new) -> None:
    pop = dict(zip(new.frame["code"], new.frame["pop_2019"], strict=True))
    for area in new.level_codes("area"):
        assert pop[area] == sum(pop[c] for c in new.children(area)), area
    assert pop["80"] == 2_857_712  # the census total of both old provinces
    assert pop["25486"] == 32_231  # old Tây Ninh: the exact sum of its old communes
    long_an = [c for c in new.level_codes("commune") if c >= "27000"]
    assert long_an and set(long_an) <= new.estimated_population
    assert "25486" not in new.estimated_population


def test_records_of_either_scheme_count_in_the_right_2025_units(new) -> None:
    """The same digits, two units: 25459 coded pre-2025 is old Phường 3 (merged whole into Phường
    Tân Ninh, 25459); coded 2025 it is Phường Tân Ninh itself."""
    assert record_key("2025", "25459") == "2025:25459" and key_code("2025:25459") == ("2025", "25459")
    assert key_code("25459") == ("pre2025", "25459")
    assert counted_in(new, "25459") == {"25459", "703", "80"}
    assert counted_in(new, "2025:25459") == {"25459", "703", "80"}
    assert counted_in(new, "25456") == {"25459", "703", "80"}  # old Phường 1, merged whole
    assert counted_in(new, "27955") == {"27931", new.parent("27931"), "80"}  # old Long An commune
    assert counted_in(new, "802") == {"802", "80"}  # a former district's own records: its area
    assert counted_in(new, "2025:80") == {"80"}
    assert "2025:703" not in set(new.rollup()["code"])  # nothing is filed at an area
    assert len(new.record_codes["2025"]) == 97 and "703" not in new.record_codes["2025"]
    assert {"25456", "27955", "802", "72", "80"} <= new.record_codes["pre2025"]


def test_an_area_is_approximate_when_a_split_commune_crosses_areas_or_it_is_not_its_district(
    new, geodata, tmp_path
) -> None:
    """Computed from the crosswalk's rows: a pre-2025 commune split between communes of two areas
    makes both approximate; an area that counts its former district's records (the default
    areas) is approximate unless its communes are exactly that district's units."""
    rows = crosswalk_rows(geodata)
    split = Counter(r["old_code"] for r in rows)
    crossing: set[str] = set()
    for old, n in split.items():
        shared = {r["new_code"] for r in rows if r["old_code"] == old}
        if n > 1 and len({new.parent(u) for u in shared}) > 1:
            crossing |= {new.parent(u) for u in shared}
    unlike = {a for r in rows if (a := new.parent(r["new_code"])) != r["old_district_code"]}
    unlike |= {r["old_district_code"] for r in rows if new.parent(r["new_code"]) != r["old_district_code"]}
    areas = set(new.level_codes("area"))
    assert crossing and unlike - crossing
    assert new.approximate & areas == crossing | unlike
    assert areas - new.approximate, "some former districts are exactly their area"
    assert "80" not in new.approximate
    own = UnitTable.load(geodata, "2025", write_areas(tmp_path, new))  # a province's own grouping:
    assert counted_in(own, "802") == {"80"}  # a former district's records count for the province


def test_old_tay_ninh_counts_2025_records_in_its_former_districts(units) -> None:
    """Under pre2025 a 2025 commune of old Tây Ninh counts for province 72 and its former
    district (no pre-2025 commune: it is several of them); old Long An lies outside."""
    assert counted_in(units, "2025:25486") == {"705", "72"}
    assert counted_in(units, "2025:25633") == {"709", "72"}
    assert not units.approximate  # a pre-2025 source counts exactly in old Tây Ninh's units
    assert "27931" in units.outside["2025"] and "27955" in units.outside["pre2025"]
    assert len(units.record_codes["2025"]) == 36


def write_areas(tmp_path: Path, new: UnitTable, change: dict[int, dict[str, str]] | None = None) -> Path:
    rows = [
        {
            "commune_code": c,
            "area_code": "BAC" if i % 2 else "NAM",
            "area_name": "Khu Bắc" if i % 2 else "Khu Nam",
        }
        for i, c in enumerate(new.level_codes("commune"))
    ]
    for i, values in (change or {}).items():
        rows[i] |= values
    path = tmp_path / "areas.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["commune_code", "area_code", "area_name"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_province_may_group_its_communes_its_own_way(tmp_path, geodata, new) -> None:
    table = UnitTable.load(geodata, "2025", write_areas(tmp_path, new))
    assert sorted(table.level_codes("area")) == ["BAC", "NAM"]
    assert table.name("BAC") == "Khu Bắc" and len(table.children("BAC")) == 48
    first = new.level_codes("commune")[0]
    assert counted_in(table, record_key("2025", first)) == {first, "NAM", "80"}


def test_a_province_s_own_areas_get_their_work_lists(tmp_path, geodata, new) -> None:
    """Work lists are kept for the province and every area, whatever the length of its code."""
    table = UnitTable.load(geodata, "2025", write_areas(tmp_path, new))
    first, second = new.level_codes("commune")[:2]
    due = datetime(2026, 11, 1, tzinfo=UTC)
    cases = pl.LazyFrame(
        {"id": ["a", "b"], "unit_code": [record_key("2025", first), record_key("2025", second)]}
    ).with_columns(pl.lit(due).alias("opened_at"), pl.lit(due).alias("deadline_at"))
    lists = lists_by_unit(cases, table.rollup())
    assert set(lists) == {"80", "BAC", "NAM"}, sorted(lists)
    assert [c["id"] for c in lists["NAM"]] == ["a"]
    assert [c["id"] for c in lists["BAC"]] == ["b"]
    assert len(lists["80"]) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({0: {"commune_code": "99999"}}, "line 2: '99999' is not a commune of the 2025 scheme"),
        ({1: {"commune_code": "25459"}}, "line 3: commune 25459 is already in area"),
        ({2: {"area_code": "25459"}}, "line 4: area code '25459' must be short letters and digits"),
        ({3: {"area_name": "Khu khác"}}, "line 5: area BAC is named both 'Khu Bắc' and 'Khu khác'"),
        ({4: {"area_code": ""}}, "line 6: area_code and area_name must not be empty"),
    ],
)
def test_a_wrong_grouping_is_refused_with_the_line(tmp_path, geodata, new, change, message) -> None:
    path = write_areas(tmp_path, new, change)
    with pytest.raises(ConfigError) as info:
        UnitTable.load(geodata, "2025", path)
    assert message in str(info.value)


def test_a_grouping_that_forgets_communes_says_how_many(tmp_path, geodata, new) -> None:
    path = write_areas(tmp_path, new)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="puts no area on 3 communes"):
        UnitTable.load(geodata, "2025", path)
    with pytest.raises(ConfigError, match="2025 scheme only"):
        UnitTable.load(geodata, "pre2025", path)


def test_without_the_crosswalk_old_tay_ninh_still_loads(tmp_path, geodata) -> None:
    for name in ("tayninh_units_pre2025.csv",):
        shutil.copy(geodata / name, tmp_path / name)
    table = UnitTable.load(tmp_path, "pre2025")
    assert (
        table.record_codes == {"pre2025": frozenset(table.codes)} and len(table.level_codes("district")) == 9
    )
