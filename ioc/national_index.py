"""Feed §5 (``SCORECARD.md``): the national portal's published 766 index, one record per province
and period, and the snapshot documents the scorecard reads.

A record is one province's published figures for one period (an ISO week ``2026-W48`` or a month
``2026-11``): its total, its five groups' points and each indicator's rate and points, the groups
and indicators kept as canonical JSON text (sorted keys, no spaces). A republished period is a new
version of the same records (``published_at``, the portal's ``cong_bo_luc``): the latest wins.

The feed has no KPIs of FEEDS.md: its aggregator writes, beside ``_meta``, one ``_portal|<period>``
document per period (every province's latest figures) and ``_portal_periods`` (the periods held).
:func:`portal_periods` and :func:`portal_period` read them back.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any, cast

import polars as pl
import redis
from typing_extensions import TypedDict

from ioc import keys
from ioc.feeds import FeedSpec
from ioc.index766 import GROUPS, INDICATORS, Indicator, Period, month, parse_period, week_of
from ioc.kpis import TZ
from ioc.validate import Field

FEED = "national_index"
PORTAL_FIELD = "_portal"  # ``_portal|<period>``: "_", so the relay's deltas leave it out
PERIODS_FIELD = "_portal_periods"
WEEKS_HELD, MONTHS_HELD = 53, 13  # publications kept in the snapshot (the scorecard reads 26 weeks)
PROVINCE_CODE = re.compile(r"^\d{2}$")
RATE_FIELD, POINTS_FIELD = "ty_le", "diem"  # an indicator's figures, as the portal names them

# The portal's names; ``ky`` and ``cong_bo_luc`` are the response's, copied onto each entry by the
# connector. ``nhom`` and ``chi_so`` are objects the contract turns into canonical JSON text.
FIELDS = (
    Field("ky", "period"),
    Field("cong_bo_luc", "published_at", "time"),
    Field("ma_tinh", "province_code"),
    Field("ten_tinh", "province_name"),
    Field("tong_diem", "total", "float", low=0, high=100),
    Field("nhom", "groups"),
    Field("chi_so", "indicators"),
)
SCHEMA = pl.Schema(
    {
        "id": pl.String(),  # "<period>|<province_code>"
        "period": pl.String(),
        "published_at": pl.Datetime("us", "UTC"),
        "province_code": pl.String(),
        "province_name": pl.String(),
        "total": pl.Float64(),
        "groups": pl.String(),  # {"1": points, ..., "5": points}
        "indicators": pl.String(),  # {"1.1": {"points": p, "rate": r}, ...}
    }
)


# ---- the documents, as the scorecard reads them ---------------------------------------------


class IndicatorFigure(TypedDict):
    """An indicator as the portal published it: its rate (null: nothing to divide) and points."""

    rate: float | None
    points: float | None


class ProvinceFigures(TypedDict):
    name: str
    total: float
    groups: dict[str, float]  # "1".."5" -> points
    indicators: dict[str, IndicatorFigure]  # "1.1" -> figures


class PortalPeriod(TypedDict):
    """``_portal|<period>``: every province's latest figures, by 2025 province code; the period's
    ``published_at`` is the latest of its provinces' (a republication), ISO 8601 at +07:00."""

    period: str
    published_at: str
    provinces: dict[str, ProvinceFigures]


class PortalPeriods(TypedDict):
    """``_portal_periods``: the periods held, each kind oldest first."""

    weeks: list[str]
    months: list[str]


def portal_field(period: str) -> str:
    return f"{PORTAL_FIELD}|{period}"


def portal_periods(client: redis.Redis) -> PortalPeriods:
    """The weeks and months the portal has published and the feed holds (empty before any)."""
    raw = client.hget(keys.snapshot(FEED), PERIODS_FIELD)
    return cast(PortalPeriods, json.loads(raw)) if raw else {"weeks": [], "months": []}


def portal_period(client: redis.Redis, period: str) -> PortalPeriod | None:
    """The portal's figures of every province for ``period``, or None if not held."""
    raw = client.hget(keys.snapshot(FEED), portal_field(period))
    return cast(PortalPeriod, json.loads(raw)) if raw else None


# ---- the entries' nested objects: checked, and made canonical --------------------------------


def canonical(value: Any) -> str:
    """JSON text with sorted keys and no spaces: equal figures, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def number(value: Any) -> float | None:
    """A finite number (JSON number, or its text), else None; true and false are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        found = float(value)
    except (ValueError, OverflowError):  # not a number; an integer too large for a float
        return None
    return found if math.isfinite(found) else None


def groups_text(raw: Any) -> tuple[str | None, list[str]]:
    """``nhom`` as canonical text, or the problems: exactly groups 1–5, each 0..its points."""
    if not isinstance(raw, dict):
        return None, [f"nhom: not an object ({_shown(raw)})"]
    problems = [f"nhom: unknown group {g!r} (groups are 1–5)" for g in sorted(set(raw) - set(GROUPS))]
    problems += [f"nhom: group {g} missing" for g in GROUPS if g not in raw]
    groups: dict[str, float] = {}
    for group, (_label, top) in GROUPS.items():
        if group not in raw:
            continue
        value = number(raw[group])
        if value is None:
            problems.append(f"nhom.{group}: not a number ({_shown(raw[group])})")
        elif not 0 <= value <= top:
            problems.append(f"nhom.{group}: {value:g} outside [0, {top:g}]")
        else:
            groups[group] = value
    return (None, problems) if problems else (canonical(groups), [])


