"""Where a public-services commit's time goes, by part, at a state of N dossiers (in process).

The state is a year of dossiers; a cycle brings ``--changed`` of them in a new version. Timed,
each part alone (best of three, no Redis): merging the changed records into the state, the
KPIs from the partial sums kept per commune and day (updating them by what changed, then every
unit and window: ``ioc.ledger``) against the same KPIs computed from the whole state (the
baseline, as every cycle did before), and the other parts still computed from the whole state:
the hourly series, the work lists (what changed in them: ``ioc.cases``), the 766 index's
indicators (durable commits only) and the JSON documents. Issue 19: a cycle's cost should follow
what changed, not the state's size.

    uv run python -m bench.cycle [--records 100000 1000000] [--changed 10000]

Prints one JSON line: milliseconds per part per state size.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import polars as pl

from bench.common import emit
from bench.common import units as bench_units
from bench.ingest import pool
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


def parts(size: int, changed: int) -> dict[str, float]:
    units = bench_units()
    spec = FEED_SPECS["public_services"]
    assert spec.incremental is not None
    incremental = spec.incremental
    rollup_frame = units.rollup()
    rollup = rollup_frame.lazy()
    year = pool(units, size, seed=7, days=365)
    held = State.empty(spec.schema, spec.key, spec.version, spec.buckets(16))
    held = held.merge(with_arrival([year], [b"1-0"]))
    news = (  # a tenth of them resolved since, the rest only touched
        year.sample(changed, seed=8)
        .with_columns(pl.col("updated_at") + pl.duration(seconds=1))
        .with_columns(
            status=pl.when(pl.int_range(pl.len()) % 10 == 0)
            .then(pl.lit("da_tra_ket_qua"))
            .otherwise("status"),
            returned_at=pl.coalesce("returned_at", pl.col("received_at") + pl.duration(days=1)),
        )
    )
    batch = with_arrival([news], [b"2-0"])
    ledger = Ledger.build(incremental, held.frame)
    as_of = datetime.now(UTC)
    start = as_of.replace(minute=0, second=0, microsecond=0)
    timed: dict[str, float] = {}
    timed["merge"], (state, added, replaced) = best_ms(lambda: held.apply(batch))
    timed["ledger_update"], ledger = best_ms(lambda: ledger.update(added, replaced))
    records = state.records()
    timed["kpis_incremental"], table = best_ms(lambda: ledger.kpis(records, rollup, as_of).collect())
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
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--changed", type=int, default=10_000)
    args = parser.parse_args()
    emit("cycle", {"changed": args.changed, "ms": {str(n): parts(n, args.changed) for n in args.records}})


if __name__ == "__main__":
    main()
