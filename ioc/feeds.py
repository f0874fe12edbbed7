"""What the aggregator needs to know about each feed: schema, identity, version and KPIs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import cast

import polars as pl

from ioc import cases, doses, hotspots, indicators, keys, kpis
from ioc.documents import KpiEntries, MapPoint
from ioc.kpis import Kpi
from ioc.ledger import Incremental
from ioc.medians import MedianBook
from ioc.people import PeopleBook
from ioc.registry import FEEDS, load
from ioc.schemas import (
    CITIZEN_FEEDBACK_SCHEMA,
    MOBILE_DATA_SCHEMA,
    PUBLIC_SERVICES_SCHEMA,
    VACCINATION_SCHEMA,
)
from ioc.snapshots import kpi_bodies, kpi_documents, kpi_entry, kpi_text
from ioc.state import Bucketing

KpiFunction = Callable[[pl.LazyFrame, pl.LazyFrame, datetime], pl.LazyFrame]
SeriesFunction = Callable[..., pl.LazyFrame]
DocumentsFunction = Callable[["FeedSpec", pl.DataFrame, pl.LazyFrame, pl.DataFrame, datetime], dict[str, str]]

POINTS_FIELD = "_points"
MAX_POINTS = 2000  # open reports drawn on the map, newest first


def standard_documents(
    spec: FeedSpec, table: pl.DataFrame, records: pl.LazyFrame, rollup: pl.DataFrame, as_of: datetime
) -> dict[str, str]:
    return kpi_documents(table, spec.kpis)


def feedback_documents(
    spec: FeedSpec, table: pl.DataFrame, records: pl.LazyFrame, rollup: pl.DataFrame, as_of: datetime
) -> dict[str, str]:
    """The KPI table plus each unit's hotspots, and the open reports as points for the map."""
    frame = records.select(
        "id", "created_at", "lat", "lon", "unit_code", "status", "severity", "deadline_at"
    ).collect()
    by_unit = hotspots.by_unit(hotspots.clusters(frame, as_of), rollup)
    docs = {}
    for name, body in kpi_bodies(table, spec.kpis).items():
        unit = name.split("|")[0]
        body["hotspots"] = {"value": by_unit.get(unit, [])}
        docs[name] = kpi_text(body)
    docs[POINTS_FIELD] = json.dumps(open_points(frame, as_of))
    return docs


def open_points(frame: pl.DataFrame, as_of: datetime) -> list[MapPoint]:
    """Open reports with a location: where, how urgent, and whether past their deadline."""
    points = (
        frame.filter(pl.col("status").is_in(kpis.OPEN_REPORT) & pl.col("lat").is_not_null())
        .sort("created_at", descending=True)
        .head(MAX_POINTS)
        .select(
            "id",
            "lat",
            "lon",
            "unit_code",
            "status",
            "severity",
            kpis.report_overdue(as_of.astimezone(UTC)).alias("overdue"),
        )
    )
    return cast(list[MapPoint], points.to_dicts())


def vaccination_documents(
    spec: FeedSpec, table: pl.DataFrame, records: pl.LazyFrame, rollup: pl.DataFrame, as_of: datetime
) -> dict[str, str]:
    """Per unit and window: doses over all vaccines, and ``by_vaccine`` with each one's KPIs (the
    table has a row of all vaccines for every unit and window)."""
    overall: dict[str, KpiEntries] = {}
    by_vaccine: dict[str, dict[str, KpiEntries]] = {}
    for row in table.iter_rows(named=True):
        name = keys.snapshot_field(row["unit"], row["window"])
        entries = {k.name: kpi_entry(k, row) for k in spec.kpis}
        if row["vaccine"] == doses.ALL_VACCINES:
            overall[name] = entries
        else:
            by_vaccine.setdefault(name, {})[row["vaccine"]] = entries
    return {
        name: kpi_text(
            {
                "by_vaccine": by_vaccine.get(name, {}),
                "doses": entries["doses"],
                "doses_by_dose_number": entries["doses_by_dose_number"],
            },
            ensure_ascii=False,
        )
        for name, entries in overall.items()
    }


@dataclass(frozen=True)
class SeriesPanel:
    """What a feed's time-series panel shows: its title and unit (Vietnamese, translated by the
    pages) and per measure its legend and colour role (``received`` or ``resolved``)."""

    title: str
    unit: str
    measures: tuple[tuple[str, str, str], ...]  # (measure, legend, colour role)


@dataclass(frozen=True)
class KpiParts:
    """KPIs a feed's documents also hold per part, under ``field`` (vaccination: per vaccine,
    ``by_vaccine/<vaccine>/<kpi>``): the rooms offer ``overall`` for the whole feed and ``kpis``
    for each part, ``optional`` ones only where the province has a value (the dropout of a
    single-dose vaccine), and the wall's scene of the feed adds each part's ``wall`` KPIs."""

    field: str
    overall: tuple[str, ...]
    kpis: tuple[str, ...]
    optional: tuple[str, ...] = ()
    wall: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sensitive:
    """Data about people, which public views protect (FEEDS.md; ``ioc.disclosure``): a unit whose
    ``guard`` count (people, or what stands for them), in a window or a day of its hourly series,
    is from 1 to k-1 shows none of ``figures`` (None: none of the feed's figures, as for
    location data). Health data also shows its percentages whole, and protects each part's
    people and dropout in families of their own."""

    guard: str
    figures: tuple[str, ...] | None = None
    health: bool = False


