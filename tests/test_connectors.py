"""Every connector, built-in or generic, against one conformance suite; plugins from outside.

The suite is :class:`ioc.testing.ConnectorConformance` (what a plugin's own tests inherit): its
config is validated with messages that name the key, ``check()`` reaches its source, a read gives
the good records in the feed's schema and makes the malformed one a dead letter, the cursor
round-trips, and through the runner the records land in the feed's stream with nothing personal
stored. Each built-in connector gets a class below with a source of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from connectors.webhook import signed_headers
from ioc import cli, keys
from ioc.config import PROJECT_ROOT
from ioc.connector import Context, configure, discover
from ioc.redis_server import free_port
from ioc.runner import ConnectorRunner
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.testing import ConformanceCase, ConnectorConformance
from tests.test_citizen_feedback import REPORTS
from tests.test_kpis import dossier
from tests.test_mobile_data import FIRST, HEADER
from tests.test_vaccination import DOSES
from tests.wait import wait_until

SECRETS = {"IOC_PSEUDONYM_KEY": "k" * 32, "IOC_WEBHOOK_SECRET_WEBHOOK": "s" * 32}
BAD_DOSSIER = dossier("Z", "25456", "20T08:00:00", "25T08:00:00", "dang_xu_ly", "21T09:00:00", kenh_nop="fax")
# What the field reports and doses send of people (a name, a phone number, citizen ids).
REPORTER = ("Trần Thị Bích", "0912345678")
CITIZEN_IDS = tuple(d["so_dinh_danh"] for d in DOSES if len(d["so_dinh_danh"]) == 12)


def signed(body: bytes) -> dict[str, str]:
    """The headers of the generic webhook's sender, signing now (the connectors' clock here)."""
    return signed_headers(b"s" * 32, body, datetime.now(UTC))


def http_source(request, path: str, id_field: str, rows: list[dict]) -> str:
    server = SimulatorServer({path: RecordListing(id_field, rows)}).start()
    request.addfinalizer(server.close)
    return server.url


class BuiltIn(ConnectorConformance):
    """The suite on the test session's own Redis and unit table, with the secrets connectors need."""

    @pytest.fixture
    def connector_units(self, units):
        return units

    @pytest.fixture
    def connector_redis(self, r):
        return r

    @pytest.fixture
    def connector_secrets(self):
        return SECRETS


class TestPublicServices(BuiltIn):
    name = "public_services"

    @pytest.fixture
    def case(self, request) -> ConformanceCase:
        rows = [dossier("A", "25456", "20T08:00:00", "25T08:00:00", "dang_xu_ly", "21T09:00:00"), BAD_DOSSIER]
        return ConformanceCase({"url": http_source(request, "/api/v1/hoso", "ma_ho_so", rows)}, 1, "kenh_nop")


class TestCitizenFeedback(BuiltIn):
    name = "citizen_feedback"

    @pytest.fixture
    def case(self, request) -> ConformanceCase:
        url = http_source(request, "/api/v1/phan-anh", "ma_phan_anh", REPORTS)
        return ConformanceCase({"url": url}, len(REPORTS) - 2, "outside the province", personal=REPORTER)


class TestVaccination(BuiltIn):
    name = "vaccination"

    @pytest.fixture
    def case(self, request) -> ConformanceCase:
        url = http_source(request, "/api/v1/mui-tiem", "ma_mui_tiem", DOSES)
        return ConformanceCase({"url": url}, 5, "so_dinh_danh", personal=CITIZEN_IDS)


class TestMobileData(BuiltIn):
    name = "mobile_data"

    @pytest.fixture
    def case(self, tmp_path) -> ConformanceCase:
        (tmp_path / "viettel_202611220800.csv").write_text(HEADER + FIRST, encoding="utf-8")
        (tmp_path / "viettel_202611220800.csv.done").touch()
        return ConformanceCase({"drop_dir": str(tmp_path)}, 2, "line 4: so_thue_bao")


