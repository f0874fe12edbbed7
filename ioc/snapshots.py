"""KPI snapshots and hourly series in Redis: written by the aggregator, read by the API and pages."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
import polars as pl
import redis

from ioc import keys
from ioc.cases import listed_unit, read_list
from ioc.documents import (
    Case,
    DeltaDocument,
    ExtraDocument,
    KpiDocument,
    KpiEntries,
    KpiEntry,
    Kpis,
    SeriesDocument,
    SeriesTail,
    SnapshotMeta,
    kpis_of,
    series_document,
    series_values,
    tail_document,
)
from ioc.history import History
from ioc.kpis import TZ, Kpi


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return cast(float, value)


def kpi_entry(kpi: Kpi, row: dict[str, Any]) -> KpiEntry:
    """``{"value": ...}``, with numerator and denominator for rates, for one KPI of a table row
    (a row of the KPI table, any of its columns)."""
    value = row[kpi.name]
    if kpi.kind == "breakdown":  # a list of {dose, doses}-like pairs, served as an object
        return {"value": {str(first): second for first, second in (tuple(p.values()) for p in value or [])}}
    entry: KpiEntry = {"value": value if kpi.kind == "list" else _number(value)}
    if kpi.kind == "rate":
        entry["numerator"] = _number(row[f"{kpi.name}__num"])
        entry["denominator"] = _number(row[f"{kpi.name}__den"])
    return entry


def kpi_bodies(frame: pl.DataFrame, kpis: tuple[Kpi, ...]) -> dict[str, KpiEntries]:
    """Per ``<unit>|<window>``: ``{name: entry}`` for the KPIs the table has."""
    present = [k for k in kpis if k.name in frame.columns]
    return {
        keys.snapshot_field(row["unit"], row["window"]): {k.name: kpi_entry(k, row) for k in present}
        for row in frame.iter_rows(named=True)
    }


def kpi_text(kpis: Kpis, *, ensure_ascii: bool = True) -> str:
    """A KPI document as stored: ``{"kpis": {name: {"value": ...}}}``."""
    document: KpiDocument = {"kpis": kpis}
    return json.dumps(document, ensure_ascii=ensure_ascii)


def kpi_documents(frame: pl.DataFrame, kpis: tuple[Kpi, ...]) -> dict[str, str]:
    """One JSON document per (unit, window)."""
    return {field: kpi_text(body) for field, body in kpi_bodies(frame, kpis).items()}


def series_documents(
    frame: pl.DataFrame, units: list[str], start: datetime, hours: int, measures: tuple[str, ...]
) -> dict[str, str]:
    """Per unit: one hourly array per measure from ``start``, zeros filled in."""
    row_of = pl.DataFrame(
        {"unit": units, "row": range(len(units))}, schema={"unit": pl.String, "row": pl.Int64}
    )
    placed = (
        frame.join(row_of, on="unit")
        .with_columns(((pl.col("hour").dt.epoch("s") - int(start.timestamp())) // 3600).alias("slot"))
        .filter(pl.col("slot").is_between(0, hours - 1))
    )
    rows, slots = placed["row"].to_numpy(), placed["slot"].to_numpy()
    arrays: dict[str, list[list[float]]] = {}
    for m in measures:  # a grid of units × hours per measure, filled in one numpy assignment
        values = placed[m].fill_null(0).to_numpy()
        grid = np.zeros((len(units), hours), dtype=values.dtype if values.dtype.kind == "f" else np.int64)
        grid[rows, slots] = values
        arrays[m] = grid.tolist()
    begin = start.astimezone(TZ).isoformat()
    return {
        u: json.dumps(series_document(begin, 3600, {m: arrays[m][i] for m in measures}))
        for i, u in enumerate(units)
    }


TAIL_HOURS = 3


def series_tail(doc_text: str, hours: int = TAIL_HOURS) -> SeriesTail:
    """The last ``hours`` points of a series document, with their times."""
    doc: SeriesDocument = json.loads(doc_text)
    start = datetime.fromisoformat(doc["start"])
    values = series_values(doc)
    count = len(next(iter(values.values()), []))
    first = max(0, count - hours)
    times = [(start + timedelta(seconds=doc["step_s"] * i)).isoformat() for i in range(first, count)]
    return tail_document(times, {m: v[first:] for m, v in values.items()})


def delta_document(
    feed: str,
    meta: SnapshotMeta,
    previous: dict[str, str],
    current: dict[str, str],
    previous_series: dict[str, str],
    current_series: dict[str, str],
) -> DeltaDocument:
    """What changed since the last commit: KPI documents, and the tail of each changed series."""
    kpis = {k: kpis_of(v) for k, v in current.items() if not k.startswith("_") and previous.get(k) != v}
    series = {u: series_tail(v) for u, v in current_series.items() if previous_series.get(u) != v}
    return {"feed": feed, "meta": meta, "kpis": kpis, "series": series}


@dataclass(frozen=True)
class Cut:
    """One feed's figures as of one commit: meta, every unit's KPI documents per window and every
    unit's hourly series; ``digest`` identifies the content (equal digests, equal figures)."""

    meta: SnapshotMeta
    docs: dict[str, dict[str, Kpis]]  # window -> unit -> KPIs
    series: dict[str, SeriesDocument]  # unit -> series document
    digest: str

    def measures(self, unit: str) -> dict[str, list[float]]:
        """The unit's hourly series by measure (none: the unit has no series)."""
        doc = self.series.get(unit)
        return series_values(doc) if doc is not None else {}


