"""The health of each feed, read from Redis: what the feed-health board shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis

from ioc import keys
from ioc.documents import health_hash
from ioc.streams import stream_progress


@dataclass(frozen=True)
class ConnectorHealth:
    """One connector of one feed, and its feed's dead letters and consumer group."""

    feed: str
    connector: str
    last_poll_at: str | None
    last_success_at: str | None
    newest_record_at: str | None
    last_error: str | None
    last_error_at: str | None
    errors: int
    records: int
    per_minute: list[tuple[int, int]]
    dead_letters: int
    last_dead_reason: str | None
    pending: int
    undelivered: int

    def age_s(self, now: datetime) -> float | None:
        if self.last_success_at is None:
            return None
        return (now - datetime.fromisoformat(self.last_success_at)).total_seconds()

    def records_last_minutes(self, now: datetime, minutes: int = 60) -> list[int]:
        """Records per minute for the last ``minutes`` minutes, oldest first, zeros filled in."""
        current = int(now.timestamp() // 60)
        counts = dict(self.per_minute)
        return [counts.get(m, 0) for m in range(current - minutes + 1, current + 1)]


def read_health(client: redis.Redis, feeds: dict[str, list[str]]) -> list[ConnectorHealth]:
    out = []
    for feed, connectors in sorted(feeds.items()):
        last_dead: Any = client.xrevrange(keys.dead_letters(feed), count=1)
        reason = last_dead[0][1][b"reason"].decode() if last_dead else None
        dead = int(client.xlen(keys.dead_letters(feed)))
        progress = stream_progress(client, feed)
        for name in connectors:
            raw = health_hash(cast(dict[bytes, bytes], client.hgetall(keys.connector_health(feed, name))))
            out.append(
                ConnectorHealth(
                    feed=feed,
                    connector=name,
                    last_poll_at=raw.get("last_poll_at"),
                    last_success_at=raw.get("last_success_at"),
                    newest_record_at=raw.get("newest_record_at"),
                    last_error=raw.get("last_error"),
                    last_error_at=raw.get("last_error_at"),
                    errors=int(raw.get("errors", 0)),
                    records=int(raw.get("records", 0)),
                    per_minute=[tuple(p) for p in json.loads(raw.get("per_minute", "[]"))],
                    dead_letters=dead,
                    last_dead_reason=reason,
                    pending=progress["pending"],
                    undelivered=progress["undelivered"],
                )
            )
    return out
