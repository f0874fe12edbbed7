"""What a connector is, and how connectors are found.

A connector knows one source format. It fetches, validates, maps to the canonical schema and
strips personal data, and returns a :class:`Batch`. It never touches Redis and never sleeps: the
runner (:mod:`ioc.runner`) schedules it, retries with backoff, publishes and keeps the cursor.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ioc.config import PROJECT_ROOT, ConfigError, Settings, connector_error
from ioc.streams import DeadLetter
from ioc.units import UnitTable

ENTRY_POINT_GROUP = "ioc.connectors"


class SourceError(Exception):
    """The source could not be read (down, slow, an HTTP error, a body that is not the format)."""


@dataclass(frozen=True)
class Batch:
    """One poll's result: canonical records, what was rejected and why, and where to resume."""

    records: pl.DataFrame
    cursor: str | None
    dead_letters: Sequence[DeadLetter] = ()
    stats: dict[str, int] = field(default_factory=dict)
    # False for a heartbeat that read no source (a push-only connector's poll): the connector is
    # alive, but its feed is no fresher for it; the health board then dates the feed by its pushes.
    reached_source: bool = True


@dataclass
class Context:
    """What a connector may use from the outside world; injected so tests can control it."""

    units: UnitTable
    http: httpx.Client
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    geodata: Path = PROJECT_ROOT / "geodata"
    secrets: Mapping[str, str] = field(default_factory=dict)  # the environment: IOC_PSEUDONYM_KEY, ...
    name: str = ""  # the configured instance (``[connectors.<name>]``); empty: the plugin's own name

    def secret(self, name: str, purpose: str) -> bytes:
        """A secret from the environment, or a ConfigError saying why the connector needs it."""
        value = self.secrets.get(name, "")
        if not value:
            raise ConfigError(f"{name}: not set; {purpose}")
        return value.encode()

    def not_after(self, skew_s: float) -> datetime:
        """The latest version time a record may carry now: the clock plus the allowed skew."""
        return self.clock() + timedelta(seconds=skew_s)


class FutureSkew(BaseModel):
    """The setting every connector that validates records has: how far ahead of our clock a
    source's version time may be before the record is refused (and kept out of any cursor)."""

    model_config = ConfigDict(extra="forbid")

    future_skew_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="A record dated (`cap_nhat_luc`; a counter: `thoi_diem_bat_dau`) more than this "
        "many seconds after our clock is a dead letter and never moves a cursor (its source's clock is "
        "wrong).",
    )


class Connector(Protocol):
    name: ClassVar[str]
    feed: ClassVar[str]
    Config: ClassVar[type[BaseModel]]

    def __init__(self, config: Any, *, context: Context) -> None: ...

    def check(self) -> str:
        """Reach the source once; return a one-line description or raise SourceError."""
        ...

    def poll(self, cursor: str | None) -> Batch: ...


def discover() -> dict[str, type[Connector]]:
    """Every connector registered in the ``ioc.connectors`` entry-point group, built-ins included."""
    found: dict[str, type[Connector]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()
    return found


def connector_type(name: str, table: Mapping[str, Any]) -> str:
    """The plugin a ``[connectors.<name>]`` table configures: its ``type``, else its name."""
    return str(table.get("type", name))


def connector_tables(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every connector instance to run: those configured, and in the demo each simulated feed's."""
    tables = {name: dict(table) for name, table in settings.connectors.items()}
    for feed in settings.simulators:
        tables.setdefault(feed, {})
    return tables


def connector_names(settings: Settings) -> dict[str, list[str]]:
    """Feed -> its connector instances, for every connector configured (or simulated in the demo)."""
    registry = discover()
    out: dict[str, list[str]] = {}
    for name, table in sorted(connector_tables(settings).items()):
        kind = connector_type(name, table)
        if kind in registry:
            feed = str(table.get("feed") or registry[kind].feed)
            out.setdefault(feed, []).append(name)
    return out


def configure(name: str, table: dict[str, Any], *, source: str, registry: dict[str, type[Connector]]) -> Any:
    """Validate a ``[connectors.<name>]`` table with its plugin's own Config (``type`` picks the plugin)."""
    kind = connector_type(name, table)
    if kind not in registry:
        known = ", ".join(sorted(registry)) or "none"
        what = f"type {kind!r}" if kind != name else "no such connector"
        raise ConfigError(f"{source}: connectors.{name}: {what} (installed: {known})")
    try:
        return registry[kind].Config.model_validate({k: v for k, v in table.items() if k != "type"})
    except ValidationError as exc:
        raise connector_error(name, source, exc) from None
