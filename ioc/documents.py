"""The documents the pipeline writes to Redis and the relay and the API send to screens, as types.

Every one is JSON in Redis (a hash field, or the ``d`` field of a delta), except the alert log's
events and a connector's health hash, whose values Redis keeps as strings. The wire format is what
the API's clients and ``realtime.js`` read; these types describe it and never change it.
``tests/test_documents.py`` validates what a real aggregator run writes against each of them.

Light on purpose (no Polars, no pydantic): the relay imports it. ``typing_extensions``' TypedDict,
not ``typing``'s: pydantic validates only that one on Python 3.11.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal, NotRequired, TypeAlias, cast

from typing_extensions import TypedDict, TypeIs

WINDOWS = ("today", "7d", "30d", "mtd", "ytd")  # every KPI document is per unit and one of these

# ---- KPI documents: the snapshot hash, one field per ``<unit>|<window>`` -------------------------


class Hotspot(TypedDict):
    """A cluster of field reports (``ioc.hotspots``): its centre, its size, the unit most are in."""

    lat: float
    lon: float
    count: int
    unit: str


DoseBreakdown: TypeAlias = dict[str, int]  # doses by dose number: {"1": 120, "2": 80}
# JSON numbers: ``float`` takes the ints too (a count is an int, a rate or a mean a float).
KpiValue: TypeAlias = float | list[Hotspot] | DoseBreakdown | None


class KpiEntry(TypedDict):
    """One KPI of one unit and window: its value, and for a rate what it divides."""

    value: KpiValue
    numerator: NotRequired[float | None]
    denominator: NotRequired[float | None]


KpiEntries: TypeAlias = dict[str, KpiEntry]  # by KPI name (FEEDS.md)

BY_VACCINE = "by_vaccine"


class VaccinationKpis(TypedDict):
    """Vaccination's KPIs: the doses over every vaccine, and each vaccine's KPIs under
    ``by_vaccine`` (in the same object as the entries: the API and ``realtime.js`` read it so)."""

    by_vaccine: dict[str, KpiEntries]
    doses: KpiEntry
    doses_by_dose_number: KpiEntry


Kpis: TypeAlias = KpiEntries | VaccinationKpis


class KpiDocument(TypedDict):
    kpis: Kpis


def kpis_of(raw: str | bytes) -> Kpis:
    """The KPIs of a KPI document as stored."""
    document: KpiDocument = json.loads(raw)
    return document["kpis"]


def has_parts(kpis: Kpis) -> TypeIs[VaccinationKpis]:
    """Whether the KPIs hold parts (vaccination's vaccines) beside their entries."""
    return BY_VACCINE in kpis


def entry_of(kpis: Kpis, name: str) -> KpiEntry | None:
    """The entry of the KPI ``name`` at the top of a document (not a part's), if it has one."""
    if name == BY_VACCINE:
        return None
    return cast(Mapping[str, KpiEntry], kpis).get(name)


class SnapshotMeta(TypedDict):
    """The snapshot's ``_meta`` field: when it was computed, of how many records, the newest
    record's time and the first hour of the series."""

    as_of: str
    records: int
    newest_record_at: str | None
    series_start: str


# ---- beside the KPI documents in the snapshot hash ------------------------------------------


class DossierCase(TypedDict):
    """An overdue dossier of a work list (``keys.case_list``; ``ioc.cases``).

    ``unit_code`` is the record key (``ioc.units.record_key``: ``2025:<code>`` for a 2025 code); in
    the API's answer (``ioc.cases.said_case``) it is the plain code, and ``unit_scheme`` its scheme.
    """

    id: str
    procedure: str | None
    sector: str | None
    agency: str | None
    unit_code: str
    unit_scheme: NotRequired[Literal["pre2025", "2025"]]
    status: str
    opened_at: str
    deadline_at: str


class ReportCase(TypedDict):
    """An overdue field report of a work list, with the first 160 characters of its text
    (``unit_code`` and ``unit_scheme`` as in :class:`DossierCase`)."""

    id: str
    sector: str
    severity: str
    unit_code: str
    unit_scheme: NotRequired[Literal["pre2025", "2025"]]
    status: str
    opened_at: str
    deadline_at: str
    text: str | None


Case: TypeAlias = DossierCase | ReportCase


class MapPoint(TypedDict):
    """An open field report on the map (``_points``; ``ioc.feeds.open_points``)."""

    id: str
    lat: float
    lon: float | None
    unit_code: str
    status: str
    severity: str
    overdue: bool | None  # None: accepted, without a deadline


ExtraDocument: TypeAlias = list[Case] | list[MapPoint]  # the snapshot's fields starting with "_"

# ---- hourly series: the series hash, one field per unit --------------------------------------
# Flat on the wire: ``start``, ``step_s`` and one list per measure ({"start": ..., "step_s": 3600,
# "received": [...], "resolved": [...]}). A TypedDict cannot say "and lists under any other key"
# (PEP 728's ``extra_items``, which mypy does not support yet), so code reads the measures with
# ``series_values`` and builds the flat form with ``series_document``.


class SeriesDocument(TypedDict):
    start: str  # the first hour, ISO 8601 with the province's offset
    step_s: int


class SeriesTail(TypedDict):
    """The last hours of a series that changed, in a delta: their times, then one list per measure."""

    t: list[str]


def series_values(doc: SeriesDocument | SeriesTail) -> dict[str, list[float]]:
    """The measures of a series document or tail, by name."""
    return {k: cast(list[float], v) for k, v in doc.items() if k != "t" and isinstance(v, list)}


def series_document(start: str, step_s: int, values: Mapping[str, list[float]]) -> SeriesDocument:
    return cast(SeriesDocument, {"start": start, "step_s": step_s, **values})


def tail_document(times: list[str], values: Mapping[str, list[float]]) -> SeriesTail:
    return cast(SeriesTail, {"t": times, **values})


# ---- alerts (``ioc.alerts``, ``ioc.alert_store``) ---------------------------------------------


class AlertCondition(TypedDict):
    """A rule broken at a unit, as the rules find it: data, never prose (the pages word it)."""

    id: str  # "<rule>|<unit>"
    rule: str
    feed: str
    unit: str
    unit_name: str
    kind: Literal["kpi", "cases", "stale"]
    kpi: str | None
    window: str | None  # a kpi rule's
    comparison: Literal["below", "above"]
    value: float  # a stale feed's: minutes since its last success, -1: never
    threshold: float
    silenced_until: NotRequired[str]  # a silence matches it: no message until then (UTC)


class Alert(AlertCondition):
    """An active alert: since when (UTC), and who acknowledged it and when, if anyone has. The
    alerts hash keeps it without the acknowledgement, which lives in a hash of its own."""

    since: str
    acked_by: NotRequired[str]
    acked_at: NotRequired[str]
    ack_comment: NotRequired[str]


class AlertAck(TypedDict):
    acked_by: str
    acked_at: str
    ack_comment: NotRequired[str]  # what the person wrote (redacted), if anything


class SaidAlert(Alert):
    """An alert as the API answers it: with its text in Vietnamese and in English."""

    text: str
    text_en: str


class AlertLogEvent(TypedDict):
    """One event of a feed's alert log (a stream: every value a string)."""

    event: Literal["raised", "cleared", "acknowledged"]
    id: str
    at: str
    by: NotRequired[str]  # who acknowledged it
    comment: NotRequired[str]  # and what they wrote (redacted)
    rule: str
    unit: str
    value: str
    threshold: str
    since: NotRequired[str]  # when the occurrence was raised (entries of 2026-12-05 on)


# ---- deltas: what each commit changed, for the relay -----------------------------------------


class DeltaDocument(TypedDict):
    """A commit's changes (``meta`` None: only an acknowledgement); ``alerts``, when present, is
    the feed's whole active list, which changed."""

    feed: str
    meta: SnapshotMeta | None
    kpis: dict[str, Kpis]  # by "<unit>|<window>"
    series: dict[str, SeriesTail]  # by unit
    alerts: NotRequired[list[Alert]]


# ---- connectors' health --------------------------------------------------------------------


class ConnectorHealthHash(TypedDict, total=False):
    """A connector's health hash as read (decoded): times ISO 8601, counters as decimal text."""

    last_poll_at: str
    last_success_at: str
    newest_record_at: str
    last_error: str
    last_error_at: str
    last_batch_records: str
    per_minute: str  # JSON: [[minute since the epoch, records], ...], the last hour
    records: str
    dead_letters: str
    polls: str
    errors: str


def health_hash(raw: Mapping[bytes, bytes]) -> ConnectorHealthHash:
    return cast(ConnectorHealthHash, {k.decode(): v.decode() for k, v in raw.items()})


class FeedHealth(TypedDict):
    """A feed's health as the relay pushes it: its connectors' last success and last error."""

    last_success_at: str | None
    last_error_at: str | None
    last_error: str | None


# ---- the relay's messages to screens --------------------------------------------------------


class FeedSnapshot(TypedDict):
    meta: SnapshotMeta | None
    kpis: dict[str, Kpis]  # by "<unit>|<window>"
    series: dict[str, SeriesDocument]  # by unit
    alerts: list[Alert]


class SnapshotMessage(TypedDict):
    """A room's first message: what it subscribed to, as of now."""

    type: Literal["snapshot"]
    server_time: str
    feeds: dict[str, FeedSnapshot]
    health: dict[str, FeedHealth]


class DeltaMessage(TypedDict):
    """A delta as one group of rooms sees it: their units and series only, their alerts only."""

    type: Literal["delta"]
    feed: str
    meta: SnapshotMeta | None
    kpis: dict[str, Kpis]
    series: dict[str, SeriesTail]
    alerts: NotRequired[list[Alert]]
    server_time: str


class HealthMessage(TypedDict):
    type: Literal["health"]
    server_time: str
    feeds: dict[str, FeedHealth]


class AsOf(TypedDict):
    as_of: str | None


class NoticeSnapshot(TypedDict):
    """A public screen's first message: when each feed's figures are from, nothing else."""

    type: Literal["changed"]
    server_time: str
    feeds: dict[str, AsOf]


class Notice(TypedDict):
    """A public screen's message when a feed has new figures (it reads them from the cards)."""

    type: Literal["changed"]
    feed: str
    as_of: str | None
    server_time: str


# ---- the KPI API's answers (ioc.api) -------------------------------------------------------


class KpiAnswer(TypedDict):
    """``GET /api/v1/kpis`` (FEEDS.md "The KPI API"); with ``vaccine=``, that vaccine's KPIs."""

    feed: str
    unit: str
    scheme: str
    window: str
    vaccine: NotRequired[str]
    as_of: str
    at: NotRequired[str]  # with ``?at=``: the instant asked for (``as_of``: the snapshot shown)
    approximate: bool
    approximate_reason: NotRequired[str]
    kpis: Kpis


class CasesAnswer(TypedDict):
    """``GET /api/v1/cases``: a unit's whole work list."""

    feed: str
    unit: str
    as_of: str
    count: int
    cases: list[Case]


# ---- the scorecard's answers (ioc.scorecard, SCORECARD.md) -------------------------------------


class PortalFigures(TypedDict, total=False):
    """Figures as the national portal published them: an indicator's (rate, points) or the
    province's (total, rank, of), with the period and when it was published."""

    period: str
    published_at: str | None
    rate: float | None
    points: float | None
    total: float | None
    rank: int | None
    of: int | None


class IndicatorScore(TypedDict):
    """One indicator of a scorecard: its rate and points by the index's formula (``source``: the
    feeds' live count or the portal's published rate) and the portal's own figures."""

    label: str
    group: str
    source: str
    rate: float | None
    points: float | None
    max: float
    full_at: float | None
    lost: float | None
    numerator: int | None
    denominator: int | None
    portal: PortalFigures | None
    value: NotRequired[float | None]  # 2.2: mean processing days (shown, not scored)


class GroupScore(TypedDict):
    label: str
    points: float | None
    max: float
    missing: list[str]  # its indicators without a figure (a zero denominator, nothing published)


class Neighbour(TypedDict, total=False):
    code: str
    name: str
    total: float
    gap: float  # the one above: how many points more it has
    lead: float  # the one below: how many points fewer


class PreviousScore(TypedDict):
    period: str
    total: float | None
    rank: int | None


class ScoreChange(TypedDict):
    total: float | None
    rank: int | None  # positive: moved up


class TrendPoint(TypedDict):
    period: str
    start: str
    total: float | None  # official, as published
    national_mean: float | None
    estimate: float | None  # ours, from the feeds and the portal's other figures


class ScorecardAnswer(TypedDict):
    """``GET /api/v1/index766`` (SCORECARD.md), with what the screens show besides."""

    unit: str
    unit_name: str
    period: str
    as_of: str | None
    total: float | None
    band: str | None
    band_en: str | None
    rank: int | None
    of: int | None
    previous: PreviousScore
    change: ScoreChange
    above: Neighbour | None
    below: Neighbour | None
    groups: dict[str, GroupScore]
    indicators: dict[str, IndicatorScore]
    lost: list[str]
    portal: PortalFigures | None
    trend: list[TrendPoint]
    what_if: dict[str, int] | None


class DrilldownRow(TypedDict):
    unit: str
    name: str
    rate: float | None
    numerator: int | None
    denominator: int | None
    points: float | None
    max: float
    lost: float | None


class DrilldownAnswer(TypedDict):
    indicator: str
    label: str
    period: str
    as_of: str | None
    parent: str
    level: str
    units: list[DrilldownRow]
    case_feed: str | None


class PeriodsAnswer(TypedDict):
    months: list[str]
    weeks: list[str]
    current_month: str
    current_week: str


# ---- the targets' answer (ioc.targets, SCORECARD.md "Targets") ----------------------------------

TargetStatus: TypeAlias = Literal["met", "missed", "on_track", "off_track"]


class TargetWeek(TypedDict):
    period: str  # the ISO week, "2026-W48"
    start: str  # its Monday
    value: float | None  # None: nothing counted that week


class TargetState(TypedDict):
    """One of the province's targets (``[targets.<name>]``) and its projection: the latest weekly
    value, the trend's slope per week over the complete weeks, the day that trend reaches the
    goal, and the status (``missed``: the deadline, ``missed_on``, passed without the goal)."""

    name: str
    metric: str
    unit: str
    label: str
    label_en: str
    goal: float
    deadline: str
    current: float | None
    slope_per_week: float | None
    reaches_on: str | None
    status: TargetStatus
    missed_on: str | None
    weeks: list[TargetWeek]


class TargetsAnswer(TypedDict):
    """``GET /api/v1/targets``: every target, in configuration order."""

    as_of: str
    targets: list[TargetState]
