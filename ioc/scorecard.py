"""The leaders' scorecard (``SCORECARD.md``): the national 766 index scored for a unit and period,
its rank, the change since the previous period, what-if, and the drill-down of an indicator.

Nothing is computed here that an aggregator computes: the feed-computed indicators' counts are
the aggregators' ``_index766|<unit>|<period>`` documents (``ioc.indicators``), the portal's
figures the ``national_index`` feed's ``_portal|<period>`` documents. This module applies the
index's formulas (configuration: ``[scorecard]``) to them, the same formulas for a what-if.

A feed-computed indicator is live (``source: "feed"``, an estimate until the portal publishes);
a portal-only one takes the province's published rate of the period, or of the latest published
period of the same kind while the period runs. The province ranks among the 34 provinces of that
publication; a unit below the province ranks among its siblings by the same total (a district
among the districts before 2025, an area among the areas in 2025, a commune among its district's
or area's communes; the portal-only indicators are the province's, the same for every unit).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from ioc import keys
from ioc.config import Settings
from ioc.config_scorecard import ScorecardSettings
from ioc.documents import (
    DrilldownAnswer,
    DrilldownRow,
    GroupScore,
    IndicatorScore,
    Neighbour,
    PeriodsAnswer,
    PortalFigures,
    ScorecardAnswer,
    TrendPoint,
)
from ioc.feeds import FEED_SPECS
from ioc.index766 import (
    GROUPS,
    INDEX_META,
    INDICATORS,
    KPI_INDICATORS,
    BadPeriod,
    Period,
    current_month,
    current_week,
    index_field,
    months_kept,
    parse_period,
    previous,
    weeks_kept,
)
from ioc.national_index import FEED as PORTAL_FEED
from ioc.national_index import PERIODS_FIELD, portal_field
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable

WHAT_IF = re.compile(r"^(\d\.\d):([+-]?\d{1,7})$")


class BadRequest(ValueError):
    """A request the scorecard cannot answer: says what was wrong."""


Counts = dict[str, dict[str, float]]  # indicator -> {"numerator", "denominator"} (2.2: sum, count)
Portal = dict[str, Any]  # a `_portal|<period>` document


def live_feeds() -> list[str]:
    """The feeds whose commits change a scorecard: those counting indicators, and the portal's."""
    return [*(name for name, spec in FEED_SPECS.items() if spec.indicators is not None), PORTAL_FEED]


def data_now(reader: SnapshotReader) -> datetime:
    """The time the figures are as of: the older of the counting feeds' latest commits (the
    periods a scorecard offers follow the data, not the clock of whoever asks); now before any."""
    metas = reader.client.hmget  # one round trip per feed is plenty: two small reads
    found = []
    for feed in live_feeds()[:-1]:
        raw = metas(keys.snapshot(feed), [INDEX_META])[0]
        if raw is not None:
            found.append(datetime.fromisoformat(json.loads(raw)["as_of"]))
    return min(found).astimezone(UTC) if found else datetime.now(UTC)


def what_if_of(text: str | None) -> dict[str, int]:
    """``2.1:+120,3.3:-5`` → ``{"2.1": 120, "3.3": -5}``; BadRequest names the faulty part."""
    found: dict[str, int] = {}
    for part in filter(None, (text or "").split(",")):
        m = WHAT_IF.match(part.strip())
        if m is None:
            raise BadRequest(f"what_if: {part!r} is not <indicator>:<±count> (e.g. 2.1:+120)")
        indicator = INDICATORS.get(m[1])
        if indicator is None or indicator.source != "feed" or not indicator.scored:
            raise BadRequest(
                f"what_if: {m[1]!r} is not a scored indicator computed from the feeds ({_feed_ids()})"
            )
        found[m[1]] = found.get(m[1], 0) + int(m[2])
    return found


def _feed_ids() -> str:
    return ", ".join(i.id for i in INDICATORS.values() if i.source == "feed" and i.scored)


@dataclass
class _Reads:
    """Everything one answer reads, in one round trip."""

    counts: dict[tuple[str, str], Counts]  # (unit, period) -> both feeds' counts merged
    portals: dict[str, Portal]  # period -> portal document
    published: dict[str, list[str]]  # "weeks"/"months" -> published periods, oldest first
    as_of: str | None


