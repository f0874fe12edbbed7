"""Vietnamese number, percentage and time formats: 1.234,5 — 92,4% — 22/11/2026 10:42."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def number(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def percent(value: float | None, decimals: int = 1) -> str:
    return "–" if value is None else f"{number(value * 100, decimals)}%"


def clock(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%H:%M")


def date_time(moment: datetime) -> str:
    local = moment.astimezone(TZ)
    return f"{WEEKDAYS[local.weekday()]} {local:%d/%m/%Y %H:%M}"


def as_of(iso_text: str | None) -> str:
    if not iso_text:
        return "Chưa có số liệu"
    moment = datetime.fromisoformat(iso_text)
    return f"Số liệu lúc {clock(moment)} {moment.astimezone(TZ):%d/%m/%Y}"


def fold(text: str) -> str:
    """Lower case without diacritics, so "hoa thanh" finds "Hòa Thành" (and "đ" is "d")."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def late_by(seconds: float) -> str:
    """How long past a deadline, as a duty officer says it: "trễ 3 ngày 4 giờ", "trễ 45 phút"."""
    minutes = max(0, int(seconds // 60))
    days, hours = minutes // 1440, minutes % 1440 // 60
    if days:
        return f"trễ {days} ngày {hours} giờ" if hours else f"trễ {days} ngày"
    if hours:
        return f"trễ {hours} giờ {minutes % 60} phút" if minutes % 60 else f"trễ {hours} giờ"
    return f"trễ {minutes} phút"


def short_time(moment: datetime) -> str:
    return f"{moment.astimezone(TZ):%H:%M %d/%m/%Y}"
