"""Alert rules in the domain's terms, evaluated by each feed's aggregator after every commit.

An alert is one rule broken at one unit (the province, a district before 2025, an area in 2025, a
commune): the rule, the unit, the value and the threshold it crossed, and how to read them
(``kind``, ``comparison``, ``kpi``, ``window``). It is raised once, when the condition starts; its
value is kept current while it lasts; it is cleared when the condition ends. A duty officer
acknowledges it, and who and when stay on the alert. How alerts are kept in Redis is
:mod:`ioc.alert_store`; the pages say them in their reader's language (``layouts.alert_text``:
"Huyện Tân Châu: đúng hạn 7 ngày 86,5% < 90%", in 2025 "Khu vực Tân Châu cũ: ..."), never the
aggregator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from ioc import keys
from ioc.alert_rules import RuleBook, check_all
from ioc.config import AlertRule, ConfigError
from ioc.documents import AlertCondition, entry_of, kpis_of
from ioc.silences import Silences
from ioc.units import UnitTable

CaseLists = Callable[[str], list[dict[str, Any]] | None]  # a unit's overdue cases, None: no list


@dataclass
class Alerts:
    """The rules of one feed, evaluated against what its aggregator just computed: ``rules``, or
    with a ``book`` the rules in force for the feed (those saved on the rules page included)."""

    feed: str
    rules: dict[str, AlertRule]
    units: UnitTable
    connectors: list[str]
    book: RuleBook | None = None
    silences: Silences | None = None

    def __post_init__(self) -> None:
        """Refuse a rule that cannot be evaluated, naming it, rather than never raising it."""
        for name, rule in self.rules.items():
            if rule.feed != self.feed:
                raise ConfigError(f"alerts.{name}.feed: {rule.feed!r} is not the feed {self.feed!r}")
        check_all(self.rules, self.units)

    def moved(self) -> bool:
        """Whether the rules or the silences changed since they were last read."""
        rules = self.book is not None and self.book.refresh()
        return (self.silences is not None and self.silences.refresh()) or rules

    def in_force(self) -> dict[str, AlertRule]:
        """The feed's rules now."""
        if self.book is None:
            return self.rules
        return {name: rule for name, rule in self.book.current().items() if rule.feed == self.feed}

    def evaluate(
        self,
        client: redis.Redis,
        snapshot: dict[str, str],
        as_of: datetime,
        cases: CaseLists | None = None,
    ) -> dict[str, AlertCondition]:
        """Every condition that holds now, by alert id. ``cases``: a unit's work list (a case rule
        counts in it), None where the unit has none."""
        found: dict[str, AlertCondition] = {}
        names = self.units.names()
        for name, rule in self.in_force().items():
            for unit, value, threshold in self._check(client, rule, snapshot, as_of, cases):
                found[f"{name}|{unit}"] = {
                    "id": f"{name}|{unit}",
                    "rule": name,
                    "feed": self.feed,
                    "unit": unit,
                    "unit_name": names.get(unit, unit),  # a place's name, the same in every language
                    "kind": rule.kind,
                    "kpi": rule.kpi,
                    "window": rule.window if rule.kind == "kpi" else None,
                    "comparison": "below" if rule.below is not None else "above",
                    "value": value,  # a stale feed's: minutes since its last success, -1: never
                    "threshold": threshold,
                }
                until = self.silences.until(found[f"{name}|{unit}"], as_of) if self.silences else None
                if until is not None:
                    found[f"{name}|{unit}"]["silenced_until"] = until.astimezone(UTC).isoformat(
                        timespec="seconds"
                    )
        return found

    def _check(
        self,
        client: redis.Redis,
        rule: AlertRule,
        snapshot: dict[str, str],
        as_of: datetime,
        cases: CaseLists | None,
    ) -> list[tuple[str, float, float]]:
        if rule.kind == "stale":
            return self._stale(client, rule, as_of)
        out = []
        for unit in self.units.level_codes(level_of(rule, self.units)):
            if rule.kind == "kpi":
                doc = snapshot.get(keys.snapshot_field(unit, rule.window))
                entry = entry_of(kpis_of(doc), rule.kpi or "") if doc else None
                value = entry["value"] if entry else None
            else:
                listed = cases(unit) if cases is not None else None
                if listed is None:
                    continue
                value = sum(all(c.get(k) == v for k, v in rule.where.items()) for c in listed)
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


def level_of(rule: AlertRule, units: UnitTable) -> str:
    """The level of the units a rule checks: its own, or the level below the province when it names
    none (the districts before 2025, the areas in 2025)."""
    return rule.level or units.middle
