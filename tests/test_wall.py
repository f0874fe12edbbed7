"""The wall: its scenes (exceptions first), a screen's address, and in headless Chromium the
rotation, the size of its numbers at 1920×1080 and 3840×2160, dimming, the pixel shift, the soft
reload, and a compressed long run whose JS heap must not grow."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ioc import keys
from ioc.config import Settings, WallSettings
from ioc.config_scorecard import Target, default_targets
from ioc.feeds import FEED_SPECS
from ioc.geo import load_layer
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from layouts.format import TZ
from layouts.scenes import WallPlan
from layouts.wall import BadWallAddress, screen_options
from tests.test_areas_2025 import DUC_HOA, TAN_BIEN, counted_2025, new  # noqa: F401  (new: the fixture)
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)
from tests.test_kpis import counted_cases


@pytest.fixture
def plan(r, units, geodata):
    with counted_cases(r, units):
        layer = load_layer(geodata, "pre2025", "district", units)
        specs = {"public_services": FEED_SPECS["public_services"]}
        yield WallPlan(SnapshotReader(r), units, layer, specs, Goals(default_targets(), units))


def test_the_worst_breach_comes_first(plan) -> None:
    """Tân Biên's only resolved dossier was late: 0% on time against 95% is the worst gap of any
    district and KPI; Tây Ninh city holds the one overdue dossier. The rotation starts there."""
    assert plan.keys(["exceptions", "feeds", "districts"])[:3] == [
        "exceptions",
        "feed:public_services",
        "district:" + plan.layer.codes[0],
    ]
    scene = plan.scene("exceptions")
    assert scene.title == "Cần chú ý"
    assert (scene.feed, scene.map_kpi, scene.focus) == ("public_services", "on_time_rate", "705")
    worst, most, province, alerts = scene.numbers
    assert worst.label == "Huyện Tân Biên · Giải quyết đúng hạn · 7 ngày"
    assert (worst.text, worst.state, worst.note) == ("0,0%", "bad", "Mục tiêu ≥ 95%")
    assert (most.unit, most.kpi, most.text, most.suffix) == ("703", "overdue_open", "1", "hồ sơ")
    assert most.label == "Thành phố Tây Ninh · Quá hạn đang xử lý (nhiều nhất)"
    assert (province.unit, province.text) == ("72", "1")
    assert (alerts.label, alerts.value) == ("Cảnh báo chưa xác nhận", 0)


def test_a_district_scene_shows_its_own_numbers(plan) -> None:
    scene = plan.scene("district:703")
    assert (scene.title, scene.focus, scene.zoom) == ("Thành phố Tây Ninh", "703", True)
    assert [(n.unit, n.kpi, n.text) for n in scene.numbers] == [
        ("703", "on_time_rate", "50,0%"),
        ("703", "overdue_open", "1"),
    ]  # only the feeds this wall shows
    assert len(plan.scene("feed:public_services").numbers) == 6


def test_in_2025_the_exceptions_name_the_worst_area_and_the_worst_commune(r, new, geodata) -> None:  # noqa: F811
    """The province of today (areas on their former districts' map): the area and the commune
    furthest below the target, each worked out here from the snapshot's values, the area with the
    most overdue dossiers, the province's, and the alerts; then a tour of the 24 areas."""
    goal = 0.95
    targets = {
        "dung_han": Target(
            metric="public_services.on_time_rate", goal=goal, deadline=date(2026, 12, 31), label="Đúng hạn"
        )
    }
    with counted_2025(r, new):
        layer = load_layer(geodata, "2025", "former_district", new)
        specs = {"public_services": FEED_SPECS["public_services"]}
        plan = WallPlan(SnapshotReader(r), new, layer, specs, Goals(targets, new))
        scene = plan.scene("exceptions")
        turn = plan.keys(["exceptions", "districts"])
        tour = plan.scene(f"area:{TAN_BIEN}")
        reader = SnapshotReader(r)

        def value(unit: str, kpi: str) -> float | None:
            kpis = reader.kpis("public_services", unit, "7d") or {}
            return (kpis.get(kpi) or {}).get("value")

        def worst(codes: list[str]) -> str:
            gaps = {c: (v - goal) / goal for c in codes if (v := value(c, "on_time_rate")) is not None}
            return min(gaps, key=lambda c: (gaps[c], c))

        area, commune = worst(new.level_codes("area")), worst(new.level_codes("commune"))
        overdue = {a: v for a in new.level_codes("area") if (v := value(a, "overdue_open"))}
        busiest = max(overdue, key=lambda a: (overdue[a], a))
    assert (area, commune, busiest) == (TAN_BIEN, "25516", DUC_HOA), "the hand count's worst and busiest"
    assert new.parent(commune) != area  # the worst commune is not in the worst area: both are named
    assert scene.title == "Cần chú ý"
    assert (scene.feed, scene.map_kpi, scene.focus) == ("public_services", "on_time_rate", area)
    worst_area, worst_commune, most, province, alerts = scene.numbers
    assert worst_area.label == f"{new.name(area)} · Giải quyết đúng hạn · 7 ngày"
    assert worst_area.label.startswith("Khu vực Tân Biên cũ · ")
    assert (worst_area.unit, worst_area.text, worst_area.state) == (area, "50,0%", "bad")
    assert worst_commune.label == f"{new.name(commune)} · Giải quyết đúng hạn · 7 ngày"
    assert (worst_commune.unit, worst_commune.text, worst_commune.state) == (commune, "0,0%", "bad")
    assert (most.unit, most.text) == (busiest, "2")
    assert most.label == f"{new.name(busiest)} · Quá hạn đang xử lý (nhiều nhất)"
    assert (province.unit, province.text) == ("80", "3")
    assert alerts.label == "Cảnh báo chưa xác nhận"
    assert turn == ["exceptions", *(f"area:{a}" for a in new.level_codes("area"))] and len(turn) == 25
    assert (tour.key, tour.title, tour.focus, tour.zoom) == (
        f"area:{TAN_BIEN}",
        "Khu vực Tân Biên cũ",
        TAN_BIEN,
        True,
    )
    assert [(n.unit, n.kpi, n.text) for n in tour.numbers] == [
        (TAN_BIEN, "on_time_rate", "50,0%"),
        (TAN_BIEN, "overdue_open", "1"),
    ]


def test_the_unacknowledged_alerts_stay_on_the_exception_scene(r, new, geodata) -> None:  # noqa: F811
    """Seven numbers to show in 2025 with overdue field reports too (the worst area and commune,
    each feed's busiest area and the province's count, the alerts): six at most, the alerts kept
    as the last, the province's overdue reports (its feed's own scene shows them) left out."""
    with counted_2025(r, new):
        for unit, overdue in (("80", 5), (DUC_HOA, 3)):
            doc = {"kpis": {"overdue": {"value": overdue}}}
            r.hset(keys.snapshot("citizen_feedback"), keys.snapshot_field(unit, "7d"), json.dumps(doc))
        layer = load_layer(geodata, "2025", "former_district", new)
        specs = {f: FEED_SPECS[f] for f in ("public_services", "citizen_feedback")}
        numbers = (
            WallPlan(SnapshotReader(r), new, layer, specs, Goals(default_targets(), new)).exceptions().numbers
        )
    assert len(numbers) == 6
    assert [(n.feed, n.unit, n.kpi) for n in numbers[2:]] == [
        ("public_services", DUC_HOA, "overdue_open"),
        ("public_services", "80", "overdue_open"),
        ("citizen_feedback", DUC_HOA, "overdue"),
        ("", "", "alerts"),
    ]


def test_a_screen_overrides_the_wall_settings_in_its_address() -> None:
    wall, offset = screen_options(
        WallSettings(),  # type: ignore[call-arg]
        {
            "interval": "30",
            "scenes": "districts,exceptions",
            "offset": "4",
            "dim": "21:30-05:00",
            "reload": "off",
        },
    )
    assert (wall.interval_s, wall.scenes, offset) == (30.0, ["districts", "exceptions"], 4)
    assert (wall.dim_from, wall.dim_to, wall.reload_at) == (time(21, 30), time(5, 0), None)
    assert screen_options(Settings().wall, {"dim": "off"})[0].dim_brightness == 1.0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"interval": "abc"}, "interval='abc': Input should be a valid number"),
        ({"interval": "0.1"}, "interval='0.1': Input should be greater than or equal to 0.5"),
        (
            {"scenes": "feeds,weather"},
            "scenes='feeds,weather': Input should be 'exceptions', 'feeds', 'districts' or 'scorecard'",
        ),
        ({"dim": "late"}, "dim='late'"),
        ({"offset": "-1"}, "offset='-1': cần một số nguyên ≥ 0"),
        ({"zoom": "2"}, "không có tham số “zoom”"),
    ],
)
def test_a_bad_address_says_what_is_wrong(query, message) -> None:
    with pytest.raises(BadWallAddress) as caught:
        screen_options(WallSettings(), query)  # type: ignore[call-arg]
    assert message in str(caught.value)


