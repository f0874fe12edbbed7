"""What a room reads from Redis for one request, read once, and how it reads a KPI document.

A page or callback fetches its figures in one step (``fetch_room``: one transaction over a feed's
snapshot and series, which the aggregator commits together, so everything drawn is of one commit)
and hands them to pure builders: no builder reads Redis, and a render's reads can be counted
(``tests/test_room_data.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ioc import keys
from ioc.cases import listed_unit, read_list
from ioc.feeds import FEED_SPECS, FeedSpec
from ioc.kpis import Kpi
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from layouts.figures import scalar
from layouts.i18n import _

DEFAULT_WINDOW = "7d"
DEFAULT_FEED = next(iter(FEED_SPECS))  # a room's feed when its address names none
# KPIs of the present moment (open, overdue, people vaccinated so far): no window in their label.
NOT_WINDOWED = frozenset(
    {
        "overdue_open",
        "open",
        "overdue",
        "hotspots",
        "people_first_dose",
        "coverage_first_dose",
        "dropout_rate",
    }
)


def entry(doc: dict[str, Any] | None, path: str) -> dict[str, Any]:
    """A KPI's entry in a document by name, or by path for nested ones (``by_vaccine/<v>/<kpi>``)."""
    found: Any = doc or {}
    for part in path.split("/"):
        found = found.get(part) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else {}


def base_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def display_kpis(spec: FeedSpec, province_doc: dict[str, Any] | None) -> list[Kpi]:
    """What the tiles, the map choice and the ranking offer for a feed, by path, with their labels
    and units in the reader's language; a feed with parts (vaccination's vaccines) offers its
    overall KPIs, then each part's found in the province's document."""
    shown = [replace(k, label=_(k.label), unit=_(k.unit)) for k in spec.kpis]
    parts = spec.parts
    if parts is None:
        return shown
    by = {k.name: k for k in shown}
    out = [by[name] for name in parts.overall]
    for part in sorted((province_doc or {}).get(parts.field, {})):
        for name in parts.kpis:
            path = f"{parts.field}/{part}/{name}"
            if name in parts.optional and entry(province_doc, path).get("value") is None:
                continue
            kpi = by[name]
            out.append(replace(kpi, name=path, label=f"{kpi.label} · {_(part)}"))
    return out


@dataclass(frozen=True)
class RoomData:
    """One feed's figures as one request read them: its meta, the KPI documents asked for by
    (unit, window), hourly series by unit, and other documents of the snapshot by name (open
    reports, case lists); what was asked for and is not there is absent."""

    feed: str
    meta: dict[str, Any] | None
    docs: dict[tuple[str, str], dict[str, Any]]
    series: dict[str, dict[str, Any]]
    extras: dict[str, Any]

    def doc(self, unit: str, window: str) -> dict[str, Any] | None:
        return self.docs.get((unit, window))

    def values(self, kpi: Kpi, units: Iterable[str], window: str) -> list[float | None]:
        """One number per unit for a map or a ranking (``kpi.name`` is its path)."""
        return [scalar(kpi, entry(self.doc(u, window), kpi.name).get("value")) for u in units]


def fetch_room(
    reader: SnapshotReader,
    feed: str,
    *,
    docs: Iterable[tuple[str, str]] = (),
    series: Iterable[str] = (),
    extras: Iterable[str] = (),
    at: datetime | None = None,
) -> RoomData:
    """Everything a render draws of ``feed``, in one round trip: one HMGET of its snapshot (meta,
    the (unit, window) documents, the named ``extras``), one of its series and an HGETALL of each
    named work list (``ioc.cases``), in a transaction.
    ``at``: as they were known at that instant (the history's snapshot; it keeps neither series
    nor extras)."""
    pairs = list(dict.fromkeys(docs))
    named = list(dict.fromkeys(extras))
    units = list(dict.fromkeys(series))
    if at is not None:
        return past_room(reader, feed, pairs, at)
    lists = {n: unit for n in named if (unit := listed_unit(n)) is not None}  # work lists: a hash each
    plain = [n for n in named if n not in lists]
    fields = [keys.META_FIELD, *(keys.snapshot_field(u, w) for u, w in pairs), *plain]
    with reader.client.pipeline(transaction=True) as pipe:
        pipe.hmget(keys.snapshot(feed), fields)
        if units:
            pipe.hmget(keys.series(feed), units)
        for unit in lists.values():
            pipe.hgetall(keys.case_list(feed, unit))
        found = pipe.execute()
    meta, *values = found[0]
    hourly = found[1] if units else []
    extras = {n: json.loads(v) for n, v in zip(plain, values[len(pairs) :], strict=True) if v is not None}
    for name, raw in zip(lists, found[2 if units else 1 :], strict=True):
        if (cases := read_list(raw)) is not None:
            extras[name] = cases
    return RoomData(
        feed=feed,
        meta=None if meta is None else json.loads(meta),
        docs={
            p: json.loads(v)["kpis"]
            for p, v in zip(pairs, values[: len(pairs)], strict=True)
            if v is not None
        },
        series={u: json.loads(v) for u, v in zip(units, hourly, strict=True) if v is not None},
        extras=extras,
    )


def past_room(reader: SnapshotReader, feed: str, pairs: list[tuple[str, str]], at: datetime) -> RoomData:
    """The documents of ``pairs`` as the history kept them at or before ``at`` (none kept: no
    meta, nothing to draw)."""
    past = (
        reader.history.at(feed, at, [keys.snapshot_field(u, w) for u, w in pairs]) if reader.history else None
    )
    if past is None or keys.META_FIELD not in past.docs:
        return RoomData(feed=feed, meta=None, docs={}, series={}, extras={})
    return RoomData(
        feed=feed,
        meta=json.loads(past.docs[keys.META_FIELD]),
        docs={
            p: json.loads(text)["kpis"]
            for p in pairs
            if (text := past.docs.get(keys.snapshot_field(*p))) is not None
        },
        series={},
        extras={},
    )


@dataclass(frozen=True)
class FeedView:
    """One request's feed: its spec, what was read of it, the KPIs it offers by path (those of a
    feed with parts depend on the province's document: ``display_kpis``) and the configured
    targets they are coloured against."""

    spec: FeedSpec
    data: RoomData
    kpis: dict[str, Kpi]
    goals: Goals

    @classmethod
    def of(cls, spec: FeedSpec, data: RoomData, goals: Goals) -> FeedView:
        offered = display_kpis(spec, data.doc(goals.units.province, DEFAULT_WINDOW))
        return cls(spec, data, {k.name: k for k in offered}, goals)

    def goal(self, path: str, unit: str) -> float | None:
        """The target ``unit``'s panels colour the KPI at ``path`` against, None: none."""
        return self.goals.goal(self.spec.name, base_name(path), unit)

    def pick(self, kpi: Any) -> str:
        """``kpi`` when the feed offers it (it comes from the browser or the address), else the
        feed's default."""
        if isinstance(kpi, str) and kpi in self.kpis:
            return kpi
        wanted = self.spec.default_kpi
        return wanted if wanted in self.kpis else next(iter(self.kpis))


def feed_spec(specs: dict[str, FeedSpec], feed: Any) -> FeedSpec:
    """The feed a room shows: the one asked for when the room shows it, else its first."""
    return specs[feed] if isinstance(feed, str) and feed in specs else next(iter(specs.values()))


def feed_query(feed: str) -> str:
    """The address's query for a room's feed: none for the default one."""
    return "" if feed == DEFAULT_FEED else f"?feed={feed}"
