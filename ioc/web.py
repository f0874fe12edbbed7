"""The Dash app: pages from ``layouts/``, the KPI API, boundary GeoJSON and fonts, all served
from this host (no CDN, no map tiles, no web fonts from the internet)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import partial
from typing import Any

import dash
import redis
from dash import Dash
from flask import Response, abort, has_request_context, jsonify, request, send_from_directory, session

from ioc import (
    admin,
    admin_accounts,
    admin_rules,
    alert_history,
    annotation_pages,
    auth,
    briefing_pages,
    compression,
    embeds,
    export_pages,
    headers,
    silence_pages,
)
from ioc.access import UserFile
from ioc.alert_rules import RuleBook
from ioc.annotations import Annotations
from ioc.api import kpi_blueprint
from ioc.api_scorecard import scorecard_blueprint
from ioc.briefings import Archive
from ioc.cards import Cards, card_blueprint
from ioc.config import PROJECT_ROOT, Settings
from ioc.connector import connector_names, shown_specs
from ioc.delivery_log import point_health
from ioc.export_pages import Exports
from ioc.feeds import room_specs
from ioc.first_page import first_page_layout
from ioc.fonts import Fonts
from ioc.geo import room_layers
from ioc.health import read_health
from ioc.history import History
from ioc.login import Login, user
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import i18n
from layouts.commune import CommunePage
from layouts.district import DistrictPage
from layouts.embed import EmbedMaps
from layouts.health import HealthBoard
from layouts.i18n import _
from layouts.live import Live
from layouts.province import ProvincePage
from layouts.scorecard import TITLE as SCORECARD_TITLE
from layouts.scorecard import ScorecardPage
from layouts.scorecard_data import SCORECARD_FEEDS, Scorecards
from layouts.scorecard_drill import DrilldownPage
from layouts.wall import WallPage

ASSETS = PROJECT_ROOT / "layouts" / "assets"
EMBED_STATIC = PROJECT_ROOT / "layouts" / "embed_static"
GEO_CACHE = "private, max-age=86400"


# The parts of Dash's components the rooms draw with (the maps, the series, the pickers), which
# Dash asks for only once the page's layout has arrived and names them: asked for with the page's
# own scripts instead, they are there when the layout is (50 to 150 ms on a loaded server). Only
# on the rooms: a page that does not use one would have the browser warn of a wasted request.
EARLY_CHUNKS = ("dcc/async-graph.js", "dcc/async-dropdown.js")
# Babel's polyfill (core-js 2 and regenerator-runtime), which Dash loads first on every page:
# the browsers of the rooms and walls (any of recent years; the mobile app's panels are not Dash
# pages) have every feature core-js would add, and its checks cost 100 to 170 ms of the main thread
# before anything else runs. What Dash's bundles need of it, the global ``regeneratorRuntime``,
# comes from ``layouts/assets/vendor/regenerator-runtime.js`` (see its PROVENANCE.md).
POLYFILL = re.compile(r"/_dash-component-suites/dash/deps/polyfill@")
# The page's layout and its callbacks' graph, which Dash's renderer asks for only once every
# script has run: asked for by a small script at the top of the page, exactly as the renderer
# asks (Dash's fetch settings), and handed to the renderer's first request of each, the server
# builds the room while the scripts load. A <link rel="preload" as="fetch"> would do it in
# Chromium alone: WebKit and Firefox do not give a preloaded answer to a request with headers
# of its own (the renderer sends two), so they would ask twice, and a room's view be audited twice.
EARLY_ANSWERS = ("_dash-layout", "_dash-dependencies")
EARLY_SCRIPT = """(function () {
  var early = {};
  URLS.forEach(function (url) {
    early[url] = fetch(url, {method: "GET", credentials: "same-origin",
      headers: {Accept: "application/json", "Content-Type": "application/json"}});
  });
  var own = window.fetch;
  window.fetch = function (input, init) {
    var answer = typeof input === "string" && early[input];
    if (answer && (!init || (init.method || "GET") === "GET")) {
      delete early[input];
      return answer;
    }
    return own.apply(this, arguments);
  };
})();"""
ROOMS = re.compile(r"^/((district|area|commune)/[^/]+)?$")


class IocDash(Dash):
    """Dash whose page says its language (``<html lang>``): screen readers, hyphenation and the
    browser's own formats follow it; that asks for its layout with its first bytes; that runs
    without Babel's polyfill; and whose rooms ask early for the parts they draw with."""

    def _collect_and_register_resources(self, resources: Any, *args: Any, **kwargs: Any) -> Any:
        found = super()._collect_and_register_resources(resources, *args, **kwargs)  # type: ignore[no-untyped-call]
        return [src for src in found if not (isinstance(src, str) and POLYFILL.search(src))]

    def early_script(self) -> str:
        """The inline script that asks for the layout and the callbacks' graph (its CSP hash is
        among :meth:`csp_hashes`)."""
        prefix = self.config.requests_pathname_prefix
        return EARLY_SCRIPT.replace("URLS", json.dumps([f"{prefix}{name}" for name in EARLY_ANSWERS]))

    def csp_hashes(self, hash_algorithm: str = "sha256") -> Any:
        digest = getattr(hashlib, hash_algorithm)(self.early_script().encode("utf-8")).digest()
        return [
            *super().csp_hashes(hash_algorithm),
            f"'{hash_algorithm}-{base64.b64encode(digest).decode()}'",
        ]

    def interpolate_index(self, **kwargs: Any) -> Any:  # type: ignore[override]
        page: str = super().interpolate_index(**kwargs)  # type: ignore[no-untyped-call]
        page = page.replace("<html>", f'<html lang="{i18n.current()}">', 1)
        # First in the head: a script after the style sheet would wait for it.
        page = page.replace("<head>", f"<head><script>{self.early_script()}</script>", 1)
        if not (has_request_context() and ROOMS.match(f"/{self.strip_relative_path(request.path) or ''}")):
            return page
        suites = f"{self.config.requests_pathname_prefix}_dash-component-suites/dash/"
        early = "".join(f'<link rel="preload" as="script" href="{suites}{chunk}">' for chunk in EARLY_CHUNKS)
        return page.replace("</head>", f"{early}</head>", 1)


