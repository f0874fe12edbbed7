"""The provincial page in Debian's headless Chromium, against the running demo."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from plotly.offline import get_plotlyjs_version

from tests.conftest import EMBED_CLIENT_SECRET
from tests.processes import API, get, login_form

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def test_provincial_page_shows_live_map_and_tiles(browser, demo, tmp_path) -> None:
    """Map and tiles show the API's numbers; no console error; no request leaves 127.0.0.1."""
    port = demo[0]
    base = f"http://127.0.0.1:{port}"
    page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
    requests, errors, failed = [], [], []
    page.on("request", lambda req: requests.append(req.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda res: failed.append(res.url) if res.status >= 400 else None)
    page.goto(base + "/")
    page.wait_for_selector("path.choroplethlocation[d]", timeout=20_000)
    page.wait_for_function(
        "() => { const gd = document.querySelector('#province-map .js-plotly-plot');"
        " return gd && gd.data && gd.data[0].z.length === 9 }",
        timeout=20_000,
    )
    # At least one refresh: a delta from the relay applied to the page.
    page.wait_for_function("() => window.ioc_rt && window.ioc_rt.state.deltas > 0", timeout=30_000)
    page.screenshot(path=str(tmp_path / "province.png"))

    district_z = page.evaluate("() => document.querySelector('#province-map .js-plotly-plot').data[0].z")
    assert all(isinstance(v, int | float) for v in district_z), district_z
    api_705 = get(API.format(port=port, unit="705", window="7d")).json()["kpis"]["on_time_rate"]["value"]
    codes = page.evaluate("() => document.querySelector('#province-map .js-plotly-plot').data[0].locations")
    assert district_z[codes.index("705")] == pytest.approx(api_705 * 100, abs=2)  # live: may move a little

    page.wait_for_function("() => window.ioc_rt && window.ioc_rt.state.snapshots > 0", timeout=20_000)
    last_x = page.evaluate("() => document.querySelector('#series .js-plotly-plot').data[0].x.at(-1)")
    as_of = get(API.format(port=port, unit="72", window="today")).json()["as_of"]
    assert last_x[:13] == as_of[:13] and last_x.endswith("+07:00")  # the current hour, local time

    tile = page.locator(".tile[data-kpi='received'] .tile-value").inner_text()
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*", tile), tile
    api_received = get(API.format(port=port, unit="72", window="7d")).json()["kpis"]["received"]["value"]
    assert abs(int(tile.replace(".", "")) - api_received) <= 50
    badges = page.locator(".fresh-badge")
    assert badges.count() == 5  # tiles, map, ranking, series, footer
    assert all(text.startswith("Số liệu lúc ") for text in badges.all_inner_texts())

    assert errors == []
    assert failed == []
    outside = [u for u in requests if not re.match(rf"^http://127\.0\.0\.1:{port}/|^data:", u)]
    assert outside == []


def test_kpi_selector_recolours_the_map(browser, demo) -> None:
    """Choosing 'Nộp trực tuyến' puts each district's online rate on the map, legend with its target."""
    port = demo[0]
    page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}/")
    page.wait_for_selector("path.choroplethlocation[d]", timeout=20_000)
    page.locator(".kpi-pick").click()
    page.get_by_text("Nộp trực tuyến", exact=True).last.click()
    page.wait_for_function(
        "() => document.querySelector('#province-map .js-plotly-plot').data[0]"
        ".colorbar.title.text.includes('50%')",
        timeout=10_000,
    )
    trace = page.evaluate(
        "() => { const t = document.querySelector('#province-map .js-plotly-plot').data[0];"
        " return {z: t.z, codes: t.locations} }"
    )
    for code, shown in zip(trace["codes"], trace["z"], strict=True):
        api = get(API.format(port=port, unit=code, window="7d")).json()["kpis"]["online_rate"]["value"]
        assert shown == pytest.approx(api * 100, abs=2), code
    ranking = page.locator("#ranking").inner_text()
    assert "%" in ranking and "Huyện Tân Châu" in ranking


PAGES = [
    "/",
    "/?feed=citizen_feedback",
    "/?feed=mobile_data",
    "/?feed=vaccination",
    "/district/706",
    "/district/703?feed=citizen_feedback",
    "/district/711?feed=vaccination",
    "/health-board",
    "/wall",
    "/wall?offset=6",
    "/scorecard",
    "/scorecard/2.1",
]


