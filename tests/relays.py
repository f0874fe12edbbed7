"""The realtime relay and the web app run in the test's own process, on port 0, in threads of their
own: what a test gets from them is the same as from their processes, without seconds of imports."""

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
from werkzeug.serving import make_server

from ioc.config_servers import RealtimeSettings
from ioc.realtime import Relay

FEEDS = {"public_services": ["public_services"], "citizen_feedback": ["citizen_feedback"]}


@contextmanager
def relay_in_process(
    redis_url: str,
    secret: str,
    units: set[str],
    *,
    feeds: dict[str, list[str]] | None = None,
    **settings: Any,
) -> Iterator[str]:
    """A real relay (``websockets`` server, real Redis) on port 0; yields its ``ws://`` URL.
    ``feeds`` (feed -> its connectors) defaults to the two of :data:`FEEDS`."""
    started = threading.Event()
    held: dict[str, Any] = {}

    async def serve() -> None:
        client = aioredis.Redis.from_url(redis_url)
        relay = Relay(client, feeds or FEEDS, units, secret, RealtimeSettings(**settings))
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


@contextmanager
def web_in_process(wsgi_app: Any) -> Iterator[int]:
    """A WSGI app (``create_app(...).server``) served by werkzeug's threaded server on port 0, as
    ``ioc web`` serves it with one worker; yields the port."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)


def relay_port(url: str) -> int:
    """The port of a relay's ``ws://host:port/`` URL."""
    return int(url.rstrip("/").rsplit(":", 1)[1])


def receive(ws: ClientConnection, kind: str, timeout: float = 10) -> dict[str, Any]:
    """The next message of this type (others skipped); fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message: dict[str, Any] = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message in {timeout} s")