def _read(reader: SnapshotReader, units: list[str], periods: list[str]) -> _Reads:
    fields = [index_field(u, p) for u in units for p in periods]
    counting = live_feeds()[:-1]
    with reader.client.pipeline(transaction=True) as pipe:
        for feed in counting:
            pipe.hmget(keys.snapshot(feed), [*fields, INDEX_META])
        pipe.hmget(keys.snapshot(PORTAL_FEED), [PERIODS_FIELD, *[portal_field(p) for p in periods]])
        answers = pipe.execute()
    counts: dict[tuple[str, str], Counts] = {}
    metas = []
    for raw in answers[: len(counting)]:
        metas.append(raw[-1])
        for (unit, period), doc in zip(((u, p) for u in units for p in periods), raw[:-1], strict=True):
            if doc is not None:
                counts.setdefault((unit, period), {}).update(json.loads(doc))
    portal_raw = answers[-1]
    published = json.loads(portal_raw[0]) if portal_raw[0] else {"weeks": [], "months": []}
    portals = {p: json.loads(doc) for p, doc in zip(periods, portal_raw[1:], strict=True) if doc is not None}
    as_ofs = [json.loads(m)["as_of"] for m in metas if m is not None]
    return _Reads(counts, portals, published, min(as_ofs) if as_ofs else None)


def _rate(entry: Mapping[str, float] | None, change: int = 0) -> tuple[float | None, int | None, int | None]:
    if entry is None or "denominator" not in entry:
        return None, None, None
    den = int(entry["denominator"])
    num = int(entry["numerator"])
    if den <= 0:
        return None, num, den
    num = min(den, max(0, num + change))
    return num / den, num, den


def _points(settings: ScorecardSettings, indicator: str, rate: float | None) -> float | None:
    scoring = settings.indicators[indicator]
    if rate is None:
        return None
    return scoring.max * min(1.0, rate / scoring.full_at)


class _Scorer:
    """Scores units and periods from one read."""

    def __init__(self, settings: Settings, reads: _Reads, province: str) -> None:
        self.settings = settings.scorecard
        self.reads = reads
        self.code = settings.scorecard.portal_code
        self.province = province

    def portal_for(self, period: Period) -> tuple[str, Portal] | None:
        """The publication a period's portal-only figures come from: its own, else the latest
        published one of the same kind before it."""
        kind = "weeks" if period.kind == "week" else "months"
        if period.name in self.reads.portals:
            return period.name, self.reads.portals[period.name]
        earlier = [
            p for p in self.reads.published.get(kind, []) if p < period.name and p in self.reads.portals
        ]
        return (earlier[-1], self.reads.portals[earlier[-1]]) if earlier else None

    def indicators(
        self, unit: str, period: Period, what_if: Mapping[str, int] | None = None
    ) -> dict[str, IndicatorScore]:
        counts = self.reads.counts.get((unit, period.name), {})
        portal = self.portal_for(period)
        ours = portal[1]["provinces"].get(self.code) if portal is not None else None
        scored: dict[str, IndicatorScore] = {}
        for ind in INDICATORS.values():
            published = (ours or {}).get("indicators", {}).get(ind.id) if ours is not None else None
            portal_figure: PortalFigures | None = None
            if published is not None and portal is not None and unit == self.province:
                portal_figure = {
                    "rate": published.get("rate"),
                    "points": published.get("points"),
                    "period": portal[0],
                    "published_at": portal[1].get("published_at"),
                }
            entry: IndicatorScore = {
                "label": ind.label,
                "group": ind.group,
                "source": ind.source,
                "rate": None,
                "points": None,
                "max": self.settings.indicators[ind.id].max if ind.scored else 0.0,
                "full_at": self.settings.indicators[ind.id].full_at if ind.scored else ind.full_at,
                "lost": None,
                "numerator": None,
                "denominator": None,
                "portal": portal_figure,
            }
            if ind.id == "2.2":
                days = counts.get("2.2")
                count = int(days["count"]) if days else 0
                entry["value"] = round(days["seconds"] / count / 86400, 2) if days and count else None
                entry["denominator"] = count
            elif ind.source == "feed":
                rate, num, den = _rate(counts.get(ind.id), (what_if or {}).get(ind.id, 0))
                entry["rate"], entry["numerator"], entry["denominator"] = rate, num, den
            elif published is not None:
                entry["rate"] = published.get("rate")
            if ind.scored:
                entry["points"] = _points(self.settings, ind.id, entry["rate"])
                if entry["points"] is not None:
                    entry["lost"] = entry["max"] - entry["points"]
            scored[ind.id] = entry
        return scored

    def groups(self, indicators: Mapping[str, IndicatorScore]) -> dict[str, GroupScore]:
        found: dict[str, GroupScore] = {}
        for group, (label, points) in GROUPS.items():
            members = [k for k, v in indicators.items() if v["group"] == group and INDICATORS[k].scored]
            have = [p for k in members if (p := indicators[k]["points"]) is not None]
            found[group] = {
                "label": label,
                "points": round(sum(have), 2) if have else None,
                "max": points,
                "missing": [k for k in members if indicators[k]["points"] is None],
            }
        return found

    def total(self, unit: str, period: Period, what_if: Mapping[str, int] | None = None) -> float | None:
        return _sum_points(self.indicators(unit, period, what_if))

    def complete_total(self, unit: str, period: Period) -> float | None:
        """The total only when every scored indicator the feeds compute has a figure (a trend of
        partial totals would fall wherever the feeds had nothing, as before the history began)."""
        indicators = self.indicators(unit, period)
        if any(
            v["points"] is None
            for k, v in indicators.items()
            if INDICATORS[k].source == "feed" and INDICATORS[k].scored
        ):
            return None
        return _sum_points(indicators)

    def band(self, total: float | None) -> tuple[str | None, str | None]:
        if total is None:
            return None, None
        band = next(b for b in self.settings.bands if total >= b.min)
        return band.label, band.label_en or band.label

    def official(self, period: str) -> PortalFigures | None:
        """The province's published total and rank of a period."""
        doc = self.reads.portals.get(period)
        if doc is None or self.code not in doc["provinces"]:
            return None
        provinces = doc["provinces"]
        total = provinces[self.code]["total"]
        return {
            "period": period,
            "published_at": doc.get("published_at"),
            "total": total,
            "rank": 1 + sum(1 for k, v in provinces.items() if k != self.code and v["total"] > total),
            "of": len(provinces),
        }


