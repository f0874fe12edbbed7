"""Property-based fuzzing of every feed's validation: whatever arrives, each record is either
counted or a dead letter (never both, never neither), nothing crashes, and no personal field
survives into a dead letter. At least 10,000 generated records per feed."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ioc import schemas
from ioc.connector import Context
from ioc.contracts import make_contract

EXAMPLES, PER_EXAMPLE = 60, (170, 240)  # 60 × at least 170 = 10,200 records per feed

times = st.one_of(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.isoformat() + "+07:00"
    ),
    st.datetimes().map(lambda d: d.isoformat()),  # no offset
    st.text(max_size=12),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
junk = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=3)
)


def value_for(field: schemas.Field, units: list[str]) -> st.SearchStrategy:
    good = {
        "time": times,
        "enum": st.sampled_from(field.values or ("x",)),
        "unit": st.sampled_from([*units, "99999"]),
        "bool": st.sampled_from([True, False, "true", None]),
        "int": st.integers(min_value=-3, max_value=30),
        "float": st.floats(min_value=-200, max_value=200),
        "text": st.text(min_size=0, max_size=16),
    }[field.kind]
    return st.one_of(good, good, good, junk)  # mostly plausible, sometimes anything


def records(fields, units: list[str], extra: dict) -> st.SearchStrategy:
    base = {f.source: value_for(f, units) for f in fields if f.source not in extra}
    record = st.fixed_dictionaries(base, optional=dict(extra))
    return st.lists(st.one_of(record, record, record, junk), min_size=PER_EXAMPLE[0], max_size=PER_EXAMPLE[1])


PERSONAL = {
    "citizen_feedback": {
        "nguoi_phan_anh": st.fixed_dictionaries(
            {"ho_ten": st.just("Lê Văn Tám"), "so_dien_thoai": st.just("0987654321")}
        ),
        "vi_do": st.floats(min_value=10.9, max_value=11.8),
        "kinh_do": st.floats(min_value=105.8, max_value=106.4),
    },
    "vaccination": {
        "so_dinh_danh": st.one_of(st.just("072090000123"), st.text(max_size=14), st.integers()),
        "ho_ten": st.just("Lê Văn Tám"),
        "ngay_sinh": st.one_of(st.just("2025-01-31"), st.text(max_size=10)),
    },
}
FIELDS = {
    "public_services": schemas.PUBLIC_SERVICES_FIELDS,
    "citizen_feedback": schemas.CITIZEN_FEEDBACK_FIELDS,
    "mobile_data": schemas.MOBILE_DATA_FIELDS,
    "vaccination": tuple(f for f in schemas.VACCINATION_FIELDS if f.source not in ("ma_nguoi", "nhom_tuoi")),
}


@pytest.mark.parametrize("feed", list(FIELDS))
def test_every_record_is_counted_or_dead_lettered(feed, units, geodata) -> None:
    context = Context(
        units=units, http=httpx.Client(), geodata=geodata, secrets={"IOC_PSEUDONYM_KEY": "k" * 32}
    )
    contract = make_contract(feed, None, context)
    codes = units.codes
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.generate],  # shrinking 200-record lists takes minutes; the failure is printed whole
    )
    @given(records(FIELDS[feed], codes, PERSONAL.get(feed, {})))
    def check(rows) -> None:
        nonlocal sent
        done = contract.transform(rows, units=frozenset(codes), source="fuzz")
        sent += len(rows)
        assert done.records.height + len(done.dead_letters) == len(rows)
        assert done.records.schema == contract.schema
        for letter in done.dead_letters:
            text = str(letter.record)
            assert "Lê Văn Tám" not in text and "0987654321" not in text and "072090000123" not in text

    check()
    assert sent >= 10_000
