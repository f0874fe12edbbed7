"""Killing the aggregator with SIGKILL mid-run loses nothing and counts nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from ioc import keys
from ioc.config import PROJECT_ROOT
from ioc.connector import Context
from ioc.runner import ConnectorRunner
from ioc.simulators.http import SimulatorServer
from ioc.simulators.public_services import PublicServicesWorld
from ioc.streams import stream_progress
from tests import oracle

FEED = "public_services"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def start_aggregator(redis_url: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        IOC_REDIS__URL=redis_url,
        IOC_AGGREGATOR__READ_COUNT="1",
        IOC_AGGREGATOR__INTERVAL_S="0.05",
        IOC_AGGREGATOR__CLAIM_IDLE_S="0.5",
        IOC_AGGREGATOR__LEASE_TTL_S="1",
        IOC_AGGREGATOR__STATE_BUCKETS="16",
        IOC_AGGREGATOR__CHECKPOINT_S="0.3",
        IOC_LOG_LEVEL="WARNING",
    )
    env.pop("IOC_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "ioc.cli", "aggregate", FEED], env=env, cwd=PROJECT_ROOT)


def progress(r) -> dict[str, int]:
    return stream_progress(r, FEED)


def settled(r) -> bool:
    now = progress(r)
    return now["length"] > 0 and now["pending"] == 0 and now["undelivered"] == 0


@pytest.mark.timeout(240)
def test_sigkill_mid_run_then_restart_equals_ground_truth(r, redis_server, units) -> None:
    """Three SIGKILLs at different points of a run; the final KPIs equal the oracle's."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=3))
    world = PublicServicesWorld(units, seed=7, clock=clock, history_days=12, daily_dossiers=250)
    server = SimulatorServer({"/api/v1/hoso": world}).start()
    http = httpx.Client()
    config = PublicServicesConfig(url=server.url, page_size=60, max_pages=1)  # type: ignore[arg-type]
    runner = ConnectorRunner(
        r, PublicServicesConnector(config, context=Context(units=units, http=http, clock=clock)), interval_s=1
    )
    worker = start_aggregator(redis_server.url)
    kills = 0
    try:
        for day in range(3):
            clock.now += timedelta(days=1) if day else timedelta(0)
            while runner.run_once():
                pass
            # Kill once the worker has acknowledged some entries of this round but not all.
            deadline = time.monotonic() + 60
            base = progress(r)["done"]
            while time.monotonic() < deadline and progress(r)["done"] < base + 3:
                time.sleep(0.02)
            assert not settled(r), "the worker finished before it could be killed mid-run"
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = start_aggregator(redis_server.url)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not settled(r):
            time.sleep(0.1)
        assert settled(r), "the restarted worker did not finish the stream"
        time.sleep(0.3)
        snapshot = {k.decode(): v for k, v in r.hgetall(keys.snapshot(FEED)).items()}
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        server.close()
        http.close()
    assert kills == 3
    matches_truth(snapshot, world.latest(), units)
    assert r.xlen(keys.dead_letters(FEED)) == 0


def matches_truth(snapshot: dict[str, bytes], truth: list[dict], units) -> None:
    """The snapshot's KPIs are the oracle's over the source's records, for the province, every
    district and a tenth of the communes, in every window."""
    meta = json.loads(snapshot[keys.META_FIELD])
    assert meta["records"] == len(truth)
    as_of = datetime.fromisoformat(meta["as_of"])
    parents = dict(zip(units.frame["code"], units.frame["parent_code"], strict=True))
    checked = ["72", *units.level_codes("district"), *units.level_codes("commune")[::10]]
    for unit in checked:
        mine = oracle.counts_for(truth, unit, parents)
        for window in ("today", "7d", "30d", "mtd", "ytd"):
            got = json.loads(snapshot[f"{unit}|{window}"])["kpis"]
            assert oracle.same(got, oracle.public_services(mine, as_of, window)), (unit, window, got)
