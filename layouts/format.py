"""Number, percentage and time formats in the reader's language, Vietnamese first:
1.234,5 — 92,4% — 1,2 triệu — Thứ Hai 23/11/2026 10:42 (English: 1,234.5 — 92.4% — 1.2 million).

Babel holds the locales' rules; dates stay day/month/year and 24-hour in both languages, as the
province writes them.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_compact_decimal, format_decimal

from layouts.i18n import _, current

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
COMPACT_FROM = 1_000_000  # from a million on, "1,2 triệu" reads better than "1.234.567"


def number(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return "–"
    return format_decimal(
        value, format="#,##0" + ("." + "0" * decimals if decimals else ""), locale=current()
    )


def compact(value: float | None, decimals: int = 0) -> str:
    """Big numbers in words ("1,2 triệu", "3,4 tỷ"); smaller ones as ``number`` writes them."""
    if value is None or abs(value) < COMPACT_FROM:
        return number(value, decimals)
    return format_compact_decimal(value, format_type="long", fraction_digits=1, locale=current())


def percent(value: float | None, decimals: int = 1) -> str:
    return "–" if value is None else f"{number(value * 100, decimals)}%"


def clock(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%H:%M")


def date_time(moment: datetime) -> str:
    return format_datetime(moment.astimezone(TZ), "EEEE dd/MM/yyyy HH:mm", tzinfo=TZ, locale=current())


def day_month(moment: datetime) -> str:
    """23/11: a day on a chart's axis."""
    return moment.astimezone(TZ).strftime("%d/%m")


def as_of(iso_text: str | None) -> str:
    if not iso_text:
        return _("Chưa có số liệu")
    moment = datetime.fromisoformat(iso_text)
    return _("Số liệu lúc {time}").format(time=f"{clock(moment)} {moment.astimezone(TZ):%d/%m/%Y}")


def fold(text: str) -> str:
    """Lower case without diacritics, so "hoa thanh" finds "Hòa Thành" (and "đ" is "d")."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def late_by(seconds: float) -> str:
    """How long past a deadline, as a duty officer says it: "trễ 3 ngày 4 giờ", "trễ 45 phút"."""
    minutes = max(0, int(seconds // 60))
    days, hours, rest = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return (
            _("trễ {d} ngày {h} giờ").format(d=days, h=hours) if hours else _("trễ {d} ngày").format(d=days)
        )
    if hours:
        return _("trễ {h} giờ {m} phút").format(h=hours, m=rest) if rest else _("trễ {h} giờ").format(h=hours)
    return _("trễ {m} phút").format(m=minutes)


def short_time(moment: datetime) -> str:
    return f"{moment.astimezone(TZ):%H:%M %d/%m/%Y}"
