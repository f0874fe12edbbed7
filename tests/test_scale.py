"""Scale-out: the pipeline on a real Redis Cluster, and several aggregator workers in one group."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from redis.cluster import RedisCluster
from websockets.sync.client import connect

from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from ioc import auth, keys
from ioc.config import PROJECT_ROOT, Settings
from ioc.connector import Context
from ioc.redis_server import free_port
from ioc.runner import ConnectorRunner
from ioc.simulators.http import SimulatorServer
from ioc.simulators.public_services import PublicServicesWorld
from ioc.store import connect as connect_redis
from ioc.web import create_app
from tests.cluster import LocalCluster
from tests.pipeline import Pipeline
from tests.processes import PASSWORD, login_form, users_file
from tests.wait import wait_until
from tests.workers import Clock, matches_truth, progress, settled, start_aggregator

FEED = "public_services"
FEEDS = ("public_services", "citizen_feedback", "mobile_data", "vaccination")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    nodes = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    yield nodes
    nodes.close()


@pytest.fixture
def world(units) -> Iterator[tuple[PublicServicesWorld, str, Clock]]:
    clock = Clock(datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    source = PublicServicesWorld(units, seed=11, clock=clock, history_days=9, daily_dossiers=180)
    server = SimulatorServer({"/api/v1/hoso": source}).start()
    yield source, server.url, clock
    server.close()


def start_relay(url: str, port: int, *, cluster: bool) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        IOC_REDIS__URL=url,
        IOC_REDIS__CLUSTER=str(cluster).lower(),
        IOC_SECRET_KEY="scale-secret",
        IOC_REALTIME__PORT=str(port),
        IOC_LOG_LEVEL="WARNING",
    )
    env.pop("IOC_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "ioc.cli", "relay"], env=env, cwd=PROJECT_ROOT)


def relay_screen(port: int, unit: str, then: Callable[[], None]) -> tuple[dict, dict]:
    """What a screen gets from the relay on ``port``: ``unit``'s 7-day documents in the snapshot,
    then, after ``then()`` ran, in the first delta that changes them."""
    token = auth.mint("scale-secret")
    deadline = time.monotonic() + 30
    while True:
        try:
            ws = connect(f"ws://127.0.0.1:{port}/?token={token}", open_timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    field = f"{unit}|7d"
    with ws:
        ws.send(json.dumps({"type": "subscribe", "feeds": [FEED], "units": [unit], "series": []}))
        message = json.loads(ws.recv(timeout=20))
        while message["type"] != "snapshot":
            message = json.loads(ws.recv(timeout=20))
        snapshot = message["feeds"][FEED]["kpis"][field]
        then()
        while True:
            message = json.loads(ws.recv(timeout=20))
            if message["type"] == "delta" and field in message.get("kpis", {}):
                return snapshot, message["kpis"][field]


def api_kpis(settings: Settings, unit: str) -> dict:
    app = create_app(settings, connect_redis(settings.redis))
    client = app.server.test_client()
    reply = client.get(
        f"/api/v1/kpis?feed={FEED}&unit={unit}&window=7d",
        headers={"Authorization": "Basic " + _basic("lanhdao", PASSWORD)},
    )
    assert reply.status_code == 200, reply.text
    return reply.json["kpis"]


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_each_feeds_keys_share_a_slot_and_the_feeds_spread_over_the_primaries(cluster) -> None:
    client = RedisCluster.from_url(cluster.url)
    nodes = set()
    for feed in FEEDS:
        names = [keys.raw_stream(feed), keys.snapshot(feed), keys.checkpoint(feed), keys.deltas(feed)]
        names += [keys.lease(feed), keys.alerts(feed), keys.dead_letters(feed), keys.cursor(feed, "x")]
        assert len({client.keyslot(n) for n in names}) == 1, feed
        nodes.add(client.get_node_from_key(keys.raw_stream(feed)).port)
    assert len(nodes) == 3  # the four feeds land on all three primaries
    client.close()


@pytest.mark.timeout(180)
def test_the_pipeline_on_a_three_primary_cluster_gives_the_single_nodes_kpis(
    cluster, r, redis_server, units, world
) -> None:
    """Connector runner → stream → aggregator → snapshot, then the relay and the KPI API, on a
    cluster and on one server, from the same source and clock: the same figures everywhere."""
    _source, url, clock = world
    on_cluster = connect_redis(Settings(redis={"url": cluster.url, "cluster": True}).redis)  # type: ignore[arg-type]
    single = Pipeline(r, units, url, clock, page_size=200, read_count=7)
    spread = Pipeline(on_cluster, units, url, clock, page_size=200, read_count=7)
    for pipeline in (single, spread):
        pipeline.sync()
        pipeline.aggregator.drain()
    single_docs = {k.decode(): v for k, v in r.hgetall(keys.snapshot(FEED)).items()}
    cluster_docs = {k.decode(): v for k, v in on_cluster.hgetall(keys.snapshot(FEED)).items()}
    assert len(single_docs) > 500
    assert cluster_docs == single_docs  # every unit, window, case list and the meta, byte for byte
    assert on_cluster.xlen(keys.dead_letters(FEED)) == 0
    assert progress(on_cluster)["done"] == progress(r)["done"] > 0

    def a_day_later() -> None:
        clock.now += timedelta(days=1)
        spread.sync()

    port = free_port()
    relay = start_relay(cluster.url, port, cluster=True)
    try:
        before, after = relay_screen(port, "705", a_day_later)
        assert before == json.loads(single_docs["705|7d"])["kpis"]
        assert after == json.loads(on_cluster.hget(keys.snapshot(FEED), "705|7d"))["kpis"]
        assert after["received"]["value"] > before["received"]["value"]
    finally:
        relay.terminate()
        relay.wait(20)
    settings = Settings(
        redis={"url": cluster.url, "cluster": True},  # type: ignore[arg-type]
        secret_key="test-secret",  # type: ignore[arg-type]
        auth={"users_file": users_file("pre2025")},  # type: ignore[arg-type]
    )
    assert api_kpis(settings, "703") == json.loads(on_cluster.hget(keys.snapshot(FEED), "703|7d"))["kpis"]
    single.close()
    spread.close()


@pytest.mark.timeout(240)
def test_two_workers_in_one_group_give_one_workers_kpis_and_survive_losing_either(
    r, redis_server, units
) -> None:
    """Two ``ioc aggregate`` processes in the consumer group: one owns the feed's state, the other
    stands by. Killing the owner mid-run hands the stream to the other, which finishes it with
    the KPIs of the ground truth: nothing lost, nothing counted twice."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    source = PublicServicesWorld(units, seed=5, clock=clock, history_days=10, daily_dossiers=250)
    server = SimulatorServer({"/api/v1/hoso": source}).start()
    http = httpx.Client()
    config = PublicServicesConfig(url=server.url, page_size=60, max_pages=1)  # type: ignore[arg-type]
    connector = PublicServicesConnector(config, context=Context(units=units, http=http, clock=clock))
    runner = ConnectorRunner(r, connector, interval_s=1)
    workers = [start_aggregator(redis_server.url) for _ in range(2)]
    try:
        while runner.run_once():
            pass
        wait_until(lambda: progress(r)["done"] >= 3, 60, "no worker acknowledged anything", interval=0.02)
        assert not settled(r), "the stream was finished before a worker could be lost"
        owner = r.get(keys.lease(FEED))
        assert owner is not None
        holder = next(w for w in workers if f"-{w.pid}-" in owner.decode())
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        survivor = next(w for w in workers if w is not holder)
        wait_until(
            lambda: settled(r), 120, "the standing-by worker did not take the stream over", interval=0.1
        )
        assert f"-{survivor.pid}-" in r.get(keys.lease(FEED)).decode()
        snapshot = {k.decode(): v for k, v in r.hgetall(keys.snapshot(FEED)).items()}
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                w.wait(20)
        server.close()
        http.close()
    matches_truth(snapshot, source.latest(), units)
    assert r.xlen(keys.dead_letters(FEED)) == 0