def test_every_page_fetches_only_from_this_host(browser, demo) -> None:
    """No CDN, no map tiles, no web fonts from the internet: every request of every page (fonts,
    scripts, GeoJSON, the relay) goes to this host and succeeds, and the Vietnamese text is drawn
    in the served Be Vietnam Pro, whose glyphs cover every diacritic on the page."""
    port = demo[0]
    for path in PAGES:
        page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
        requests, errors, failed = [], [], []
        page.on("request", lambda req, r=requests: r.append(req.url))
        page.on("websocket", lambda ws, r=requests: r.append(ws.url))
        page.on("console", lambda msg, e=errors: e.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
        page.on("response", lambda res, f=failed: f.append(res.url) if res.status >= 400 else None)
        page.goto(f"http://127.0.0.1:{port}{path}")
        page.wait_for_selector(".fresh-badge.fresh-ok", timeout=30_000)
        page.wait_for_load_state("networkidle")  # every request the page makes has been answered
        fonts = page.evaluate(
            """async () => {
                await document.fonts.ready;
                const text = document.body.innerText;
                const loaded = Array.from(document.fonts).filter((f) => f.status === 'loaded');
                return {
                    families: [...new Set(loaded.map((f) => f.family.replace(/"/g, '')))],
                    covers: document.fonts.check('700 20px "Be Vietnam Pro"', text),
                    body: getComputedStyle(document.body).fontFamily,
                    vietnamese: /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/i.test(text),
                };
            }"""
        )
        local = rf"^http://127\.0\.0\.1:{port}/|^data:|^ws://127\.0\.0\.1:\d+/"
        assert [u for u in requests if not re.match(local, u)] == [], path
        assert any(u.startswith("ws://") for u in requests), path  # live: the relay was reached
        assert failed == [] and errors == [], (path, failed, errors)
        assert fonts["families"] == ["Be Vietnam Pro"] and fonts["covers"] and fonts["vietnamese"], (
            path,
            fonts,
        )
        assert fonts["body"].startswith('"Be Vietnam Pro"'), (path, fonts)
        # The font's parts this Vietnamese text needs, and no other; Plotly's map bundle, not
        # the whole of Plotly (the page's weight, bench/page.py).
        parts = {m[1] for u in requests if (m := re.search(r"/fonts/[A-Za-z-]+\.([a-z-]+)\.woff2$", u))}
        assert parts == {"latin", "vietnamese"}, (path, parts)
        assert [u for u in requests if "package_data/plotly" in u] == [], path
        assert page.evaluate("() => window.Plotly.version") == get_plotlyjs_version(), path
        page.close()


# Every violation of the page's Content-Security-Policy, as the page itself sees them.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
    `${e.effectiveDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));
"""


def test_no_page_breaks_its_content_security_policy(browser, demo) -> None:
    """The provincial room (its map drawn in SVG, live over the relay), the wall and an embed
    run under the policies they are sent with no violation reported."""
    port = demo[0]
    base = f"http://127.0.0.1:{port}"
    minted = httpx.post(
        f"{base}/api/v1/embed-tokens",
        json={"panel": "public_services.on_time_rate.map", "unit": "72", "once": False},
        headers={"Authorization": f"Bearer {EMBED_CLIENT_SECRET}"},
    )
    drawn = (
        "() => { const gd = document.querySelector('#province-map .js-plotly-plot');"
        " return gd && gd.data && gd.data[0].z.length === 9 }"
    )
    for path, ready in (
        ("/", drawn),
        ("/wall", "() => document.querySelector('.fresh-badge.fresh-ok') !== null"),
        (minted.json()["url"], "() => document.querySelector('.embed .unit-shape') !== null"),
    ):
        page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
        page.add_init_script(WATCH_CSP)
        errors: list[str] = []
        page.on("console", lambda msg, e=errors: e.append(msg.text) if msg.type == "error" else None)
        policy = page.goto(base + path).headers["content-security-policy"]
        assert "default-src 'self'" in policy and "blob:" not in policy, path
        page.wait_for_function(ready, timeout=30_000)
        if path == "/":
            page.wait_for_selector("path.choroplethlocation[d]", timeout=20_000)
            page.wait_for_selector(".fresh-badge.fresh-ok", timeout=30_000)  # the relay's socket
        assert page.evaluate("() => window.__csp") == [], path
        assert [e for e in errors if "Content Security Policy" in e] == [], path
        page.context.close()


def follow(page, selector: str, url_glob: str, tries: int = 3) -> None:
    """Click the link ``selector`` and wait for its page. A room redraws its tables when figures
    are pushed: on a loaded machine a click can land while the link is being replaced and open
    nothing, as a person's would; like the person, click again (at most ``tries`` times)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        page.click(selector)
        try:
            page.wait_for_url(url_glob, timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def new_page(browser, port: int, user: str = "lanhdao", **context_args):
    """A page in its own browser context, logged in as one of the tests' accounts through the
    app's login form (its POST, as the browser sends it)."""
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base) as http:
        reply = http.post("/login", data=login_form(http.get("/login").text, user, next="/"))
    assert reply.status_code == 302, f"login as {user}: HTTP {reply.status_code}"
    context = browser.new_context(**context_args)
    context.add_cookies([{"name": "ioc_session", "value": reply.cookies["ioc_session"], "url": base}])
    return context.new_page()
