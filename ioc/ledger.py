"""Incremental KPIs: partial sums per commune and local day, kept beside the aggregator's state.

A feed whose additive KPIs are :class:`~ioc.kpis.Timed` measures keeps, for each of its times
(received, returned, deadline...), the sum of every measure per commune (``unit_code``) and local
day of that time. A cycle updates the sums by what it changed (each replaced record's old
version taken out, its new version put in: a few rows) instead of summing the whole state, and a
window's figures are the sums of its whole days plus, counted record by record, the records of
its partial days: the day of the time of the figures, and the first day of a window that does
not start at midnight (7 and 30 days). Those are found by comparing one time column of the
state with two instants each, which is all that still reads the whole state.

An ``exact`` time (a counter's period start, shared by thousands of rows) is kept per instant
instead of per day, so every window is exact from the sums alone: such a feed needs no record
to count, and its records are dropped from the state once past the feed's re-delivery horizon
(``aggregator.horizons_h``), their sums kept. Those sums are then the only copy: they are saved
with the checkpoint, a field per day, in the same transaction as the state, and instants older
than :data:`EXACT_DAYS` are merged into their day (every window that reaches that far back
starts at a midnight).

The sums are exactly those of the state: integers (seconds, not days) where the measures are;
sums of a float measure (megabytes) may differ from the whole state's in the last bits. A day
ledger is rebuilt from the state whenever the state is restored, never saved on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import polars as pl
import polars.selectors as cs

from ioc.kpis import TZ, UTC_TIME, Timed, rolled_up, window_start_times
from ioc.streams import decode_frame, encode_frame

DAY = "_day"
AT = "_at"  # the instant of an exact time; null on a day's row
EXACT_DAYS = 35  # instants kept before they are merged into days: past the 30-day window's start
FIELD = b"l:"  # checkpoint fields of a saved ledger: l:<part>:<day ordinal>
META = b"lmeta"
Finish = Callable[[pl.LazyFrame, pl.LazyFrame, datetime], pl.LazyFrame]


class Book(Protocol):
    """What a feed keeps beside its sums for the KPIs that do not add up (a median: ``ioc.medians``;
    distinct people: ``ioc.people``), changed by what each cycle changed. A book changes in
    place: ``version`` counts the changes applied, so that a ledger that is not the latest of its
    line never uses a book that moved on without it."""

    version: int

    def apply(self, added: pl.DataFrame, removed: pl.DataFrame) -> None:
        """The versions ``removed`` (replaced) taken out and ``added`` put in."""

    def advance(self, records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> None:
        """Ready for the figures at ``as_of`` of ``records`` (the state, with the changes applied);
        built from them if not yet."""

    def attach(self, summed: pl.LazyFrame) -> pl.LazyFrame:
        """The sums per unit and window with what the book keeps, as ``finish`` takes them."""


@dataclass(frozen=True)
class Incremental:
    """How a feed's KPIs are computed from partial sums: its timed measures, ``finish``, which
    turns the sums per unit and window into the KPI table (the full computation's last step,
    shared with it), and for a feed whose time is exact, ``series``: the same for its hourly
    series from the sums per unit and hour."""

    timed: tuple[Timed, ...]
    finish: Finish
    series: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None
    # A new, empty book for the KPIs that do not add up (built from the state when first asked)
    book: Callable[[], Book] | None = None

    def __post_init__(self) -> None:
        if len({part.by for part in self.timed}) > 1:
            raise ValueError("every timed part of a feed keeps its sums by the same columns")

    def new_book(self) -> Book | None:
        return self.book() if self.book is not None else None

    @property
    def names(self) -> list[str]:
        return [name for part in self.timed for name in part.measures]

    @property
    def saved(self) -> bool:
        """The sums are saved with the checkpoint: some of them are of records no longer held."""
        return any(part.exact for part in self.timed)


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC)


def _local_day(column: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(str(TZ)).dt.date()


def _sums(part: Timed) -> list[pl.Expr]:
    return [expr.sum().alias(name) for name, expr in part.measures.items()]


def _whole_numbers(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Counts as Int64 (a sum of flags is unsigned: it must go below zero when taken out)."""
    return frame.with_columns(cs.integer().cast(pl.Int64))


