"""Medians kept per unit and window, changed by what a cycle changed (issue 19).

A median does not add up, so the partial sums of :mod:`ioc.ledger` cannot give it. The book
keeps, for each :class:`~ioc.kpis.Median` KPI, unit and window, the values counted in the window
in a sorted list (``sortedcontainers.SortedList``, a multiset): a cycle removes the values of
the record versions it replaced and adds those of the versions replacing them, and as the time
of the figures moves, the values whose time left a window (or entered it). Those are found by
comparing one time column of the state with each window's bounds before and after, the only pass
over the state; a median is then read from the middle of its list.

A record counts for its commune and each ancestor (the rollup), as the whole-state computation
(:func:`~ioc.kpis.medians_by_unit`) counts it, and the median of the two middle values is taken
by Polars, as that computation takes it, so both give the same floats. The book is not saved: it
is built from the state when first asked for figures (after a restore, a lease taken over).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import polars as pl
from sortedcontainers import SortedList

from ioc.kpis import UTC_TIME, Median, window_start_times, with_medians

log = logging.getLogger(__name__)
# More changed values than this in one go (a calendar window starting again at midnight, the
# first of a month or of a year; a backfill): the lists are built again from the state, in
# Polars, instead of changed value by value in Python.
REBUILD_ROWS = 20_000
Bounds = dict[str, tuple[datetime, datetime]]  # per window: its first and last instant


def bounds_at(as_of: datetime) -> Bounds:
    as_of = as_of.astimezone(UTC)
    return {window: (start.astimezone(UTC), as_of) for window, start in window_start_times(as_of).items()}


class MedianBook:
    """The values behind each median, per unit and window, as of the last figures.

    ``version`` counts the changes applied: a :class:`~ioc.ledger.Ledger` remembers the version
    it was updated to, so a ledger that is not the latest of its line (a cycle whose commit was
    abandoned) is never given a book that moved on without it.
    """

    def __init__(self, medians: tuple[Median, ...]) -> None:
        self.medians = medians
        self.version = 0
        self.bounds: Bounds | None = None  # None: not built yet
        # each unit a commune counts for (the rollup's code and unit)
        self.codes = pl.DataFrame(schema={"code": pl.String, "unit": pl.String})
        self.lists: dict[tuple[int, str, str], SortedList] = {}

    def build(self, records: pl.DataFrame | pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> None:
        """Every list from the whole state (``records``), for the figures at ``as_of``."""
        codes = self.codes = rollup.select("code", "unit").collect()
        self.bounds = bounds_at(as_of)
        self.lists = {}
        for index, median in enumerate(self.medians):
            members = (
                self._members(records, median, self.bounds)
                .join(codes.lazy(), left_on="unit_code", right_on="code")
                .group_by("unit", "window")
                .agg(pl.col("value").sort())
                .collect()
            )
            for unit, window, values in members.iter_rows():
                self.lists[(index, unit, window)] = SortedList(values)

    def apply(self, added: pl.DataFrame, removed: pl.DataFrame) -> None:
        """The versions ``removed`` (replaced) taken out and ``added`` put in, in the windows of
        the last figures (a book not built yet is built later from the state, which has them)."""
        self.version += 1
        bounds = self.bounds
        if bounds is None:
            return
        if added.height + removed.height > REBUILD_ROWS:
            self.bounds, self.lists = None, {}  # built from the state at the next figures
            return
        self.bounds = None  # until the change is done: an error half-way leaves it to be rebuilt
        try:
            for index, median in enumerate(self.medians):
                self._change(
                    index,
                    pl.concat(
                        [
                            self._members(removed, median, bounds).with_columns(sign=pl.lit(-1)),
                            self._members(added, median, bounds).with_columns(sign=pl.lit(1)),
                        ]
                    ),
                )
        except _NotHeld as lost:
            self._forget(lost)
            return
        self.bounds = bounds

    def advance(self, records: pl.DataFrame | pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> None:
        """The windows moved to the figures at ``as_of`` (``records``: the state the book holds)."""
        if self.bounds is None:
            self.build(records, rollup, as_of)
            return
        before, after = self.bounds, bounds_at(as_of)
        if before == after:
            return
        self.bounds = None  # until the windows have moved: an error half-way leaves it to be rebuilt
        try:
            self._move(records, before, after)
        except (_NotHeld, _Many) as moved:
            if isinstance(moved, _NotHeld):
                self._forget(moved)
            self.build(records, rollup, as_of)
            return
        self.bounds = after

    def _move(self, records: pl.DataFrame | pl.LazyFrame, before: Bounds, after: Bounds) -> None:
        moves: list[tuple[int, pl.LazyFrame]] = []
        for index, median in enumerate(self.medians):
            time = pl.col(median.column)
            inside = {w: (time.is_between(*before[w]), time.is_between(*after[w])) for w in after}
            moved = (
                records.lazy()
                .filter(_counted(median) & pl.any_horizontal([was != now for was, now in inside.values()]))
                .select("unit_code", median.column, pl.col(median.value).alias("value"))
                .collect()
            )
            if moved.height > REBUILD_ROWS:
                raise _Many
            if moved.height == 0:
                continue
            windows = [
                moved.lazy()
                .filter(was != now)
                .select(
                    "unit_code",
                    pl.lit(window).alias("window"),
                    "value",
                    sign=pl.when(now).then(1).otherwise(-1),
                )
                for window, (was, now) in inside.items()
            ]
            moves.append((index, pl.concat(windows)))
        for index, changes in moves:  # only once none is too many
            self._change(index, changes)

    def _forget(self, lost: _NotHeld) -> None:
        # cannot happen while versions are applied in order; if it did, the book is wrong: it is
        # built again from the state at the next figures
        log.error("median book: %s; built again from the state", lost)
        self.bounds, self.lists = None, {}

    def attach(self, summed: pl.LazyFrame) -> pl.LazyFrame:
        return with_medians(summed, self.frame())

    def frame(self) -> pl.LazyFrame:
        """Per unit and window, each median (units and windows with no value have no row)."""
        joined: pl.LazyFrame | None = None
        for index, median in enumerate(self.medians):
            rows = [
                (unit, window, values[(len(values) - 1) // 2], values[len(values) // 2])
                for (i, unit, window), values in self.lists.items()
                if i == index
            ]
            middles = pl.LazyFrame(
                rows,
                schema={"unit": pl.String, "window": pl.String, "lo": pl.Float64, "hi": pl.Float64},
                orient="row",
            ).select("unit", "window", pl.concat_list("lo", "hi").list.median().alias(median.name))
            joined = (
                middles
                if joined is None
                else joined.join(middles, on=["unit", "window"], how="full", coalesce=True)
            )
        assert joined is not None, "a book has at least one median"
        return joined

    def _members(self, frame: pl.DataFrame | pl.LazyFrame, median: Median, bounds: Bounds) -> pl.LazyFrame:
        """(unit_code, window, value) of each counted record in each window of ``bounds``."""
        table = pl.LazyFrame(
            {
                "window": list(bounds),
                "start": [b[0] for b in bounds.values()],
                "end": [b[1] for b in bounds.values()],
            },
            schema={"window": pl.String, "start": UTC_TIME, "end": UTC_TIME},
        )
        return (
            frame.lazy()
            .filter(_counted(median))
            .select("unit_code", median.column, pl.col(median.value).alias("value"))
            .join(table, how="cross")
            .filter(pl.col(median.column).is_between("start", "end"))
            .select("unit_code", "window", "value")
        )

    def _change(self, index: int, changes: pl.LazyFrame) -> None:
        """Values put in (``sign`` 1) and taken out (-1) of the lists of each unit their
        commune counts for; a value both taken out and put back is left alone."""
        net = (
            changes.join(self.codes.lazy(), left_on="unit_code", right_on="code")  # outside: nowhere
            .group_by("unit", "window", "value")
            .agg(pl.col("sign").sum())
            .filter(pl.col("sign") != 0)
            .collect()
        )
        added: dict[tuple[int, str, str], list[float]] = {}
        for unit, window, value, sign in net.iter_rows():
            key = (index, unit, window)
            if sign > 0:
                added.setdefault(key, []).extend([value] * sign)
                continue
            values = self.lists.get(key)
            if values is None or values.count(value) < -sign:  # no NaN here: it is not counted
                raise _NotHeld(f"{-sign} × {value!r} not held for {key}")
            for _ in range(-sign):
                values.remove(value)
            if not values:
                del self.lists[key]
        for key, values in added.items():
            self.lists.setdefault(key, SortedList()).update(values)


def _counted(median: Median) -> pl.Expr:
    """A record counted in a median: NaN is not a value (it would break the lists' order)."""
    value = pl.col(median.value)
    return median.counted & value.is_not_null() & value.is_not_nan() & pl.col(median.column).is_not_null()


class _Many(Exception):
    """Too many values move at once: the lists are built again from the state."""


class _NotHeld(Exception):
    """A value to take out is not in its list: the book does not match the state."""
