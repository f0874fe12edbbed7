"""Personal data never reaches Redis, the logs or an API answer, whatever a source sends.

A property test: every built-in connector is fed rows of every JSON type (objects, arrays,
strings, numbers, null) with citizen ids, phone numbers, names, e-mail addresses and birth dates
planted in the fields the feed's contract knows, in fields it does not know (and as their names),
nested in arrays and objects, and as whole rows. The rows go through a real source (HTTP or a
drop folder), the real runner, Redis and the feed's aggregator; then every Redis key (Arrow IPC
batches decoded), every log line and the KPI and case API answers are searched for every planted
value, in any grouping of its digits, with or without diacritics.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from connectors.citizen_feedback import CitizenFeedbackConfig, CitizenFeedbackConnector
from connectors.drop_folder import (
    DropFolderConfig,
    DropFolderConnector,
    MobileDataConfig,
    MobileDataConnector,
)
from connectors.http_json import HttpJsonConfig, HttpJsonConnector
from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from connectors.vaccination import VaccinationConfig, VaccinationConnector
from ioc import keys, schemas
from ioc.connector import Context
from ioc.contracts import make_contract
from ioc.privacy import RedactingFilter
from ioc.simulators.http import SimulatorServer
from ioc.web import create_app
from tests import oracle
from tests.pipeline import FeedPipeline
from tests.planted import BIRTH_DATE, PLANTED, UNKNOWN, Rows, leaked
from tests.processes import app_settings, logged_in
from tests.redis_text import everything, text_of
from tests.test_citizen_feedback import report
from tests.test_kpis import dossier
from tests.test_vaccination import dose

AS_OF = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
SECRETS = {"IOC_PSEUDONYM_KEY": "k" * 32}

values = st.sampled_from(list(PLANTED))
# A bare nine-digit number is kept in an id or code (record numbers look the same as an old
# identity card): it is planted everywhere else.
CMND = ("290554433", 290554433)
code_values = st.sampled_from([v for v in PLANTED if v not in CMND])
anything = st.one_of(
    values,
    st.lists(values, min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["ho_ten", "so_dien_thoai", "x"]), values, min_size=1, max_size=2),
)


def rows_of(bases: list[dict[str, Any]], fields: Any, extra: dict[str, Any] | None = None) -> Any:
    """Lists of rows: real records with planted fields, and rows that are not objects at all."""
    codes = [f.source for f in fields if f.kind == "text" and f.source != "noi_dung"]
    others = [f.source for f in fields if f.source not in codes]
    into_known = st.one_of(
        st.dictionaries(st.sampled_from(codes), code_values, max_size=2),
        st.dictionaries(st.sampled_from(others), anything, max_size=3),
    )

    def planted(base: dict[str, Any], into_known: dict[str, Any], into_unknown: dict[str, Any]) -> dict:
        return {**base, **into_known, **into_unknown}

    unknown = {**dict.fromkeys(UNKNOWN, anything), "ngay_sinh_chu_ho": st.just(BIRTH_DATE), **(extra or {})}
    row = st.builds(
        planted,
        st.sampled_from(bases),
        into_known,
        st.fixed_dictionaries({}, optional=unknown),
    )
    whole = st.one_of(anything, st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False))
    return st.lists(st.one_of(row, row, row, whole), min_size=3, max_size=16)


@pytest.fixture(scope="module")
def source() -> Iterator[tuple[Rows, SimulatorServer]]:
    rows = Rows()
    server = SimulatorServer(
        {path: rows for path in ("/api/v1/hoso", "/api/v1/phan-anh", "/api/v1/mui-tiem")}
    )
    yield rows, server.start()
    server.close()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line of the test, through the filter production installs on its handlers."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def known_fields(feed: str) -> Any:
    return make_contract(feed, None, context_for(None)).fields


def context_for(units: Any, http: httpx.Client | None = None, geodata: Path | None = None) -> Context:
    extra = {"geodata": geodata} if geodata else {}
    return Context(units=units, http=http or httpx.Client(), clock=lambda: AS_OF, secrets=SECRETS, **extra)


BASES = {
    "public_services": [
        dossier("D1", "25459", "20T08:00:00", "21T08:00:00", "dang_xu_ly", "21T09:00:00"),
        dossier("D2", "25456", "20T08:00:00", "25T08:00:00", "tiep_nhan", "21T09:30:00"),
    ],
    "citizen_feedback": [
        report("R1", "20T16:00:00", "dang_xu_ly", thoi_diem_tiep_nhan="20T16:30:00"),
        report("R2", "21T10:00:00", "moi"),
    ],
    "vaccination": [
        dose("V1", "072090000001", "DPT-VGB-Hib", 1, "11-01T08:00:00"),
        dose("V2", "072090000002", "Sởi-Rubella", 1, "11-20T08:00:00"),
    ],
}
PATHS = {
    "public_services": "/api/v1/hoso",
    "citizen_feedback": "/api/v1/phan-anh",
    "vaccination": "/api/v1/mui-tiem",
}
PERSONAL_FIELDS = {
    "vaccination": {"so_dinh_danh": values, "ho_ten": values, "ngay_sinh": st.just(BIRTH_DATE)},
    "citizen_feedback": {"nguoi_phan_anh": anything, "noi_dung": values},
}


def http_connector(kind: str, feed: str, url: str, units: Any, http: httpx.Client, geodata: Path) -> Any:
    context = context_for(units, http, geodata)
    if kind == "http_json":
        config = HttpJsonConfig(url=url, feed=feed, path=PATHS[feed])  # type: ignore[arg-type]
        return HttpJsonConnector(config, context=context)
    made = {
        "public_services": (PublicServicesConnector, PublicServicesConfig),
        "citizen_feedback": (CitizenFeedbackConnector, CitizenFeedbackConfig),
        "vaccination": (VaccinationConnector, VaccinationConfig),
    }[feed]
    return made[0](made[1](url=url), context=context)  # type: ignore[call-arg]


CHECKED = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.generate],  # the failing rows are printed whole; shrinking a pipeline run is slow
)


def assert_nothing_leaked(r: Any, logs: io.StringIO, rows: Any) -> None:
    found = leaked(everything(r))
    if found:
        where = [k for k in r.scan_iter("*") if leaked(text_of(r, k))]
        raise AssertionError(f"{found} reached Redis ({where}) from rows {rows!r}")
    found = leaked(logs.getvalue())
    assert not found, f"{found} reached the logs from rows {rows!r}"


def assert_api_clean(r: Any, redis_server: Any, feed: str, units: Any) -> None:
    client = logged_in(create_app(app_settings(redis_server), r), "lanhdao")
    answers = [
        client.get(f"/api/v1/kpis?feed={feed}&unit={unit}&window=30d").get_data(as_text=True)
        for unit in ("72", "703", "705", "25459")
    ]
    answers += [
        client.get(f"/api/v1/cases?feed={feed}&unit={unit}").get_data(as_text=True) for unit in ("703", "705")
    ]
    answers.append(client.get("/api/v1/alerts").get_data(as_text=True))
    assert any('"kpis"' in a for a in answers), "the API answered no KPIs: the scan would prove nothing"
    found = leaked("\n".join(answers))
    assert not found, f"{found} in an API answer"


@pytest.mark.parametrize(
    ("kind", "feed"),
    [
        ("public_services", "public_services"),
        ("citizen_feedback", "citizen_feedback"),
        ("vaccination", "vaccination"),
        ("http_json", "public_services"),
        ("http_json", "citizen_feedback"),
    ],
)
def test_pulled_rows_leave_no_personal_data(
    kind, feed, r, redis_server, units, geodata, source, logs
) -> None:
    """Whatever a pulled source sends, no planted personal value reaches Redis, the logs or the API."""
    listing, server = source
    http = httpx.Client()
    pipe = FeedPipeline(r, units, http_connector(kind, feed, server.url, units, http, geodata), lambda: AS_OF)

    @CHECKED
    @given(rows_of(BASES[feed], known_fields(feed), PERSONAL_FIELDS.get(feed)))
    def check(rows: list[Any]) -> None:
        listing.rows = rows
        r.delete(keys.cursor(feed, pipe.connector.name))  # every example is read from the start
        pipe.sync()
        assert_nothing_leaked(r, logs, rows)

    check()
    assert pipe.dead_letters(), "no dead letter was written: the scan proves nothing about them"
    assert_api_clean(r, redis_server, feed, units)
    http.close()


MOBILE_BASE = {
    "nha_mang": "Viettel",
    "ma_tram": "VT00001",
    "cong_nghe": "4G",
    "vi_do": "11.31",
    "kinh_do": "106.098",
    "thoi_diem_bat_dau": "2026-11-22T08:00:00+07:00",
    "so_phut": "15",
    "tai_xuong_mb": "100.5",
    "tai_len_mb": "20.25",
    "so_thue_bao": "42",
}


def cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def write_csv(path: Path, rows: list[Any]) -> None:
    objects = [r for r in rows if isinstance(r, dict)] or [MOBILE_BASE]
    header = list(dict.fromkeys(k for r in objects for k in r))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        if isinstance(row, dict):
            writer.writerow([cell(row.get(k, "")) for k in header])
        else:  # a whole row that is not an object: its text in every column
            writer.writerow([cell(row)] * len(header))
    path.write_text(out.getvalue(), encoding="utf-8")
    path.with_name(path.name + ".done").touch()


@pytest.mark.parametrize("kind", ["mobile_data", "drop_folder"])
def test_dropped_files_leave_no_personal_data(kind, r, redis_server, units, geodata, tmp_path, logs) -> None:
    """Whatever a dropped file holds, no planted personal value reaches Redis, the logs or the API."""
    context = context_for(units, None, geodata)
    if kind == "mobile_data":
        connector: Any = MobileDataConnector(MobileDataConfig(drop_dir=tmp_path), context=context)
    else:
        config = DropFolderConfig(feed="mobile_data", drop_dir=tmp_path, require_done=True)
        connector = DropFolderConnector(config, context=context)
    pipe = FeedPipeline(r, units, connector, lambda: AS_OF)
    serial = iter(range(10_000))

    @CHECKED
    @given(rows_of([MOBILE_BASE], schemas.MOBILE_DATA_FIELDS))
    def check(rows: list[Any]) -> None:
        write_csv(tmp_path / f"viettel_2026112208{next(serial) % 60:02d}.csv", rows)
        pipe.sync()
        assert_nothing_leaked(r, logs, rows)

    check()
    assert pipe.dead_letters(), "no dead letter was written: the scan proves nothing about them"
    assert_api_clean(r, redis_server, "mobile_data", units)


def test_the_scan_finds_what_it_looks_for() -> None:
    """The search itself: every planted value is found in any grouping and without diacritics."""
    for value in PLANTED:
        assert leaked(f"x {value} y") or leaked(f"x {json.dumps(value)} y"), value
    assert leaked("NGUYEN VAN KHOA") == ["nguyen van khoa in …nguyen van khoa…"]
    assert leaked("số 0918.273.645") == ["918273645 in …so 0918273645…"]
    assert leaked("H56.25459.251120.00001") == []


def test_dead_letters_hold_reason_id_and_known_fields_only(r, units, source) -> None:
    """A refused row keeps its reason, its id and its scrubbed FEEDS.md fields; rows that are not
    objects keep nothing of themselves; unknown fields are counted, never stored."""
    listing, server = source
    http = httpx.Client()
    pipe = FeedPipeline(
        r,
        units,
        http_connector("public_services", "public_services", server.url, units, http, Path()),
        lambda: AS_OF,
    )
    bad = dossier("D9", "99999", "20T08:00:00", "21T08:00:00", "dang_xu_ly", "21T09:00:00")
    listing.rows = [
        ["079188776655", "Nguyễn Văn Khoa", "1989-03-17"],
        "Nguyễn Văn Khoa",
        {**bad, "chu_ho_so": "Nguyễn Văn Khoa", "so_dien_thoai": "0918273645", "so_dinh_danh": 79188776655},
    ]
    pipe.sync()
    letters = {d["reason"]: d["record"] for d in pipe.dead_letters()}
    assert letters == {
        "record is not a JSON object (got an array)": {},
        "record is not a JSON object (got a string)": {},
        "ma_dvhc: unknown unit code '99999' in scheme pre2025 (coding pre2025); 3 unknown fields dropped": {
            k: v for k, v in bad.items() if k in {f.source for f in known_fields("public_services")}
        },
    }
    http.close()


def test_a_batch_carries_no_byte_of_a_refused_record(units) -> None:
    """Arrow string views keep the buffers of filtered rows: the published batch must not."""
    contract = make_contract("public_services", None, context_for(units))
    good = dossier("D1", "25459", "20T08:00:00", "21T08:00:00", "dang_xu_ly", "21T09:00:00")
    refused = {**good, "ma_ho_so": "D2", "ma_tthc": "Nguyễn Văn Khoa gọi 0918273645", "ma_dvhc": "99999"}
    goods = [
        {**good, "ma_ho_so": f"D{i}", "ma_tthc": f"thủ tục số {i} của bộ phận một cửa"} for i in range(50)
    ]
    done = contract.transform([*goods, refused], units=frozenset(units.codes), source="test")
    assert done.records.height == 50  # many kept beside one refused: Polars then keeps the buffers
    raw = io.BytesIO()
    done.records.write_ipc_stream(raw)  # uncompressed: every byte of every buffer as it is
    assert b"Khoa" not in raw.getvalue() and b"0918273645" not in raw.getvalue()


def test_an_operators_cell_id_is_not_taken_for_a_phone(units, geodata) -> None:
    """A cell global id ("452-04-1234-56789") holds digits that read like a phone: it is counted."""
    contract = make_contract("mobile_data", None, context_for(units, None, geodata))
    row = {k: v for k, v in MOBILE_BASE.items()} | {"ma_tram": "452-04-1234-56789"}
    done = contract.transform([row], units=frozenset(units.codes), source="test")
    assert done.records["cell"].to_list() == ["452-04-1234-56789"], [d.reason for d in done.dead_letters]


@pytest.mark.parametrize("cell", ["072198001234", "0721 9800 1234", "0918 273 645", "an.nguyen@example.vn"])
def test_a_cell_id_holding_a_citizen_id_or_an_address_is_refused(units, geodata, cell) -> None:
    """Only a cell global id (452-MNC-area-cell) is spared the phone check: a citizen id, a phone
    number or an e-mail address in the cell id is refused."""
    contract = make_contract("mobile_data", None, context_for(units, None, geodata))
    row = {k: v for k, v in MOBILE_BASE.items()} | {"ma_tram": cell}
    done = contract.transform([row], units=frozenset(units.codes), source="test")
    assert done.records.height == 0, f"{cell!r} was stored as a cell id"
    assert "ma_tram: holds personal data" in done.dead_letters[0].reason
