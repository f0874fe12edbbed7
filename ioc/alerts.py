"""Alert rules in the domain's terms, evaluated by each feed's aggregator after every commit.

An alert is one rule broken at one unit ("Huyện Tân Châu: đúng hạn 7 ngày 86,5% < 90%"). It is
raised once, when the condition starts; its value is kept current while it lasts; it is cleared
when the condition ends. A duty officer acknowledges it, and who and when stay on the alert. The
active alerts of a feed are a hash beside its snapshot, every change is an event in a bounded
log stream, and the feed's delta carries the active list to every screen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from ioc import keys
from ioc.cases import cases_field
from ioc.config import AlertRule, ConfigError
from ioc.feeds import FEED_SPECS
from ioc.schemas import WINDOWS
from ioc.units import UnitTable
from layouts import format as fmt  # the pages' number formats
from layouts.i18n import _, using

LOG_MAXLEN = 10_000
DELTAS_MAXLEN = 1000  # as the aggregator's


@dataclass
class Alerts:
    """The rules of one feed, evaluated against what its aggregator just computed."""

    feed: str
    rules: dict[str, AlertRule]
    units: UnitTable
    connectors: list[str]

    def __post_init__(self) -> None:
        """Refuse a rule that cannot be evaluated, naming it, rather than never raising it."""
        spec = FEED_SPECS.get(self.feed)
        for name, rule in self.rules.items():
            where = f"alerts.{name}"
            if spec is None or rule.feed != self.feed:
                raise ConfigError(f"{where}.feed: {rule.feed!r} is not the feed {self.feed!r}")
            if rule.kind == "kpi" and rule.kpi not in {k.name for k in spec.kpis}:
                known = ", ".join(k.name for k in spec.kpis)
                raise ConfigError(f"{where}.kpi: {rule.kpi!r} is not a KPI of {self.feed} ({known})")
            if rule.kind == "kpi" and rule.window not in WINDOWS:
                raise ConfigError(f"{where}.window: {rule.window!r} is not one of {', '.join(WINDOWS)}")
            if rule.kind == "cases" and spec.cases is None:
                raise ConfigError(f"{where}.kind: {self.feed} keeps no case list")

    def evaluate(
        self, client: redis.Redis, snapshot: dict[str, str], as_of: datetime
    ) -> dict[str, dict[str, Any]]:
        """Every condition that holds now, by alert id."""
        found: dict[str, dict[str, Any]] = {}
        names = self.units.names()
        for name, rule in self.rules.items():
            for unit, value, threshold in self._check(client, rule, snapshot, as_of):
                where = names.get(unit, unit)
                with using("en"):
                    text_en = f"{where}: {rule.title_en or rule.title} {_describe(rule, value, threshold)}"
                found[f"{name}|{unit}"] = {
                    "id": f"{name}|{unit}",
                    "rule": name,
                    "feed": self.feed,
                    "unit": unit,
                    "unit_name": names.get(unit, unit),
                    "value": value,
                    "threshold": threshold,
                    "text": f"{where}: {rule.title} {_describe(rule, value, threshold)}",
                    "text_en": text_en,
                }
        return found

    def _check(
        self, client: redis.Redis, rule: AlertRule, snapshot: dict[str, str], as_of: datetime
    ) -> list[tuple[str, float, float]]:
        if rule.kind == "stale":
            return self._stale(client, rule, as_of)
        out = []
        for unit in self.units.level_codes(rule.level):
            if rule.kind == "kpi":
                doc = snapshot.get(keys.snapshot_field(unit, rule.window))
                entry = json.loads(doc)["kpis"].get(rule.kpi or "", {}) if doc else {}
                value = entry.get("value")
            else:
                cases = snapshot.get(cases_field(unit))
                if cases is None:
                    continue
                value = sum(all(c.get(k) == v for k, v in rule.where.items()) for c in json.loads(cases))
            if not isinstance(value, int | float):
                continue
            threshold = rule.below if rule.below is not None else rule.above
            assert threshold is not None
            broken = value < threshold if rule.below is not None else value > threshold
            if broken:
                out.append((unit, float(value), threshold))
        return out

    def _stale(self, client: redis.Redis, rule: AlertRule, as_of: datetime) -> list[tuple[str, float, float]]:
        times = []
        for name in self.connectors:
            raw = client.hget(keys.connector_health(self.feed, name), "last_success_at")
            if isinstance(raw, bytes):
                times.append(datetime.fromisoformat(raw.decode()))
        newest = max(times, default=None)
        minutes = (as_of - newest).total_seconds() / 60 if newest else float("inf")
        if minutes <= rule.minutes:
            return []
        return [(self.units.province, minutes if newest else -1.0, rule.minutes)]


def _describe(rule: AlertRule, value: float, threshold: float) -> str:
    """The condition in the reader's language: "86,5% < 90%", "25 > 20", "17 phút (ngưỡng 15 phút)"."""
    if rule.kind == "stale":
        if value < 0:
            return _("chưa từng có số liệu")
        return _("{m} phút (ngưỡng {limit} phút)").format(m=int(value), limit=f"{threshold:g}")
    if rule.kind == "kpi" and rule.kpi and rule.kpi.endswith("rate"):
        return f"{fmt.percent(value)} {'<' if rule.below is not None else '>'} {fmt.percent(threshold, 0)}"
    return f"{fmt.number(value)} {'<' if rule.below is not None else '>'} {fmt.number(threshold)}"


