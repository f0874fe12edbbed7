"""A simulated source as a timeline: every record drawn once with every version it will have.

The listing shows each record as it stands at the clock's ``now`` (its latest version at or
before now), changed since ``since``, ordered by the time of that version. Days are drawn ahead
of the clock as it advances, so a long-running demo never runs out.
"""

from __future__ import annotations

import math
import random
import threading
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR = 3600.0
DAY = 86400.0
# A world's archive (days before its full history) is drawn at this share of the volume: enough
# records to be there, few enough that the demo starts as fast.
ARCHIVE_SHARE = 0.02


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(round(epoch), TZ).isoformat()


class TimelineWorld(ABC):
    """Subclasses draw a day's records with :meth:`add` in :meth:`draw_day`, as many as
    :meth:`day_count` (or ``daily * volume(day)``) says.

    The world's full history starts ``history_days`` before ``anchor``. An ``archive`` (first day,
    day after the last) before it is drawn at :data:`ARCHIVE_SHARE` of the volume; no record
    starts between the two.
    """

    def __init__(
        self,
        *,
        seed: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        history_days: int,
        anchor: datetime | None = None,
        malformed_rate: float = 0.0,
        activity: float = 1.0,
        archive: tuple[date, date] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.activity = activity
        self.clock = clock
        self.malformed_rate = malformed_rate
        self.live_from = (anchor or clock()).timestamp()
        self._events: list[tuple[float, int, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._items = 0
        self.history_from = datetime.fromtimestamp(self.live_from, TZ).date() - timedelta(days=history_days)
        self.archive = archive if archive and archive[0] < self.history_from else None
        self._next_day = self.archive[0] if self.archive else self.history_from
        self._t = np.empty(0)

    def start(self) -> None:
        with self._lock:
            self._extend(self.live_from)

    def new_item(self) -> int:
        self._items += 1
        return self._items - 1

    def add(self, t: float, item: int, record: dict[str, Any]) -> None:
        """``record`` is the item as it stands from ``t`` on (its ``cap_nhat_luc`` is set here)."""
        t = math.floor(t)
        record["cap_nhat_luc"] = iso(t)
        self._events.append((t, item, record))

    @abstractmethod
    def draw_day(self, day: date) -> None:
        """Draw every record that starts on ``day`` (local), with all its versions."""

    @abstractmethod
    def malform(self, record: dict[str, Any], kind: int) -> None:
        """Break a rendered record the way a real source now and then does."""

    def volume(self, day: date) -> float:
        """The share of the usual volume drawn on ``day``: all of it, the archive's, or none."""
        if day >= self.history_from:
            return 1.0
        return ARCHIVE_SHARE if self.archive and self.archive[0] <= day < self.archive[1] else 0.0

    def day_count(self, day: date, daily: float) -> tuple[float, int]:
        """Midnight of ``day`` and how many records start on it: ``daily`` on average (times the
        day's :meth:`volume`), times ``activity`` for the part of the day after the demo started
        (so numbers move)."""
        start = datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()
        rate = daily * self.volume(day)
        live_start = max(start, self.live_from)
        if self.activity > 1 and live_start < start + DAY:
            rate += daily * (self.activity - 1) * (start + DAY - live_start) / DAY
        return start, max(0, round(self.rng.gauss(rate, rate**0.5))) if rate > 0 else 0

    def _extend(self, until: float) -> None:
        horizon = datetime.fromtimestamp(until, TZ).date() + timedelta(days=2)
        added = False
        while self._next_day < horizon:
            self.draw_day(self._next_day)
            self._next_day += timedelta(days=1)
            added = True
        if added:
            self._index()

    def _index(self) -> None:
        self._events.sort(key=lambda e: (e[0], e[1]))
        self._t = np.array([e[0] for e in self._events], dtype=float)
        self._next_t = next_versions(self._t, np.array([e[1] for e in self._events], dtype=np.int64))

    def page(self, since: datetime | None, page: int, size: int) -> tuple[int, list[dict[str, Any]]]:
        now = self.clock().timestamp()
        with self._lock:
            self._extend(now)
            current = current_versions(self._t, self._next_t, since, now)
            chosen = current[(page - 1) * size : page * size]
            return len(current), [self._render(int(pos)) for pos in chosen]

    def latest(self) -> list[dict[str, Any]]:
        """Every record as it stands now: the ground truth."""
        return self.page(None, 1, 10**9)[1]

    def _render(self, pos: int) -> dict[str, Any]:
        record = dict(self._events[pos][2])
        if malformed(pos, self.malformed_rate):
            self.malform(record, pos)
        return record


def next_versions(t: np.ndarray, items: np.ndarray) -> np.ndarray:
    """For events sorted by time ``t``, when each one's item next changes (inf: never)."""
    next_t = np.full(len(items), np.inf)
    last_seen: dict[int, int] = {}
    for pos in range(len(items) - 1, -1, -1):
        item = int(items[pos])
        if item in last_seen:
            next_t[pos] = t[last_seen[item]]
        last_seen[item] = pos
    return next_t


def current_versions(t: np.ndarray, next_t: np.ndarray, since: datetime | None, now: float) -> np.ndarray:
    """Positions of the events that are each item's state at ``now``, changed since ``since``."""
    lo = 0 if since is None else bisect_left(t, since.timestamp())
    hi = bisect_right(t, now)
    return np.arange(lo, hi)[next_t[lo:hi] > now]


def malformed(pos: int, rate: float) -> bool:
    """Whether the event at ``pos`` is sent broken: fixed by its position, so every read agrees."""
    return bool(rate) and random.Random(pos * 7919 + 17).random() < rate


def office_moment(after: float, rng: random.Random, within_h: float) -> float:
    """A moment in office hours (Mon–Fri 7–11, 13–17) some time after ``after``."""
    moment = after + rng.uniform(0.05, within_h) * HOUR
    local = datetime.fromtimestamp(moment, TZ)
    for _ in range(10):
        minutes = local.hour * 60 + local.minute
        if local.weekday() < 5 and (420 <= minutes < 660 or 780 <= minutes < 1020):
            return local.timestamp()
        local = (local + timedelta(hours=1)).replace(minute=rng.randrange(60))
    return local.timestamp()