# ---- in the browser ---------------------------------------------------------------------


def open_wall(browser, port: int, query: str, width: int = 1920, height: int = 1080):  # noqa: F811
    page = new_page(browser, port, viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{port}/wall?{query}")
    page.wait_for_selector(".wall-number-value", timeout=30_000)
    page.wait_for_selector("path.choroplethlocation[d]", timeout=30_000)
    return page, errors


def local_clock(delta: timedelta) -> str:
    return (datetime.now(TZ) + delta).strftime("%H:%M:%S")


# In the page, every 50 ms: each (title, progress) the wall shows, in order, and the most
# numbers a scene had. Sampling from the test over the browser's protocol took ~0.7 s a sample
# on two loaded cores, and missed scenes.
RECORD_SCENES = """() => {
    window.__scenes = [];
    window.__most_numbers = 0;
    window.__recording = setInterval(() => {
        const shown = [document.getElementById('wall-title').textContent,
                       document.getElementById('wall-progress').textContent];
        const last = window.__scenes.at(-1);
        if (!last || last[0] !== shown[0] || last[1] !== shown[1]) window.__scenes.push(shown);
        window.__most_numbers = Math.max(window.__most_numbers, document.querySelectorAll('.wall-number').length);
    }, 50);
}"""


def scenes_shown(page, distinct: int, timeout_ms: float) -> tuple[list[tuple[str, str]], int]:
    """The scenes the wall turned through until ``distinct`` places of its turn were shown, and
    the most numbers one had; fails after ``timeout_ms`` saying what was seen."""
    page.evaluate(RECORD_SCENES)
    stop = "() => { clearInterval(window.__recording); return [window.__scenes, window.__most_numbers]; }"
    try:
        page.wait_for_function(
            "(n) => new Set(window.__scenes.map((s) => s[1])).size >= n", arg=distinct, timeout=timeout_ms
        )
    except PlaywrightTimeout:
        raise AssertionError(
            f"fewer than {distinct} scenes in {timeout_ms} ms: {page.evaluate(stop)[0]}"
        ) from None
    seen, most = page.evaluate(stop)
    return [(title, progress) for title, progress in seen], most


@pytest.mark.browser
def test_scenes_rotate_exceptions_first_then_feeds_then_districts(browser, demo, units, geodata) -> None:  # noqa: F811
    """At one scene a second: the exception scene, the four feeds, the nine districts in order,
    then the 766 scorecard, each scene at most six numbers; a number changed by hand is put right
    by the next push."""
    port = demo[0]
    page, errors = open_wall(browser, port, "interval=1")
    # Round, not stuck: 13 of the 15 places of the turn (the turn follows the clock, so a page
    # slowed down by a loaded machine skips a scene now and then).
    seen, most = scenes_shown(page, distinct=13, timeout_ms=120_000)
    assert most <= 6
    layer = load_layer(geodata, "pre2025", "district", units)
    feeds = ["Dịch vụ công", "Phản ánh hiện trường", "Dữ liệu di động", "Tiêm chủng"]
    districts = [units.name(code) for code in layer.codes]
    expected = [
        "Cần chú ý",
        *feeds,
        *districts,
        "Chỉ số 766",
    ]  # the scorecard's: "Chỉ số 766 · Tháng 12/2026"
    # Every scene shown is the one its place in the turn says (exceptions first: "1 / 15").
    assert all(
        title.split(" · ")[0] == expected[int(progress.split(" / ")[0]) - 1] for title, progress in seen
    ), seen
    assert all(progress.endswith(f" / {len(expected)}") for _, progress in seen)
    page.evaluate("document.querySelectorAll('.live-value').forEach((el) => { el.textContent = 'x'; })")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.live-value')).every((el) => el.textContent !== 'x')",
        timeout=15_000,
    )
    assert errors == []
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_the_wall_is_readable_from_five_metres(browser, demo, width, height) -> None:  # noqa: F811
    """At both sizes: digits at least 6% of the screen high, nothing scrolls or is cut off, no
    cursor, at most six numbers, the map large, the ticker and the attribution at the bottom."""
    page, errors = open_wall(browser, demo[0], "", width, height)
    page.wait_for_timeout(1500)
    check = page.evaluate(
        """() => {
            const h = window.innerHeight;
            const values = Array.from(document.querySelectorAll('.wall-number-value'));
            const boxes = Array.from(document.querySelectorAll('.wall-number'));
            const map = document.getElementById('wall-map').getBoundingClientRect();
            const ticker = document.querySelector('.wall-ticker-frame').getBoundingClientRect();
            return {
                digits: Math.min(...values.map((v) => parseFloat(getComputedStyle(v).fontSize) * 0.7 / h)),
                count: values.length,
                scrolls: document.documentElement.scrollHeight > h || document.documentElement.scrollWidth > window.innerWidth,
                cut: boxes.filter((b) => b.scrollHeight > b.clientHeight + 1 || b.scrollWidth > b.clientWidth + 1).length,
                cursor: getComputedStyle(document.querySelector('.wall-number')).cursor,
                mapShare: map.width * map.height / (window.innerWidth * h),
                tickerBottom: ticker.bottom / h,
                attribution: document.querySelector('.wall-attribution').textContent,
            };
        }"""
    )
    assert check["digits"] >= 0.06, check  # cap height of Be Vietnam Pro is 0.7 of its size
    assert 1 <= check["count"] <= 6
    assert not check["scrolls"] and check["cut"] == 0, check
    assert check["cursor"] == "none"
    assert check["mapShare"] > 0.3
    assert check["tickerBottom"] > 0.85
    assert "geoBoundaries" in check["attribution"]
    assert errors == []
    page.close()


