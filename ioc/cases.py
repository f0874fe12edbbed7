"""The case lists behind the overdue counts: the duty officer's work list.

For every unit above the communes (the districts and the province), every overdue dossier and
every overdue field report filed in it, newest breach first. The lists use the very predicates
the ``overdue_open`` and ``overdue`` KPIs count, so a list and its count never disagree; they are
never truncated. A case's ``unit_code`` is its record key (``ioc.units.record_key``); the API says
it as the plain code and its scheme (:func:`said_case`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import polars as pl

from ioc import kpis
from ioc.documents import Case
from ioc.units import key_code

CASES_FIELD = "_cases"
CasesFunction = Callable[[pl.LazyFrame, pl.DataFrame, datetime], dict[str, str]]


def cases_field(unit: str) -> str:
    """The snapshot field holding a unit's overdue cases."""
    return f"{CASES_FIELD}|{unit}"


def said_case(case: Case) -> Case:
    """A case as the API says it: ``unit_code`` the plain code, ``unit_scheme`` its scheme (codes
    are reused between schemes: 25459 is old Phường 3 and new Phường Tân Ninh)."""
    scheme, code = key_code(case["unit_code"])
    return cast(Case, {**case, "unit_code": code, "unit_scheme": scheme})


def overdue_dossiers(records: pl.LazyFrame, rollup: pl.DataFrame, as_of: datetime) -> dict[str, str]:
    """Each unit's overdue dossiers, as JSON lists of ``ioc.documents.DossierCase``."""
    return lists_by_unit(
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
    """Each unit's overdue field reports, as JSON lists of ``ioc.documents.ReportCase``."""
    return lists_by_unit(
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


def lists_by_unit(
    cases: pl.LazyFrame, rollup: pl.DataFrame, *, times: tuple[str, ...] = ("opened_at", "deadline_at")
) -> dict[str, str]:
    """One document per unit that has communes below it; an empty list where nothing is overdue,
    so a list that emptied replaces the one before it."""
    # The province and its districts or areas (an area's code may be a province's own, any length).
    parents = sorted(rollup.filter(pl.col("unit_level") != "commune")["unit"].unique().to_list())
    columns = cases.collect_schema().names()
    as_text = [pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%SZ") if c in times else pl.col(c) for c in columns]
    lists = (  # each case written as JSON once by Polars, then joined into each of its units' lists
        cases.select("unit_code", "deadline_at", "id", pl.struct(as_text).struct.json_encode().alias("json"))
        .join(rollup.lazy().select("code", "unit"), left_on="unit_code", right_on="code")
        .filter(pl.col("unit").is_in(parents))
        .group_by("unit")
        .agg(pl.col("json").sort_by(["deadline_at", "id"], descending=[True, False]).str.join(","))
        .collect()
    )
    grouped = dict(zip(lists["unit"].to_list(), lists["json"].to_list(), strict=True))
    return {cases_field(unit): f"[{grouped.get(unit, '')}]" for unit in parents}
