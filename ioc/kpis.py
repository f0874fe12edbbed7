"""KPI definitions of FEEDS.md as pure Polars: LazyFrame in, LazyFrame out, no collect here.

Every function takes the latest state of a feed's records (one row per record id) and returns
one row per (unit, window) with a column per KPI; rates also carry ``<kpi>__num`` and
``<kpi>__den``. A unit with no records still gets its row: counts 0, rates null.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import polars as pl

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
UTC_TIME = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Kpi:
    name: str
    kind: Literal["count", "rate", "mean"]
    label: str
    unit: str


PUBLIC_SERVICES_KPIS = (
    Kpi("received", "count", "Hồ sơ tiếp nhận", "hồ sơ"),
    Kpi("resolved", "count", "Hồ sơ đã trả kết quả", "hồ sơ"),
    Kpi("on_time_rate", "rate", "Giải quyết đúng hạn", "%"),
    Kpi("overdue_open", "count", "Quá hạn đang xử lý", "hồ sơ"),
    Kpi("online_rate", "rate", "Nộp trực tuyến", "%"),
    Kpi("online_payment_rate", "rate", "Thanh toán trực tuyến", "%"),
    Kpi("digitisation_rate", "rate", "Số hóa khi tiếp nhận", "%"),
    Kpi("avg_processing_days", "mean", "Thời gian giải quyết bình quân", "ngày"),
)


def window_starts(as_of: datetime) -> pl.LazyFrame:
    """The start of each window for ``as_of``; windows end at ``as_of`` (inclusive)."""
    local = as_of.astimezone(TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = {
        "today": midnight,
        "7d": as_of - timedelta(days=7),
        "30d": as_of - timedelta(days=30),
        "mtd": midnight.replace(day=1),
        "ytd": midnight.replace(month=1, day=1),
    }
    return pl.LazyFrame(
        {"window": list(starts), "start": list(starts.values())},
        schema={"window": pl.String, "start": UTC_TIME},
    )


def in_window(column: str, as_of: datetime) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column) >= pl.col("start")) & (pl.col(column) <= as_of)


def units_by_window(rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    return rollup.select("unit").unique().join(window_starts(as_of), how="cross")


def public_services_flags(as_of: datetime) -> list[pl.Expr]:
    """Per record and window: the booleans the KPIs of §1 count."""
    received = in_window("received_at", as_of)
    resolved = (pl.col("status") == "da_tra_ket_qua") & in_window("returned_at", as_of)
    return [
        received.alias("is_received"),
        resolved.alias("is_resolved"),
        (resolved & (pl.col("returned_at") <= pl.col("deadline_at"))).alias("is_on_time"),
        (pl.col("status").is_in(["tiep_nhan", "dang_xu_ly"]) & (pl.col("deadline_at") < as_of)).alias(
            "is_overdue"
        ),
        (received & (pl.col("channel") == "truc_tuyen")).alias("is_online"),
        (received & pl.col("fee_due")).alias("is_fee_due"),
        (received & pl.col("fee_due") & pl.col("paid_online").fill_null(False)).alias("is_paid_online"),
        (received & pl.col("digitised")).alias("is_digitised"),
        pl.when(resolved)
        .then((pl.col("returned_at") - pl.col("received_at")).dt.total_seconds())
        .alias("processing_s"),
    ]


def rate(num: str, den: str, name: str) -> list[pl.Expr]:
    value = pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))
    return [value.alias(name), pl.col(num).alias(f"{name}__num"), pl.col(den).alias(f"{name}__den")]


def public_services_kpis(records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """All eight KPIs of FEEDS.md §1 for every unit and window."""
    as_of = as_of.astimezone(UTC)
    counted = (
        records.join(rollup, left_on="unit_code", right_on="code")
        .join(window_starts(as_of), how="cross")
        .with_columns(public_services_flags(as_of))
        .group_by("unit", "window")
        .agg(
            pl.col("is_received").sum().alias("received"),
            pl.col("is_resolved").sum().alias("resolved"),
            pl.col("is_on_time").sum().alias("on_time"),
            pl.col("is_overdue").sum().alias("overdue_open"),
            pl.col("is_online").sum().alias("online"),
            pl.col("is_fee_due").sum().alias("fee_due"),
            pl.col("is_paid_online").sum().alias("paid_online"),
            pl.col("is_digitised").sum().alias("digitised"),
            pl.col("processing_s").sum().alias("processing_s"),
        )
    )
    counts = [
        "received",
        "resolved",
        "on_time",
        "overdue_open",
        "online",
        "fee_due",
        "paid_online",
        "digitised",
    ]
    return (
        units_by_window(rollup, as_of)
        .join(counted, on=["unit", "window"], how="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
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
    as_of = as_of.astimezone(UTC)
    since = (as_of - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    base = records.join(rollup, left_on="unit_code", right_on="code")
    received = base.filter(pl.col("received_at").is_between(since, as_of)).select(
        "unit",
        pl.col("received_at").dt.truncate("1h").alias("hour"),
        pl.lit(1).alias("received"),
        pl.lit(0).alias("resolved"),
    )
    resolved = base.filter(
        (pl.col("status") == "da_tra_ket_qua") & pl.col("returned_at").is_between(since, as_of)
    ).select(
        "unit",
        pl.col("returned_at").dt.truncate("1h").alias("hour"),
        pl.lit(0).alias("received"),
        pl.lit(1).alias("resolved"),
    )
    return (
        pl.concat([received, resolved])
        .group_by("unit", "hour")
        .agg(pl.col("received").sum(), pl.col("resolved").sum())
        .sort("unit", "hour")
    )
