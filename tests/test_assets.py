"""What a page downloads: Plotly's geo bundle in place of the whole of Plotly, the font cut into
WOFF2 parts by Unicode range, and unchanging files compressed once, then again more densely."""

from __future__ import annotations

import hashlib
import io
import re

import brotli
import pytest
from fontTools.ttLib import TTFont
from plotly.offline import get_plotlyjs_version

from ioc import compression
from ioc.config import PROJECT_ROOT
from ioc.fonts import FONT_DIR, SUBSETS, WEIGHTS, Fonts, file_name, font_faces
from ioc.web import create_app
from tests.processes import app_settings, logged_in
from tests.test_kpis import counted_cases

BUNDLE = PROJECT_ROOT / "layouts" / "assets" / "vendor" / "plotly-geo.min.js"


def test_the_geo_bundle_is_the_plotly_js_that_plotly_py_expects() -> None:
    """Upgrading plotly without the bundle (or the other way round) fails here: figures are made
    for one version of the schema and drawn by the other."""
    header = BUNDLE.read_text(encoding="utf-8")[:200]
    assert re.search(r"plotly\.js \(geo - minified\) v([0-9.]+)", header)[1] == get_plotlyjs_version()  # type: ignore[index]


def test_the_style_sheets_carry_the_font_parts_rules() -> None:
    rooms = (PROJECT_ROOT / "layouts" / "assets" / "style.css").read_text(encoding="utf-8")
    public = (PROJECT_ROOT / "layouts" / "embed_static" / "public.css").read_text(encoding="utf-8")
    assert font_faces() in rooms
    assert font_faces((400, 700)) in public
    assert rooms.count("@font-face") == len(WEIGHTS) * len(SUBSETS)


def test_each_font_part_holds_its_letters_and_no_other_part_claims_them() -> None:
    fonts = Fonts()
    parts = {part: TTFont(io.BytesIO(fonts.get(file_name(700, part)) or b"")) for part in SUBSETS}
    cmap = {part: set(font.getBestCmap()) for part, font in parts.items()}
    assert {ord(c) for c in "Tây Ninh 1.234,5 %"} - {ord(" ")} <= cmap["latin"] | cmap["vietnamese"]
    assert {ord(c) for c in "ĐđƠơƯưĂăạảấầẩẫậỹ₫"} <= cmap["vietnamese"]
    assert ord("ơ") not in cmap["latin-ext"] and ord("Ł") in cmap["latin-ext"]
    # The font is the sum of its parts: no letter of it is left out.
    whole = set(TTFont(FONT_DIR / "BeVietnamPro-Bold.ttf").getBestCmap())
    assert sorted(whole - set().union(*cmap.values())) == []
    assert all(font.flavor == "woff2" for font in parts.values())
    assert fonts.get("BeVietnamPro-Bold.cyrillic.woff2") is None
    assert fonts.get("../BeVietnamPro-Bold.ttf") is None


@pytest.fixture
def web(r, units, redis_server):
    with counted_cases(r, units):
        yield logged_in(create_app(app_settings(redis_server), r), "lanhdao")


