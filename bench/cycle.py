"""Where a public-services commit's time goes, by part, at a state of N dossiers (in process).

The aggregator's cycle computes every KPI, the hourly series, the work lists, the 766 index's
indicators (durable commits only) and their JSON documents from the whole state; this times each
part alone (best of three, no Redis), to show which grow with the state (issue 19: a cycle's cost
should follow what changed).

    uv run python -m bench.cycle [--records 100000 1000000]

Prints one JSON line: milliseconds per part per state size.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import emit
from bench.common import units as bench_units
from bench.ingest import pool
from ioc.feeds import FEED_SPECS
from ioc.snapshots import series_documents

SERIES_HOURS = 7 * 24


def best_ms(run: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1), out


def parts(size: int) -> dict[str, float]:
    units = bench_units()
    spec = FEED_SPECS["public_services"]
    records = pool(units, size, seed=7).lazy()
    rollup_frame = units.rollup()
    rollup = rollup_frame.lazy()
    as_of = datetime.now(UTC)
    start = as_of.replace(minute=0, second=0, microsecond=0)
    timed: dict[str, float] = {}
    timed["kpis"], table = best_ms(lambda: spec.compute(records, rollup, as_of).collect())
    timed["series"], series = best_ms(lambda: spec.series(records, rollup, as_of, days=7).collect())
    timed["documents"], _docs = best_ms(lambda: spec.documents(spec, table, records, rollup_frame, as_of))
    timed["series_documents"], _s = best_ms(
        lambda: series_documents(series, units.codes, start, SERIES_HOURS, spec.measures)
    )
    if spec.cases is not None:
        cases = spec.cases
        timed["work_lists"], _c = best_ms(lambda: cases(records, rollup_frame, as_of))
    if spec.indicators is not None:
        indicators = spec.indicators
        timed["indicators_766"], _i = best_ms(lambda: indicators(records, rollup, as_of).collect())
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    emit("cycle", {"ms": {str(n): parts(n) for n in args.records}})


if __name__ == "__main__":
    main()
