"""The map without commune polygons: the 2025 communes as a schematic tile map (``ioc.tilemap``,
``ioc.geo.tile_layer``), and the province room colouring all 96 of them, on the tiles or on a
province's installed polygons (``tests/commune_fixture.py``), with the API's values."""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import plotly.graph_objects as go
import pytest
from dash import page_registry

from ioc import tilemap
from ioc.crosswalk import FORMER_DISTRICTS_FILE
from ioc.geo import TILES_LAYER, Layer, installed_layer, tile_layer
from ioc.redis_server import EmbeddedRedis, free_port
from ioc.units import UnitTable
from ioc.web import create_app
from layouts import ids
from layouts.embed import EmbedMaps, template_context
from layouts.figures import schematic
from layouts.i18n import using
from tests.commune_fixture import COMMUNES_FILE, commune_polygons, geodata_with_communes
from tests.processes import API, acting_as, app_settings, demo_env, get, logged_in, start_app, stop, wait_for
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)
from tests.test_district import _find

NOTE = "Sơ đồ, không theo ranh giới thật"


@pytest.fixture(scope="module")
def new(geodata) -> UnitTable:
    return UnitTable.load(geodata, "2025")


@pytest.fixture(scope="module")
def tiles(geodata, new) -> Layer:
    return tile_layer(geodata, new)


# ---- the layout ---------------------------------------------------------------------------


def grid(layer: Layer) -> dict[str, tuple[int, int]]:
    """Each tile's cell (column, row), from its square on the map: tiles are equal squares on one
    grid, so their centres are whole steps apart (in longitude and Mercator ordinate)."""
    centres = {
        code: ((w + e) / 2, (tilemap.mercator_y(s) + tilemap.mercator_y(n)) / 2)
        for code, (w, s, e, n) in layer.feature_bounds.items()
    }
    xs = sorted(c[0] for c in centres.values())
    step = min(b - a for a, b in itertools.pairwise(xs) if b - a > 1e-6)
    x0, y0 = xs[0], min(c[1] for c in centres.values())
    cells = {}
    for code, (x, y) in centres.items():
        col, row = (x - x0) / step, (y - y0) / step
        assert abs(col - round(col)) < 0.01 and abs(row - round(row)) < 0.01, f"{code} is off the grid"
        cells[code] = (round(col), round(row))
    return cells


def assert_blocks_in_one_piece(cells: dict[str, tuple[int, int]], area_of: dict[str, str]) -> None:
    """Every tile of an area of more than one commune shares an edge with another of its area."""
    for code, (col, row) in cells.items():
        mates = [c for c in cells if c != code and area_of[c] == area_of[code]]
        if mates:
            touching = [m for m in mates if abs(cells[m][0] - col) + abs(cells[m][1] - row) == 1]
            assert touching, f"tile {code} of area {area_of[code]} touches no other tile of its area"


def test_one_equal_square_tile_per_commune_none_overlapping(tiles, new) -> None:
    communes = new.level_codes("commune")
    features = json.loads(tiles.geojson)["features"]
    assert tiles.schematic and tiles.name == TILES_LAYER
    assert sorted(f["properties"]["code"] for f in features) == sorted(communes) and len(features) == 96
    sides = set()
    for code, (w, s, e, n) in tiles.feature_bounds.items():
        width, height = e - w, tilemap.mercator_y(n) - tilemap.mercator_y(s)
        assert abs(width - height) < 1e-5, f"tile {code} is not square on the map: {width} × {height}"
        sides.add(round(width, 5))
    assert len(sides) == 1, f"tiles of different sizes: {sides}"
    cells = grid(tiles)
    assert len(set(cells.values())) == 96, "two tiles share a cell"
    boxes = list(tiles.feature_bounds.items())
    for (a, (aw, as_, ae, an)), (b, (bw, bs, be, bn)) in itertools.combinations(boxes, 2):
        assert ae <= bw or be <= aw or an <= bs or bn <= as_, f"tiles {a} and {b} overlap"


