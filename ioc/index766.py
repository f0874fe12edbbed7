"""The national index of Decision 766/QĐ-TTg (``SCORECARD.md``): its groups and indicators, the
periods it is published for, and the indicators this product computes from its own feeds.

The feed-computed indicators are pure Polars beside the KPIs (LazyFrame in, LazyFrame out): per
unit and period, each indicator's numerator and denominator. The aggregators of public services
and field reports publish them with every snapshot (``_index766|<unit>|<period>`` fields), so
they are computed exactly once, live, like every KPI; ``ioc.scorecard`` scores them.

Periods are the portal's: a month (``2026-11``) or an ISO week (``2026-W48``), each a half-open
interval [start, end) of local time (``Asia/Ho_Chi_Minh``); the current period ends at ``as_of``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ioc.kpis import TZ


@dataclass(frozen=True)
class Indicator:
    """One indicator of the index: its group, what it measures (Vietnamese; the pages translate),
    where its figure comes from (``feed``: computed here; ``portal``: only the national portal's
    published figure), the rate at which it earns full points, and its default maximum (each
    group's points split evenly among its scored indicators). ``scored`` False: shown only (2.2)."""

    id: str
    group: str
    label: str
    source: str  # "feed" | "portal"
    full_at: float | None
    default_max: float
    scored: bool = True
    feed: str = ""  # the feed that computes it (source "feed")
    unit: str = "%"  # how its value reads: a rate, or days (2.2)
    cases: bool = False  # its feed's overdue work lists are the cases behind what it loses


GROUPS: dict[str, tuple[str, float]] = {  # group -> (label, points)
    "1": ("Công khai, minh bạch", 18.0),
    "2": ("Tiến độ, kết quả giải quyết", 20.0),
    "3": ("Cung cấp dịch vụ trực tuyến", 22.0),
    "4": ("Số hóa hồ sơ", 22.0),
    "5": ("Mức độ hài lòng", 18.0),
}

INDICATORS: dict[str, Indicator] = {
    i.id: i
    for i in (
        Indicator("1.1", "1", "Công bố, công khai TTHC đúng hạn", "portal", 1.00, 4.5),
        Indicator("1.2", "1", "Công khai TTHC trên CSDL quốc gia đúng hạn", "portal", 1.00, 4.5),
        Indicator("1.3", "1", "TTHC công khai đủ 7 bộ phận", "portal", 1.00, 4.5),
        Indicator("1.4", "1", "Hồ sơ đồng bộ lên Cổng DVC quốc gia", "portal", 1.00, 4.5),
        Indicator(
            "2.1",
            "2",
            "Hồ sơ giải quyết trước, đúng hạn",
            "feed",
            1.00,
            20.0,
            feed="public_services",
            cases=True,
        ),
        Indicator(
            "2.2",
            "2",
            "Thời gian giải quyết bình quân",
            "feed",
            None,
            0.0,
            scored=False,
            feed="public_services",
            unit="ngày",
        ),
        Indicator("3.1", "3", "TTHC cung cấp trực tuyến", "portal", 0.80, 4.4),
        Indicator("3.2", "3", "Dịch vụ trực tuyến có phát sinh hồ sơ", "portal", 1.00, 4.4),
        Indicator("3.3", "3", "Hồ sơ nộp trực tuyến", "feed", 0.50, 4.4, feed="public_services"),
        Indicator("3.5", "3", "TTHC có phí thanh toán trực tuyến được", "portal", 0.80, 4.4),
        Indicator("3.6", "3", "Hồ sơ thanh toán trực tuyến", "feed", 0.80, 4.4, feed="public_services"),
        Indicator("4.1", "4", "Kết quả giải quyết điện tử", "portal", 1.00, 4.4),
        Indicator("4.2", "4", "Hồ sơ được số hóa", "feed", 0.80, 4.4, feed="public_services"),
        Indicator("4.3", "4", "Dữ liệu số hóa được tái sử dụng", "portal", 0.80, 4.4),
        Indicator("4.4", "4", "Hồ sơ số hóa liên kết kho dữ liệu công dân", "portal", 1.00, 4.4),
        Indicator("4.5", "4", "Khai thác dữ liệu dân cư", "portal", 1.00, 4.4),
        Indicator(
            "5.1", "5", "Phản ánh xử lý đúng hạn", "feed", 1.00, 6.0, feed="citizen_feedback", cases=True
        ),
        Indicator("5.2", "5", "Hài lòng với xử lý phản ánh", "feed", 0.90, 6.0, feed="citizen_feedback"),
        Indicator("5.3", "5", "Hài lòng với giải quyết TTHC", "portal", 1.00, 6.0),
    )
}

# A KPI of FEEDS.md that is, in a period, the same count as an indicator (targets on the KPI read
# its weekly history from the indicator's); ``public_services.on_time_rate`` has its own entry.
KPI_INDICATORS = {
    "public_services.online_rate": "3.3",
    "public_services.online_payment_rate": "3.6",
    "public_services.digitisation_rate": "4.2",
    "citizen_feedback.on_time_rate": "5.1",
}

FIELD_PREFIX = "_index766"
INDEX_META = f"{FIELD_PREFIX}_meta"  # {"as_of"}: the commit the indicators were computed at
MONTHS_KEPT = 3  # the current month and the two before it
WEEKS_KEPT = 26  # the current ISO week and the 25 before it (the scorecard's trend)

_MONTH = re.compile(r"^((?:19|20)[0-9]{2})-(0[1-9]|1[0-2])\Z")  # ASCII digits, 1900–2099
_WEEK = re.compile(r"^((?:19|20)[0-9]{2})-W(0[1-9]|[1-4][0-9]|5[0-3])\Z")


def index_field(unit: str, period: str) -> str:
    """The snapshot field of a unit's indicators in a period (``_``: not a KPI document)."""
    return f"{FIELD_PREFIX}|{unit}|{period}"


@dataclass(frozen=True, order=True)
class Period:
    """A month or an ISO week of local time, [start, end)."""

    start: datetime  # local midnight, aware
    end: datetime
    name: str

    @property
    def kind(self) -> str:
        return "week" if "-W" in self.name else "month"


class BadPeriod(ValueError):
    pass


def parse_period(name: str) -> Period:
    """``2026-11`` or ``2026-W48`` → its Period; BadPeriod says what is wrong."""
    if m := _MONTH.match(name):
        return month(int(m[1]), int(m[2]))
    if m := _WEEK.match(name):
        year, number = int(m[1]), int(m[2])
        try:
            monday = date.fromisocalendar(year, number, 1)
        except ValueError:
            raise BadPeriod(f"period {name!r}: {year} has no ISO week {number}") from None
        return week_of(monday)
    raise BadPeriod(f"period {name!r} is neither a month (2026-11) nor an ISO week (2026-W48)")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ)


