"""The realtime relay run in the test's own process, on a free port, in a thread of its own."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis.asyncio as aioredis
from websockets.sync.client import ClientConnection

from ioc.config_servers import RealtimeSettings
from ioc.realtime import Relay

FEEDS = {"public_services": ["public_services"], "citizen_feedback": ["citizen_feedback"]}


@contextmanager
def relay_in_process(redis_url: str, secret: str, units: set[str], **settings: Any) -> Iterator[str]:
    """A real relay (``websockets`` server, real Redis) on port 0; yields its ``ws://`` URL."""
    started = threading.Event()
    held: dict[str, Any] = {}

    async def serve() -> None:
        client = aioredis.Redis.from_url(redis_url)
        relay = Relay(client, FEEDS, units, secret, RealtimeSettings(**settings))
        ready = asyncio.Event()
        task = asyncio.create_task(relay.run(host="127.0.0.1", port=0, ready=ready))
        await ready.wait()
        assert relay.server is not None
        held.update(relay=relay, loop=asyncio.get_running_loop())
        held["port"] = next(iter(relay.server.sockets)).getsockname()[1]
        started.set()
        try:
            await task
        finally:
            await client.aclose()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30), "the relay did not start within 30 s"
    try:
        yield f"ws://127.0.0.1:{held['port']}/"
    finally:
        held["loop"].call_soon_threadsafe(held["relay"].close)
        thread.join(30)


def receive(ws: ClientConnection, kind: str, timeout: float = 10) -> dict[str, Any]:
    """The next message of this type (others skipped); fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message: dict[str, Any] = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message in {timeout} s")
