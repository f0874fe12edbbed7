"""Soak: Redis memory and stream lengths over a long run at a steady load; flat, because every
stream is bounded.

A real Redis, one connector runner re-sending dossiers of a pool at ``--rate`` records/s in
500-row polls (one stream entry each), the aggregator and the relay as processes. Every
``--every`` seconds: Redis ``used_memory``, the number of keys and the length of every stream.
Once the raw stream has reached its bound (``--maxlen`` entries), memory must stay flat: the
result compares the first and the last sample after that point, and fits a slope.

Baseline, in the same run: Redis memory just after the warm-up (the pool's state, one snapshot).

    uv run python -m bench.soak [--minutes 35] [--rate 10000] [--maxlen 10000]

Prints one JSON line. Target: no growth once the streams are full (slope ≈ 0 MB/h).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import redis

from bench.common import emit, free_port, ioc_process, redis_server, wait_port
from bench.common import units as bench_units
from bench.ingest import FEED, pool, produce, spawn_context, wait_drained
from ioc import keys

STREAMS = {
    "raw": keys.raw_stream(FEED),
    "deltas": keys.deltas(FEED),
    "dead_letters": keys.dead_letters(FEED),
    "alert_log": keys.alert_log(FEED),
}


def sample(client: redis.Redis) -> dict[str, Any]:
    info: Any = client.info("memory")
    lengths = {name: int(client.xlen(key)) for name, key in STREAMS.items()}
    return {"used_memory_mb": round(info["used_memory"] / 2**20, 2), "keys": client.dbsize(), **lengths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=35.0)
    parser.add_argument("--rate", type=float, default=10_000, help="records/s")
    parser.add_argument("--maxlen", type=int, default=10_000, help="bound of the raw stream, entries")
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()

    server = redis_server()
    client = redis.Redis.from_url(server.url)
    units = bench_units()
    records = pool(units, args.pool, seed=1)
    relay_port = free_port()
    env = {
        "IOC_REDIS__URL": server.url,
        "IOC_REDIS__STREAM_MAXLEN": str(args.maxlen),
        "IOC_REALTIME__PORT": str(relay_port),
    }
    workers = [ioc_process(["aggregate", FEED], env), ioc_process(["relay"], env)]
    spawn = spawn_context()
    stop, sent = spawn.Event(), spawn.Value("q", 0)
    samples: list[dict[str, Any]] = []
    try:
        wait_port(relay_port)
        warm = spawn.Process(
            target=produce, args=(server.url, records, 1e7, args.pool, 0, stop, sent, args.maxlen)
        )
        warm.start()
        while sent.value < args.pool:
            time.sleep(0.05)
        stop.set()
        warm.join()
        wait_drained(client, workers[:1], 120)
        time.sleep(2)
        baseline = sample(client)
        stop.clear()
        sent.value = 0
        load = spawn.Process(
            target=produce, args=(server.url, records, args.rate, 500, 1, stop, sent, args.maxlen)
        )
        load.start()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            time.sleep(args.every)
            if any(w.poll() is not None for w in workers):
                raise RuntimeError("a worker exited during the soak")
            samples.append({"t_s": round(elapsed), **sample(client)})
        stop.set()
        load.join()
        offered = sent.value / (time.monotonic() - started)
    finally:
        for w in workers:
            w.terminate()
            w.wait(30)
        server.close()

    full = next((i for i, s in enumerate(samples) if s["raw"] >= args.maxlen), None)
    steady = samples[full:] if full is not None else []
    memory = [s["used_memory_mb"] for s in steady]
    hours = [s["t_s"] / 3600 for s in steady]
    slope = float(np.polyfit(hours, memory, 1)[0]) if len(steady) > 2 else float("nan")
    emit(
        "soak",
        {
            "minutes": args.minutes,
            "offered_records_per_s": round(offered),
            "raw_stream_bound_entries": args.maxlen,
            "streams_full_after_s": steady[0]["t_s"] if steady else None,
            "memory_mb_baseline_after_warm_up": baseline["used_memory_mb"],
            "memory_mb_when_full": memory[0] if memory else None,
            "memory_mb_end": memory[-1] if memory else None,
            "memory_mb_max_when_full": max(memory) if memory else None,
            "memory_slope_mb_per_h_when_full": round(slope, 2),
            "stream_lengths_end": {k: samples[-1][k] for k in STREAMS} if samples else {},
            "stream_lengths_max": {k: max(s[k] for s in samples) for k in STREAMS} if samples else {},
            "keys_end": samples[-1]["keys"] if samples else None,
            "memory_mb_every_5_min": [s["used_memory_mb"] for s in samples[:: max(1, int(300 / args.every))]],
        },
    )


if __name__ == "__main__":
    main()