@pytest.mark.browser
def test_a_bad_address_is_shown_on_the_screen(browser, demo) -> None:  # noqa: F811
    page = new_page(browser, demo[0], viewport={"width": 1920, "height": 1080})
    page.goto(f"http://127.0.0.1:{demo[0]}/wall?interval=abc")
    page.wait_for_selector(".wall-error", timeout=30_000)
    assert "interval='abc': Input should be a valid number" in page.inner_text(".wall-error")
    page.close()


@pytest.mark.browser
def test_night_dimming_pixel_shift_and_soft_reload(browser, demo) -> None:  # noqa: F811
    """Dimmed inside the night hours only; the layout moves every shift; at the reload time the
    page reloads once, because the server answers, and not again."""
    night = f"{local_clock(timedelta(hours=-1))[:5]}-{local_clock(timedelta(hours=1))[:5]}"
    day = f"{local_clock(timedelta(hours=2))[:5]}-{local_clock(timedelta(hours=3))[:5]}"
    reload_at = local_clock(timedelta(seconds=25))
    page, errors = open_wall(browser, demo[0], f"dim={night}&shift=1&reload={reload_at}")
    page.evaluate("window.__before_reload = true")
    # Predicates as functions: a string expression is eval'd, which the pages' CSP forbids.
    page.wait_for_function("() => document.body.classList.contains('wall-night')", timeout=5_000)
    # It fades in over a few seconds, to the configured brightness.
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.wall')).filter === 'brightness(0.55)'",
        timeout=10_000,
    )
    shifts = set()
    for _ in range(8):
        shifts.add(
            page.evaluate(
                "getComputedStyle(document.querySelector('.wall')).getPropertyValue('--shift-x')"
                " + ',' + getComputedStyle(document.querySelector('.wall')).getPropertyValue('--shift-y')"
            )
        )
        page.wait_for_timeout(600)
    assert len(shifts) >= 3, shifts  # it moved, by a few pixels: ±4 px
    assert all(abs(int(v.strip().removesuffix("px") or 0)) <= 4 for s in shifts for v in s.split(","))
    page.wait_for_function("() => window.__before_reload === undefined", timeout=60_000)  # reloaded
    page.wait_for_selector(".wall-number-value", timeout=30_000)
    page.evaluate("window.__after_reload = true")
    page.wait_for_timeout(4_000)
    assert page.evaluate("window.__after_reload === true")  # once, not in a loop
    assert errors == []
    page.close()
    page, errors = open_wall(browser, demo[0], f"dim={day}")
    page.wait_for_timeout(2_000)
    assert not page.evaluate("document.body.classList.contains('wall-night')")
    page.close()


