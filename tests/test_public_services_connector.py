"""The one-stop connector against a real HTTP source: paging, cursor, validation, source faults."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from ioc import keys
from ioc.connector import Context, SourceError
from ioc.runner import ConnectorRunner
from tests.test_kpis import dossier


@pytest.fixture
def served(dossier_source):
    return dossier_source


def connector(units, url: str, **options) -> PublicServicesConnector:
    config = PublicServicesConfig(url=url, **options)
    return PublicServicesConnector(config, context=Context(units=units, http=httpx.Client()))


def numbered(n: int, minute: int = 0) -> dict:
    return dossier(
        f"D{n:04d}", "25456", "20T08:00:00", "25T08:00:00", "dang_xu_ly", f"21T09:{minute:02d}:{n % 60:02d}"
    )


def test_reads_every_page_and_keeps_the_newest_time_as_cursor(units, served) -> None:
    """250 records over pages of 40: all read, cursor = the newest cap_nhat_luc."""
    listing, server = served
    for n in range(250):
        listing.put(numbered(n, minute=n // 60))
    batch = connector(units, server.url, page_size=40).poll(None)
    assert set(batch.records["id"]) == {f"D{n:04d}" for n in range(250)}
    assert json.loads(batch.cursor)["cap_nhat_tu"] == "2026-11-21T09:04:09+07:00"


def test_identical_boundary_records_are_not_read_again(units, served) -> None:
    """The next poll asks from the cursor's time but drops the records it already read there."""
    listing, server = served
    for n in range(10):
        listing.put(numbered(n))
    source = connector(units, server.url, page_size=4)
    first = source.poll(None)
    assert first.records.height == 10
    assert source.poll(first.cursor).records.height == 0
    changed = {**numbered(9), "trang_thai": "tu_choi"}  # same time, new content: a real re-send
    listing.put(changed)
    again = source.poll(first.cursor)
    assert again.records["status"].to_list() == ["tu_choi"]


def test_record_changed_during_the_walk_is_not_skipped(units, served) -> None:
    """A record updated between two page reads moves to the end and is still read (offset paging would skip one)."""
    listing, server = served
    for n in range(100):
        listing.put(numbered(n))
    pages = []

    def change_after_first_page(path: str):
        pages.append(path)
        if len(pages) == 2:
            listing.put(
                {**numbered(5), "trang_thai": "da_tra_ket_qua", "cap_nhat_luc": "2026-11-21T10:00:00+07:00"}
            )
        return None

    server.fault = change_after_first_page
    batch = connector(units, server.url, page_size=30).poll(None)
    assert set(batch.records["id"]) == {f"D{n:04d}" for n in range(100)}
    latest = batch.records.filter(batch.records["id"] == "D0005")["status"].to_list()
    assert "da_tra_ket_qua" in latest


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b'{"error": "boom"}', "HTTP 500"),
        (200, b"<html>maintenance</html>", "is not JSON"),
        (200, b'{"tong_so": 1}', "has no 'du_lieu' list"),
    ],
)
def test_source_faults_raise_source_error(units, served, status, body, message) -> None:
    """A 500, a non-JSON body or a changed envelope is a SourceError with what went wrong."""
    _listing, server = served
    server.fault = lambda path: (status, body)
    with pytest.raises(SourceError, match=message):
        connector(units, server.url).poll(None)


def test_unreachable_source(units) -> None:
    with pytest.raises(SourceError, match="ConnectError"):
        connector(units, "http://127.0.0.1:9", timeout_s=1).poll(None)


def test_runner_keeps_cursor_and_health_in_redis(r, units, served) -> None:
    """After a poll the cursor and the health counters are in Redis; a failing poll records its error."""
    listing, server = served
    for n in range(10):
        listing.put(numbered(n))
    runner = ConnectorRunner(r, connector(units, server.url), interval_s=1)
    runner.run_once()
    cursor = json.loads(r.get(keys.cursor("public_services", "public_services")))
    assert cursor["cap_nhat_tu"] == "2026-11-21T09:00:09+07:00"
    health = r.hgetall(keys.connector_health("public_services", "public_services"))
    assert health[b"records"] == b"10" and health[b"newest_record_at"] == b"2026-11-21T02:00:09+00:00"
    server.fault = lambda path: (503, b"{}")
    with pytest.raises(SourceError):
        runner.run_once()
    runner._record_error("HTTP 503")
    health = r.hgetall(keys.connector_health("public_services", "public_services"))
    assert health[b"errors"] == b"1" and health[b"last_error"] == b"HTTP 503"


def test_runner_publishes_records_per_minute_for_the_health_board(r, units, served) -> None:
    """The board's "records per minute" sparkline reads what the runner counted, minute by minute."""
    from datetime import UTC, datetime

    from ioc.health import read_health

    listing, server = served
    for n in range(10):
        listing.put(numbered(n))
    now = datetime(2026, 11, 22, 3, 0, 30, tzinfo=UTC)
    runner = ConnectorRunner(r, connector(units, server.url, page_size=4), interval_s=1, clock=lambda: now)
    while runner.run_once():
        pass
    (health,) = read_health(r, {"public_services": ["public_services"]})
    assert health.records_last_minutes(now, minutes=3) == [0, 0, 10]