class SnapshotReader:
    """What the API and the pages read; a panel never computes a KPI on its own."""

    def __init__(self, client: redis.Redis, history: History | None = None) -> None:
        self.client = client
        self.history = history  # the KPIs as they were known (an instant in the past)

    def meta(self, feed: str) -> SnapshotMeta | None:
        raw = self.client.hget(keys.snapshot(feed), keys.META_FIELD)
        return None if raw is None else cast(SnapshotMeta, json.loads(raw))

    def kpis(self, feed: str, unit: str, window: str) -> Kpis | None:
        raw = self.client.hget(keys.snapshot(feed), keys.snapshot_field(unit, window))
        return None if raw is None else kpis_of(raw)

    def many(self, feed: str, units: list[str], window: str) -> dict[str, Kpis]:
        fields = [keys.snapshot_field(u, window) for u in units]
        values = self.client.hmget(keys.snapshot(feed), fields)
        return {u: kpis_of(v) for u, v in zip(units, values, strict=True) if v is not None}

    def cut(
        self, feed: str, units: list[str], windows: tuple[str, ...], *, known: Cut | None = None
    ) -> Cut | None:
        """Everything a public view of ``feed`` may draw on, read in one transaction (the
        aggregator commits snapshot and series in one too): what is shown and what decided that it
        may be shown are the same figures. ``known`` is returned itself when nothing has changed
        since it was read (nothing is parsed again). None before the feed's first snapshot."""
        pairs = [(w, u) for w in windows for u in units]
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hget(keys.snapshot(feed), keys.META_FIELD)
            pipe.hmget(keys.snapshot(feed), [keys.snapshot_field(u, w) for w, u in pairs])
            pipe.hmget(keys.series(feed), units)
            meta, docs, series = pipe.execute()
        if meta is None:
            return None
        digest = hashlib.blake2b(meta, digest_size=16)
        for raw in (*docs, *series):  # each with its length: no two contents run together alike
            digest.update(b"-" if raw is None else b"%d:%b" % (len(raw), raw))
        if known is not None and known.digest == digest.hexdigest():
            return known
        by_window: dict[str, dict[str, Kpis]] = {w: {} for w in windows}
        for (window, unit), raw in zip(pairs, docs, strict=True):
            if raw is not None:
                by_window[window][unit] = kpis_of(raw)
        hourly: dict[str, SeriesDocument] = {
            u: json.loads(v) for u, v in zip(units, series, strict=True) if v is not None
        }
        return Cut(json.loads(meta), by_window, hourly, digest.hexdigest())

    def extra(self, feed: str, name: str) -> ExtraDocument | None:
        """A feed's non-KPI document (``_points``, ``_cases|<unit>``), or None."""
        if (unit := listed_unit(name)) is not None:
            return cast(ExtraDocument | None, self.cases(feed, unit))
        raw = self.client.hget(keys.snapshot(feed), name)
        return None if raw is None else cast(ExtraDocument, json.loads(raw))

    def cases(self, feed: str, unit: str) -> list[Case] | None:
        """A district's, an area's or the province's work list (``ioc.cases``), newest breach
        first, or None (a commune has none; nothing computed yet)."""
        return read_list(self.client.hgetall(keys.case_list(feed, unit)))

    def series(self, feed: str, unit: str) -> SeriesDocument | None:
        raw = self.client.hget(keys.series(feed), unit)
        return None if raw is None else cast(SeriesDocument, json.loads(raw))

    def series_week_before(self, feed: str, unit: str) -> SeriesDocument | None:
        """``unit``'s series over the same hours a week earlier (the rooms' overlay), or None."""
        raw = self.client.hget(keys.series_week_before(feed), unit)
        return None if raw is None else cast(SeriesDocument, json.loads(raw))
