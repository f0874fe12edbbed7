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
}
SIMPLIFY_DEG = 0.0003  # about 30 m: invisible at province zoom, a third fewer vertices


@dataclass(frozen=True)
class Layer:
    """One boundary layer ready to serve: its GeoJSON bytes, codes, and where to centre a map."""

    name: str
    geojson: bytes
    codes: list[str]
    center: tuple[float, float]  # lat, lon
    bounds: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


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
    )
