"""Records coded in the pre-2025 scheme, counted in the units of the 2025 scheme.

The feeds code their records in the pre-2025 scheme (FEEDS.md), and the raw streams keep them as
sent. When ``boundaries.scheme = "2025"`` the aggregators count each record in the new units
through GSO's official conversion table (``geodata/tayninh_crosswalk_2025.csv``):

- a pre-2025 commune merged whole into a 2025 unit counts there, exactly;
- a commune split between several 2025 units ("Nhập một phần") cannot be divided without its
  records' locations: its records count in one of them (the unit that kept its code, otherwise
  the first the table lists) and every 2025 unit that took a part of it is flagged
  ``approximate`` (one may count too much, the others too little);
- district- and province-level records count for the new province only;
- every record counts for the new province (80), so its figures are exact.

Changing the scheme re-counts from the aggregator's state: nothing is re-ingested.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ioc.config import ConfigError

CROSSWALK_FILE = "tayninh_crosswalk_2025.csv"
PROVINCE_FILE = "tayninh_province_2025.geojson"  # carries the new province's 2019 population
COLUMNS = ("new_code", "old_code", "merge_type")


@dataclass(frozen=True)
class Crosswalk:
    target: dict[str, str]  # pre-2025 commune -> the 2025 unit its records count in
    approximate: frozenset[str]  # 2025 units whose figures are approximate

    @classmethod
    def load(cls, directory: Path, old_communes: list[str], new_codes: set[str]) -> Crosswalk:
        path = directory / CROSSWALK_FILE
        try:
            frame = pl.read_csv(path, infer_schema=False)
        except FileNotFoundError:
            raise ConfigError(f"boundaries.scheme = 2025 needs the crosswalk {path}") from None
        if missing := [c for c in COLUMNS if c not in frame.columns]:
            raise ConfigError(f"{path}: missing columns {missing}")
        if bad := sorted(set(frame["merge_type"]) - {"whole", "part"}):
            raise ConfigError(f"{path}: merge_type must be whole or part, not {bad}")
        if unknown := sorted(set(frame["new_code"]) - new_codes):
            raise ConfigError(f"{path}: new codes not in the 2025 unit table: {unknown[:5]}")
        rows: dict[str, list[tuple[str, str]]] = {}
        for new, old, merge in frame.select(COLUMNS).iter_rows():
            rows.setdefault(old, []).append((new, merge))
        if absent := [c for c in old_communes if c not in rows]:
            raise ConfigError(f"{path}: pre-2025 communes missing from the crosswalk: {absent[:5]}")
        target: dict[str, str] = {}
        approximate: set[str] = set()
        for old in old_communes:
            pairs = rows[old]
            if len(pairs) == 1 and pairs[0][1] == "whole":
                target[old] = pairs[0][0]
                continue
            target[old] = next((new for new, _ in pairs if new == old), pairs[0][0])
            approximate |= {new for new, _ in pairs}
        return cls(target, frozenset(approximate))

    def rollup(self, old_codes: list[str], province: str, population: dict[str, int | None]) -> pl.DataFrame:
        """Pairs (pre-2025 code, 2025 unit) with the unit's population, as ``UnitTable.rollup``."""
        pairs = [(code, province) for code in old_codes]
        pairs += [(old, new) for old, new in self.target.items()]
        # Units no pre-2025 record reaches (old Long An's) still get their (empty) KPIs: a
        # placeholder code no record can carry.
        pairs += [
            (f"~{unit}", unit)
            for unit in population
            if unit != province and unit not in set(self.target.values())
        ]
        frame = pl.DataFrame(pairs, schema={"code": pl.String, "unit": pl.String}, orient="row")
        pop = pl.DataFrame(
            {"unit": list(population), "unit_pop": list(population.values())},
            schema={"unit": pl.String, "unit_pop": pl.Int64},
        )
        return frame.join(pop, on="unit", how="left")

    def population(self, old_population: dict[str, int | None]) -> dict[str, int | None]:
        """2019 population of each 2025 unit that receives records: the sum of its old communes
        (a split commune counted where its records go, so those figures are approximate too)."""
        out: dict[str, int | None] = {}
        for old, new in self.target.items():
            value = old_population.get(old)
            if new in out and out[new] is None:
                continue  # one old commune without a figure: the unit has none
            out[new] = None if value is None else (out.get(new) or 0) + value
        return out


def province_population(directory: Path) -> int | None:
    """The 2019 census population of the new province (old Tây Ninh and old Long An together)."""
    path = directory / PROVINCE_FILE
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError):
        return None
    value = features[0]["properties"].get("pop_2019") if features else None
    return int(value) if value is not None else None
