"""Incremental KPIs: partial sums per commune and local day, kept beside the aggregator's state.

A feed whose additive KPIs are :class:`~ioc.kpis.Timed` measures keeps, for each of its times
(received, returned, deadline...), the sum of every measure per commune (``unit_code``) and local
day of that time. A cycle updates the sums by what it changed (each replaced record's old
version taken out, its new version put in: a few rows) instead of summing the whole state, and a
window's figures are the sums of its whole days plus, counted record by record, the records of
its partial days: the day of the time of the figures, and the first day of a window that does
not start at midnight (7 and 30 days). Those are found by comparing one time column of the
state with two instants each, which is all that still reads the whole state.

The sums are exactly those of the state: integers (seconds, not days), rebuilt from the state
whenever the state is restored (a worker taking over, a restart), never saved on their own. A
crash loses them with the state and both come back together from the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from ioc.kpis import TZ, Timed, rolled_up, window_start_times

DAY = "_day"
Finish = Callable[[pl.LazyFrame, pl.LazyFrame, datetime], pl.LazyFrame]


@dataclass(frozen=True)
class Incremental:
    """How a feed's KPIs are computed from partial sums: its timed measures, and ``finish``,
    which turns the sums per unit and window into the KPI table (the full computation's last
    step, shared with it)."""

    timed: tuple[Timed, ...]
    finish: Finish

    @property
    def names(self) -> list[str]:
        return [name for part in self.timed for name in part.measures]


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC)


def _contributions(frame: pl.DataFrame, part: Timed) -> pl.DataFrame:
    """What ``frame``'s records add to each commune and local day of ``part.column``."""
    return (
        frame.lazy()
        .filter(pl.col(part.column).is_not_null())
        .group_by(
            "unit_code",
            pl.col(part.column).dt.convert_time_zone(str(TZ)).dt.date().alias(DAY),
        )
        .agg(*[expr.cast(pl.Int64).sum().alias(name) for name, expr in part.measures.items()])
        .filter(_nonzero(list(part.measures)))
        .collect()
    )


def _nonzero(names: list[str]) -> pl.Expr:
    """A day that adds nothing is not kept: the ledger stays the size of what is counted."""
    return pl.any_horizontal(pl.col(names) != 0)


Span = tuple[str, date, datetime, datetime | None]


def _spans(part: Timed, starts: dict[str, datetime]) -> list[Span]:
    """Per window: its name, its first whole day (those before today are in the ledger), the
    instant that day begins, and the instant the window opens (None: counted since ever)."""
    spans: list[Span] = []
    for window, opens in starts.items():
        if part.before:
            spans.append((window, date.min, datetime.min.replace(tzinfo=UTC), None))
            continue
        first = opens.astimezone(TZ).date()
        if _local_midnight(first) != opens:
            first += timedelta(days=1)
        spans.append((window, first, _local_midnight(first), opens.astimezone(UTC)))
    return spans


@dataclass(frozen=True)
class Ledger:
    """The partial sums of one feed: per timed column, a frame of (unit_code, day, measures)."""

    incremental: Incremental
    parts: tuple[pl.DataFrame, ...]

    @classmethod
    def build(cls, incremental: Incremental, records: pl.DataFrame) -> Ledger:
        """The sums of a whole state (at a restore)."""
        return cls(incremental, tuple(_contributions(records, part) for part in incremental.timed))

    def update(self, added: pl.DataFrame, removed: pl.DataFrame) -> Ledger:
        """The sums once ``removed`` (the versions replaced) are taken out and ``added`` (those
        replacing them, and new records) put in."""
        if added.height == 0 and removed.height == 0:
            return self
        parts = []
        for part, held in zip(self.incremental.timed, self.parts, strict=True):
            names = list(part.measures)
            gone = _contributions(removed, part).with_columns(-pl.col(names))
            moved = pl.concat([held, _contributions(added, part), gone])
            summed = moved.group_by("unit_code", DAY).agg(pl.col(names).sum())
            parts.append(summed.filter(_nonzero(names)))  # a day whose records all moved away
        return Ledger(self.incremental, tuple(parts))

    @property
    def rows(self) -> int:
        return sum(part.height for part in self.parts)

    def sums(self, records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
        """Per unit and window, each measure's sum over the records that count at ``as_of``:
        whole days from the ledger, the rest from ``records`` (the state) by their times."""
        as_of = as_of.astimezone(UTC)
        today = as_of.astimezone(TZ).date()
        midnight = _local_midnight(today)
        starts = window_start_times(as_of)
        frames: list[pl.LazyFrame] = []
        for part, held in zip(self.incremental.timed, self.parts, strict=True):
            names = list(part.measures)
            when = pl.col(part.column)
            spans = _spans(part, starts)
            whole = [
                held.lazy()
                .filter(pl.col(DAY).is_between(first, today - timedelta(days=1)))
                .group_by("unit_code")
                .agg(pl.col(names).sum())
                .with_columns(pl.lit(window).alias("window"))
                for window, first, _begins, _start in spans
            ]
            # The records of the partial days: today's, and those before a window's first whole day.
            partial = when >= midnight
            for _window, _first, begins, opens in spans:
                if opens is not None and opens < begins:
                    partial = partial | when.is_between(opens, begins, closed="left")
            edge = records.filter(when.is_not_null() & partial).collect().lazy()
            counted = pl.col(part.column) < as_of if part.before else pl.col(part.column) <= as_of
            for window, _first, begins, opens in spans:
                inside = counted & ~when.is_between(begins, midnight, closed="left")
                if opens is not None:
                    inside = inside & (when >= opens)
                frames.append(
                    edge.filter(inside)
                    .group_by("unit_code")
                    .agg(*[expr.cast(pl.Int64).sum().alias(name) for name, expr in part.measures.items()])
                    .with_columns(pl.lit(window).alias("window"))
                )
            frames.extend(whole)
        per_code = (
            pl.concat(frames, how="diagonal")
            .group_by("unit_code", "window")
            .agg(pl.col(self.incremental.names).sum())
        )
        return rolled_up(per_code, rollup, ["window"], self.incremental.names)

    def kpis(self, records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
        """The KPI table, as the feed's full computation gives it."""
        return self.incremental.finish(self.sums(records, rollup, as_of), rollup, as_of)
