"""The province's own targets (``[targets.<name>]``, SCORECARD.md "Targets"): which one a panel
colours a KPI against, and where each stands: its current value, the straight-line trend over the
last 12 complete ISO weeks, the date that trend reaches the goal, and whether that is in time.

:func:`target_for` is what every panel asks (tiles, maps, rankings, the wall, the cards); nothing
else holds a target. :func:`project` is pure; :func:`targets_answer` reads the weekly rates
(``ioc.scorecard.weekly_rates``) and projects each target, for ``GET /api/v1/targets``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from ioc import scorecard
from ioc.config import ConfigError, Settings
from ioc.config_scorecard import Target
from ioc.documents import TargetsAnswer, TargetState, TargetStatus
from ioc.index766 import KPI_INDICATORS
from ioc.kpis import TZ
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable

TREND_WEEKS = 12  # complete ISO weeks the trend is drawn through


def metrics_of(feed: str, kpi: str) -> set[str]:
    """The metric names a target on this KPI may use: ``<feed>.<kpi>``, and the indicator of the
    index that counts the same thing in a period (``public_services.online_rate``: ``3.3``)."""
    name = f"{feed}.{kpi}"
    return {name, KPI_INDICATORS[name]} if name in KPI_INDICATORS else {name}


def _lineage(unit: str, units: UnitTable) -> list[str]:
    """``unit``, then each unit it lies in, up to the province."""
    parents = dict(zip(units.frame["code"], units.frame["parent_code"], strict=True))
    chain = [unit]
    while (up := parents.get(chain[-1])) is not None and up not in chain:
        chain.append(up)
    return chain if chain[-1] == units.province else [*chain, units.province]


def target_for(
    targets: Mapping[str, Target], feed: str, kpi: str, unit: str, units: UnitTable
) -> Target | None:
    """The target ``unit``'s panels colour ``feed``'s ``kpi`` against: one on that KPI (by its
    ``<feed>.<kpi>`` name or its indicator) set for the unit itself, else for the nearest unit it
    lies in (its district), else the province's; the first in configuration order among equals.
    None: the KPI has no target there."""
    names = metrics_of(feed, kpi)
    found = [t for t in targets.values() if t.metric in names]
    province = units.province
    if all(t.unit in (None, province) for t in found):  # the usual case: no unit's own
        return found[0] if found else None
    for code in _lineage(unit, units):
        for target in found:
            if (target.unit or province) == code:
                return target
    return None


@dataclass(frozen=True)
class Goals:
    """The configured targets as the pages read them: per feed, KPI and unit, the goal to colour
    against (:func:`target_for`). Built once by the app and handed to every page; each answer is
    kept (a few thousand at most), since a ranking asks for every unit on every render."""

    targets: Mapping[str, Target]
    units: UnitTable
    _known: dict[tuple[str, str, str], float | None] = field(default_factory=dict, init=False, compare=False)

    def __post_init__(self) -> None:
        codes = set(self.units.codes)  # the settings are checked before the unit table is read
        for name, target in self.targets.items():
            if target.unit is not None and target.unit not in codes:
                scheme = self.units.scheme
                raise ConfigError(f"targets.{name}.unit: no unit {target.unit!r} in scheme {scheme}")

    def goal(self, feed: str, kpi: str, unit: str) -> float | None:
        key = (feed, kpi, unit)
        if key not in self._known:
            found = target_for(self.targets, feed, kpi, unit, self.units)
            self._known[key] = None if found is None else found.goal
        return self._known[key]


# ---- projection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """Where a target stands: the latest weekly value, the trend's slope per week, the date its
    line reaches the goal (None: flat, falling or too few weeks) and the status."""

    current: float | None
    slope_per_week: float | None
    reaches_on: date | None
    status: TargetStatus
    missed_on: date | None = None


def project(
    weeks: Sequence[tuple[date, float | None]], goal: float, deadline: date, today: date
) -> Projection:
    """Project a target from the weekly values of the last complete ISO weeks, oldest first
    (each week's Monday and its value; None: nothing counted that week).

    The trend is the least-squares line through the weeks that have a value, each placed at its
    Monday; it reaches the goal on the first day its line is at the goal (in the past when the
    line is above a goal the latest week missed; none once met). ``met``: the latest value is
    at or above the goal; ``missed``: the deadline has passed without that; ``on_track``: the line reaches the
    goal by the deadline; ``off_track``: it does not, or there is no trend to tell."""
    known = [(start, value) for start, value in weeks if value is not None]
    current = known[-1][1] if known else None
    slope = reaches = None
    if len(known) >= 2:
        origin = known[0][0]
        x = [(start - origin).days / 7 for start, _value in known]
        fit = statistics.linear_regression(x, [value for _start, value in known])
        slope = fit.slope
        if slope > 0:
            days = (goal - fit.intercept) / slope * 7
            reaches = origin + timedelta(days=math.ceil(round(days, 6)))  # 28.0000001 is day 28
    if current is not None and current >= goal:
        return Projection(current, slope, None, "met")  # reached: no date to project
    if today > deadline:
        return Projection(current, slope, reaches, "missed", missed_on=deadline)
    on_track = reaches is not None and reaches <= deadline
    return Projection(current, slope, reaches, "on_track" if on_track else "off_track")


# ---- the API's answer ---------------------------------------------------------------------


def _as_of(today: date, now: datetime) -> datetime:
    """The end of ``today`` (local), or ``now`` while today runs."""
    end = datetime.combine(today + timedelta(days=1), time(), TZ)
    return min(end, now.astimezone(TZ))


def _state(
    name: str, target: Target, unit: str, weekly: list[tuple[date, str, float | None]], today: date
) -> TargetState:
    """One target of the answer, projected from its complete weeks (Monday, period, value)."""
    seen = project([(start, value) for start, _period, value in weekly], target.goal, target.deadline, today)
    return {
        "name": name,
        "metric": target.metric,
        "unit": unit,
        "label": target.label,
        "label_en": target.label_en or target.label,
        "goal": target.goal,
        "deadline": target.deadline.isoformat(),
        "current": seen.current,
        "slope_per_week": seen.slope_per_week,
        "reaches_on": None if seen.reaches_on is None else seen.reaches_on.isoformat(),
        "status": seen.status,
        "missed_on": None if seen.missed_on is None else seen.missed_on.isoformat(),
        "weeks": [
            {"period": period, "start": start.isoformat(), "value": value} for start, period, value in weekly
        ],
    }


def targets_answer(
    reader: SnapshotReader, units: UnitTable, settings: Settings, today: date, *, now: datetime | None = None
) -> TargetsAnswer:
    """``GET /api/v1/targets``: every configured target, in configuration order, with its last
    12 complete ISO weeks and its projection as of the end of ``today`` (``now`` while it runs)."""
    as_of = _as_of(today, now or datetime.now(UTC))
    found = []
    for name, target in settings.targets.items():
        unit = target.unit or units.province
        rates = scorecard.weekly_rates(
            reader, units, target.metric, unit, as_of, portal_code=settings.scorecard.portal_code
        )
        complete = rates[:-1][-TREND_WEEKS:]  # the last is the current, incomplete week
        weekly = [(period.start.date(), period.name, value) for period, value in complete]
        found.append(_state(name, target, unit, weekly, today))
    return {"as_of": as_of.isoformat(), "targets": found}
