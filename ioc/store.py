"""The one place a Redis client is made: a single server, or a Redis/Valkey Cluster.

On a cluster every key of a feed carries the hash tag ``{<feed>}`` (:mod:`ioc.keys`), so the
feed's transactions (publish, commit, acknowledge) stay inside one slot; different feeds spread
over the primaries.
"""

from __future__ import annotations

from typing import cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from ioc.config import ConfigError, RedisSettings


def _url(settings: RedisSettings) -> str:
    if not settings.url:
        raise ConfigError("redis.url: not set (only `ioc run` starts an embedded Redis)")
    return settings.url


def connect(settings: RedisSettings) -> redis.Redis:
    """A client for the configured server; on a cluster, one that routes by key slot (the same
    commands, typed as :class:`redis.Redis` for the code that uses it)."""
    timeout = settings.timeout_s
    if settings.cluster:
        return cast(redis.Redis, RedisCluster.from_url(_url(settings), socket_timeout=timeout))
    return redis.Redis.from_url(_url(settings), socket_timeout=timeout)


def connect_async(settings: RedisSettings) -> aioredis.Redis:
    timeout = settings.timeout_s
    if settings.cluster:
        return cast(aioredis.Redis, AsyncRedisCluster.from_url(_url(settings), socket_timeout=timeout))
    return aioredis.Redis.from_url(_url(settings), socket_timeout=timeout)
