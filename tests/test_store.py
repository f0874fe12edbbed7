"""The one place Redis clients are made (ioc.store) waits for Redis as long as configured."""

from __future__ import annotations

import time

import pytest
import redis

from ioc.config import RedisSettings
from ioc.store import connect


def test_a_client_waits_for_a_slow_server_as_long_as_configured(r, redis_server) -> None:
    """redis-py 8 gives up after 5 s by default, and an aggregator's first commit of a year's
    state (its whole checkpoint) can take longer on a busy server: it lost its lease that way.
    A client waits ``redis.timeout_s`` (60 s by default); a paused server stands in for a slow
    one."""
    assert RedisSettings().timeout_s == 60
    hasty = connect(RedisSettings(url=redis_server.url, timeout_s=0.3))
    patient = connect(RedisSettings(url=redis_server.url, timeout_s=10))
    hasty.ping()
    patient.ping()
    r.execute_command("CLIENT", "PAUSE", 1500, "WRITE")
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        hasty.set("store-test", "hasty")
    assert patient.set("store-test", "patient")
    assert time.monotonic() - started >= 1.0, "the pause did not hold the write back"
    assert r.get("store-test") == b"patient"
