"""SLA deadlines in working hours with the Vietnamese calendar (FEEDS.md §2), on the edge cases."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from ioc.sla import DEFAULT_SLA_HOURS, TZ, WorkCalendar

CAL = WorkCalendar.vietnam()


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=TZ)


def test_urgent_report_accepted_friday_afternoon_runs_into_monday() -> None:
    """Friday 16:30 + 4 h: half an hour on Friday, three and a half on Monday morning."""
    assert CAL.deadline(at("2026-11-20", "16:30"), 4) == at("2026-11-23", "10:30")


def test_normal_report_from_friday_skips_the_weekend_and_vietnam_cultural_day() -> None:
    """40 h from Friday 20/11/2026 16:30; Tuesday 24/11 is Vietnam Cultural Day (from 2026)."""
    assert CAL.deadline(at("2026-11-20", "16:30"), DEFAULT_SLA_HOURS["binh_thuong"]) == at(
        "2026-11-30", "16:30"
    )


def test_tet_2026_break() -> None:
    """Accepted Friday 13/02/2026 15:00: the Tết break (14–22/02) is skipped; due Monday 23/02 09:00."""
    assert CAL.deadline(at("2026-02-13", "15:00"), 4) == at("2026-02-23", "09:00")


def test_substituted_day_off_and_make_up_saturday() -> None:
    """Monday 31/08/2026 is a day off in exchange for Saturday 22/08, which is worked."""
    assert CAL.deadline(at("2026-08-28", "16:00"), 4) == at("2026-09-03", "10:00")  # 31/08, 1–2/09 off
    swapped = WorkCalendar.vietnam(extra_workdays=[date(2026, 8, 22)])
    assert swapped.deadline(at("2026-08-21", "16:00"), 4) == at("2026-08-22", "10:00")
    assert CAL.deadline(at("2026-08-21", "16:00"), 4) == at("2026-08-24", "10:00")  # without the swap


def test_four_hour_urgent_report_across_the_lunch_break() -> None:
    """09:30 + 4 h: 1.5 h before lunch, 2.5 h after it: 15:30, not 13:30."""
    assert CAL.deadline(at("2026-11-23", "09:30"), 4) == at("2026-11-23", "15:30")


@pytest.mark.parametrize(
    ("accepted", "due"),
    [
        (at("2026-11-23", "11:30"), at("2026-11-23", "17:00")),  # at lunch: the clock starts at 13:00
        (at("2026-11-23", "20:00"), at("2026-11-25", "11:00")),  # at night, before Cultural Day
        (at("2026-11-23", "07:00"), at("2026-11-23", "11:00")),  # exactly one morning
        (at("2026-11-21", "09:00"), at("2026-11-23", "11:00")),  # a Saturday: Monday morning
    ],
)
def test_clock_starts_at_the_next_office_interval(accepted: datetime, due: datetime) -> None:
    assert CAL.deadline(accepted, 4) == due


def test_extra_days_off_and_other_office_hours_are_configuration() -> None:
    cal = WorkCalendar.vietnam(
        intervals=[(time(7, 30), time(11, 30)), (time(13, 30), time(17, 0))],
        extra_days_off=[date(2026, 11, 23)],
    )
    assert cal.deadline(at("2026-11-20", "16:30"), 4) == at("2026-11-25", "11:00")


def test_working_hours_is_the_inverse_of_deadline() -> None:
    start = at("2026-02-12", "10:15")
    for hours in (0.5, 4, 40, 80):
        assert CAL.working_hours(start, CAL.deadline(start, hours)) == pytest.approx(hours)
    assert CAL.working_hours(at("2026-11-23", "09:30"), at("2026-11-23", "14:00")) == 2.5
    assert CAL.working_hours(at("2026-11-23", "14:00"), at("2026-11-23", "09:30")) == 0


def test_bad_calendars_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        WorkCalendar.vietnam(intervals=[(time(7), time(12)), (time(11), time(17))])
    with pytest.raises(ValueError, match="empty"):
        WorkCalendar.vietnam(intervals=[(time(12), time(12))])
    with pytest.raises(ValueError, match="negative"):
        CAL.deadline(at("2026-11-23", "09:30"), -1)
