"""Alert delivery: the alerts of every feed to the people away from the screens (``ioc deliver``).

Three steps, each safe to stop at any point:

1. **Route.** The process reads every feed's alert log (``ioc:{<feed>}:alerts:log``) in its own
   consumer group (``delivery``, created at the log's end: what was logged before delivery first
   ran is not sent, the scan below finds what is still active). Each event is matched against the
   routes (feed, unit and the units inside it, level, severity); each matching contact point gets a
   message in the outbox (``ioc:{delivery}:outbox``) through a gate, in one transaction: a raise is
   let through once per ``group_min`` per alert and contact point, a resolution only where the
   raise was sent. The log entry is acknowledged after; read again after a crash, its gates are
   closed, so it is not queued twice.
2. **Scan.** Every ``SCAN_S`` the active alerts are read: one still unacknowledged and not
   silenced (:mod:`ioc.silences`: a silence holds back raises, reminders and escalations) is said again
   to its contact points once ``group_min`` has passed since the last message (a reminder), and
   past a route's ``escalate_after_min`` it goes to that route's ``escalate_to`` once.
3. **Send.** Messages are read from the outbox in the consumer group ``senders`` and sent. A
   message sent is marked done (``done:<id>``, for ``group_min``) with its acknowledgement in one
   transaction: read again after a crash between the send and the mark, it may be sent twice (at
   least once); after the mark, never. A failed send goes to ``retry`` with its next time
   (``retry_first_s`` doubling up to ``retry_max_s``) and comes back into the outbox when due;
   after ``give_up_h`` it goes to ``dead`` with the last error. Each contact point's last success
   and error are kept in ``health`` for the feed-health board.

Nothing here blocks an aggregator: they only write the alert log, as before.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import holidays
import redis

from ioc import alert_store, keys
from ioc.alert_rules import RuleBook
from ioc.config_delivery import DeliverySettings, Event, Route
from ioc.senders import Sender, SendError
from ioc.silences import Silences
from ioc.units import UnitTable

log = logging.getLogger(__name__)

GROUP = "delivery"
SENDERS = "senders"
CONSUMER = "deliver"  # one delivery process: its own pending messages are read again at its start
SCAN_S = 30.0
OUTBOX_MAXLEN = 100_000
LOG_MAXLEN = 100_000
NOTIFIED_TTL_S = 30 * 86400
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Let a message through a gate: 'open' if KEYS[2] last opened ARGV[2] s or more before now
# (ARGV[7]), marking it and KEYS[3] (to ARGV[3], for ARGV[4] s); 'close' only if KEYS[2] is set,
# deleting it. Through, it goes to the outbox, or with a time ARGV[8] to the retries (KEYS[4])
# to wait for it.
# The gates hold the time they last opened (the process's clock, not Redis's: the same clock
# decides reminders and escalation) and expire an hour after they would reopen.
_GATE = """
if ARGV[1] == 'open' then
  local last = redis.call('GET', KEYS[2])
  if last and tonumber(last) + tonumber(ARGV[2]) > tonumber(ARGV[7]) then return 0 end
  redis.call('SET', KEYS[2], ARGV[7], 'EX', math.floor(tonumber(ARGV[2])) + 3600)
  redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
elseif redis.call('DEL', KEYS[2]) == 0 then
  return 0
end
if ARGV[8] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[8], ARGV[6])  -- held until a mute time ends
else
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'm', ARGV[6])
end
return 1
"""
# Due retries back into the outbox, atomically (a member moved once).
_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'm', m)
end
return #due
"""


