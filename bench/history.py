"""History: the size of a year of hourly KPI snapshots of all four feeds, and the time of a
room's callback for an instant a month ago.

A year of hours (8,760) of the province of today (the 2025 scheme: the province, its areas and
its 96 communes, each over the five windows) is written through the aggregators' own
``HistoryWriter`` for each of the four feeds, with documents shaped like each feed's: public
services' 8 KPIs with their rates' numerators and denominators, field reports' with a hotspot list,
mobile data's counters, vaccination's overall KPIs and 8 vaccines' each. Every hour a share of the
documents changes (``--changing``, by default 60 %: the busy hours' figures move, the quiet
communes' do not), as the figures of a real province do. Hourly snapshots are kept the whole
year here (``hourly_days`` 366) to measure a year of them; the size under the default horizons
(90 days of hours, two years of days) is reported beside it.

Then an area's duty officer, logged in, calls the area room's callback through the app's WSGI
interface for an instant 25 to 35 days before the last hour, with every window and KPI (the
server's own time, no network). Baseline, in the same run and the same interface: ``GET
/healthz``.

    uv run python -m bench.history [--days 365] [--calls 300] [--changing 0.6]

Prints one JSON line. Target: the callback's p95 ≤ 50 ms (the drill-down's).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from bench.common import emit, percentiles, redis_server
from bench.drilldown import callback_body
from ioc import keys
from ioc.accounts import add_user
from ioc.config import PROJECT_ROOT, Settings
from ioc.history import HistoryWriter
from ioc.kpis import TZ
from ioc.units import UnitTable
from ioc.web import create_app
from tests.processes import login_form

PASSWORD = "bench-password-1"
WINDOWS = ("today", "7d", "30d", "mtd", "ytd")
FEEDS = ("public_services", "citizen_feedback", "mobile_data", "vaccination")
RATES = ("on_time_rate", "online_rate", "online_payment_rate", "digitisation_rate")
CHOICES = {
    "district-kpi": ["on_time_rate", "received", "overdue_open", "avg_processing_days"],
    "district-window": list(WINDOWS),
}


def document(feed: str, rng: random.Random, scale: int) -> str:
    """A KPI document shaped like ``feed``'s, its counts about ``scale``."""

    def count() -> dict[str, Any]:
        return {"value": rng.randint(0, scale)}

    def rate() -> dict[str, Any]:
        den = rng.randint(1, scale)
        num = rng.randint(0, den)
        return {"value": num / den, "numerator": num, "denominator": den}

    if feed == "public_services":
        kpis = {"received": count(), "resolved": count(), "overdue_open": count()}
        kpis |= {name: rate() for name in RATES}
        kpis["avg_processing_days"] = {"value": round(rng.uniform(1, 9), 2)}
    elif feed == "citizen_feedback":
        kpis = {k: count() for k in ("received", "resolved", "open", "overdue")}
        kpis |= {"on_time_rate": rate(), "satisfaction_rate": rate()}
        kpis["hotspots"] = {
            "value": [
                {"lat": 11.3, "lon": 106.1, "reports": rng.randint(3, 30)} for _ in range(rng.randint(0, 3))
            ]
        }
    elif feed == "mobile_data":
        kpis = {k: count() for k in ("subscribers", "data_gb", "sessions")}
        kpis |= {"share_4g": rate(), "share_5g": rate()}
    else:
        parts = {
            v: {k: count() for k in ("doses", "people_first_dose")} | {"coverage_first_dose": rate()}
            for v in ("BCG", "VGB", "DPT", "OPV", "IPV", "MR", "JE", "HPV")
        }
        kpis = {"doses": count(), "by_vaccine": parts, "doses_by_dose_number": {"value": {"1": 3, "2": 1}}}
    return json.dumps({"kpis": kpis})


def write_year(folder: Path, units: UnitTable, hours: int, changing: float, end: datetime) -> float:
    """``hours`` hourly snapshots of every feed up to ``end``; returns the seconds it took."""
    rng = random.Random(11)
    scale = {
        u: 5000 if u == units.province else 200 if units.level(u) != "commune" else 40 for u in units.codes
    }
    fields = [(u, w) for u in units.codes for w in WINDOWS]
    writers = {f: HistoryWriter(folder, f, hourly_days=366, daily_days=730) for f in FEEDS}
    docs = {f: {keys.snapshot_field(u, w): document(f, rng, scale[u]) for u, w in fields} for f in FEEDS}
    started = time.perf_counter()
    for h in range(hours):
        at = end - timedelta(hours=hours - 1 - h)
        for feed in FEEDS:
            current = docs[feed]
            for name in rng.sample(list(current), int(len(current) * changing)):
                current[name] = document(feed, rng, scale[name.split("|")[0]])
            meta = json.dumps({"as_of": at.astimezone(TZ).isoformat(timespec="seconds"), "records": h})
            writers[feed].offer(at, {keys.META_FIELD: meta, **current})
    return time.perf_counter() - started


