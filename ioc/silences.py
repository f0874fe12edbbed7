"""Silences: an alert that matches one still shows on every screen, marked as silenced, but no
message is sent for it (a planned outage, a known problem being worked on).

A silence names what it matches (a feed, a unit and every unit inside it, a rule: each optional,
at least one given), until when, why and who made it. They live in one Redis hash,
``ioc:silences`` (a field per silence, JSON; ``_version`` counts the changes). The aggregators mark
the alerts a silence matches (``silenced_until``, in the active list every screen gets) and the
delivery process holds their messages back; both compare the version at most every few seconds.
Ended silences stay listed for :data:`KEEP_ENDED_S` (what was silenced, by whom, stays visible),
then go.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import redis
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ioc import keys
from ioc.units import UnitTable

VERSION = "_version"
KEEP_ENDED_S = 7 * 86400
LONGEST_S = 90 * 86400  # a silence of months is a rule to change, not a silence


class Silence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: secrets.token_hex(6))
    feed: str = ""
    unit: str = ""
    rule: str = ""
    ends_at: datetime
    reason: str = Field(min_length=3, max_length=300)
    created_by: str
    created_at: datetime
    ended_by: str = ""

    @model_validator(mode="after")
    def _something(self) -> Silence:
        if not (self.feed or self.unit or self.rule):
            raise ValueError("a silence names at least a feed, a unit or a rule")
        if self.ends_at.tzinfo is None or self.created_at.tzinfo is None:
            raise ValueError("times need a time zone")
        if self.ends_at <= self.created_at:
            raise ValueError("ends_at: must be after now")
        if (self.ends_at - self.created_at).total_seconds() > LONGEST_S:
            raise ValueError("ends_at: at most 90 days ahead (change the rule instead)")
        return self

    def active(self, at: datetime) -> bool:
        return self.created_at <= at < self.ends_at

    def matches(self, alert: Mapping[str, Any], units: UnitTable) -> bool:
        if self.feed and alert.get("feed") != self.feed:
            return False
        if self.rule and alert.get("rule") != self.rule:
            return False
        if not self.unit:
            return True
        current: str | None = str(alert.get("unit"))
        while current is not None:
            if current == self.unit:
                return True
            current = units.parent(current)
        return False


def save(client: redis.Redis, silence: Silence) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.silences(), silence.id, silence.model_dump_json())
    pipe.hincrby(keys.silences(), VERSION, 1)
    pipe.execute()


def end(client: redis.Redis, silence: Silence, by: str, at: datetime) -> Silence:
    """End a silence now (it stays listed as ended)."""
    ended = silence.model_copy(update={"ends_at": max(silence.created_at, at), "ended_by": by})
    save(client, ended)
    return ended


def read_all(client: redis.Redis, now: datetime | None = None) -> list[Silence]:
    """Every silence, newest first; those ended long ago are dropped on the way."""
    now = now or datetime.now(UTC)
    raw = cast(dict[bytes, bytes], client.hgetall(keys.silences()))
    found, old = [], []
    for field, value in raw.items():
        if field.decode() == VERSION:
            continue
        silence = Silence.model_validate(json.loads(value))
        if (now - silence.ends_at).total_seconds() > KEEP_ENDED_S:
            old.append(field)
        else:
            found.append(silence)
    if old:
        client.hdel(keys.silences(), *old)
    return sorted(found, key=lambda s: s.created_at, reverse=True)


class Silences:
    """The silences now, re-read when they changed (checked at most every ``check_s``)."""

    def __init__(self, client: redis.Redis, units: UnitTable, *, check_s: float = 2.0) -> None:
        self.client, self.units, self.check_s = client, units, check_s
        self.version: int | None = None
        self.checked = -float("inf")
        self.all: list[Silence] = []

    def refresh(self, *, now: float | None = None) -> bool:
        """True if the silences changed since the last read."""
        now = time.monotonic() if now is None else now
        if now - self.checked < self.check_s:
            return False
        self.checked = now
        raw = self.client.hget(keys.silences(), VERSION)
        version = int(raw) if raw is not None else 0
        if version == self.version:
            return False
        changed = self.version is not None
        self.version, self.all = version, read_all(self.client)
        return changed

    def until(self, alert: Mapping[str, Any], at: datetime) -> datetime | None:
        """Until when ``alert`` is silenced at ``at`` (the latest end of the silences matching it)."""
        self.refresh()
        ends = [s.ends_at for s in self.all if s.active(at) and s.matches(alert, self.units)]
        return max(ends, default=None)