@dataclass(frozen=True)
class Changes:
    """What a commit does to the active alerts: raised, still active (value updated), cleared."""

    active: dict[str, dict[str, Any]]
    raised: list[str]
    cleared: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.raised or self.cleared)


def reconcile(previous: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]], at: datetime) -> Changes:
    """New conditions are raised (since now); lasting ones keep the moment they started."""
    stamp = at.astimezone(UTC).isoformat(timespec="seconds")
    active = {k: {**v, "since": previous.get(k, {}).get("since", stamp)} for k, v in now.items()}
    return Changes(active, sorted(set(now) - set(previous)), sorted(set(previous) - set(now)))


def write(pipe: Any, feed: str, changes: Changes, previous: dict[str, dict[str, Any]], at: datetime) -> None:
    """Queue the changes on the aggregator's transaction: the active hash and one event per change.
    Acknowledgements live in their own hash, written by people, so a commit never overwrites one."""
    stamp = at.astimezone(UTC).isoformat(timespec="seconds")
    updated = {
        k: json.dumps(v, ensure_ascii=False) for k, v in changes.active.items() if _bare(previous.get(k)) != v
    }
    if updated:
        pipe.hset(keys.alerts(feed), mapping=updated)
    if changes.cleared:
        pipe.hdel(keys.alerts(feed), *changes.cleared)
        pipe.hdel(keys.alert_acks(feed), *(_ack_field(previous[k]) for k in changes.cleared))
    for alert_id in changes.raised:
        _log(
            pipe,
            feed,
            {"event": "raised", "id": alert_id, "at": stamp, "text": changes.active[alert_id]["text"]},
        )
    for alert_id in changes.cleared:
        _log(
            pipe, feed, {"event": "cleared", "id": alert_id, "at": stamp, "text": previous[alert_id]["text"]}
        )


def _bare(alert: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if alert is None else {k: v for k, v in alert.items() if k not in ("acked_by", "acked_at")}


def _ack_field(alert: dict[str, Any]) -> str:
    """An acknowledgement is of one occurrence: raised again later, the alert is new."""
    return f"{alert['id']}|{alert['since']}"


def _log(pipe: Any, feed: str, event: dict[str, str]) -> None:
    pipe.xadd(keys.alert_log(feed), event, maxlen=LOG_MAXLEN, approximate=True)


def read_active(client: redis.Redis, feed: str) -> dict[str, dict[str, Any]]:
    """The feed's active alerts, each with who acknowledged it and when, if anyone has."""
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(keys.alerts(feed))
    pipe.hgetall(keys.alert_acks(feed))
    return merge(*pipe.execute())


def merge(raw_active: Mapping[Any, Any], raw_acks: Mapping[Any, Any]) -> dict[str, dict[str, Any]]:
    """The two hashes as read from Redis, as one dict of alerts with their acknowledgements."""
    acks = {_text(k): json.loads(v) for k, v in raw_acks.items()}
    active = {_text(k): json.loads(v) for k, v in raw_active.items()}
    return {k: {**v, **acks.get(_ack_field(v), {})} for k, v in active.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class UnknownAlert(LookupError):
    pass


def acknowledge(client: redis.Redis, feed: str, alert_id: str, by: str, at: datetime) -> dict[str, Any]:
    """Record who acknowledged an active alert and when, and tell every screen through the
    feed's delta stream."""
    active = read_active(client, feed)
    if alert_id not in active:
        raise UnknownAlert(f"no active alert {alert_id!r} on feed {feed!r} (cleared already?)")
    stamp = at.astimezone(UTC).isoformat(timespec="seconds")
    ack = {"acked_by": by, "acked_at": stamp}
    active[alert_id] |= ack
    delta: dict[str, Any] = {
        "feed": feed,
        "meta": None,
        "kpis": {},
        "series": {},
        "alerts": list(active.values()),
    }
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.alert_acks(feed), _ack_field(active[alert_id]), json.dumps(ack, ensure_ascii=False))
    _log(
        pipe,
        feed,
        {"event": "acknowledged", "id": alert_id, "at": stamp, "by": by, "text": active[alert_id]["text"]},
    )
    pipe.xadd(
        keys.deltas(feed),
        {"d": json.dumps(delta, ensure_ascii=False)},
        maxlen=DELTAS_MAXLEN,
        approximate=True,
    )
    pipe.execute()
    return active[alert_id]
