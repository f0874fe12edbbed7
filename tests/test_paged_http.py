"""Pull cursors against a real HTTP source: a record dated in the future neither counts nor drags
the cursor past our clock plus ``future_skew_s``, so every later record is still asked for."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.http_json import HttpJsonConfig, HttpJsonConnector
from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from connectors.vaccination import VaccinationConfig, VaccinationConnector
from ioc import keys
from ioc.connector import Context
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.streams import FIELD_BATCH, decode_frame, read_cursor
from tests import oracle
from tests.pipeline import FeedPipeline
from tests.test_kpis import dossier
from tests.test_vaccination import dose

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
SKEW = timedelta(seconds=300)
FAR = "2099-01-01T00:00:00+07:00"


class Clock:
    """The connectors' clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def at(n: int, when: str) -> dict[str, Any]:
    """Dossier ``D<n>`` changed at ``when`` (local time of 2026-11, e.g. "21T09:00:00")."""
    return dossier(f"D{n:03d}", "25456", "20T08:00:00", "25T08:00:00", "dang_xu_ly", when)


@pytest.fixture
def served(dossier_source):
    return dossier_source


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def pipeline(r, units, served, clock):
    _listing, server = served
    http = httpx.Client()
    config = PublicServicesConfig(url=server.url, page_size=3)  # type: ignore[arg-type]
    connector = PublicServicesConnector(config, context=Context(units=units, http=http, clock=clock))
    yield FeedPipeline(r, units, connector, clock)
    http.close()


def cursor_time(r) -> datetime:
    return datetime.fromisoformat(
        json.loads(read_cursor(r, "public_services", "public_services"))["cap_nhat_tu"]
    )


def published_ids(r) -> set[str]:
    """The ids of every record the runner put on the feed's raw stream."""
    entries = r.xrange(keys.raw_stream("public_services"))
    return {i for _id, fields in entries for i in decode_frame(fields[FIELD_BATCH])["id"]}


def test_a_far_future_record_is_a_dead_letter_and_later_records_are_still_read(
    pipeline, served, r, clock
) -> None:
    """A 2099 record among normal ones: refused once with its reason, the cursor stays at most
    now + skew (it does pass a record refused for another reason), and records changed afterwards
    are all fetched and published."""
    listing, _server = served
    for n in range(5):
        listing.put(at(n, f"21T09:0{n}:00"))
    listing.put({**at(98, "21T09:06:00"), "ma_dvhc": "99999"})  # refused, but its time is valid
    listing.put({**at(99, "21T09:10:00"), "cap_nhat_luc": FAR})
    pipeline.sync()
    assert cursor_time(r) == datetime.fromisoformat("2026-11-21T09:06:00+07:00")  # past D098, short of 2099
    clock.now += timedelta(hours=1)
    for n in range(5, 12):  # changed after the 2099 record was listed, still before the clock
        listing.put(at(n, f"22T10:{n:02d}:00"))
    pipeline.sync()
    pipeline.sync()  # the 2099 record is listed at every poll, refused once
    assert published_ids(r) == {f"D{n:03d}" for n in range(12)}
    unknown, far = pipeline.dead_letters()  # each once, though both are listed at every poll
    assert unknown["record"]["ma_ho_so"] == "D098" and far["record"]["ma_ho_so"] == "D099"
    assert far["reason"] == (
        "cap_nhat_luc: 2098-12-31T17:00:00+00:00 is in the future (later than 2026-11-22T10:05:00+07:00)"
    )
    assert cursor_time(r) == datetime.fromisoformat("2026-11-22T10:11:00+07:00") <= clock() + SKEW


def test_a_record_slightly_ahead_counts_once_the_clock_reaches_it(pipeline, served, r, clock) -> None:
    """A source clock 20 minutes fast: its record waits (a dead letter, no cursor move) and is read
    when our clock has caught up with it."""
    listing, _server = served
    listing.put(at(1, "22T09:00:00"))
    listing.put(at(2, "22T10:20:00"))
    pipeline.sync()
    assert published_ids(r) == {"D001"} and cursor_time(r) == datetime.fromisoformat(
        "2026-11-22T09:00:00+07:00"
    )
    clock.now += timedelta(minutes=30)
    pipeline.sync()
    assert published_ids(r) == {"D001", "D002"}
    assert cursor_time(r) == datetime.fromisoformat("2026-11-22T10:20:00+07:00")


def test_a_cursor_already_in_the_future_is_read_again_from_the_start(pipeline, served, r, clock) -> None:
    """A cursor an older version dragged to 2099 is not trusted: the listing is read from the start."""
    listing, _server = served
    for n in range(4):
        listing.put(at(n, f"21T09:0{n}:00"))
    r.set(keys.cursor("public_services", "public_services"), json.dumps({"cap_nhat_tu": FAR, "seen": []}))
    pipeline.sync()
    assert published_ids(r) == {f"D{n:03d}" for n in range(4)}
    assert cursor_time(r) <= clock() + SKEW


def connector_for(kind: str, url: str, units, clock: Clock) -> Any:
    secrets = {"IOC_PSEUDONYM_KEY": "k" * 32}
    context = Context(units=units, http=httpx.Client(), clock=clock, secrets=secrets)
    if kind == "http_json":
        config = HttpJsonConfig(feed="public_services", url=url, path="/api/v1/hoso")  # type: ignore[arg-type]
        return HttpJsonConnector(config, context=context)
    return VaccinationConnector(VaccinationConfig(url=url), context=context)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "path", "id_field", "record"),
    [
        ("http_json", "/api/v1/hoso", "ma_ho_so", at(1, "22T09:00:00")),
        (
            "vaccination",
            "/api/v1/mui-tiem",
            "ma_mui_tiem",
            dose("V1", "072090000001", "Sởi-Rubella", 1, "11-22T09:00:00"),
        ),
    ],
)
def test_every_pulling_connector_keeps_its_cursor_out_of_the_future(
    kind, path, id_field, record, units, clock
) -> None:
    """The generic HTTP JSON and the vaccination pull refuse a 2099 record and keep the cursor."""
    far = {**record, id_field: "FAR", "cap_nhat_luc": FAR}
    server = SimulatorServer({path: RecordListing(id_field, [record, far])}).start()
    try:
        connector = connector_for(kind, server.url, units, clock)
        batch = connector.poll(None)
        again = connector.poll(batch.cursor)
    finally:
        server.close()
    assert batch.records.height == 1 and again.records.height == 0 and again.dead_letters == []
    assert [d.record[id_field] for d in batch.dead_letters] == ["FAR"]
    assert "is in the future" in batch.dead_letters[0].reason
    assert datetime.fromisoformat(json.loads(batch.cursor)["cap_nhat_tu"]) <= clock() + SKEW
