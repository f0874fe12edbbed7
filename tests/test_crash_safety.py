"""Killing the aggregator with SIGKILL mid-run loses nothing and counts nothing twice."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from ioc import keys
from ioc.connector import Context
from ioc.feeds import FEED_SPECS
from ioc.runner import ConnectorRunner
from ioc.simulators.http import SimulatorServer
from ioc.simulators.public_services import PublicServicesWorld
from tests.wait import wait_until
from tests.workers import Clock, matches_truth, progress, settled, start_aggregator

FEED = "public_services"


@pytest.mark.timeout(240)
def test_sigkill_mid_run_then_restart_equals_ground_truth(r, redis_server, units) -> None:
    """Three SIGKILLs at different points of a run; the final KPIs equal the oracle's. The feed's
    KPIs are incremental (partial sums updated cycle by cycle, ``ioc.ledger``): each restart
    rebuilds them from the checkpoint, and they end exact."""
    assert FEED_SPECS[FEED].incremental is not None, "this test is the incremental path's crash test"
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
            base = progress(r)["done"]
            wait_until(
                lambda base=base: progress(r)["done"] >= base + 3,
                60,
                "the worker acknowledged nothing",
                interval=0.02,
            )
            assert not settled(r), "the worker finished before it could be killed mid-run"
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = start_aggregator(redis_server.url)
        wait_until(lambda: settled(r), 120, "the restarted worker did not finish the stream", interval=0.1)
        # Settled: every entry acknowledged, which its cycle's snapshot was committed with.
        snapshot = {k.decode(): v for k, v in r.hgetall(keys.snapshot(FEED)).items()}
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        server.close()
        http.close()
    assert kills == 3
    matches_truth(snapshot, world.latest(), units)
    assert r.xlen(keys.dead_letters(FEED)) == 0
