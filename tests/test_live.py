"""Live push in headless Chromium: deltas without HTTP callbacks, zoom kept, relay restarts, staleness."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import psutil
import pytest
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from ioc.redis_server import free_port
from ioc.simulators.http import RecordListing, SimulatorServer
from tests.processes import API, start_app, stop, wait_for
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)
from tests.test_kpis import A1, B, C, D

pytestmark = pytest.mark.browser
MAP = "document.querySelector('#province-map .js-plotly-plot')"


def open_page(browser, url: str, user: str = "lanhdao"):  # noqa: F811
    page = new_page(browser, urlsplit(url).port, user, viewport={"width": 1600, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(url)
    page.wait_for_selector(".maplibregl-canvas", timeout=20_000)
    page.wait_for_function("() => window.ioc_rt && window.ioc_rt.state.snapshots > 0", timeout=20_000)
    return page, requests


def test_pushed_deltas_change_values_without_http_and_keep_zoom(browser, demo) -> None:  # noqa: F811
    """Today's count rises by push alone (no callback request), and the user's map zoom stays."""
    page, requests = open_page(browser, f"http://127.0.0.1:{demo[0]}/")
    page.get_by_text("hôm nay", exact=True).click()  # a person's choice: one server callback
    page.wait_for_function(
        "() => document.querySelector(\".tile[data-kpi='received'] .tile-label\").innerText.includes('hôm nay')",
        timeout=20_000,
    )
    # The person zooms in. MapLibre may still be finishing the answer's redraw, which would put
    # the figure's 8.75 back: the zoom counts once it has held for a second.
    for _ in range(5):
        page.evaluate(
            f"() => Plotly.relayout({MAP}, {{'map.zoom': 10.3, 'map.center': {{lat: 11.3, lon: 106.1}}}})"
        )
        page.wait_for_timeout(1000)
        if page.evaluate(f"() => {MAP}._fullLayout.map._subplot.map.getZoom()") == pytest.approx(
            10.3, abs=0.01
        ):
            break
    mark = len(requests)
    before = page.locator(".tile[data-kpi='received'] .tile-value").inner_text()
    page.wait_for_function(
        "(b) => document.querySelector(\".tile[data-kpi='received'] .tile-value\").innerText !== b",
        arg=before,
        timeout=60_000,
    )
    assert [u for u in requests[mark:] if "_dash-update-component" in u] == []
    assert page.evaluate("() => window.ioc_rt.state.deltas") > 0
    zoom = page.evaluate(f"() => {MAP}._fullLayout.map._subplot.map.getZoom()")
    assert zoom == pytest.approx(10.3, abs=0.01)
    assert page.evaluate(f"() => {MAP}.layout.map.zoom") == pytest.approx(10.3, abs=0.01)


@pytest.mark.parametrize("path", ["/", "/wall?dim=off&interval=2"])
def test_page_heals_after_the_relay_is_killed(browser, demo, path) -> None:  # noqa: F811
    """SIGKILL the relay: the supervisor restarts it and the room (or the wall, which nobody
    will reload by hand) has a fresh snapshot within 5 s, then follows the pushes again."""
    port, process, _data = demo
    page, _requests = open_page(browser, f"http://127.0.0.1:{port}{path}")
    relay = next(p for p in psutil.Process(process.pid).children() if "relay" in " ".join(p.cmdline()))
    relay_port = int(page.evaluate("() => window.ioc_rt.state.config.port"))
    snapshots = page.evaluate("() => window.ioc_rt.state.snapshots")
    relay.kill()
    page.wait_for_function("() => !window.ioc_rt.state.connected", timeout=10_000)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connect(f"ws://127.0.0.1:{relay_port}/", open_timeout=1).close()
        except InvalidStatus:
            break  # back, and refusing us for want of a token
        except (OSError, WebSocketException):  # not listening yet, or starting up
            time.sleep(0.05)
    back = time.monotonic()
    page.wait_for_function(
        "(n) => window.ioc_rt.state.connected && window.ioc_rt.state.snapshots > n",
        arg=snapshots,
        timeout=15_000,
    )
    assert time.monotonic() - back <= 5.0
    if path == "/":
        assert page.locator(".tile[data-kpi='received'] .tile-value").inner_text() != "–"
        return
    # The wall: the new connection's deltas arrive, and the scenes still turn.
    deltas = page.evaluate("() => window.ioc_rt.state.deltas")
    progress = page.locator("#wall-progress").inner_text()
    page.wait_for_function("(n) => window.ioc_rt.state.deltas > n", arg=deltas, timeout=15_000)
    page.wait_for_function(
        "(p) => document.getElementById('wall-progress').textContent !== p", arg=progress, timeout=15_000
    )


def test_stopped_source_turns_badges_amber_then_red(browser, r, redis_server, tmp_path) -> None:  # noqa: F811
    """A source that stops: its badges go amber, then red, and the feed-health board says so."""
    listing = RecordListing("ma_ho_so", [A1, B, C, D])
    source = SimulatorServer({"/api/v1/hoso": listing}).start()
    port, relay_port = free_port(), free_port()
    config = tmp_path / "ioc.toml"
    config.write_text(
        f'[redis]\nurl = "{redis_server.url}"\n[web]\nport = {port}\n[realtime]\nport = {relay_port}\n'
        "health_interval_s = 0.5\n[freshness]\namber_s = 4\nred_s = 9\n"
        f'[connectors.public_services]\nurl = "{source.url}"\ninterval_s = 0.5\n',
        encoding="utf-8",
    )
    app = start_app(["--config", str(config)], {"IOC_SECRET_KEY": "stale-test"}, tmp_path / "app.log")
    try:
        wait_for(API.format(port=port, unit="72", window="ytd"), process=app)
        page, _requests = open_page(browser, f"http://127.0.0.1:{port}/")
        badge = page.locator(".fresh-badge").first
        page.wait_for_function("() => document.querySelector('.fresh-badge').classList.contains('fresh-ok')")
        source.close()
        stopped = time.monotonic()
        page.wait_for_function("() => document.querySelector('.fresh-badge.fresh-amber')", timeout=15_000)
        assert "trễ" in badge.inner_text()
        page.wait_for_function("() => document.querySelector('.fresh-badge.fresh-red')", timeout=20_000)
        assert time.monotonic() - stopped <= 9 + 5  # red within one threshold (plus a poll)
        assert all(
            "fresh-red" in c
            for c in page.locator(".fresh-badge").evaluate_all("e => e.map(x => x.className)")
        )
        board = new_page(browser, port)
        board.goto(f"http://127.0.0.1:{port}/health-board")
        # Red is also what a badge shows before the relay's first health arrives ("Chưa có số
        # liệu"): wait for the stopped one.
        board.wait_for_function(
            "() => [...document.querySelectorAll('.health-table .fresh-badge.fresh-red')]"
            ".some((b) => b.textContent.includes('ngừng'))",
            timeout=15_000,
        )
        row = board.locator(".health-table tbody tr").first.inner_text()
        assert "ngừng" in row and "ConnectError" in row
    finally:
        stop(app)
