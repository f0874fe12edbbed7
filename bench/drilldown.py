"""Drill-down: server-side time of the district room's callback with a year of history.

A real Redis holds the snapshot the aggregator made from a year of dossiers for every unit (by
default 1,000,000, about what a province's one-stop offices receive in a year). A duty officer
of each district, logged in, calls the room's callback through the app's WSGI interface (no
network, no browser: the server's own time) with every choice a user makes: each KPI, window
and sort, a search without diacritics, a case filter.

Baseline, in the same run and through the same interface: ``GET /healthz`` (the framework, the
login guard and one Redis round trip).

    uv run python -m bench.drilldown [--dossiers 1000000] [--calls 400]

Prints one JSON line. Target: p95 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bench.common import emit, percentiles, redis_server
from bench.common import units as bench_units
from bench.ingest import pool
from ioc import keys
from ioc.accounts import add_user
from ioc.aggregate import Aggregator
from ioc.config import AggregatorSettings, Settings
from ioc.feeds import FEED_SPECS
from ioc.streams import Publication, publish
from ioc.units import UnitTable
from ioc.web import create_app
from tests.processes import login_form

FEED = "public_services"
PASSWORD = "bench-password-1"
CHOICES = {
    "district-kpi": ["on_time_rate", "overdue_open", "received", "avg_processing_days"],
    "district-window": ["today", "7d", "30d", "mtd", "ytd"],
    "district-sort": ["best", "worst", "name"],
    "district-search": ["", "hoa thanh", "phuoc"],
    "district-case-filter": ["", "dat dai"],
}


def load_year(client: redis.Redis, units: UnitTable, dossiers: int) -> float:
    """A year of dossiers through the real aggregator; returns the seconds it took."""
    records = pool(units, dossiers, seed=3, days=364)
    for chunk in records.iter_slices(50_000):
        publish(client, Publication(FEED, "bench", chunk, [], None), maxlen=10_000_000, dead_maxlen=1000)
    started = time.perf_counter()
    settings = AggregatorSettings(read_count=500, interval_s=0.05)  # type: ignore[call-arg]
    worker = Aggregator(client, FEED_SPECS[FEED], units, settings)
    assert worker.open()
    worker.drain()
    worker.release()
    return time.perf_counter() - started


def callback_body(spec: dict[str, Any], values: dict[str, str], code: str) -> dict[str, Any]:
    outputs = spec["output"].strip(".").split("...")
    return {
        "output": spec["output"],
        "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in outputs],
        "inputs": [{**i, "value": values.get(i["id"])} for i in spec["inputs"]],
        "state": [{**s, "value": {"feed": FEED, "code": code}} for s in spec["state"]],
        "changedPropIds": ["district-window.value"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()

    server = redis_server()
    try:
        client = redis.Redis.from_url(server.url)
        units = bench_units()
        load_s = load_year(client, units, args.dossiers)
        users = Path(tempfile.mkdtemp(prefix="ioc-bench-")) / "users.toml"
        districts = units.level_codes("district")
        for code in districts:
            add_user(users, f"truc-{code}", role="officer", password=PASSWORD, units=[code])
        settings = Settings(
            redis={"url": server.url},  # type: ignore[arg-type]
            secret_key="bench-secret",  # type: ignore[arg-type]
            auth={"users_file": users},  # type: ignore[arg-type]
        )
        app = create_app(settings, client)
        officers = {}
        for code in districts:
            officers[code] = app.server.test_client()
            form = login_form(officers[code].get("/login").text, f"truc-{code}", PASSWORD)
            reply = officers[code].post("/login", data=form)
            assert reply.status_code == 302, reply.status_code
        spec = next(
            c
            for c in officers[districts[0]].get("/_dash-dependencies").get_json()
            if "district-tiles.children" in c["output"]
        )
        combos = list(itertools.product(*CHOICES.values()))
        room_ms: list[float] = []
        health_ms: list[float] = []
        sizes: list[int] = []
        for n in range(args.calls):
            code = districts[n % len(districts)]
            values = dict(zip(CHOICES, combos[(n * 7) % len(combos)], strict=True))
            body = callback_body(spec, values, code)
            started = time.perf_counter()
            reply = officers[code].post("/_dash-update-component", json=body)
            room_ms.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 200, (reply.status_code, reply.text[:300])
            sizes.append(len(reply.data))
            started = time.perf_counter()
            assert officers[code].get("/healthz").status_code == 200
            health_ms.append((time.perf_counter() - started) * 1000)
        meta = client.hget(keys.snapshot(FEED), keys.META_FIELD)
        stored_mb = {
            name: round((client.memory_usage(key, samples=0) or 0) / 2**20, 1)
            for name, key in (("checkpoint", keys.checkpoint(FEED)), ("snapshot", keys.snapshot(FEED)))
        }
    finally:
        server.close()
    room, health = percentiles(room_ms[10:]), percentiles(health_ms[10:])  # past the first calls' warm-up
    emit(
        "drilldown",
        {
            "dossiers": args.dossiers,
            "aggregate_year_s": round(load_s, 1),
            "callback": room,
            "response_kb_p50": round(sorted(sizes)[len(sizes) // 2] / 1024, 1),
            "baseline_healthz": health,
            "ratio_p95_to_baseline": round(room["p95_ms"] / health["p95_ms"], 1),
            "target_p95_ms": 50,
            "redis_mb": stored_mb,
            "snapshot_meta": meta.decode() if meta else None,
        },
    )


if __name__ == "__main__":
    main()
