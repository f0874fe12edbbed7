"""Boundaries: the served layer matches the unit table; points are placed by spatial join."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from ioc.geo import Locator, installed_layer, load_layer, room_layers
from ioc.units import UnitTable
from layouts.figures import fit_zoom, geo_view
from tests.commune_fixture import geodata_with_communes


def test_layer_has_every_district_and_a_center_inside_the_province(geodata, units) -> None:
    layer = load_layer(geodata, "pre2025", "district", units)
    assert sorted(layer.codes) == sorted(units.level_codes("district"))
    assert 11.0 < layer.center[0] < 11.8 and 105.8 < layer.center[1] < 106.5
    assert len(json.loads(layer.geojson)["features"]) == 9


def test_points_fall_in_their_districts_and_outside_points_are_none(geodata) -> None:
    locator = Locator(geodata, "pre2025", "district")
    places = {
        "Tòa thánh Tây Ninh (Hòa Thành)": (106.1326, 11.2959, "709"),
        "Núi Bà Đen (Thành phố Tây Ninh)": (106.1708, 11.3745, "703"),
        "Thị xã Trảng Bàng": (106.3567, 11.0319, "712"),
        "Thành phố Hồ Chí Minh (outside)": (106.7009, 10.7769, None),
        "Hà Nội (outside)": (105.8342, 21.0278, None),
    }
    lons = [p[0] for p in places.values()] + [None, 500.0]
    lats = [p[1] for p in places.values()] + [11.3, 11.3]
    assert locator.locate(lons, lats) == [p[2] for p in places.values()] + [None, None]


def test_locating_many_points_is_one_join(geodata) -> None:
    """10,000 points across the province bounding box are placed in one call."""
    import numpy as np

    rng = np.random.default_rng(1)
    lons = list(rng.uniform(105.8, 106.5, 10_000))
    lats = list(rng.uniform(10.9, 11.8, 10_000))
    found = Locator(geodata, "pre2025", "district").locate(lons, lats)
    assert len(found) == 10_000
    assert set(found) - {None} <= {"703", *map(str, range(705, 713))}
    assert 0.3 < sum(f is not None for f in found) / 10_000 < 0.9


def _signed_area(ring: list[list[float]]) -> float:
    """Twice the area a ring encloses, positive when it runs anticlockwise (the shoelace)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


@pytest.mark.parametrize("scheme", ["pre2025", "2025"])
def test_every_served_polygon_runs_clockwise_with_its_holes_the_other_way(geodata, tmp_path, scheme) -> None:
    """The maps draw on a sphere, where an anticlockwise outer ring is the whole world less the
    unit: every layer a room serves (districts, former districts, installed commune polygons,
    the tiles) has its outer rings clockwise and its holes anticlockwise, whatever the file had."""
    folder = geodata_with_communes(tmp_path / "geodata")
    units = UnitTable.load(geodata, scheme)
    layers = [*room_layers(geodata, scheme, units), installed_layer(folder, scheme, "commune", units)]
    served = [layer for layer in layers if layer is not None]
    assert len(served) == 3 if scheme == "2025" else len(served) >= 1
    rings = 0
    for layer in served:
        for feature in json.loads(layer.geojson)["features"]:
            geometry = feature["geometry"]
            polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
            for outer, *holes in polygons:
                assert _signed_area(outer) < 0, (layer.name, feature["properties"]["code"])
                assert all(_signed_area(hole) > 0 for hole in holes), (
                    layer.name,
                    feature["properties"]["code"],
                )
                rings += 1 + len(holes)
    assert rings >= (96 if scheme == "2025" else 9)


def test_a_geo_map_frames_what_the_web_map_framed(geodata, units) -> None:
    """The box a room's map showed at a web map's zoom (512-pixel tiles, Web Mercator) is the
    box its geo map shows: the province fitted to 740 × 500 pixels fills one side."""
    layer = load_layer(geodata, "pre2025", "district", units)
    west, south, east, north = layer.bounds
    box = (740, 500)
    zoom = fit_zoom(layer.bounds, *box, pad=0)
    view = geo_view(layer.center, zoom, box)
    lon0, lon1 = view["lonaxis"]["range"]
    lat0, lat1 = view["lataxis"]["range"]
    assert lon0 <= west and east <= lon1 and (lon0 + lon1) / 2 == pytest.approx(layer.center[1])
    # one side fitted, the other shown within a few % (the zoom was fitted on degrees of
    # latitude, which Mercator stretches by 2 % at 11° N: as the web map showed it)
    lon_fit = (lon1 - lon0) / (east - west)
    lat_fit = (mercator(lat1) - mercator(lat0)) / (mercator(north) - mercator(south))
    assert min(lon_fit, lat_fit) == pytest.approx(1.0, abs=0.03), (lon_fit, lat_fit)
    shape = (lon1 - lon0) / (mercator(lat1) - mercator(lat0))
    assert shape == pytest.approx(740 / 500, rel=1e-9)  # the box's own shape
    deeper = geo_view(layer.center, zoom + 1, box)  # a zoom further in: half the span, same centre
    assert deeper["lonaxis"]["range"][1] - deeper["lonaxis"]["range"][0] == pytest.approx((lon1 - lon0) / 2)


def mercator(lat: float) -> float:
    return math.degrees(math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))
