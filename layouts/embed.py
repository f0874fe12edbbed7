"""The panels embedded in Tây Ninh Smart: one KPI, its map or its days, for a 360-px phone.

An embed is a small server-rendered page (no Dash, no Plotly, no map tiles: a few kB), drawn
from the public card of the same name (``ioc.cards``) and kept live by ``embed.js``. The map is
an SVG drawn here from the boundary layer, simplified for a phone's width.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import MultiPolygon, Polygon, shape

from ioc.geo import Layer
from ioc.units import UnitTable
from layouts import theme
from layouts.geography import SCHEMATIC_NOTE
from layouts.i18n import _, current

WIDTH = 340.0
SIMPLIFY_DEG = 0.0015  # about 150 m: half a pixel at a phone's width of the province


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    paths: dict[str, str]  # code -> SVG path data


@dataclass
class EmbedMaps:
    """Which polygons a unit's map panel shows: its communes when the commune layer has them
    (installed polygons, or the 2025 communes' schematic tiles: every commune of the province for
    the province of the 2025 scheme; a 2025 commune's area's communes with the commune
    outlined), else the province's districts with the unit (or its district) outlined;
    ``districts`` is None in the 2025 scheme, which has none."""

    units: UnitTable
    districts: Layer | None
    communes: Layer | None
    _drawn: dict[str, Drawing] = field(default_factory=dict)

    def choose(self, unit: str) -> tuple[Layer, str | None] | None:
        children = set(self.units.children(unit))
        if self.communes is not None and children and children <= set(self.communes.codes):
            return _only(self.communes, children), None
        if self.districts is None:
            drawn = set(self.communes.codes) if self.communes is not None else set()
            every = set(self.units.level_codes("commune"))
            if self.communes is None or not every <= drawn:
                return None
            if unit == self.units.province:
                return _only(self.communes, every), None
            # A commune: its area's communes, itself outlined.
            area = self.units.parent(unit) or self.units.province
            return _only(self.communes, set(self.units.children(area))), unit
        if unit == self.units.province:
            return self.districts, None
        return self.districts, unit if unit in self.districts.codes else self.units.parent(unit)

    def drawing(self, layer: Layer) -> Drawing:
        if layer.name not in self._drawn:
            self._drawn[layer.name] = draw(layer)
        return self._drawn[layer.name]


def _only(layer: Layer, codes: set[str]) -> Layer:
    """The part of a layer with these codes (one district's communes), named for caching by a
    digest of exactly its codes (two parts with one code in common are different drawings)."""
    kept = [c for c in layer.codes if c in codes]
    digest = hashlib.blake2b(",".join(sorted(kept)).encode(), digest_size=8).hexdigest()
    doc = json.loads(layer.geojson)
    doc["features"] = [f for f in doc["features"] if str(f["properties"]["code"]) in codes]
    boxes = [layer.feature_bounds[c] for c in kept]
    bounds = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return Layer(
        name=f"{layer.name}-{digest}",
        geojson=json.dumps(doc).encode(),
        codes=kept,
        center=((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2),
        bounds=bounds,
        feature_bounds={c: layer.feature_bounds[c] for c in kept},
        names={c: layer.names.get(c, c) for c in kept},
        schematic=layer.schematic,
    )


def draw(layer: Layer) -> Drawing:
    """The layer's polygons as SVG paths, north up, longitudes shrunk by the cosine of the
    latitude (so the province keeps its shape), ``WIDTH`` wide."""
    min_lon, min_lat, max_lon, max_lat = layer.bounds
    shrink = math.cos(math.radians((min_lat + max_lat) / 2))
    scale = WIDTH / ((max_lon - min_lon) * shrink or 1.0)
    height = (max_lat - min_lat) * scale

    def ring(coords: Any) -> str:
        points = [
            f"{(lon - min_lon) * shrink * scale:.1f},{(max_lat - lat) * scale:.1f}"
            for lon, lat, *_z in coords
        ]
        return "M" + "L".join(points) + "Z"

    paths = {}
    for feature in json.loads(layer.geojson)["features"]:
        geometry = shape(feature["geometry"]).simplify(SIMPLIFY_DEG, preserve_topology=True)
        polygons = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
        rings = [
            ring(p.exterior.coords) + "".join(ring(i.coords) for i in p.interiors)
            for p in polygons
            if isinstance(p, Polygon)
        ]
        paths[str(feature["properties"]["code"])] = "".join(rings)
    return Drawing(WIDTH, round(height, 1), paths)


def template_context(
    maps: EmbedMaps, card: dict[str, Any], shape_: str, config: dict[str, Any]
) -> dict[str, Any]:
    """What ``embed.html`` needs besides the card: the map's drawing, the legend, the config."""
    context: dict[str, Any] = {
        "card": card,
        "shape": shape_,
        "config": json.dumps(config, ensure_ascii=False).replace("<", "\\u003c"),  # never ends its <script>
    }
    if shape_ == "map":
        chosen = maps.choose(card["unit"])
        assert chosen is not None  # the card would have been refused
        context["drawing"] = maps.drawing(chosen[0])
        context["attribution"] = theme.attribution(current())
        if chosen[0].schematic:  # a diagram, and said to be one where the map's source is named
            context["attribution"] = f"{_(SCHEMATIC_NOTE)}. {context['attribution']}"
    if shape_ == "series":
        shown = [d["value"] for d in card["days"] if d["value"] is not None]
        context["top"] = max([*shown, 1e-9])
    return context