def month(year: int, number: int) -> Period:
    start = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return Period(_midnight(start), _midnight(following), f"{year}-{number:02d}")


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    iso = monday.isocalendar()
    return Period(_midnight(monday), _midnight(monday + timedelta(days=7)), f"{iso.year}-W{iso.week:02d}")


def current_month(as_of: datetime) -> Period:
    local = as_of.astimezone(TZ)
    return month(local.year, local.month)


def current_week(as_of: datetime) -> Period:
    return week_of(as_of.astimezone(TZ).date())


def previous(period: Period) -> Period:
    """The period just before ``period``, of the same kind."""
    day = (period.start - timedelta(days=1)).date()
    return week_of(day) if period.kind == "week" else month(day.year, day.month)


def months_kept(as_of: datetime, count: int = MONTHS_KEPT) -> list[Period]:
    """The current month and the ``count - 1`` before it, oldest first."""
    found = [current_month(as_of)]
    while len(found) < count:
        found.append(previous(found[-1]))
    return found[::-1]


def weeks_kept(as_of: datetime, count: int = WEEKS_KEPT) -> list[Period]:
    """The current ISO week and the ``count - 1`` before it, oldest first."""
    found = [current_week(as_of)]
    while len(found) < count:
        found.append(previous(found[-1]))
    return found[::-1]


def period_end(period: Period, as_of: datetime) -> datetime:
    """Where the period's counting stops: its end, or ``as_of`` while it runs."""
    return min(period.end, as_of.astimezone(TZ))


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