def _rounded(indicators: dict[str, IndicatorScore]) -> dict[str, IndicatorScore]:
    """Points and points lost as shown: 4 decimals (the total adds up the unrounded ones)."""
    for entry in indicators.values():
        for name in ("points", "lost"):
            value = entry[name]
            if value is not None:
                entry[name] = round(value, 4)
    return indicators


def _sum_points(indicators: Mapping[str, IndicatorScore]) -> float | None:
    """The total: every scored indicator's points (unrounded) added up, then rounded to 2 decimals;
    None when no indicator has a figure."""
    points = [p for p in (v["points"] for v in indicators.values()) if p is not None]
    return round(sum(points), 2) if points else None


def _neighbours(
    ours: float | None, others: Mapping[str, tuple[str, float | None]]
) -> tuple[int | None, int, Neighbour | None, Neighbour | None]:
    """Rank among ``others`` (code -> (name, total)) and ourselves, and the one just above (the
    lowest total above ours) and just below (the highest at or below ours)."""
    known = {k: v for k, v in others.items() if v[1] is not None}
    of = len(known) + 1
    if ours is None:
        return None, of, None, None
    above = [(cast(float, t), k, n) for k, (n, t) in known.items() if cast(float, t) > ours]
    below = [(cast(float, t), k, n) for k, (n, t) in known.items() if cast(float, t) <= ours]
    up: Neighbour | None = None
    down: Neighbour | None = None
    if above:
        total, code, name = min(above)
        up = {"code": code, "name": name, "total": total, "gap": round(total - ours, 2)}
    if below:
        total, code, name = max(below)
        down = {"code": code, "name": name, "total": total, "lead": round(ours - total, 2)}
    return 1 + len(above), of, up, down


def _competitors(
    scorer: _Scorer, units: UnitTable, unit: str, period: Period, portal: tuple[str, Portal] | None
) -> dict[str, tuple[str, float | None]]:
    if unit == units.province:
        if portal is None:
            return {}
        return {
            code: (entry.get("name", code), entry.get("total"))
            for code, entry in portal[1]["provinces"].items()
            if code != scorer.code
        }
    return {
        code: (units.name(code), scorer.total(code, period))
        for code in _level_units(units, unit)
        if code != unit
    }


