"""What the aggregator needs to know about each feed: schema, identity, version and KPIs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from ioc import kpis
from ioc.schemas import PUBLIC_SERVICES_SCHEMA

KpiFunction = Callable[[pl.LazyFrame, pl.LazyFrame, datetime], pl.LazyFrame]
SeriesFunction = Callable[..., pl.LazyFrame]


@dataclass(frozen=True)
class FeedSpec:
    """A record feed: the latest version of each ``key`` (by ``version``, then arrival) counts."""

    name: str
    title: str
    schema: pl.Schema
    key: str
    version: str
    kpis: tuple[kpis.Kpi, ...]
    compute: KpiFunction
    series: SeriesFunction


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
    ),
}
