"""The case lists behind the overdue counts: the duty officer's work list.

For every unit above the communes (the districts and the province), every overdue dossier and
every overdue field report filed in it, newest breach first. The lists use the very predicates
the ``overdue_open`` and ``overdue`` KPIs count, so a list and its count never disagree; they are
never truncated.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl

from ioc import kpis

CASES_FIELD = "_cases"
CasesFunction = Callable[[pl.LazyFrame, pl.DataFrame, datetime], dict[str, str]]


COMMUNE_CODE_LENGTH = 5


def cases_field(unit: str) -> str:
    """The snapshot field holding a unit's overdue cases."""
    return f"{CASES_FIELD}|{unit}"


def overdue_dossiers(records: pl.LazyFrame, rollup: pl.DataFrame, as_of: datetime) -> dict[str, str]:
    return _by_unit(
        records.filter(kpis.dossier_overdue(as_of.astimezone(UTC))).select(
            "id",
            pl.col("procedure_code").alias("procedure"),
            "sector",
            pl.col("agency_code").alias("agency"),
            "unit_code",
            "status",
            pl.col("received_at").alias("opened_at"),
            "deadline_at",
        ),
        rollup,
    )


def overdue_reports(records: pl.LazyFrame, rollup: pl.DataFrame, as_of: datetime) -> dict[str, str]:
    return _by_unit(
        records.filter(kpis.report_overdue(as_of.astimezone(UTC))).select(
            "id",
            "sector",
            "severity",
            "unit_code",
            "status",
            pl.col("created_at").alias("opened_at"),
            "deadline_at",
            pl.col("text").str.slice(0, 160),  # already redacted by the connector
        ),
        rollup,
    )


def _by_unit(
    cases: pl.LazyFrame, rollup: pl.DataFrame, *, times: tuple[str, ...] = ("opened_at", "deadline_at")
) -> dict[str, str]:
    """One document per unit that has communes below it; an empty list where nothing is overdue,
    so a list that emptied replaces the one before it."""
    # GSO codes: province 2 digits, district 3, commune 5 (in both schemes; the 2025 scheme has
    # no districts, so its only list is the province's).
    parents = sorted(u for u in rollup["unit"].unique().to_list() if len(u) < COMMUNE_CODE_LENGTH)
    frame = (
        cases.join(rollup.lazy().select("code", "unit"), left_on="unit_code", right_on="code")
        .filter(pl.col("unit").is_in(parents))
        .sort(["deadline_at", "id"], descending=[True, False])
        .with_columns(pl.col(list(times)).dt.to_string("%Y-%m-%dT%H:%M:%SZ"))
        .collect()
    )
    grouped = {  # written by Polars: a province with 100,000 overdue cases is not a Python loop
        str(unit): part.drop("unit").write_json()
        for (unit,), part in frame.partition_by("unit", as_dict=True).items()
    }
    return {cases_field(unit): grouped.get(unit, "[]") for unit in parents}
