"""The 2025 scheme by configuration: pre-2025 coded records counted in the 2025 units through the
official crosswalk, exact for whole merges and for the province, flagged approximate for units
that took part of a split commune."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
import redis
from dash import page_registry

from ioc import auth, keys
from ioc.aggregate import Aggregator
from ioc.api import outside
from ioc.config import AggregatorSettings, ConfigError
from ioc.crosswalk import CROSSWALK_FILE
from ioc.feeds import FEED_SPECS
from ioc.units import UnitTable
from ioc.web import create_app
from layouts import format as fmt
from tests.processes import API, acting_as, app_settings, get, logged_in, running_demo
from tests.test_access import room_callback, text_of
from tests.test_browser import browser, follow, new_page  # noqa: F401  (the fixture)
from tests.test_kpis import AS_OF, counted_cases
from tests.test_wall import scenes_shown
from tests.worklists import put_lists


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


def test_district_records_count_in_their_area_and_province_records_in_the_province(new) -> None:
    assert counted_in(new, "703") == {"703", "80"}  # the default areas are the former districts
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


def shown_rate(text: str) -> float | None:
    """A rate as a room writes it ("≈ 87,3%", "–") as a fraction."""
    text = text.replace("≈", "").replace("%", "").strip()
    return None if text == "–" else float(text.replace(".", "").replace(",", ".")) / 100


def api_rate(port: int, unit: str) -> float | None:
    body = get(API.format(port=port, unit=unit, window="7d")).json()
    return body["kpis"]["on_time_rate"]["value"]


def assert_rates_are_the_apis(port: int, rows: dict[str, str]) -> None:
    """Each unit's on-time rate on the page is the API's (the page and the API read a moment
    apart on a running demo: within half a point)."""
    for code, text in rows.items():
        page, api = shown_rate(text), api_rate(port, code)
        assert (page is None) == (api is None) and abs((page or 0) - (api or 0)) <= 0.005, (code, text, api)


@pytest.mark.browser
def test_the_demo_runs_in_the_2025_scheme_by_configuration(browser, demo_2025, new) -> None:  # noqa: F811
    """The province ranks its 24 areas (≈ where a split commune makes them approximate), each
    opening its room: the area's communes ranked with the API's values, each opening its room
    with the API's tiles and its hourly series. There is no district room; the wall turns
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
    page.wait_for_selector("path.choroplethlocation[d]", timeout=30_000)
    assert page.inner_text(".side h2 >> nth=1") == "Xếp hạng khu vực"
    links = page.locator("#ranking .ranking tr td:nth-child(2) a")
    assert links.count() == 24
    by_name = {new.name(c): c for c in new.level_codes("area")}
    hrefs = {links.nth(i).inner_text(): links.nth(i).get_attribute("href") for i in range(24)}
    assert hrefs == {name: f"/area/{code}" for name, code in by_name.items()}
    cells = page.locator("#ranking .ranking tr td:nth-child(3)").all_inner_texts()
    names = page.locator("#ranking .ranking tr td:nth-child(2)").all_inner_texts()
    assert_rates_are_the_apis(demo_2025, {by_name[n]: t for n, t in zip(names, cells, strict=True)})
    assert page.locator("#ranking td.num", has_text="≈").count() >= 1  # 705 took part of a split commune
    assert "geoBoundaries" in page.inner_text(".attribution")

    follow(page, "#ranking a[href='/area/705']", "**/area/705")  # Khu vực Tân Biên cũ
    page.wait_for_selector(".communes tbody tr", timeout=30_000)
    assert page.inner_text(".breadcrumb").replace("\n", "") == "Tỉnh Tây Ninh › Khu vực Tân Biên cũ"
    rows = page.locator(".communes tbody tr")
    codes = [rows.nth(i).get_attribute("data-code") or "" for i in range(rows.count())]
    assert sorted(codes) == sorted(new.children("705"))
    assert_rates_are_the_apis(
        demo_2025, {c: rows.nth(i).locator("td").nth(2).inner_text() for i, c in enumerate(codes)}
    )
    assert "Xã Tân Phú cũng gồm một phần Huyện Tân Châu cũ." in page.inner_text(".split-note")
    page.wait_for_selector("#district-cases .cases", timeout=20_000)

    follow(page, ".communes a[href='/commune/25486']", "**/commune/25486")  # Xã Tân Biên
    page.wait_for_selector("#commune-series .js-plotly-plot", timeout=30_000)
    crumbs = page.inner_text(".breadcrumb").replace("\n", "")
    assert crumbs == "Tỉnh Tây Ninh › Khu vực Tân Biên cũ › Xã Tân Biên"
    tile = page.locator("#commune-tiles .tile[data-kpi='on_time_rate'] .tile-value").inner_text()
    assert_rates_are_the_apis(demo_2025, {"25486": tile})
    received = page.evaluate("document.querySelector('#commune-series .js-plotly-plot').data[0].y")
    assert sum(received) > 0  # its hourly series
    page.wait_for_selector("#commune-cases .cases", timeout=20_000)

    page.goto(base + "/district/703")
    page.wait_for_selector("text=Từ 01/7/2025 không còn cấp huyện", timeout=30_000)
    assert page.locator("a[href='/area/703']").inner_text() == new.name("703")
    page.goto(base + "/wall?interval=1")
    page.wait_for_selector(".wall-number-value", timeout=30_000)
    scenes, _most = scenes_shown(page, distinct=4, timeout_ms=60_000)
    seen = {progress for _title, progress in scenes}
    # The exceptions, 4 feeds, the scorecard, then the tour of the 24 areas.
    assert seen <= {f"{i} / 30" for i in range(1, 31)} and len(seen) >= 4, seen
    assert errors == []
    page.close()