def test_each_area_is_one_block_near_where_it_lies(tiles, new, geodata) -> None:
    """Each area's tiles touch one another, and the blocks keep the areas' places: after the
    diagram's own stretch and shift (a straight-line fit per axis), every block's centre is within
    2.5 tiles of its former district's place, and on average within one."""
    area_of = {c: str(new.parent(c)) for c in new.level_codes("commune")}
    cells = grid(tiles)
    assert_blocks_in_one_piece(cells, area_of)
    districts = gpd.read_file(geodata / FORMER_DISTRICTS_FILE)
    points = districts.set_index("code").geometry.representative_point()
    areas = sorted(set(area_of.values()))
    block = {
        a: [
            sum(cells[c][i] for c in cells if area_of[c] == a) / list(area_of.values()).count(a)
            for i in (0, 1)
        ]
        for a in areas
    }
    place = {a: [points[a].x, tilemap.mercator_y(points[a].y)] for a in areas}
    misses = {}
    for axis in (0, 1):
        xs, ys = [place[a][axis] for a in areas], [block[a][axis] for a in areas]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        assert slope > 0, f"the blocks' order along axis {axis} is reversed"
        for a, x, y in zip(areas, xs, ys, strict=True):
            misses[a] = math.hypot(misses.get(a, 0.0), y - (my + slope * (x - mx)))
    worst = max(misses, key=lambda a: misses[a])
    assert misses[worst] < 2.5, f"{new.name(worst)} is {misses[worst]:.1f} tiles from its place"
    assert sum(misses.values()) / len(misses) < 1.0, misses


def test_the_layout_is_the_same_every_time(tiles, geodata, new) -> None:
    assert tile_layer(geodata, new).geojson == tiles.geojson
    anchors = {"a": (0.2, 0.3), "b": (1.4, 0.1), "c": (0.9, 1.7)}
    members = {"a": ["1", "2", "3"], "b": ["4", "5"], "c": ["6", "7", "8", "9"]}
    first = tilemap.layout(anchors, members)
    shuffled = tilemap.layout(
        dict(reversed(anchors.items())), {k: v[::-1] for k, v in reversed(members.items())}
    )
    assert first == shuffled


@pytest.mark.parametrize(
    ("sizes", "anchors"),
    [
        # twelve areas of 1 to 9 communes all wanting the same few cells
        (
            [9, 1, 4, 7, 2, 8, 3, 6, 5, 1, 9, 2],
            [(0.5 + (i % 3) * 0.3, 0.5 + (i // 3) * 0.2) for i in range(12)],
        ),
        # nine areas whose blocks close a pocket of free cells around the anchor of the eighth:
        # its seed must be outside the pocket, where its eight tiles fit
        (
            [7, 4, 6, 5, 6, 2, 8, 8, 2],
            [
                (1.8, 3.2),
                (2.9, 2.7),
                (2.3, 2.2),
                (0.5, 1.2),
                (0.7, 3.5),
                (0.7, 1.7),
                (1.4, 1.8),
                (1.1, 3.0),
                (0.7, 2.9),
            ],
        ),
    ],
)
def test_crowded_areas_still_get_one_block_each(sizes, anchors) -> None:
    """No tile shares a cell, and every block is one piece (no area is boxed into a pocket)."""
    members = {f"a{i}": [f"a{i}-{k}" for k in range(n)] for i, n in enumerate(sizes)}
    found = tilemap.layout({f"a{i}": p for i, p in enumerate(anchors)}, members)
    assert len(found.cells) == sum(sizes) and len(set(found.cells.values())) == sum(sizes)
    assert_blocks_in_one_piece(found.cells, found.areas)


def test_configured_areas_are_laid_out_from_their_communes_former_districts(geodata, tmp_path) -> None:
    """A province's own grouping (four areas that each join former districts far apart): each
    area's block is one piece, around the mean of its communes' former districts."""
    units = UnitTable.load(geodata, "2025")
    communes = units.level_codes("commune")
    path = tmp_path / "areas.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["commune_code", "area_code", "area_name"])
        for i, code in enumerate(sorted(communes, key=lambda c: (units.parent(c), c))):
            out.writerow([code, f"KV{i % 4}", f"Khu vực {i % 4}"])
    grouped = UnitTable.load(geodata, "2025", areas=path)
    layer = tile_layer(geodata, grouped)
    assert sorted(layer.codes) == sorted(communes)
    assert_blocks_in_one_piece(grid(layer), {c: str(grouped.parent(c)) for c in communes})
    parents = {f["properties"]["parent_code"] for f in json.loads(layer.geojson)["features"]}
    assert parents == {"KV0", "KV1", "KV2", "KV3"}


def test_bad_input_is_refused_with_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"areas without an anchor: \['b'\]"):
        tilemap.layout({"a": (0, 0)}, {"a": ["1"], "b": ["2"]})
    with pytest.raises(ValueError, match="commune 1 is in two areas: a and b"):
        tilemap.layout({"a": (0, 0), "b": (1, 1)}, {"a": ["1"], "b": ["1"]})


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Phường Tân Ninh", "Tân\nNinh"),
        ("Xã Mỹ An", "Mỹ\nAn"),
        ("Xã Dương Minh Châu", "D.M.\nChâu"),
        ("Xã Phước Vĩnh Tây", "P.V.\nTây"),
        ("Thị trấn Tân Châu", "Tân\nChâu"),
    ],
)
def test_a_tile_says_a_short_name(name, label) -> None:
    assert tilemap.short_name(name) == label


