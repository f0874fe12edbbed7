"""The administrative units of a coding scheme: codes, names, hierarchy and 2019 population."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ioc.config import ConfigError

UNIT_FILES = {"pre2025": "tayninh_units_pre2025.csv", "2025": "tayninh_units_2025.csv"}
SOURCE_SCHEME = "pre2025"  # the scheme the feeds code their records in (FEEDS.md, general rules)
LEVELS = ("province", "district", "commune")


@dataclass(frozen=True)
class UnitTable:
    """Units of one scheme. ``frame`` has code, name, level, type, parent_code, pop_2019."""

    scheme: str
    frame: pl.DataFrame
    # 2025: how pre-2025 coded records count in these units (ioc/crosswalk.py), and the units
    # whose figures are approximate because a pre-2025 commune was split between them.
    records_rollup: pl.DataFrame | None = field(default=None, repr=False)
    approximate: frozenset[str] = frozenset()

    @classmethod
    def load(cls, directory: Path, scheme: str) -> UnitTable:
        path = directory / UNIT_FILES[scheme]
        try:
            raw = pl.read_csv(path, schema_overrides={"code": pl.String, "parent_code": pl.String})
        except FileNotFoundError:
            raise ConfigError(f"boundaries.directory: no unit table {path}") from None
        frame = raw.select(
            "code",
            "name",
            "level",
            "type",
            "parent_code",
            pl.col("pop_2019").cast(pl.Int64)
            if "pop_2019" in raw.columns
            else pl.lit(None, pl.Int64).alias("pop_2019"),
        ).sort("code")
        table = cls(scheme=scheme, frame=frame)
        table._validate(path)
        return table if scheme == SOURCE_SCHEME else table._through_crosswalk(directory)

    def _through_crosswalk(self, directory: Path) -> UnitTable:
        from ioc.crosswalk import Crosswalk, province_population

        old = UnitTable.load(directory, SOURCE_SCHEME)
        crosswalk = Crosswalk.load(directory, old.level_codes("commune"), set(self.codes))
        population = dict.fromkeys(self.codes) | crosswalk.population(
            dict(zip(old.frame["code"], old.frame["pop_2019"], strict=True))
        )
        population[self.province] = province_population(directory)
        frame = self.frame.with_columns(
            pl.col("code").replace_strict(population, default=None, return_dtype=pl.Int64).alias("pop_2019")
        )
        rollup = crosswalk.rollup(old.codes, self.province, population)
        return UnitTable(self.scheme, frame, records_rollup=rollup, approximate=crosswalk.approximate)

    def _validate(self, path: Path) -> None:
        codes = set(self.frame["code"].to_list())
        if len(codes) != self.frame.height:
            raise ConfigError(f"{path}: duplicate unit codes")
        orphans = self.frame.filter(
            pl.col("parent_code").is_not_null() & ~pl.col("parent_code").is_in(list(codes))
        )
        if orphans.height:
            raise ConfigError(f"{path}: parent codes not in the table: {orphans['parent_code'].to_list()}")
        if self.frame.filter(pl.col("level") == "province").height != 1:
            raise ConfigError(f"{path}: expected exactly one province row")

    @property
    def province(self) -> str:
        return str(self.frame.filter(pl.col("level") == "province")["code"][0])

    @property
    def codes(self) -> list[str]:
        return self.frame["code"].to_list()

    def level_codes(self, level: str) -> list[str]:
        return self.frame.filter(pl.col("level") == level)["code"].to_list()

    def name(self, code: str) -> str:
        return str(self.frame.filter(pl.col("code") == code)["name"][0])

    def names(self) -> dict[str, str]:
        return dict(zip(self.frame["code"], self.frame["name"], strict=True))

    def parent(self, code: str) -> str | None:
        value = self.frame.filter(pl.col("code") == code)["parent_code"][0]
        return None if value is None else str(value)

    def children(self, code: str) -> list[str]:
        return self.frame.filter(pl.col("parent_code") == code)["code"].to_list()

    def rollup(self) -> pl.DataFrame:
        """Pairs (code, unit): a record filed at ``code`` counts for ``unit``, itself and each ancestor.

        ``unit_pop`` is the unit's 2019 population (the denominator of per-capita KPIs).
        """
        if self.records_rollup is not None:
            return self.records_rollup
        parents = dict(zip(self.frame["code"], self.frame["parent_code"], strict=True))
        pairs: list[tuple[str, str]] = []
        for code in parents:
            unit: str | None = code
            while unit is not None:
                pairs.append((code, unit))
                unit = parents[unit]
        pairs_frame = pl.DataFrame(pairs, schema={"code": pl.String, "unit": pl.String}, orient="row")
        population = self.frame.select(pl.col("code").alias("unit"), pl.col("pop_2019").alias("unit_pop"))
        return pairs_frame.join(population, on="unit", how="left")