@dataclass(frozen=True)
class FeedSpec:
    """A record feed: the latest version of each ``key`` (by ``version``, then arrival) counts.

    Counter feeds are record feeds too, keyed by what identifies a delivery (a re-delivered row
    replaces itself instead of adding up).
    """

    name: str
    title: str
    schema: pl.Schema
    key: str
    version: str
    kpis: tuple[Kpi, ...]
    compute: KpiFunction
    series: SeriesFunction
    measures: tuple[str, ...]
    # "module:Class" of its connectors' Contract (``ioc.contracts``: validation, personal data,
    # the feed's own options), imported only where records come in.
    contract: str
    documents: DocumentsFunction = standard_documents
    bucketing: Bucketing | None = None
    cases: cases.CasesFunction | None = None  # the overdue work list per district, if the feed has one
    # What the screens show of the feed: the KPI a room's map opens on, the series panel, and
    # the wall scene's numbers as (KPI path, window), at most six.
    default_kpi: str = ""
    series_panel: SeriesPanel | None = None
    wall_numbers: tuple[tuple[str, str], ...] = ()
    has_points: bool = False  # its open records as points on the maps (``POINTS_FIELD``)
    series_decimals: int = 0  # of its series' numbers (the communes' 24-hour totals)
    parts: KpiParts | None = None
    sensitive: Sensitive | None = None  # what public views must protect
    # The indicators of the national 766 index it computes (``ioc.indicators``): per unit and kept
    # period, published with every snapshot as ``_index766|<unit>|<period>`` documents.
    indicators: KpiFunction | None = None
    # Its KPIs from partial sums kept per commune and day, updated by what each cycle changed
    # (``ioc.ledger``); None: computed from the whole state at every cycle (``compute``).
    incremental: Incremental | None = None
    # A counter feed's time after which its rows can no longer be re-delivered (and are dropped
    # from the state past ``aggregator.horizons_h``, their sums kept).
    horizon_column: str | None = None

    def kpi(self, name: str) -> Kpi | None:
        """The feed's KPI called ``name`` (a path's base name), if it has one."""
        return next((k for k in self.kpis if k.name == name), None)

    def buckets(self, count: int) -> Bucketing:
        return self.bucketing or Bucketing(self.key, count)

    @property
    def has_kpis(self) -> bool:
        """Whether the feed has KPIs of FEEDS.md (the rooms, cards and the KPI API show only such
        feeds; the national portal's index has none: its documents are the scorecard's)."""
        return bool(self.kpis)

    @property
    def whole_percent(self) -> bool:
        """Health data: public views show its percentages rounded to whole numbers (FEEDS.md)."""
        return self.sensitive is not None and self.sensitive.health


PUBLIC_SERVICES = FeedSpec(
    name="public_services",
    title="Dịch vụ công",
    schema=PUBLIC_SERVICES_SCHEMA,
    key="id",
    version="updated_at",
    kpis=kpis.PUBLIC_SERVICES_KPIS,
    compute=kpis.public_services_kpis,
    incremental=Incremental(kpis.PUBLIC_SERVICES_TIMED, kpis.public_services_finish),
    series=kpis.hourly_series,
    measures=("received", "resolved"),
    contract="ioc.feed_contracts:PublicServicesContract",
    cases=cases.overdue_dossiers,
    indicators=indicators.public_services_indicators,
    default_kpi="on_time_rate",
    series_panel=SeriesPanel(
        "Hồ sơ tiếp nhận và trả kết quả theo giờ, 7 ngày qua (toàn tỉnh)",
        "hồ sơ / giờ",
        (("received", "Tiếp nhận", "received"), ("resolved", "Đã trả kết quả", "resolved")),
    ),
    wall_numbers=(
        ("on_time_rate", "7d"),
        ("overdue_open", "7d"),
        ("received", "today"),
        ("resolved", "today"),
        ("online_rate", "7d"),
        ("avg_processing_days", "7d"),
    ),
)