def test_the_areas_outlines_follow_the_blocks(tiles) -> None:
    """One line along every edge between two areas or an area and nothing, each edge once."""
    lines = json.loads(tiles.outlines)["features"][0]["geometry"]["coordinates"]
    assert lines and all(len(line) >= 2 for line in lines)
    found = tilemap.layout({"a": (0.5, 0.5), "b": (2.5, 0.5)}, {"a": ["1", "2"], "b": ["3"]})
    edges = sum(len(line) - 1 for line in found.outlines())
    assert edges == 10  # a 2×1 block and a 1×1 block side by side: 6 + 4 edges, none shared


def test_mercator_ordinates_and_latitudes_are_inverse() -> None:
    for lat in (10.4, 11.0, 11.78):
        assert tilemap.latitude(tilemap.mercator_y(lat)) == pytest.approx(lat, abs=1e-9)


# ---- the rooms, built in the test -----------------------------------------------------------


def test_without_polygons_the_2025_rooms_colour_the_tiles(r, redis_server, new) -> None:
    app = create_app(app_settings(redis_server, boundaries={"scheme": "2025"}), r)
    client = logged_in(app, "lanhdao")
    served = client.get(f"/geo/{TILES_LAYER}.geojson")
    assert served.status_code == 200 and len(json.loads(served.data)["features"]) == 96
    with acting_as(app, "lanhdao"):
        page = page_registry["province"]["layout"]()
        area = page_registry["area"]["layout"](code="802")
    figure = _find(page, ids.MAP).figure
    choropleth, outlines, labels = figure["data"]
    assert choropleth["geojson"] == f"/geo/{TILES_LAYER}.geojson"
    assert sorted(choropleth["locations"]) == sorted(new.level_codes("commune"))
    assert labels["mode"] == "text" and "D.M.<br>Châu" in labels["text"] and len(labels["text"]) == 96
    assert [a["text"] for a in figure["layout"]["annotations"]] == [NOTE]
    assert outlines["mode"] == "lines" and outlines["hoverinfo"] == "skip"  # the areas' outlines
    text = json.dumps(page.to_plotly_json(), default=lambda c: c.to_plotly_json(), ensure_ascii=False)
    assert "viền đậm bao các xã, phường của một khu vực" in text
    # the area room colours its communes' tiles and zooms to them
    grey, focus, *_rest = _find(area, ids.D_MAP).figure["data"]
    assert grey["hoverinfo"] == "skip" and "hovertemplate" not in grey, "an empty trace offers to open"
    assert sorted(focus["locations"]) == sorted(new.children("802"))
    assert focus["geojson"] == f"/geo/{TILES_LAYER}.geojson"
    with acting_as(app, "lanhdao", headers={"Cookie": "ioc_lang=en"}):
        english = _find(page_registry["province"]["layout"](), ids.MAP).figure
    assert [a["text"] for a in english["layout"]["annotations"]] == ["Diagram, not the real boundaries"]


def test_the_tiles_names_lie_over_the_tiles_and_under_the_reports(tiles) -> None:
    """Outlines then names right after the tiles, before the points: drawn over the tiles and
    under the points, and the points' trace numbers (a click's) follow them."""
    points = {"type": "scattergeo", "mode": "markers", "lon": [106.1], "lat": [11.3]}
    tile = {"type": "choropleth", "locations": tiles.codes[:3], "z": [1, 2, 3]}
    figure = schematic({"data": [tile, points], "layout": {"geo": {}}}, tiles, 9.0)
    assert [t.get("mode") for t in figure["data"]] == [None, "lines", "text", "markers"]
    go.Figure(figure)  # what Plotly accepts (its checks, in the test: the rooms skip them)


