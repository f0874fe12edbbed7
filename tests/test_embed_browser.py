"""In headless Chromium, on the demo: the login form, a duty officer kept to their district, and
the app's embeds: framed on an allowed origin only, live over the relay, polling without it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.conftest import EMBED_CLIENT_SECRET, FRAMING_PORT
from tests.processes import PASSWORD, get
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


def embed_url(port: int, panel: str, unit: str, once: bool = True) -> str:
    reply = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/embed-tokens",
        json={"panel": panel, "unit": unit, "once": once},
        headers={"Authorization": f"Bearer {EMBED_CLIENT_SECRET}"},
    )
    assert reply.status_code == 200, reply.text
    return f"http://127.0.0.1:{port}{reply.json()['url']}"


def test_the_login_form_brings_an_officer_back_to_their_page_and_only_their_district(browser, demo) -> None:  # noqa: F811
    base = f"http://127.0.0.1:{demo[0]}"
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.goto(f"{base}/district/705")
    assert page.url == f"{base}/login?next=/district/705"
    page.fill("input[name=login]", "truc-705")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Sai tên đăng nhập hoặc mật khẩu." in page.locator(".error").inner_text()
    page.fill("input[name=login]", "truc-705")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".case-table", timeout=30_000)  # their own district's work lists
    assert page.url == f"{base}/district/705"
    page.goto(f"{base}/district/706")
    page.wait_for_selector(".refused", timeout=30_000)
    assert "NGOÀI PHẠM VI ĐƯỢC GIAO" in page.inner_text("body")
    assert page.locator(".case-table").count() == 0
    reply = page.request.get(f"{base}/api/v1/cases?feed=public_services&unit=706")
    assert reply.status == 403 and "outside your scope" in reply.json()["error"]


class Framing(BaseHTTPRequestHandler):
    """A page of the app's web version that frames one embed."""

    src = ""

    def do_GET(self) -> None:
        body = (
            f'<!doctype html><iframe id="panel" src="{self.src}" width="360" height="640"></iframe>'.encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_an_embed_is_framed_on_an_allowed_origin_and_refused_on_another(browser, demo) -> None:  # noqa: F811
    port = demo[0]
    Framing.src = embed_url(port, "public_services.on_time_rate", "706", once=False)
    server = ThreadingHTTPServer(("127.0.0.1", FRAMING_PORT), Framing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page(viewport={"width": 400, "height": 700})
        page.goto(f"http://localhost:{FRAMING_PORT}/")  # the allowed origin
        frame = page.frame_locator("#panel")
        value = frame.locator(".value")
        value.wait_for(timeout=20_000)
        card = get(f"http://127.0.0.1:{port}/api/v1/cards/public_services.on_time_rate?unit=706").json()
        assert value.inner_text().endswith("%") and frame.locator(".unit").inner_text() == "Huyện Tân Châu"
        assert card["unit_name"] == "Huyện Tân Châu"
        refused: list[str] = []
        other = browser.new_page(viewport={"width": 400, "height": 700})
        other.on("console", lambda msg: refused.append(msg.text))
        other.goto(f"http://127.0.0.1:{FRAMING_PORT}/")  # same page, an origin not in the list
        other.wait_for_timeout(2000)
        blocked = next(f for f in other.frames if f != other.main_frame)
        assert blocked.evaluate("() => document.querySelector('.embed')") is None
        assert any("frame-ancestors" in text for text in refused), refused
    finally:
        server.shutdown()
        server.server_close()


def test_an_embed_stays_live_over_the_relay_and_polls_when_it_cannot_open(browser, demo) -> None:  # noqa: F811
    port = demo[0]
    page = browser.new_page(viewport={"width": 360, "height": 640})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(embed_url(port, "public_services.received", "72"))
    page.wait_for_function(
        "() => window.ioc_embed.mode === 'live' && window.ioc_embed.notices > 0", timeout=20_000
    )
    first = page.evaluate("() => window.ioc_embed.asOf")
    # the demo's figures move every few seconds: the panel follows without a reload
    page.wait_for_function("(a) => window.ioc_embed.asOf !== a", arg=first, timeout=60_000)
    card = get(f"http://127.0.0.1:{port}/api/v1/cards/public_services.received?unit=72").json()
    assert page.locator(".as-of").inner_text().startswith("Số liệu lúc") and "trực tiếp" in page.inner_text(
        "body"
    )
    assert page.locator(".value").inner_text().endswith("hồ sơ") and card["text"].endswith("hồ sơ")
    assert page.evaluate("() => window.ioc_embed.polls") == 0 and errors == []
    loaded = page.evaluate(
        "() => [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]"
        ".map(e => [e.name, e.transferSize])"
    )
    assert sum(size for _name, size in loaded) < 30_000, loaded  # a phone on a slow line: a few kB
    assert not [name for name, _size in loaded if "/fonts/" in name]  # the phone's own font
    page.reload()  # the same address again: a one-time token is spent
    assert "token already used" in page.inner_text("body")

    # An Android WebView behind a proxy that never lets the socket open: the card is polled.
    blocked = browser.new_page(viewport={"width": 360, "height": 640})
    blocked.add_init_script("window.WebSocket = function () { throw new Error('blocked'); };")
    blocked.clock.install()
    blocked.goto(embed_url(port, "public_services.received", "72"))
    blocked.wait_for_function("() => window.ioc_embed.mode === 'polling'", timeout=10_000)
    asked: list[str] = []
    blocked.on("request", lambda req: asked.append(req.url))
    blocked.clock.run_for(31_000)
    blocked.wait_for_function("() => window.ioc_embed.polls > 0", timeout=10_000)
    blocked.wait_for_timeout(500)
    assert any("/api/v1/cards/public_services.received?unit=72" in url for url in asked)
