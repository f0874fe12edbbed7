"""The active alerts of a feed in Redis: a hash beside its snapshot, the acknowledgements in a hash
of their own, every change an event in a bounded log stream, and the whole active list in the
feed's delta for every screen.

An alert is data, not prose: its rule, unit, value and threshold (``ioc.alerts`` says what each
holds). The pages write it in their reader's language (``layouts.alert_text``, and the same in
``realtime.js``), so nothing here knows a language. Light on purpose: the relay reads the active
alerts through ``merge`` and must not load the aggregation to do so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

import redis

from ioc import keys
from ioc.documents import Alert, AlertAck, AlertCondition, AlertLogEvent, DeltaDocument

LOG_MAXLEN = 10_000
DELTAS_MAXLEN = 1000  # as the aggregator's


@dataclass(frozen=True)
class Changes:
    """What a commit does to the active alerts: raised, still active (value updated), cleared."""

    active: dict[str, Alert]
    raised: list[str]
    cleared: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.raised or self.cleared)


def reconcile(previous: dict[str, Alert], now: dict[str, AlertCondition], at: datetime) -> Changes:
    """New conditions are raised (since now); lasting ones keep the moment they started."""
    when = stamp(at)
    active = {k: _since(v, previous[k]["since"] if k in previous else when) for k, v in now.items()}
    return Changes(active, sorted(set(now) - set(previous)), sorted(set(previous) - set(now)))


def _since(condition: AlertCondition, since: str) -> Alert:
    # a cast: mypy will not spread a TypedDict into one with keys (the acknowledgement's) it lacks
    return cast(Alert, {**condition, "since": since})


def with_ack(alert: Alert, previous: Alert | None) -> Alert:
    """``alert`` with who acknowledged ``previous`` (the same occurrence) and when, if anyone has."""
    if previous is None or "acked_by" not in previous or "acked_at" not in previous:
        return alert
    acked: Alert = {**alert, "acked_by": previous["acked_by"], "acked_at": previous["acked_at"]}
    if previous.get("ack_comment"):
        acked["ack_comment"] = previous["ack_comment"]
    return acked


def write(pipe: Any, feed: str, changes: Changes, previous: dict[str, Alert], at: datetime) -> None:
    """Queue the changes on the aggregator's transaction: the active hash and one event per change.
    Acknowledgements live in their own hash, written by people, so a commit never overwrites one."""
    when = stamp(at)
    updated = {
        k: json.dumps(v, ensure_ascii=False) for k, v in changes.active.items() if _bare(previous.get(k)) != v
    }
    if updated:
        pipe.hset(keys.alerts(feed), mapping=updated)
    if changes.cleared:
        pipe.hdel(keys.alerts(feed), *changes.cleared)
        pipe.hdel(keys.alert_acks(feed), *(_ack_field(previous[k]) for k in changes.cleared))
    for alert_id in changes.raised:
        _log(pipe, feed, "raised", changes.active[alert_id], when)
    for alert_id in changes.cleared:
        _log(pipe, feed, "cleared", previous[alert_id], when)


def stamp(at: datetime) -> str:
    """An instant as the alert log writes it (UTC, to the second): text that sorts as time does."""
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _bare(alert: Alert | None) -> dict[str, object] | None:
    return None if alert is None else {k: v for k, v in alert.items() if k not in ("acked_by", "acked_at")}


def _ack_field(alert: Alert) -> str:
    """An acknowledgement is of one occurrence: raised again later, the alert is new."""
    return f"{alert['id']}|{alert['since']}"


def _log(
    pipe: Any,
    feed: str,
    event: Literal["raised", "cleared", "acknowledged"],
    alert: Alert,
    when: str,
    by: str | None = None,
    comment: str = "",
) -> None:
    """One event of the log: what happened to which alert, with its rule, unit, value and threshold
    (a stream's fields are strings)."""
    fields: AlertLogEvent = {
        "event": event,
        "id": alert["id"],
        "at": when,
        "rule": alert["rule"],
        "unit": alert["unit"],
        "value": str(alert["value"]),
        "threshold": str(alert["threshold"]),
        "since": alert["since"],
    }
    if by is not None:
        fields["by"] = by
    if comment:
        fields["comment"] = comment
    pipe.xadd(keys.alert_log(feed), fields, maxlen=LOG_MAXLEN, approximate=True)


def history(client: redis.Redis, feed: str, alert_id: str, scan: int = LOG_MAXLEN) -> list[dict[str, str]]:
    """The events of one alert in the feed's log (every occurrence), oldest first."""
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrevrange(keys.alert_log(feed), count=scan))
    found = [{k.decode(): v.decode() for k, v in f.items()} for _i, f in raw]
    return [e for e in reversed(found) if e.get("id") == alert_id]


def read_active(client: redis.Redis, feed: str) -> dict[str, Alert]:
    """The feed's active alerts, each with who acknowledged it and when, if anyone has."""
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(keys.alerts(feed))
    pipe.hgetall(keys.alert_acks(feed))
    return merge(*pipe.execute())


def merge(raw_active: Mapping[Any, Any], raw_acks: Mapping[Any, Any]) -> dict[str, Alert]:
    """The two hashes as read from Redis, as one dict of alerts with their acknowledgements."""
    acks: dict[str, AlertAck] = {_text(k): json.loads(v) for k, v in raw_acks.items()}
    active: dict[str, Alert] = {_text(k): json.loads(v) for k, v in raw_active.items()}
    return {k: _acked(v, acks.get(_ack_field(v))) for k, v in active.items()}


def _acked(alert: Alert, ack: AlertAck | None) -> Alert:
    return alert if ack is None else {**alert, **ack}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class UnknownAlert(LookupError):
    pass


def acknowledge(
    client: redis.Redis, feed: str, alert_id: str, by: str, at: datetime, comment: str = ""
) -> Alert:
    """Record who acknowledged an active alert, when and with what comment (already redacted by
    the caller), and tell every screen through the feed's delta stream."""
    active = read_active(client, feed)
    if alert_id not in active:
        raise UnknownAlert(f"no active alert {alert_id!r} on feed {feed!r} (cleared already?)")
    when = stamp(at)
    ack: AlertAck = {"acked_by": by, "acked_at": when}
    if comment:
        ack["ack_comment"] = comment
    active[alert_id] = _acked(active[alert_id], ack)
    delta: DeltaDocument = {
        "feed": feed,
        "meta": None,
        "kpis": {},
        "series": {},
        "alerts": list(active.values()),
    }
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.alert_acks(feed), _ack_field(active[alert_id]), json.dumps(ack, ensure_ascii=False))
    _log(pipe, feed, "acknowledged", active[alert_id], when, by=by, comment=comment)
    pipe.xadd(
        keys.deltas(feed),
        {"d": json.dumps(delta, ensure_ascii=False)},
        maxlen=DELTAS_MAXLEN,
        approximate=True,
    )
    pipe.execute()
    return active[alert_id]
