"""What alert delivery leaves for others to read: the delivery log (an alert's history) and each
contact point's health (the feed-health board). Written by :mod:`ioc.deliver`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

import redis

from ioc import keys


def delivered(client: redis.Redis, alert_id: str, scan: int = 20_000) -> list[dict[str, str]]:
    """What the delivery log holds of one alert, oldest first."""
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrevrange(keys.delivery("log"), count=scan))
    found = [{k.decode(): v.decode() for k, v in f.items()} for _i, f in raw]
    return [e for e in reversed(found) if e.get("alert") == alert_id]


def point_health(client: redis.Redis, points: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each contact point's last success and last error, and how many of its messages wait for a
    retry (for the feed-health board)."""
    raw = {
        k.decode(): v.decode()
        for k, v in cast(dict[bytes, bytes], client.hgetall(keys.delivery("health"))).items()
    }
    waiting: dict[str, int] = {}
    for member in cast(list[bytes], client.zrange(keys.delivery("retry"), 0, -1)):
        point = json.loads(member)["point"]
        waiting[point] = waiting.get(point, 0) + 1
    return {
        p: {
            "last_success_at": raw.get(f"{p}:last_success_at"),
            "last_error": raw.get(f"{p}:last_error"),
            "last_error_at": raw.get(f"{p}:last_error_at"),
            "waiting": waiting.get(p, 0),
        }
        for p in points
    }
