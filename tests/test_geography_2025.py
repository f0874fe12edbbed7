"""The 2025 scheme by configuration: pre-2025 coded records counted in the 2025 units through the
official crosswalk, exact for whole merges and for the province, flagged approximate for units
that took part of a split commune."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from ioc.aggregate import Aggregator
from ioc.config import AggregatorSettings, ConfigError
from ioc.crosswalk import CROSSWALK_FILE
from ioc.feeds import FEED_SPECS
from ioc.units import UnitTable
from ioc.web import create_app
from tests.processes import API, app_settings, get, logged_in, running_demo
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)
from tests.test_kpis import AS_OF, counted_cases
from tests.test_wall import scenes_shown


@pytest.fixture(scope="module")
def new(geodata) -> UnitTable:
    return UnitTable.load(geodata, "2025")


def counted_in(units: UnitTable, code: str) -> set[str]:
    rollup = units.rollup()
    return set(rollup.filter(pl.col("code") == code)["unit"].to_list())


def test_whole_merges_count_exactly_in_their_new_unit(new) -> None:
    """Phường 1 of Tây Ninh city (25456) went whole into Phường Tân Ninh (25459); Thị trấn Tân
    Biên (25486), Tân Bình and Thạnh Tây went whole into Xã Tân Biên (25486)."""
    assert counted_in(new, "25456") == {"25459", "703", "80"}
    assert counted_in(new, "25495") == {"25486", "705", "80"}
    assert "25486" not in new.approximate
    population = dict(zip(new.frame["code"], new.frame["pop_2019"], strict=True))
    assert population["25486"] == 32231  # the three old communes' 2019 census figures


def test_split_communes_go_to_one_unit_and_flag_every_unit_they_touch(new) -> None:
    """Xã Mỏ Công (25510) was split between Xã Tân Thành (25510, which kept its code) and 25549;
    Xã Trà Vong (25513) between 25510 and 25549 too (the first listed takes it)."""
    assert counted_in(new, "25510") == {"25510", "705", "80"}
    assert counted_in(new, "25513") == {"25510", "705", "80"}
    assert counted_in(new, "25534") == {"25534", new.parent("25534"), "80"}  # Suối Dây kept its code
    assert {"25510", "25549", "25516", "25534", "25459", "25585"} <= new.approximate
    assert "25486" not in new.approximate and "80" not in new.approximate


def test_district_and_province_records_count_for_the_new_province_only(new) -> None:
    assert counted_in(new, "703") == {"80"}
    assert counted_in(new, "72") == {"80"}
    assert new.province == "80" and len(new.level_codes("commune")) == 96


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.drop("merge_type"), "missing columns ['merge_type']"),
        (lambda f: f.with_columns(pl.lit("half").alias("merge_type")), "merge_type must be whole or part"),
        (
            lambda f: f.filter(pl.col("old_code") != "25456"),
            "pre-2025 communes missing from the crosswalk: ['25456']",
        ),
        (lambda f: f.with_columns(pl.lit("99999").alias("new_code")), "new codes not in the 2025 unit table"),
    ],
)
def test_a_broken_crosswalk_is_refused_with_the_reason(geodata, tmp_path, edit, message) -> None:
    for path in geodata.iterdir():
        shutil.copy(path, tmp_path / path.name)
    frame = pl.read_csv(geodata / CROSSWALK_FILE, infer_schema=False)
    edit(frame).write_csv(tmp_path / CROSSWALK_FILE)
    with pytest.raises(ConfigError, match=r"tayninh_crosswalk_2025\.csv") as caught:
        UnitTable.load(tmp_path, "2025")
    assert message in str(caught.value)


@pytest.fixture
def both(r, units, new, redis_server):
    """The same dossiers counted in the pre-2025 scheme, then re-counted by a 2025 aggregator from
    the first one's state (nothing re-ingested); the KPI API of each."""
    with counted_cases(r, units) as pipe:
        old = {code: pipe.kpis(code, "7d") for code in units.codes}
        pipe.aggregator.release()
        settings = AggregatorSettings(read_count=50, interval_s=0.05)  # type: ignore[call-arg]
        again = Aggregator(r, FEED_SPECS["public_services"], new, settings, clock=lambda: AS_OF)
        assert again.open()
        again.drain()
        config = app_settings(redis_server, boundaries={"scheme": "2025"})
        yield old, logged_in(create_app(config, r), "lanhdao")
        again.release()


