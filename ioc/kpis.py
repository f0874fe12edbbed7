"""KPI definitions of FEEDS.md as pure Polars: LazyFrame in, LazyFrame out, no collect here.

Every function takes the latest state of a feed's records (one row per record id) and returns
one row per (unit, window) with a column per KPI; rates also carry ``<kpi>__num`` and
``<kpi>__den``. A unit with no records still gets its row: counts 0, rates null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import polars as pl

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
UTC_TIME = pl.Datetime("us", "UTC")


Better = Literal["higher", "lower"]
KpiKind = Literal["count", "rate", "mean", "sum", "list", "breakdown"]


@dataclass(frozen=True)
class Kpi:
    """A KPI of FEEDS.md: how it is computed (``kind``), how people read it (label and unit in
    Vietnamese, translated by the pages) and which way is better (``None``: neither, e.g.
    traffic). Targets are configuration (``[targets.<name>]``, ``ioc.targets``)."""

    name: str
    kind: KpiKind
    label: str
    unit: str
    better: Better | None = None

    @property
    def lower_is_better(self) -> bool:
        return self.better == "lower"


PUBLIC_SERVICES_KPIS = (
    Kpi("received", "count", "Hồ sơ tiếp nhận", "hồ sơ"),
    Kpi("resolved", "count", "Hồ sơ đã trả kết quả", "hồ sơ"),
    Kpi("on_time_rate", "rate", "Giải quyết đúng hạn", "%", "higher"),
    Kpi("overdue_open", "count", "Quá hạn đang xử lý", "hồ sơ", "lower"),
    Kpi("online_rate", "rate", "Nộp trực tuyến", "%", "higher"),
    Kpi("online_payment_rate", "rate", "Thanh toán trực tuyến", "%", "higher"),
    Kpi("digitisation_rate", "rate", "Số hóa khi tiếp nhận", "%", "higher"),
    Kpi("avg_processing_days", "mean", "Thời gian giải quyết bình quân", "ngày", "lower"),
)


def window_start_times(as_of: datetime) -> dict[str, datetime]:
    """The start of each window for ``as_of``; windows end at ``as_of`` (inclusive)."""
    local = as_of.astimezone(TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "today": midnight,
        "7d": as_of - timedelta(days=7),
        "30d": as_of - timedelta(days=30),
        "mtd": midnight.replace(day=1),
        "ytd": midnight.replace(month=1, day=1),
    }


def window_starts(as_of: datetime) -> pl.LazyFrame:
    """:func:`window_start_times` as a frame of (window, start)."""
    starts = window_start_times(as_of)
    return pl.LazyFrame(
        {"window": list(starts), "start": list(starts.values())},
        schema={"window": pl.String, "start": UTC_TIME},
    )


def in_window(column: str, as_of: datetime) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column) >= pl.col("start")) & (pl.col(column) <= as_of)


def units_by_window(rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    return rollup.select("unit").unique().join(window_starts(as_of), how="cross")


def dossier_overdue(as_of: datetime) -> pl.Expr:
    """A dossier still being processed past its deadline (FEEDS.md §1 ``overdue_open``)."""
    return pl.col("status").is_in(["tiep_nhan", "dang_xu_ly"]) & (pl.col("deadline_at") < as_of)


def report_overdue(as_of: datetime) -> pl.Expr:
    """A field report accepted and not closed past its deadline (FEEDS.md §2 ``overdue``)."""
    return pl.col("status").is_in(["da_tiep_nhan", "dang_xu_ly"]) & (pl.col("deadline_at") < as_of)


@dataclass(frozen=True)
class Timed:
    """Measures a record adds (each 1/0 or a number, not depending on the time of the figures)
    that count in a window when the record's ``column`` falls in it; ``before``: counted when
    ``column`` is before the time of the figures, in every window alike (a deadline passed).

    A feed whose additive KPIs are all such measures has them computed either from its whole
    state (:func:`timed_sums`) or from partial sums kept per commune and day (``ioc.ledger``):
    both from this one definition."""

    column: str | None  # None: counted whatever the record's times (W ignored, e.g. "open")
    measures: dict[str, pl.Expr]
    before: bool = False
    # Kept per instant of ``column`` (a counter's period start, shared by many rows), not per
    # day: every window is then exact from the sums alone, with no record at hand (``ioc.ledger``
    # folds such records away past their feed's horizon).
    exact: bool = False
    # Columns the sums are kept by besides the commune (e.g. vaccine and dose number); every part
    # of a feed has the same.
    by: tuple[str, ...] = ()

    def counted(self, as_of: datetime) -> pl.Expr:
        """Whether a record counts at ``as_of`` (in the row's window, or before ``as_of``)."""
        if self.column is None:
            return pl.lit(True)
        if self.before:
            return pl.col(self.column).is_not_null() & (pl.col(self.column) < as_of)
        return in_window(self.column, as_of)


def timed_sums(
    records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, timed: tuple[Timed, ...]
) -> pl.LazyFrame:
    """Per unit and window (and the parts' ``by``), the sum of each measure of ``timed`` over the
    whole state."""
    measures = {
        name: pl.when(part.counted(as_of)).then(expr)
        for part in timed
        for name, expr in part.measures.items()
    }
    return summed_by_unit(records, rollup, as_of, measures, by=timed[0].by)


_DONE = pl.col("status") == "da_tra_ket_qua"
# FEEDS.md §1: what each dossier adds, by the time that places it in a window.
PUBLIC_SERVICES_TIMED = (
    Timed(
        "received_at",
        {
            "received": pl.col("received_at").is_not_null(),
            "online": pl.col("channel") == "truc_tuyen",
            "fee_due": pl.col("fee_due"),
            "paid_online": pl.col("fee_due") & pl.col("paid_online").fill_null(False),
            "digitised": pl.col("digitised"),
        },
    ),
    Timed(
        "returned_at",
        {
            "resolved": _DONE,
            "on_time": _DONE & (pl.col("returned_at") <= pl.col("deadline_at")),
            "processing_s": pl.when(_DONE).then(
                (pl.col("returned_at") - pl.col("received_at")).dt.total_seconds()
            ),
        },
    ),
    Timed("deadline_at", {"overdue_open": pl.col("status").is_in(["tiep_nhan", "dang_xu_ly"])}, before=True),
)


@dataclass(frozen=True)
class Median:
    """A KPI that is the median of ``value`` over the records ``counted`` whose ``column`` falls
    in the window (an even count: the mean of the two middle values). It does not add up, so
    it is computed either from the whole state (:func:`medians_by_unit`) or from the values kept
    per unit and window (``ioc.medians``): both from this one definition."""

    name: str
    column: str
    value: str
    counted: pl.Expr


def medians_by_unit(
    records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, medians: tuple[Median, ...]
) -> pl.LazyFrame:
    """Per unit and window, each median over the whole state: the counted records themselves go
    to every unit they count for."""
    frames = [  # NaN is not a value (a source's error), as null is not
        per_unit_window(
            records.filter(m.counted & pl.col(m.value).is_not_nan().fill_null(True)), rollup, as_of
        )
        .filter(in_window(m.column, as_of))
        .group_by("unit", "window")
        .agg(pl.col(m.value).median().alias(m.name))
        for m in medians
    ]
    joined = frames[0]
    for more in frames[1:]:
        joined = joined.join(more, on=["unit", "window"], how="full", coalesce=True)
    return joined


def with_medians(summed: pl.LazyFrame, medians: pl.LazyFrame) -> pl.LazyFrame:
    """The sums per unit and window with each unit's medians beside them (null: nothing counted)."""
    return summed.join(medians, on=["unit", "window"], how="full", coalesce=True)


def rate(num: str, den: str, name: str) -> list[pl.Expr]:
    value = pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))
    return [value.alias(name), pl.col(num).alias(f"{name}__num"), pl.col(den).alias(f"{name}__den")]


