"""Where simulated things happen, and who the simulated people are.

Points are drawn inside the real district polygons (weighted by 2019 population): old Tây Ninh's
districts with the pre-2025 unit table, the new province's 24 former districts with the 2025 one
(each 2025 commune in the former district that gave it most of its old units); names are
drawn from common Vietnamese family, middle and given names. The simulators keep every name and
id they make, so a test can look for them where they must not be.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from ioc.config import ConfigError
from ioc.geo import LAYER_FILES
from ioc.simulators.coding import SourceCoding
from ioc.units import UnitTable

FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Huỳnh",
    "Võ",
    "Phan",
    "Trương",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Ngô",
    "Dương",
]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hoàng", "Quốc", "Thu", "Hữu", "Kim"]
GIVEN = [
    "An", "Bình", "Châu", "Dũng", "Hà", "Hải", "Hạnh", "Hiếu", "Hòa", "Hùng", "Khánh", "Lan",
    "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Trang",
    "Tuấn", "Vy", "Yến",
]  # fmt: skip


def full_name(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def phone(rng: random.Random) -> str:
    return rng.choice(["09", "03", "08", "07"]) + "".join(str(rng.randrange(10)) for _ in range(8))


def citizen_id(rng: random.Random, province: str = "072") -> str:
    """A 12-digit id: province of birth, sex/century digit, year, then a random serial."""
    return (
        province + str(rng.choice([0, 1, 2, 3])) + f"{rng.randrange(100):02d}" + f"{rng.randrange(10**6):06d}"
    )


@dataclass
class Places:
    """Random points inside each district, drawn in proportion to its population, and the
    communes of the table in each (``coding``: the codes records give them, by date)."""

    districts: list[str]
    weights: list[float]
    polygons: dict[str, shapely.Geometry]
    communes: dict[str, list[str]]
    commune_weights: dict[str, list[float]]
    coding: SourceCoding

    @classmethod
    def load(cls, directory: Path, units: UnitTable) -> Places:
        coding = SourceCoding.of(units, directory)
        pops = dict(zip(units.frame["code"], units.frame["pop_2019"].fill_null(0), strict=True))
        if units.scheme == "2025":
            layer = LAYER_FILES[("2025", "former_district")]
            communes: dict[str, list[str]] = {}
            for commune in units.level_codes("commune"):
                communes.setdefault(coding.former_district[commune], []).append(commune)
        else:
            layer = LAYER_FILES[("pre2025", "district")]
            communes = {d: units.children(d) for d in units.level_codes("district")}
        frame = gpd.read_file(directory / layer).to_crs(4326)
        polygons = {str(c): g for c, g in zip(frame["code"], frame.geometry, strict=True)}
        districts = [d for d in sorted(communes) if d in polygons]
        if missing := sorted(set(communes) - set(polygons)):
            raise ConfigError(f"{directory / layer}: no polygon for the districts {missing}")
        weights = (
            [float(sum(pops[c] for c in communes[d])) for d in districts]
            if units.scheme == "2025"
            else [float(pops[d]) for d in districts]
        )
        return cls(
            districts=districts,
            weights=weights,
            polygons=polygons,
            communes={d: communes[d] for d in districts},
            commune_weights={d: [float(pops[c]) or 1.0 for c in communes[d]] for d in districts},
            coding=coding,
        )

    def district(self, rng: random.Random) -> str:
        return rng.choices(self.districts, weights=self.weights)[0]

    def commune(self, rng: random.Random, district: str) -> str:
        codes = self.communes[district]
        return rng.choices(codes, weights=self.commune_weights[district])[0] if codes else district

    def point(self, rng: random.Random, district: str) -> tuple[float, float]:
        """(lat, lon) uniformly inside the district."""
        polygon = self.polygons[district]
        minx, miny, maxx, maxy = polygon.bounds
        for _ in range(50):
            xs = np.array([rng.uniform(minx, maxx) for _ in range(8)])
            ys = np.array([rng.uniform(miny, maxy) for _ in range(8)])
            inside = shapely.contains_xy(polygon, xs, ys)
            if inside.any():
                i = int(np.argmax(inside))
                return round(float(ys[i]), 6), round(float(xs[i]), 6)
        point = polygon.representative_point()
        return round(point.y, 6), round(point.x, 6)
