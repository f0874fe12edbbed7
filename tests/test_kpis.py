"""KPIs of FEEDS.md §1 on hand-computed cases, through the real pipeline (HTTP, Redis, Polars)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from ioc.simulators.http import RecordListing, SimulatorServer
from tests import oracle
from tests.pipeline import Pipeline

AS_OF = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
WINDOWS = ("today", "7d", "30d", "mtd", "ytd")


def dossier(
    ma: str, unit: str, received: str, deadline: str, status: str, updated: str, **extra: Any
) -> dict:
    record = {
        "ma_ho_so": ma,
        "ma_tthc": "1.004227",
        "linh_vuc": "Đất đai",
        "ma_don_vi": "BPMC",
        "ma_dvhc": unit,
        "kenh_nop": "truc_tiep",
        "ngay_tiep_nhan": f"2026-11-{received}+07:00",
        "han_xu_ly": f"2026-11-{deadline}+07:00",
        "ngay_tra_ket_qua": None,
        "trang_thai": status,
        "co_nghia_vu_tai_chinh": False,
        "thanh_toan_truc_tuyen": None,
        "so_hoa": True,
        "cap_nhat_luc": f"2026-11-{updated}+07:00",
    }
    record.update(extra)
    return record


A1 = dossier(
    "A",
    "25456",
    "20T08:00:00",
    "21T08:00:00",
    "tiep_nhan",
    "20T08:00:00",
    kenh_nop="truc_tuyen",
    co_nghia_vu_tai_chinh=True,
    thanh_toan_truc_tuyen=True,
)
A2 = {
    **A1,
    "trang_thai": "da_tra_ket_qua",
    "ngay_tra_ket_qua": "2026-11-20T16:00:00+07:00",
    "cap_nhat_luc": "2026-11-22T09:45:00+07:00",
}  # re-sent after the first pull
B = dossier(
    "B",
    "25459",
    "19T09:00:00",
    "21T09:00:00",
    "dang_xu_ly",
    "19T10:00:00",
    co_nghia_vu_tai_chinh=True,
    thanh_toan_truc_tuyen=False,
    so_hoa=False,
)
C = dossier("C", "25459", "18T09:00:00", "20T09:00:00", "cho_bo_sung", "19T09:00:00", kenh_nop="buu_chinh")
D = dossier("D", "705", "22T08:30:00", "25T08:30:00", "tiep_nhan", "22T08:30:00", kenh_nop="truc_tuyen")
E = dossier(
    "E",
    "25486",
    "10T08:00:00",
    "14T08:00:00",
    "da_tra_ket_qua",
    "16T08:00:00",
    ngay_tra_ket_qua="2026-11-16T08:00:00+07:00",
    co_nghia_vu_tai_chinh=True,
    thanh_toan_truc_tuyen=True,
)
F = dossier(
    "F",
    "25456",
    "20T09:00:00",
    "20T12:00:00",
    "da_tra_ket_qua",
    "21T10:00:00",
    ngay_tra_ket_qua="2026-11-21T10:00:00+07:00",
    kenh_nop="truc_tuyen",
    so_hoa=False,
)
G1 = dossier("G", "25459", "21T11:00:00", "24T11:00:00", "dang_xu_ly", "22T09:30:00")  # newest: the cursor
G2 = {**G1, "trang_thai": "tu_choi"}  # same cap_nhat_luc as the cursor, arrives later: it wins
MALFORMED = [
    {
        k: v
        for k, v in dossier("M1", "25456", "21T08:00:00", "22T08:00:00", "tiep_nhan", "21T08:00:00").items()
        if k != "ma_ho_so"
    },
    dossier("M2", "25456", "21T08:00:00", "22T08:00:00", "tiep_nhan", "21T08:00:01")
    | {"ngay_tiep_nhan": "2026-11-21T08:00:00"},
    dossier("M3", "25456", "21T08:00:00", "22T08:00:00", "dang_tham_dinh", "21T08:00:02"),
    dossier("M4", "25456", "21T08:00:00", "22T08:00:00", "tiep_nhan", "21T08:00:03") | {"kenh_nop": "fax"},
    dossier("M5", "99999", "21T08:00:00", "22T08:00:00", "tiep_nhan", "21T08:00:04"),
]


@pytest.fixture
def source() -> Iterator[tuple[RecordListing, SimulatorServer]]:
    listing = RecordListing("ma_ho_so")
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    yield listing, server
    server.close()


@pytest.fixture
def pipeline(r, units, source) -> Iterator[tuple[RecordListing, Pipeline]]:
    listing, server = source
    # Pages of 2 records: every page boundary is read twice by the key walk.
    pipe = Pipeline(r, units, server.url, lambda: AS_OF, page_size=2)
    yield listing, pipe
    pipe.close()


@contextmanager
def counted_cases(r, units, **kwargs: Any) -> Iterator[Pipeline]:
    """The cases below through a served source, the connector, Redis and the aggregator (pages of
    3 records); ``kwargs`` go to the Pipeline (``counted_in`` for another scheme)."""
    listing = RecordListing("ma_ho_so")
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    pipe = Pipeline(r, units, server.url, lambda: AS_OF, page_size=3, **kwargs)
    try:
        load_cases(listing, pipe)
        yield pipe
    finally:
        pipe.close()
        server.close()


def load_cases(listing: RecordListing, pipe: Pipeline) -> None:
    for record in (A1, B, C, D, E, F, G1, *MALFORMED):
        listing.put(record)
    pipe.sync()
    listing.put(A2)  # re-sent in a new state
    listing.put(G2)  # re-sent with the same update time
    pipe.sync()


def values(kpis: dict) -> dict:
    return {name: entry["value"] for name, entry in kpis.items()}


def test_province_7d_hand_computed(pipeline) -> None:
    """The province's 7-day KPIs equal the values worked out by hand from FEEDS.md §1."""
    listing, pipe = pipeline
    load_cases(listing, pipe)
    got = pipe.kpis("72", "7d")
    assert values(got) == {
        "received": 6,
        "resolved": 3,
        "on_time_rate": pytest.approx(1 / 3),
        "overdue_open": 1,
        "online_rate": pytest.approx(3 / 6),
        "online_payment_rate": pytest.approx(1 / 2),
        "digitisation_rate": pytest.approx(4 / 6),
        "avg_processing_days": 2.46,
    }
    assert got["on_time_rate"] == {"value": pytest.approx(1 / 3), "numerator": 1, "denominator": 3}