@pytest.fixture
def production_config(tmp_path, redis_server) -> Path:
    config = tmp_path / "ioc.toml"
    config.write_text(
        f'[redis]\nurl = "{redis_server.url}"\n\n[auth]\nusers_file = "{users_file("pre2025")}"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", ["web.workers", "gunicorn command"])
def test_the_web_app_under_gunicorn_with_three_workers_serves_one_login_everywhere(
    r, production_config, source_loaded, how
) -> None:
    """The app's own ``web`` component with ``web.workers = 3`` (what the supervisor runs in
    production), and gunicorn's command on ``ioc.wsgi:server`` (for a process manager of one's
    own): three workers, one login honoured by all, a graceful stop on SIGTERM."""
    port = free_port()
    env = dict(os.environ, IOC_CONFIG=str(production_config), IOC_SECRET_KEY="gunicorn-secret")
    env["IOC_LOG_LEVEL"] = "WARNING"
    if how == "web.workers":
        env |= {"IOC_WEB__WORKERS": "3", "IOC_WEB__PORT": str(port)}
        command = [sys.executable, "app.py", "web"]
    else:
        command = [sys.executable, "-m", "gunicorn", "--workers", "3", "--bind", f"127.0.0.1:{port}"]
        command.append("ioc.wsgi:server")
    server = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 3
        with httpx.Client(base_url=base) as browser:
            login = browser.post("/login", data=login_form(browser.get("/login").text, "truc-705"))
            assert login.status_code == 302
            served = set()
            for _ in range(30):  # the session one worker made is honoured by whichever answers
                reply = browser.get(f"/api/v1/kpis?feed={FEED}&unit=705&window=7d")
                assert reply.status_code == 200, reply.text
                served.add(reply.json()["kpis"]["received"]["value"])
                assert browser.get(f"/api/v1/cases?feed={FEED}&unit=706").status_code == 403
            assert served == {json.loads(r.hget(keys.snapshot(FEED), "705|7d"))["kpis"]["received"]["value"]}
            assert browser.get("/district/705").status_code == 200
        server.terminate()
        assert server.wait(30) == 0
    finally:
        server.kill()
        server.wait(30)


@pytest.fixture
def source_loaded(r, units, world) -> Pipeline:
    _source, url, clock = world
    pipeline = Pipeline(r, units, url, clock, page_size=200, read_count=20)
    pipeline.sync()
    yield pipeline
    pipeline.close()


@pytest.mark.timeout(120)
def test_two_relays_side_by_side_deliver_the_same_delta(r, redis_server, source_loaded, world) -> None:
    _source, _url, clock = world
    ports = [free_port(), free_port()]
    relays = [start_relay(redis_server.url, port, cluster=False) for port in ports]
    got: dict[int, tuple[dict, dict]] = {}
    try:
        both_watching = threading.Event()

        def later() -> None:  # once the screen on the other relay has its snapshot too
            assert both_watching.wait(30)
            clock.now += timedelta(hours=6)
            source_loaded.sync()

        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(relay_screen, ports[0], "705", later)
            second = pool.submit(relay_screen, ports[1], "705", both_watching.set)
            got = {ports[0]: first.result(60), ports[1]: second.result(60)}
    finally:
        for relay in relays:
            relay.terminate()
            relay.wait(20)
    (before_a, after_a), (before_b, after_b) = got.values()
    assert before_a == before_b
    assert after_a == after_b == json.loads(r.hget(keys.snapshot(FEED), "705|7d"))["kpis"]
