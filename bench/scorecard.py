"""Scorecard: what the 766 index adds to each aggregation cycle, on the year of dossiers that
``bench.drilldown`` uses (1,000,000 by default), and what a scorecard answer costs the web app.

Per cycle, the public-services aggregator computes its KPI table, its hourly series and now the
indicators of every unit in every kept period (3 months, 26 ISO weeks), and turns them into
snapshot documents. The baseline, in the same run on the same records, is the cycle without
the indicators (KPI table, series and newest record, in one ``collect_all`` as the aggregator
does). Then the same year goes through the real aggregator into a real Redis, and
``ioc.scorecard.scorecard`` answers for the province and each district, with the period and a
what-if changing from call to call.

    uv run python -m bench.scorecard [--dossiers 1000000] [--cycles 7] [--calls 200]

Prints one JSON line. The indicators must not push freshness (p95 ≤ 500 ms, ``bench.freshness``,
100,000 dossiers) past its target.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import polars as pl
import redis

from bench.common import emit, percentiles, redis_server
from bench.common import units as bench_units
from bench.drilldown import load_year
from bench.ingest import pool
from ioc.config import Settings
from ioc.feeds import FEED_SPECS
from ioc.indicators import indicator_documents
from ioc.scorecard import periods, scorecard
from ioc.snapshots import SnapshotReader

FEED = "public_services"


def cycle_ms(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, *, indicators: bool) -> float:
    spec = FEED_SPECS[FEED]
    started = time.perf_counter()
    start = (as_of - timedelta(hours=7 * 24 - 1)).replace(minute=0, second=0, microsecond=0)
    frames = [
        spec.compute(records, rollup, as_of),
        spec.series(records, rollup, as_of, days=7).filter(pl.col("hour") >= start),
        records.select(pl.col(spec.version).max()),
    ]
    if indicators:
        assert spec.indicators is not None
        frames.append(spec.indicators(records, rollup, as_of))
    collected = pl.collect_all(frames)
    if indicators:
        indicator_documents(collected[-1])
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--cycles", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    units = bench_units()
    rollup = units.rollup().lazy()
    records = pool(units, args.dossiers, seed=3, days=364)  # as bench.drilldown's year
    lazy = records.lazy()
    as_of = datetime.now(UTC).replace(microsecond=0)
    spec = FEED_SPECS[FEED]
    assert spec.indicators is not None
    docs = indicator_documents(spec.indicators(lazy, rollup, as_of).collect())
    without, with_ = [], []
    for n in range(args.cycles):  # alternated, so that both see the same noise
        (without if n % 2 == 0 else with_).append(cycle_ms(lazy, rollup, as_of, indicators=n % 2 == 1))
        (with_ if n % 2 == 0 else without).append(cycle_ms(lazy, rollup, as_of, indicators=n % 2 == 0))
    base, full = statistics.median(without[1:]), statistics.median(with_[1:])

    server = redis_server()
    try:
        client = redis.Redis.from_url(server.url)
        load_year(client, units, args.dossiers)
        reader = SnapshotReader(client)
        settings = Settings()
        kept = periods()
        choices = [kept["current_month"], kept["months"][1], kept["current_week"], kept["weeks"][1]]
        answer_ms: list[float] = []
        targets = [units.province, *units.level_codes("district")]
        for n in range(args.calls):
            started = time.perf_counter()
            scorecard(reader, units, settings, targets[n % len(targets)], choices[n % 4], {"2.1": n % 50})
            answer_ms.append((time.perf_counter() - started) * 1000)
        sizes = sum(len(v) for v in docs.values())
    finally:
        server.close()
    emit(
        "scorecard",
        {
            "dossiers": args.dossiers,
            "cycle_without_indicators_ms": round(base, 1),
            "cycle_with_indicators_ms": round(full, 1),
            "indicators_ms_per_cycle": round(full - base, 1),
            "ratio_to_baseline": round(full / base, 2),
            "indicator_documents": len(docs),
            "indicator_documents_kb": round(sizes / 1024, 1),
            "scorecard_answer": percentiles(answer_ms[5:]),
        },
    )


if __name__ == "__main__":
    main()