CITIZEN_FEEDBACK = FeedSpec(
    name="citizen_feedback",
    title="Phản ánh hiện trường",
    schema=CITIZEN_FEEDBACK_SCHEMA,
    key="id",
    version="updated_at",
    kpis=kpis.CITIZEN_FEEDBACK_KPIS,
    compute=kpis.citizen_feedback_kpis,
    incremental=Incremental(
        kpis.CITIZEN_FEEDBACK_TIMED,
        kpis.citizen_feedback_finish,
        book=partial(MedianBook, kpis.CITIZEN_FEEDBACK_MEDIANS),
    ),
    series=kpis.citizen_feedback_series,
    measures=("new", "closed"),
    contract="ioc.feed_contracts:FeedbackContract",
    documents=feedback_documents,
    cases=cases.overdue_reports,
    indicators=indicators.citizen_feedback_indicators,
    default_kpi="overdue",
    has_points=True,
    series_panel=SeriesPanel(
        "Phản ánh mới và đã xử lý theo giờ, 7 ngày qua (toàn tỉnh)",
        "phản ánh / giờ",
        (("new", "Phản ánh mới", "received"), ("closed", "Đã xử lý", "resolved")),
    ),
    wall_numbers=(
        ("overdue", "7d"),
        ("open", "7d"),
        ("new", "today"),
        ("on_time_rate", "7d"),
        ("median_handling_hours", "7d"),
        ("satisfaction", "30d"),
    ),
)

MOBILE_DATA = FeedSpec(
    name="mobile_data",
    title="Dữ liệu di động",
    schema=MOBILE_DATA_SCHEMA,
    key="key",
    version="period_start",  # the same for every delivery of a row: the latest delivery wins
    kpis=kpis.MOBILE_DATA_KPIS,
    compute=kpis.mobile_data_kpis,
    incremental=Incremental(kpis.MOBILE_DATA_TIMED, kpis.mobile_data_finish, kpis.mobile_data_series_finish),
    horizon_column="period_start",
    series=kpis.mobile_data_series,
    measures=("traffic_gb", "subscribers"),  # the subscribers: what public views are guarded by
    contract="ioc.feed_contracts:MobileContract",
    bucketing=Bucketing("period_start", seconds=6 * 3600),
    default_kpi="traffic_per_capita_mb",
    series_decimals=1,
    series_panel=SeriesPanel(
        "Lưu lượng dữ liệu di động theo giờ, 7 ngày qua (toàn tỉnh)",
        "GB / giờ",
        (("traffic_gb", "Lưu lượng (GB)", "received"),),
    ),
    wall_numbers=(
        ("traffic_gb", "today"),
        ("traffic_per_capita_mb", "7d"),
        ("share_5g", "7d"),
        ("subscribers", "today"),
    ),
    sensitive=Sensitive("subscribers"),  # location data: every figure follows its subscribers
)

VACCINATION = FeedSpec(
    name="vaccination",
    title="Tiêm chủng",
    schema=VACCINATION_SCHEMA,
    key="id",
    version="updated_at",
    kpis=doses.VACCINATION_KPIS,
    compute=doses.vaccination_kpis,
    incremental=Incremental(doses.VACCINATION_TIMED, doses.vaccination_finish, book=PeopleBook),
    series=doses.vaccination_series,
    measures=("doses",),
    contract="ioc.feed_contracts:VaccinationContract",
    documents=vaccination_documents,
    default_kpi="doses",
    series_panel=SeriesPanel(
        "Mũi tiêm theo giờ, 7 ngày qua (toàn tỉnh)", "mũi / giờ", (("doses", "Mũi tiêm", "resolved"),)
    ),
    wall_numbers=(("doses", "today"), ("doses", "7d")),
    parts=KpiParts(
        "by_vaccine",
        overall=("doses",),
        kpis=("coverage_first_dose", "dropout_rate", "people_first_dose"),
        optional=("dropout_rate",),
        wall=("coverage_first_dose",),
    ),
    sensitive=Sensitive("doses", figures=("doses", "doses_by_dose_number"), health=True),
)


class RegisteredSpecs(Mapping[str, FeedSpec]):
    """Every registered feed's spec (``ioc.registry``), in the registry's order, each imported
    when first asked for: a spec's module may then import anything of the IOC, this one
    included, and a feed registered before its first use is found."""

    def __init__(self) -> None:
        self._loaded: dict[str, FeedSpec] = {}  # by "module:attribute"

    def __getitem__(self, name: str) -> FeedSpec:
        path = FEEDS[name].spec
        if path not in self._loaded:
            spec = load(path)
            if not isinstance(spec, FeedSpec) or spec.name != name:
                raise TypeError(f"ioc.registry: {name}: {path} is not the FeedSpec of {name!r}")
            self._loaded[path] = spec
        return self._loaded[path]

    def __contains__(self, name: object) -> bool:
        return name in FEEDS

    def __iter__(self) -> Iterator[str]:
        return iter(FEEDS)

    def __len__(self) -> int:
        return len(FEEDS)


FEED_SPECS = RegisteredSpecs()


def room_specs(shown: Mapping[str, FeedSpec]) -> dict[str, FeedSpec]:
    """The feeds the rooms show: those of ``shown`` with KPIs (the alerts of the others, the
    national portal's index gone stale, reach the rooms' tickers all the same); none configured
    yet, the first feed."""
    return {feed: spec for feed, spec in shown.items() if spec.has_kpis} or dict(list(FEED_SPECS.items())[:1])