class TestHttpJson(BuiltIn):
    """Another system, with its own name for the dossier id."""

    name = "http_json"

    @pytest.fixture
    def case(self, request) -> ConformanceCase:
        good = dossier("A", "25456", "20T08:00:00", "25T08:00:00", "tiep_nhan", "21T09:00:00")
        rows = [{("id" if k == "ma_ho_so" else k): v for k, v in d.items()} for d in (good, BAD_DOSSIER)]
        url = http_source(request, "/cong-dich-vu/hoso", "id", rows)
        table = {
            "feed": "public_services",
            "url": url,
            "path": "/cong-dich-vu/hoso",
            "mapping": {"ma_ho_so": "id"},
        }
        return ConformanceCase(table, 1, "kenh_nop")


class TestDropFolder(BuiltIn):
    """An Excel workbook of vaccination records with its own column names."""

    name = "drop_folder"

    @pytest.fixture
    def case(self, tmp_path) -> ConformanceCase:
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
        return ConformanceCase(table, 5, "line 7: so_dinh_danh: not a 12-digit id", personal=CITIZEN_IDS)


class TestWebhook(BuiltIn):
    """Field reports pushed to the generic webhook, signed with its own secret."""

    name = "webhook"
    pushed = True

    @pytest.fixture
    def case(self) -> ConformanceCase:
        table = {"feed": "citizen_feedback", "webhook_port": 0, "webhook_path": "/hooks/reports"}
        return ConformanceCase(table, len(REPORTS) - 2, "outside the province", personal=REPORTER)

    def push(self, connector: Any, case: ConformanceCase, accept: Any) -> None:
        receiver = connector.listen(accept)
        try:
            body = json.dumps(REPORTS).encode()
            assert httpx.post(receiver.url, content=body, headers=signed(body)).status_code == 202
        finally:
            receiver.close()


def test_every_built_in_connector_is_an_entry_point() -> None:
    """The project's entry points are exactly the connectors with a conformance class above."""
    import tests.test_national_index  # noqa: F401  (its conformance class is there, with its portal)

    ours = {n for n, cls in discover().items() if cls.__module__.startswith("connectors.")}
    tested = {cls.name for cls in (*BuiltIn.__subclasses__(), *ConnectorConformance.__subclasses__())}
    assert ours == tested - {""}


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
            self.units = context.coding()  # FEEDS.md's pre-2025 codes, checked against the units counted

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


def test_an_external_connector_is_discovered_configured_and_run(
    tmp_path, redis_server, monkeypatch, capsys
) -> None:
    """A package installed beside the project (its dist-info names the entry point) is listed,
    checked, and its misspelt setting refused by the command line, and runs as a connector process."""
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
    broken = tmp_path / "broken.toml"
    broken.write_text("[connectors.hello]\ngreting = 1\n", encoding="utf-8")
    # The command line in this process (a fresh interpreter costs seconds of imports), with the
    # package on its path; the connector itself below in a process of its own.
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("IOC_REDIS__URL", redis_server.url)
    monkeypatch.delenv("IOC_CONFIG", raising=False)

    def command(file: Path, *args: str) -> tuple[int, str, str]:
        code = cli.main(["--config", str(file), *args])
        out, err = capsys.readouterr()
        return code, out, err

    _code, listed, _err = command(config, "connectors")
    assert "hello\tfeed=public_services\tioc_hello.HelloConnector" in listed
    assert "hello\ttype=hello\tfeed=public_services" in listed
    assert command(config, "check", "hello")[1].strip() == "hello: ok: hello says xin chào"
    code, _out, err = command(broken, "check", "hello")
    assert code == 2 and "connectors.hello.greeting: Field required" in err
    env = dict(os.environ, PYTHONPATH=str(site))
    process = subprocess.Popen(
        [sys.executable, "-m", "ioc.cli", "--config", str(config), "connector", "hello"],
        env=env,
        cwd=PROJECT_ROOT,
    )
    client = redis.Redis.from_url(redis_server.url)
    try:
        cursor = wait_until(
            lambda: client.get("ioc:{public_services}:cursor:hello"),
            60,
            "the plugin's connector kept no cursor",
        )
        assert cursor == b"done"
        assert client.hget("ioc:{public_services}:health:hello", "records") == b"1"
    finally:
        process.terminate()
        process.wait(10)
        client.close()