def _contributions(frame: pl.DataFrame, part: Timed) -> pl.DataFrame:
    """What ``frame``'s records add to each commune and local day (and instant, if exact) of
    ``part.column`` (a part counted whatever the times: all on one day, ``date.min``)."""
    if part.column is None:
        timed, day = pl.lit(True), pl.lit(date.min)
    else:
        timed, day = pl.col(part.column).is_not_null(), _local_day(part.column)
    at = pl.col(part.column) if part.exact and part.column is not None else pl.lit(None, UTC_TIME)
    return (
        frame.lazy()
        .filter(timed)
        .group_by("unit_code", *part.by, day.alias(DAY), at.alias(AT))
        .agg(*_sums(part))
        .pipe(_whole_numbers)
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
        if part.before or part.column is None:
            spans.append((window, date.min, datetime.min.replace(tzinfo=UTC), None))
            continue
        first = opens.astimezone(TZ).date()
        if _local_midnight(first) != opens:
            first += timedelta(days=1)
        spans.append((window, first, _local_midnight(first), opens.astimezone(UTC)))
    return spans


def _span_table(spans: list[Span]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "window": [s[0] for s in spans],
            "first": [s[1] for s in spans],
            "begins": [s[2] for s in spans],
            "opens": [s[3] for s in spans],
        },
        schema={"window": pl.String, "first": pl.Date, "begins": UTC_TIME, "opens": UTC_TIME},
    )