def _level_units(units: UnitTable, unit: str) -> list[str]:
    if unit == units.province:
        return [unit]
    return units.children(units.parent(unit) or units.province)  # its siblings: no one sees past them


def _period(name: str | None, as_of: datetime) -> Period:
    if not name:
        return current_month(as_of)
    try:
        period = parse_period(name)
    except BadPeriod as exc:
        raise BadRequest(str(exc)) from None
    kept = {p.name for p in [*months_kept(as_of), *weeks_kept(as_of)]}
    if period.name not in kept:
        raise BadRequest(
            f"period {name!r} is not kept: the current and the {len(months_kept(as_of)) - 1} previous "
            f"months, the current and the {len(weeks_kept(as_of)) - 1} previous ISO weeks"
        )
    return period


def scorecard(
    reader: SnapshotReader,
    units: UnitTable,
    settings: Settings,
    unit: str,
    period: str | None = None,
    what_if: Mapping[str, int] | None = None,
    *,
    now: datetime | None = None,
) -> ScorecardAnswer:
    """The index of ``unit`` in ``period`` (default: the current month), with ``what_if`` applied;
    periods are kept relative to ``now`` (default: :func:`data_now`)."""
    now = (now or data_now(reader)).astimezone(UTC)
    if unit not in set(units.codes):
        raise BadRequest(f"unknown unit {unit!r} in scheme {units.scheme}")
    chosen = _period(period, now)
    before = previous(chosen)
    weeks = weeks_kept(now)
    wanted = sorted({chosen.name, before.name, *(w.name for w in weeks), *_recent_published(reader)})
    scoped = _level_units(units, unit)
    reads = _read(reader, scoped, wanted)
    scorer = _Scorer(settings, reads, units.province)
    indicators = scorer.indicators(unit, chosen, what_if)
    groups = scorer.groups(indicators)
    total = _sum_points(indicators)
    portal = scorer.portal_for(chosen)
    rank, of, above, below = _neighbours(total, _competitors(scorer, units, unit, chosen, portal))
    prev_total = scorer.total(unit, before)
    prev_rank = _neighbours(prev_total, _competitors(scorer, units, unit, before, scorer.portal_for(before)))[
        0
    ]
    band, band_en = scorer.band(total)
    lost = sorted(
        (k for k, v in indicators.items() if v["lost"] is not None),
        key=lambda k: (-cast(float, indicators[k]["lost"]), k),
    )
    answer: ScorecardAnswer = {
        "unit": unit,
        "unit_name": units.name(unit),
        "period": chosen.name,
        "as_of": reads.as_of,
        "total": total,
        "band": band,
        "band_en": band_en,
        "rank": rank,
        "of": of if rank is not None or of > 1 else None,
        "previous": {"period": before.name, "total": prev_total, "rank": prev_rank},
        "change": {
            "total": round(total - prev_total, 2) if total is not None and prev_total is not None else None,
            "rank": prev_rank - rank if rank is not None and prev_rank is not None else None,
        },
        "above": above,
        "below": below,
        "groups": groups,
        "indicators": _rounded(indicators),
        "lost": lost,
        "portal": _latest_official(scorer, chosen) if unit == units.province else None,
        "trend": _trend(scorer, unit, weeks) if unit == units.province else _unit_trend(scorer, unit, weeks),
        "what_if": dict(what_if) if what_if else None,
    }
    return answer


def _recent_published(reader: SnapshotReader) -> list[str]:
    raw = reader.client.hget(keys.snapshot(PORTAL_FEED), PERIODS_FIELD)
    if raw is None:
        return []
    published = json.loads(raw)
    return [*published.get("months", [])[-4:], *published.get("weeks", [])[-27:]]


def _latest_official(scorer: _Scorer, period: Period) -> PortalFigures | None:
    kind = "weeks" if period.kind == "week" else "months"
    for name in reversed(scorer.reads.published.get(kind, [])):
        if name <= period.name and (found := scorer.official(name)) is not None:
            return found
    return None


def _trend(scorer: _Scorer, unit: str, weeks: list[Period]) -> list[TrendPoint]:
    points: list[TrendPoint] = []
    for week in weeks:
        doc = scorer.reads.portals.get(week.name)
        totals = [v["total"] for v in doc["provinces"].values()] if doc else []
        official = scorer.official(week.name)
        points.append(
            {
                "period": week.name,
                "start": week.start.date().isoformat(),
                "total": official["total"] if official else None,
                "national_mean": round(sum(totals) / len(totals), 2) if totals else None,
                "estimate": scorer.complete_total(unit, week),
            }
        )
    return points


