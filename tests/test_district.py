"""The district room: drill-down from the provincial map, the work list, state in the URL, and
commune polygons when a province installs them."""

from __future__ import annotations

import json
import shutil
import threading
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import pytest
import redis
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from shapely.geometry import MultiPoint, box
from shapely.ops import voronoi_diagram

from ioc import keys
from ioc.geo import LAYER_FILES, installed_layer
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.web import create_app
from layouts.format import fold
from tests.pipeline import Pipeline
from tests.processes import acting_as, app_settings, child_port, get, logged_in
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)
from tests.test_kpis import AS_OF, load_cases

TAN_CHAU = "706"


def open_page(browser, url: str, user: str = "lanhdao"):  # noqa: F811
    page = new_page(browser, urlsplit(url).port, user, viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page, errors


@pytest.mark.browser
def test_province_to_an_overdue_case_in_two_clicks(browser, demo, geodata) -> None:  # noqa: F811
    """Click Tân Châu on the provincial map: its room opens with the breadcrumb, and its work list
    holds exactly as many overdue dossiers as the API counts, each with how late it is."""
    port = demo[0]
    page, errors = open_page(browser, f"http://127.0.0.1:{port}/")
    page.wait_for_selector("path.choroplethlocation[d]", timeout=20_000)
    page.wait_for_timeout(1500)  # the map has drawn its polygons
    districts = gpd.read_file(geodata / LAYER_FILES[("pre2025", "district")])
    inside = districts[districts["code"] == TAN_CHAU].geometry.iloc[0].representative_point()
    x, y = page.evaluate(
        "([lon, lat]) => { const gd = document.querySelector('#province-map .js-plotly-plot');"
        " const p = gd._fullLayout.geo._subplot.projection([lon, lat]);"
        " const box = gd.querySelector('.main-svg').getBoundingClientRect();"
        " return [box.left + p[0], box.top + p[1]]; }",
        [inside.x, inside.y],
    )
    for _attempt in range(3):  # a click before the map has wired its handlers is lost: click again
        page.mouse.click(x, y)  # the first click
        try:
            page.wait_for_url(f"**/district/{TAN_CHAU}", timeout=8_000)
            break
        except PlaywrightTimeout:
            continue
    assert urlsplit(page.url).path == f"/district/{TAN_CHAU}"
    page.wait_for_selector(".case-table", timeout=20_000)
    assert page.locator(".breadcrumb").inner_text().replace("\n", "") == "Tỉnh Tây Ninh › Huyện Tân Châu"
    cases = get(f"http://127.0.0.1:{port}/api/v1/cases?feed=public_services&unit={TAN_CHAU}").json()
    kpi = get(f"http://127.0.0.1:{port}/api/v1/kpis?feed=public_services&unit={TAN_CHAU}&window=7d").json()
    assert cases["count"] == kpi["kpis"]["overdue_open"]["value"] or cases["as_of"] != kpi["as_of"]
    dossiers = page.locator(".cases[data-feed='public_services']")
    rows = dossiers.locator(".case-table tbody tr")
    shown = int(dossiers.locator(".case-count").inner_text().split()[0].replace(".", ""))
    assert abs(shown - cases["count"]) <= 3  # the page and the API read a moment apart
    assert rows.count() == shown  # the second click would be on one of these: all of them are there
    first = rows.first.inner_text()
    assert "trễ" in first and "H56." in first
    assert errors == []


@pytest.mark.browser
def test_every_choice_is_in_the_url_and_a_shared_link_restores_it(browser, demo) -> None:  # noqa: F811
    """Search without diacritics, another order and KPI, a case filter: the address bar carries
    them, and opening that address shows the same view."""
    port = demo[0]
    page, errors = open_page(browser, f"http://127.0.0.1:{port}/district/{TAN_CHAU}")
    page.wait_for_selector(".communes tbody tr", timeout=20_000)
    assert page.locator(".communes tbody tr").count() == 12
    page.locator("#district-search").fill("tan hoa")
    page.wait_for_function(
        "() => document.querySelectorAll('.communes tbody tr').length === 1", timeout=30_000
    )
    assert "Xã Tân Hòa" in page.locator(".communes tbody").inner_text()
    page.locator("#district-case-filter").fill("ho tich")
    page.wait_for_function("() => location.search.includes('f=ho+tich')", timeout=10_000)
    page.get_by_text("30 ngày", exact=True).click()
    page.wait_for_function("() => location.search.includes('window=30d')", timeout=10_000)
    page.wait_for_function(  # the server's answer to the last choice has arrived
        "() => document.querySelector(\".cases[data-feed='public_services'] .case-count\")"
        ".innerText.includes('khớp bộ lọc') && !document.querySelector('._dash-loading-callback')",
        timeout=10_000,
    )
    page.wait_for_timeout(1000)
    query = parse_qs(urlsplit(page.url).query)
    assert query["q"] == ["tan hoa"] and query["f"] == ["ho tich"] and query["window"] == ["30d"]
    for row in page.locator(".cases[data-feed='public_services'] .case-table tbody tr").all_inner_texts():
        assert "ho tich" in fold(row)  # the filter found "Hộ tịch" without its marks

    shared, more_errors = open_page(browser, page.url)
    shared.wait_for_selector(".communes tbody tr", timeout=20_000)
    assert shared.locator("#district-search").input_value() == "tan hoa"
    assert shared.locator(".communes tbody tr").count() == 1
    assert shared.locator("#district-window input[value='30d']").is_checked()
    assert "khớp bộ lọc" in shared.locator(".cases[data-feed='public_services'] .case-count").inner_text()
    assert errors == [] and more_errors == []


@pytest.mark.browser
def test_a_search_is_answered_while_changes_pour_in(browser, demo) -> None:  # noqa: F811
    """Changes pushed faster than the room's server answers (one every 150 ms) do not keep the
    answer to a search off the screen (Dash drops an answer when the same callback is asked again
    before it has answered): the room hands the pushes over one at a time, the newest standing for
    those it replaced."""
    port, process, _data = demo
    client = redis.Redis(port=child_port(process, "redis-server"))
    page, errors = open_page(browser, f"http://127.0.0.1:{port}/district/{TAN_CHAU}")
    page.wait_for_selector(".communes tbody tr", timeout=20_000)
    stream = keys.deltas("public_services")
    [(_id, newest)] = client.xrevrange(stream, count=1)
    # a small change of the room's feed, pushed again and again, faster than a loaded machine's
    # server answers (a whole delta, sent 25 times a second, would have the relay cut a slow
    # browser off for its buffer; 25 small ones a second kept a loaded CI's browser too busy to
    # take a keystroke: neither tests the room)
    small = {"feed": "public_services", "meta": json.loads(newest[b"d"])["meta"], "kpis": {}, "series": {}}
    fields = {"d": json.dumps(small)}
    done = threading.Event()

    def pour() -> None:
        while not done.wait(0.15):
            client.xadd(stream, fields, maxlen=1000, approximate=True)

    pouring = threading.Thread(target=pour, daemon=True)
    pouring.start()
    try:
        start = page.evaluate("() => window.ioc_rt.state.deltas")
        page.wait_for_function(f"() => window.ioc_rt.state.deltas > {start + 15}", timeout=30_000)
        page.locator("#district-search").fill("tan hoa")
        page.wait_for_function(  # a callback or two: seconds on a loaded machine, never starved
            "() => document.querySelectorAll('.communes tbody tr').length === 1", timeout=30_000
        )
        deltas, handed = page.evaluate("() => [window.ioc_rt.state.deltas, window.ioc_rt.state.handed]")
    finally:
        done.set()
        pouring.join()
    assert "Xã Tân Hòa" in page.locator(".communes tbody").inner_text()
    assert 0 < handed < deltas, f"{handed} of {deltas} pushes went to the server: none were held back"
    assert errors == []


def commune_fixture(directory, district: str, communes: list[str]) -> None:
    """Commune polygons for one district: its polygon cut into Voronoi cells, one per commune."""
    frame = gpd.read_file(directory / LAYER_FILES[("pre2025", "district")])
    shape = frame[frame["code"] == district].geometry.iloc[0]
    minx, miny, maxx, maxy = shape.bounds
    seeds = MultiPoint(
        [(minx + (maxx - minx) * (i + 0.5) / len(communes), (miny + maxy) / 2) for i in range(len(communes))]
    )
    cells = [cell.intersection(shape) for cell in voronoi_diagram(seeds, envelope=box(*shape.bounds)).geoms]
    cells.sort(key=lambda c: c.centroid.x)
    out = gpd.GeoDataFrame({"code": communes, "level": "commune"}, geometry=cells, crs=4326)
    out.to_file(directory / LAYER_FILES[("pre2025", "commune")], driver="GeoJSON")


def test_commune_polygons_are_drawn_when_installed(tmp_path, r, units, redis_server, geodata) -> None:
    """With a commune boundary file in the folder, the district map colours its communes."""
    for path in geodata.iterdir():
        shutil.copy(path, tmp_path / path.name)
    assert installed_layer(tmp_path, "pre2025", "commune", units) is None
    communes = units.children("703")
    commune_fixture(tmp_path, "703", communes)
    listing = RecordListing("ma_ho_so")
    source = SimulatorServer({"/api/v1/hoso": listing}).start()
    pipe = Pipeline(r, units, source.url, lambda: AS_OF)
    try:
        load_cases(listing, pipe)
        app = create_app(app_settings(redis_server, boundaries={"directory": tmp_path}), r)
        client = logged_in(app, "lanhdao")
        served = json.loads(client.get("/geo/pre2025-commune.geojson").data)
        assert sorted(f["properties"]["code"] for f in served["features"]) == sorted(communes)
        from dash import page_registry

        with acting_as(app, "lanhdao"):
            district = page_registry["district"]["layout"](code="703")
        figure = _find(district, "district-map").figure
        grey, focus = figure["data"][0], figure["data"][1]
        assert list(focus["locations"]) == communes and focus["geojson"] == "/geo/pre2025-commune.geojson"
        assert "703" not in grey["locations"] and len(grey["locations"]) == 8
        # Phường 1 (25456): A and F resolved in 7 days, F on time; Phường 3 (25459): none resolved,
        # so its rate is unknown (no colour), not 0%.
        assert focus["z"][communes.index("25456")] == 50.0
        assert focus["z"][communes.index("25459")] is None
        with acting_as(app, "lanhdao"):  # Phường 3's room: the same map, Phường 3 outlined
            room = page_registry["commune"]["layout"](code="25459")
        traces = _find(room, "commune-map").figure["data"]
        assert list(traces[1]["locations"]) == communes and traces[1]["z"] == focus["z"]
        assert traces[2]["locations"] == ["25459"] and traces[2]["marker"]["line"]["width"] > 1.5
    finally:
        pipe.close()
        source.close()


def test_without_commune_polygons_the_district_itself_is_coloured(r, units, redis_server) -> None:
    app = create_app(app_settings(redis_server), r)
    from dash import page_registry

    with acting_as(app, "lanhdao"):
        figure = _find(page_registry["district"]["layout"](code="706"), "district-map").figure
        unknown = page_registry["district"]["layout"](code="999")
    assert list(figure["data"][1]["locations"]) == ["706"]
    assert "Không có huyện, thị xã, thành phố mã '999'" in json.dumps(
        unknown.to_plotly_json(), default=str, ensure_ascii=False
    )


def _find(component, wanted: str):
    """The component with id ``wanted`` in a Dash layout tree."""
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, wanted)
            if found is not None:
                return found
    return None


