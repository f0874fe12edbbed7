"""Freshness: from a record accepted by a connector to the delta arriving at a websocket client.

Runs a real Redis, the aggregator and the relay as processes, loads 100,000 dossiers (as a
province has them: most resolved, a few percent overdue; ``--all-open`` for every one open and
half of them overdue, a work list of 50,000 cases), then keeps a background load of 10,000
changed records/s flowing (500-row batches, as connectors publish)
while a probe publishes a new dossier in a commune the load never touches every 200 ms and a
websocket client watches that commune's "today" count. Baseline, in the same run and under the
same load: the bare transport (XADD → XREAD → websocket broadcast → client) with no aggregation.

    uv run python -m bench.freshness [--seconds 20] [--rate 10000] [--all-open]

Prints one JSON line. Target: p95 ≤ 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import redis
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.asyncio.server import broadcast, serve

from bench.common import SECRET, dossiers, emit, free_port, ioc_process, percentiles, redis_server, wait_port
from bench.common import units as bench_units
from bench.ingest import pool
from ioc import auth, keys
from ioc.kpis import dossier_overdue
from ioc.streams import Publication, publish
from ioc.units import UnitTable

FEED = "public_services"
MARKER = "25486"  # Thị trấn Tân Biên: only the probe files dossiers here
POOL = 100_000
BATCH = 500


def background_load(url: str, pool: pl.DataFrame, rate: int, stop: Any) -> None:
    """Re-send random dossiers of the pool in a new state, ``rate`` records per second: an open
    dossier goes to waiting for the citizen or back to being processed (so the overdue counts and
    work lists keep changing), a resolved one is re-sent as it is."""
    client = redis.Redis.from_url(url)
    rng = np.random.default_rng(7)
    interval = BATCH / rate
    next_at = time.monotonic()
    open_now = pl.col("status").is_in(["tiep_nhan", "dang_xu_ly", "cho_bo_sung"])
    while not stop.is_set():
        rows = pool[rng.integers(0, pool.height, BATCH)]
        now = pl.lit(int(time.time() * 1_000_000)).cast(pl.Datetime("us", "UTC"))
        moved = str(rng.choice(["dang_xu_ly", "cho_bo_sung"]))
        rows = rows.with_columns(
            updated_at=now, status=pl.when(open_now).then(pl.lit(moved)).otherwise("status")
        )
        publish(client, Publication(FEED, "bench", rows, [], None), maxlen=200_000, dead_maxlen=1000)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


class Probe:
    """Publishes one marker dossier at a time and times its arrival by the marker count."""

    def __init__(self, client: redis.Redis, units: UnitTable) -> None:
        self.client = client
        self.units = units
        self.sent: list[float] = []
        self.latencies: list[float] = []
        self.seen = 0

    def send(self, publish_one: Any) -> None:
        self.sent.append(time.perf_counter())
        publish_one(len(self.sent))

    def arrived(self, count: int) -> None:
        now = time.perf_counter()
        for k in range(self.seen, min(count, len(self.sent))):
            self.latencies.append((now - self.sent[k]) * 1000)
        self.seen = max(self.seen, count)


async def measure(
    url: str,
    hello: dict[str, Any],
    value_of: Any,
    probe: Probe,
    send: Any,
    seconds: float,
    *,
    base: int | None,
) -> None:
    """Counts arrive as absolute numbers (``base=0``) or on top of the snapshot's (``base=None``)."""
    async with connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps(hello))

        async def reader() -> None:
            nonlocal base
            async for raw in ws:
                value = value_of(json.loads(raw))
                if value is None:
                    continue
                if base is None:
                    base = value
                probe.arrived(value - base)

        task = asyncio.create_task(reader())
        await asyncio.sleep(1.0)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            probe.send(send)
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)
        task.cancel()


def ioc_value(message: dict[str, Any]) -> int | None:
    kpis = message["feeds"][FEED]["kpis"] if message["type"] == "snapshot" else message.get("kpis", {})
    doc = kpis.get(f"{MARKER}|today")
    return None if doc is None else int(doc["received"]["value"])


