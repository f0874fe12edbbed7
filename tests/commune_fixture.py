"""Real-looking polygons of the 96 communes of 2025, for testing the installed-polygons path.

No openly licensed 2025 commune boundaries exist, so the tests make their own: each former
district (``tayninh2025_former_districts.geojson``) is cut into Voronoi cells, one per commune
whose former district it is (the crosswalk's), around points spread over the district, and the
cells are clipped to the district and to the province's outline. Generated, never hand-drawn; the
same every time.

    uv run python -m tests.commune_fixture OUT   # a copy of geodata/ in OUT, with the communes
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import geopandas as gpd
from shapely.geometry import MultiPoint, Point, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import voronoi_diagram

from ioc.config import PROJECT_ROOT
from ioc.crosswalk import FORMER_DISTRICTS_FILE, PROVINCE_FILE, Crosswalk
from ioc.geo import LAYER_FILES
from ioc.units import UnitTable

GEODATA = PROJECT_ROOT / "geodata"
COMMUNES_FILE = LAYER_FILES[("2025", "commune")]


def spread_points(shape: BaseGeometry, n: int) -> list[Point]:
    """``n`` points inside ``shape``, far from each other: from a grid of candidates inside it,
    the representative point first, then each time the candidate farthest from those taken."""
    minx, miny, maxx, maxy = shape.bounds
    steps = 24
    candidates = [
        Point(minx + (maxx - minx) * (i + 0.5) / steps, miny + (maxy - miny) * (j + 0.5) / steps)
        for i in range(steps)
        for j in range(steps)
    ]
    inside = [p for p in candidates if shape.contains(p)] or [shape.representative_point()]
    taken = [shape.representative_point()]
    while len(taken) < n:
        taken.append(max(inside, key=lambda p: (min(p.distance(t) for t in taken), p.x, p.y)))
    return taken


def commune_polygons(geodata: Path = GEODATA) -> gpd.GeoDataFrame:
    """One polygon per 2025 commune: its former district's Voronoi cell around its point."""
    units = UnitTable.load(geodata, "2025")
    communes = units.level_codes("commune")
    crosswalk = Crosswalk.load(geodata, None, set(communes))
    districts = gpd.read_file(geodata / FORMER_DISTRICTS_FILE).to_crs(4326)
    outline = gpd.read_file(geodata / PROVINCE_FILE).to_crs(4326).geometry.union_all()
    rows = []
    for code, shape in zip(districts["code"], districts.geometry, strict=True):
        members = sorted(c for c in communes if crosswalk.former_district[c] == code)
        if not members:
            continue
        shape = shape.intersection(outline)
        points = spread_points(shape, len(members))
        cells = voronoi_diagram(MultiPoint(points), envelope=box(*shape.buffer(0.1).bounds)).geoms
        for commune, point in zip(members, points, strict=True):
            cell = next(c for c in cells if c.contains(point))
            rows.append((commune, units.name(commune), units.parent(commune), cell.intersection(shape)))
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": "commune",
            "parent_code": [r[2] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs=4326,
    )


def geodata_with_communes(folder: Path) -> Path:
    """A copy of ``geodata/`` in ``folder``, with the communes' polygons installed."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in GEODATA.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    commune_polygons(GEODATA).to_file(folder / COMMUNES_FILE, driver="GeoJSON")
    return folder


if __name__ == "__main__":
    print(geodata_with_communes(Path(sys.argv[1])) / COMMUNES_FILE)