def test_a_long_work_list_shows_its_newest_100_and_says_how_many_more(r, units) -> None:
    from dash import html

    from ioc import keys
    from ioc.snapshots import SnapshotReader
    from layouts import worklist
    from tests.worklists import put_lists

    cases = [
        {
            "id": f"H{n:04d}",
            "procedure": "1.004227",
            "sector": "Đất đai",
            "agency": "BPMC",
            "unit_code": "25516",
            "status": "dang_xu_ly",
            "opened_at": "2026-11-01T01:00:00Z",
            "deadline_at": f"2026-11-{21 - n // 24:02d}T{23 - n % 24:02d}:00:00Z",
        }
        for n in range(260)
    ]
    meta = {"as_of": AS_OF.isoformat(), "records": 260}
    r.hset(keys.snapshot("public_services"), mapping={keys.META_FIELD: json.dumps(meta)})
    put_lists(r, "public_services", {"705": cases})
    read = worklist.fetch_cases(SnapshotReader(r), ["public_services"], "705")
    found = worklist.case_lists(read, "705", units.names(), "")
    text = json.dumps(found[0].to_plotly_json(), default=lambda c: c.to_plotly_json(), ensure_ascii=False)
    rows = [c for c in _walk(found[0]) if isinstance(c, html.Tr)]
    assert len(rows) == 1 + worklist.ROWS_SHOWN  # the head and the 100 newest breaches
    assert "H0000" in text and "H0099" in text and "H0100" not in text
    assert "Còn 160 việc quá hạn từ trước đó" in text and "/api/v1/cases?feed=public_services" in text
    assert "260 hồ sơ" in text  # the count is the whole list's


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            yield from _walk(child)