async def baseline(url: str, rate_ms: list[float], seconds: float) -> list[float]:
    """XADD → XREAD BLOCK → websocket broadcast → client, with nothing in between."""
    reader = aioredis.Redis.from_url(url)
    writer = redis.Redis.from_url(url)
    clients: set[Any] = set()
    port = free_port()

    async def handler(ws: Any) -> None:
        clients.add(ws)
        await ws.wait_closed()

    async def pump() -> None:
        last = "$"
        while True:
            reply = await reader.xread({"bench:probe": last}, block=100)
            for _key, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    broadcast(clients, fields[b"n"].decode())

    probe = Probe(writer, None)  # type: ignore[arg-type]
    async with serve(handler, "127.0.0.1", port):
        pumping = asyncio.create_task(pump())
        await measure(
            f"ws://127.0.0.1:{port}/",
            {},
            lambda m: m,
            probe,
            lambda n: writer.xadd("bench:probe", {"n": str(n)}, maxlen=1000),
            seconds,
            base=0,
        )
        pumping.cancel()
    await reader.aclose()
    return probe.latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=10_000, help="background records per second")
    parser.add_argument(
        "--all-open",
        action="store_true",
        help="every dossier open, half of them overdue (work lists of 50,000 cases rewritten each cycle)",
    )
    args = parser.parse_args()
    server = redis_server()
    client = redis.Redis.from_url(server.url)
    units = bench_units()
    dossier_pool = (dossiers(units, POOL) if args.all_open else pool(units, POOL, seed=3)).filter(
        pl.col("unit_code") != MARKER  # the probe's commune is the probe's alone
    )
    publish(client, Publication(FEED, "bench", dossier_pool, [], None), maxlen=200_000, dead_maxlen=1000)
    relay_port = free_port()
    env = {
        "IOC_REDIS__URL": server.url,
        "IOC_REALTIME__PORT": str(relay_port),
        "IOC_AGGREGATOR__INTERVAL_S": "0.05",
    }
    workers = [ioc_process(["aggregate", FEED], env), ioc_process(["relay"], env)]
    stop = multiprocessing.get_context("spawn").Event()
    load = multiprocessing.get_context("spawn").Process(
        target=background_load, args=(server.url, dossier_pool, args.rate, stop)
    )
    try:
        wait_port(relay_port)
        while (
            json.loads(client.hget(keys.snapshot(FEED), keys.META_FIELD) or b'{"records": 0}')["records"]
            < dossier_pool.height
        ):
            time.sleep(0.2)
        load.start()
        time.sleep(3)  # warm up under load

        def send_marker(n: int) -> None:
            received = pl.lit(int((time.time() - 5) * 1_000_000)).cast(pl.Datetime("us", "UTC"))
            marker = dossiers(units, 1, start=10**8 + n, unit=MARKER).with_columns(received_at=received)
            publish(client, Publication(FEED, "probe", marker, [], None), maxlen=200_000, dead_maxlen=1000)

        probe = Probe(client, units)
        hello = {"type": "subscribe", "feeds": [FEED], "units": [MARKER, "72"], "series": []}
        url = f"ws://127.0.0.1:{relay_port}/?token={auth.mint(SECRET)}"
        asyncio.run(measure(url, hello, ioc_value, probe, send_marker, args.seconds, base=None))
        base = asyncio.run(baseline(server.url, [], args.seconds))
        lag = client.xinfo_groups(keys.raw_stream(FEED))
    finally:
        stop.set()
        load.join(10)
        for worker in workers:
            worker.terminate()
            worker.wait(20)
        server.close()
    ioc, bare = percentiles(probe.latencies), percentiles(base)
    emit(
        "freshness",
        {
            "background_records_per_s": args.rate,
            "pool": "all open" if args.all_open else "as a province has them",
            "overdue_in_pool": dossier_pool.filter(dossier_overdue(datetime.now(UTC))).height,
            "ioc": ioc,
            "baseline_transport": bare,
            "ratio_p95": round(ioc["p95_ms"] / bare["p95_ms"], 1) if bare["n"] else None,
            "target_p95_ms": 500,
            "meets_target": ioc["p95_ms"] <= 500,
            "aggregator_group": {k: str(v) for k, v in lag[0].items()} if lag else None,
        },
    )


if __name__ == "__main__":
    main()
