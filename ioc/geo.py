"""Boundary sets: loaded once with geopandas, checked against the unit table, simplified, and
served to the browser as static GeoJSON (figures reference the URL and stay about 1 kB)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from pyogrio.errors import DataSourceError

from ioc.config import ConfigError
from ioc.units import UnitTable

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
LEVELS_FINEST_FIRST = ("commune", "district", "province")
SIMPLIFY_DEG = 0.0003  # about 30 m: invisible at province zoom, a third fewer vertices


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
    frame["geometry"] = frame.geometry.simplify(SIMPLIFY_DEG, preserve_topology=True)
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


class Locator:
    """Places points (WGS 84) in the units of a boundary layer with a spatial index.

    ``locate`` is one vectorised spatial join (geopandas' STRtree), not a loop over polygons. A
    point on a shared border goes to one of the units; a point outside every unit gets None.
    """

    def __init__(self, directory: Path, scheme: str, level: str) -> None:
        self.level = level
        frame = gpd.read_file(directory / LAYER_FILES[(scheme, level)])
        self.units = frame[["code", "geometry"]].to_crs(4326) if frame.crs else frame[["code", "geometry"]]

    @classmethod
    def finest(cls, directory: Path, scheme: str) -> Locator:
        """A locator on the finest boundary layer installed: communes if present, else districts."""
        for level in LEVELS_FINEST_FIRST:
            name = LAYER_FILES.get((scheme, level))
            if name and (directory / name).exists():
                return cls(directory, scheme, level)
        raise ConfigError(f"{directory}: no boundary file for the {scheme} scheme")

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
