"""Marks on the time series, so that a drop has its reason beside it: Vietnamese public holidays
and Tết (the calendar the SLA counts working days with), a feed's outages (its "stopped" alert,
from raised to cleared, in the feed's alert log) and events a duty officer or an administrator
adds with a note (a planned outage, a campaign, a storm; what people type is redacted by the API
before it is kept).

Added events live in one Redis hash, ``ioc:annotations`` (a field per event, JSON), at most
:data:`MOST` of them; the holidays and outages are read from where they already are, never
copied.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Literal, cast

import holidays
import redis
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc import keys
from ioc.config import AlertRule
from ioc.kpis import TZ
from ioc.units import UnitTable

Kind = Literal["holiday", "tet", "outage", "event"]
MOST = 5000  # added events kept; past it, adding one is refused (remove old ones)
LONGEST = timedelta(days=366)


class Annotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: secrets.token_hex(6))
    kind: Kind = "event"
    start: datetime
    end: datetime
    title: str = Field(min_length=1, max_length=120)
    note: str = Field("", max_length=300)
    feed: str = ""  # an outage's, or an event about one feed; empty: every feed
    unit: str = ""  # an event about one unit (and the units inside it); empty: the province
    created_by: str = ""
    created_at: datetime | None = None

    @field_validator("title", "note")
    @classmethod
    def _one_line(cls, text: str) -> str:
        return " ".join(text.split())

    @model_validator(mode="after")
    def _a_span(self) -> Annotation:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone")
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        if self.end - self.start > LONGEST:
            raise ValueError("end: an annotation spans at most a year")
        return self

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and self.end > start


def calendar(start: datetime, end: datetime, lang: str = "vi") -> list[Annotation]:
    """The public holidays between ``start`` and ``end``, consecutive days of one holiday as one
    mark (Tết, the days of the Lunar New Year, as kind ``tet``)."""
    first, last = start.astimezone(TZ).date(), end.astimezone(TZ).date()
    lang = "en_US" if lang.startswith("en") else "vi"
    days = holidays.country_holidays("VN", years=range(first.year, last.year + 1), language=lang)
    english = holidays.country_holidays("VN", years=range(first.year, last.year + 1), language="en_US")
    runs: list[tuple[date, date, str, bool]] = []
    for day in sorted(d for d in days if first - timedelta(days=10) <= d <= last + timedelta(days=10)):
        tet = "Lunar New Year" in english.get(day, "")
        name = "Tết Nguyên Đán" if tet and lang == "vi" else "Tết (Lunar New Year)" if tet else days[day]
        if runs and runs[-1][1] == day - timedelta(days=1) and ((runs[-1][3] and tet) or runs[-1][2] == name):
            runs[-1] = (runs[-1][0], day, runs[-1][2], runs[-1][3])
        else:
            runs.append((day, day, name, tet))
    out = [
        Annotation(
            id=f"{'tet' if tet else 'holiday'}-{begin.isoformat()}",
            kind="tet" if tet else "holiday",
            start=datetime.combine(begin, time(0), TZ),
            end=datetime.combine(finish + timedelta(days=1), time(0), TZ),
            title=name,
        )
        for begin, finish, name, tet in runs
    ]
    return [a for a in out if a.overlaps(start, end)]


def outages(
    client: redis.Redis,
    feeds: Iterable[str],
    rules: Mapping[str, AlertRule],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Annotation]:
    """Each feed's stopped spells between ``start`` and ``end``: its "stale" rules' alerts from
    raised to cleared (still stopped: to ``now``), from the feed's alert log."""
    stale = {name for name, rule in rules.items() if rule.kind == "stale"}
    out: list[Annotation] = []
    for feed in feeds:
        raw = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(keys.alert_log(feed)))
        events = [{k.decode(): v.decode() for k, v in fields.items()} for _id, fields in raw]
        opened: dict[str, datetime] = {}
        spells: list[tuple[datetime, datetime]] = []
        for event in events:
            if event.get("rule") not in stale:
                continue
            since = datetime.fromisoformat(event["since"])
            if event["event"] == "raised":
                opened[event["id"]] = since
            elif event["event"] == "cleared":
                opened.pop(event["id"], None)
                spells.append((since, datetime.fromisoformat(event["at"])))
        spells += [(since, now) for since in opened.values()]
        for begin, finish in spells:
            if finish > begin:
                out.append(
                    Annotation(
                        id=f"outage-{feed}-{int(begin.timestamp())}",
                        kind="outage",
                        start=begin,
                        end=finish,
                        title=feed,
                        feed=feed,
                    )
                )
    return [a for a in out if a.overlaps(start, end)]


class Annotations:
    """The added events (``ioc:annotations``), and every mark of a span of time."""

    def __init__(self, client: redis.Redis, rules: Mapping[str, AlertRule]) -> None:
        self.client = client
        self.rules = rules

    def events(self) -> list[Annotation]:
        raw = cast(dict[bytes, bytes], self.client.hgetall(keys.annotation_events()))
        return sorted((Annotation.model_validate_json(v) for v in raw.values()), key=lambda a: a.start)

    def add(self, annotation: Annotation) -> None:
        if self.client.hlen(keys.annotation_events()) >= MOST:
            raise ValueError(f"at most {MOST} annotations are kept: remove old ones first")
        self.client.hset(keys.annotation_events(), annotation.id, annotation.model_dump_json())

    def get(self, annotation_id: str) -> Annotation | None:
        raw = self.client.hget(keys.annotation_events(), annotation_id)
        return None if raw is None else Annotation.model_validate_json(cast(bytes, raw))

    def remove(self, annotation_id: str) -> bool:
        return bool(self.client.hdel(keys.annotation_events(), annotation_id))

    def between(
        self,
        start: datetime,
        end: datetime,
        feeds: Iterable[str],
        now: datetime,
        *,
        units: Collection[str] | None = None,
        lang: str = "vi",
    ) -> list[Annotation]:
        """Every mark overlapping ``start``–``end``: holidays, the ``feeds``' outages, events
        (those about one of ``feeds`` or about every feed; with ``units``, those about the
        province or one of them), by start."""
        feeds = list(feeds)
        found = calendar(start, end, lang) + outages(self.client, feeds, self.rules, start, end, now)
        found += [
            a
            for a in self.events()
            if a.overlaps(start, end)
            and (not a.feed or a.feed in feeds)
            and (units is None or not a.unit or a.unit in units)
        ]
        return sorted(found, key=lambda a: (a.start, a.kind))


def lineage(units: UnitTable, unit: str) -> set[str]:
    """``unit`` and the units above it: the marks about any of them belong on its series."""
    found: set[str] = set()
    node: str | None = unit
    while node is not None and node not in found:
        found.add(node)
        node = units.parent(node)
    return found


def as_json(annotation: Annotation) -> dict[str, object]:
    return cast(dict[str, object], json.loads(annotation.model_dump_json()))
