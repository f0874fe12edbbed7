"""Personal data never goes past a connector: keyed pseudonyms, age bands, redacted free text.

Law 91/2025/QH15 and Decree 356/2025 treat health and location data as sensitive; citizen id
numbers, names, birth dates and phone numbers must not reach Redis, logs or dead letters.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import logging
import re
import unicodedata
from datetime import date
from functools import cache
from typing import Any

from ioc.config import PROJECT_ROOT

AGE_BANDS = ((0, 1, "0"), (1, 5, "1-4"), (5, 15, "5-14"), (15, 60, "15-59"), (60, 130, "60+"))

# Digits written in groups: "079 123 456 789", "0912.345.678", "(0276) 3822 123". A 12-digit
# citizen id (CCCD: 0 and the province's code first) and a 9-digit identity card number (CMND,
# still on old papers) are written whole or in groups of three or four; Vietnamese phone numbers
# are 0 or +84 (0084, 84) then 9 digits for mobiles or 10 for landlines such as Tây Ninh's
# 0276 ..., grouped any way, the area code sometimes in parentheses. Eleven digits in a row are a
# citizen id sent as a number, its leading zero lost. Replaced, not masked, so that no digit of
# them survives. Codes such as a dossier's "H55.01-251120-0001" are none of these and are kept.
CITIZEN_ID = re.compile(
    r"(?<![\d+])"
    r"(?:0\d{11}|\d{11}|0\d{2}(?:[ .\-/]\d{3}){3}|0\d{3}(?:[ .\-/]\d{4}){2}|0\d{5}[ .\-/]\d{6})"
    r"(?!\d)"
)
CMND = re.compile(r"(?<![\d+])(?:\d{9}|\d{3}(?:[ .]\d{3}){2})(?!\d)")
PHONE = re.compile(r"(?<![\d+])(?:\(?(?:\+|00)?84\)?[ .\-/]?|\(?0)[1-9](?:\)?[ .\-/]?\d){8,9}(?!\d)")
EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")

# Vietnamese full names start with one of a few family names (these cover nine in ten people),
# then one to three capitalised given names. They are matched with or without diacritics and in
# any capitalisation ("Nguyễn Văn An", "NGUYEN VAN AN"). A name after a street-like word is a place
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
    "Thạch",
    "Danh",
]
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
        "hoá",
    ]
)
_WORDS = re.compile(r"[^\W\d_]+")


def fold(word: str) -> str:
    """A word without diacritics, in lower case: "Nguyễn" and "NGUYEN" both give "nguyen"."""
    decomposed = unicodedata.normalize("NFD", word.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_FAMILY = frozenset(fold(n) for n in FAMILY_NAMES)
_PLACES = frozenset(fold(w) for w in PLACE_WORDS)


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


ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def canonical(text: str) -> str:
    """NFC, without zero-width characters: decomposed letters (Unikey's "Unicode tổ hợp") and
    invisible joiners must not split a name or an id from its patterns."""
    return unicodedata.normalize("NFC", text).translate(ZERO_WIDTH)


def redact(text: str) -> str:
    """Free text with citizen ids, phone numbers, e-mail addresses and personal names replaced."""
    text = EMAIL.sub("[email]", canonical(text))
    text = CITIZEN_ID.sub("[số định danh]", text)
    text = PHONE.sub("[số điện thoại]", text)
    text = CMND.sub("[số định danh]", text)
    return _redact_names(text)


PLACEHOLDERS = frozenset(["[email]", "[số định danh]", "[số điện thoại]", "[họ tên]"])
LONGEST_KEPT = 500  # characters of one value kept in a dead letter


UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def personal_code(value: str) -> bool:
    """Whether an id or code holds personal data: a citizen id (twelve digits from 0, the province
    code), a phone number, an e-mail address or a name, anywhere in it, or eleven digits alone (a
    citizen id sent as a number). Codes that merely look numeric are kept: a bare nine-digit
    number (record numbers look like old identity cards), a UUID, "HS-202611220001"."""
    value = canonical(value).strip()
    if UUID.fullmatch(value) or CMND.fullmatch(value):
        return False
    if value.isdigit() and len(value) == 11:
        return True
    if any(c.isspace() for c in value) and redact(value) != value:
        return True  # grouped digits or a name among words: codes have no spaces
    ids = (m.group(0) for m in CITIZEN_ID.finditer(value))
    if any(i.startswith("0") for i in ids) or PHONE.search(value) or EMAIL.search(value):
        return True
    return _redact_names(value) != value


# A cell's global id written with its parts: MCC 452 (Viet Nam), the operator's MNC, the area and
# the cell ("452-04-1234-56789"). Its digits read like a phone number; a citizen id never starts
# with 452 (those start with a province code, 0xx).
CELL_GLOBAL_ID = re.compile(r"452[-.]\d{2,3}[-.]\d{1,6}[-.]\d{1,10}")


def personal_cell(value: str) -> bool:
    """Whether an operator's cell id holds personal data: as :func:`personal_code`, except that a
    cell global id is a cell's own, whatever its digits look like."""
    return not CELL_GLOBAL_ID.fullmatch(canonical(value).strip()) and personal_code(value)


def scrub_value(value: Any) -> Any:
    """``value`` (JSON-like) with every text redacted, numbers that are ids or phone numbers turned
    into their placeholder, and long texts cut: what may be kept of a refused record."""
    if isinstance(value, dict):
        return {str(k): scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        text = str(value)
        return value if redact(text) == text else redact(text)
    text = str(value)
    if len(text) > LONGEST_KEPT:
        text = f"{text[:LONGEST_KEPT]}… ({len(text)} characters)"
    return redact(text)


def _redact_names(text: str) -> str:
    words = list(_WORDS.finditer(text))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        end = _name_end(text, words, i)
        if end > i:
            spans.append((words[i].start(), words[end].end()))
            i = end + 1
        else:
            i += 1
    for start, end in reversed(spans):
        text = text[:start] + "[họ tên]" + text[end:]
    return text


# Names of places that start like a family name ("Dương Minh Châu", "Châu Thành", "Cao Lãnh",
# "Hà Nội"): the province's units, from its unit tables, and other places people write about.
OTHER_PLACES = [
    "Hà Nội",
    "Hồ Chí Minh",
    "Hải Phòng",
    "Đà Nẵng",
    "Cần Thơ",
    "Huế",
    "Lâm Đồng",
    "Đồng Nai",
    "Đồng Tháp",
    "An Giang",
    "Vĩnh Long",
    "Cà Mau",
    "Gia Lai",
    "Đắk Lắk",
    "Khánh Hòa",
    "Quảng Ngãi",
    "Quảng Trị",
    "Hà Tĩnh",
    "Nghệ An",
    "Thanh Hóa",
    "Ninh Bình",
    "Hưng Yên",
    "Bắc Ninh",
    "Phú Thọ",
    "Thái Nguyên",
    "Tuyên Quang",
    "Lào Cai",
    "Lai Châu",
    "Điện Biên",
    "Sơn La",
    "Lạng Sơn",
    "Cao Bằng",
    "Quảng Ninh",
    "Tây Ninh",
    "Cao Lãnh",
    "Hà Tiên",
    "Tân Châu",
    "Châu Đốc",
    "Thái Lan",
]


@cache
def _places() -> frozenset[tuple[str, ...]]:
    names = set(OTHER_PLACES)
    for table in sorted((PROJECT_ROOT / "geodata").glob("tayninh_units_*.csv")):
        with table.open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                kind, name = row.get("type") or "", row.get("name") or ""
                names.add(name[len(kind) :].strip() if kind and name.startswith(kind) else name)
    spelled = (tuple(fold(w) for w in _WORDS.findall(n)) for n in names)
    return frozenset(p for p in spelled if len(p) >= 2)  # one word alone is too often a name


def _place_at(words: list[re.Match[str]], i: int) -> bool:
    """Whether the words from ``i`` on spell a place's name (then they are nobody's name)."""
    ahead = tuple(fold(w.group(0)) for w in words[i : i + 4])
    return any(ahead[: len(place)] == place for place in _places())


def _name_end(text: str, words: list[re.Match[str]], i: int) -> int:
    """The index of the last given name of a full name starting at word ``i``, else ``i``."""
    first = words[i].group(0)
    if not first[0].isupper() or fold(first) not in _FAMILY:
        return i
    if (
        i > 0
        and fold(words[i - 1].group(0)) in _PLACES
        and text[words[i - 1].end() : words[i].start()].isspace()
    ):
        return i
    if _place_at(words, i):
        return i
    end = i
    while end + 1 < len(words) and end - i < 3:
        nxt = words[end + 1]
        if not nxt.group(0)[0].isupper() or not text[words[end].end() : nxt.start()].isspace():
            break
        end += 1
    return end


class RedactingFilter(logging.Filter):
    """Every log line, traceback included, through :func:`redact`: a connector's error message
    quoting what a source sent must not put a name or an id into the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
