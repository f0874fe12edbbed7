"""Killing the aggregator with SIGKILL mid-run loses nothing and counts nothing twice."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.citizen_feedback import CitizenFeedbackConfig, CitizenFeedbackConnector
from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from ioc import keys
from ioc.connector import Context
from ioc.feeds import FEED_SPECS
from ioc.runner import ConnectorRunner
from ioc.simulators.citizen_feedback import CitizenFeedbackWorld
from ioc.simulators.http import SimulatorServer
from ioc.simulators.public_services import PublicServicesWorld
from ioc.state import State
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


@pytest.mark.timeout(240)
def test_field_reports_killed_mid_run_end_equal_to_their_whole_state(r, redis_server, units, geodata) -> None:
    """Field reports' KPIs are incremental too, their medians kept per unit and window
    (``ioc.medians``) as the days pass: after three SIGKILLs and restarts, the published figures
    of every unit and window are those computed from the whole checkpointed state, which holds
    every report the source has, once."""
    feed = "citizen_feedback"
    spec = FEED_SPECS[feed]
    assert spec.incremental is not None and spec.incremental.medians, "this test is the medians' crash test"
    clock = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=3))
    world = CitizenFeedbackWorld(units, geodata, seed=11, clock=clock, history_days=12, daily_reports=150)
    server = SimulatorServer({"/api/v1/phan-anh": world}).start()
    http = httpx.Client()
    config = CitizenFeedbackConfig(url=server.url, page_size=60, max_pages=1)  # type: ignore[arg-type]
    context = Context(units=units, http=http, clock=clock, geodata=geodata)
    runner = ConnectorRunner(r, CitizenFeedbackConnector(config, context=context), interval_s=1)
    worker = start_aggregator(redis_server.url, feed)
    kills = 0
    try:
        for day in range(3):
            clock.now += timedelta(days=1) if day else timedelta(0)  # reports close, windows slide
            while runner.run_once():
                pass
            base = progress(r, feed)["done"]
            wait_until(
                lambda base=base: progress(r, feed)["done"] >= base + 3,
                60,
                "the worker acknowledged nothing",
                interval=0.02,
            )
            assert not settled(r, feed), "the worker finished before it could be killed mid-run"
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = start_aggregator(redis_server.url, feed)
        wait_until(
            lambda: settled(r, feed), 120, "the restarted worker did not finish the stream", interval=0.1
        )
        snapshot = {k.decode(): v for k, v in r.hgetall(keys.snapshot(feed)).items()}
        saved = r.hgetall(keys.checkpoint(feed))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        server.close()
        http.close()
    assert kills == 3
    state = State.restore(saved, spec.schema, spec.key, spec.version, spec.buckets(16))
    meta = json.loads(snapshot[keys.META_FIELD])
    ids = {record["ma_phan_anh"] for record in world.latest()}
    dead = r.xlen(keys.dead_letters(feed))
    assert meta["records"] == state.frame.height == len(ids) - dead, (meta["records"], len(ids), dead)
    as_of = datetime.fromisoformat(meta["as_of"])
    whole = spec.compute(state.records(), units.rollup().lazy(), as_of).collect()
    compared = 0
    for row in whole.iter_rows(named=True):
        got = json.loads(snapshot[f"{row['unit']}|{row['window']}"])["kpis"]
        for kpi in spec.kpis:
            if kpi.kind != "list":
                assert got[kpi.name]["value"] == pytest.approx(row[kpi.name]), (
                    row["unit"],
                    row["window"],
                    kpi.name,
                )
                compared += 1
    assert compared > 1000 and whole["median_handling_hours"].drop_nulls().len() > 100
