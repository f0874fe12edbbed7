"""The indicators of the national 766 index that this product computes from its own feeds
(``SCORECARD.md``: 2.1, 2.2, 3.3, 3.6, 4.2 from the dossiers, 5.1, 5.2 from the field reports), as
pure Polars beside the KPIs: LazyFrame in, LazyFrame out, one row per unit and kept period with
each indicator's numerator and denominator.

The aggregators of both feeds publish them with every snapshot (``_index766|<unit>|<period>``
fields, :func:`indicator_documents`), exactly once and live like every KPI; ``ioc.scorecard``
scores them. The index's metadata and periods are in :mod:`ioc.index766` (no Polars there: the
configuration reads it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import polars as pl

from ioc import kpis
from ioc.index766 import FIELD_PREFIX, Period, months_kept, period_end, utc, weeks_kept
from ioc.kpis import TZ

FINISHED = ("da_tra_ket_qua", "tu_choi", "rut_ho_so")
EVERY = pl.col("_event").is_not_null()  # counts every record of the period (its event is set)


def kept_periods(as_of: datetime) -> pl.DataFrame:
    """The periods kept, with their index (months: year × 12 + month − 1; weeks: weeks since the
    Monday 1970-01-05) and their bounds in UTC; the current one ends at ``as_of``."""
    rows = []
    for period in [*months_kept(as_of), *weeks_kept(as_of)]:
        rows.append(
            {
                "kind": period.kind,
                "index": _index_of(period),
                "period": period.name,
                "start": utc(period.start),
                "end": utc(period_end(period, as_of)),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "kind": pl.String,
            "index": pl.Int64,
            "period": pl.String,
            "start": kpis.UTC_TIME,
            "end": kpis.UTC_TIME,
        },
    )


_EPOCH_MONDAY = datetime(1970, 1, 5, tzinfo=TZ)


def _index_of(period: Period) -> int:
    if period.kind == "week":
        return (period.start - _EPOCH_MONDAY).days // 7
    return period.start.year * 12 + period.start.month - 1


# Asia/Ho_Chi_Minh has been UTC+7 all year since 1975: local time is UTC plus 7 hours, which
# Polars adds far faster than it converts time zones (a year of dossiers: 25 ms less a cycle).
LOCAL_OFFSET_US = 7 * 3600 * 1_000_000
DAY_US = 86400 * 1_000_000
EPOCH_MONDAY_DAY = 4  # 1970-01-05, a Monday, is day 4 of the epoch


def _period_index(column: str | pl.Expr, kind: str) -> pl.Expr:
    """The index of the period of ``kind`` a UTC time falls in (by local time)."""
    moment = pl.col(column) if isinstance(column, str) else column
    if kind == "month":
        local = moment + pl.duration(hours=7)  # its UTC fields are now the local ones
        return (local.dt.year().cast(pl.Int64) * 12 + local.dt.month().cast(pl.Int64) - 1).alias("index")
    day = (moment.dt.epoch("us") + LOCAL_OFFSET_US) // DAY_US
    return ((day - EPOCH_MONDAY_DAY) // 7).cast(pl.Int64).alias("index")


def _in(column: str) -> pl.Expr:
    """The time lies in the row's period [start, end)."""
    return (
        pl.col(column).is_not_null() & (pl.col(column) >= pl.col("start")) & (pl.col(column) < pl.col("end"))
    )


def _by_event(
    records: pl.LazyFrame, periods: pl.DataFrame, column: str | pl.Expr, sums: dict[str, pl.Expr]
) -> pl.LazyFrame:
    """Per commune and period, the sums of ``sums`` over the records whose ``column`` time lies in
    the period (each record is in at most one period of each kind)."""
    parts = []
    for kind in ("month", "week"):
        of_kind = periods.filter(pl.col("kind") == kind)
        event = (pl.col(column) if isinstance(column, str) else column).alias("_event")
        parts.append(
            records.with_columns(event)
            .filter(pl.col("_event") >= of_kind["start"].min())
            .with_columns(_period_index("_event", kind))
            .join(of_kind.lazy(), on="index")
            .filter(_in("_event"))
            .group_by("unit_code", "period")
            .agg(*[expr.sum().alias(name) for name, expr in sums.items()])
        )
    return pl.concat(parts)


def dossier_finished_at() -> pl.Expr:
    """When a dossier was finished (SCORECARD.md 2.1): returned, refused or withdrawn; else null."""
    return (
        pl.when(pl.col("status") == "da_tra_ket_qua")
        .then(pl.col("returned_at"))
        .when(pl.col("status").is_in(["tu_choi", "rut_ho_so"]))
        .then(pl.col("updated_at"))
    )


