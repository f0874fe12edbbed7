"""Working time in Tây Ninh's offices, and the SLA deadlines of field reports (FEEDS.md §2).

Working time is the office intervals (default [07:00, 11:00) and [13:00, 17:00), local time) of
working days: Monday to Friday, minus Vietnamese public holidays (the ``holidays`` package's VN
calendar, substituted days included) and configured extra days off, plus configured make-up
working days (the Saturdays the government swaps for a bridge day off, which the package does
not list). A deadline is the instant at which the working time since acceptance reaches the SLA.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ioc import schemas
from ioc.config import ConfigError

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OFFICE_HOURS = ((time(7), time(11)), (time(13), time(17)))
DEFAULT_SLA_HOURS = {"khan": 4.0, "binh_thuong": 40.0, "phuc_tap": 80.0}
SEARCH_DAYS = 3 * 366  # a calendar with no working day in three years is a configuration mistake


@dataclass(frozen=True)
class WorkCalendar:
    """Office intervals and working days; ``deadline`` and ``working_hours`` in local time."""

    intervals: tuple[tuple[time, time], ...] = OFFICE_HOURS
    days_off: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    public_holidays: Any = field(default_factory=lambda: holidays.country_holidays("VN"), compare=False)

    def __post_init__(self) -> None:
        for start, end in self.intervals:
            if not start < end:
                raise ValueError(f"office interval {start}–{end} is empty")
        ordered = sorted(self.intervals)
        if any(a[1] > b[0] for a, b in pairwise(ordered)):
            raise ValueError(f"office intervals overlap: {ordered}")

    @classmethod
    def vietnam(
        cls,
        *,
        intervals: Iterable[tuple[time, time]] = OFFICE_HOURS,
        extra_days_off: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
    ) -> WorkCalendar:
        return cls(tuple(sorted(intervals)), frozenset(extra_days_off), frozenset(extra_workdays))

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return day.weekday() < 5 and day not in self.days_off and day not in self.public_holidays

    def periods(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Office periods from ``start`` on, the first one cut at ``start``."""
        local = start.astimezone(TZ)
        day = local.date()
        for _ in range(SEARCH_DAYS):
            if self.is_workday(day):
                for begin, end in self.intervals:
                    lo, hi = datetime.combine(day, begin, TZ), datetime.combine(day, end, TZ)
                    if hi > local:
                        yield max(lo, local), hi
            day += timedelta(days=1)
        raise ValueError(f"no working time within {SEARCH_DAYS} days of {local:%d/%m/%Y}")

    def deadline(self, start: datetime, hours: float) -> datetime:
        """The instant at which the working time since ``start`` reaches ``hours``."""
        if hours < 0:
            raise ValueError(f"an SLA cannot be negative ({hours} h)")
        remaining = timedelta(hours=hours)
        for lo, hi in self.periods(start):
            if remaining <= hi - lo:
                return lo + remaining
            remaining -= hi - lo
        raise AssertionError("periods() ends by raising")  # pragma: no cover

    def working_hours(self, start: datetime, end: datetime) -> float:
        """Working hours between two instants (0 if ``end`` is not after ``start``)."""
        total = timedelta()
        for lo, hi in self.periods(start):
            if lo >= end:
                break
            total += min(hi, end) - lo
        return total.total_seconds() / 3600


class FeedbackOptions(BaseModel):
    """How field reports are handled: SLA matrix, office hours, days off, and the free text."""

    model_config = ConfigDict(extra="forbid")

    sla_hours: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_HOURS),
        description="Working hours allowed per `muc_do` (khan, binh_thuong, phuc_tap).",
    )
    office_hours: list[tuple[time, time]] = Field(
        default_factory=lambda: list(OFFICE_HOURS),
        description='Office intervals of a working day, local time, e.g. [["07:00", "11:00"], '
        '["13:00", "17:00"]].',
    )
    extra_days_off: list[date] = Field(
        default_factory=list, description="Days off besides the public holidays (e.g. a bridge day)."
    )
    extra_workdays: list[date] = Field(
        default_factory=list, description="Weekend days worked to make up for a bridge day."
    )
    text: Literal["redacted", "drop"] = Field(
        "redacted",
        description="`noi_dung`: stored with citizen ids, phone numbers and names removed, or not at all.",
    )

    @field_validator("sla_hours")
    @classmethod
    def _every_severity(cls, value: dict[str, float]) -> dict[str, float]:
        missing = sorted(set(schemas.REPORT_SEVERITIES) - set(value))
        unknown = sorted(set(value) - set(schemas.REPORT_SEVERITIES))
        if missing or unknown:
            raise ValueError(
                f"needs exactly {', '.join(schemas.REPORT_SEVERITIES)} (missing {missing}, unknown {unknown})"
            )
        if any(h <= 0 for h in value.values()):
            raise ValueError("every SLA must be more than 0 hours")
        return value

    def calendar(self) -> WorkCalendar:
        try:
            return WorkCalendar.vietnam(
                intervals=self.office_hours,
                extra_days_off=self.extra_days_off,
                extra_workdays=self.extra_workdays,
            )
        except ValueError as exc:
            raise ConfigError(f"office_hours: {exc}") from None
