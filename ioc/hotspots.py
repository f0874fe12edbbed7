"""Hotspots of field reports (FEEDS.md §2): DBSCAN, 100 m radius, at least 3 reports, 30 days.

Distances are great-circle (scikit-learn's haversine metric on a ball tree), so the radius means
100 m on the ground anywhere in the province. A cluster's unit is the unit most of its reports
were placed in; it counts for that unit and every ancestor, like a record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import numpy as np
import polars as pl

from ioc.documents import Hotspot

EARTH_RADIUS_M = 6_371_008.8
RADIUS_M = 100.0
MIN_REPORTS = 3
DAYS = 30
MAX_PER_UNIT = 50  # the most crowded clusters, for the document and the map


def clusters(records: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """One row per cluster: lat, lon (the centre), count and unit, most reports first."""
    as_of = as_of.astimezone(UTC)
    points = records.filter(
        pl.col("created_at").is_between(as_of - timedelta(days=DAYS), as_of)
        & pl.col("lat").is_not_null()
        & pl.col("lon").is_not_null()
    ).select("lat", "lon", "unit_code")
    empty = pl.DataFrame(schema={"lat": pl.Float64, "lon": pl.Float64, "count": pl.Int64, "unit": pl.String})
    if points.height < MIN_REPORTS:
        return empty
    # imported here, not at the top: scikit-learn takes seconds to load, and every process that
    # reads the feed registry (the relay, the connectors, the other feeds' aggregators) would pay it
    from sklearn.cluster import DBSCAN

    radians = np.radians(points.select("lat", "lon").to_numpy())
    labels = DBSCAN(
        eps=RADIUS_M / EARTH_RADIUS_M, min_samples=MIN_REPORTS, metric="haversine", algorithm="ball_tree"
    ).fit_predict(radians)
    found = points.with_columns(pl.Series("cluster", labels)).filter(pl.col("cluster") >= 0)
    if found.height == 0:
        return empty
    return (
        found.group_by("cluster")
        .agg(
            pl.col("lat").mean().round(6),
            pl.col("lon").mean().round(6),
            pl.len().cast(pl.Int64).alias("count"),
            pl.col("unit_code").mode().sort().first().alias("unit"),
        )
        .sort(["count", "lat", "lon"], descending=[True, False, False])
        .select("lat", "lon", "count", "unit")
    )


def by_unit(found: pl.DataFrame, rollup: pl.DataFrame) -> dict[str, list[Hotspot]]:
    """Each unit's clusters (its own and its descendants'), most reports first."""
    joined = found.join(
        rollup.select("code", pl.col("unit").alias("for_unit")), left_on="unit", right_on="code"
    )
    out: dict[str, list[Hotspot]] = {}
    for row in joined.iter_rows(named=True):
        out.setdefault(row.pop("for_unit"), []).append(cast(Hotspot, row))
    return {u: rows[:MAX_PER_UNIT] for u, rows in out.items()}
