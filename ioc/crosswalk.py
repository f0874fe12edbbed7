"""The two coding schemes side by side: GSO's official conversion table (July 2025) read once.

Records carry unit codes in either scheme (a connector's ``coding``), and codes are reused between
schemes (25459 is old Phường 3 and new Phường Tân Ninh), so a record's code is kept with its
scheme as a *record key* (:func:`ioc.units.record_key`). The aggregators count every record in the
configured scheme's units:

In the 2025 scheme (the province of today, code 80: old Tây Ninh and old Long An):

- a 2025 code counts in its commune, the commune's area and the province, exactly;
- a pre-2025 commune merged whole into a 2025 unit counts there, exactly;
- a commune split between several 2025 units ("Nhập một phần") cannot be divided without its
  records' locations: its records count in one of them (the unit that kept its code, otherwise
  the first the table lists) and every 2025 unit that took a part of it is flagged
  ``approximate`` (one may count too much, the others too little);
- pre-2025 district-level records count in the area of that former district when the areas are
  the default ones (flagged approximate where the area is not the district's territory), else
  for the new province only; province-level records count for the new province.

In the pre-2025 scheme (old Tây Ninh, code 72, with its 9 districts):

- a 2025 commune of old Tây Ninh counts for province 72 and for the former district that gave it
  most of its old units (that district is flagged approximate when the commune also took units
  from another district); it counts in no pre-2025 commune (a 2025 commune is several of them);
- a 2025 commune of old Long An, or the new province's own code, lies outside old Tây Ninh.

Changing the scheme re-counts from the aggregator's state: nothing is re-ingested.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ioc.config import ConfigError

CROSSWALK_FILE = "tayninh_crosswalk_2025.csv"
PROVINCE_FILE = "tayninh_province_2025.geojson"  # carries the new province's 2019 population
FORMER_DISTRICTS_FILE = "tayninh2025_former_districts.geojson"  # and each former district's
COLUMNS = (
    "new_code",
    "old_code",
    "old_name",
    "old_district_code",
    "old_district_name",
    "old_province_code",
    "merge_type",
)
OLD_TAY_NINH = "72"


@dataclass(frozen=True)
class FormerDistrict:
    code: str
    name: str  # "Huyện Tân Châu"
    province: str  # pre-2025 province: 72 Tây Ninh, 80 Long An
    pop_2019: int | None


@dataclass(frozen=True)
class Crosswalk:
    target: dict[str, str]  # pre-2025 commune -> the 2025 unit its records count in
    approximate: frozenset[str]  # 2025 units whose figures are approximate
    old_units: dict[str, list[str]]  # 2025 unit -> the pre-2025 communes that went into it
    old_names: dict[str, str]  # pre-2025 code (commune, district) -> its name
    old_district: dict[str, str]  # pre-2025 commune -> its district
    old_province: dict[str, str]  # pre-2025 commune or district -> its province (72 or 80)
    former_district: dict[str, str]  # 2025 unit -> the former district that gave most old units
    split_between: dict[str, list[str]]  # 2025 unit -> every former district it took units from
    shared: tuple[frozenset[str], ...]  # for each split pre-2025 commune, the 2025 units sharing it

    @classmethod
    def load(cls, directory: Path, old_communes: list[str] | None, new_codes: set[str]) -> Crosswalk:
        path = directory / CROSSWALK_FILE
        try:
            frame = pl.read_csv(path, infer_schema=False)
        except FileNotFoundError:
            raise ConfigError(f"the 2025 scheme needs the crosswalk {path}") from None
        if missing := [c for c in COLUMNS if c not in frame.columns]:
            raise ConfigError(f"{path}: missing columns {missing}")
        if bad := sorted(set(frame["merge_type"]) - {"whole", "part"}):
            raise ConfigError(f"{path}: merge_type must be whole or part, not {bad}")
        if unknown := sorted(set(frame["new_code"]) - new_codes):
            raise ConfigError(f"{path}: new codes not in the 2025 unit table: {unknown[:5]}")
        if absent := sorted(new_codes - set(frame["new_code"])):
            raise ConfigError(f"{path}: 2025 units without any pre-2025 unit: {absent[:5]}")
        rows: dict[str, list[tuple[str, str]]] = {}
        old_units: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        district: dict[str, str] = {}
        province: dict[str, str] = {}
        for new, old, old_name, dcode, dname, pcode, merge in frame.select(COLUMNS).iter_rows():
            rows.setdefault(old, []).append((new, merge))
            old_units.setdefault(new, []).append(old)
            names[old], names[dcode] = old_name, dname
            district[old] = dcode
            province[old] = province[dcode] = pcode
        if old_communes is not None and (absent := [c for c in old_communes if c not in rows]):
            raise ConfigError(f"{path}: pre-2025 communes missing from the crosswalk: {absent[:5]}")
        target: dict[str, str] = {}
        shared: list[frozenset[str]] = []
        for old, pairs in rows.items():
            if len(pairs) == 1 and pairs[0][1] == "whole":
                target[old] = pairs[0][0]
                continue
            target[old] = next((new for new, _ in pairs if new == old), pairs[0][0])
            shared.append(frozenset(new for new, _ in pairs))
        approximate = set().union(*shared)
        former: dict[str, str] = {}
        split: dict[str, list[str]] = {}
        for new, olds in old_units.items():
            counts = Counter(district[o] for o in olds)
            best = max(counts.values())
            tied = sorted(d for d, n in counts.items() if n == best)
            # A tie goes to the district of the old unit whose code the new one kept.
            former[new] = district[new] if new in olds and district[new] in tied else tied[0]
            split[new] = sorted(counts)
        return cls(
            target, frozenset(approximate), old_units, names, district, province, former, split, tuple(shared)
        )

    @property
    def old_codes(self) -> set[str]:
        """Every pre-2025 code a record of the new province may carry: communes, districts, the
        two old provinces (72 Tây Ninh, 80 Long An)."""
        return set(self.target) | set(self.old_district.values()) | set(self.old_province.values())

    def population(self, old_population: dict[str, int | None]) -> dict[str, int | None]:
        """2019 population of each 2025 unit: the sum of its old communes (a split commune counted
        where its records go, so those figures are approximate too). None when one old commune
        has no figure (old Long An's: see :meth:`estimated_population`)."""
        out: dict[str, int | None] = {}
        for old, new in self.target.items():
            value = old_population.get(old)
            if new in out and out[new] is None:
                continue
            out[new] = None if value is None else (out.get(new) or 0) + value
        return out

    def estimated_population(self, districts: dict[str, FormerDistrict]) -> dict[str, int]:
        """A 2025 unit's 2019 population estimated from its former districts' census totals,
        shared equally among each district's old communes (for units with no commune figures)."""
        per_district = Counter(self.old_district[o] for o in self.target)
        out: Counter[str] = Counter()
        for old, new in self.target.items():
            d = districts.get(self.old_district[old])
            if d is not None and d.pop_2019:
                out[new] += round(d.pop_2019 / per_district[d.code])
        return dict(out)


def former_districts(directory: Path) -> dict[str, FormerDistrict]:
    """The 24 former districts of the new province, from their boundary file's properties."""
    path = directory / FORMER_DISTRICTS_FILE
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: cannot read the former districts: {exc}") from None
    out: dict[str, FormerDistrict] = {}
    for feature in features:
        p = feature.get("properties") or {}
        code = str(p.get("code", ""))
        pop = p.get("pop_2019")
        out[code] = FormerDistrict(code, str(p.get("name", code)), str(p.get("parent_code", "")), pop)
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
