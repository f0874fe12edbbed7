"""Which connectors run, by feed: the configured ones (or, in the demo, the simulated ones)."""

from __future__ import annotations

from ioc.config import Settings
from ioc.connector import discover


def connector_names(settings: Settings) -> dict[str, list[str]]:
    """Feed -> its connectors, for every connector configured (or simulated in the demo)."""
    registry = discover()
    names = set(settings.connectors) | set(settings.simulators)
    out: dict[str, list[str]] = {}
    for name in sorted(names & set(registry)):
        out.setdefault(registry[name].feed, []).append(name)
    return out