def _on_time_21(periods: pl.DataFrame, records: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """Indicator 2.1 per commune and period: the dossiers counted (received before the period's
    end and not finished before its start) and those on time (finished in it by the deadline, or
    not finished by its end and either not yet due at its end or waiting for the citizen)."""
    parts = []
    first = periods["start"].min()
    for kind in ("month", "week"):
        of_kind = periods.filter(pl.col("kind") == kind)
        low, high = int(cast(int, of_kind["index"].min())), int(cast(int, of_kind["index"].max()))
        finished = dossier_finished_at()
        candidates = (
            records.filter(pl.col("received_at") < as_of)
            .with_columns(finished.alias("_finished"))
            .filter(pl.col("_finished").is_null() | (pl.col("_finished") >= first))
            .with_columns(
                _period_index("received_at", kind).clip(low, high).alias("_from"),
                pl.when(pl.col("_finished").is_null() | (pl.col("_finished") >= as_of))
                .then(pl.lit(high, pl.Int64))
                .otherwise(_period_index("_finished", kind).clip(low, high))
                .alias("_to"),
            )
            .filter(pl.col("_to") >= pl.col("_from"))
            .select(
                "unit_code",
                "received_at",
                "deadline_at",
                "status",
                "_finished",
                pl.int_ranges("_from", pl.col("_to") + 1).alias("index"),
            )
            .explode("index")
            .join(of_kind.lazy(), on="index")
            # the range is by local period; the exact bounds decide (a dossier finished at the very
            # start of a period counts in it; one received after the current period's end does not)
            .filter(
                (pl.col("received_at") < pl.col("end"))
                & (pl.col("_finished").is_null() | (pl.col("_finished") >= pl.col("start")))
            )
        )
        finished_in = _in("_finished")
        done_by_end = pl.col("_finished").is_not_null() & (pl.col("_finished") < pl.col("end"))
        on_time = (finished_in & (pl.col("_finished") <= pl.col("deadline_at"))) | (
            ~done_by_end & ((pl.col("end") <= pl.col("deadline_at")) | (pl.col("status") == "cho_bo_sung"))
        )
        parts.append(
            candidates.group_by("unit_code", "period").agg(
                pl.len().cast(pl.Int64).alias("2.1__den"), on_time.sum().cast(pl.Int64).alias("2.1__num")
            )
        )
    return pl.concat(parts)


PUBLIC_SERVICES_COUNTS = ("2.1", "3.3", "3.6", "4.2", "on_time_rate")


def public_services_indicators(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """Indicators 2.1, 2.2, 3.3, 3.6 and 4.2 (and the KPI ``on_time_rate``) of every unit in every
    kept period: one row per (unit, period) with ``<id>__num`` and ``<id>__den`` (2.2:
    ``__seconds`` of processing, whole seconds, and ``__count`` of dossiers returned in the period:
    an integer sum comes out the same whatever order the rows are added in, on one node or a
    cluster)."""
    as_of = as_of.astimezone(UTC)
    periods = kept_periods(as_of)
    received = {
        "3.3__num": pl.col("channel") == "truc_tuyen",
        "3.3__den": EVERY,
        "3.6__num": pl.col("fee_due") & pl.col("paid_online").fill_null(False),
        "3.6__den": pl.col("fee_due"),
        "4.2__num": pl.col("digitised"),
        "4.2__den": EVERY,
    }
    returned = pl.when(pl.col("status") == "da_tra_ket_qua").then(pl.col("returned_at"))
    resolved = {
        "on_time_rate__num": pl.col("returned_at") <= pl.col("deadline_at"),
        "on_time_rate__den": EVERY,
        "2.2__seconds": (pl.col("returned_at") - pl.col("received_at")).dt.total_seconds(),
        "2.2__count": EVERY,
    }
    per_code = [
        _on_time_21(periods, records, as_of),
        _by_event(records, periods, "received_at", received),
        _by_event(records, periods, returned, resolved),
    ]
    return _rolled(per_code, rollup, periods, [*received, *resolved, "2.1__num", "2.1__den"])


def citizen_feedback_indicators(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """Indicators 5.1 (closed on time / closed) and 5.2 (closed neither rated 1–2 nor late /
    closed) of every unit in every kept period, over the reports closed in the period."""
    as_of = as_of.astimezone(UTC)
    periods = kept_periods(as_of)
    closed = pl.when(pl.col("status") == "da_xu_ly").then(pl.col("closed_at"))
    late = pl.col("closed_at") > pl.col("deadline_at")
    unhappy = pl.col("rating").is_in([1, 2]).fill_null(False)
    sums = {
        "5.1__num": ~late,
        "5.1__den": EVERY,
        "5.2__num": ~late & ~unhappy,
        "5.2__den": EVERY,
    }
    return _rolled([_by_event(records, periods, closed, sums)], rollup, periods, list(sums))


def _rolled(
    per_code: list[pl.LazyFrame], rollup: pl.LazyFrame, periods: pl.DataFrame, sums: list[str]
) -> pl.LazyFrame:
    """Per-commune sums of several frames → one row per unit and kept period, zeros filled."""
    together = pl.concat(per_code, how="diagonal").group_by("unit_code", "period").agg(pl.col(sums).sum())
    counted = kpis.rolled_up(together, rollup, ["period"], sums)
    every = rollup.select("unit").unique().join(periods.lazy().select("period"), how="cross")
    counts = sums
    return (
        every.join(counted, on=["unit", "period"], how="left")
        .with_columns(
            pl.col(counts).fill_null(0).cast(pl.Int64),
        )
        .sort("unit", "period")
    )


def indicator_documents(frame: pl.DataFrame) -> dict[str, str]:
    """``_index766|<unit>|<period>`` → ``{"<id>": {"numerator", "denominator"}, "2.2": {"seconds",
    "count"}}`` (every figure an int: processing time in whole seconds), encoded by Polars."""
    names = sorted({c.split("__")[0] for c in frame.columns if "__" in c})
    parts = []
    for name in names:
        if f"{name}__num" in frame.columns:
            fields = [pl.col(f"{name}__num").alias("numerator"), pl.col(f"{name}__den").alias("denominator")]
        else:
            fields = [pl.col(f"{name}__seconds").alias("seconds"), pl.col(f"{name}__count").alias("count")]
        parts.append(pl.struct(fields).alias(name))
    encoded = frame.select(
        pl.concat_str(pl.lit(FIELD_PREFIX), "unit", "period", separator="|").alias("field"),
        pl.struct(parts).struct.json_encode().alias("doc"),
    )
    return dict(zip(encoded["field"], encoded["doc"], strict=True))
