"""The alert rules in force: the configuration's (``[alerts.*]``, else every feed's defaults),
overlaid by those an administrator saved on the rules page.

Saved rules live in one Redis hash, ``ioc:alert-rules`` (a field per rule name, the rule as JSON;
the field ``_version`` counts the changes), so a change is one transaction on one key, also on a
cluster. Each aggregator and web process holds a :class:`RuleBook`; it compares the version at
most every ``check_s`` and re-reads the hash when it moved, so a saved rule is applied at the
aggregators' next cycle and shown by the pages at their next request, without a restart.

A rule is checked the same way wherever it comes from (:func:`rule_error`): the configuration's
pydantic model (:class:`ioc.config.AlertRule`), then what only the feed and the scheme know (a
KPI of the feed, a window, a case list, a level of the scheme). A saved rule that no longer
passes (the configuration changed under it) is left out and logged, and the page says why.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, Literal, cast

import redis
from pydantic import ValidationError

from ioc import keys
from ioc.config import AlertRule, ConfigError
from ioc.documents import WINDOWS
from ioc.feeds import FEED_SPECS
from ioc.units import UnitTable

log = logging.getLogger(__name__)

NAME = re.compile(r"[a-z0-9][a-z0-9_]{0,62}")
VERSION = "_version"
Origin = Literal["file", "changed", "added"]


class RuleError(ValueError):
    """A rule refused, saying which field was wrong and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def rule_error(name: str, rule: AlertRule, units: UnitTable) -> RuleError | None:
    """What keeps ``rule`` from being evaluated (a KPI the feed does not have, ...), if anything."""
    spec = FEED_SPECS.get(rule.feed)
    if spec is None:
        return RuleError("feed", f"{rule.feed!r} is not a feed ({', '.join(FEED_SPECS)})")
    if rule.kind == "kpi" and rule.kpi not in {k.name for k in spec.kpis}:
        known = ", ".join(k.name for k in spec.kpis)
        return RuleError("kpi", f"{rule.kpi!r} is not a KPI of {rule.feed} ({known})")
    if rule.kind == "kpi" and rule.window not in WINDOWS:
        return RuleError("window", f"{rule.window!r} is not one of {', '.join(WINDOWS)}")
    if rule.kind == "cases" and spec.cases is None:
        return RuleError("kind", f"{rule.feed} keeps no case list")
    if rule.kind != "stale" and rule.level in ("district", "area") and rule.level != units.middle:
        return RuleError(
            "level",
            f"{rule.level!r} is not a level of the scheme {units.scheme} (boundaries.scheme): its "
            f'units below the province are {units.middle}s; use level = "{units.middle}", or leave '
            "level unset for the level below the province",
        )
    return None


def parse_rule(name: str, fields: Mapping[str, Any], units: UnitTable) -> AlertRule:
    """A rule from what a form or the API gave, validated exactly as the configuration's
    ``[alerts.<name>]`` table is; RuleError naming the field."""
    if not NAME.fullmatch(name):
        raise RuleError("name", "1 to 63 characters: lower-case letters, digits or '_', not '_' first")
    try:
        rule = AlertRule.model_validate(dict(fields))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "rule"
        raise RuleError(where, str(err["msg"]).removeprefix("Value error, ")) from None
    if wrong := rule_error(name, rule, units):
        raise wrong
    return rule


def check_all(rules: Mapping[str, AlertRule], units: UnitTable) -> None:
    """Refuse the configuration's rules that could not be evaluated, naming the rule (at start)."""
    for name, rule in rules.items():
        if wrong := rule_error(name, rule, units):
            raise ConfigError(f"alerts.{name}.{wrong}")


class RuleBook(Mapping[str, AlertRule]):
    """The rules in force, by name: a mapping that follows the saved rules (see the module)."""

    def __init__(
        self,
        client: redis.Redis,
        defaults: Mapping[str, AlertRule],
        units: UnitTable,
        *,
        check_s: float = 2.0,
    ) -> None:
        self.client = client
        self.defaults = dict(defaults)
        self.units = units
        self.check_s = check_s
        self.version: int | None = None
        self.checked = -float("inf")
        self.saved: dict[str, AlertRule] = {}
        self.broken: dict[str, str] = {}  # saved rules left out, and why
        self.rules = dict(self.defaults)

    # ---- reading --------------------------------------------------------------------------

    def refresh(self, *, now: float | None = None) -> bool:
        """Re-read the saved rules if they changed (checked at most every ``check_s``); True if
        the rules in force changed."""
        now = time.monotonic() if now is None else now
        if now - self.checked < self.check_s:
            return False
        self.checked = now
        raw = self.client.hget(keys.alert_rules(), VERSION)
        version = int(raw) if raw is not None else 0
        if version == self.version:
            return False
        stored = cast(dict[bytes, bytes], self.client.hgetall(keys.alert_rules()))
        self.saved, self.broken = {}, {}
        for field, value in stored.items():
            name = field.decode()
            if name == VERSION:
                version = int(value)
                continue
            try:
                self.saved[name] = parse_rule(name, json.loads(value), self.units)
            except (RuleError, ValueError) as exc:
                self.broken[name] = str(exc)
                log.error("alert rule %s saved on the rules page is left out: %s", name, exc)
        changed = self.version is not None
        self.version = version
        self.rules = self.defaults | self.saved
        return changed

    def current(self) -> dict[str, AlertRule]:
        self.refresh()
        return self.rules

    def origin(self, name: str) -> Origin:
        if name not in self.saved:
            return "file"
        return "changed" if name in self.defaults else "added"

    def __getitem__(self, name: str) -> AlertRule:
        return self.current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.current())

    def __len__(self) -> int:
        return len(self.current())

    # ---- changing -------------------------------------------------------------------------

    def save(self, name: str, rule: AlertRule) -> None:
        """Save ``rule`` under ``name`` over the configuration's (validated first)."""
        if wrong := rule_error(name, rule, self.units):
            raise wrong
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(keys.alert_rules(), name, rule.model_dump_json(exclude_defaults=True))
        pipe.hincrby(keys.alert_rules(), VERSION, 1)
        pipe.execute()
        self.checked = -float("inf")

    def revert(self, name: str) -> bool:
        """Drop the saved rule ``name``: the configuration's comes back (a rule added on the page
        is gone); False if nothing was saved under it."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(keys.alert_rules(), name)
        pipe.hincrby(keys.alert_rules(), VERSION, 1)
        gone, _version = pipe.execute()
        self.checked = -float("inf")
        return bool(gone)
