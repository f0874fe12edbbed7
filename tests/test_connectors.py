"""Every connector, built-in or generic, against one conformance suite; plugins from outside.

Conformance: its config is validated with a clear message, ``check()`` reaches its source, a
poll reads its source, the cursor round-trips (a second poll from it reads nothing again), and a
malformed record becomes a dead letter rather than a record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from connectors.webhook import signed_headers
from ioc import keys
from ioc.config import PROJECT_ROOT, ConfigError
from ioc.connector import Context, configure, discover
from ioc.redis_server import free_port
from ioc.runner import ConnectorRunner
from ioc.simulators.http import RecordListing, SimulatorServer
from tests.test_citizen_feedback import REPORTS
from tests.test_kpis import dossier
from tests.test_mobile_data import FIRST, HEADER
from tests.test_vaccination import DOSES

SECRETS = {"IOC_PSEUDONYM_KEY": "k" * 32, "IOC_WEBHOOK_SECRET_WEBHOOK": "s" * 32}


def signed(body: bytes) -> dict[str, str]:
    """The headers of the generic webhook's sender, signing now (the connectors' clock here)."""
    return signed_headers(b"s" * 32, body, datetime.now(UTC))


@dataclass
class Case:
    """A connector set up against its own source, with one good and one malformed record."""

    table: dict
    good: int  # records the first poll must yield
    bad: str  # a fragment of the malformed record's dead-letter reason


def http_source(tmp_path: Path, request, path: str, id_field: str, rows: list[dict]) -> str:
    server = SimulatorServer({path: RecordListing(id_field, rows)}).start()
    request.addfinalizer(server.close)
    return server.url


def make_case(name: str, tmp_path: Path, request) -> Case:
    bad_dossier = dossier(
        "Z", "25456", "20T08:00:00", "25T08:00:00", "dang_xu_ly", "21T09:00:00", kenh_nop="fax"
    )
    if name == "public_services":
        rows = [dossier("A", "25456", "20T08:00:00", "25T08:00:00", "dang_xu_ly", "21T09:00:00"), bad_dossier]
        return Case({"url": http_source(tmp_path, request, "/api/v1/hoso", "ma_ho_so", rows)}, 1, "kenh_nop")
    if name == "citizen_feedback":
        url = http_source(tmp_path, request, "/api/v1/phan-anh", "ma_phan_anh", REPORTS)
        return Case({"url": url}, len(REPORTS) - 2, "outside the province")
    if name == "vaccination":
        url = http_source(tmp_path, request, "/api/v1/mui-tiem", "ma_mui_tiem", DOSES)
        return Case({"url": url}, 5, "so_dinh_danh")
    if name == "mobile_data":
        (tmp_path / "viettel_202611220800.csv").write_text(HEADER + FIRST, encoding="utf-8")
        (tmp_path / "viettel_202611220800.csv.done").touch()
        return Case({"drop_dir": str(tmp_path)}, 2, "line 4: so_thue_bao")
    if name == "http_json":  # another system, with its own name for the dossier id
        good = dossier("A", "25456", "20T08:00:00", "25T08:00:00", "tiep_nhan", "21T09:00:00")
        rows = [{("id" if k == "ma_ho_so" else k): v for k, v in d.items()} for d in (good, bad_dossier)]
        url = http_source(tmp_path, request, "/cong-dich-vu/hoso", "id", rows)
        table = {
            "feed": "public_services",
            "url": url,
            "path": "/cong-dich-vu/hoso",
            "mapping": {"ma_ho_so": "id"},
        }
        return Case(table, 1, "kenh_nop")
    if name == "drop_folder":  # an Excel workbook of vaccination records with its own column names
        import polars as pl

        renamed = [
            {("cmnd" if k == "so_dinh_danh" else k): v for k, v in d.items()} for d in DOSES[:5] + DOSES[6:7]
        ]
        pl.DataFrame(renamed).cast(pl.String).write_excel(tmp_path / "doses.xlsx")
        table = {
            "feed": "vaccination",
            "drop_dir": str(tmp_path),
            "pattern": "*.xlsx",
            "mapping": {"so_dinh_danh": "cmnd"},
        }
        return Case(table, 5, "line 7: so_dinh_danh: not a 12-digit id")
    if name == "webhook":
        table = {"feed": "citizen_feedback", "webhook_port": free_port(), "webhook_path": "/hooks/reports"}
        return Case(table, len(REPORTS) - 2, "outside the province")
    raise AssertionError(f"no conformance case for {name}")


BUILT_IN = [
    "public_services",
    "citizen_feedback",
    "mobile_data",
    "vaccination",
    "http_json",
    "drop_folder",
    "webhook",
]


def test_every_built_in_connector_is_an_entry_point() -> None:
    assert set(BUILT_IN) <= set(discover())


@pytest.mark.parametrize("name", BUILT_IN)
def test_conformance(name, units, geodata, tmp_path, request) -> None:
    registry = discover()
    with pytest.raises(ConfigError, match=rf"ioc.toml: connectors\.{name}\.\w+"):
        configure(name, {"interval_s": -1}, source="ioc.toml", registry=registry)
    case = make_case(name, tmp_path, request)
    config = configure(name, case.table, source="ioc.toml", registry=registry)
    context = Context(units=units, http=httpx.Client(), geodata=geodata, secrets=SECRETS)
    connector = registry[name](config, context=context)
    assert connector.check()
    if name == "webhook":
        batches = []
        receiver = connector.listen(batches.append)
        request.addfinalizer(receiver.close)
        body = json.dumps(REPORTS).encode()
        reply = httpx.post(receiver.url, content=body, headers=signed(body))
        assert reply.status_code == 202
        (batch,) = batches
    else:
        batch = connector.poll(None)
    assert batch.records.height == case.good
    assert any(case.bad in d.reason for d in batch.dead_letters), [d.reason for d in batch.dead_letters]
    again = connector.poll(batch.cursor)
    assert (again.records.height == 0 and again.cursor is not None) or name == "webhook"


def test_push_only_feed_is_dated_by_its_pushes_not_its_heartbeat(units, geodata, r, request) -> None:
    """The webhook's poll only says it is alive: the feed's last success is its last push."""
    registry = discover()
    table = {"feed": "citizen_feedback", "webhook_port": free_port()}
    config = configure("webhook", table, source="ioc.toml", registry=registry)
    context = Context(units=units, http=httpx.Client(), geodata=geodata, secrets=SECRETS)
    moments = iter(datetime(2026, 11, 22, 8, m, tzinfo=UTC) for m in range(60))
    runner = ConnectorRunner(
        r, registry["webhook"](config, context=context), interval_s=1, clock=lambda: next(moments)
    )
    health = keys.connector_health("citizen_feedback", "webhook")
    runner.run_once()
    assert r.hget(health, "last_poll_at") == b"2026-11-22T08:00:00+00:00"
    assert r.hget(health, "last_success_at") is None  # alive, but nothing has arrived
    receiver = runner.connector.listen(runner.publish_pushed)  # type: ignore[attr-defined]
    request.addfinalizer(receiver.close)
    body = json.dumps(REPORTS).encode()
    assert httpx.post(receiver.url, content=body, headers=signed(body)).status_code == 202
    runner.run_once()
    assert r.hget(health, "last_success_at") == b"2026-11-22T08:01:00+00:00"  # the push, not the heartbeat
    assert r.hget(health, "last_poll_at") == b"2026-11-22T08:02:00+00:00"


EXTERNAL = """
    from typing import ClassVar
    import polars as pl
    from pydantic import BaseModel, ConfigDict
    from ioc.connector import Batch
    from ioc.contracts import make_contract

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        greeting: str
        interval_s: float = 1.0

    class HelloConnector:
        name: ClassVar[str] = "hello"
        feed: ClassVar[str] = "public_services"
        Config: ClassVar[type[BaseModel]] = Config

        def __init__(self, config, *, context):
            self.config = config
            self.contract = make_contract(self.feed, None, context)
            self.units = frozenset(context.units.codes)

        def check(self):
            return f"hello says {self.config.greeting}"

        def poll(self, cursor):
            rows = [{"ma_ho_so": "EXT-1", "ma_dvhc": "25456", "kenh_nop": "truc_tuyen",
                     "ngay_tiep_nhan": "2026-11-20T08:00:00+07:00", "han_xu_ly": "2026-11-25T08:00:00+07:00",
                     "trang_thai": "tiep_nhan", "co_nghia_vu_tai_chinh": False, "so_hoa": True,
                     "cap_nhat_luc": "2026-11-20T08:00:00+07:00"}]
            done = self.contract.transform(rows, units=self.units, source=self.name)
            return Batch(done.records, "done", done.dead_letters)