# What a leak of the page's own objects grows; compiled code and the browser's bounded buffers
# (resource timings, layout shifts) also grow for a while and then stop, and are not counted.
JS_HEAP_TYPES = {"object", "closure", "array", "string", "concatenated string", "sliced string", "number"}


# Counts of what a page that leaks piles up: Plotly's events on the wall map's graph, the plots,
# the map's drawn shapes and its layers of traces.
PAGE_STRUCTURE = """() => {
  const gd = document.querySelector('#wall-map .js-plotly-plot');
  const count = (registry) => Object.values(registry || {}).reduce(
    (n, v) => n + (Array.isArray(v) ? v.length : 1), 0);
  return {
    plotly_events: count(gd._ev && gd._ev._events),
    plots: document.querySelectorAll('.js-plotly-plot').length,
    map_paths: gd.querySelectorAll('path').length,
    map_traces: gd.querySelectorAll('g.trace').length,
  };
}"""


def js_object_bytes(cdp) -> int:
    """Self size of the page's JavaScript objects in a heap snapshot, after garbage collection,
    less Plotly's text-measurement cache (``savedBBoxes``: one entry per distinct label and style,
    emptied by Plotly itself at 10,000 entries, so bounded; it fills slowly as ticks vary)."""
    chunks: list[str] = []

    def collect(event: dict) -> None:
        chunks.append(event["chunk"])

    cdp.on("HeapProfiler.addHeapSnapshotChunk", collect)
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
    cdp.remove_listener("HeapProfiler.addHeapSnapshotChunk", collect)
    snapshot = json.loads("".join(chunks))
    meta = snapshot["snapshot"]["meta"]
    width, types, nodes = len(meta["node_fields"]), meta["node_types"][0], snapshot["nodes"]
    kind, size = meta["node_fields"].index("type"), meta["node_fields"].index("self_size")
    counted = {i for i in range(0, len(nodes), width) if types[nodes[i + kind]] in JS_HEAP_TYPES}
    cache = _reachable(snapshot, "savedBBoxes", counted, depth=3)
    return sum(nodes[i + size] for i in counted - cache)