def _unit_trend(scorer: _Scorer, unit: str, weeks: list[Period]) -> list[TrendPoint]:
    return [
        {
            "period": w.name,
            "start": w.start.date().isoformat(),
            "total": None,
            "national_mean": None,
            "estimate": scorer.complete_total(unit, w),
        }
        for w in weeks
    ]


def drilldown(
    reader: SnapshotReader,
    units: UnitTable,
    settings: Settings,
    indicator: str,
    period: str | None,
    parent: str,
    *,
    now: datetime | None = None,
) -> DrilldownAnswer:
    """A feed-computed indicator for each unit below ``parent``, the most points lost first."""
    now = (now or data_now(reader)).astimezone(UTC)
    ind = INDICATORS.get(indicator)
    if ind is None or ind.source != "feed":
        raise BadRequest(
            f"indicator {indicator!r} is not computed from the feeds; these are: {_feed_ids()}, 2.2"
        )
    if parent not in set(units.codes):
        raise BadRequest(f"unknown unit {parent!r} in scheme {units.scheme}")
    children = units.children(parent)
    if not children:
        raise BadRequest(f"unit {parent!r} has no units below it")
    chosen = _period(period, now)
    reads = _read(reader, children, [chosen.name])
    scorer = _Scorer(settings, reads, units.province)
    rows: list[DrilldownRow] = []
    for code in children:
        entry = scorer.indicators(code, chosen)[indicator]
        rows.append(
            {
                "unit": code,
                "name": units.name(code),
                "rate": entry["rate"] if ind.scored else entry.get("value"),
                "numerator": entry["numerator"],
                "denominator": entry["denominator"],
                "points": entry["points"],
                "max": entry["max"],
                "lost": entry["lost"],
            }
        )
    if ind.scored:
        rows.sort(key=lambda r: (r["lost"] is None, -(r["lost"] or 0.0), r["unit"]))
    else:  # 2.2, days: the slowest first
        rows.sort(key=lambda r: (r["rate"] is None, -(r["rate"] or 0.0), r["unit"]))
    level = units.frame.filter(units.frame["code"] == children[0])["level"][0]
    return {
        "indicator": indicator,
        "label": ind.label,
        "period": chosen.name,
        "as_of": reads.as_of,
        "parent": parent,
        "level": str(level),
        "units": rows,
        "case_feed": ind.feed if ind.cases else None,
    }


def periods(now: datetime | None = None) -> PeriodsAnswer:
    """The periods a scorecard can be asked for, newest first."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "months": [p.name for p in reversed(months_kept(now))],
        "weeks": [p.name for p in reversed(weeks_kept(now))],
        "current_month": current_month(now).name,
        "current_week": current_week(now).name,
    }


def weekly_rates(
    reader: SnapshotReader,
    units: UnitTable,
    metric: str,
    unit: str,
    as_of: datetime,
    *,
    portal_code: str = ScorecardSettings().portal_code,
) -> list[tuple[Period, float | None]]:
    """A metric's rate in each kept ISO week, oldest first (the last: the current, incomplete week):
    an indicator of the feeds, a rate KPI with a weekly history, or (the province only) a portal
    indicator as published."""
    weeks = weeks_kept(as_of)
    key = KPI_INDICATORS.get(metric) or (
        "on_time_rate" if metric == "public_services.on_time_rate" else metric
    )
    if key not in INDICATORS and key != "on_time_rate":
        raise BadRequest(f"unknown metric {metric!r}")
    reads = _read(reader, [unit], [w.name for w in weeks])
    found: list[tuple[Period, float | None]] = []
    for week in weeks:
        if key == "on_time_rate" or INDICATORS[key].source == "feed":
            rate = _rate(reads.counts.get((unit, week.name), {}).get(key))[0]
        else:
            doc = reads.portals.get(week.name)
            entry = doc["provinces"].get(portal_code) if doc else None
            rate = (
                (entry or {}).get("indicators", {}).get(key, {}).get("rate")
                if unit == units.province
                else None
            )
        found.append((week, rate))
    return found