@dataclass
class Delivery:
    client: redis.Redis
    settings: DeliverySettings
    units: UnitTable
    rules: RuleBook
    senders: dict[str, Sender]
    feeds: list[str]
    k: int
    compose: Callable[..., Any]  # the words of a message (layouts.alert_messages.compose)
    clock: Callable[[], float] = time.time
    silences: Silences | None = None
    scanned: float = field(default=-float("inf"))
    public_holidays: Any = field(default_factory=lambda: holidays.country_holidays("VN"))
    sent: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        self.gate = self.client.register_script(_GATE)
        self.due = self.client.register_script(_DUE)

    def ensure_groups(self) -> None:
        for stream, start in [
            *((keys.alert_log(f), "$") for f in self.feeds),
            (keys.delivery("outbox"), "0"),
        ]:
            try:
                self.client.xgroup_create(
                    stream, GROUP if stream != keys.delivery("outbox") else SENDERS, id=start, mkstream=True
                )
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def step(self, block_ms: int = 1000) -> int:
        """One round: route new events, scan if due, move due retries, send; the work done."""
        done = self.route(block_ms)
        if self.clock() - self.scanned >= SCAN_S:
            self.scan()
        done += int(
            self.due(
                keys=[keys.delivery("retry"), keys.delivery("outbox")], args=[self.clock(), OUTBOX_MAXLEN]
            )
        )
        return done + self.send()

    # ---- 1. route ---------------------------------------------------------------------------

    def route(self, block_ms: int) -> int:
        streams: dict[Any, Any] = {keys.alert_log(f): ">" for f in self.feeds}
        pending = self.client.xreadgroup(GROUP, CONSUMER, dict.fromkeys(streams, "0"), count=100)
        reply = self.client.xreadgroup(GROUP, CONSUMER, streams, count=100, block=block_ms)
        seen = 0
        for stream, entries in [*(cast(list[Any], pending) or []), *(cast(list[Any], reply) or [])]:
            feed = _feed_of(stream.decode() if isinstance(stream, bytes) else stream, self.feeds)
            for entry_id, raw in entries:
                try:
                    if raw:
                        self._routed(feed, {k.decode(): v.decode() for k, v in raw.items()})
                except (KeyError, ValueError) as exc:  # a malformed event: said, never a crash loop
                    log.error("alert log %s entry %s not routed: %r", feed, entry_id.decode(), exc)
                self.client.xack(stream, GROUP, entry_id)
                seen += 1
        return seen

    def _routed(self, feed: str, event: dict[str, str]) -> None:
        kind = event.get("event")
        if kind not in ("raised", "cleared"):
            return  # an acknowledgement stops reminders and escalation (the scan), no message
        alert = self._alert(feed, event)
        if alert is None or (kind == "raised" and self.silenced(alert)):
            return
        now = datetime.fromtimestamp(self.clock(), UTC)
        for route in self.matching(alert):
            quiet_until = self.muted_until(route, now)
            if quiet_until is not None and kind == "raised":
                continue  # said after the quiet time by the scan, if still on
            points = route.contact_points
            if kind == "cleared":  # to whoever heard of it, escalation included (the gate knows who)
                points = [*points, *route.escalate_to]
            for point in sorted(set(points)):
                self._enqueue(cast(Event, kind), point, alert, held_until=quiet_until)

    def _alert(self, feed: str, event: dict[str, str]) -> dict[str, Any] | None:
        """The alert of a log event, completed from its rule in force and the unit table."""
        rule = self.rules.current().get(event["rule"])
        if rule is None:
            return None
        return {
            "id": event["id"],
            "rule": event["rule"],
            "feed": feed,
            "unit": event["unit"],
            "unit_name": self.units.names().get(event["unit"], event["unit"]),
            "kind": rule.kind,
            "kpi": rule.kpi,
            "window": rule.window if rule.kind == "kpi" else None,
            "comparison": "below" if rule.below is not None else "above",
            "severity": rule.severity,
            "value": float(event["value"]),
            "threshold": float(event["threshold"]),
            "since": event.get("since") or event["at"],
            "at": event["at"],
        }

    def silenced(self, alert: Mapping[str, Any]) -> bool:
        """A silence matches the alert now: no raise, reminder or escalation (a resolution of
        what was sent before still goes)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        return self.silences is not None and self.silences.until(alert, now) is not None

    def matching(self, alert: dict[str, Any]) -> list[Route]:
        level = self.units.level(alert["unit"]) or "province"
        severity = alert.get("severity") or self.rules.current()[alert["rule"]].severity
        return [
            r
            for r in self.settings.routes.values()
            if (not r.feeds or alert["feed"] in r.feeds)
            and (not r.levels or level in r.levels)
            and (not r.severities or severity in r.severities)
            and (not r.units or self._inside(alert["unit"], r.units))
        ]

    def _inside(self, unit: str, scope: Iterable[str]) -> bool:
        wanted, current = set(scope), cast(str | None, unit)
        while current is not None:
            if current in wanted:
                return True
            current = self.units.parent(current)
        return False

    def muted_until(self, route: Route, now: datetime) -> datetime | None:
        """The end of the route's quiet time ``now`` is in (UTC), or None if it is in none."""
        quiet = [self.settings.mute_times[name] for name in route.mute_times]
        moment = now.astimezone(TZ)
        if not any(m.holds(moment, self.public_holidays) for m in quiet):
            return None
        for _step in range(14 * 24 * 12):  # five-minute steps, two weeks at most (Tết)
            moment = (moment + timedelta(minutes=5)).replace(second=0, microsecond=0)
            moment -= timedelta(minutes=moment.minute % 5)
            if not any(m.holds(moment, self.public_holidays) for m in quiet):
                return moment.astimezone(UTC)
        return moment.astimezone(UTC)

    def _enqueue(
        self,
        event: Event,
        point: str,
        alert: dict[str, Any],
        escalation: str | None = None,
        held_until: datetime | None = None,
    ) -> bool:
        """Queue ``event`` for ``point`` if its gate lets it through (see the module): the
        alert's group gate, the escalation's own (once per occurrence), or for a resolution the
        mark that the raise was sent."""
        message: dict[str, Any] = {"id": str(uuid.uuid4()), "event": event, "point": point, "alert": alert}
        message |= {"at": alert.get("at") or _now_iso(self.clock()), "first_at": self.clock(), "attempt": 0}
        notified = keys.delivery(f"notified:{point}:{alert['id']}")
        if event == "cleared":
            mode, gate, ttl = "close", notified, 0
        elif escalation is not None:
            mode, gate, ttl = "open", escalation, NOTIFIED_TTL_S
        else:
            mode, gate, ttl = "open", keys.delivery(f"group:{point}:{alert['id']}"), self._group_s()
        body = json.dumps(message, ensure_ascii=False)
        held = "" if held_until is None else held_until.timestamp()
        args = [mode, ttl, alert["since"], NOTIFIED_TTL_S, OUTBOX_MAXLEN, body, self.clock(), held]
        found = [keys.delivery("outbox"), gate, notified, keys.delivery("retry")]
        return bool(self.gate(keys=found, args=args))

    def _group_s(self) -> int:
        return max(1, int(self.settings.group_min * 60))

    # ---- 2. scan ----------------------------------------------------------------------------

    def scan(self) -> None:
        """Reminders of active alerts nobody acknowledged, and escalations past their delay."""
        self.scanned = now = self.clock()
        for feed in self.feeds:
            for alert in alert_store.read_active(self.client, feed).values():
                if alert.get("acked_by") or alert["rule"] not in self.rules.current() or self.silenced(alert):
                    continue
                shown = {
                    **alert,
                    "severity": self.rules.current()[alert["rule"]].severity,
                    "at": _now_iso(now),
                }
                at = datetime.fromtimestamp(now, UTC)
                routes = [r for r in self.matching(shown) if self.muted_until(r, at) is None]
                age_min = (now - datetime.fromisoformat(alert["since"]).timestamp()) / 60
                if age_min >= self.settings.group_min:  # a fresh one: its raise is (being) sent
                    for point in sorted({p for r in routes for p in r.contact_points}):
                        self._enqueue("reminder", point, shown)
                for route in routes:
                    if route.escalate_after_min is not None and age_min >= route.escalate_after_min:
                        for point in route.escalate_to:
                            gate = keys.delivery(f"escalated:{point}:{alert['id']}|{alert['since']}")
                            self._enqueue("escalated", point, shown, escalation=gate)

    # ---- 3. send ----------------------------------------------------------------------------

    def send(self, count: int = 50) -> int:
        outbox = keys.delivery("outbox")
        mine = self.client.xreadgroup(SENDERS, CONSUMER, {outbox: "0"}, count=count)
        new = self.client.xreadgroup(SENDERS, CONSUMER, {outbox: ">"}, count=count)
        handled = 0
        for _stream, entries in [*(cast(list[Any], mine) or []), *(cast(list[Any], new) or [])]:
            for entry_id, raw in entries:
                if raw:
                    self._send_one(entry_id, json.loads(raw[b"m"]))
                else:
                    self.client.xack(outbox, SENDERS, entry_id)  # trimmed before it was sent
                handled += 1
        return handled

    def _send_one(self, entry_id: bytes, message: dict[str, Any]) -> None:
        outbox, point = keys.delivery("outbox"), message["point"]
        done = keys.delivery(f"done:{message['id']}")
        if self.client.exists(done):
            self.client.xack(outbox, SENDERS, entry_id)
            return
        pipe = self.client.pipeline(transaction=True)
        health = keys.delivery("health")
        stamp = _now_iso(self.clock())
        try:
            sender = self.senders[point]
            alert = message["alert"]
            text = self.compose(
                message["event"],
                alert,
                self.rules.current(),
                level=self.units.level(alert["unit"]) or "province",
                link_base=self.settings.link_base,
                k=self.k,
                at=datetime.fromisoformat(message["at"]),
            )
            sender.send(message["id"], text.subject, text.text, text.payload)
        except Exception as exc:  # a send that fails in any way is retried, never a crash loop
            self.failed += 1
            reason = str(exc) if isinstance(exc, SendError) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, KeyError) and point not in self.senders:
                reason = f"no contact point {point!r} any more"
            retry = min(self.settings.retry_max_s, self.settings.retry_first_s * 2 ** message["attempt"])
            message |= {"attempt": message["attempt"] + 1, "error": reason}
            if self.clock() - message["first_at"] > self.settings.give_up_h * 3600 or isinstance(
                exc, KeyError
            ):
                pipe.xadd(
                    keys.delivery("dead"),
                    {"m": json.dumps(message, ensure_ascii=False)},
                    maxlen=10_000,
                    approximate=True,
                )
                log.error("delivery to %s given up: %s", point, reason)
                self._logged(pipe, message, "given_up", stamp)
            else:
                pipe.zadd(
                    keys.delivery("retry"), {json.dumps(message, ensure_ascii=False): self.clock() + retry}
                )
                log.warning(
                    "delivery to %s failed (attempt %d, again in %.0f s): %s",
                    point,
                    message["attempt"],
                    retry,
                    reason,
                )
            pipe.hset(health, f"{point}:last_error", reason)
            pipe.hset(health, f"{point}:last_error_at", stamp)
            pipe.xack(outbox, SENDERS, entry_id)
            pipe.execute()
            return
        self.sent += 1
        self._logged(pipe, message, "sent", stamp)
        pipe.set(done, 1, ex=max(1, int(self.settings.group_min * 60)))
        pipe.hset(health, f"{point}:last_success_at", stamp)
        pipe.xack(outbox, SENDERS, entry_id)
        pipe.execute()

    def _logged(self, pipe: Any, message: dict[str, Any], outcome: str, stamp: str) -> None:
        """The delivery log, for an alert's history: which message went (or was given up) where."""
        alert = message["alert"]
        fields = {
            "alert": alert["id"],
            "feed": alert["feed"],
            "since": alert["since"],
            "event": message["event"],
        }
        fields |= {"point": message["point"], "outcome": outcome, "at": stamp}
        pipe.xadd(keys.delivery("log"), fields, maxlen=LOG_MAXLEN, approximate=True)


def _feed_of(stream: str, feeds: list[str]) -> str:
    return next(f for f in feeds if keys.alert_log(f) == stream)


def _now_iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
