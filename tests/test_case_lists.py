"""Work lists written by change (``ioc.cases``): a commit writes the cases that entered a list or
changed and deletes those that left, and what Redis then holds, read, is every list computed whole
from the state (``lists_by_unit``) at every commit: through random changes, unit moves, a clock
moving deadlines past, and a worker's restart."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioc import keys
from ioc.cases import CaseBook, cases_of, list_units, lists_by_unit, overdue_dossiers, placed
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
    # A list of a unit the scheme no longer has, as a worker of that scheme left it.
    client.hset(keys.case_list(FEED, "999"), mapping={"": "", "X": "{}"})
    client.hset(keys.case_index(FEED), "units", json.dumps([*before, "999"]))
    client.hdel(keys.case_list(FEED, "703"), "B")  # a list that lost a case behind the worker's back
    pipe.aggregator.release()
    assert pipe.aggregator.open()  # takes the lease again: what the lists hold is unknown
    listing.put(dossier("D2", "705", "22T08:30:00", "25T08:30:00", "tiep_nhan", "22T09:59:40"))
    pipe.sync()
    assert not client.exists(keys.case_list(FEED, "999"))
    assert {u: reader.cases(FEED, u) for u in before} == before
    assert reader.cases(FEED, "25459") is None  # a commune has no list of its own


def test_lists_that_are_not_what_the_worker_wrote_are_written_again(recorded, units) -> None:
    """A failover that lost a commit (Redis's generation is not the worker's): the next commit
    rewrites every list. A list changed without the generation (by hand, say) is written again
    within the hour."""
    listing, pipe, client = recorded
    load_cases(listing, pipe)
    reader = SnapshotReader(client)
    before = {u: reader.cases(FEED, u) for u in ["72", *units.level_codes("district")]}
    resolved = {"N": keys.case_list(FEED, "703"), "N2": keys.case_list(FEED, "72")}
    for case_id, key in resolved.items():  # the lost commit's state: a case since resolved, listed
        client.hset(key, case_id, json.dumps({"id": case_id, "deadline_at": "2026-11-20T00:00:00Z"}))
    client.hdel(keys.case_list(FEED, "703"), "B")  # and a case since overdue, not
    client.hincrby(keys.case_index(FEED), "generation", -1)
    listing.put(dossier("D2", "705", "22T08:30:00", "25T08:30:00", "tiep_nhan", "22T09:59:40"))
    pipe.sync()
    assert {u: reader.cases(FEED, u) for u in before} == before
    client.hdel(keys.case_list(FEED, "72"), "B")  # behind the worker's back, the generation kept
    pipe.sync()
    assert reader.cases(FEED, "72") != before["72"]  # by change: nothing changed, nothing written
    book = pipe.aggregator.case_book
    later = book.whole_at + 3600
    book.clock = lambda: later
    listing.put(dossier("D3", "705", "22T08:30:00", "25T08:30:00", "tiep_nhan", "22T09:59:50"))
    pipe.sync()
    assert {u: reader.cases(FEED, u) for u in before} == before


def test_a_case_without_an_id_is_not_listed(units) -> None:
    """A plugin that hands over records itself could leave an id null or empty; neither may be
    taken for the list's mark, nor stop the commit."""
    due = datetime(2026, 11, 1, tzinfo=UTC)
    cases = pl.LazyFrame(
        {"id": [None, "", "ok"], "unit_code": ["25459"] * 3}, schema={"id": pl.String, "unit_code": pl.String}
    ).with_columns(pl.lit(due).alias("opened_at"), pl.lit(due).alias("deadline_at"))
    assert [c["id"] for c in lists_by_unit(cases, units.rollup())["703"]] == ["ok"]


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
        book.check(r, feed)
        changes = book.changes(placed(cases, rollup).collect(), rollup)
        with r.pipeline(transaction=True) as pipe:
            changes.write(pipe, feed)
            pipe.execute()
        book.committed(changes)
        whole = oracle(held, as_of, units)
        for unit, expected in whole.items():
            assert reader.cases(feed, unit) == expected, (unit, kind, as_of)
        assert {k.decode().removeprefix(prefix) for k in r.scan_iter(match=f"{prefix}*")} == set(whole)
    for key in [*r.scan_iter(match=f"{prefix}*"), keys.case_index(feed)]:
        r.delete(key)


def oracle(held: dict[int, tuple[int, int, int, int]], as_of: datetime, units) -> dict[str, list[dict]]:
    """The lists worked out one dossier at a time, in plain Python: an open dossier past its
    deadline goes to its district's list and the province's, newest breach first, then by id."""
    lists: dict[str, list[dict]] = {units.province: [], **{d: [] for d in units.level_codes("district")}}
    for n, (commune, hours, state, version) in held.items():
        deadline = T0 + timedelta(hours=hours, seconds=n % 2)
        if state == 2 or deadline >= as_of:
            continue
        case = {
            "id": f"H{n:02d}",
            "procedure": f"P{version % 3}",
            "sector": "Đất đai",
            "agency": "BPMC",
            "unit_code": COMMUNES[commune],
            "status": "dang_xu_ly",
            "opened_at": (T0 - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "deadline_at": deadline.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for unit in (units.parent(COMMUNES[commune]), units.province):
            lists[unit].append(case)
    return {
        unit: sorted(cases, key=lambda c: (-datetime.fromisoformat(c["deadline_at"]).timestamp(), c["id"]))
        for unit, cases in lists.items()
    }


def test_a_case_rule_counts_in_lists_and_skips_communes(units) -> None:
    """What a case alert rule counts in: a district's list (empty: none), never a commune's,
    which has no list (a rule there is skipped as it was when the lists were documents)."""
    due = datetime(2026, 11, 1, tzinfo=UTC)
    cases = pl.LazyFrame({"id": ["a"], "unit_code": ["25459"]}).with_columns(
        pl.lit(due).alias("opened_at"), pl.lit(due).alias("deadline_at")
    )
    rollup = units.rollup()
    now, listed = placed(cases, rollup).collect(), list_units(rollup)
    assert [c["id"] for c in cases_of(now, listed, "703") or []] == ["a"]
    assert cases_of(now, listed, "705") == []
    assert cases_of(now, listed, "25459") is None
