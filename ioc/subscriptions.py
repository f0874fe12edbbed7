"""What a screen asks the relay for (feeds, units, windows), checked against what its token lets
it see, and what of each delta it is then sent."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ioc import keys
from ioc.documents import (
    WINDOWS,
    Alert,
    DeltaDocument,
    DeltaMessage,
    Notice,
)

log = logging.getLogger(__name__)

MAX_UNITS = 400


class BadSubscription(Exception):
    pass


@dataclass(frozen=True)
class Subscription:
    """What one screen shows: feeds, the units of its KPI documents, the units of its series."""

    feeds: frozenset[str]
    units: frozenset[str]
    series: frozenset[str]
    notices: bool = False  # a public screen: "new figures" notices, no figures
    alerts: frozenset[str] | None = None  # the units whose alerts it gets (None: every alert)

    @classmethod
    def parse(
        cls, text: str | bytes, *, feeds: set[str], units: set[str], claims: dict[str, Any] | None = None
    ) -> Subscription:
        try:
            hello = json.loads(text)
        except json.JSONDecodeError:
            raise BadSubscription("the first message must be JSON") from None
        if not isinstance(hello, dict) or hello.get("type") != "subscribe":
            raise BadSubscription('the first message must be {"type": "subscribe", ...}')
        wanted = {name: set(hello.get(name) or []) for name in ("feeds", "units", "series")}
        if unknown := wanted["feeds"] - feeds:
            raise BadSubscription(f"unknown feeds {sorted(unknown)}")
        if unknown := (wanted["units"] | wanted["series"]) - units:
            raise BadSubscription(f"unknown units {sorted(unknown)[:10]}")
        if len(wanted["units"]) > MAX_UNITS:
            raise BadSubscription(f"at most {MAX_UNITS} units per screen")
        claims = claims or {}
        if claims.get("scope") == "embed":
            if outside := wanted["feeds"] - set(claims.get("feeds") or []):
                raise BadSubscription(f"feeds outside this embed's token: {sorted(outside)}")
            return cls(frozenset(wanted["feeds"]), frozenset(), frozenset(), notices=True)
        allowed = claims.get("units")
        if allowed is not None and (outside := (wanted["units"] | wanted["series"]) - set(allowed)):
            raise BadSubscription(f"units outside this screen's scope: {sorted(outside)[:10]}")
        # a scoped token without its alert units gets none (fail closed), an unscoped one all
        alert_units = claims.get("alerts", None if allowed is None else [])
        return cls(
            frozenset(wanted["feeds"]),
            frozenset(wanted["units"]),
            frozenset(wanted["series"]),
            alerts=None if alert_units is None else frozenset(alert_units),
        )

    def visible_alerts(self, found: list[Alert]) -> list[Alert]:
        """The alerts of the units this screen may see alerts of."""
        if self.alerts is None:
            return found
        return [a for a in found if a.get("unit") in self.alerts]

    def kpi_fields(self) -> list[str]:
        return [keys.snapshot_field(u, w) for u in sorted(self.units) for w in WINDOWS]

    def filter(self, delta: DeltaDocument) -> DeltaMessage | Notice:
        """The part of a delta this screen shows."""
        meta = delta["meta"]
        if self.notices:
            as_of = meta["as_of"] if meta is not None else None
            return {"type": "changed", "feed": delta["feed"], "as_of": as_of, "server_time": _now()}
        kpis = {k: v for k, v in delta["kpis"].items() if k.split("|", 1)[0] in self.units}
        series = {u: v for u, v in delta["series"].items() if u in self.series}
        message: DeltaMessage = {
            "type": "delta",
            "feed": delta["feed"],
            "meta": meta,
            "kpis": kpis,
            "series": series,
            "server_time": _now(),
        }
        if "alerts" in delta:  # the feed's whole active list, when it changed
            message["alerts"] = self.visible_alerts(delta["alerts"])
        return message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