# ---- areas and communes in the 2025 scheme: their rooms, and a duty officer's scope ------------

AREA, OTHER_AREA = "705", "706"  # Khu vực Tân Biên cũ, Khu vực Tân Châu cũ
COMMUNE, OLD_TAN_BINH = "25486", "25495"  # Xã Tân Biên, and an old commune that went whole into it
OTHER_COMMUNE, ITS_NEIGHBOUR = "25516", "25522"  # Xã Tân Châu, Xã Tân Đông (706)
C = "/api/v1/cases?feed=public_services&unit="
K = "/api/v1/kpis?feed=public_services&window=7d&unit="


def overdue_case(case_id: str, key: str) -> dict:
    """An overdue dossier as the aggregator lists it: ``unit_code`` its record key; the later the
    number, the earlier its deadline (a list is newest breach first)."""
    return {
        "id": case_id,
        "procedure": "1.004227",
        "sector": "Đất đai",
        "agency": "BPMC",
        "unit_code": key,
        "status": "dang_xu_ly",
        "opened_at": "2026-11-10T01:00:00Z",
        "deadline_at": f"2026-11-2{5 - int(case_id[-1])}T01:00:00Z",
    }


CASES = {  # the area lists: each case under its record key, 2025 or pre-2025 coded
    AREA: [overdue_case("HS-1", f"2025:{COMMUNE}"), overdue_case("HS-2", OLD_TAN_BINH)],
    OTHER_AREA: [
        overdue_case("HS-3", f"2025:{OTHER_COMMUNE}"),
        overdue_case("HS-4", f"2025:{ITS_NEIGHBOUR}"),
    ],
}


@pytest.fixture(scope="module")
def areas(redis_server, new):
    """The app in the 2025 scheme over a snapshot as the aggregator writes one: every unit's
    documents (a different on-time rate for each), the communes' series, and the case lists of
    the areas and the province. On a Redis database of its own (the other tests flush theirs)."""
    client = redis.Redis.from_url(redis_server.url, db=1)
    client.flushdb()
    hourly = {
        "start": "2026-11-15T10:00:00+07:00",
        "step_s": 3600,
        "received": [1] * 168,
        "resolved": [1] * 168,
    }
    docs = {}
    for i, code in enumerate(new.codes):
        doc = {"received": {"value": 100 + i}, "on_time_rate": {"value": round(0.5 + i / 400, 4)}}
        docs |= {keys.snapshot_field(code, w): json.dumps({"kpis": doc}) for w in ("today", "7d", "30d")}
    everything = [case for found in CASES.values() for case in found]
    client.hset(
        keys.snapshot("public_services"),
        mapping={
            keys.META_FIELD: json.dumps({"as_of": AS_OF.isoformat(), "records": 4}),
            **docs,
        },
    )
    put_lists(client, "public_services", {**CASES, "80": everything})
    client.hset(keys.series("public_services"), mapping={c: json.dumps(hourly) for c in new.codes})
    settings = app_settings(redis_server, boundaries={"scheme": "2025"})
    yield create_app(settings, client)
    client.flushdb()
    client.close()


def case_ids(client, unit: str) -> list[str]:
    reply = client.get(C + unit)
    assert reply.status_code == 200, (unit, reply.get_json())
    return [c["id"] for c in reply.get_json()["cases"]]


