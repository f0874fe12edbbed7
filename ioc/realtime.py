"""The realtime relay: one reader of the aggregators' deltas, ``broadcast()`` to every screen.

A screen opens one websocket (``/?token=...``), says which feeds, units and series it shows, gets
a snapshot, then only deltas and health. Screens that ask for the same things form a group and
each message is built once per group. Nothing waits for a slow screen: one whose unsent data
passes ``max_buffer_bytes`` is disconnected, reconnects, and starts again from a snapshot.

Ordering: new screens are served by the same loop that reads deltas, between two reads, so the
snapshot a screen gets is never older than a delta it receives after it.

Scope: a screen's token says what it may subscribe to. A duty officer's lists the units they may
see (a subscription reaching past them is closed with the reason) and the units whose alerts they
get: every alert carries its unit's value, so the relay filters them here, never in the browser.
An embed's (a public view) names its feed only, and such a screen gets no figures at all: only a
notice that the feed has new figures, which it then reads, suppressed, from the public cards.

Sessions: a room's token names its session (:mod:`ioc.sessions`). The relay refuses a token whose
session has ended, and every ``session_check_s`` closes the sockets of sessions that ended since
(a logout, a removed account, a single sign-on role due for its re-check) with code 4401.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ioc import alert_store, auth, keys, sessions
from ioc.config_servers import RealtimeSettings
from ioc.documents import (
    AsOf,
    DeltaDocument,
    FeedHealth,
    FeedSnapshot,
    HealthMessage,
    Kpis,
    NoticeSnapshot,
    SeriesDocument,
    SnapshotMessage,
    SnapshotMeta,
    health_hash,
    kpis_of,
)
from ioc.subscriptions import BadSubscription, Subscription, _now

log = logging.getLogger(__name__)

READ_BLOCK_MS = 100
SESSION_ENDED = 4401  # close code: the screen's session is over; it asks for a fresh token


def _meta(raw: bytes | str) -> SnapshotMeta:
    meta: SnapshotMeta = json.loads(raw)
    return meta


@dataclass
class Relay:
    """``run()`` serves until ``close()``; ``__repr__`` shows the live counters."""

    client: aioredis.Redis
    feeds: dict[str, list[str]]  # feed -> its connectors
    units: set[str]
    secret: str
    settings: RealtimeSettings
    groups: dict[Subscription, set[ServerConnection]] = field(default_factory=dict)
    waiting: list[tuple[Subscription, ServerConnection]] = field(default_factory=list)
    health: dict[str, FeedHealth] = field(default_factory=dict)
    screens: dict[ServerConnection, tuple[str, str]] = field(default_factory=dict)  # -> login, sid
    sent = 0
    dropped_slow = 0
    refused = 0
    ended = 0

    def __post_init__(self) -> None:
        self.stopping = asyncio.Event()
        self.server: Server | None = None
        self.last_ids = {feed: "$" for feed in self.feeds}
        self.closing: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        screens = sum(len(g) for g in self.groups.values())
        return (
            f"<Relay screens={screens} groups={len(self.groups)} sent={self.sent} "
            f"dropped_slow={self.dropped_slow} refused={self.refused} ended={self.ended}>"
        )

    # ---- serving -----------------------------------------------------------------------

    async def run(self, *, host: str, port: int, ready: asyncio.Event | None = None) -> None:
        async with serve(
            self.handler,
            host,
            port,
            process_request=self.authenticate,
            ping_interval=self.settings.ping_interval_s,
            ping_timeout=self.settings.ping_interval_s,
            max_size=64 * 1024,
        ) as server:
            self.server = server
            if ready is not None:
                ready.set()
            log.info("relay listening on ws://%s:%d/", host, port)
            tasks = [
                asyncio.create_task(self.pump()),
                asyncio.create_task(self.watch_health()),
                asyncio.create_task(self.watch_sessions()),
            ]
            await self.stopping.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        log.info("stopped: %r", self)

    def close(self) -> None:
        self.stopping.set()

    def claims_of(self, path: str) -> dict[str, Any]:
        token = parse_qs(urlsplit(path).query).get("token", [None])[0]
        return auth.check(self.secret, token, max_age_s=self.settings.token_ttl_s)

    async def authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            claims = self.claims_of(request.path)
            if "sid" in claims:
                raw = await self.client.hget(keys.sessions(claims["login"]), claims["sid"])
                if reason := sessions.verdict(raw, time.time()):
                    raise auth.TokenError(f"session ended: {reason}")
        except auth.TokenError as exc:
            self.refused += 1
            return connection.respond(401, f"{exc}\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        try:
            claims = self.claims_of(ws.request.path if ws.request else "")
            hello = await asyncio.wait_for(ws.recv(), timeout=10)
            sub = Subscription.parse(hello, feeds=set(self.feeds), units=self.units, claims=claims)
        except (BadSubscription, TimeoutError, auth.TokenError) as exc:
            await ws.close(1008, str(exc) or "no subscribe message in time")
            return
        except ConnectionClosed:
            return
        if "sid" in claims:  # a room's screen: watched until its session ends
            self.screens[ws] = (str(claims["login"]), str(claims["sid"]))
        self.waiting.append((sub, ws))
        try:
            await ws.wait_closed()
        finally:
            self.screens.pop(ws, None)
            group = self.groups.get(sub)
            if group is not None:
                group.discard(ws)
                if not group:
                    del self.groups[sub]

    # ---- the one reader ----------------------------------------------------------------

    async def pump(self) -> None:
        streams = {keys.deltas(feed): feed for feed in self.feeds}
        # Not ``while True``: on Python 3.11 a cancel that meets redis-py's own read timeout can
        # come out as a TimeoutError, which the client retries; the loop then ends on its own.
        # One blocking read per feed, each answered as soon as it has something: on a cluster the
        # feeds' streams live in different slots, which one XREAD cannot span.
        reads: dict[str, asyncio.Task[Any]] = {}
        try:
            while not self.stopping.is_set():
                await self._welcome()
                for key, feed in streams.items():
                    if key not in reads:
                        ids = {key: self.last_ids[feed]}
                        reads[key] = asyncio.create_task(self.client.xread(ids, block=READ_BLOCK_MS))  # type: ignore[arg-type]
                done, _ = await asyncio.wait(reads.values(), return_when=asyncio.FIRST_COMPLETED)
                for key in [k for k, task in reads.items() if task in done]:
                    reply = reads.pop(key).result()
                    for _key, entries in cast(list[tuple[bytes, list[tuple[bytes, Any]]]], reply or []):
                        for entry_id, fields in entries:
                            self.last_ids[streams[key]] = entry_id.decode()
                            self.fan_out(json.loads(fields[b"d"]))
        finally:
            for task in reads.values():
                task.cancel()
            await asyncio.gather(*reads.values(), return_exceptions=True)

    async def _welcome(self) -> None:
        """Send each waiting screen its snapshot and make it a member of its group."""
        if self.last_ids and "$" in self.last_ids.values():
            for feed, last in self.last_ids.items():
                if last == "$":
                    newest = cast(
                        list[tuple[bytes, Any]], await self.client.xrevrange(keys.deltas(feed), count=1)
                    )
                    self.last_ids[feed] = newest[0][0].decode() if newest else "0-0"
        waiting, self.waiting = self.waiting, []
        by_sub: dict[Subscription, list[ServerConnection]] = {}
        for sub, ws in waiting:
            by_sub.setdefault(sub, []).append(ws)
        for sub, members in by_sub.items():
            message = json.dumps(await self.snapshot(sub))
            broadcast(members, message)
            self.groups.setdefault(sub, set()).update(members)
            self.sent += len(members)

    async def snapshot(self, sub: Subscription) -> SnapshotMessage | NoticeSnapshot:
        if sub.notices:  # a public screen: when each feed's figures are from, nothing else
            as_of: dict[str, AsOf] = {}
            for feed in sorted(sub.feeds):
                raw = await self.client.hget(keys.snapshot(feed), keys.META_FIELD)
                as_of[feed] = {"as_of": _meta(raw)["as_of"] if raw else None}
            return {"type": "changed", "server_time": _now(), "feeds": as_of}
        fields = sub.kpi_fields()
        feeds: dict[str, FeedSnapshot] = {}
        for feed in sorted(sub.feeds):
            values = await self.client.hmget(keys.snapshot(feed), [keys.META_FIELD, *fields])
            units = sorted(sub.series)
            series = await self.client.hmget(keys.series(feed), units) if units else []
            kpis: dict[str, Kpis] = {f: kpis_of(v) for f, v in zip(fields, values[1:], strict=True) if v}
            docs: dict[str, SeriesDocument] = {
                u: json.loads(v) for u, v in zip(units, series, strict=True) if v
            }
            active = alert_store.merge(
                await self.client.hgetall(keys.alerts(feed)), await self.client.hgetall(keys.alert_acks(feed))
            )
            feeds[feed] = {
                "meta": _meta(values[0]) if values[0] else None,
                "kpis": kpis,
                "series": docs,
                "alerts": sub.visible_alerts(list(active.values())),
            }
        return {"type": "snapshot", "server_time": _now(), "feeds": feeds, "health": self.health}

    def fan_out(self, delta: DeltaDocument) -> None:
        for sub, members in list(self.groups.items()):
            if delta["feed"] in sub.feeds:
                self._broadcast(members, json.dumps(sub.filter(delta)))

    def _broadcast(self, members: set[ServerConnection], message: str) -> None:
        healthy = []
        for ws in list(members):
            if ws.transport.get_write_buffer_size() > self.settings.max_buffer_bytes:
                self.dropped_slow += 1
                members.discard(ws)
                ws.transport.abort()  # it reconnects and starts again from a snapshot
            else:
                healthy.append(ws)
        broadcast(healthy, message)
        self.sent += len(healthy)

    # ---- sessions ----------------------------------------------------------------------

    async def watch_sessions(self) -> None:
        while not self.stopping.is_set():
            await self.check_sessions()
            await asyncio.sleep(self.settings.session_check_s)

    async def check_sessions(self) -> None:
        """Close every socket whose session has ended: one read per account, not per socket."""
        by_login: dict[str, dict[str, list[ServerConnection]]] = {}
        for ws, (login, sid) in self.screens.items():
            by_login.setdefault(login, {}).setdefault(sid, []).append(ws)
        if not by_login:
            return
        pipe = self.client.pipeline(transaction=False)
        for login, sids in by_login.items():
            pipe.hmget(keys.sessions(login), list(sids))
        now = time.time()
        for sids, values in zip(by_login.values(), await pipe.execute(), strict=True):
            for (_sid, members), raw in zip(sids.items(), values, strict=True):
                if reason := sessions.verdict(raw, now):
                    for ws in members:
                        self.end_screen(ws, f"session ended: {reason}")

    def end_screen(self, ws: ServerConnection, reason: str) -> None:
        """Stop sending to the screen at once and close its socket with the reason."""
        self.screens.pop(ws, None)
        for members in self.groups.values():
            members.discard(ws)
        self.ended += 1
        task = asyncio.create_task(ws.close(SESSION_ENDED, reason))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    # ---- feed health -------------------------------------------------------------------

    async def watch_health(self) -> None:
        while not self.stopping.is_set():
            current = await self.read_health()
            if current != self.health:
                self.health = current
                health: HealthMessage = {"type": "health", "server_time": _now(), "feeds": current}
                message = json.dumps(health)
                for sub, members in list(self.groups.items()):
                    if not sub.notices:  # connectors' errors are for the rooms, not the public
                        self._broadcast(members, message)
            await asyncio.sleep(self.settings.health_interval_s)

    async def read_health(self) -> dict[str, FeedHealth]:
        """Per feed: when its connectors last succeeded and failed, and the last error."""
        out: dict[str, FeedHealth] = {}
        for feed, connectors in self.feeds.items():
            pipe = self.client.pipeline(transaction=False)
            for name in connectors:
                pipe.hgetall(keys.connector_health(feed, name))
            found = [health_hash(h) for h in await pipe.execute()]
            success = [h["last_success_at"] for h in found if "last_success_at" in h]
            errors = [h for h in found if "last_error_at" in h]
            latest_error = max(errors, key=lambda h: h.get("last_error_at", ""), default=None)
            out[feed] = {
                "last_success_at": max(success) if success else None,
                "last_error_at": latest_error.get("last_error_at") if latest_error else None,
                "last_error": latest_error.get("last_error") if latest_error else None,
            }
        return out
