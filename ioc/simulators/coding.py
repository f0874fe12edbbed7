"""How a simulated source codes its records' units, as real sources do (docs/coding.md).

Given the pre-2025 unit table (old Tây Ninh), every record carries a pre-2025 code, as FEEDS.md
says and as the simulators always did. Given the 2025 table (the province of today: old Tây Ninh
and old Long An, 96 communes), a source codes *by date*, as the demo's connectors are told to read
it (``coding = "by_date"``): a record whose event time is before 00:00 Asia/Ho_Chi_Minh of the
switch (1 July 2025) carries a pre-2025 code, one of the old communes whose records count in its
2025 commune (the crosswalk's) or, for what a district did, that old commune's district; a later
record carries its 2025 commune's code (what districts did is filed at the commune since).

A record's code is drawn once, when the record is, so every re-send of it carries the same code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from ioc.config import PROJECT_ROOT
from ioc.crosswalk import Crosswalk
from ioc.simulators.timeline import TZ
from ioc.units import UnitTable

# The day the 2025 units took effect: the connectors' default `coding_switch`.
CODING_SWITCH = date(2025, 7, 1)
# In the 2025 scheme a world whose history does not reach the switch has an archive of the days
# around it (at a low volume: ioc.simulators.timeline.ARCHIVE_SHARE), so records of both schemes
# exist: dossiers and reports of June and July 2025, a few of them still open.
ARCHIVE_AROUND_SWITCH = timedelta(days=30)
GEODATA = PROJECT_ROOT / "geodata"


def switch_moment(day: date = CODING_SWITCH) -> float:
    """The switch as an epoch: 00:00 Asia/Ho_Chi_Minh of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()


def code_scheme(table_scheme: str, event: float, switch: float | None = None) -> str:
    """The scheme of the unit code a simulated record carries: pre-2025 with the pre-2025 table;
    with the 2025 table, pre-2025 if the record's event time (epoch) is before the switch, else 2025."""
    if table_scheme == "pre2025":
        return "pre2025"
    return "pre2025" if event < (switch_moment() if switch is None else switch) else "2025"


@dataclass(frozen=True)
class SourceCoding:
    """The codes a simulated source gives the units of its table (see the module's docstring)."""

    scheme: str  # of the unit table the source draws its units from
    switch: float = field(default_factory=switch_moment)
    # 2025 table: commune -> the pre-2025 communes whose records count in it (crosswalk target)
    old_units: dict[str, list[str]] = field(default_factory=dict)
    old_district: dict[str, str] = field(default_factory=dict)  # pre-2025 commune -> its district
    old_province: dict[str, str] = field(default_factory=dict)  # pre-2025 commune -> 72 or 80
    # 2025 table: commune -> the former district that gave it most old units (its polygon, profile)
    former_district: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, units: UnitTable, directory: Path = GEODATA, switch_day: date = CODING_SWITCH
    ) -> SourceCoding:
        if units.scheme == "pre2025":
            return cls("pre2025", switch_moment(switch_day))
        communes = units.level_codes("commune")
        crosswalk = Crosswalk.load(directory, None, set(communes))
        return cls(
            "2025",
            switch_moment(switch_day),
            old_units={c: [o for o in crosswalk.old_units[c] if crosswalk.target[o] == c] for c in communes},
            old_district=crosswalk.old_district,
            old_province=crosswalk.old_province,
            former_district={c: crosswalk.former_district[c] for c in communes},
        )

    def scheme_at(self, event: float) -> str:
        """The scheme of the code a record with this event time carries (:func:`code_scheme`)."""
        return code_scheme(self.scheme, event, self.switch)

    def code(self, unit: str, event: float, rng: random.Random, *, district: bool = False) -> str:
        """The code a record of ``unit`` (a unit of the table) with this event time carries;
        ``district``: it is what a district did before the switch (filed at the old district).
        With the pre-2025 table, ``unit`` itself (and ``rng`` is not used: the world stays as it was)."""
        if self.scheme_at(event) == "2025" or self.scheme == "pre2025":
            return unit
        old = rng.choice(self.old_units[unit])
        return self.old_district[old] if district else old

    def province(self, unit: str) -> str:
        """The pre-2025 province (72 or 80) a unit of the table lies in, mostly."""
        olds = self.old_units.get(unit)
        return self.old_province.get(olds[0], "72") if olds else "72"

    def archive(self) -> tuple[date, date] | None:
        """The days around the switch a world draws at a low volume when its full history does not
        reach them (first day, day after the last; 2025 table only)."""
        if self.scheme == "pre2025":
            return None
        day = datetime.fromtimestamp(self.switch, TZ).date()
        return day - ARCHIVE_AROUND_SWITCH, day + ARCHIVE_AROUND_SWITCH
