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

import json
from dataclasses import dataclass
from datetime import datetime

import redis

from ioc import keys
from ioc.cases import cases_field
from ioc.config import AlertRule, ConfigError
from ioc.documents import WINDOWS, AlertCondition, entry_of, kpis_of
from ioc.feeds import FEED_SPECS
from ioc.units import UnitTable


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
            check_level(name, rule, self.units)

    def evaluate(
        self, client: redis.Redis, snapshot: dict[str, str], as_of: datetime
    ) -> dict[str, AlertCondition]:
        """Every condition that holds now, by alert id."""
        found: dict[str, AlertCondition] = {}
        names = self.units.names()
        for name, rule in self.rules.items():
            for unit, value, threshold in self._check(client, rule, snapshot, as_of):
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
        return found

    def _check(
        self, client: redis.Redis, rule: AlertRule, snapshot: dict[str, str], as_of: datetime
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


def level_of(rule: AlertRule, units: UnitTable) -> str:
    """The level of the units a rule checks: its own, or the level below the province when it names
    none (the districts before 2025, the areas in 2025)."""
    return rule.level or units.middle


def check_level(name: str, rule: AlertRule, units: UnitTable) -> None:
    """Refuse a rule at a level the configured scheme does not have (districts are pre-2025 units,
    areas 2025 ones), naming the rule and the scheme: it would never be raised."""
    if rule.kind == "stale" or rule.level not in ("district", "area") or rule.level == units.middle:
        return  # a stale feed is the province's, whatever the level says
    raise ConfigError(
        f"alerts.{name}.level: {rule.level!r} is not a level of the scheme {units.scheme} "
        f"(boundaries.scheme): its units below the province are {units.middle}s; "
        f'use level = "{units.middle}", or leave level unset for the level below the province'
    )