def size_mb(paths: list[Path]) -> float:
    return round(sum(p.stat().st_size for p in paths) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--changing", type=float, default=0.6)
    parser.add_argument(
        "--keep", action="store_true", help="keep the history written (its folder is printed)"
    )
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="ioc-bench-history-"))
    folder = data / "history"
    units = UnitTable.load(PROJECT_ROOT / "geodata", "2025")
    end = datetime.now(UTC).replace(minute=5, second=0, microsecond=0) - timedelta(hours=1)
    write_s = write_year(folder, units, args.days * 24, args.changing, end)
    hours = sorted(folder.glob("*/hours/**/*.parquet"))
    days = sorted(folder.glob("*/days/*.parquet"))
    horizon = (end.astimezone(TZ) - timedelta(days=90)).date().isoformat()
    recent = [p for p in hours if (p.stem if p.parent.name == "hours" else p.parent.name) >= horizon]
    per_feed = {f: size_mb(sorted((folder / f / "hours").rglob("*.parquet"))) for f in FEEDS}

    server = redis_server()
    try:
        client = redis.Redis.from_url(server.url)
        users = data / "users.toml"
        areas = units.level_codes(units.middle)
        for code in areas:
            add_user(users, f"truc-{code}", role="officer", password=PASSWORD, units=[code])
        settings = Settings(
            redis={"url": server.url},  # type: ignore[arg-type]
            secret_key="bench-secret",  # type: ignore[arg-type]
            auth={"users_file": users},  # type: ignore[arg-type]
            boundaries={"scheme": "2025"},  # type: ignore[arg-type]
            data_dir=data,
        )
        app = create_app(settings, client)
        officers = {}
        for code in areas:
            officers[code] = app.server.test_client()
            form = login_form(officers[code].get("/login").text, f"truc-{code}", PASSWORD)
            assert officers[code].post("/login", data=form).status_code == 302
        spec = next(
            c
            for c in officers[areas[0]].get("/_dash-dependencies").get_json()
            if "district-tiles.children" in c["output"]
        )
        rng = random.Random(5)
        room_ms: list[float] = []
        health_ms: list[float] = []
        for n in range(args.calls):
            code = areas[n % len(areas)]
            at = end - timedelta(days=25) - timedelta(minutes=rng.randrange(0, 10 * 24 * 60))
            values = {k: v[(n * 3 + i) % len(v)] for i, (k, v) in enumerate(CHOICES.items())}
            body = callback_body(spec, values, code)
            body["state"][0]["value"] = {"feed": "public_services", "code": code, "at": at.isoformat()}
            started = time.perf_counter()
            reply = officers[code].post("/_dash-update-component", json=body)
            room_ms.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 200, (reply.status_code, reply.text[:300])
            tiles = json.dumps(reply.get_json()["response"]["district-tiles"])
            assert re.search(r'"children": "\d[^"]*", "id": \{"type": "tile-value"', tiles), "no past figures"
            started = time.perf_counter()
            assert officers[code].get("/healthz").status_code == 200
            health_ms.append((time.perf_counter() - started) * 1000)
    finally:
        server.close()
        if not args.keep:  # half a gigabyte
            shutil.rmtree(data, ignore_errors=True)
    room, health = percentiles(room_ms[10:]), percentiles(health_ms[10:])
    emit(
        "history",
        {
            "units": len(units.codes),
            "windows": len(WINDOWS),
            "feeds": len(FEEDS),
            "hours": args.days * 24,
            "changing_per_hour": args.changing,
            "write_s": round(write_s, 1),
            "write_ms_per_snapshot": round(write_s * 1000 / (args.days * 24 * len(FEEDS)), 2),
            "year_of_hours_mb": size_mb(hours),
            "by_feed_mb": per_feed,
            "days_mb": size_mb(days),
            "default_horizons_mb": size_mb(recent + days),
            "callback_month_ago": room,
            "baseline_healthz": health,
            "ratio_p95_to_baseline": round(room["p95_ms"] / health["p95_ms"], 1),
            "target_p95_ms": 50,
            **({"kept": str(folder)} if args.keep else {}),
        },
    )


if __name__ == "__main__":
    main()