def test_zero_denominators_are_null_not_zero(pipeline) -> None:
    """Today has one dossier received and none resolved: rates over resolved are null."""
    listing, pipe = pipeline
    load_cases(listing, pipe)
    today = values(pipe.kpis("72", "today"))
    assert today["received"] == 1 and today["resolved"] == 0
    assert today["on_time_rate"] is None
    assert today["online_payment_rate"] is None
    assert today["avg_processing_days"] is None
    assert today["online_rate"] == 1.0
    assert today["overdue_open"] == 1  # the window does not apply


def test_waiting_for_citizen_is_not_overdue(pipeline) -> None:
    """C (cho_bo_sung, past its deadline) is not overdue; B (dang_xu_ly, past) is."""
    listing, pipe = pipeline
    load_cases(listing, pipe)
    assert pipe.kpis("25459", "7d")["overdue_open"]["value"] == 1


def test_rollup_commune_district_province(pipeline) -> None:
    """Communes add up to their district (with district-level dossiers), districts to the province."""
    listing, pipe = pipeline
    load_cases(listing, pipe)
    assert values(pipe.kpis("703", "7d")) == {
        "received": 5,
        "resolved": 2,
        "on_time_rate": 0.5,
        "overdue_open": 1,
        "online_rate": 0.4,
        "online_payment_rate": 0.5,
        "digitisation_rate": 0.6,
        "avg_processing_days": 0.69,
    }
    district_705 = values(pipe.kpis("705", "7d"))
    assert district_705["received"] == 1  # D, filed at the district itself
    assert district_705["resolved"] == 1  # E, from commune 25486
    assert district_705["on_time_rate"] == 0.0  # late, and not null: one resolved
    assert district_705["avg_processing_days"] == 6.0
    empty = values(pipe.kpis("706", "7d"))
    assert empty["received"] == 0 and empty["online_rate"] is None