def summed_by_unit(
    records: pl.LazyFrame,
    rollup: pl.LazyFrame,
    as_of: datetime,
    measures: Mapping[str, pl.Expr],
    by: tuple[str, ...] = (),
) -> pl.LazyFrame:
    """Per unit and window (and ``by``), the sum of each measure over the records that count for
    the unit."""
    per_code = (
        records.join(window_starts(as_of), how="cross")
        .group_by("unit_code", "window", *by)
        .agg(*[expr.sum().alias(name) for name, expr in measures.items()])
    )
    return rolled_up(per_code, rollup, ["window", *by], list(measures))


def rolled_up(per_code: pl.LazyFrame, rollup: pl.LazyFrame, by: list[str], sums: list[str]) -> pl.LazyFrame:
    """Sums per commune (``unit_code``) and ``by`` → sums per unit and ``by``, a commune counting
    for itself and each of its ancestors.

    Summing per commune before rolling up joins a few hundred rows with the rollup instead of
    every record three times (three levels of units): the public-services KPIs of a
    200,000-record state took 37 ms instead of 111, and sums add up the same either way.
    """
    return (
        per_code.join(rollup.select("code", "unit"), left_on="unit_code", right_on="code")
        .group_by("unit", *by)
        .agg(pl.col(sums).sum())
    )


