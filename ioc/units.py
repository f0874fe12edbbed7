"""The administrative units of a coding scheme: codes, names, hierarchy and 2019 population, and
how records coded in either scheme count in them.

- ``pre2025``: old Tây Ninh (72) → its 9 districts → 94 communes.
- ``2025``: the province of today (80) → areas (khu vực: configured groups of communes, by default
  the 24 former districts) → 96 communes and wards. Areas take the districts' place for rooms,
  duty officers and alerts; records are never filed at an area.

A record's unit code means nothing without its scheme (codes are reused), so the state keeps it as
a *record key*: a pre-2025 code as it is, a 2025 code as ``2025:<code>`` (:func:`record_key`).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ioc.config import BoundarySettings, ConfigError
from ioc.crosswalk import CROSSWALK_FILE, Crosswalk, FormerDistrict, former_districts, province_population

UNIT_FILES = {"pre2025": "tayninh_units_pre2025.csv", "2025": "tayninh_units_2025.csv"}
SCHEMES = ("pre2025", "2025")
LEVELS = ("province", "district", "area", "commune")
MIDDLE_LEVEL = {"pre2025": "district", "2025": "area"}  # what a room between province and commune is
NEW_KEY = "2025:"
AREA_COLUMNS = ("commune_code", "area_code", "area_name")


def record_key(scheme: str, code: str) -> str:
    """The key a record coded ``code`` in ``scheme`` is kept and counted under."""
    return NEW_KEY + code if scheme == "2025" else code


def key_code(key: str) -> tuple[str, str]:
    """(scheme, code) of a record key."""
    return ("2025", key[len(NEW_KEY) :]) if key.startswith(NEW_KEY) else ("pre2025", key)


@dataclass(frozen=True)
class UnitTable:
    """Units of one scheme. ``frame`` has code, name, level, type, parent_code, pop_2019."""

    scheme: str
    frame: pl.DataFrame
    # How each record key counts in these units, with the unit's population (``rollup``).
    records_rollup: pl.DataFrame | None = field(default=None, repr=False)
    # Units whose figures are approximate because a unit of the other scheme was split between them.
    approximate: frozenset[str] = frozenset()
    # scheme -> the codes a record coded in that scheme may carry and be counted here.
    record_codes: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    # scheme -> codes of that scheme that exist but lie outside the province counted here.
    outside: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    # record key -> the name of the unit in its own scheme (case lists, dead letters).
    key_names: dict[str, str] = field(default_factory=dict, repr=False)
    # 2025: units whose population is estimated (old Long An's communes have no census figure here).
    estimated_population: frozenset[str] = frozenset()
    # 2025: commune -> the other areas (former districts) it also took old units from.
    split_areas: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, directory: Path, scheme: str, areas: Path | None = None) -> UnitTable:
        """The scheme's units; ``areas`` (2025 only) is a CSV grouping the communes into areas."""
        if scheme not in UNIT_FILES:
            raise ConfigError(f"boundaries.scheme: {scheme!r} is not one of {', '.join(SCHEMES)}")
        frame = _read_units(directory / UNIT_FILES[scheme])
        if scheme == "2025":
            return _new_province(directory, frame, areas)
        if areas is not None:
            raise ConfigError("boundaries.areas: areas group the communes of the 2025 scheme only")
        return _old_province(directory, frame)

    @classmethod
    def configured(cls, boundaries: BoundarySettings) -> UnitTable:
        """The units a deployment counts in (``[boundaries]``)."""
        return cls.load(boundaries.directory, boundaries.scheme, boundaries.areas)

    # The lookups below are read many times a page (a room asks for the province's code for
    # every target it shows): from dictionaries built once, not a filter of the frame each time.
    @functools.cached_property
    def _rows(self) -> dict[str, tuple[str, str, str | None]]:
        """code -> (level, name, parent code), in the table's order."""
        columns = ("code", "level", "name", "parent_code")
        return {
            str(code): (str(level), str(name), None if parent is None else str(parent))
            for code, level, name, parent in self.frame.select(columns).iter_rows()
        }

    @functools.cached_property
    def _by_parent(self) -> dict[str | None, list[str]]:
        found: dict[str | None, list[str]] = {}
        for code, (_level, _name, parent) in self._rows.items():
            found.setdefault(parent, []).append(code)
        return found

    @functools.cached_property
    def _by_level(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for code, (level, _name, _parent) in self._rows.items():
            found.setdefault(level, []).append(code)
        return found

    def _row(self, code: str) -> tuple[str, str, str | None]:
        try:
            return self._rows[code]
        except KeyError:
            raise IndexError(f"{code!r} is not a unit of the {self.scheme} scheme") from None

    @functools.cached_property
    def province(self) -> str:
        return self.level_codes("province")[0]

    @property
    def middle(self) -> str:
        """The level between province and commune: ``district`` before 2025, ``area`` after."""
        return MIDDLE_LEVEL[self.scheme]

    @property
    def codes(self) -> list[str]:
        return list(self._rows)

    def level_codes(self, level: str) -> list[str]:
        return list(self._by_level.get(level, []))

    def level(self, code: str) -> str | None:
        row = self._rows.get(code)
        return row[0] if row else None

    def name(self, code: str) -> str:
        return self._row(code)[1]

    def names(self) -> dict[str, str]:
        return {code: name for code, (_level, name, _parent) in self._rows.items()}

    def parent(self, code: str) -> str | None:
        return self._row(code)[2]

    def children(self, code: str) -> list[str]:
        return list(self._by_parent.get(code, []))

    def communes_of(self, code: str) -> list[str]:
        """The communes at or below ``code``."""
        if self.level(code) == "commune":
            return [code]
        return [c for child in self.children(code) for c in self.communes_of(child)]

    def rollup(self) -> pl.DataFrame:
        """Pairs (code, unit): a record with key ``code`` counts for ``unit``.

        ``unit_pop`` is the unit's 2019 population (the denominator of per-capita KPIs),
        ``unit_level`` its level (province, district or area, commune).
        """
        assert self.records_rollup is not None, "UnitTable.load builds the rollup"
        return self.records_rollup


def _read_units(path: Path) -> pl.DataFrame:
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
    codes = set(frame["code"].to_list())
    if len(codes) != frame.height:
        raise ConfigError(f"{path}: duplicate unit codes")
    orphans = frame.filter(pl.col("parent_code").is_not_null() & ~pl.col("parent_code").is_in(list(codes)))
    if orphans.height:
        raise ConfigError(f"{path}: parent codes not in the table: {orphans['parent_code'].to_list()}")
    if frame.filter(pl.col("level") == "province").height != 1:
        raise ConfigError(f"{path}: expected exactly one province row")
    return frame


def _chains(frame: pl.DataFrame) -> list[tuple[str, str]]:
    """(code, unit) for every unit and each of its ancestors, itself included."""
    parents = dict(zip(frame["code"], frame["parent_code"], strict=True))
    pairs: list[tuple[str, str]] = []
    for code in parents:
        unit: str | None = code
        while unit is not None:
            pairs.append((code, unit))
            unit = parents[unit]
    return pairs


def _rollup(pairs: list[tuple[str, str]], frame: pl.DataFrame) -> pl.DataFrame:
    out = pl.DataFrame(pairs, schema={"code": pl.String, "unit": pl.String}, orient="row").unique(
        maintain_order=True
    )
    population = frame.select(
        pl.col("code").alias("unit"),
        pl.col("pop_2019").alias("unit_pop"),
        pl.col("level").alias("unit_level"),
    )
    return out.join(population, on="unit", how="left")


def _old_province(directory: Path, frame: pl.DataFrame) -> UnitTable:
    """Old Tây Ninh, with the 2025 communes that lie in it counted in its districts: each in the
    one that gave it most old units. No unit is flagged approximate: a pre-2025 source (the usual
    case) counts exactly here."""
    pairs = _chains(frame)
    province = str(frame.filter(pl.col("level") == "province")["code"][0])
    names = dict(zip(frame["code"], frame["name"], strict=True))
    codes = {"pre2025": frozenset(frame["code"].to_list())}
    outside: dict[str, frozenset[str]] = {}
    key_names = dict(names)
    if (directory / CROSSWALK_FILE).exists():
        new = _read_units(directory / UNIT_FILES["2025"])
        new_names = dict(zip(new["code"], new["name"], strict=True))
        crosswalk = Crosswalk.load(directory, None, set(new.filter(pl.col("level") == "commune")["code"]))
        ours = sorted(n for n, district in crosswalk.former_district.items() if district in names)
        for commune in ours:
            district = crosswalk.former_district[commune]
            key = record_key("2025", commune)
            pairs += [(key, district), (key, province)]
            key_names[key] = new_names[commune]
        codes["2025"] = frozenset(ours)
        outside["2025"] = frozenset(set(new["code"]) - set(ours))
        outside["pre2025"] = frozenset(crosswalk.old_codes - set(names))
    return UnitTable(
        "pre2025",
        frame,
        records_rollup=_rollup(pairs, frame),
        record_codes=codes,
        outside=outside,
        key_names=key_names,
    )


def _new_province(directory: Path, frame: pl.DataFrame, areas_file: Path | None) -> UnitTable:
    """The province of today: its communes grouped into areas, records of both schemes counted."""
    old = _read_units(directory / UNIT_FILES["pre2025"])
    province = str(frame.filter(pl.col("level") == "province")["code"][0])
    communes = frame.filter(pl.col("level") == "commune")["code"].to_list()
    crosswalk = Crosswalk.load(
        directory, old.filter(pl.col("level") == "commune")["code"].to_list(), set(communes)
    )
    districts = former_districts(directory)
    areas, area_names = (
        _configured_areas(areas_file, communes, province)
        if areas_file
        else _default_areas(crosswalk, districts)
    )
    population: dict[str, int | None] = dict.fromkeys(communes) | crosswalk.population(
        dict(zip(old["code"], old["pop_2019"], strict=True))
    )
    estimates = crosswalk.estimated_population(districts)
    estimated = {c for c in communes if population.get(c) is None and c in estimates}
    population |= {c: estimates[c] for c in estimated}
    for code in area_names:
        members = [population.get(c) for c, a in areas.items() if a == code]
        population[code] = (
            None if any(p is None for p in members) else sum(p for p in members if p is not None)
        )
    population[province] = province_population(directory)
    area_rows = pl.DataFrame(
        {
            "code": list(area_names),
            "name": list(area_names.values()),
            "level": ["area"] * len(area_names),
            "type": ["Khu vực"] * len(area_names),
            "parent_code": [province] * len(area_names),
        }
    )
    frame = (
        pl.concat(
            [
                frame.drop("pop_2019").with_columns(
                    pl.col("code").replace_strict(areas, default=pl.col("parent_code")).alias("parent_code")
                ),
                area_rows,
            ]
        )
        .with_columns(
            pl.col("code").replace_strict(population, default=None, return_dtype=pl.Int64).alias("pop_2019")
        )
        .sort("level", "code")
    )
    pairs = [(record_key("2025", code), unit) for code, unit in _chains(frame) if code not in area_names]
    for old_code, new in crosswalk.target.items():
        pairs += [(old_code, new), (old_code, areas[new]), (old_code, province)]
    pairs += [(code, province) for code in sorted(crosswalk.old_codes - set(crosswalk.target))]
    like_districts: set[str] = set()
    if not areas_file:  # the areas are the former districts: a district's record counts in its area
        like_districts = set(crosswalk.old_district.values()) & set(area_names)
        pairs += [(code, code) for code in sorted(like_districts)]
    key_names = {record_key("2025", c): n for c, n in zip(frame["code"], frame["name"], strict=True)}
    key_names |= crosswalk.old_names | {
        "72": "Tỉnh Tây Ninh (cũ)",
        "80": "Tỉnh Long An (cũ)",
    }
    split = {
        c: [a for a in crosswalk.split_between[c] if a != areas[c] and a in area_names] for c in communes
    }
    return UnitTable(
        "2025",
        frame,
        records_rollup=_rollup(pairs, frame),
        # An area is approximate when a split old commune went to communes of different areas, or
        # when it counts its former district's own records and is not that district's territory.
        approximate=crosswalk.approximate
        | {areas[c] for g in crosswalk.shared if len({areas[u] for u in g}) > 1 for c in g}
        | _unlike_districts(crosswalk, areas, like_districts),
        record_codes={"2025": frozenset([province, *communes]), "pre2025": frozenset(crosswalk.old_codes)},
        outside={},
        key_names=key_names,
        estimated_population=frozenset(
            estimated | {a for a in area_names if any(areas[c] == a for c in estimated)}
        ),
        split_areas={c: s for c, s in split.items() if s} if not areas_file else {},
    )


def _unlike_districts(crosswalk: Crosswalk, areas: dict[str, str], like: set[str]) -> set[str]:
    """Of the areas counting their former district's records, those whose communes are not
    exactly its territory: a unit of the district went to another area, or one of the area's
    communes took a unit of another district."""
    unlike: set[str] = set()
    for new, olds in crosswalk.old_units.items():
        for old in olds:
            district = crosswalk.old_district[old]
            if areas[new] != district:
                unlike |= {areas[new], district}
    return unlike & like


def area_name(district: str, province: str, duplicated: bool) -> str:
    """ "Huyện Tân Châu" -> "Khu vực Tân Châu cũ"; a city or town keeps its kind."""
    kinds = {"Huyện ": "", "Thành phố ": "thành phố ", "Thị xã ": "thị xã "}
    for prefix, kind in kinds.items():
        if district.startswith(prefix):
            district = kind + district[len(prefix) :]
            break
    where = {"72": " (Tây Ninh cũ)", "80": " (Long An cũ)"}.get(province, "") if duplicated else ""
    return f"Khu vực {district} cũ{where}"


def _default_areas(
    crosswalk: Crosswalk, districts: dict[str, FormerDistrict]
) -> tuple[dict[str, str], dict[str, str]]:
    """Each commune in the former district that gave it most of its old units (ties: the district
    of the old unit whose code it kept); the areas are named after those districts."""
    areas = dict(crosswalk.former_district)
    used = sorted(set(areas.values()))
    if unknown := [c for c in used if c not in districts]:
        raise ConfigError(f"former districts {unknown} are not in the former districts' boundary file")
    bare = [area_name(districts[c].name, "", False) for c in used]
    names = {
        code: area_name(districts[code].name, districts[code].province, bare.count(plain) > 1)
        for code, plain in zip(used, bare, strict=True)
    }
    return areas, names


def _configured_areas(
    path: Path, communes: list[str], province: str
) -> tuple[dict[str, str], dict[str, str]]:
    """A province's own grouping: a CSV with commune_code, area_code, area_name (one row per commune)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if missing := [c for c in AREA_COLUMNS if c not in (reader.fieldnames or [])]:
                raise ConfigError(f"boundaries.areas: {path} lacks the columns {missing}")
            rows = list(reader)
    except OSError as exc:
        raise ConfigError(f"boundaries.areas: cannot read {path}: {exc}") from None
    areas: dict[str, str] = {}
    names: dict[str, str] = {}
    known = set(communes)
    for line, row in enumerate(rows, start=2):
        commune, area, name = (str(row.get(c) or "").strip() for c in AREA_COLUMNS)
        where = f"boundaries.areas: {path.name} line {line}"
        if commune not in known:
            raise ConfigError(f"{where}: {commune!r} is not a commune of the 2025 scheme")
        if commune in areas:
            raise ConfigError(f"{where}: commune {commune} is already in area {areas[commune]}")
        if not area or not name:
            raise ConfigError(f"{where}: area_code and area_name must not be empty")
        if area in known or area == province or len(area) > 32 or not area.replace("-", "").isalnum():
            raise ConfigError(
                f"{where}: area code {area!r} must be short letters and digits, not a unit's code"
            )
        if names.setdefault(area, name) != name:
            raise ConfigError(f"{where}: area {area} is named both {names[area]!r} and {name!r}")
        areas[commune] = area
    if absent := sorted(known - set(areas)):
        raise ConfigError(
            f"boundaries.areas: {path.name} puts no area on {len(absent)} communes, e.g. {absent[:5]}"
        )
    return areas, names