@dataclass(frozen=True)
class Ledger:
    """The partial sums of one feed: per timed column, a frame of (unit_code, day, instant,
    measures); ``dirty``: the (part, day) saved sums that changed since the last checkpoint."""

    incremental: Incremental
    parts: tuple[pl.DataFrame, ...]
    dirty: frozenset[tuple[int, date]] = field(default=frozenset())
    # What the feed keeps beside the sums (None: everything adds up), and the book's version this
    # ledger was updated to: a book that moved on without it is not its own.
    book: Book | None = None
    book_version: int = 0
    # The records of exact times before this instant have been dropped from the state (their sums
    # are here): a row from before it may have been counted already. Saved with the sums.
    folded_before: datetime | None = None

    @classmethod
    def build(cls, incremental: Incremental, records: pl.DataFrame) -> Ledger:
        """The sums of a whole state (at a restore, for a ledger not saved)."""
        parts = tuple(_contributions(records, part) for part in incremental.timed)
        return cls(
            incremental, parts, _days(parts) if incremental.saved else frozenset(), incremental.new_book()
        )

    @classmethod
    def restore(cls, incremental: Incremental, saved: dict[bytes, bytes], records: pl.DataFrame) -> Ledger:
        """A saved ledger from the checkpoint's fields; built from ``records`` (the state) if the
        checkpoint has none (written before the ledger was saved: then nothing was dropped)."""
        if not incremental.saved or META not in saved:
            return cls.build(incremental, records)
        meta = json.loads(saved[META])
        if meta.get("measures", incremental.names) != incremental.names:
            raise ValueError(
                f"the checkpoint's saved sums are of the measures {meta['measures']}, the feed's are "
                f"{incremental.names}: sums of records no longer held cannot be recounted"
            )
        blobs: dict[int, list[pl.DataFrame]] = {}
        for name, blob in saved.items():
            if name.startswith(FIELD):
                index = int(name.split(b":")[1])
                blobs.setdefault(index, []).append(decode_frame(blob))
        empty = cls.build(incremental, records.clear()).parts
        parts = tuple(
            pl.concat([empty[i], *blobs.get(i, [])], how="vertical_relaxed") for i in range(len(empty))
        )
        folded = meta.get("folded_before")
        return cls(
            incremental,
            parts,
            folded_before=datetime.fromisoformat(folded) if folded else None,
            book=incremental.new_book(),
        )

    def update(self, added: pl.DataFrame, removed: pl.DataFrame) -> Ledger:
        """The sums once ``removed`` (the versions replaced) are taken out and ``added`` (those
        replacing them, and new records) put in."""
        if added.height == 0 and removed.height == 0:
            return self
        parts = []
        changed: set[tuple[int, date]] = set()
        for index, (part, held) in enumerate(zip(self.incremental.timed, self.parts, strict=True)):
            names = list(part.measures)
            came = _contributions(added, part)
            gone = _contributions(removed, part).with_columns(-pl.col(names))
            moved = pl.concat([held, came, gone])
            summed = (  # megabytes to the micro: what is taken out leaves no residue behind
                moved.group_by("unit_code", *part.by, DAY, AT)
                .agg(pl.col(names).sum())
                .with_columns(cs.float().round(6))
            )
            parts.append(summed.filter(_nonzero(names)))  # a day whose records all moved away
            if self.incremental.saved:
                changed |= {(index, d) for d in pl.concat([came[DAY], gone[DAY]]).unique().to_list()}
        book = self._own_book()
        if book is not None:
            book.apply(added, removed)
        version = book.version if book is not None else 0
        return replace(self, parts=tuple(parts), dirty=self.dirty | changed, book=book, book_version=version)

    def fold(self, cutoff: datetime) -> Ledger:
        """The same sums, the records before ``cutoff`` being dropped from the state."""
        if self.folded_before is not None and self.folded_before >= cutoff:
            return self
        return replace(self, folded_before=cutoff.astimezone(UTC))

    def compact(self, as_of: datetime, days: int = EXACT_DAYS) -> Ledger:
        """Instants of exact times older than ``days`` (at least :data:`EXACT_DAYS`) merged into
        their days."""
        before = as_of.astimezone(TZ).date() - timedelta(days=max(days, EXACT_DAYS))
        parts = []
        changed: set[tuple[int, date]] = set()
        for index, (part, held) in enumerate(zip(self.incremental.timed, self.parts, strict=True)):
            old = pl.col(AT).is_not_null() & (pl.col(DAY) < before)
            if not part.exact or not held.select(old.any()).item():
                parts.append(held)
                continue
            names = list(part.measures)
            merged = (
                held.filter(old)
                .group_by("unit_code", *part.by, DAY)
                .agg(pl.col(names).sum())
                .select("unit_code", *part.by, DAY, pl.lit(None, UTC_TIME).alias(AT), *names)
            )
            changed |= {(index, d) for d in merged[DAY].unique().to_list()}
            parts.append(pl.concat([held.filter(~old), merged]))
        if not changed:
            return self
        return replace(self, parts=tuple(parts), dirty=self.dirty | changed)

    def everything(self) -> Ledger:
        """The same sums, every saved day to be written (the checkpoint is rewritten whole)."""
        return replace(self, dirty=_days(self.parts) if self.incremental.saved else frozenset())

    def clean(self) -> Ledger:
        return replace(self, dirty=frozenset())

    def checkpoint_fields(self) -> tuple[dict[bytes, bytes], list[bytes]]:
        """The saved days that changed since the last checkpoint, ready for HSET, and the fields
        of days now empty, for HDEL (nothing for a ledger not saved)."""
        if not self.incremental.saved:
            return {}, []
        folded = self.folded_before.isoformat() if self.folded_before else None
        meta = {"exact_days": EXACT_DAYS, "measures": self.incremental.names, "folded_before": folded}
        fields: dict[bytes, bytes] = {META: json.dumps(meta).encode()}
        emptied: list[bytes] = []
        for index, day in sorted(self.dirty):
            name = FIELD + f"{index}:{day.toordinal()}".encode()
            rows = self.parts[index].filter(pl.col(DAY) == day)
            if rows.height:
                fields[name] = encode_frame(rows)
            else:
                emptied.append(name)
        return fields, emptied

    @property
    def rows(self) -> int:
        return sum(part.height for part in self.parts)

    def sums(self, records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
        """Per unit and window, each measure's sum over the records that count at ``as_of``:
        whole days (and instants) from the ledger, the rest from ``records`` (the state this
        ledger was updated to) by their times; beside them, what the book keeps."""
        as_of = as_of.astimezone(UTC)
        today = as_of.astimezone(TZ).date()
        midnight = _local_midnight(today)
        starts = window_start_times(as_of)
        frames: list[pl.LazyFrame] = []
        by = self.incremental.timed[0].by
        for part, held in zip(self.incremental.timed, self.parts, strict=True):
            names = list(part.measures)
            spans = _spans(part, starts)
            table = _span_table(spans)
            ledger = held.lazy().join(table, how="cross")
            whole = pl.col(AT).is_null() & pl.col(DAY).is_between("first", today - timedelta(days=1))
            if part.exact:  # every instant compared with the window itself: no record needed
                whole = whole | (
                    pl.col(AT).is_not_null() & (pl.col(AT) >= pl.col("opens")) & (pl.col(AT) <= as_of)
                )
            frames.append(ledger.filter(whole).group_by("unit_code", *by, "window").agg(pl.col(names).sum()))
            if not part.exact and part.column is not None:
                frames.append(_partial_days(part, records, spans, table, midnight, as_of))
        per_code = (
            pl.concat(frames, how="diagonal_relaxed")
            .group_by("unit_code", "window", *by)
            .agg(pl.col(self.incremental.names).sum())
        )
        summed = rolled_up(per_code, rollup, ["window", *by], self.incremental.names)
        book = self._own_book()
        if book is None:
            return summed
        book.advance(records, rollup, as_of)
        return book.attach(summed)

    def _own_book(self) -> Book | None:
        """The book, or a new one (built from the state when asked) if another ledger of the line
        moved it on."""
        if self.book is None or self.book.version == self.book_version:
            return self.book
        return self.incremental.new_book()

    def kpis(self, records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
        """The KPI table, as the feed's full computation gives it."""
        return self.incremental.finish(self.sums(records, rollup, as_of), rollup, as_of)

    def hourly(self, rollup: pl.LazyFrame, as_of: datetime, *, days: int) -> pl.LazyFrame:
        """The hourly series over the ``days`` before ``as_of``, from the instants of an exact
        time (what ``FeedSpec.series`` gives from the records)."""
        finish = self.incremental.series
        exact = [i for i, part in enumerate(self.incremental.timed) if part.exact]
        if finish is None or not exact:
            raise ValueError("an hourly series needs an exact time and the feed's series step")
        as_of = as_of.astimezone(UTC)
        since = (as_of - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        part = self.incremental.timed[exact[0]]
        names = list(part.measures)
        per_code = (
            self.parts[exact[0]]
            .lazy()
            .filter(pl.col(AT).is_between(since, as_of))
            .group_by("unit_code", pl.col(AT).dt.truncate("1h").alias("hour"))
            .agg(pl.col(names).sum())
        )
        return finish(rolled_up(per_code, rollup, ["hour"], names))


def _partial_days(
    part: Timed,
    records: pl.LazyFrame,
    spans: list[Span],
    table: pl.LazyFrame,
    midnight: datetime,
    as_of: datetime,
) -> pl.LazyFrame:
    """Per window, the sums of the records of its partial days: today's, and those before
    its first whole day."""
    assert part.column is not None, "a part counted whatever the times has no partial day"
    when = pl.col(part.column)
    partial = when >= midnight
    for _window, _first, begins, opens in spans:
        if opens is not None and opens < begins:
            partial = partial | when.is_between(opens, begins, closed="left")
    edge = records.filter(when.is_not_null() & partial).collect().lazy()
    counted = when < as_of if part.before else when <= as_of
    inside = (
        counted
        & ~when.is_between(pl.col("begins"), midnight, closed="left")
        & (pl.col("opens").is_null() | (when >= pl.col("opens")))
    )
    return (
        edge.join(table, how="cross")
        .filter(inside)
        .group_by("unit_code", *part.by, "window")
        .agg(*_sums(part))
        .pipe(_whole_numbers)
    )


def _days(parts: Iterable[pl.DataFrame]) -> frozenset[tuple[int, date]]:
    return frozenset((i, d) for i, part in enumerate(parts) for d in part[DAY].unique().to_list())
