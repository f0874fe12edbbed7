"""Vaccination KPIs (FEEDS.md §4) as pure Polars: doses, people, coverage and dropout per vaccine."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from ioc.kpis import Kpi, Timed, hourly_counts, rate, timed_sums, units_by_window

VACCINATION_KPIS = (
    Kpi("doses", "count", "Mũi tiêm", "mũi"),
    Kpi("doses_by_dose_number", "breakdown", "Mũi tiêm theo mũi thứ", "mũi"),
    Kpi("people_first_dose", "count", "Người đã tiêm (từ trước đến nay)", "người"),
    Kpi("coverage_first_dose", "rate", "Độ bao phủ (dân số 2019)", "%", "higher"),
    Kpi("dropout_rate", "rate", "Tỷ lệ bỏ mũi (mũi 1 → mũi 3)", "%", "lower"),
)
THREE_DOSE_VACCINES = ("DPT-VGB-Hib",)
ALL_VACCINES = "*"


def doses_and_split(counts: pl.LazyFrame, *keys: str) -> pl.LazyFrame:
    """Doses per unit, window and ``keys``, and the same split by dose number (in dose order)."""
    return counts.group_by("unit", "window", *keys).agg(
        pl.col("n").sum().alias("doses"),
        pl.struct(pl.col("dose_number").alias("dose"), pl.col("n").alias("doses"))
        .sort_by("dose_number")
        .alias("doses_by_dose_number"),
    )


# FEEDS.md §4: each dose record adds one dose of its vaccine and number, when it was given.
VACCINATION_TIMED = (
    Timed("given_at", {"n": pl.col("given_at").is_not_null()}, by=("vaccine", "dose_number")),
)
PEOPLE = ("people_first_dose", "dose1", "dose3")


def people_by_unit(records: pl.LazyFrame, rollup: pl.LazyFrame) -> pl.LazyFrame:
    """Per unit and vaccine, all time: the distinct people with a dose, with a first dose and with
    a third (a person counts for each unit their records count for). Units without a record of
    the vaccine have no row."""
    person = pl.col("person")
    return (
        records.join(rollup, left_on="unit_code", right_on="code")
        .group_by("unit", "vaccine")
        .agg(
            person.n_unique().alias("people_first_dose"),
            person.filter(pl.col("dose_number") == 1).n_unique().alias("dose1"),
            person.filter(pl.col("dose_number") == 3).n_unique().alias("dose3"),
        )
        .with_columns(pl.col(PEOPLE).cast(pl.Int64))
    )


def with_people(summed: pl.LazyFrame, people: pl.LazyFrame) -> pl.LazyFrame:
    """The doses' sums per unit, window, vaccine and dose number, and below them the people per
    unit and vaccine (their ``window`` null), as :func:`vaccination_finish` takes them."""
    return pl.concat([summed, people], how="diagonal_relaxed")


def vaccination_kpis(
    records: pl.LazyFrame,
    rollup: pl.LazyFrame,
    as_of: datetime,
    *,
    three_dose: tuple[str, ...] = THREE_DOSE_VACCINES,
) -> pl.LazyFrame:
    """Per unit, window and vaccine (and ``*`` for all): the KPIs of FEEDS.md §4.

    ``doses_by_dose_number`` is a list of {dose, doses}; people counts ignore the window.
    """
    as_of = as_of.astimezone(UTC)
    summed = with_people(
        timed_sums(records, rollup, as_of, VACCINATION_TIMED), people_by_unit(records, rollup)
    )
    return vaccination_finish(summed, rollup, as_of, three_dose=three_dose)


def vaccination_finish(
    summed: pl.LazyFrame,
    rollup: pl.LazyFrame,
    as_of: datetime,
    *,
    three_dose: tuple[str, ...] = THREE_DOSE_VACCINES,
) -> pl.LazyFrame:
    """The KPIs of FEEDS.md §4 from the doses' sums and the people (:func:`with_people`). The
    vaccines shown are those with a record in the province."""
    as_of = as_of.astimezone(UTC)
    split = ["window", "vaccine", "dose_number"]
    by_dose = summed.filter(pl.col("window").is_not_null() & (pl.col("n") > 0)).select(
        "unit", *split, pl.col("n").cast(pl.Int64)
    )
    people = summed.filter(pl.col("window").is_null()).select("unit", "vaccine", *PEOPLE)
    all_vaccines = by_dose.group_by("unit", "window", "dose_number").agg(pl.col("n").sum())
    per_vaccine = doses_and_split(by_dose, "vaccine")
    overall = doses_and_split(all_vaccines.with_columns(pl.lit(ALL_VACCINES).alias("vaccine")), "vaccine")
    vaccines = people.select("vaccine").unique()
    grid = units_by_window(rollup, as_of).join(
        pl.concat([vaccines, pl.LazyFrame({"vaccine": [ALL_VACCINES]})]), how="cross"
    )
    population = rollup.select("unit", "unit_pop").unique()
    three = pl.col("vaccine").is_in(list(three_dose))
    return (
        grid.join(
            pl.concat([per_vaccine, overall]),
            on=["unit", "window", "vaccine"],
            how="left",
        )
        .join(people, on=["unit", "vaccine"], how="left")
        .join(population, on="unit", how="left")
        .with_columns(pl.col("doses", *PEOPLE).fill_null(0).cast(pl.Int64))
        .with_columns(
            (pl.col("dose1") - pl.col("dose3")).alias("dropped"),
            pl.col("unit_pop").fill_null(0).cast(pl.Int64).alias("population"),
        )
        .select(
            "unit",
            "window",
            "vaccine",
            "doses",
            "doses_by_dose_number",
            "people_first_dose",
            *rate("people_first_dose", "population", "coverage_first_dose"),
            *[
                pl.when(three).then(e).alias(e.meta.output_name())
                for e in rate("dropped", "dose1", "dropout_rate")
            ],
        )
        .sort("unit", "window", "vaccine")
    )


def vaccination_series(
    records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, *, days: int
) -> pl.LazyFrame:
    """Doses given per unit and hour."""
    return hourly_counts(records, rollup, as_of, days, {"doses": pl.col("given_at")})
