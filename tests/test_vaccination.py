"""Vaccination (FEEDS.md §4): KPIs by hand, pseudonyms, and the signed webhook's refusals."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest

from connectors.vaccination import VaccinationConfig, VaccinationConnector
from connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from ioc import keys
from ioc.config import ConfigError
from ioc.connector import Context
from ioc.privacy import pseudonym
from ioc.redis_server import free_port
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.simulators.vaccination import Pusher, VaccinationWorld
from tests import oracle
from tests.pipeline import FeedPipeline
from tests.redis_text import everything

AS_OF = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
KEY, SECRET = "k" * 32, "s" * 32
P1, P2, P3 = "072090000001", "072090000002", "072095000003"


def dose(ma: str, person: str, vaccine: str, number: int, given: str, unit: str = "25459", **extra) -> dict:
    return {
        "ma_mui_tiem": ma,
        "so_dinh_danh": person,
        "ho_ten": f"Nguyễn Văn {person[-1:] or 'An'}",
        "ngay_sinh": "2026-07-01",
        "gioi_tinh": "nam",
        "ma_dvhc": unit,
        "vac_xin": vaccine,
        "mui_thu": number,
        "thoi_diem_tiem": f"2026-{given}+07:00",
        "ma_co_so_tiem": "TYT-25459",
        "cap_nhat_luc": f"2026-{given}+07:00",
    } | extra


DOSES = [
    dose("V1", P1, "DPT-VGB-Hib", 1, "11-01T08:00:00"),
    dose("V2", P1, "DPT-VGB-Hib", 2, "11-20T08:00:00"),
    dose("V3", P1, "DPT-VGB-Hib", 3, "11-21T08:00:00"),
    dose("V4", P2, "DPT-VGB-Hib", 1, "10-15T08:00:00"),
    dose("V5", P3, "Sởi-Rubella", 1, "11-22T08:00:00", unit="25489", ngay_sinh="2025-09-01"),
    dose("X1", "", "Sởi-Rubella", 1, "11-22T08:00:00"),  # no citizen id
    dose("X2", "07209", "Sởi-Rubella", 1, "11-22T08:00:00"),  # not 12 digits
    dose("X3", P2, "Sởi-Rubella", 1, "11-22T08:00:00", unit="99999"),  # unknown unit
]


def context(units, http, **secrets) -> Context:
    return Context(units=units, http=http, clock=lambda: AS_OF, secrets=secrets)


@pytest.fixture
def served():
    listing = RecordListing("ma_mui_tiem", DOSES)
    server = SimulatorServer({"/api/v1/mui-tiem": listing}).start()
    yield server
    server.close()


@pytest.fixture
def pipeline(r, units, served):
    http = httpx.Client()
    config = VaccinationConfig(url=served.url, webhook=True, webhook_port=free_port())  # type: ignore[arg-type]
    connector = VaccinationConnector(
        config, context=context(units, http, IOC_PSEUDONYM_KEY=KEY, IOC_WEBHOOK_SECRET_VACCINATION=SECRET)
    )
    run = FeedPipeline(r, units, connector, lambda: AS_OF)
    run.hook = connector.listen(run.runner.publish_pushed)
    run.hook_url = run.hook.url
    yield run
    run.hook.close()
    http.close()


def test_kpis_per_vaccine_and_overall(pipeline, units) -> None:
    pipeline.sync()
    week = pipeline.kpis("72", "7d")
    assert week["doses"] == {"value": 3}  # V2, V3, V5
    assert week["doses_by_dose_number"] == {"value": {"1": 1, "2": 1, "3": 1}}
    dpt = week["by_vaccine"]["DPT-VGB-Hib"]
    assert dpt["doses"] == {"value": 2}
    assert dpt["people_first_dose"] == {"value": 2}  # P1 and P2, all time
    population = units.frame.filter(units.frame["code"] == "72")["pop_2019"].item()
    assert dpt["coverage_first_dose"] == {"value": 2 / population, "numerator": 2, "denominator": population}
    assert dpt["dropout_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}  # P2 never got dose 3
    measles = week["by_vaccine"]["Sởi-Rubella"]
    assert measles["doses"] == {"value": 1} and measles["dropout_rate"]["value"] is None
    assert pipeline.kpis("705", "7d")["by_vaccine"]["Sởi-Rubella"]["people_first_dose"] == {"value": 1}
    assert pipeline.kpis("703", "today")["doses"] == {"value": 0}


def test_ids_become_pseudonyms_and_nothing_personal_is_stored(pipeline, r) -> None:
    pipeline.sync()
    stored = everything(r)
    assert pseudonym(KEY.encode(), P1) in stored
    for personal in (P1, P2, P3, "07209", "Nguyễn Văn", "2026-07-01", "2025-09-01"):
        assert personal not in stored, personal
    reasons = {d["record"]["ma_mui_tiem"]: d["reason"] for d in pipeline.dead_letters()}
    assert reasons == {
        "X1": "so_dinh_danh: missing",
        "X2": "so_dinh_danh: not a 12-digit id",
        "X3": "ma_dvhc: unknown unit code '99999' in scheme pre2025 (coding pre2025)",
    }


def post(url: str, body: bytes, signature: str | None) -> httpx.Response:
    """POST signed at the connector's clock (AS_OF), with ``signature`` in place of the right one."""
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(int(AS_OF.timestamp()))}
    return httpx.post(
        url, content=body, headers=headers | ({SIGNATURE_HEADER: signature} if signature else {})
    )


