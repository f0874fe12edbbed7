"""The page a browser asked for arrives with the app's layout, not one round trip later, and the
layout is asked for by the page's head, not once every script has run."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import dash
import pytest

from tests.test_api import api  # noqa: F401  (the fixture: a logged-in leader, built once)
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)


def ids(layout: dict) -> list[str]:
    """The ids of the page container's parts."""
    return [part["props"].get("id") for part in layout["props"]["children"]]


def test_the_layout_holds_the_page_of_the_browsers_address(api) -> None:  # noqa: F811
    """Dash's own page container, its parts in their places, the room in it; the address
    (path and query) given to its Location, which then reports nothing new."""
    answer = api.get(
        "/_dash-layout", headers={"Referer": "http://localhost/district/709?feed=citizen_feedback"}
    )
    layout = answer.get_json()
    expected = [part.id for part in dash.page_container.children]  # type: ignore[union-attr]
    assert ids(layout) == expected
    location, content, store, _dummy = layout["props"]["children"]
    assert (
        location["props"]["pathname"] == "/district/709"
        and location["props"]["search"] == "?feed=citizen_feedback"
    )
    assert location["props"]["refresh"] == "callback-nav"
    text = json.dumps(content, ensure_ascii=False)
    assert "district-map" in text and "citizen_feedback" in text, "the room of that address, that feed"
    assert store["props"]["data"]["title"].startswith("Phòng")


@pytest.mark.parametrize(
    "referer",
    [
        "",  # a browser that sends none
        "http://localhost/no-such-page",  # the routing callback says so, as always
        "http://elsewhere.example/",  # not this host
    ],
)
def test_without_a_usable_address_the_container_is_dashs_own_and_empty(api, referer) -> None:  # noqa: F811
    answer = api.get("/_dash-layout", headers={"Referer": referer} if referer else {})
    layout = answer.get_json()
    assert ids(layout) == [part.id for part in dash.page_container.children]  # type: ignore[union-attr]
    location, content, _store, _dummy = layout["props"]["children"]
    assert "pathname" not in location["props"] and not content["props"].get("children")


def test_the_rooms_ask_early_for_the_parts_they_draw_with(api) -> None:  # noqa: F811
    room = api.get("/").get_data(as_text=True)
    assert room.count('<link rel="preload" as="script"') == 2 and "dcc/async-graph.js" in room
    assert '<link rel="preload" as="script"' not in api.get("/wall").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/district/709", "/wall", "/scorecard"])
def test_every_page_asks_for_its_layout_and_callbacks_first_thing(api, path) -> None:  # noqa: F811
    """A script first in the head asks as the renderer will (Dash's fetch settings); the CSP lets
    that script, and no other new one, run."""
    answer = api.get(path)
    page = answer.get_data(as_text=True)
    head = page.split("<head>", 1)[1].split("</head>", 1)[0]
    assert head.startswith("<script>(function () {"), head[:200]
    script = head.split("<script>", 1)[1].split("</script>", 1)[0]
    assert '["/_dash-layout", "/_dash-dependencies"]' in script
    assert '{Accept: "application/json", "Content-Type": "application/json"}' in script
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in answer.headers["Content-Security-Policy"]


def test_the_renderer_asks_with_the_settings_the_early_script_copies() -> None:
    """Dash's renderer's fetch settings, which the early script's requests must equal to be the
    same requests (an upgrade of Dash that changes them fails here)."""
    renderer = (Path(dash.__file__).parent / "dash-renderer" / "build" / "dash_renderer.min.js").read_text()
    settings = 'fetch:{credentials:"same-origin",headers:{Accept:"application/json","Content-Type":"application/json"}'
    assert settings in renderer


# Plotly's drawings as they start and end, by graph (the inner wrapper: it is put on first, at the
# same DOMContentLoaded as layouts/assets/first_draw.js's).
DRAWINGS = """document.addEventListener('DOMContentLoaded', () => {
  window.__drawings = [];
  const react = window.Plotly.react;
  window.Plotly.react = function (gd, ...rest) {
    const graph = gd.closest('[id]').id;
    window.__drawings.push([graph, 'started']);
    return react.call(this, gd, ...rest).then((done) => { window.__drawings.push([graph, 'ended']); return done; });
  };
});"""


@pytest.mark.browser
def test_a_room_opens_without_the_routing_round_trip_and_moves_as_before(browser, demo) -> None:  # noqa: F811
    """Opening the province room asks the server for its layout once and no callback before the
    map is drawn; the series below the fold is drawn once the map is; the page has its title and
    its tiles."""
    port = demo[0]
    page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
    callbacks: list[str] = []
    layouts: list[str] = []
    page.on("request", lambda req: callbacks.append(req.url) if "_dash-update-component" in req.url else None)
    page.on("request", lambda req: layouts.append(req.url) if "_dash-layout" in req.url else None)
    page.add_init_script(DRAWINGS)
    page.goto(f"http://127.0.0.1:{port}/")
    page.wait_for_selector("path.choroplethlocation[d]", timeout=20_000)
    assert callbacks == [], "the page came by the routing callback"
    assert len(layouts) == 1, f"the layout asked for {len(layouts)} times"
    asked, renderer_arrived = page.evaluate(
        """() => [performance.getEntriesByName(location.origin + '/_dash-layout')[0].startTime,
                  performance.getEntriesByType('resource').find(e => e.name.includes('dash_renderer')).responseEnd]"""
    )
    assert asked < renderer_arrived, "the layout was asked for by the renderer, not by the page's head"
    page.wait_for_function("() => window.__drawings.some(d => d[0] === 'series' && d[1] === 'ended')")
    drawings = page.evaluate("() => window.__drawings")
    map_ended = drawings.index(["province-map", "ended"])
    assert drawings.index(["series", "started"]) > map_ended, (
        f"the series was drawn before the map: {drawings}"
    )
    assert page.title() == "IOC Tây Ninh"
    assert page.locator(".tile-value").count() > 0


@pytest.mark.browser
def test_a_waiting_series_draws_every_figure_asked_for_in_order(browser, demo) -> None:  # noqa: F811
    """While a map's first drawing is under way, two figures asked for a series panel's graph are
    drawn after it, in the order asked: the last one is what the graph shows."""
    port = demo[0]
    page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}/")
    page.wait_for_selector("path.choroplethlocation[d]", timeout=20_000)
    shown = page.evaluate(
        """async () => {
          const room = document.querySelector('#province-map .js-plotly-plot');
          const add = (cls) => { const box = document.createElement('div'); box.className = cls;
            const gd = document.createElement('div'); box.appendChild(gd); document.body.appendChild(box); return gd; };
          const map = add('map'), series = add('series-panel');
          const drawing = Plotly.react(map, JSON.parse(JSON.stringify(room.data)), JSON.parse(JSON.stringify(room.layout)));
          const first = Plotly.react(series, [{y: [1, 2, 3]}], {});
          const second = Plotly.react(series, [{y: [4, 5, 6]}], {});
          const drawnBefore = !!series._fullLayout;
          await Promise.all([drawing, first, second]);
          return {drawnBefore, y: Array.from(series.data[0].y), map: !!map.querySelector('path.choroplethlocation')};
        }"""
    )
    assert shown == {"drawnBefore": False, "y": [4, 5, 6], "map": True}, shown