def indicators_text(raw: Any) -> tuple[str | None, list[str]]:
    """``chi_so`` as canonical text (``{"1.1": {"points", "rate"}}``), or the problems."""
    if not isinstance(raw, dict) or not raw:
        return None, [f"chi_so: not a non-empty object ({_shown(raw)})"]
    problems: list[str] = []
    figures: dict[str, IndicatorFigure] = {}
    for key, value in raw.items():
        indicator = INDICATORS.get(key)
        if indicator is None:
            problems.append(f"chi_so: unknown indicator {key!r}")
            continue
        found, wrong = _indicator(indicator, value)
        problems += wrong
        if found is not None:
            figures[key] = found
    return (None, problems) if problems else (canonical(figures), [])


def _indicator(indicator: Indicator, raw: Any) -> tuple[IndicatorFigure | None, list[str]]:
    where = f"chi_so.{indicator.id}"
    if not isinstance(raw, dict):
        return None, [f"{where}: not an object ({_shown(raw)})"]
    problems = [f"{where}: unknown field {k!r}" for k in sorted(set(raw) - {RATE_FIELD, POINTS_FIELD})]
    problems += [f"{where}.{k}: missing" for k in (RATE_FIELD, POINTS_FIELD) if k not in raw]
    rate, points = number(raw.get(RATE_FIELD)), number(raw.get(POINTS_FIELD))
    top = 1.0 if indicator.unit == "%" else math.inf  # 2.2 is a mean in days, shown and not scored
    if raw.get(RATE_FIELD) is not None and (rate is None or not 0 <= rate <= top):
        problems.append(f"{where}.{RATE_FIELD}: {_shown(raw[RATE_FIELD])} is not a rate from 0 to 1")
    if raw.get(POINTS_FIELD) is None and raw.get(RATE_FIELD) is not None and POINTS_FIELD in raw:
        problems.append(f"{where}.{POINTS_FIELD}: null with a rate")
    elif raw.get(POINTS_FIELD) is not None and (points is None or not 0 <= points <= 100):
        problems.append(f"{where}.{POINTS_FIELD}: {_shown(raw[POINTS_FIELD])} is not points from 0 to 100")
    return (None, problems) if problems else ({"rate": rate, "points": points}, [])


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)[:80]


def rule_points(indicator: Indicator, rate: float) -> float:
    """SCORECARD.md's rule at the indicator's default maximum: max × min(1, rate / full-points-at)."""
    if not indicator.scored or indicator.full_at is None:
        return 0.0
    return indicator.default_max * min(1.0, rate / indicator.full_at)


def next_period(period: Period) -> Period:
    """The period just after ``period``, of the same kind."""
    day = period.end.date()
    return week_of(day) if period.kind == "week" else month(day.year, day.month)


# ---- aggregation: no KPIs, the portal's documents --------------------------------------------


def no_kpis(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The feed has no KPIs of FEEDS.md: an empty KPI table."""
    return pl.LazyFrame(schema={"unit": pl.String(), "window": pl.String()})


def no_series(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, *, days: int) -> pl.LazyFrame:
    """Nor an hourly series: no measures, no rows."""
    return pl.LazyFrame(schema={"unit": pl.String(), "hour": pl.Datetime("us", "UTC")})


def portal_documents(
    spec: FeedSpec, table: pl.DataFrame, records: pl.LazyFrame, rollup: pl.DataFrame, as_of: datetime
) -> dict[str, str]:
    """``_portal|<period>`` for every period held, and ``_portal_periods``."""
    frame = records.sort("period", "province_code").collect()
    periods: dict[str, PortalPeriod] = {}
    newest: dict[str, datetime] = {}
    for row in frame.iter_rows(named=True):
        name, published = row["period"], row["published_at"]
        doc = periods.setdefault(name, {"period": name, "published_at": "", "provinces": {}})
        if name not in newest or published > newest[name]:
            newest[name] = published
            doc["published_at"] = published.astimezone(TZ).isoformat(timespec="seconds")
        doc["provinces"][row["province_code"]] = {
            "name": row["province_name"],
            "total": row["total"],
            "groups": json.loads(row["groups"]),
            "indicators": json.loads(row["indicators"]),
        }
    held: PortalPeriods = {  # the newest year or so; older publications leave the snapshot
        "weeks": sorted(p for p in periods if parse_period(p).kind == "week")[-WEEKS_HELD:],
        "months": sorted(p for p in periods if parse_period(p).kind == "month")[-MONTHS_HELD:],
    }
    kept = {*held["weeks"], *held["months"]}
    docs = {portal_field(n): json.dumps(doc, ensure_ascii=False) for n, doc in periods.items() if n in kept}
    docs[PERIODS_FIELD] = json.dumps(held)
    return docs


NATIONAL_INDEX = FeedSpec(
    name=FEED,
    title="Chỉ số 766 (Cổng quốc gia)",
    schema=SCHEMA,
    key="id",
    version="published_at",
    kpis=(),
    compute=no_kpis,
    series=no_series,
    measures=(),
    contract="ioc.feed_contracts:NationalIndexContract",
    documents=portal_documents,
)