def good(body: bytes) -> str:
    return sign(SECRET.encode(), body, int(AS_OF.timestamp()))


def test_webhook_records_count_once_with_the_pulled_ones(pipeline, r) -> None:
    pipeline.sync()
    again = [DOSES[4], dose("V6", P2, "DPT-VGB-Hib", 2, "11-21T09:00:00")]
    body = json.dumps(again).encode()
    reply = post(pipeline.hook_url, body, good(body))
    assert reply.status_code == 202 and reply.json() == {"received": 2, "accepted": 2, "rejected": 0}
    pipeline.aggregator.drain()
    assert pipeline.kpis("72", "7d")["doses"] == {"value": 4}  # V5 once, plus V6


@pytest.mark.parametrize(
    ("body", "signature", "status", "message"),
    [
        (b"[]", None, 401, "missing X-IOC-Signature"),
        (b"[]", "sha256=" + "0" * 64, 401, "does not match"),
        (b"[{]", "good", 400, "not JSON"),
        (b'{"a": 1}', "good", 400, "JSON array"),
        (b"[" + b" " * 6_000_000 + b"]", "good", 413, "over the limit"),
    ],
)
def test_webhook_refuses_bad_requests_and_stores_nothing(
    pipeline, r, body, signature, status, message
) -> None:
    if signature == "good":
        signature = good(body)
    before = r.xlen(keys.raw_stream("vaccination")), r.xlen(keys.dead_letters("vaccination"))
    reply = post(pipeline.hook_url, body, signature)
    assert reply.status_code == status and message in reply.json()["error"]
    assert (r.xlen(keys.raw_stream("vaccination")), r.xlen(keys.dead_letters("vaccination"))) == before


def test_refuses_to_start_without_the_pseudonym_key(units) -> None:
    config = VaccinationConfig(url="http://127.0.0.1:9")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="IOC_PSEUDONYM_KEY: not set"):
        VaccinationConnector(config, context=context(units, httpx.Client()))
    hooked = VaccinationConfig(webhook=True)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="IOC_WEBHOOK_SECRET_VACCINATION: not set"):
        VaccinationConnector(hooked, context=context(units, httpx.Client(), IOC_PSEUDONYM_KEY=KEY))


def test_the_demo_pusher_signs_as_the_webhook_checks(units, geodata) -> None:
    """The simulated immunisation system's pushes (timestamped signatures) are stored by the webhook."""
    now = [AS_OF]
    world = VaccinationWorld(units, geodata, clock=lambda: now[0], daily_series=20, anchor=AS_OF)
    secrets = {"IOC_PSEUDONYM_KEY": KEY, "IOC_WEBHOOK_SECRET_VACCINATION": SECRET}
    context = Context(units=units, http=httpx.Client(), clock=lambda: now[0], secrets=secrets)
    batches: list = []
    receiver = VaccinationConnector(VaccinationConfig(webhook=True, webhook_port=0), context=context).listen(
        batches.append
    )
    try:
        pusher = Pusher(world, receiver.url, SECRET.encode())
        now[0] += timedelta(days=1)
        assert pusher.push_once() > 0  # an answer other than 2xx raises
    finally:
        receiver.close()
    assert sum(b.records.height for b in batches) > 0
