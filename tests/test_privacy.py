"""Keyed pseudonyms, age bands and redaction of ids and phone numbers in free text."""

from __future__ import annotations

from datetime import date

import pytest

from ioc.privacy import MissingKey, age_band, pseudonym, redact


def test_pseudonym_is_keyed_stable_and_not_the_id() -> None:
    a = pseudonym(b"key-1", "072095001234")
    assert a == pseudonym(b"key-1", "072095001234")
    assert a != pseudonym(b"key-2", "072095001234")  # another key, another pseudonym
    assert "072095001234" not in a and len(a) == 64
    with pytest.raises(MissingKey):
        pseudonym(b"", "072095001234")


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        (date(2026, 5, 1), "0"),
        (date(2025, 11, 22), "1-4"),
        (date(2011, 11, 23), "5-14"),
        (date(2011, 11, 22), "15-59"),
        (date(1966, 11, 22), "60+"),
    ],
)
def test_age_bands(birth: date, band: str) -> None:
    assert age_band(birth, date(2026, 11, 22)) == band


@pytest.mark.parametrize(
    "text",
    [
        "Gọi anh Nam 0912345678 để biết thêm",
        "SĐT: 0912.345.678, CCCD 072095001234",
        "liên hệ +84 912 345 678",
        "số 0276 3822 123 của phường",
    ],
)
def test_redact_leaves_no_phone_or_id(text: str) -> None:
    out = redact(text)
    digits = "".join(c for c in out if c.isdigit())
    assert len(digits) < 9, out
    assert "[số" in out


def test_redact_keeps_ordinary_numbers() -> None:
    text = "Ổ gà sâu 30 cm trước số nhà 125 đường 30/4, từ ngày 22/11/2026"
    assert redact(text) == text