def public_services_kpis(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """All eight KPIs of FEEDS.md §1 for every unit and window."""
    as_of = as_of.astimezone(UTC)
    return public_services_finish(timed_sums(records, rollup, as_of, PUBLIC_SERVICES_TIMED), rollup, as_of)


def public_services_finish(summed: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The KPIs of FEEDS.md §1 from the sums of :data:`PUBLIC_SERVICES_TIMED` per unit and window."""
    counts = [name for part in PUBLIC_SERVICES_TIMED for name in part.measures if name != "processing_s"]
    return (
        filled(summed, rollup, as_of.astimezone(UTC), counts)
        .select(
            "unit",
            "window",
            "received",
            "resolved",
            *rate("on_time", "resolved", "on_time_rate"),
            "overdue_open",
            *rate("online", "received", "online_rate"),
            *rate("paid_online", "fee_due", "online_payment_rate"),
            *rate("digitised", "received", "digitisation_rate"),
            pl.when(pl.col("resolved") > 0)
            .then((pl.col("processing_s") / pl.col("resolved") / 86400).round(2))
            .alias("avg_processing_days"),
        )
        .sort("unit", "window")
    )


def hourly_series(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, *, days: int) -> pl.LazyFrame:
    """Dossiers received and resolved per unit and hour, over the ``days`` before ``as_of``."""
    resolved = pl.when(pl.col("status") == "da_tra_ket_qua").then(pl.col("returned_at"))
    return hourly_counts(
        records, rollup, as_of, days, {"received": pl.col("received_at"), "resolved": resolved}
    )


def per_unit_window(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """Each record once per unit it counts for (itself and its ancestors) and per window."""
    return records.join(rollup, left_on="unit_code", right_on="code").join(window_starts(as_of), how="cross")


def filled(counted: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, counts: list[str]) -> pl.LazyFrame:
    """Every unit and window, those without records with counts 0."""
    return (
        units_by_window(rollup, as_of)
        .join(counted, on=["unit", "window"], how="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
    )


# ---- §2 citizen field reports ------------------------------------------------------------

CITIZEN_FEEDBACK_KPIS = (
    Kpi("new", "count", "Phản ánh mới", "phản ánh"),
    Kpi("open", "count", "Đang mở", "phản ánh"),
    Kpi("overdue", "count", "Quá hạn xử lý", "phản ánh", "lower"),
    Kpi("on_time_rate", "rate", "Xử lý đúng hạn", "%", "higher"),
    Kpi("median_handling_hours", "mean", "Thời gian xử lý (trung vị)", "giờ làm việc", "lower"),
    Kpi("satisfaction", "mean", "Mức hài lòng", "/ 5", "higher"),
    Kpi("hotspots", "list", "Điểm nóng (30 ngày)", "điểm"),
)
OPEN_REPORT = ["moi", "da_tiep_nhan", "dang_xu_ly", "cho_bo_sung"]


_CLOSED = pl.col("status") == "da_xu_ly"
_RATED = _CLOSED & pl.col("rating").is_not_null()
# FEEDS.md §2: what each report adds, by the time that places it in a window.
CITIZEN_FEEDBACK_TIMED = (
    Timed(None, {"open": pl.col("status").is_in(OPEN_REPORT)}),
    Timed("created_at", {"new": pl.col("created_at").is_not_null()}),
    Timed("deadline_at", {"overdue": pl.col("status").is_in(["da_tiep_nhan", "dang_xu_ly"])}, before=True),
    Timed(
        "closed_at",
        {
            "closed": _CLOSED,
            "on_time": _CLOSED & (pl.col("closed_at") <= pl.col("deadline_at")),
            "rated": _RATED,
            "rating_sum": pl.when(_RATED).then(pl.col("rating")),
        },
    ),
)
CITIZEN_FEEDBACK_MEDIANS = (Median("median_hours", "closed_at", "handling_hours", _CLOSED),)


def citizen_feedback_kpis(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The KPIs of FEEDS.md §2 but hotspots (see :mod:`ioc.hotspots`) for every unit and window."""
    as_of = as_of.astimezone(UTC)
    summed = timed_sums(records, rollup, as_of, CITIZEN_FEEDBACK_TIMED)
    medians = medians_by_unit(records, rollup, as_of, CITIZEN_FEEDBACK_MEDIANS)
    return citizen_feedback_finish(with_medians(summed, medians), rollup, as_of)


def citizen_feedback_finish(summed: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The KPIs of FEEDS.md §2 from the sums of :data:`CITIZEN_FEEDBACK_TIMED` and the medians of
    :data:`CITIZEN_FEEDBACK_MEDIANS` per unit and window."""
    counts = [name for part in CITIZEN_FEEDBACK_TIMED for name in part.measures if name != "rating_sum"]
    return (
        filled(summed, rollup, as_of.astimezone(UTC), counts)
        .select(
            "unit",
            "window",
            "new",
            "open",
            "overdue",
            *rate("on_time", "closed", "on_time_rate"),
            pl.col("median_hours").round(2).alias("median_handling_hours"),
            pl.when(pl.col("rated") > 0)
            .then((pl.col("rating_sum") / pl.col("rated")).round(2))
            .alias("satisfaction"),
        )
        .sort("unit", "window")
    )


def hourly_counts(
    records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, days: int, measures: dict[str, pl.Expr]
) -> pl.LazyFrame:
    """Per unit and hour of the ``days`` before ``as_of``: how many records had each time in it.

    ``measures`` maps a series name to the time column it counts (null: not counted).
    """
    as_of = as_of.astimezone(UTC)
    since = (as_of - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    parts = [
        records.select("unit_code", when.alias("t"))
        .filter(pl.col("t").is_between(since, as_of))
        .select(
            "unit_code",
            pl.col("t").dt.truncate("1h").alias("hour"),
            *[pl.lit(int(name == other)).alias(other) for other in measures],
        )
        for name, when in measures.items()
    ]
    per_code = pl.concat(parts).group_by("unit_code", "hour").agg(pl.col(list(measures)).sum())
    return rolled_up(per_code, rollup, ["hour"], list(measures)).sort("unit", "hour")


def citizen_feedback_series(
    records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, *, days: int
) -> pl.LazyFrame:
    """Reports created and closed per unit and hour."""
    closed = pl.when(pl.col("status") == "da_xu_ly").then(pl.col("closed_at"))
    return hourly_counts(records, rollup, as_of, days, {"new": pl.col("created_at"), "closed": closed})


# ---- §3 mobile data -----------------------------------------------------------------------

MOBILE_DATA_KPIS = (
    Kpi("traffic_gb", "sum", "Lưu lượng dữ liệu", "GB"),
    Kpi("subscribers", "count", "Thuê bao hoạt động (lượt-kỳ)", "thuê bao-kỳ"),
    Kpi("share_5g", "rate", "Tỷ lệ lưu lượng 5G", "%", "higher"),
    Kpi("traffic_per_capita_mb", "mean", "Lưu lượng bình quân đầu người", "MB/người"),
)


_VOLUME = pl.col("down_mb") + pl.col("up_mb")
# FEEDS.md §3: what each counter row adds, by its period's start.
MOBILE_DATA_TIMED = (
    Timed(
        "period_start",
        {
            "volume_mb": _VOLUME,
            "volume_5g_mb": pl.when(pl.col("technology") == "5G").then(_VOLUME),
            "subscribers": pl.col("subscribers"),
        },
        exact=True,
    ),
)


def mobile_data_kpis(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The KPIs of FEEDS.md §3 over the periods starting in each window."""
    as_of = as_of.astimezone(UTC)
    return mobile_data_finish(timed_sums(records, rollup, as_of, MOBILE_DATA_TIMED), rollup, as_of)


def mobile_data_finish(summed: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The KPIs of FEEDS.md §3 from the sums of :data:`MOBILE_DATA_TIMED` per unit and window."""
    population = rollup.select("unit", "unit_pop").unique()
    return (
        filled(summed, rollup, as_of.astimezone(UTC), ["subscribers"])
        .with_columns(pl.col("volume_mb", "volume_5g_mb").fill_null(0.0))
        .join(population, on="unit", how="left")
        .select(
            "unit",
            "window",
            (pl.col("volume_mb") / 1024).alias("traffic_gb"),
            "subscribers",
            *rate("volume_5g_mb", "volume_mb", "share_5g"),
            pl.when(pl.col("unit_pop") > 0)
            .then(pl.col("volume_mb") / pl.col("unit_pop"))
            .alias("traffic_per_capita_mb"),
        )
        .sort("unit", "window")
    )


def mobile_data_series(
    records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime, *, days: int
) -> pl.LazyFrame:
    """Traffic in GB per unit and hour of period start, and the subscriber-periods behind it (a
    public view hides an hour with fewer than ``public.k``)."""
    as_of = as_of.astimezone(UTC)
    since = (as_of - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    per_code = (
        records.filter(pl.col("period_start").is_between(since, as_of))
        .group_by("unit_code", pl.col("period_start").dt.truncate("1h").alias("hour"))
        .agg(_VOLUME.sum().alias("volume_mb"), pl.col("subscribers").sum())
    )
    return mobile_data_series_finish(rolled_up(per_code, rollup, ["hour"], ["volume_mb", "subscribers"]))


def mobile_data_series_finish(summed: pl.LazyFrame) -> pl.LazyFrame:
    """The series' figures from the sums per unit and hour."""
    return summed.select(
        "unit", "hour", (pl.col("volume_mb") / 1024).round(3).alias("traffic_gb"), "subscribers"
    ).sort("unit", "hour")