"""


def test_an_external_connector_is_discovered_configured_and_run(tmp_path, redis_server) -> None:
    """A package installed beside the project (its dist-info names the entry point) is found and runs."""
    site = tmp_path / "site"
    (site / "ioc_hello").mkdir(parents=True)
    (site / "ioc_hello" / "__init__.py").write_text(textwrap.dedent(EXTERNAL), encoding="utf-8")
    info = site / "ioc_hello-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ioc-hello\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[ioc.connectors]\nhello = ioc_hello:HelloConnector\n", encoding="utf-8"
    )
    config = tmp_path / "ioc.toml"
    config.write_text('[connectors.hello]\ngreeting = "xin chào"\n', encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(site), IOC_REDIS__URL=redis_server.url)

    def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "ioc.cli", "--config", str(config), *args]
        return subprocess.run(
            command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout
        )

    listed = cli("connectors")
    assert "hello\tfeed=public_services\tioc_hello.HelloConnector" in listed.stdout
    assert "hello\ttype=hello\tfeed=public_services" in listed.stdout
    assert cli("check", "hello").stdout.strip() == "hello: ok: hello says xin chào"
    process = subprocess.Popen(
        [sys.executable, "-m", "ioc.cli", "--config", str(config), "connector", "hello"],
        env=env,
        cwd=PROJECT_ROOT,
    )
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not client.get("ioc:{public_services}:cursor:hello"):
            time.sleep(0.2)
        assert client.get("ioc:{public_services}:cursor:hello") == b"done"
        assert client.hget("ioc:{public_services}:health:hello", "records") == b"1"
    finally:
        process.terminate()
        process.wait(10)
    broken = tmp_path / "broken.toml"
    broken.write_text("[connectors.hello]\ngreting = 1\n", encoding="utf-8")
    reply = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "--config", str(broken), "check", "hello"],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert reply.returncode == 2 and "connectors.hello.greeting: Field required" in reply.stderr
