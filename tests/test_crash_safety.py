"""Killing the aggregator with SIGKILL mid-run loses nothing and counts nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.citizen_feedback import CitizenFeedbackConfig, CitizenFeedbackConnector
from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from connectors.vaccination import VaccinationConfig, VaccinationConnector
from ioc import keys
from ioc.connector import Context
from ioc.feeds import FEED_SPECS
from ioc.runner import ConnectorRunner
from ioc.simulators.citizen_feedback import CitizenFeedbackWorld
from ioc.simulators.http import SimulatorServer
from ioc.simulators.public_services import PublicServicesWorld
from ioc.simulators.vaccination import VaccinationWorld
from ioc.state import State
from ioc.streams import FIELD_BATCH, decode_frame
from tests.workers import Clock, killed_three_times, matches_truth

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
    try:
        with killed_three_times(r, redis_server.url, runner, clock) as kills:
            # Settled: every entry acknowledged, which its cycle's snapshot was committed with.
            snapshot = {k.decode(): v for k, v in r.hgetall(keys.snapshot(FEED)).items()}
    finally:
        server.close()
        http.close()
    assert kills == 3
    matches_truth(snapshot, world.latest(), units)
    assert r.xlen(keys.dead_letters(FEED)) == 0


def field_reports(units, geodata, clock, http):
    world = CitizenFeedbackWorld(units, geodata, seed=11, clock=clock, history_days=12, daily_reports=150)
    config = CitizenFeedbackConfig(url="http://unused", page_size=60, max_pages=1)  # type: ignore[arg-type]
    context = Context(units=units, http=http, clock=clock, geodata=geodata)
    return (
        world,
        "/api/v1/phan-anh",
        "ma_phan_anh",
        lambda url: CitizenFeedbackConnector(config.model_copy(update={"url": url}), context=context),
    )


def doses(units, geodata, clock, http):
    world = VaccinationWorld(units, geodata, seed=12, clock=clock, history_days=12, daily_series=60)
    config = VaccinationConfig(url="http://unused", page_size=60, max_pages=1)  # type: ignore[arg-type]
    secrets = {"IOC_PSEUDONYM_KEY": "k" * 32}
    context = Context(units=units, http=http, clock=clock, secrets=secrets)
    return (
        world,
        "/api/v1/mui-tiem",
        "ma_mui_tiem",
        lambda url: VaccinationConnector(config.model_copy(update={"url": url}), context=context),
    )


@pytest.mark.timeout(240)
@pytest.mark.parametrize("feed, source", [("citizen_feedback", field_reports), ("vaccination", doses)])
def test_books_killed_mid_run_end_equal_to_their_whole_state(
    r, redis_server, units, geodata, feed, source
) -> None:
    """Field reports' and doses' KPIs are incremental too, with what does not add up kept in a
    book beside the sums (medians per unit and window, ``ioc.medians``; people per unit and
    vaccine, ``ioc.people``): over three of the source's days (reports closing, doses corrected),
    after three SIGKILLs and restarts, every published document is the one the whole checkpointed
    state gives, which holds every record the source has, once. (The aggregator runs on the real
    clock: its windows slide by seconds here; tests/test_ledger.py moves them.)"""
    spec = FEED_SPECS[feed]
    assert spec.incremental is not None and spec.incremental.book, "this test is the books' crash test"
    clock = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=3))
    http = httpx.Client()
    world, path, id_field, connector = source(units, geodata, clock, http)
    server = SimulatorServer({path: world}).start()
    runner = ConnectorRunner(r, connector(server.url), interval_s=1)
    try:
        with killed_three_times(r, redis_server.url, runner, clock, feed) as kills:
            snapshot = {k.decode(): v for k, v in r.hgetall(keys.snapshot(feed)).items()}
            saved = r.hgetall(keys.checkpoint(feed))
    finally:
        server.close()
        http.close()
    assert kills == 3
    state = State.restore(saved, spec.schema, spec.key, spec.version, spec.buckets(16))
    meta = json.loads(snapshot[keys.META_FIELD])
    # A stream entry pending through every kill is delivered again to each new worker; with the
    # tests' settings (claim after 0.5 s, at most 5 deliveries) a slow machine may retire one to
    # the dead letters as "delivered 5 times": its records are there, in the stream, not counted.
    retired: set[str] = set()
    for _id, letter in r.xrange(keys.dead_letters(feed)):
        reason = letter[b"reason"].decode()
        assert reason.startswith("delivered "), f"a dead letter that is not a retired entry: {reason}"
        entry = json.loads(letter[b"record"])["stream_entry"]
        (_same, fields), *_ = r.xrange(keys.raw_stream(feed), entry, entry)
        retired |= set(decode_frame(fields[FIELD_BATCH])["id"].to_list())
    ids = {record[id_field] for record in world.latest()}
    held = set(state.frame["id"].to_list())
    assert meta["records"] == state.frame.height
    assert held <= ids and ids - held <= retired, (len(ids - held), len(retired))
    as_of = datetime.fromisoformat(meta["as_of"])
    rollup = units.rollup()
    whole = spec.compute(state.records(), rollup.lazy(), as_of).collect()
    expected = spec.documents(spec, whole, state.records(), rollup, as_of)
    assert len(expected) >= len(rollup["unit"].unique()) * 5  # every unit and window (and the map points)
    for field, document in expected.items():
        got, want = json.loads(snapshot[field]), json.loads(document)
        if isinstance(want, list):  # the map's points: in the order the state holds them
            got, want = sorted(got, key=lambda p: p["id"]), sorted(want, key=lambda p: p["id"])
        assert got == want, field
