"""Live push in headless Chromium: deltas without HTTP callbacks, zoom kept, relay restarts, staleness."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psutil
import pytest
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.web import create_app
from tests.pipeline import Pipeline
from tests.processes import app_settings
from tests.relays import relay_in_process, relay_port, web_in_process
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)
from tests.test_kpis import A1, B, C, D
from tests.wait import wait_until

pytestmark = pytest.mark.browser
MAP = "document.querySelector('#province-map .js-plotly-plot')"


def relay_refuses_us(port: int) -> bool:
    """The relay on ``port`` is back: it answers, and refuses a socket without a token."""
    try:
        connect(f"ws://127.0.0.1:{port}/", open_timeout=1).close()
    except InvalidStatus:
        return True
    except (OSError, WebSocketException):  # not listening yet, or starting up
        return False
    return True


def open_page(browser, url: str, user: str = "lanhdao"):  # noqa: F811
    page = new_page(browser, urlsplit(url).port, user, viewport={"width": 1600, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(url)
    # the map is set up (its units are drawn once they have a value: a new source may have none)
    page.wait_for_selector("g.trace.choropleth", state="attached", timeout=20_000)
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
    # The person zooms in. The answer to the choice may still be on its way, which would put the
    # figure's scale back: the zoom counts once it has held for a second.
    for _ in range(5):
        page.evaluate(
            f"() => Plotly.relayout({MAP}, {{'geo.projection.scale': 2.5, 'geo.center': {{lat: 11.3, lon: 106.1}}}})"
        )
        page.wait_for_timeout(1000)
        if page.evaluate(f"() => {MAP}._fullLayout.geo.projection.scale") == pytest.approx(2.5, abs=0.01):
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
    zoom = page.evaluate(f"() => {MAP}._fullLayout.geo.projection.scale")
    assert zoom == pytest.approx(2.5, abs=0.01)
    assert page.evaluate(f"() => {MAP}.layout.geo.projection.scale") == pytest.approx(2.5, abs=0.01)


@pytest.mark.parametrize("path", ["/", "/wall?dim=off&interval=2"])
def test_page_heals_after_the_relay_is_killed(browser, demo, path) -> None:  # noqa: F811
    """SIGKILL the relay: the supervisor restarts it and the room (or the wall, which nobody
    will reload by hand) has a fresh snapshot within 5 s, then follows the pushes again."""
    port, process, _data = demo
    page, _requests = open_page(browser, f"http://127.0.0.1:{port}{path}")
    relay = next(p for p in psutil.Process(process.pid).children() if "relay" in " ".join(p.cmdline()))
    relay_at = int(page.evaluate("() => window.ioc_rt.state.config.port"))
    snapshots = page.evaluate("() => window.ioc_rt.state.snapshots")
    relay.kill()
    page.wait_for_function("() => !window.ioc_rt.state.connected", timeout=10_000)
    wait_until(lambda: relay_refuses_us(relay_at), 60, "the supervisor did not restart the relay")
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


def test_stopped_source_turns_badges_amber_then_red(browser, r, redis_server, units) -> None:  # noqa: F811
    """A source that stops: its badges go amber, then red, and the feed-health board says so."""
    listing = RecordListing("ma_ho_so", [A1, B, C, D])
    source = SimulatorServer({"/api/v1/hoso": listing}).start()
    # Production's parts, in this process: the connector polling the source every 0.5 s, its
    # feed counted once, the relay pushing health every 0.5 s, the web app.
    pipeline = Pipeline(r, units, source.url, lambda: datetime.now(UTC))
    pipeline.sync()
    pipeline.runner.interval_s = 0.5
    poller = threading.Thread(target=pipeline.runner.run, daemon=True)
    poller.start()
    feeds = {"public_services": ["public_services"]}
    with ExitStack() as stack:
        stack.callback(pipeline.close)
        stack.callback(poller.join, 30)
        stack.callback(pipeline.runner.close)
        stack.callback(source.close)
        relay = stack.enter_context(
            relay_in_process(
                redis_server.url, "test-secret", set(units.codes), feeds=feeds, health_interval_s=0.5
            )
        )
        settings = app_settings(
            redis_server,
            connectors={"public_services": {"url": source.url, "interval_s": 0.5}},
            realtime={"port": relay_port(relay)},
            freshness={"amber_s": 4, "red_s": 9},
        )
        port = stack.enter_context(web_in_process(create_app(settings, r).server))
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
