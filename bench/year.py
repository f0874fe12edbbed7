"""A year of every feed of a province at a real province's pace, through the real aggregators.

The pace is the README's (how a national deployment would shard): 3,000 dossiers a day, each
sent when received and again when resolved; 300 field reports a day, sent when made and when
closed; 3,000 doses a day and a campaign day of 50,000 every month; 5,000 cells × 3 operators
every 15 minutes of mobile data. Each feed goes through a real Redis stream and its real
aggregator; mobile data day by day with the aggregator's clock on that day, so rows pass its
re-delivery horizon (``aggregator.horizons_h``) and are dropped as they would be over a year.
To keep the run short, mobile data's first ``days - 2`` days are sent as one row per commune and
period (the sums the ledger keeps are the same shape as from 15,000 rows: one per commune and
period), its last 2 days at full pace (2.9 million rows; the state holds the last 24 hours).

Then, per feed: the aggregator's frames in memory (state, ledger), the checkpoint's and the
snapshot's size in Redis, the time a new worker takes to restore and publish after a restart;
the process's memory with all four. And a cycle of 10,000 changed dossiers, field reports and
dose records through Redis on each year's state, against the same cycle computing every KPI
from the whole state (the baseline, in the same run, as every cycle did before issue 19), and a
cycle of 10,000 new mobile-data rows.

    uv run python -m bench.year [--days 365]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import psutil
import redis

from bench.common import emit, redis_server
from bench.common import units as bench_units
from bench.ingest import pool
from ioc import keys
from ioc.aggregate import Aggregator
from ioc.config import AggregatorSettings
from ioc.feeds import FEED_SPECS, FeedSpec
from ioc.streams import BATCH_ROWS, Publication, publish
from ioc.units import UnitTable

DOSSIERS_A_DAY = 3_000
REPORTS_A_DAY = 300
DOSES_A_DAY = 3_000
CAMPAIGN_DOSES = 50_000
CELLS, OPERATORS = 5_000, ("Viettel", "VNPT", "MobiFone")
PERIODS_A_DAY = 96
CHANGED = 10_000
SETTINGS = AggregatorSettings(read_count=500, interval_s=0.05, lease_ttl_s=3600)  # one process: no rival


def _times(rng: np.random.Generator, end: datetime, days: float, count: int) -> pl.Series:
    seconds = rng.uniform(60, days * 86400, count)
    stamps = (end.timestamp() - seconds) * 1_000_000
    return pl.Series(stamps.astype(np.int64)).cast(pl.Datetime("us", "UTC"))


def reports(units: UnitTable, count: int, end: datetime, days: int, seed: int) -> pl.DataFrame:
    """Field reports as the connector hands them on: most closed within a few days."""
    rng = np.random.default_rng(seed)
    communes = units.level_codes("commune")
    created = _times(rng, end, days, count)
    closed = rng.random(count) < 0.85
    frame = pl.DataFrame(
        {
            "id": [f"PA{i:08d}" for i in range(count)],
            "sector": rng.choice(["moi_truong", "trat_tu_do_thi", "ha_tang_giao_thong"], count),
            "severity": rng.choice(["khan", "phuc_tap", "binh_thuong"], count),
            "channel": rng.choice(["tay_ninh_smart", "tong_dai_1022"], count),
            "lat": rng.uniform(11.0, 11.6, count),
            "lon": rng.uniform(105.9, 106.4, count),
            "unit_code": rng.choice(communes, count),
            "status": np.where(closed, "da_xu_ly", "dang_xu_ly"),
            "created_at": created,
            "rated": closed & (rng.random(count) < 0.5),
            "stars": rng.integers(1, 6, count),
            "text": "",
            "located": True,
            "hours": rng.uniform(1, 60, count),
        }
    )
    done = pl.col("status") == "da_xu_ly"
    return frame.with_columns(
        rating=pl.when("rated").then("stars"),
        handling_hours=pl.when(done).then("hours"),
        accepted_at=pl.col("created_at") + pl.duration(hours=1),
        closed_at=pl.when(pl.col("status") == "da_xu_ly").then(pl.col("created_at") + pl.duration(days=2)),
        updated_at=pl.col("created_at") + pl.duration(days=2),
        deadline_at=pl.col("created_at") + pl.duration(days=5),
    ).select(list(FEED_SPECS["citizen_feedback"].schema))


def doses(units: UnitTable, end: datetime, days: int, seed: int) -> pl.DataFrame:
    """Routine doses every day, a campaign day every 30 days."""
    rng = np.random.default_rng(seed)
    communes = units.level_codes("commune")
    count = DOSES_A_DAY * days + CAMPAIGN_DOSES * (days // 30)
    given = _times(rng, end, days, count)
    frame = pl.DataFrame(
        {
            "id": [f"MT{i:09d}" for i in range(count)],
            "person": [f"P{i:09d}" for i in rng.integers(0, count // 2, count)],
            "age_band": rng.choice(["0-1", "1-5", "18-59", "60+"], count),
            "sex": rng.choice(["nam", "nu"], count),
            "unit_code": rng.choice(communes, count),
            "vaccine": rng.choice(["DPT-VGB-Hib", "Sởi", "Cúm"], count),
            "dose_number": rng.integers(1, 4, count),
            "given_at": given,
            "site": "TYT",
        }
    )
    return frame.with_columns(updated_at=pl.col("given_at")).select(list(FEED_SPECS["vaccination"].schema))


def counters(units: UnitTable, periods: list[datetime], per_period: int, seed: int) -> pl.DataFrame:
    """Mobile-data rows: ``per_period`` cells (spread over the communes) for each period."""
    rng = np.random.default_rng(seed)
    communes = units.level_codes("commune")
    count = len(periods) * per_period
    cells = np.tile(np.arange(per_period), len(periods))
    starts = pl.Series(np.repeat([int(p.timestamp() * 1_000_000) for p in periods], per_period)).cast(
        pl.Datetime("us", "UTC")
    )
    operator = np.array(OPERATORS)[cells % len(OPERATORS)]
    frame = pl.DataFrame(
        {
            "operator": operator,
            "cell": [f"C{c:05d}" for c in cells],
            "technology": np.where(cells % 4 == 0, "5G", "4G"),
            "lat": 11.3,
            "lon": 106.1,
            "period_start": starts,
            "minutes": pl.Series([15] * count, dtype=pl.Int64),
            "down_mb": rng.uniform(10, 400, count).round(3),
            "up_mb": rng.uniform(1, 40, count).round(3),
            "subscribers": rng.integers(5, 200, count),
            "unit_code": np.array(communes)[cells % len(communes)],
        }
    )
    return frame.with_columns(
        key=pl.concat_str(
            "operator", "cell", pl.col("period_start").dt.epoch("s").cast(pl.String), separator="|"
        )
    ).select(list(FEED_SPECS["mobile_data"].schema))


def send(client: redis.Redis, feed: str, records: pl.DataFrame) -> None:
    for chunk in records.iter_slices(100_000):
        publish(client, Publication(feed, "bench", chunk, [], None), maxlen=100_000_000, dead_maxlen=1000)


def worker(
    client: redis.Redis, spec: FeedSpec, units: UnitTable, clock: Callable[[], datetime]
) -> Aggregator:
    found = Aggregator(client, spec, units, SETTINGS, clock=clock)
    assert found.open(), f"{spec.name}: the lease is taken"
    return found


def sizes(client: redis.Redis, aggregator: Aggregator) -> dict[str, Any]:
    feed = aggregator.spec.name
    state = aggregator.state
    assert state is not None
    ledger = aggregator.ledger
    return {
        "state_rows": state.frame.height,
        "state_mb": round(state.frame.estimated_size() / 1e6, 1),
        "ledger_rows": ledger.rows if ledger is not None else 0,
        "ledger_mb": round(sum(p.estimated_size() for p in ledger.parts) / 1e6, 2) if ledger else 0,
        "folded_rows": aggregator.folded,
        "checkpoint_mb": round((client.memory_usage(keys.checkpoint(feed), samples=0) or 0) / 1e6, 1),
        "snapshot_mb": round(
            sum(client.memory_usage(k, samples=0) or 0 for k in (keys.snapshot(feed), keys.series(feed)))
            / 1e6,
            2,
        ),
    }


def restore_s(client: redis.Redis, aggregator: Aggregator, units: UnitTable) -> tuple[float, Aggregator]:
    """A new worker after a restart: the lease given back, the checkpoint read, the snapshot
    published again (a cycle with nothing new)."""
    aggregator.release()
    started = time.perf_counter()
    again = worker(client, aggregator.spec, units, aggregator.clock)
    again.drain()
    return time.perf_counter() - started, again


def changed_cycle_ms(client: redis.Redis, aggregator: Aggregator, records: pl.DataFrame) -> float:
    """Publish ``records`` and time the one cycle that takes them in (read, merge, KPIs, series,
    work lists, documents, publish; not a checkpoint's: that is every 5 s, timed apart)."""
    aggregator.drain()  # nothing left over, and the checkpoint just written
    send(client, aggregator.spec.name, records)
    started = time.perf_counter()
    entries = aggregator.cycle()
    elapsed = time.perf_counter() - started
    assert entries * BATCH_ROWS >= records.height, (
        f"the cycle took {entries} entries of {records.height} records"
    )
    aggregator.drain()
    return round(elapsed * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    days = args.days
    server = redis_server()
    client = redis.Redis.from_url(server.url, socket_timeout=60)  # a year's first commit: seconds
    try:
        emit("year", run(client, days))
    finally:  # a failed run leaves no Redis behind
        client.close()
        server.close()


def run(client: redis.Redis, days: int) -> dict[str, Any]:
    units = bench_units()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    out: dict[str, Any] = {"days": days, "feeds": {}}
    workers: dict[str, Aggregator] = {}
    started = time.perf_counter()

    dossier_pool = pool(units, DOSSIERS_A_DAY * days, seed=3, days=days - 1)
    opened = dossier_pool.with_columns(  # first sent when received, then as it is now
        status=pl.lit("dang_xu_ly"),
        returned_at=pl.lit(None, pl.Datetime("us", "UTC")),
        updated_at="received_at",
    )
    year_reports = reports(units, REPORTS_A_DAY * days, end, days, seed=4)
    year_doses = doses(units, end, days, seed=5)
    for spec_name, first, last in (
        ("public_services", opened, dossier_pool),
        ("citizen_feedback", None, year_reports),
        ("vaccination", None, year_doses),
    ):
        spec = FEED_SPECS[spec_name]
        if first is not None:
            send(client, spec_name, first.sort("updated_at"))
        send(client, spec_name, last)
        loading = time.perf_counter()
        workers[spec_name] = worker(client, spec, units, lambda: end)
        workers[spec_name].drain()
        out["feeds"][spec_name] = {
            "records_sent": (first.height if first is not None else 0) + last.height,
            "load_s": round(time.perf_counter() - loading, 1),
        }

    # Mobile data day by day: the aggregator's clock moves on, rows pass the horizon.
    spec = FEED_SPECS["mobile_data"]
    now = [end - timedelta(days=days)]
    mobile = worker(client, spec, units, lambda: now[0])
    communes = len(units.level_codes("commune"))
    sent = 0
    loading = time.perf_counter()
    for day in range(days):
        midnight = end - timedelta(days=days - day)
        periods = [midnight + timedelta(minutes=15 * p) for p in range(PERIODS_A_DAY)]
        per_period = CELLS * len(OPERATORS) if day >= days - 2 else communes
        rows = counters(units, periods, per_period, seed=day)
        send(client, spec.name, rows)
        sent += rows.height
        now[0] = periods[-1] + timedelta(minutes=15)
        mobile.drain()
    workers[spec.name] = mobile
    out["feeds"][spec.name] = {"records_sent": sent, "load_s": round(time.perf_counter() - loading, 1)}
    out["load_s"] = round(time.perf_counter() - started, 1)
    out["process_rss_mb"] = round(psutil.Process().memory_info().rss / 1e6)

    for name, aggregator in list(workers.items()):
        out["feeds"][name] |= sizes(client, aggregator)
        seconds, workers[name] = restore_s(client, aggregator, units)
        out["feeds"][name]["restore_s"] = round(seconds, 2)

    # A cycle of 10,000 changed records on each year's state, incremental against whole-state.
    changed = {
        "dossiers": dossier_pool.sample(min(CHANGED, dossier_pool.height), seed=9)
        .with_columns(pl.col("updated_at").max() + pl.duration(seconds=1))
        .with_columns(
            status=pl.lit("da_tra_ket_qua"),
            returned_at=pl.coalesce("returned_at", pl.col("received_at") + pl.duration(days=1)),
        ),
        "reports": year_reports.sample(min(CHANGED, year_reports.height), seed=9)
        .with_columns(pl.col("updated_at").max() + pl.duration(seconds=1))
        .with_columns(
            status=pl.lit("da_xu_ly"),
            closed_at=pl.coalesce("closed_at", pl.col("accepted_at") + pl.duration(days=1)),
            handling_hours=pl.col("handling_hours").fill_null(7.5),
        ),
        "doses": year_doses.sample(min(CHANGED, year_doses.height), seed=9)
        .with_columns(pl.col("updated_at").max() + pl.duration(seconds=1))
        .with_columns(dose_number=pl.col("dose_number") % 3 + 1),
    }
    for what, feed in (
        ("dossiers", "public_services"),
        ("reports", "citizen_feedback"),
        ("doses", "vaccination"),
    ):
        incremental = workers[feed]
        out[f"cycle_10000_{what}_ms"] = changed_cycle_ms(client, incremental, changed[what])
        incremental.release()
        whole_spec = dataclasses.replace(FEED_SPECS[feed], incremental=None)
        whole = worker(client, whole_spec, units, lambda: end)
        whole.drain()
        again = changed[what].with_columns(pl.col("updated_at") + pl.duration(seconds=1))
        out[f"baseline_cycle_10000_{what}_whole_state_ms"] = changed_cycle_ms(client, whole, again)
        whole.release()
    later = [now[0] + timedelta(minutes=15 * p) for p in range(2)]
    out["cycle_10000_mobile_rows_ms"] = changed_cycle_ms(
        client, workers["mobile_data"], counters(units, later, 5000, 99)
    )
    out["ratio_incremental_to_whole_state"] = {
        what: round(out[f"cycle_10000_{what}_ms"] / out[f"baseline_cycle_10000_{what}_whole_state_ms"], 2)
        for what in changed
    }
    return out


if __name__ == "__main__":
    main()
