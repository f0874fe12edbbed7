"""Vietnamese number, percentage and time formats."""

from __future__ import annotations

from datetime import UTC, datetime

from layouts import format as fmt


def test_numbers_use_dot_thousands_and_comma_decimals() -> None:
    assert fmt.number(1234.5, 1) == "1.234,5"
    assert fmt.number(1284) == "1.284"
    assert fmt.number(None) == "–"


def test_percent() -> None:
    assert fmt.percent(0.924) == "92,4%"
    assert fmt.percent(None) == "–"


def test_times_are_local_with_weekday() -> None:
    moment = datetime(2026, 11, 23, 3, 42, tzinfo=UTC)  # 10:42 in Tây Ninh
    assert fmt.date_time(moment) == "Thứ Hai 23/11/2026 10:42"
    assert fmt.as_of(moment.isoformat()) == "Số liệu lúc 10:42 23/11/2026"
    assert fmt.as_of(None) == "Chưa có số liệu"
