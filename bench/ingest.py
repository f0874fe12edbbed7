"""Ingest → aggregate: records per second sustained from connector runners to the KPI snapshot.

A real Redis; producer processes each run the real :class:`~ioc.runner.ConnectorRunner` around a
replay connector that re-sends dossiers of a pool in a new state (as a one-stop system does when
a dossier moves on), at a fixed total rate; one ``ioc aggregate`` process (or ``--workers`` of
them in one consumer group) turns the stream into the KPI snapshot. Every second the consumer lag
(records in the stream not yet acknowledged) is sampled. At the end the producers stop, the lag
must drain, and the snapshot's counts must equal those computed directly from the pool.

Baseline, in the same run against the same server: ``redis-benchmark -P 64`` XADD of one small
entry per request, the raw rate of the transport.

    uv run python -m bench.ingest [--rate 1000000] [--seconds 60] [--pool 200000] [--producers 2]

Prints one JSON line. Target: ≥ 1,000,000 records/s sustained, with bounded lag: over the second
half of the run the lag grows by less than 2 % of the offered rate. ``end_to_end_records_per_s``
is every record offered over the time until the last was acknowledged (the producers' run and
the drain after it). The lag is what is not yet
acknowledged, and a worker acknowledges with its checkpoint (every 5 s), so "sustained", taken
from the lag at the end, undercounts by what was counted since the last checkpoint; the
benchmark also gives what was at least counted into the published figures by then (everything
read, less the read a worker computes and the one it takes ahead meanwhile).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import polars as pl
import psutil
import redis
from pydantic import BaseModel

from bench.common import dossiers, emit, ioc_process, redis_server
from bench.common import units as bench_units
from ioc import keys
from ioc.config import AggregatorSettings
from ioc.connector import Batch
from ioc.runner import ConnectorRunner
from ioc.streams import BATCH_ROWS, stream_progress
from ioc.units import UnitTable

FEED = "public_services"
STREAM_MAXLEN = 1_000_000  # entries: room for a minute of lag at full rate, still bounded


def pool(units: UnitTable, size: int, seed: int, *, days: int = 29) -> pl.DataFrame:
    """Dossiers received over the last ``days`` as a province has them: returned two days after
    they came in once a few days old, a few open past a short deadline."""
    rng = np.random.default_rng(seed)
    frame = dossiers(units, size, seed=seed)
    now = datetime.now(UTC)
    age_s = rng.uniform(600, days * 86400, size)  # 29 days: inside the 30-day window for a whole run
    received = [now - timedelta(seconds=float(s)) for s in age_s]
    done = (age_s > 20 * 86400) | ((age_s > 3 * 86400) & (rng.random(size) < 0.9))
    late = rng.random(size) < 0.04
    return frame.with_columns(
        received_at=pl.Series(received, dtype=pl.Datetime("us", "UTC")),
    ).with_columns(
        deadline_at=pl.col("received_at") + pl.duration(days=pl.Series(np.where(late, 1, 12))),
        status=pl.Series(np.where(done, "da_tra_ket_qua", "dang_xu_ly")),
        returned_at=pl.when(pl.Series(done)).then(pl.col("received_at") + pl.duration(days=2)),
    )


class Replay:
    """A connector whose source is a pool of dossiers; each poll re-sends ``rows`` of them with a
    newer ``updated_at`` (so the aggregator keeps one version of each)."""

    name: ClassVar[str] = "bench_replay"
    feed: ClassVar[str] = FEED
    Config: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, records: pl.DataFrame, rows: int, seed: int) -> None:
        self.records = records
        self.rows = rows
        self.rng = np.random.default_rng(seed)
        self.sent = 0

    def check(self) -> str:
        return f"replay of {self.records.height} dossiers"

    def poll(self, cursor: str | None) -> Batch:
        picked = self.records[self.rng.integers(0, self.records.height, self.rows)]
        now = datetime.now(UTC)
        batch = picked.with_columns(updated_at=pl.lit(now, pl.Datetime("us", "UTC")))
        self.sent += batch.height
        return Batch(batch, str(self.sent))


def spawn_context() -> Any:
    return multiprocessing.get_context("spawn")  # Polars' thread pool does not survive a fork


def produce(
    url: str,
    records: pl.DataFrame,
    rate: float,
    rows: int,
    seed: int,
    stop: Any,
    sent: Any,
    maxlen: int = STREAM_MAXLEN,
) -> None:
    """One connector runner publishing ``rate`` records/s in polls of ``rows``."""
    client = redis.Redis.from_url(url)
    runner = ConnectorRunner(
        client, Replay(records, rows, seed), interval_s=1, maxlen=maxlen, name=f"replay{seed}"
    )
    started = time.monotonic()
    while not stop.is_set():
        runner.run_once()
        with sent.get_lock():
            sent.value += rows
        ahead = started + runner.records / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


XADD = ["XADD", "bench:xadd", "MAXLEN", "~", "100000", "*", "f", "v"]


def raw_xadd_rate(port: int, requests: int = 300_000) -> float | None:
    """``redis-benchmark -P 64`` XADD of one small entry per request, entries/s."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return None
    out = subprocess.run(
        [binary, "-p", str(port), "-n", str(requests), "-P", "64", "-q", *XADD],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.findall(r"([0-9.]+) requests per second", out)
    return float(found[-1]) if found else None


def expected_counts(records: pl.DataFrame) -> dict[str, int]:
    """The province's 30-day received and resolved counts, straight from the pool."""
    since = datetime.now(UTC) - timedelta(days=30)
    received = records.filter(pl.col("received_at") >= since)
    return {
        "received": received.height,
        "resolved": records.filter(
            (pl.col("status") == "da_tra_ket_qua") & (pl.col("returned_at") >= since)
        ).height,
    }


def province_counts(client: redis.Redis, province: str) -> dict[str, int]:
    raw = client.hget(keys.snapshot(FEED), keys.snapshot_field(province, "30d"))
    if raw is None:
        return {}
    doc = json.loads(raw)
    return {k: int(doc["kpis"][k]["value"]) for k in ("received", "resolved")}


def lag_records(client: redis.Redis) -> int:
    """Records not yet acknowledged: not read, or read and not yet checkpointed (a worker
    acknowledges its entries with the checkpoint, every ``aggregator.checkpoint_s``)."""
    progress = stream_progress(client, FEED)
    return (progress["undelivered"] + progress["pending"]) * BATCH_ROWS


def behind(client: redis.Redis) -> tuple[int, int]:
    """Records not yet acknowledged (:func:`lag_records`) and, of them, not yet read, at once."""
    progress = stream_progress(client, FEED)
    return (progress["undelivered"] + progress["pending"]) * BATCH_ROWS, progress["undelivered"] * BATCH_ROWS


def wait_drained(client: redis.Redis, workers: list[subprocess.Popen[bytes]], timeout_s: float) -> float:
    started = time.monotonic()
    while lag_records(client) and time.monotonic() - started < timeout_s:
        if any(w.poll() is not None for w in workers):
            raise RuntimeError("an aggregator worker exited during the benchmark")
        time.sleep(0.2)
    return time.monotonic() - started


LAG_GROWTH_ALLOWED = 0.02  # of the offered rate: a lag that grows faster is not keeping up


def lag_growth(samples: list[tuple[float, int, int]]) -> float:
    """How fast the lag grows over ``samples`` (least squares), records/s; 0 for too few."""
    if len(samples) < 3:
        return 0.0
    times = np.array([t for t, _sent, _lag in samples])
    lags = np.array([lag for _t, _sent, lag in samples], dtype=float)
    return float(np.polyfit(times, lags, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1_000_000, help="records/s offered, in total")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pool", type=int, default=200_000, help="dossiers the updates are drawn from")
    parser.add_argument("--producers", type=int, default=2, help="connector runner processes")
    parser.add_argument("--workers", type=int, default=1, help="aggregator processes in the group")
    parser.add_argument("--rows-per-poll", type=int, default=50_000)
    args = parser.parse_args()

    server = redis_server()
    client = redis.Redis.from_url(server.url)
    units = bench_units()
    records = pool(units, args.pool, seed=1)
    raw_rate = raw_xadd_rate(server.port)
    client.delete("bench:xadd")

    env = {
        "IOC_REDIS__URL": server.url,
        "IOC_REDIS__STREAM_MAXLEN": str(STREAM_MAXLEN),
        "IOC_AGGREGATOR__INTERVAL_S": "0.2",
    }
    workers = [ioc_process(["aggregate", FEED], env) for _ in range(args.workers)]
    spawn = spawn_context()
    stop = spawn.Event()
    sent = spawn.Value("q", 0)
    try:
        # Warm-up, not measured: every dossier of the pool once, so the state is at full size.
        seed = spawn.Process(target=produce, args=(server.url, records, 10_000_000, args.pool, 0, stop, sent))
        seed.start()
        while sent.value < args.pool:
            time.sleep(0.05)
        stop.set()
        seed.join()
        warm_s = wait_drained(client, workers, 120)
        stop.clear()
        sent.value = 0
        share = args.rate / args.producers
        producers = [
            spawn.Process(
                target=produce, args=(server.url, records, share, args.rows_per_poll, i + 1, stop, sent)
            )
            for i in range(args.producers)
        ]
        for p in producers:
            p.start()
        started = time.monotonic()
        samples: list[tuple[float, int, int]] = []
        unread: list[int] = []
        rss: list[int] = []
        while (elapsed := time.monotonic() - started) < args.seconds:
            time.sleep(1.0)
            offered_then = sent.value
            lag, not_read = behind(client)
            samples.append((round(elapsed, 1), offered_then, lag))
            unread.append(not_read)
            rss.append(sum(psutil.Process(w.pid).memory_info().rss for w in workers))
        stop.set()
        for p in producers:
            p.join()
        measured_s = time.monotonic() - started
        offered = sent.value
        drain_s = wait_drained(client, workers, 300)
        time.sleep(1.5)  # the cycle that follows the last entry publishes its snapshot
        got, want = province_counts(client, units.province), expected_counts(records)
    finally:
        for w in workers:
            w.terminate()
            w.wait(30)
        server.close()

    lags = [lag for _t, _sent, lag in samples]
    # Both at the last sample: what had been sent then, less what was still behind then.
    last_s, last_sent = (samples[-1][0], samples[-1][1]) if samples else (1.0, 0)
    sustained = (last_sent - lags[-1]) / last_s if samples else 0.0
    # Counted into the published figures, at least: everything read but what a worker holds
    # unpublished, the read it computes and the one it takes ahead meanwhile (aggregator.read_count
    # entries each).
    ahead = 2 * AggregatorSettings().read_count * BATCH_ROWS  # type: ignore[call-arg]
    counted = (last_sent - unread[-1] - ahead) / last_s if samples else 0.0
    growth = lag_growth(samples[len(samples) // 2 :])
    bounded = growth <= LAG_GROWTH_ALLOWED * offered / measured_s
    emit(
        "ingest",
        {
            "offered_records_per_s": round(offered / measured_s),
            # Every record offered while the producers ran was counted and acknowledged once the
            # lag drained: all of them over the time until then (not a bound: the whole run).
            "end_to_end_records_per_s": round(offered / (measured_s + drain_s)),
            "sustained_records_per_s": round(sustained),
            "counted_records_per_s_at_least": round(counted),
            "unread_records_max": max(unread, default=0),
            "unread_records_end": unread[-1] if unread else 0,
            "lag_bounded": bounded,
            "lag_growth_records_per_s": round(growth),
            "lag_records_max": max(lags, default=0),
            "lag_records_end": lags[-1] if lags else 0,
            "lag_records_every_5s": lags[4::5],
            "drain_after_stop_s": round(drain_s, 2),
            "aggregator_rss_mb_max": round(max(rss, default=0) / 1e6),
            "warm_up_s": round(warm_s, 1),
            "pool": args.pool,
            "producers": args.producers,
            "workers": args.workers,
            "kpis_equal_direct_count": got == want,
            "kpis": got,
            "raw_xadd_entries_per_s": raw_rate,
            "ratio_to_raw_xadd": round(sustained / raw_rate, 2) if raw_rate else None,
            "target_records_per_s": 1_000_000,
        },
    )


if __name__ == "__main__":
    main()
