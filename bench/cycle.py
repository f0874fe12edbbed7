"""Where a commit's time goes, by part, at a state of N dossiers or field reports (in process).

The state is a year of dossiers (``--feed citizen_feedback``: of field reports, whose median
handling time is kept per unit and window by ``ioc.medians``; ``--feed vaccination``: of dose
records, whose people are counted by ``ioc.people``); a cycle brings ``--changed`` of them in a
new version. Timed,
each part alone (best of three, no Redis): merging the changed records into the state, the
KPIs from the partial sums kept per commune and day (updating them by what changed, then every
unit and window: ``ioc.ledger``) against the same KPIs computed from the whole state (the
baseline, as every cycle did before), and the other parts still computed from the whole state:
the hourly series, the work lists (what changed in them: ``ioc.cases``), the 766 index's
indicators (durable commits only) and the JSON documents. Issue 19: a cycle's cost should follow
what changed, not the state's size.

    uv run python -m bench.cycle [--feed public_services] [--records 100000 1000000] [--changed 10000]

Prints one JSON line: milliseconds per part per state size.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from bench.common import emit
from bench.common import units as bench_units
from bench.ingest import pool
from bench.year import doses, reports
from ioc.cases import CaseBook, placed
from ioc.feeds import FEED_SPECS
from ioc.ledger import Ledger
from ioc.snapshots import series_documents
from ioc.state import State, with_arrival

SERIES_HOURS = 7 * 24


def best_ms(run: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1), out


def year_of(feed: str, units: Any, size: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A year of ``size`` records and ``changed`` of them in a new version: a tenth resolved (or
    closed) since, the rest only touched."""
    if feed == "vaccination":  # a tenth corrected to another dose number, the rest re-sent
        year = doses(units, datetime.now(UTC), 365, seed=7).head(size)
        return year, year.with_columns(
            pl.col("updated_at") + pl.duration(seconds=1),
            dose_number=pl.when(pl.int_range(pl.len()) % 10 == 0)
            .then(pl.col("dose_number") % 3 + 1)
            .otherwise("dose_number"),
        )
    if feed == "citizen_feedback":
        year = reports(units, size, datetime.now(UTC), 365, seed=7)
        done, when, since = pl.lit("da_xu_ly"), "closed_at", "accepted_at"
    else:
        year = pool(units, size, seed=7, days=365)
        done, when, since = pl.lit("da_tra_ket_qua"), "returned_at", "received_at"
    return year, year.with_columns(
        pl.col("updated_at") + pl.duration(seconds=1),
        status=pl.when(pl.int_range(pl.len()) % 10 == 0).then(done).otherwise("status"),
    ).with_columns(pl.coalesce(when, pl.col(since) + pl.duration(days=1)).alias(when))


def parts(feed: str, size: int, changed: int) -> dict[str, float]:
    units = bench_units()
    spec = FEED_SPECS[feed]
    assert spec.incremental is not None
    incremental = spec.incremental
    rollup_frame = units.rollup()
    rollup = rollup_frame.lazy()
    year, touched = year_of(feed, units, size)
    if feed == "citizen_feedback":
        touched = touched.with_columns(pl.col("handling_hours").fill_null(7.5))
    held = State.empty(spec.schema, spec.key, spec.version, spec.buckets(16))
    held = held.merge(with_arrival([year], [b"1-0"]))
    batch = with_arrival([touched.sample(changed, seed=8)], [b"2-0"])
    as_of = datetime.now(UTC)
    start = as_of.replace(minute=0, second=0, microsecond=0)
    timed: dict[str, float] = {}
    timed["merge"], (state, added, replaced) = best_ms(lambda: held.apply(batch))
    records = state.records()
    update_ms, kpis_ms, ledger, table = float("inf"), float("inf"), None, None
    for _ in range(3):  # on a ledger just built each time: a book of medians changes in place
        ledger = Ledger.build(incremental, held.frame)
        ledger.kpis(held.records(), rollup, as_of - timedelta(seconds=1)).collect()  # the last cycle's
        update, ledger = best_ms(lambda ledger=ledger: ledger.update(added, replaced), repeats=1)
        figures, table = best_ms(
            lambda ledger=ledger: ledger.kpis(records, rollup, as_of).collect(), repeats=1
        )
        update_ms, kpis_ms = min(update_ms, update), min(kpis_ms, figures)
    assert ledger is not None and table is not None
    timed["ledger_update"], timed["kpis_incremental"] = update_ms, kpis_ms
    timed["kpis_whole_state"], whole = best_ms(lambda: spec.compute(records, rollup, as_of).collect())
    assert table.equals(whole), "the incremental KPIs differ from the whole state's"
    timed["ledger_rows"] = ledger.rows
    timed["series"], series = best_ms(lambda: spec.series(records, rollup, as_of, days=7).collect())
    timed["documents"], _docs = best_ms(lambda: spec.documents(spec, table, records, rollup_frame, as_of))
    timed["series_documents"], _s = best_ms(
        lambda: series_documents(series, units.codes, start, SERIES_HOURS, spec.measures)
    )
    if spec.cases is not None:  # the work lists: what changed in them since the last commit
        overdue = spec.cases
        book = CaseBook()
        book.committed(
            book.changes(placed(overdue(held.records(), as_of), rollup_frame).collect(), rollup_frame)
        )
        timed["work_lists"], lists = best_ms(
            lambda: book.changes(placed(overdue(records, as_of), rollup_frame).collect(), rollup_frame)
        )
        timed["work_list_cases_written"] = lists.count
    if spec.indicators is not None:
        indicators = spec.indicators
        timed["indicators_766"], _i = best_ms(lambda: indicators(records, rollup, as_of).collect())
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--feed", choices=["public_services", "citizen_feedback", "vaccination"], default="public_services"
    )
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--changed", type=int, default=10_000)
    args = parser.parse_args()
    emit(
        "cycle",
        {
            "feed": args.feed,
            "changed": args.changed,
            "ms": {str(n): parts(args.feed, n, args.changed) for n in args.records},
        },
    )


if __name__ == "__main__":
    main()
