"""Fan-out: N screens on one relay process; how fast each delta reaches all of them.

Opens N websocket clients (one asyncio process) to the relay, all showing the provincial room,
then writes a delta per second into the feed's delta stream and times its arrival at every
client. Baseline, in the same run: a bare `websockets` server that reads the same stream and
broadcasts each entry unchanged to N clients (no tokens, no subscriptions, no filtering).

    uv run python -m bench.fanout [--clients 10000] [--deltas 10]

Prints one JSON line. Target: delivery p95 ≤ 1 s at 10,000 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import resource
import time
from typing import Any

import psutil
import redis
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import broadcast, serve

from bench.common import SECRET, emit, free_port, ioc_process, percentiles, redis_server, wait_port
from ioc import auth, keys

FEED = "public_services"
UNITS = ["72", "703", *[str(c) for c in range(705, 713)]]
SENT = re.compile(rb'"bench_sent": ([0-9.]+)')


def delta(n: int) -> str:
    kpis = {
        f"{u}|{w}": {
            "received": {"value": n},
            "on_time_rate": {"value": 0.95, "numerator": 95, "denominator": 100},
        }
        for u in UNITS
        for w in ("today", "7d")
    }
    return json.dumps(
        {"feed": FEED, "meta": {"bench_sent": time.time(), "as_of": "x"}, "kpis": kpis, "series": {}}
    )


def bare_server(url: str, port: int) -> None:
    """The baseline: XREAD the delta stream, broadcast each entry as is."""

    async def main() -> None:
        clients: set[Any] = set()
        reader = aioredis.Redis.from_url(url)

        async def handler(ws: Any) -> None:
            clients.add(ws)
            try:
                await ws.wait_closed()
            finally:
                clients.discard(ws)

        async with serve(handler, "127.0.0.1", port, ping_interval=None):
            last = "$"
            while True:
                reply = await reader.xread({keys.deltas(FEED): last}, block=100)
                for _key, entries in reply or []:
                    for entry_id, fields in entries:
                        last = entry_id
                        broadcast(clients, fields[b"d"].decode())

    asyncio.run(main())


async def run_clients(
    url: str, count: int, hello: str | None, send: Any, deltas: int
) -> tuple[int, list[float]]:
    arrivals: list[float] = []

    async def client() -> ClientConnection | None:
        try:
            ws = await connect(url, open_timeout=60, ping_interval=None, max_size=2**22)
        except OSError:
            return None
        if hello:
            await ws.send(hello)
            await ws.recv()  # the snapshot
        return ws

    opened: list[ClientConnection] = []
    for start in range(0, count, 500):
        batch = await asyncio.gather(*[client() for _ in range(start, min(count, start + 500))])
        opened += [ws for ws in batch if ws is not None]

    async def listen(ws: ClientConnection) -> None:
        async for raw in ws:
            data = raw.encode() if isinstance(raw, str) else raw
            found = SENT.search(data[:400])
            if found:
                arrivals.append((time.time() - float(found.group(1))) * 1000)

    listeners = [asyncio.create_task(listen(ws)) for ws in opened]
    await asyncio.sleep(1)
    for n in range(deltas):
        send(n)
        await asyncio.sleep(1.0)
    await asyncio.sleep(3)
    for task in listeners:
        task.cancel()
    await asyncio.gather(*[ws.close() for ws in opened], return_exceptions=True)
    return len(opened), arrivals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--deltas", type=int, default=10)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = redis_server()
    client = redis.Redis.from_url(server.url)
    client.hset(keys.snapshot(FEED), keys.META_FIELD, json.dumps({"as_of": "x"}))

    def send(n: int) -> None:
        client.xadd(keys.deltas(FEED), {"d": delta(n)}, maxlen=1000)

    relay_port, bare_port = free_port(), free_port()
    relay = ioc_process(["relay"], {"IOC_REDIS__URL": server.url, "IOC_REALTIME__PORT": str(relay_port)})
    bare = multiprocessing.get_context("spawn").Process(target=bare_server, args=(server.url, bare_port))
    bare.start()
    try:
        wait_port(relay_port)
        wait_port(bare_port)
        rss_before = psutil.Process(relay.pid).memory_info().rss
        hello = json.dumps({"type": "subscribe", "feeds": [FEED], "units": UNITS, "series": ["72"]})
        url = f"ws://127.0.0.1:{relay_port}/?token={auth.mint(SECRET)}"
        started = time.monotonic()
        reached, ioc = asyncio.run(run_clients(url, args.clients, hello, send, args.deltas))
        rss_after = psutil.Process(relay.pid).memory_info().rss
        elapsed = time.monotonic() - started
        bare_reached, base = asyncio.run(
            run_clients(f"ws://127.0.0.1:{bare_port}/", args.clients, None, send, args.deltas)
        )
    finally:
        relay.terminate()
        relay.wait(20)
        bare.terminate()
        server.close()
    mine, theirs = percentiles(ioc), percentiles(base)
    emit(
        "fanout",
        {
            "clients_asked": args.clients,
            "clients_reached": reached,
            "deltas": args.deltas,
            "deliveries_expected": reached * args.deltas,
            "relay": mine,
            "baseline_bare_broadcast": {**theirs, "clients_reached": bare_reached},
            "ratio_p95": round(mine["p95_ms"] / theirs["p95_ms"], 2) if theirs["n"] else None,
            "relay_memory_per_client_kb": round((rss_after - rss_before) / max(reached, 1) / 1024, 1),
            "run_seconds": round(elapsed, 1),
            "target_p95_ms": 1000,
            "meets_target": reached >= args.clients and mine["p95_ms"] <= 1000,
        },
    )


if __name__ == "__main__":
    main()