def test_the_vendored_files_are_the_ones_their_provenance_names() -> None:
    """Each vendored file is byte for byte the published one whose digest PROVENANCE.md gives."""
    provenance = (BUNDLE.parent / "PROVENANCE.md").read_text(encoding="utf-8")
    for path in sorted(BUNDLE.parent.glob("*.js")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"`{path.name}`" in provenance and digest in provenance, (
            f"{path.name}: sha256 {digest} not in PROVENANCE.md"
        )


def test_pages_load_regenerator_runtime_in_place_of_babels_polyfill(web) -> None:
    """Dash's bundles call the global ``regeneratorRuntime``; nothing else of the polyfill is used
    by the browsers the province has, and its checks cost the page 100 to 170 ms."""
    for path in ("/", "/wall"):
        page = web.get(path).get_data(as_text=True)
        assert "deps/polyfill@" not in page, f"{path} still loads Babel's polyfill"
        assert '<script src="/assets/vendor/regenerator-runtime.js' in page, path
        assert page.index("regenerator-runtime.js") < page.index("dash_renderer"), "before Dash's renderer"
    runtime = web.get("/assets/vendor/regenerator-runtime.js").get_data(as_text=True)
    assert "regeneratorRuntime = runtime" in runtime


def test_unchanging_files_are_compressed_once_then_densely(web) -> None:
    path = "/assets/vendor/plotly-geo.min.js"
    original = BUNDLE.read_bytes()
    first = web.get(path, headers={"Accept-Encoding": "br, gzip"})
    assert first.headers["Content-Encoding"] == "br"
    assert brotli.decompress(first.data) == original
    assert len(first.data) < len(original) / 3
    web.application.extensions["compress"].cache.settle()  # the denser pass, in the background
    again = web.get(path, headers={"Accept-Encoding": "br, gzip"})
    assert brotli.decompress(again.data) == original  # level 11, some 12 % smaller
    assert len(again.data) < len(first.data) * 0.95
    gzip = web.get(path, headers={"Accept-Encoding": "gzip"})
    assert gzip.headers["Content-Encoding"] == "gzip" and gzip.headers["Content-Length"] == str(
        len(gzip.data)
    )


def test_answers_that_change_are_never_kept(web) -> None:
    kept = web.application.extensions["compress"].cache.kept
    before = set(kept)
    reply = web.get("/api/v1/kpis?feed=public_services&unit=72&window=7d", headers={"Accept-Encoding": "br"})
    assert reply.status_code == 200 and reply.headers["Content-Encoding"] == "br"
    assert web.get("/assets/style.css", headers={"Accept-Encoding": "br"}).status_code == 200
    assert set(kept) - before == {"br;/assets/style.css"}
    assert all(compression.unchanging(key.split(";", 1)[1]) for key in kept)


def test_fonts_are_served_as_woff2_parts(web) -> None:
    reply = web.get("/fonts/BeVietnamPro-Medium.vietnamese.woff2")
    assert reply.status_code == 200 and reply.mimetype == "font/woff2" and reply.data[:4] == b"wOF2"
    assert "max-age=2592000" in reply.headers["Cache-Control"]
    assert web.get("/fonts/BeVietnamPro-Regular.ttf").status_code == 404


def page_scripts(client) -> list[str]:
    """The scripts the provincial room loads, as its page names them (Dash's fingerprints)."""
    return re.findall(r'<script src="([^"]+)"', client.get("/").text)


def test_one_file_under_many_names_is_kept_once_and_compressed_once(web) -> None:
    """Distinct query strings and Dash fingerprints of one static file leave one cache entry and one
    Brotli-11 recompression (each name used to keep a copy of its own and queue a pass)."""
    cache = web.application.extensions["compress"].cache
    src = next(s for s in page_scripts(web) if "/react-dom@" in s)
    fingerprint = re.compile(r"\.v[\w-]+m[0-9a-f]+\.")
    names = [f"{src}?v={i}" for i in range(20)] + [
        fingerprint.sub(f".v9_9_{i}m{i:x}.", src) for i in range(20)
    ]
    bodies = set()
    for name in names:
        reply = web.get(name, headers={"Accept-Encoding": "br"})
        assert reply.status_code == 200 and reply.headers["Content-Encoding"] == "br", name
        bodies.add(brotli.decompress(reply.data))
    cache.settle()
    assert len(bodies) == 1
    assert [k for k in cache.kept if "react-dom" in k] == [
        "br;/_dash-component-suites/dash/deps/react-dom@18.3.1.min.js"
    ]
    assert (cache.taken, cache.densified) == (1, 1)


def test_the_compressed_files_kept_are_bounded(r, units, redis_server) -> None:
    """Past web.compression_cache_bytes the least recently used file is dropped, served compressed
    anew when asked for again, and never recompressed at level 11 a second time."""
    limit = 100_000
    app = create_app(app_settings(redis_server, web={"compression_cache_bytes": limit}), r)
    client = logged_in(app, "lanhdao")
    cache = app.server.extensions["compress"].cache
    srcs = page_scripts(client)
    wanted = [
        next(s for s in srcs if part in s)
        for part in ("/react-dom@", "/dash_core_components-shared.", "/dash_renderer.")
    ]
    for src in [*wanted, wanted[0]]:
        reply = client.get(src, headers={"Accept-Encoding": "br"})
        assert reply.status_code == 200 and len(brotli.decompress(reply.data)) > 20_000
        cache.settle()
        assert cache.size <= limit
    assert [key.rsplit("/", 1)[1] for key in cache.kept] == [
        "dash_renderer.min.js",
        "react-dom@18.3.1.min.js",
    ]
    assert (cache.taken, cache.densified) == (4, 3)