def test_an_officer_of_one_area_gets_403_elsewhere_and_only_that_areas_cases(areas, new) -> None:
    """truc-705 (Khu vực Tân Biên cũ): the area's cases and its communes', and 403 for another
    area's, another area's commune's and the province's; the figures of every area, of its own
    communes only; every read and every refusal in the audit log."""
    officer = logged_in(areas, "truc-705")
    assert case_ids(officer, AREA) == ["HS-1", "HS-2"]
    body = officer.get(C + COMMUNE).get_json()  # a commune's: its area's list, those counted in it
    assert [(c["id"], c["unit_code"], c["unit_scheme"]) for c in body["cases"]] == [
        ("HS-1", COMMUNE, "2025"),
        ("HS-2", OLD_TAN_BINH, "pre2025"),  # coded before the merger, counted in Xã Tân Biên
    ]
    for unit in (OTHER_AREA, OTHER_COMMUNE, "80"):
        reply = officer.get(C + unit)
        assert reply.status_code == 403 and reply.get_json()["error"] == outside(unit), unit
    assert officer.get(K + OTHER_COMMUNE).status_code == 403
    for unit in ("80", OTHER_AREA, AREA, COMMUNE):
        assert officer.get(K + unit).status_code == 200, unit
    assert len(case_ids(logged_in(areas, "lanhdao"), "80")) == 4
    entries = logged_in(areas, "quantri").get("/api/v1/audit?count=200").get_json()["entries"]
    mine = [e for e in entries if e["who"] == "truc-705"]
    assert {e["unit"] for e in mine if e["action"] == "cases"} == {AREA, COMMUNE}
    refused = {e["path"] for e in mine if e["action"] == "refused"}
    assert refused == {"/api/v1/cases", "/api/v1/kpis"}
    assert {e["reason"] for e in mine if e["action"] == "refused"} == {
        outside(u) for u in (OTHER_AREA, OTHER_COMMUNE, "80")
    }


def test_a_commune_officer_sees_the_commune_alone(areas) -> None:
    """truc-25516 (Xã Tân Châu): its own cases, not its area's nor its neighbour's figures."""
    officer = logged_in(areas, "truc-25516")
    assert case_ids(officer, OTHER_COMMUNE) == ["HS-3"]
    for url in (C + OTHER_AREA, C + ITS_NEIGHBOUR, K + ITS_NEIGHBOUR, K + COMMUNE):
        assert officer.get(url).status_code == 403, url
    assert officer.get(K + OTHER_AREA).status_code == 200  # the areas' own figures: every role


def test_the_relays_token_carries_the_area_and_its_communes(areas, new) -> None:
    """A screen of truc-705 may subscribe to the province, the areas and 705's communes, and
    gets the alerts of 705, its communes and the province-wide ones."""
    claims = screen_claims(areas, "truc-705")
    communes = set(new.children(AREA))
    assert set(claims["units"]) == {"80", *new.level_codes("area"), *communes}
    assert set(claims["alerts"]) == {"80", AREA, *communes}
    commune = screen_claims(areas, "truc-25516")
    assert set(commune["units"]) == {"80", *new.level_codes("area"), OTHER_COMMUNE}
    assert set(commune["alerts"]) == {"80", OTHER_COMMUNE}


def screen_claims(app, login: str) -> dict:
    """What a screen's relay token of ``login`` lets it subscribe to (its signature checked)."""
    token = logged_in(app, login).get("/realtime/token").get_json()["token"]
    return auth.check("test-secret", token, max_age_s=60)  # app_settings' secret


def find(component, **wanted: str):
    """The first component of a Dash layout tree with these properties (``id=``, ``className=``)."""
    if all(getattr(component, k, None) == v for k, v in wanted.items()):
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = find(child, **wanted)
            if found is not None:
                return found
    return None


def test_an_area_room_ranks_its_communes_says_the_split_ones_and_links_them(areas, new) -> None:
    """/area/705: its name in the header, its communes ranked with the API's values, each linking
    to its room, which communes also took old units of another former district, and the work
    list with each case's commune linked."""
    api = logged_in(areas, "lanhdao")
    with acting_as(areas, "lanhdao", "/area/705"):
        room = page_registry["area"]["layout"](code=AREA)
    text = text_of(room)
    assert "Khu vực Tân Biên cũ" in text and "Xã, phường của Khu vực Tân Biên cũ" in text
    table = find(room, id="district-communes").children[-1]  # after its download links
    rows = table.children[1].children
    assert sorted(getattr(r, "data-code") for r in rows) == sorted(new.children(AREA))
    for row in rows:
        code = getattr(row, "data-code")
        link = row.children[1].children
        assert link.href == f"/commune/{code}" and link.children == new.name(code)
        rate = api.get(K + code).get_json()["kpis"]["on_time_rate"]["value"]
        assert row.children[2].children == fmt.percent(rate), code
    assert "Xã Tân Phú cũng gồm một phần Huyện Tân Châu cũ." in text  # split between 705 and 706
    assert '"href": "/commune/25486"' in text.replace('":"', '": "')  # HS-1's commune, linked
    assert "HS-1" in text and "HS-2" in text and "HS-3" not in text


