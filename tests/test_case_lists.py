"""Work lists written by change (``ioc.cases``): a commit writes the cases that entered a list or
changed and deletes those that left, and what Redis then holds, read, is every list computed whole
from the state (``lists_by_unit``) at every commit: through random changes, unit moves, a clock
moving deadlines past, and a worker's restart."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioc import keys
from ioc.cases import CaseBook, lists_by_unit, overdue_dossiers, placed
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.snapshots import SnapshotReader
from tests.pipeline import Pipeline
from tests.test_kpis import AS_OF, dossier, load_cases
from tests.test_room_data import SENT, Recording

FEED = "public_services"
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
COMMUNES = ("25456", "25459", "25486", "25516", "25480")  # three districts: 703, 705, 704


def case_commands() -> Counter[tuple[str, str, int]]:
    """(command, list, fields named) of what was sent to the work lists since the last clear."""
    prefix = keys.case_list(FEED, "")
    return Counter(
        (args[0].upper(), args[1].removeprefix(prefix), len(args) - 2)
        for args in SENT
        if len(args) > 1 and args[1].startswith(prefix)
    )


@pytest.fixture
def recorded(redis_server, units) -> Iterator[tuple[RecordListing, Pipeline, redis.Redis]]:
    pool = redis.ConnectionPool.from_url(redis_server.url, connection_class=Recording)
    client = redis.Redis(connection_pool=pool)
    client.flushdb()
    listing = RecordListing("ma_ho_so")
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    pipe = Pipeline(client, units, server.url, lambda: AS_OF)
    yield listing, pipe, client
    pipe.close()
    server.close()
    client.close()


def test_a_commit_writes_only_the_cases_that_changed(recorded, units) -> None:
    listing, pipe, client = recorded
    load_cases(listing, pipe)
    reader = SnapshotReader(client)
    before = {u: reader.cases(FEED, u) for u in ["72", *units.level_codes("district")]}
    assert [c["id"] for c in before["703"] or []] == ["B"] and before["705"] == [], before
    SENT.clear()
    # A new overdue dossier in Tây Ninh city (703): written to its district's list and the
    # province's, one field each (HSET key field value); nothing else is written or deleted.
    listing.put(dossier("N", "25459", "01T08:00:00", "03T08:00:00", "dang_xu_ly", "22T09:59:00"))
    pipe.sync()
    assert case_commands() == Counter({("HSET", "703", 2): 1, ("HSET", "72", 2): 1}), case_commands()
    assert "N" in {c["id"] for c in reader.cases(FEED, "72") or []}
    # Resolved: deleted from both, the rest untouched.
    SENT.clear()
    listing.put(
        dossier("N", "25459", "01T08:00:00", "03T08:00:00", "da_tra_ket_qua", "22T09:59:30")
        | {"ngay_tra_ket_qua": "2026-11-22T09:00:00+07:00"}
    )
    pipe.sync()
    assert case_commands() == Counter({("HDEL", "703", 1): 1, ("HDEL", "72", 1): 1}), case_commands()
    assert {u: reader.cases(FEED, u) for u in before} == before
    # An id that could pass for the mark of a list ("_", "0") is a case like any other.
    for odd in ("_", "0"):
        listing.put(dossier(odd, "25459", "02T08:00:00", "03T08:00:00", "dang_xu_ly", "22T09:59:31"))
    pipe.sync()
    assert [c["id"] for c in reader.cases(FEED, "703") or []] == ["B", "0", "_"]
    listing.put(
        dossier("_", "25459", "02T08:00:00", "03T08:00:00", "da_tra_ket_qua", "22T09:59:32")
        | {"ngay_tra_ket_qua": "2026-11-22T09:00:00+07:00"}
    )
    listing.put(
        dossier("0", "25459", "02T08:00:00", "03T08:00:00", "da_tra_ket_qua", "22T09:59:32")
        | {"ngay_tra_ket_qua": "2026-11-22T09:00:00+07:00"}
    )
    pipe.sync()
    assert {u: reader.cases(FEED, u) for u in before} == before
    # A commit that changes no case writes none.
    SENT.clear()
    listing.put(dossier("D2", "705", "22T08:30:00", "25T08:30:00", "tiep_nhan", "22T09:59:40"))
    pipe.sync()
    assert case_commands() == Counter(), case_commands()


def test_a_new_worker_rewrites_the_lists_and_removes_those_of_units_gone(recorded, units) -> None:
    listing, pipe, client = recorded
    load_cases(listing, pipe)
    reader = SnapshotReader(client)
    before = {u: reader.cases(FEED, u) for u in ["72", *units.level_codes("district")]}
    client.hset(keys.case_list(FEED, "999"), mapping={"": "", "X": "{}"})  # a list no unit has now
    client.hdel(keys.case_list(FEED, "703"), "B")  # a list that lost a case behind the worker's back
    pipe.aggregator.release()
    assert pipe.aggregator.open()  # takes the lease again: what the lists hold is unknown
    listing.put(dossier("D2", "705", "22T08:30:00", "25T08:30:00", "tiep_nhan", "22T09:59:40"))
    pipe.sync()
    assert not client.exists(keys.case_list(FEED, "999"))
    assert {u: reader.cases(FEED, u) for u in before} == before
    assert reader.cases(FEED, "25459") is None  # a commune has no list of its own


# ---- the property: by change equals whole --------------------------------------------------

Change = tuple[int, int, int, int]  # dossier, commune, hours to its deadline, state
CHANGE = st.tuples(
    st.integers(0, 11), st.integers(0, len(COMMUNES) - 1), st.integers(-30, 30), st.integers(0, 2)
)
STEP = st.one_of(
    st.tuples(st.just("change"), st.lists(CHANGE, max_size=6)),
    st.tuples(st.just("clock"), st.integers(1, 20)),  # hours: deadlines pass
    st.just(("restart", 0)),
)
SERIAL = itertools.count()


def dossiers(held: dict[int, tuple[int, int, int, int]]) -> pl.DataFrame:
    """The state: each dossier's commune, deadline, status and a version of its content."""
    rows = [
        {
            "id": f"H{n:02d}",
            "procedure_code": f"P{version % 3}",
            "sector": "Đất đai",
            "agency_code": "BPMC",
            "unit_code": COMMUNES[commune],
            "status": "da_tra_ket_qua" if state == 2 else "dang_xu_ly",
            "received_at": T0 - timedelta(days=3),
            "deadline_at": T0 + timedelta(hours=hours, seconds=n % 2),
            "returned_at": T0 if state == 2 else None,
        }
        for n, (commune, hours, state, version) in sorted(held.items())
    ]
    schema = {
        "id": pl.String,
        "procedure_code": pl.String,
        "sector": pl.String,
        "agency_code": pl.String,
        "unit_code": pl.String,
        "status": pl.String,
        "received_at": pl.Datetime("us", "UTC"),
        "deadline_at": pl.Datetime("us", "UTC"),
        "returned_at": pl.Datetime("us", "UTC"),
    }
    return pl.DataFrame(rows, schema=schema)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=10))
