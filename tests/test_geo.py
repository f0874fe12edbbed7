"""Boundaries: the served layer matches the unit table; points are placed by spatial join."""

from __future__ import annotations

import json

from ioc.geo import Locator, load_layer


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