def test_a_commune_room_shows_its_tiles_series_map_and_its_own_cases(areas, new) -> None:
    api = logged_in(areas, "lanhdao")
    with acting_as(areas, "lanhdao", "/commune/25486"):
        room = page_registry["commune"]["layout"](code=COMMUNE, window="30d")
    text = text_of(room)
    crumbs = find(room, className="breadcrumb")
    assert "Khu vực Tân Biên cũ" in text_of(crumbs) and "Xã Tân Biên" in text_of(crumbs)
    expected = api.get(K.replace("7d", "30d") + COMMUNE).get_json()["kpis"]
    tiles = {getattr(t, "data-kpi"): t for t in find(room, id="commune-tiles").children}
    assert text_of(tiles["received"]).count(fmt.number(expected["received"]["value"])) == 1
    assert fmt.percent(expected["on_time_rate"]["value"]) in text_of(tiles["on_time_rate"])
    series = find(room, id="commune-series").figure
    assert [list(t.y) for t in series.data][:1] == [[1] * 168]
    assert "HS-1" in text and "HS-2" in text and "HS-3" not in text  # its own, pre-2025 coded too
    assert "Xã Tân Biên" in text and "Phòng xã" not in text


def test_an_officer_is_refused_the_rooms_outside_the_scope_with_links_to_their_own(areas) -> None:
    with acting_as(areas, "truc-705"):
        other = text_of(page_registry["area"]["layout"](code=OTHER_AREA))
        commune = text_of(page_registry["commune"]["layout"](code=OTHER_COMMUNE))
        own = text_of(page_registry["commune"]["layout"](code=COMMUNE))
    for text in (other, commune):
        assert "NGOÀI PHẠM VI ĐƯỢC GIAO" in text and "case-table" not in text and "/area/705" in text
    assert "NGOÀI PHẠM VI" not in own and "HS-1" in own
    with acting_as(areas, "truc-25516"):
        area = text_of(page_registry["area"]["layout"](code=OTHER_AREA))
        mine = page_registry["commune"]["layout"](code=OTHER_COMMUNE)
    assert '"/area/706"' not in text_of(mine).replace(": ", ":")  # its area's room is not theirs
    assert "HS-3" in text_of(mine) and "HS-4" not in text_of(mine)
    assert "NGOÀI PHẠM VI ĐƯỢC GIAO" in area and "/commune/25516" in area and "HS-3" not in area
    entries = logged_in(areas, "quantri").get("/api/v1/audit?count=500").get_json()["entries"]
    said = {(e["who"], e["action"], e.get("path") or e.get("unit"), e.get("reason")) for e in entries}
    assert ("truc-705", "refused", "/area/706", "area room outside the scope") in said
    assert ("truc-705", "refused", "/commune/25516", "commune room outside the scope") in said
    assert ("truc-705", "commune_room", COMMUNE, None) in said


def test_the_other_schemes_addresses_say_where_the_room_is(areas) -> None:
    """/district/705 in the 2025 scheme: no districts any more, and a link to the area of the
    same code; an unknown area or commune says so."""
    with acting_as(areas, "lanhdao"):
        district = text_of(page_registry["district"]["layout"](code=AREA))
        unknown = text_of(page_registry["area"]["layout"](code="999"))
        commune = text_of(page_registry["commune"]["layout"](code="25456"))  # a pre-2025 code only
    assert "Từ 01/7/2025 không còn cấp huyện" in district and '"/area/705"' in district.replace(": ", ":")
    assert "Không có khu vực mã '999' trong bảng đơn vị." in unknown
    assert "Không có xã, phường mã '25456' trong bảng đơn vị." in commune


def test_the_rooms_callbacks_read_only_within_the_scope(areas) -> None:
    officer = logged_in(areas, "truc-705")
    assert room_callback(officer, OTHER_AREA).status_code == 204
    assert room_callback(officer, OTHER_COMMUNE, "commune").status_code == 204
    own = room_callback(officer, COMMUNE, "commune")
    assert own.status_code == 200 and "HS-2" in own.text and "HS-1" in own.text
    assert room_callback(officer, AREA).status_code == 200
