"""Runs one connector: polls on its interval, backs off on source errors, publishes atomically.

The connector's records, its dead letters and its new cursor go to Redis in one transaction, so
a crash between two polls neither loses a page nor advances past it. A dead letter already
written for the same record and reason (a boundary record read twice) is not written again.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
import redis

from ioc import keys
from ioc.connector import Batch, Connector, SourceError
from ioc.privacy import redact
from ioc.streams import Publication, publish, read_cursor, unseen

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0


class ConnectorRunner:
    """Schedules one connector against one Redis; ``run()`` until ``close()``."""

    def __init__(
        self,
        client: redis.Redis,
        connector: Connector,
        *,
        interval_s: float,
        maxlen: int = 100_000,
        dead_maxlen: int = 100_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        name: str | None = None,
    ) -> None:
        self.client = client
        self.connector = connector
        self.name = name or connector.name  # the configured instance: its cursor and health keys
        self.interval_s = interval_s
        self.maxlen = maxlen
        self.dead_maxlen = dead_maxlen
        self.clock = clock
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # polls and pushed batches publish one at a time
        self.failures = 0
        self.polls = self.records = self.dead = self.errors = 0
        self.newest: datetime | None = None
        self.per_minute: dict[int, int] = {}  # records published per minute, the last hour

    def __repr__(self) -> str:
        return (
            f"<ConnectorRunner {self.name} feed={self.feed} polls={self.polls} records={self.records} "
            f"dead_letters={self.dead} errors={self.errors}>"
        )

    @property
    def feed(self) -> str:
        return self.connector.feed

    def run(self) -> None:
        listen = getattr(self.connector, "listen", None)
        listener = listen(self.publish_pushed) if listen is not None else None  # None: not pushed to
        try:
            self._loop()
        finally:
            if listener is not None:
                listener.close()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                more = self.run_once()
                self.failures = 0
                delay = 0.0 if more else self.interval_s
            except SourceError as exc:
                self.failures += 1
                delay = self._backoff()
                self._record_error(redact(str(exc)))
                log.warning("%s: %s (retry in %.1f s)", self.name, redact(str(exc)), delay)
            self.stopping.wait(delay)
        log.info("stopped: %r", self)

    def close(self) -> None:
        self.stopping.set()

    def _backoff(self) -> float:
        base = min(MAX_BACKOFF_S, self.interval_s * 2 ** min(self.failures, 12))
        return float(base * random.uniform(0.5, 1.0))

    def run_once(self) -> bool:
        """One poll and its publication; True when the source said there is more to read."""
        cursor = read_cursor(self.client, self.feed, self.name)
        batch = self.connector.poll(cursor)
        self._publish(batch, polls=1)
        return batch.cursor != cursor and bool(batch.stats.get("more", False))

    def publish_pushed(self, batch: Batch) -> None:
        """Store records a source pushed (a webhook); the cursor is left alone."""
        self._publish(batch, polls=0)

    def _publish(self, batch: Batch, *, polls: int) -> None:
        with self.lock:
            fresh = unseen(self.client, self.feed, batch.dead_letters)
            counters = {"records": batch.records.height, "dead_letters": len(fresh), "polls": polls}
            publication = Publication(
                self.feed, self.name, batch.records, fresh, batch.cursor, self._health(batch), counters
            )
            publish(self.client, publication, maxlen=self.maxlen, dead_maxlen=self.dead_maxlen)
            self.polls += polls
            self.records += batch.records.height
            self.dead += len(fresh)

    def _health(self, batch: Batch) -> dict[str, str]:
        moment = self.clock()
        now = moment.isoformat(timespec="seconds")
        minute = int(moment.timestamp() // 60)
        self.per_minute[minute] = self.per_minute.get(minute, 0) + batch.records.height
        self.per_minute = {m: n for m, n in self.per_minute.items() if m > minute - 60}
        health = {
            "last_poll_at": now,
            "last_batch_records": str(batch.records.height),
            "per_minute": json.dumps(sorted(self.per_minute.items())),
        }
        if batch.reached_source:
            health["last_success_at"] = now
        version = _version_column(batch.records)
        if version is not None and batch.records.height:
            newest = batch.records[version].max()
            if isinstance(newest, datetime) and (self.newest is None or newest > self.newest):
                self.newest = newest
        if self.newest is not None:
            health["newest_record_at"] = self.newest.isoformat(timespec="seconds")
        return health

    def _record_error(self, message: str) -> None:
        self.errors += 1
        now = self.clock().isoformat(timespec="seconds")
        key = keys.connector_health(self.feed, self.name)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping={"last_poll_at": now, "last_error_at": now, "last_error": message[:500]})
        pipe.hincrby(key, "errors", 1)
        pipe.execute()


def _version_column(frame: pl.DataFrame) -> str | None:
    return next((c for c in ("updated_at", "period_start", "published_at") if c in frame.columns), None)
