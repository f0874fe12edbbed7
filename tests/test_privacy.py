"""Keyed pseudonyms, age bands and redaction of ids and phone numbers in free text."""

from __future__ import annotations

from datetime import date

import pytest

from ioc.privacy import MissingKey, age_band, personal_code, pseudonym, redact


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


@pytest.mark.parametrize(
    ("text", "left"),
    [
        ("CCCD 079 123 456 789 của chủ hồ sơ", "CCCD [số định danh] của chủ hồ sơ"),
        ("CCCD 079.123.456.789", "CCCD [số định danh]"),
        ("CMND 290123456 cấp năm 2010", "CMND [số định danh] cấp năm 2010"),
        ("gọi (0276) 3822 123 giờ hành chính", "gọi [số điện thoại] giờ hành chính"),
        ("NGUYỄN VĂN AN phản ánh", "[họ tên] phản ánh"),
        ("Nguyen Van An phan anh", "[họ tên] phan anh"),
        ("thư về an.nguyen@gmail.com", "thư về [email]"),
        ("ông Nguyễn Văn An ở đường Trần Hưng Đạo", "ông [họ tên] ở đường Trần Hưng Đạo"),
    ],
)
def test_redact_catches_the_shapes_people_write(text: str, left: str) -> None:
    """Ids with spaces or dots, 9-digit CMND, landlines in brackets, names in capitals or
    without diacritics, e-mail addresses; a street named after a person is kept."""
    assert redact(text) == left


@pytest.mark.parametrize(
    ("code", "is_personal"),
    [
        ("079188776655", True),
        ("79188776655", True),  # a citizen id sent as a number
        ("0918 273 645", True),
        ("Nguyễn Văn Khoa", True),
        ('["079188776655"]', True),
        ("khoa@gmail.com", True),
        ("H56.25459.251120.00001", False),
        ("HS-202611220001", False),
        ("550e8400-e29b-41d4-a716-446655440000", False),
        ("452-04-1234-56789", True),  # as a code it reads as a phone: cell ids are not checked
        ("290554433", False),  # record numbers look like old identity cards
        ("DPT-VGB-Hib", False),
        ("Đất đai", False),
    ],
)
def test_codes_holding_personal_data_are_told_from_codes(code: str, is_personal: bool) -> None:
    """An id or code that is a citizen id, phone, e-mail or name is personal; real codes are not."""
    assert personal_code(code) is is_personal


def test_redact_sees_through_decomposed_letters_and_other_separators() -> None:
    """Unikey's decomposed Unicode, zero-width joiners, ids and phones grouped by - or /."""
    import unicodedata

    text = unicodedata.normalize("NFD", "Trần Thị Bích, CCCD 079-185-001-234, ĐT 0912/345/678")
    assert redact(text.replace("Bích", "Bí\u200bch")) == "[họ tên], CCCD [số định danh], ĐT [số điện thoại]"


@pytest.mark.parametrize(
    "place", ["huyện Dương Minh Châu", "Châu Thành ngập nước", "về Cao Lãnh", "đi Hà Nội", "Lâm Đồng"]
)
def test_places_named_like_people_are_kept(place: str) -> None:
    """The province's units and other places that start with a family name are not names."""
    assert redact(place) == place
