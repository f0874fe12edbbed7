"""The two ways to run the product, as a user runs them: the demo, and production with a file."""

from __future__ import annotations

import socket
import time

import httpx
import psutil
import pytest

from ioc.redis_server import free_port
from ioc.simulators.http import RecordListing, SimulatorServer
from tests.processes import API, demo_env, start_app, stop, wait_for
from tests.test_kpis import A1, B, C, D


def test_demo_serves_kpis_for_every_level(demo) -> None:
    port, _process, _data = demo
    for unit in ("72", "706", "25486"):
        body = httpx.get(API.format(port=port, unit=unit, window="30d")).json()
        assert body["unit"] == unit and body["kpis"]["received"]["value"] > 0


def test_demo_numbers_change_while_you_watch(demo) -> None:
    """New dossiers arrive and the province's count for today grows within a minute."""
    port, _process, _data = demo
    url = API.format(port=port, unit="72", window="today")
    first = httpx.get(url).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = httpx.get(url).json()
        if now["kpis"]["received"]["value"] > first["kpis"]["received"]["value"]:
            assert now["as_of"] >= first["as_of"]
            return
        time.sleep(1)
    pytest.fail("the demo's numbers did not change in 60 s")


def test_demo_stops_everything_and_keeps_redis_data(tmp_path) -> None:
    """SIGTERM stops every component and the embedded redis-server, whose AOF stays in the data folder."""
    port, env = demo_env(tmp_path, history_days=3)
    process = start_app([], env, tmp_path / "app.log")
    wait_for(API.format(port=port, unit="72", window="7d"), process=process)
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 5  # redis, simulator, connector, aggregator, web
    assert stop(process) == 0
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []
    aof = list((tmp_path / "redis").glob("appendonly*"))
    assert aof, "no AOF in the data folder"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_production_mode_polls_the_configured_source_only(tmp_path, r, redis_server) -> None:
    """`app.py --config` with a source URL: no simulator starts; the connector reads that source."""
    listing = RecordListing("ma_ho_so", [A1, B, C, D])
    source = SimulatorServer({"/api/v1/hoso": listing}).start()
    port = free_port()
    config = tmp_path / "ioc.toml"
    config.write_text(
        f'[redis]\nurl = "{redis_server.url}"\n[web]\nport = {port}\n[realtime]\nport = {free_port()}\n'
        f'[connectors.public_services]\nurl = "{source.url}"\ninterval_s = 0.5\n',
        encoding="utf-8",
    )
    process = start_app(["--config", str(config)], {"IOC_SECRET_KEY": "test-secret"}, tmp_path / "app.log")
    try:
        body = wait_for(API.format(port=port, unit="72", window="ytd"), process=process).json()
        assert body["kpis"]["received"]["value"] == 4
        names = [" ".join(p.cmdline()) for p in psutil.Process(process.pid).children(recursive=True)]
        assert not any("simulate" in n for n in names)
        assert any("connector public_services" in n for n in names)
        assert not any("redis-server" in n for n in names)  # the configured Redis, no embedded one
    finally:
        stop(process)
        source.close()


def test_restarted_demo_continues_the_same_world(tmp_path) -> None:
    """A second run on the same data folder draws the same simulated province as the first."""
    port, env = demo_env(tmp_path, history_days=3)
    url = API.format(port=port, unit="72", window="30d")
    counts = []
    for _run in range(2):
        process = start_app([], env, tmp_path / "app.log")
        try:
            wait_for(url, process=process)
            time.sleep(4)  # the connector's next poll and the aggregator's next cycle
            counts.append(httpx.get(url).json()["kpis"]["received"]["value"])
        finally:
            stop(process)
    anchors = list((tmp_path / "simulators").glob("*.anchor"))
    assert len(anchors) == 1
    assert abs(counts[1] - counts[0]) <= 0.02 * counts[0]  # only the dossiers that arrived meanwhile