def test_resent_and_tied_versions_count_once(pipeline) -> None:
    """A re-sent in a new state counts once, resolved; G's later arrival at the same time wins."""
    listing, pipe = pipeline
    load_cases(listing, pipe)
    assert pipe.aggregator.state.frame.height == 7
    state = pipe.aggregator.state.frame
    assert state.filter(state["id"] == "A")["status"].to_list() == ["da_tra_ket_qua"]
    assert state.filter(state["id"] == "G")["status"].to_list() == ["tu_choi"]


def test_malformed_records_go_to_dead_letters_once(r, pipeline) -> None:
    """Each malformed kind lands in the dead letters with its reason, once, and is not counted."""
    listing, pipe = pipeline
    load_cases(listing, pipe)
    pipe.sync()  # a third pass reads the boundary again
    letters = r.xrange("ioc:{public_services}:dead")
    reasons = sorted(fields[b"reason"].decode() for _id, fields in letters)
    assert reasons == [
        "kenh_nop: unknown value 'fax'",
        "ma_dvhc: unknown unit code '99999' in scheme pre2025 (coding pre2025)",
        "ma_ho_so: missing",
        "ngay_tiep_nhan: time without offset (2026-11-21T08:00:00)",
        "trang_thai: unknown value 'dang_tham_dinh'",
    ]


@pytest.mark.parametrize("window", WINDOWS)
def test_every_unit_matches_the_oracle(pipeline, units, window) -> None:
    """All 104 units in every window equal the record-by-record oracle."""
    listing, pipe = pipeline
    load_cases(listing, pipe)
    valid = oracle.latest([A1, A2, B, C, D, E, F, G1, G2])
    parents = dict(zip(units.frame["code"], units.frame["parent_code"], strict=True))
    for unit in units.codes:
        expected = oracle.public_services(oracle.counts_for(valid, unit, parents), AS_OF, window)
        got = pipe.kpis(unit, window)
        assert oracle.same(got, expected), (unit, window, got)


def test_case_lists_are_exactly_the_overdue_dossiers(pipeline) -> None:
    """The district's work list is B and only B (C waits for the citizen, D is not yet due, G was
    refused); the province's too; the list empties when B is returned."""
    listing, pipe = pipeline
    load_cases(listing, pipe)
    (case,) = pipe.reader.extra("public_services", "_cases|703")
    assert case == {
        "id": "B",
        "procedure": "1.004227",
        "sector": "Đất đai",
        "agency": "BPMC",
        "unit_code": "25459",
        "status": "dang_xu_ly",
        "opened_at": "2026-11-19T02:00:00Z",
        "deadline_at": "2026-11-21T02:00:00Z",
    }
    assert pipe.reader.extra("public_services", "_cases|72") == [case]
    assert pipe.reader.extra("public_services", "_cases|705") == []
    assert pipe.reader.extra("public_services", "_cases|25459") is None  # communes have no room
    listing.put({**B, "trang_thai": "da_tra_ket_qua", "ngay_tra_ket_qua": "2026-11-22T09:50:00+07:00",
                 "cap_nhat_luc": "2026-11-22T09:50:00+07:00"})  # fmt: skip
    pipe.sync()
    assert pipe.reader.extra("public_services", "_cases|703") == []
