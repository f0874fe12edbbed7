"""The KPIs as they were known: hourly snapshots for ``hourly_days``, daily ones for
``daily_days``, in Parquet files the aggregators write (docs/history.md says why this store).

Each aggregator, at its first commit of every hour (Tây Ninh's time), writes what it has just
published of its feed: the meta and every KPI document (``<unit>|<window>``), one row each, with
the commit's time::

    <directory>/<feed>/hours/<YYYY-MM-DD>/<HH>.parquet     the day's hours, while it lasts
    <directory>/<feed>/hours/<YYYY-MM-DD>.parquet          a past day's hours, in one file
    <directory>/<feed>/days/<YYYY-MM-DD>.parquet           a day's last snapshot

Files are written to a temporary name and renamed, so a reader never sees half of one; an hour
already written (by another replica holding the lease before) is left alone. Once a day has
passed, its hours are compacted into one file sorted by document (unchanged documents repeat and
compress to almost nothing), its last snapshot is kept as the day's, and what is older than the
horizons is removed. Case lists, the map's points and the 766 index are not kept: an instant in the
past shows its figures.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from ioc import keys
from ioc.config import Settings
from ioc.kpis import TZ

log = logging.getLogger(__name__)

SCHEMA: dict[str, pl.DataType] = {"at": pl.Datetime("us", "UTC"), "field": pl.String(), "doc": pl.String()}
COMPRESSION_LEVEL = 10  # zstd: a day's file is written once and read often


def kept(name: str) -> bool:
    """A snapshot field history keeps: the meta and the KPI documents (``<unit>|<window>``)."""
    return name == keys.META_FIELD or (not name.startswith("_") and name.count("|") == 1)


def local_hour(moment: datetime) -> datetime:
    return moment.astimezone(TZ).replace(minute=0, second=0, microsecond=0)


def _write(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` whole or not at all (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(temporary, compression="zstd", compression_level=COMPRESSION_LEVEL, statistics=True)
    os.replace(temporary, path)


@dataclass(frozen=True)
class Paths:
    directory: Path
    feed: str

    @property
    def hours(self) -> Path:
        return self.directory / self.feed / "hours"

    @property
    def days(self) -> Path:
        return self.directory / self.feed / "days"

    def hour(self, hour: datetime) -> Path:
        return self.hours / hour.date().isoformat() / f"{hour.hour:02}.parquet"

    def open_day(self, day: date) -> Path:
        return self.hours / day.isoformat()

    def hours_of(self, day: date) -> Path:
        return self.hours / f"{day.isoformat()}.parquet"

    def day(self, day: date) -> Path:
        return self.days / f"{day.isoformat()}.parquet"


@dataclass
class HistoryWriter:
    """Writes a feed's hourly snapshots (see the module); ``offer`` after every commit."""

    directory: Path
    feed: str
    hourly_days: int
    daily_days: int
    last_hour: datetime | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.paths = Paths(self.directory, self.feed)

    def offer(self, as_of: datetime, snapshot: Mapping[str, str]) -> bool:
        """Keep ``snapshot`` (published at ``as_of``) when it is its hour's first; True if written."""
        hour = local_hour(as_of)
        if hour == self.last_hour:
            return False
        self.last_hour = hour
        path = self.paths.hour(hour)
        if path.exists() or self.paths.hours_of(hour.date()).exists():
            return False
        fields = [name for name in snapshot if kept(name)]
        frame = pl.DataFrame(
            {"at": [as_of] * len(fields), "field": fields, "doc": [snapshot[n] for n in fields]},
            schema=SCHEMA,
        )
        try:
            _write(frame, path)
            self.tidy(hour.date())
        except OSError as exc:  # a full or unwritable disk costs the history, never the live figures
            log.error("history of %s: %s not written: %s", self.feed, path, exc)
            return False
        return True

    def tidy(self, today: date) -> None:
        """Compact every past day still in hourly files, and remove what is past the horizons."""
        if self.paths.hours.exists():
            for folder in sorted(p for p in self.paths.hours.iterdir() if p.is_dir()):
                day = _day_of(folder.name)
                if day is not None and day < today:
                    self.compact(day)
        self._expire(self.paths.hours, today - timedelta(days=self.hourly_days))
        self._expire(self.paths.days, today - timedelta(days=self.daily_days))

    def compact(self, day: date) -> None:
        """A past day's hourly files become one file, and its last snapshot the day's."""
        folder = self.paths.open_day(day)
        files = sorted(folder.glob("[0-9][0-9].parquet"))
        if files:
            hours = pl.concat([pl.read_parquet(f) for f in files]).sort("field", "at")
            _write(hours, self.paths.hours_of(day))
            last = hours["at"].max()
            _write(hours.filter(pl.col("at") == last), self.paths.day(day))
        shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _expire(folder: Path, before: date) -> None:
        if not folder.exists():
            return
        for path in folder.glob("*.parquet"):
            day = _day_of(path.stem)
            if day is not None and day < before:
                path.unlink(missing_ok=True)