def titled(name: str) -> Any:
    """A page title in the reader's language."""
    return lambda **_path: f"{_(name)} · IOC Tây Ninh" if name else "IOC Tây Ninh"


def create_app(settings: Settings, client: redis.Redis) -> Dash:
    units = UnitTable.configured(settings.boundaries)
    layer, communes = room_layers(settings.boundaries.directory, settings.boundaries.scheme, units)
    history = History.configured(settings)
    reader = SnapshotReader(client, history)
    app = IocDash(
        __name__,
        title="IOC Tây Ninh",
        assets_folder=str(ASSETS),
        serve_locally=True,
        update_title=None,  # type: ignore[arg-type]  # None turns the "Updating..." title off
        use_pages=True,
        pages_folder="",
        suppress_callback_exceptions=True,  # each page's callbacks are registered for every page
    )
    server = app.server
    compression.install(server, cache_bytes=settings.web.compression_cache_bytes)
    i18n.install(server)
    secret = settings.secret()
    users = UserFile(settings.auth.users_file, units) if settings.auth.users_file else None
    Login(settings, client, users, units).install(server, secret)
    geojson_url = f"/geo/{layer.name}.geojson"
    communes_url = f"/geo/{communes.name}.geojson" if communes else ""
    layers = {layer.name: layer} | ({communes.name: communes} if communes else {})

    @server.get("/geo/<name>.geojson")  # type: ignore[untyped-decorator]
    def geojson(name: str) -> Response:
        if name not in layers:
            abort(404)
        response = Response(layers[name].geojson, mimetype="application/geo+json")
        response.headers["Cache-Control"] = GEO_CACHE
        return response

    font_parts = Fonts()
    server.before_request(font_parts.warm)

    @server.get("/fonts/<name>")  # type: ignore[untyped-decorator]
    def fonts(name: str) -> Response:
        data = font_parts.get(name)
        if data is None:
            abort(404)
        response = Response(data, mimetype="font/woff2")
        response.headers["Cache-Control"] = f"public, max-age={86400 * 30}"
        return response

    @server.get("/embed-static/<path:name>")  # type: ignore[untyped-decorator]
    def embed_static(name: str) -> Response:
        return send_from_directory(EMBED_STATIC, name, max_age=3600)

    rules = RuleBook(client, settings.alerts, units)  # and those saved on the rules page
    server.register_blueprint(kpi_blueprint(reader, units, rules, history))
    server.register_blueprint(scorecard_blueprint(reader, units, settings))
    maps = EmbedMaps(units, layer if settings.boundaries.scheme == "pre2025" else None, communes)
    goals = Goals(settings.targets, units)  # what every panel colours against
    cards = Cards(reader, units, settings.public.k, maps, goals)
    server.register_blueprint(card_blueprint(cards))
    embeds.install(server, settings, cards, client, secret)
    admin.install(server, client)
    admin_accounts.install(server, client, settings.auth.users_file, units)
    admin_rules.install(server, rules)
    silence_pages.install(server, client, units, rules)
    alert_history.install(server, client, units, rules)
    marks = Annotations(client, rules)
    annotation_pages.install(server, marks, units)

    def screen_token() -> str:
        """A relay token for the person on this page: the units they may see, the units whose
        alerts they get, and their session (the relay closes the socket when it ends)."""
        person = user()
        return auth.mint(
            secret,
            units=person.visible_units(units),
            alerts=person.alert_units(units),
            login=person.login,
            sid=session.get("sid"),
        )

    shown = shown_specs(settings)
    specs = room_specs(shown)
    export_pages.install(server, Exports(reader, units, specs, goals, rules))
    briefing_pages.install(server, client, Archive.configured(settings.briefing, settings.data_dir), units)
    live = Live(
        port=settings.realtime.port,
        url=settings.realtime.public_url,
        token=screen_token,
        amber_s=settings.freshness.amber_s,
        red_s=settings.freshness.red_s,
        alert_rules=rules,
        alert_feeds=tuple(feed for feed, spec in shown.items() if not spec.has_kpis),
    )

    @server.get("/realtime/token")  # type: ignore[untyped-decorator]
    def realtime_token() -> Response:
        response = jsonify({"token": screen_token()})
        response.headers["Cache-Control"] = "no-store"
        return response

    # What every room reads and draws with.
    rooms: dict[str, Any] = {
        "reader": reader,
        "units": units,
        "layer": layer,
        "specs": specs,
        "geojson_url": geojson_url,
        "live": live,
        "goals": goals,
        "marks": marks,
    }
    page = ProvincePage(**rooms, communes=communes, communes_url=communes_url)
    dash.register_page("province", path="/", title=titled(""), layout=page.layout)  # type: ignore[no-untyped-call]
    page.register(app)
    # The rooms below the province: /district/<code> before 2025, /area/<code> in the 2025 scheme,
    # /commune/<code> in both. Each room answers the other scheme's address with why there is no
    # such room (and a link to this scheme's room of the code, if it has one).
    below: dict[str, Any] = {
        "communes": communes,
        "communes_url": f"/geo/{communes.name}.geojson" if communes else "",
    }
    district = DistrictPage(**rooms, **below)
    commune = CommunePage(**rooms, **below)
    for name, title, room in (
        ("district", i18n.N_("Phòng huyện"), district),
        ("area", i18n.N_("Phòng khu vực"), district),
        ("commune", i18n.N_("Phòng xã, phường"), commune),
    ):
        dash.register_page(  # type: ignore[no-untyped-call]
            name,
            path_template=f"/{name}/<code>",
            title=titled(title),
            layout=partial(room.layout, name),
        )
    district.register(app)
    commune.register(app)
    scorecards = Scorecards(
        reader, units, settings, tuple(f for f in SCORECARD_FEEDS if f in connector_names(settings))
    )
    scorecard = ScorecardPage(scorecards, live)
    dash.register_page(  # type: ignore[no-untyped-call]
        "scorecard", path="/scorecard", title=titled(SCORECARD_TITLE), layout=scorecard.layout
    )
    scorecard.register(app)
    drill = DrilldownPage(scorecards, live)
    dash.register_page(  # type: ignore[no-untyped-call]
        "scorecard-drill",
        path_template="/scorecard/<indicator>",
        title=titled(SCORECARD_TITLE),
        layout=drill.drill_layout,
    )
    drill.register_drill(app)
    wall = WallPage(**rooms, settings=settings.wall, scorecards=scorecards)
    dash.register_page("wall", path="/wall", title=titled(i18n.N_("Màn hình tường")), layout=wall.layout)  # type: ignore[no-untyped-call]
    wall.register(app)
    feeds = connector_names(settings)
    points = {name: point.kind for name, point in settings.delivery.contact_points.items()}
    board = HealthBoard(
        read=lambda: read_health(client, feeds),
        feeds=sorted(feeds),
        live=live,
        points=points,
        read_points=lambda: point_health(client, points),
    )
    dash.register_page(  # type: ignore[no-untyped-call]
        "health", path="/health-board", title=titled(i18n.N_("Nguồn dữ liệu")), layout=board.layout
    )
    board.register(app)
    app.layout = first_page_layout(app)
    headers.install(server, settings, app.csp_hashes)
    return app