def test_the_province_is_exact_and_each_unit_sums_its_old_communes(both, units, new) -> None:
    old, api = both
    province = api.get("/api/v1/kpis?feed=public_services&unit=80&window=7d").get_json()
    assert province["scheme"] == "2025" and province["approximate"] is False
    assert province["kpis"] == old["72"]  # every record counts for the new province
    rollup = new.rollup().filter(pl.col("unit") != "80")
    for unit in new.level_codes("commune"):
        sources = rollup.filter(pl.col("unit") == unit)["code"].to_list()
        expected = sum(old[c]["received"]["value"] for c in sources if c in old)
        body = api.get(f"/api/v1/kpis?feed=public_services&unit={unit}&window=7d").get_json()
        assert body["kpis"]["received"]["value"] == expected, unit
        assert body["approximate"] is (unit in new.approximate)
    split = api.get("/api/v1/kpis?feed=public_services&unit=25510&window=7d").get_json()
    assert split["approximate"] is True and "split" in split["approximate_reason"]


def test_pre_2025_codes_are_not_units_of_the_2025_scheme(both) -> None:
    _old, api = both
    reply = api.get("/api/v1/kpis?feed=public_services&unit=25456&window=7d")  # old Phường 1
    assert reply.status_code == 400
    assert reply.get_json()["error"] == "unknown unit '25456' in scheme 2025"
    area = api.get("/api/v1/kpis?feed=public_services&unit=703&window=7d").get_json()
    assert area["unit"] == "703" and area["scheme"] == "2025"  # 703 is an area now: Khu vực TP Tây Ninh cũ
    cases = api.get("/api/v1/cases?feed=public_services&unit=80").get_json()
    assert cases["count"] == 1 and cases["cases"][0]["unit_code"] == "25459"  # B, as sent


# ---- the whole demo with boundaries.scheme = "2025", in the browser ----------------------


@pytest.fixture(scope="module")
def demo_2025(tmp_path_factory):
    with running_demo(
        tmp_path_factory.mktemp("demo2025"),
        history_days=10,
        unit="80",
        boundaries__scheme="2025",
        aggregator__recompute_s="2",
        # small worlds: this test is about the counting, not the history
        simulators__citizen_feedback__history_days="10",
        simulators__vaccination__history_days="10",
        simulators__mobile_data__file_history_hours="1",
    ) as (port, _process):
        yield port


@pytest.mark.browser
def test_the_demo_runs_in_the_2025_scheme_by_configuration(browser, demo_2025, new) -> None:  # noqa: F811
    """The rooms rank the 96 communes and wards (≈ where a split commune makes them approximate)
    beside the former districts as a reference map; there is no district room; the wall turns
    through its exceptions and feeds; the province's numbers are the API's."""
    base = f"http://127.0.0.1:{demo_2025}"
    body = get(API.format(port=demo_2025, unit="80", window="7d")).json()
    assert body["scheme"] == "2025" and body["kpis"]["received"]["value"] > 0
    page = new_page(browser, demo_2025, viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/")
    page.wait_for_selector(".fresh-badge.fresh-ok", timeout=30_000)
    page.wait_for_selector(".maplibregl-canvas", timeout=30_000)
    assert page.locator("#ranking .ranking tr").count() == 24  # the areas (khu vực)
    names = page.locator("#ranking .ranking tr td:nth-child(2)").all_inner_texts()
    assert set(names) == {new.name(c) for c in new.level_codes("area")}
    assert page.locator("#ranking a").count() == 0  # no district rooms in 2025
    assert page.locator("#ranking td.num", has_text="≈").count() >= 1
    located = page.evaluate("document.querySelector('#province-map .js-plotly-plot').data[0].locations")
    assert len(located) == 24  # the areas, drawn with their former districts' outlines
    assert "geoBoundaries" in page.inner_text(".attribution")
    page.goto(base + "/district/703")
    page.wait_for_selector("text=Từ 01/7/2025 không còn cấp huyện", timeout=30_000)
    page.goto(base + "/wall?interval=1")
    page.wait_for_selector(".wall-number-value", timeout=30_000)
    scenes, _most = scenes_shown(page, distinct=4, timeout_ms=60_000)
    seen = {progress for _title, progress in scenes}
    assert seen <= {f"{i} / 6" for i in range(1, 7)}, seen  # exceptions, 4 feeds, the scorecard
    assert errors == []
    page.close()