def instant(text: str, now: datetime | None = None) -> datetime:
    """An instant asked for (``?at=``): ISO 8601, Tây Ninh's time when it has no offset; not in
    the future. ValueError saying what is wrong."""
    text = text.strip()
    if re.fullmatch(r".+ \d\d:\d\d", text):  # "+07:00" unencoded in an address arrives as " 07:00"
        text = f"{text[:-6]}+{text[-5:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"at: {text[:40]!r} is not a time; write it as ISO 8601, e.g. 2026-11-05T08:00 "
            "(Tây Ninh's time) or 2026-11-05T01:00:00Z"
        ) from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=TZ)
    if moment > (now or datetime.now(UTC)):
        raise ValueError(f"at: {text[:40]!r} is in the future; history holds what was known")
    return moment


def _day_of(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


@dataclass(frozen=True)
class Past:
    """What history holds for an instant: the snapshot's time and the documents asked for."""

    at: datetime  # the snapshot's (its commit's), at or before the instant asked for
    docs: dict[str, str]


@dataclass(frozen=True)
class History:
    """Reads the snapshots the aggregators wrote (see the module)."""

    directory: Path
    hourly_days: int
    daily_days: int

    @classmethod
    def configured(cls, settings: Settings) -> History:
        wanted = settings.history
        return cls(wanted.folder(settings.data_dir), wanted.hourly_days, wanted.daily_days)

    def at(self, feed: str, moment: datetime, fields: Iterable[str]) -> Past | None:
        """The newest snapshot of ``feed`` at or before ``moment`` (an hourly one within the hourly
        horizon, else a daily one) with the asked ``fields`` (those it has); None: none kept."""
        paths = Paths(self.directory, feed)
        wanted = [*dict.fromkeys([keys.META_FIELD, *fields])]
        day = moment.astimezone(TZ).date()
        moment = moment.astimezone(UTC)  # as the files hold it
        for back in range(self.daily_days + 2):
            found = self._newest(paths, day - timedelta(days=back), moment)
            if found is not None:
                return self._read(found, wanted)
        return None

    def _newest(self, paths: Paths, day: date, moment: datetime) -> tuple[Path, datetime] | None:
        """The file and time of the newest snapshot of ``day`` at or before ``moment``."""
        candidates: list[Path] = []
        if (folder := paths.open_day(day)).is_dir():
            candidates += sorted(folder.glob("[0-9][0-9].parquet"), reverse=True)
        for path in (paths.hours_of(day), paths.day(day)):
            if path.exists():
                candidates.append(path)
        for path in candidates:
            times = pl.scan_parquet(path).select("at").unique().collect()["at"]
            before = times.filter(times <= moment)
            if before.len():
                return path, before.max()  # type: ignore[return-value]
        return None

    @staticmethod
    def _read(found: tuple[Path, datetime], wanted: list[str]) -> Past:
        path, at = found
        rows = (
            pl.scan_parquet(path)
            .filter((pl.col("at") == at) & pl.col("field").is_in(wanted))
            .select("field", "doc")
            .collect()
        )
        return Past(at, dict(zip(rows["field"].to_list(), rows["doc"].to_list(), strict=True)))

    def span(self, feed: str) -> tuple[date, date] | None:
        """The first and last day history holds of ``feed``."""
        paths = Paths(self.directory, feed)
        days = [
            d
            for folder in (paths.hours, paths.days)
            if folder.exists()
            for p in folder.iterdir()
            if (d := _day_of(p.name.removesuffix(".parquet"))) is not None
        ]
        return (min(days), max(days)) if days else None