def test_installed_polygons_are_coloured_instead_of_the_tiles(r, redis_server, new, tmp_path) -> None:
    folder = geodata_with_communes(tmp_path / "geodata")
    layer = installed_layer(folder, "2025", "commune", new)
    assert layer is not None and sorted(layer.codes) == sorted(new.level_codes("commune"))
    assert not layer.schematic
    app = create_app(app_settings(redis_server, boundaries={"scheme": "2025", "directory": folder}), r)
    client = logged_in(app, "lanhdao")
    assert client.get(f"/geo/{TILES_LAYER}.geojson").status_code == 404
    assert len(json.loads(client.get("/geo/2025-commune.geojson").data)["features"]) == 96
    with acting_as(app, "lanhdao"):
        figure = _find(page_registry["province"]["layout"](), ids.MAP).figure
    coloured, outlines = figure["data"]
    assert coloured["geojson"] == "/geo/2025-commune.geojson"
    assert sorted(coloured["locations"]) == sorted(new.level_codes("commune"))
    assert not figure["layout"].get("annotations")  # real polygons: no "diagram" note
    # the areas (the former districts) outlined: every ring of their polygons, each its own line
    districts = json.loads(client.get("/geo/2025-former_district.geojson").data)["features"]
    rings = sum(
        len(f["geometry"]["coordinates"])
        if f["geometry"]["type"] == "Polygon"
        else sum(len(p) for p in f["geometry"]["coordinates"])
        for f in districts
    )
    assert outlines["mode"] == "lines" and outlines["lon"].count(None) == rings


def test_the_fixture_polygons_cover_the_province_once(geodata) -> None:
    frame = commune_polygons(geodata)
    assert len(frame) == 96 and frame.geometry.is_valid.all() and frame["code"].is_unique
    assert not frame.geometry.is_empty.any()
    projected = frame.to_crs(3405)  # VN-2000 / UTM 48N: areas in square metres
    total = projected.geometry.area.sum()
    assert abs(projected.geometry.union_all().area - total) < total * 1e-6, "polygons overlap"


def test_the_schematic_embed_map_says_it_is_a_diagram(tiles, new) -> None:
    maps = EmbedMaps(new, None, tiles)
    province, _focus = maps.choose("80")
    assert province.schematic and sorted(province.codes) == sorted(new.level_codes("commune"))
    area, _focus = maps.choose("802")
    card = {"unit": "802", "units": []}
    with using("vi"):
        context = template_context(maps, card, "map", {})
    assert sorted(area.codes) == sorted(new.children("802"))
    assert context["attribution"].startswith(NOTE)
    assert set(context["drawing"].paths) == set(new.children("802"))


def test_each_embed_map_draws_its_own_communes_whatever_was_drawn_before(tiles, new) -> None:
    """One cache for every card: the province's map (96 tiles) and an area's (the area holding the
    lowest commune code too) are different drawings, in whichever order they are asked."""
    maps = EmbedMaps(new, None, tiles)
    areas = [a for a in new.level_codes("area") if new.children(a)]
    asked = ["80", *areas, *new.level_codes("commune")[:10], "80", *areas[::-1]]
    for unit in asked:
        layer, _focus = maps.choose(unit)
        shown = set(new.children(unit) or new.children(new.parent(unit) or "80"))
        if unit == "80":
            shown = set(new.level_codes("commune"))
        assert set(maps.drawing(layer).paths) == shown, f"the map of {unit} draws another unit's communes"


def test_the_pre2025_rooms_are_unchanged(r, redis_server) -> None:
    app = create_app(app_settings(redis_server), r)
    client = logged_in(app, "lanhdao")
    assert client.get(f"/geo/{TILES_LAYER}.geojson").status_code == 404
    with acting_as(app, "lanhdao"):
        figure = _find(page_registry["province"]["layout"](), ids.MAP).figure
    assert len(figure["data"][0]["locations"]) == 9 and not figure["layout"].get("annotations")


# ---- in Chromium: the province room of a running 2025 demo ----------------------------------

SECRET = "tile-map-test-secret"


@contextmanager
def web_process(env: dict[str, str], directory: Path, log: Path) -> Iterator[int]:
    """The web app alone (``app.py web``) beside a running demo, on its Redis and relay, with its
    boundaries from ``directory``."""
    port = free_port()
    process = start_app(
        ["web"], {**env, "IOC_WEB__PORT": str(port), "IOC_BOUNDARIES__DIRECTORY": str(directory)}, log
    )
    try:
        wait_for(API.format(port=port, unit="80", window="7d"), process=process)
        yield port
    finally:
        stop(process)


