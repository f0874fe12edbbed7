"""Personal data never goes past a connector: keyed pseudonyms, age bands, redacted free text.

Law 91/2025/QH15 and Decree 356/2025 treat health and location data as sensitive; citizen id
numbers, names, birth dates and phone numbers must not reach Redis, logs or dead letters.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

AGE_BANDS = ((0, 1, "0"), (1, 5, "1-4"), (5, 15, "5-14"), (15, 60, "15-59"), (60, 130, "60+"))
# A 12-digit citizen id, and Vietnamese phone numbers (0 or +84, then 9 digits for mobiles or 10
# for landlines such as Tây Ninh's 0276 ..., spaces, dots or dashes allowed between groups):
# replaced, not masked, so no digit of them survives.
CITIZEN_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
PHONE = re.compile(r"(?<![\d+])(?:\+?84|0)(?:[\s.\-]?\d){9,10}(?!\d)")


# Vietnamese full names start with one of a few family names (these cover nine in ten people),
# then one to three capitalised given names. A name after a street-like word is a place
# ("đường Trần Hưng Đạo") and is kept.
FAMILY_NAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Trương",
    "Lâm",
    "Mai",
    "Tô",
    "Trịnh",
    "Đoàn",
    "Lương",
    "Cao",
    "Châu",
    "Thái",
    "Hà",
    "Tạ",
    "Lưu",
    "Kiều",
    "Quách",
    "Văn",
    "Thạch",
    "Danh",
]
_UPPER = "A-ZÀ-ỸĐ"
_WORD = rf"[{_UPPER}][a-zà-ỹđ]+"
FULL_NAME = re.compile(rf"\b(?:{'|'.join(FAMILY_NAMES)})(?:\s+{_WORD}){{1,3}}\b")
PLACE_WORDS = frozenset(
    [
        "đường",
        "phố",
        "hẻm",
        "kiệt",
        "ngõ",
        "cầu",
        "chợ",
        "trường",
        "bệnh",
        "viện",
        "công",
        "viên",
        "khu",
        "ấp",
        "xã",
        "phường",
        "huyện",
        "quận",
        "tượng",
        "đài",
        "nhà",
        "văn",
        "hóa",
    ]
)


class MissingKey(Exception):
    """No pseudonym key: production refuses to start rather than store raw ids."""


def pseudonym(key: bytes, identifier: str) -> str:
    """HMAC-SHA256 of the id with a secret key (never a plain hash: ids are guessable)."""
    if not key:
        raise MissingKey("IOC_PSEUDONYM_KEY is empty")
    return hmac.new(key, identifier.strip().encode(), hashlib.sha256).hexdigest()


def age_band(birth: date, on: date) -> str:
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    for low, high, label in AGE_BANDS:
        if low <= age < high:
            return label
    raise ValueError(f"age {age} on {on} is not plausible")


def redact(text: str) -> str:
    """Free text with citizen ids, phone numbers and personal names replaced by placeholders."""
    text = PHONE.sub("[số điện thoại]", CITIZEN_ID.sub("[số định danh]", text))
    return FULL_NAME.sub(lambda m: _name_or_place(text, m), text)


def _name_or_place(text: str, match: re.Match[str]) -> str:
    before = text[: match.start()].split()
    if before and before[-1].lower().strip(",.:;") in PLACE_WORDS:
        return match.group(0)
    return "[họ tên]"
