"""The Dash app: pages from ``layouts/``, the KPI API, boundary GeoJSON and fonts, all served
from this host (no CDN, no map tiles, no web fonts from the internet)."""

from __future__ import annotations

from pathlib import Path

import fontpkg_be_vietnam_pro
import redis
from dash import Dash
from flask import Response, abort, send_from_directory

from ioc.api import kpi_blueprint
from ioc.config import PROJECT_ROOT, Settings
from ioc.feeds import FEED_SPECS
from ioc.geo import load_layer
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable
from layouts.province import ProvincePage

ASSETS = PROJECT_ROOT / "layouts" / "assets"
FONT_DIR = Path(fontpkg_be_vietnam_pro.__file__).parent / "files"
GEO_CACHE = "public, max-age=86400"


def create_app(settings: Settings, client: redis.Redis) -> Dash:
    units = UnitTable.load(settings.boundaries.directory, settings.boundaries.scheme)
    level = "district" if settings.boundaries.scheme == "pre2025" else "former_district"
    layer = load_layer(settings.boundaries.directory, settings.boundaries.scheme, level, units)
    reader = SnapshotReader(client)
    app = Dash(
        __name__,
        title="IOC Tây Ninh",
        assets_folder=str(ASSETS),
        serve_locally=True,
        update_title=None,  # type: ignore[arg-type]  # None turns the "Updating..." title off
    )
    server = app.server
    geojson_url = f"/geo/{layer.name}.geojson"
    layers = {layer.name: layer}

    @server.get("/geo/<name>.geojson")  # type: ignore[untyped-decorator]
    def geojson(name: str) -> Response:
        if name not in layers:
            abort(404)
        response = Response(layers[name].geojson, mimetype="application/geo+json")
        response.headers["Cache-Control"] = GEO_CACHE
        return response

    @server.get("/fonts/<path:name>")  # type: ignore[untyped-decorator]
    def fonts(name: str) -> Response:
        response = send_from_directory(FONT_DIR, name, max_age=86400 * 30)
        return response

    server.register_blueprint(kpi_blueprint(reader, units))
    page = ProvincePage(
        reader=reader,
        units=units,
        layer=layer,
        spec=FEED_SPECS["public_services"],
        geojson_url=geojson_url,
        refresh_s=settings.web.refresh_s,
    )
    app.layout = page.layout
    page.register(app)
    return app