def test_lists_written_by_change_are_the_lists_computed_whole(r, units, steps) -> None:
    feed = f"prop{next(SERIAL)}"
    prefix = keys.case_list(feed, "")
    rollup = units.rollup()
    reader = SnapshotReader(r)
    book, held, as_of = CaseBook(), {}, T0
    for kind, step in [("change", []), *steps]:
        if kind == "change":
            for n, commune, hours, state in step:
                version = held.get(n, (0, 0, 0, 0))[3] + 1
                held[n] = (commune, hours, state, version)
        elif kind == "clock":
            as_of += timedelta(hours=step)
        else:
            book = CaseBook()
        cases = overdue_dossiers(dossiers(held).lazy(), as_of)
        changes = book.changes(placed(cases, rollup).collect(), rollup)
        stale = list(r.scan_iter(match=f"{prefix}*")) if changes.rewrite is not None else []
        with r.pipeline(transaction=True) as pipe:
            changes.write(pipe, feed, stale)
            pipe.execute()
        book.committed(changes)
        whole = lists_by_unit(cases, rollup)
        for unit, expected in whole.items():
            assert reader.cases(feed, unit) == expected, (unit, kind, as_of)
        assert {k.decode().removeprefix(prefix) for k in r.scan_iter(match=f"{prefix}*")} == set(whole)
    for key in r.scan_iter(match=f"{prefix}*"):
        r.delete(key)
