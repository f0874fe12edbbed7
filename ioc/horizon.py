"""A counter feed's re-delivery horizon: which feed may have one, which held rows are past it, and
which incoming rows it refuses (``aggregator.horizons_h``; ``docs/incremental.md``).

Past the horizon a row can no longer be re-delivered to replace itself, so the aggregator drops
it from its state at a checkpoint and keeps only its sums (``ioc.ledger``). Where rows were
dropped is saved with the sums and decides what is refused, whatever a worker's clock says: a
row from before it may re-deliver a row counted already.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from ioc.config import AggregatorSettings, ConfigError
from ioc.feeds import FeedSpec
from ioc.kpis import TZ
from ioc.state import ARRIVAL


def configured(spec: FeedSpec, settings: AggregatorSettings) -> timedelta | None:
    """The feed's re-delivery horizon, if it has one; a configuration error where its records
    cannot be dropped (a feed whose sums are not all kept per instant)."""
    hours = settings.horizons_h.get(spec.name)
    if hours is None:
        return None
    timed = spec.incremental.timed if spec.incremental is not None else ()
    if spec.horizon_column is None or not timed or not all(part.exact for part in timed):
        raise ConfigError(
            f"aggregator.horizons_h.{spec.name}: the {spec.name} feed's KPIs need its records; only "
            "a counter feed (whose sums are kept per period, as mobile_data's) can have a horizon"
        )
    return timedelta(hours=hours)


def foldable(frame: pl.DataFrame, column: str, cutoff: datetime) -> bool:
    """Some record of ``frame`` (the state) is from before ``cutoff``: to drop at a checkpoint."""
    oldest = frame[column].min() if frame.height else None
    return isinstance(oldest, datetime) and oldest < cutoff


def refused(
    new: pl.DataFrame, column: str, dropped_before: datetime, horizon: timedelta | None
) -> tuple[pl.DataFrame | None, dict[bytes, str]]:
    """The rows of ``new`` from ``dropped_before`` on (None if none), and a dead letter's reason
    per stream entry that had rows from before it: such a row may re-deliver one counted already
    and no longer held, so counting it could count it twice."""
    late = (pl.col(column) < dropped_before).fill_null(False)
    past = new.filter(late)
    if past.height == 0:
        return new, {}
    when = dropped_before.astimezone(TZ).isoformat(timespec="seconds")
    per_entry = past.group_by(ARRIVAL[0], (pl.col(ARRIVAL[1]) // 1_000_000).alias("seq")).agg(
        pl.len().alias("rows"), pl.col(column).min().alias("first")
    )
    letters = {
        f"{ms}-{seq}".encode(): (
            f"{rows} row(s) with {column} before the re-delivery horizon (rows before {when} were "
            f"counted and are no longer held, aggregator.horizons_h {horizon}), the earliest "
            f"{first.astimezone(TZ).isoformat(timespec='seconds')}: it may re-deliver a row counted "
            "already, so it was not counted"
        )
        for ms, seq, rows, first in per_entry.iter_rows()
    }
    kept = new.filter(~late)
    return (kept if kept.height else None), letters
