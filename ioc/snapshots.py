"""KPI snapshots and hourly series in Redis: written by the aggregator, read by the API and pages."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import redis

from ioc import keys
from ioc.kpis import TZ, Kpi


def _number(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def kpi_documents(frame: pl.DataFrame, kpis: tuple[Kpi, ...]) -> dict[str, str]:
    """One JSON document per (unit, window): ``{"kpis": {name: {"value": ...}}}``."""
    docs: dict[str, str] = {}
    for row in frame.iter_rows(named=True):
        body: dict[str, dict[str, Any]] = {}
        for kpi in kpis:
            entry: dict[str, Any] = {"value": _number(row[kpi.name])}
            if kpi.kind == "rate":
                entry["numerator"] = row[f"{kpi.name}__num"]
                entry["denominator"] = row[f"{kpi.name}__den"]
            body[kpi.name] = entry
        docs[keys.snapshot_field(row["unit"], row["window"])] = json.dumps({"kpis": body})
    return docs


def series_documents(frame: pl.DataFrame, units: list[str], start: datetime, hours: int) -> dict[str, str]:
    """Per unit: hourly ``received`` and ``resolved`` arrays from ``start``, zeros filled in."""
    start_s = int(start.timestamp())
    arrays = {u: ([0] * hours, [0] * hours) for u in units}
    for unit, hour, received, resolved in frame.iter_rows():
        slot = (int(hour.timestamp()) - start_s) // 3600
        if unit in arrays and 0 <= slot < hours:
            arrays[unit][0][slot] = received
            arrays[unit][1][slot] = resolved
    begin = start.astimezone(TZ).isoformat()
    return {
        u: json.dumps({"start": begin, "step_s": 3600, "received": rec, "resolved": res})
        for u, (rec, res) in arrays.items()
    }


TAIL_HOURS = 3


def series_tail(doc_text: str, hours: int = TAIL_HOURS) -> dict[str, Any]:
    """The last ``hours`` points of a series document, with their times."""
    doc = json.loads(doc_text)
    start = datetime.fromisoformat(doc["start"])
    count = len(doc["received"])
    first = max(0, count - hours)
    times = [(start + timedelta(seconds=doc["step_s"] * i)).isoformat() for i in range(first, count)]
    return {"t": times, "received": doc["received"][first:], "resolved": doc["resolved"][first:]}


def delta_document(
    feed: str,
    meta: dict[str, Any],
    previous: dict[str, str],
    current: dict[str, str],
    previous_series: dict[str, str],
    current_series: dict[str, str],
) -> dict[str, Any]:
    """What changed since the last commit: KPI documents, and the tail of each changed series."""
    kpis = {
        k: json.loads(v)["kpis"] for k, v in current.items() if k != keys.META_FIELD and previous.get(k) != v
    }
    series = {u: series_tail(v) for u, v in current_series.items() if previous_series.get(u) != v}
    return {"feed": feed, "meta": meta, "kpis": kpis, "series": series}


class SnapshotReader:
    """What the API and the pages read; a panel never computes a KPI on its own."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def meta(self, feed: str) -> dict[str, Any] | None:
        raw = self.client.hget(keys.snapshot(feed), keys.META_FIELD)
        return None if raw is None else json.loads(raw)

    def kpis(self, feed: str, unit: str, window: str) -> dict[str, Any] | None:
        raw = self.client.hget(keys.snapshot(feed), keys.snapshot_field(unit, window))
        return None if raw is None else json.loads(raw)["kpis"]

    def many(self, feed: str, units: list[str], window: str) -> dict[str, dict[str, Any]]:
        fields = [keys.snapshot_field(u, window) for u in units]
        values = self.client.hmget(keys.snapshot(feed), fields)
        return {u: json.loads(v)["kpis"] for u, v in zip(units, values, strict=True) if v is not None}

    def series(self, feed: str, unit: str) -> dict[str, Any] | None:
        raw = self.client.hget(keys.series(feed), unit)
        return None if raw is None else json.loads(raw)