def _reachable(snapshot: dict, property_name: str, among: set[int], depth: int) -> set[int]:
    """Nodes (of ``among``) within ``depth`` strong edges of what a property of that name holds."""
    meta = snapshot["snapshot"]["meta"]
    width, count = len(meta["node_fields"]), meta["node_fields"].index("edge_count")
    edge_width, edge_types = len(meta["edge_fields"]), meta["edge_types"][0]
    nodes, edges, strings = snapshot["nodes"], snapshot["edges"], snapshot["strings"]
    first, position = {}, 0
    for i in range(0, len(nodes), width):
        first[i] = position
        position += nodes[i + count] * edge_width
    out_edges = lambda i: (  # noqa: E731
        (edge_types[edges[e]], edges[e + 1], edges[e + 2])
        for e in range(first[i], first[i] + nodes[i + count] * edge_width, edge_width)
    )
    frontier = {
        to
        for i in among
        for kind, name, to in out_edges(i)
        if kind == "property" and strings[name] == property_name
    }
    found = set(frontier)
    for _level in range(depth):
        frontier = {
            to for i in frontier for kind, _n, to in out_edges(i) if kind != "weak" and to in among
        } - found
        found |= frontier
    return found


@pytest.mark.browser
@pytest.mark.soak  # `uv run pytest -m soak`, a step of its own in CI
@pytest.mark.timeout(600)  # two and a half minutes of wall, plus the demo's start when it runs first
def test_a_compressed_long_run_keeps_the_js_heap_flat(browser, demo) -> None:  # noqa: F811
    """Two scenes a second for 80 s (some 160 scenes: most of an hour of a wall at 20 s), the
    relay pushing all along, the layout shifting every second. The page's JavaScript objects, in
    heap snapshots taken after garbage collection with the rotation paused for a moment, are no
    larger at the end than after the warm-up, and the DOM keeps its size."""
    page, errors = open_wall(browser, demo[0], "interval=0.5&shift=1")
    cdp = page.context.new_cdp_session(page)

    def measure() -> tuple[int, int, int, dict[str, int]]:
        # Always on the same scene: scenes draw different maps (a district's zoomed, the
        # province's), so snapshots of different scenes differ.
        page.wait_for_function("() => document.getElementById('wall-progress').textContent === '1 / 15'")
        page.evaluate("window.dash_clientside.set_props('wall-tick', {disabled: true})")
        # The scene in flight lands and is drawn; three snapshots, the smallest one counted.
        page.wait_for_timeout(3_000)
        objects = min(js_object_bytes(cdp) for _ in range(3))
        used = cdp.send("Runtime.getHeapUsage")["usedSize"]
        nodes = page.evaluate("document.getElementsByTagName('*').length")
        counts = page.evaluate(PAGE_STRUCTURE)
        page.evaluate("window.dash_clientside.set_props('wall-tick', {disabled: false})")
        return objects, used, nodes, counts

    page.wait_for_timeout(20_000)  # warm up: every scene drawn at least twice, caches filled
    start = measure()
    page.wait_for_timeout(80_000)
    end = measure()
    deltas = page.evaluate("window.ioc_rt.state.deltas")
    report = (
        f"JS objects {start[0] / 1e6:.3f} -> {end[0] / 1e6:.3f} MB, "
        f"V8 heap {start[1] / 1e6:.1f} -> {end[1] / 1e6:.1f} MB, DOM {start[2]} -> {end[2]} nodes, "
        f"{start[3]} -> {end[3]}, {deltas} pushed deltas"
    )
    print(f"wall long run: {report}")
    assert deltas > 10
    # What the page holds, counted: Plotly's listeners, the plots and what the map draws are as
    # many after some 160 scenes as before (with MapLibre, until December 2026, its one-time
    # listeners grew by five a scene until wall.js trimmed them).
    grown = {name: (start[3][name], end[3][name]) for name in start[3] if end[3][name] > start[3][name] + 2}
    assert grown == {}, report
    assert end[2] <= start[2] * 1.1 + 50, report
    # The bytes, a coarser guard against a leak the counts above do not name: before the trim
    # they grew by up to ~0.8 kB a scene (+142 kB in 90 s once; +28 kB in another run, which is
    # why the counts are the check that names it); with it +20 to +85 kB, what MapLibre (until
    # December 2026) and Plotly happened to hold at that moment. On two shared CI cores one snapshot in many reads
    # +158 kB: over the bound,
    # the wall runs 30 s more and is measured again. A leak only grows in that time, so the
    # smaller of the two is what counts.
    if end[0] - start[0] >= 110_000:
        page.wait_for_timeout(30_000)
        again = measure()
        print(f"wall long run, measured again: JS objects {again[0] / 1e6:.3f} MB")
        end = again if again[0] < end[0] else end
    assert end[0] - start[0] < 110_000, report
    assert errors == []
    page.close()
