"""What the aggregator needs to know about each feed: schema, identity, version and KPIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ioc import cases, doses, hotspots, keys, kpis
from ioc.schemas import (
    CITIZEN_FEEDBACK_SCHEMA,
    MOBILE_DATA_SCHEMA,
    PUBLIC_SERVICES_SCHEMA,
    VACCINATION_SCHEMA,
)
from ioc.snapshots import kpi_bodies, kpi_documents, kpi_entry
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
        docs[name] = json.dumps({"kpis": body})
    docs[POINTS_FIELD] = json.dumps(open_points(frame, as_of))
    return docs


def open_points(frame: pl.DataFrame, as_of: datetime) -> list[dict[str, Any]]:
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
    return points.to_dicts()


def vaccination_documents(
    spec: FeedSpec, table: pl.DataFrame, records: pl.LazyFrame, rollup: pl.DataFrame, as_of: datetime
) -> dict[str, str]:
    """Per unit and window: doses over all vaccines, and ``by_vaccine`` with each one's KPIs."""
    docs: dict[str, dict[str, Any]] = {}
    for row in table.iter_rows(named=True):
        name = keys.snapshot_field(row["unit"], row["window"])
        body = docs.setdefault(name, {"by_vaccine": {}})
        entries = {k.name: kpi_entry(k, row) for k in spec.kpis}
        if row["vaccine"] == doses.ALL_VACCINES:
            body["doses"] = entries["doses"]
            body["doses_by_dose_number"] = entries["doses_by_dose_number"]
        else:
            body["by_vaccine"][row["vaccine"]] = entries
    return {name: json.dumps({"kpis": body}, ensure_ascii=False) for name, body in docs.items()}


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
    kpis: tuple[kpis.Kpi, ...]
    compute: KpiFunction
    series: SeriesFunction
    measures: tuple[str, ...]
    documents: DocumentsFunction = standard_documents
    bucketing: Bucketing | None = None
    cases: cases.CasesFunction | None = None  # the overdue work list per district, if the feed has one

    def buckets(self, count: int) -> Bucketing:
        return self.bucketing or Bucketing(self.key, count)


FEED_SPECS: dict[str, FeedSpec] = {
    "public_services": FeedSpec(
        name="public_services",
        title="Dịch vụ công",
        schema=PUBLIC_SERVICES_SCHEMA,
        key="id",
        version="updated_at",
        kpis=kpis.PUBLIC_SERVICES_KPIS,
        compute=kpis.public_services_kpis,
        series=kpis.hourly_series,
        measures=("received", "resolved"),
        cases=cases.overdue_dossiers,
    ),
    "citizen_feedback": FeedSpec(
        name="citizen_feedback",
        title="Phản ánh hiện trường",
        schema=CITIZEN_FEEDBACK_SCHEMA,
        key="id",
        version="updated_at",
        kpis=kpis.CITIZEN_FEEDBACK_KPIS,
        compute=kpis.citizen_feedback_kpis,
        series=kpis.citizen_feedback_series,
        measures=("new", "closed"),
        documents=feedback_documents,
        cases=cases.overdue_reports,
    ),
    "mobile_data": FeedSpec(
        name="mobile_data",
        title="Dữ liệu di động",
        schema=MOBILE_DATA_SCHEMA,
        key="key",
        version="period_start",  # the same for every delivery of a row: the latest delivery wins
        kpis=kpis.MOBILE_DATA_KPIS,
        compute=kpis.mobile_data_kpis,
        series=kpis.mobile_data_series,
        measures=("traffic_gb", "subscribers"),  # the subscribers: what public views are guarded by
        bucketing=Bucketing("period_start", seconds=6 * 3600),
    ),
    "vaccination": FeedSpec(
        name="vaccination",
        title="Tiêm chủng",
        schema=VACCINATION_SCHEMA,
        key="id",
        version="updated_at",
        kpis=doses.VACCINATION_KPIS,
        compute=doses.vaccination_kpis,
        series=doses.vaccination_series,
        measures=("doses",),
        documents=vaccination_documents,
    ),
}
