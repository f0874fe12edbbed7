"""Boundary sets: loaded once with geopandas, checked against the unit table, simplified, and
served to the browser as static GeoJSON (figures reference the URL and stay about 1 kB)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import shapely
from pyogrio.errors import DataSourceError

from ioc import tilemap
from ioc.config import ConfigError
from ioc.crosswalk import FORMER_DISTRICTS_FILE, PROVINCE_FILE, Crosswalk
from ioc.units import UnitTable, record_key

ATTRIBUTION = (
    "District boundaries: Government of Viet Nam / OCHA ROAP (HDX COD-AB, vnm_adm_gov_20201027), "
    "via geoBoundaries (Runfola et al. 2020, PLoS ONE 15(4): e0231866). Licensed CC BY 3.0 IGO. "
    "Simplified, re-coded and dissolved by this project."
)
LAYER_FILES = {
    ("pre2025", "district"): "tayninh_districts_pre2025.geojson",
    ("pre2025", "province"): "tayninh_province_pre2025.geojson",
    ("2025", "province"): "tayninh_province_2025.geojson",
    ("2025", "former_district"): "tayninh2025_former_districts.geojson",
    # Installed by a province that has its own commune polygons (none are openly licensed yet).
    ("pre2025", "commune"): "tayninh_communes_pre2025.geojson",
    ("2025", "commune"): "tayninh_communes_2025.geojson",
}
# Where Locator.finest places points: the finest layer installed. The 2025 scheme has no districts;
# its former districts are finer than its province, and their (pre-2025) codes count for it.
LEVELS_FINEST_FIRST = ("commune", "district", "former_district", "province")
SIMPLIFY_DEG = 0.0003  # about 30 m: invisible at province zoom, a third fewer vertices
# The maps draw a layer's polygons on a sphere (Plotly's geo maps, d3-geo), where a ring's
# direction says which side is inside: an outer ring must run clockwise, its holes the other
# way. GeoJSON's own advice (RFC 7946, "should") is the opposite, and a file may follow either:
# every layer served is turned so, or a commune would draw as the whole world less the commune.


@dataclass(frozen=True)
class Layer:
    """One boundary layer ready to serve: its GeoJSON bytes, codes, and where to centre a map."""

    name: str
    geojson: bytes
    codes: list[str]
    center: tuple[float, float]  # lat, lon
    bounds: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
    feature_bounds: dict[str, tuple[float, float, float, float]]  # the same, per code
    names: dict[str, str]  # as the file names them (former districts are in no unit table)
    # A diagram, not boundaries: the 2025 communes' tiles (``tile_layer``), placed over the
    # province so the maps draw them as they draw polygons, and said to be schematic.
    schematic: bool = False
    outlines: bytes = b""  # schematic: its groups' (areas') outlines, GeoJSON lines drawn over it


def load_layer(directory: Path, scheme: str, level: str, units: UnitTable) -> Layer:
    path = directory / LAYER_FILES[(scheme, level)]
    try:
        frame = gpd.read_file(path)
    except (OSError, DataSourceError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read boundary file: {exc}") from None
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    known = set(units.codes)
    unknown = sorted(set(frame["code"]) - known) if level != "former_district" else []
    if unknown:
        raise ConfigError(f"{path}: codes not in the {scheme} unit table: {unknown}")
    invalid = frame[~frame.geometry.is_valid]
    if len(invalid):
        frame.loc[invalid.index, "geometry"] = invalid.geometry.make_valid()
    frame["geometry"] = shapely.orient_polygons(
        frame.geometry.simplify(SIMPLIFY_DEG, preserve_topology=True), exterior_cw=True
    )
    keep = [c for c in ("code", "name", "level", "parent_code", "type", "pop_2019") if c in frame.columns]
    data = json.loads(frame[[*keep, "geometry"]].to_json(drop_id=True))
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    return Layer(
        name=f"{scheme}-{level}",
        geojson=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
        codes=[str(c) for c in frame["code"]],
        center=((miny + maxy) / 2, (minx + maxx) / 2),
        bounds=(minx, miny, maxx, maxy),
        feature_bounds={
            str(code): tuple(float(v) for v in geometry.bounds)  # type: ignore[misc]
            for code, geometry in zip(frame["code"], frame.geometry, strict=True)
        },
        names={str(c): str(n) for c, n in zip(frame["code"], frame["name"], strict=True)}
        if "name" in frame.columns
        else {},
    )


def installed_layer(directory: Path, scheme: str, level: str, units: UnitTable) -> Layer | None:
    """A layer a province may install (commune polygons), or None when its file is not there."""
    if not (directory / LAYER_FILES[(scheme, level)]).exists():
        return None
    return load_layer(directory, scheme, level, units)


def room_layers(directory: Path, scheme: str, units: UnitTable) -> tuple[Layer, Layer | None]:
    """What the rooms' maps draw: the districts (the former ones in 2025, for the province's
    outline) and the communes' polygons where a province installed them; else, in the 2025 scheme,
    its 96 communes as a schematic tile map (no openly licensed 2025 boundaries exist), which the
    maps colour as they would the polygons, with its names and a note that it is a diagram."""
    layer = load_layer(directory, scheme, "district" if scheme == "pre2025" else "former_district", units)
    communes = installed_layer(directory, scheme, "commune", units)
    if communes is None and scheme == "2025":
        communes = tile_layer(directory, units)
    return layer, communes


TILES_LAYER = "2025-commune-tiles"
# The grid's cell, against the province: the province's area holds this many cells per commune.
# Fewer than the communes' share of the land (1.0) packs the blocks closer than the land lies,
# so the tiles come out larger on the same map and their names readable.
TILE_CELLS_PER_COMMUNE = 0.5
# The blocks' places stretched east-west: the province is taller than wide, the rooms' maps are
# wider than tall, and a wider diagram gives larger tiles on them.
TILE_STRETCH = 1.8


def tile_layer(directory: Path, units: UnitTable) -> Layer:
    """The 2025 communes as a schematic tile map (``ioc.tilemap``): one square per commune, each
    area's communes a block around the mean position of its communes' former districts (the
    crosswalk's), the whole placed over the province's extent in longitude and latitude."""
    if units.scheme != "2025":
        raise ConfigError(f"the tile map draws the communes of the 2025 scheme, not of {units.scheme}")
    communes = units.level_codes("commune")
    crosswalk = Crosswalk.load(directory, None, set(communes))
    districts = _planar_points(directory / FORMER_DISTRICTS_FILE)
    outline = gpd.read_file(directory / PROVINCE_FILE).to_crs(4326).geometry.union_all()
    minx, miny, maxx, maxy = (float(v) for v in outline.bounds)
    low, high = tilemap.mercator_y(miny), tilemap.mercator_y(maxy)
    planar_area = float(outline.area) * (high - low) / (maxy - miny)  # near enough at this size
    size = math.sqrt(planar_area / (len(communes) * TILE_CELLS_PER_COMMUNE))

    def place(points: list[tuple[float, float]]) -> tuple[float, float]:
        return (
            (sum(p[0] for p in points) / len(points) - minx) / size * TILE_STRETCH,
            (sum(p[1] for p in points) / len(points) - low) / size,
        )

    def district_point(code: str, where: str) -> tuple[float, float]:
        if code not in districts:
            raise ConfigError(f"{directory / FORMER_DISTRICTS_FILE}: no former district {code} ({where})")
        return districts[code]

    members = {
        area: sorted(units.children(area)) for area in units.level_codes(units.middle) if units.children(area)
    }
    anchors = {
        area: place([district_point(crosswalk.former_district[c], f"commune {c}") for c in codes])
        for area, codes in members.items()
    }
    pulls = {
        commune: place(
            [district_point(crosswalk.old_district[o], f"old unit {o}") for o in crosswalk.old_units[commune]]
        )
        for commune in communes
    }
    found = tilemap.layout(anchors, members, pulls)
    boxes = found.boxes()
    # centred on the province: the blocks may reach past its outline, never far
    x0, y0 = min(b[0] for b in boxes.values()), min(b[1] for b in boxes.values())
    x1, y1 = max(b[2] for b in boxes.values()), max(b[3] for b in boxes.values())
    shift_x = (minx + maxx) / 2 - (minx + (x0 + x1) / 2 * size)
    shift_y = (low + high) / 2 - (low + (y0 + y1) / 2 * size)

    def lon(x: float) -> float:
        return round(minx + x * size + shift_x, 6)

    def lat(y: float) -> float:
        return round(tilemap.latitude(low + y * size + shift_y), 6)

    names = units.names()
    features = []
    bounds: dict[str, tuple[float, float, float, float]] = {}
    for code in communes:
        bx0, by0, bx1, by1 = boxes[code]
        bounds[code] = (lon(bx0), lat(by0), lon(bx1), lat(by1))
        w, s, e, n = bounds[code]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "name": names[code],
                    "level": "commune",
                    "parent_code": found.areas[code],
                    "label": tilemap.short_name(names[code]),
                },
                # clockwise, as every layer's outer rings (above)
                "geometry": {"type": "Polygon", "coordinates": [[[w, s], [w, n], [e, n], [e, s], [w, s]]]},
            }
        )
    total = (
        min(b[0] for b in bounds.values()),
        min(b[1] for b in bounds.values()),
        max(b[2] for b in bounds.values()),
        max(b[3] for b in bounds.values()),
    )
    data = {"type": "FeatureCollection", "features": features}
    lines = [[[lon(x), lat(y)] for x, y in line] for line in found.outlines()]
    outlines = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "MultiLineString", "coordinates": lines},
            }
        ],
    }
    return Layer(
        name=TILES_LAYER,
        geojson=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
        codes=communes,
        center=((total[1] + total[3]) / 2, (total[0] + total[2]) / 2),
        bounds=total,
        feature_bounds=bounds,
        names={c: names[c] for c in communes},
        schematic=True,
        outlines=json.dumps(outlines, separators=(",", ":")).encode(),
    )


def _planar_points(path: Path) -> dict[str, tuple[float, float]]:
    """Each unit's representative point (inside its polygon), as (longitude, Mercator ordinate)."""
    try:
        frame = gpd.read_file(path)
    except (OSError, DataSourceError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read boundary file: {exc}") from None
    frame = frame.to_crs(4326) if frame.crs is not None else frame
    return {
        str(code): (point.x, tilemap.mercator_y(point.y))
        for code, point in zip(frame["code"], frame.geometry.representative_point(), strict=True)
    }


class Locator:
    """Places points (WGS 84) in the units of a boundary layer with a spatial index.

    ``locate`` is one vectorised spatial join (geopandas' STRtree), not a loop over polygons. A
    point on a shared border goes to one of the units; a point outside every unit gets None.
    ``keys`` gives the record keys of those units (``ioc.units.record_key``) in the scheme of the
    layer's codes (``code_scheme``: the former districts of the 2025 scheme have pre-2025 codes).
    """

    def __init__(self, directory: Path, scheme: str, level: str) -> None:
        self.level = level
        self.code_scheme = "pre2025" if level == "former_district" else scheme
        frame = gpd.read_file(directory / LAYER_FILES[(scheme, level)])
        self.units = frame[["code", "geometry"]].to_crs(4326) if frame.crs else frame[["code", "geometry"]]

    @classmethod
    def finest(cls, directory: Path, scheme: str) -> Locator:
        """A locator on the finest boundary layer installed: communes if present, else districts
        (in the 2025 scheme, which has none, the former districts), else the province."""
        for level in LEVELS_FINEST_FIRST:
            name = LAYER_FILES.get((scheme, level))
            if name and (directory / name).exists():
                return cls(directory, scheme, level)
        raise ConfigError(f"{directory}: no boundary file for the {scheme} scheme")

    def keys(self, lons: list[float | None], lats: list[float | None]) -> list[str | None]:
        """The record key of the unit each point lies in (None outside every unit)."""
        return [
            None if code is None else record_key(self.code_scheme, code) for code in self.locate(lons, lats)
        ]

    def locate(self, lons: list[float | None], lats: list[float | None]) -> list[str | None]:
        valid = [
            lon is not None and lat is not None and -180 <= lon <= 180 and -90 <= lat <= 90
            for lon, lat in zip(lons, lats, strict=True)
        ]
        points = gpd.GeoDataFrame(
            {"i": range(len(lons))},
            geometry=gpd.points_from_xy(
                [lon if ok else 0.0 for lon, ok in zip(lons, valid, strict=True)],
                [lat if ok else 0.0 for lat, ok in zip(lats, valid, strict=True)],
            ),
            crs=4326,
        )[valid]
        joined = gpd.sjoin(points, self.units, how="left", predicate="intersects")
        found = joined.drop_duplicates("i").set_index("i")["code"]
        return [
            None if not ok or i not in found.index or _missing(found[i]) else str(found[i])
            for i, ok in enumerate(valid)
        ]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