@pytest.fixture(scope="module")
def maps_2025(tmp_path_factory) -> Iterator[dict[str, int]]:
    """A 2025 demo, which draws the tile map, and beside it the web app of a province that
    installed its commune polygons (the fixture's), on the same Redis: their two ports."""
    root = tmp_path_factory.mktemp("tilemap")
    polygons = geodata_with_communes(root / "geodata")
    assert (polygons / COMMUNES_FILE).exists()
    with EmbeddedRedis(root / "redis") as redis_server:
        data = root / "demo"
        data.mkdir()
        port, env = demo_env(
            data,
            history_days=10,
            boundaries__scheme="2025",
            redis__url=redis_server.url,
            secret_key=SECRET,
            aggregator__recompute_s="2",
            simulators__citizen_feedback__history_days="10",
            simulators__vaccination__history_days="10",
            simulators__mobile_data__file_history_hours="1",
        )
        demo = start_app([], env, data / "app.log")
        try:
            wait_for(API.format(port=port, unit="80", window="7d"), process=demo)
            with web_process(env, polygons, root / "web-polygons.log") as polygons_port:
                yield {"tiles": port, "polygons": polygons_port}
        finally:
            stop(demo)


MAP_TRACES = (
    "() => { const gd = document.querySelector('#province-map .js-plotly-plot');"
    " return gd.data.map(t => ({locations: t.locations, z: t.z, geojson: t.geojson, text: t.text,"
    " lon: t.lon, lat: t.lat})) }"
)


@pytest.mark.browser
@pytest.mark.parametrize("drawn", ["tiles", "polygons"])
def test_the_province_room_colours_all_96_communes_with_the_apis_values(
    browser,  # noqa: F811
    maps_2025,
    new,
    drawn,
) -> None:
    """The province room of the 2025 scheme colours every commune (on the tile map, or on the
    installed polygons) with the on-time rate the KPI API gives it; on the tiles each says its
    name and the map says it is a diagram; a click on a tile opens the commune's room."""
    port = maps_2025[drawn]
    base = f"http://127.0.0.1:{port}"
    page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + "/")
    page.wait_for_selector("path.choroplethlocation[d]", timeout=30_000)
    page.wait_for_function(
        "() => { const gd = document.querySelector('#province-map .js-plotly-plot');"
        " return gd && gd.data && gd.data[0].locations.length === 96 }",
        timeout=30_000,
    )
    traces = page.evaluate(MAP_TRACES)
    communes = traces[0]["locations"]
    assert sorted(communes) == sorted(new.level_codes("commune"))
    url = f"/geo/{TILES_LAYER}.geojson" if drawn == "tiles" else "/geo/2025-commune.geojson"
    assert traces[0]["geojson"] == url
    coloured = 0
    for code, shown in zip(communes, traces[0]["z"], strict=True):
        api = get(API.format(port=port, unit=code, window="7d")).json()["kpis"]["on_time_rate"]["value"]
        if api is None:  # no dossier resolved in 7 days: no colour, not 0 %
            assert shown is None, code
            continue
        coloured += 1
        assert shown == pytest.approx(api * 100, abs=2), code  # live: may move a little meanwhile
    assert coloured >= 90, f"only {coloured} of 96 communes have a rate"
    if drawn == "tiles":
        labels = traces[2]
        assert len(labels["text"]) == 96 and "D.M.<br>Châu" in labels["text"]
        assert page.get_by_text(NOTE, exact=True).first.is_visible()
        # a click on a tile opens its commune's room, with the same feed
        i = labels["text"].index("D.M.<br>Châu")
        x, y = page.evaluate(  # below the name, on the tile
            "([lon, lat]) => { const gd = document.querySelector('#province-map .js-plotly-plot');"
            " const p = gd._fullLayout.geo._subplot.projection([lon, lat]);"
            " const box = gd.querySelector('.main-svg').getBoundingClientRect();"
            " return [box.left + p[0], box.top + p[1] + 12] }",
            [labels["lon"][i], labels["lat"][i]],
        )
        code = next(c for c in communes if new.name(c) == "Xã Dương Minh Châu")
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.wait_for_url(f"{base}/commune/{code}", timeout=20_000)
    else:
        # the coloured polygons and their areas' outlines: no names, no note
        assert len(traces) == 2 and traces[1].get("text") is None and page.get_by_text(NOTE).count() == 0
    assert errors == []
