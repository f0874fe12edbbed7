"""What a connector is, and how connectors are found.

A connector knows one source format. It fetches, validates, maps to the canonical schema and
strips personal data, and returns a :class:`Batch`. It never touches Redis and never sleeps: the
runner (:mod:`ioc.runner`) schedules it, retries with backoff, publishes and keeps the cursor.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ioc.config import PROJECT_ROOT, ConfigError, Settings, connector_error
from ioc.feeds import FEED_SPECS, FeedSpec
from ioc.registry import demo_connector
from ioc.streams import DeadLetter
from ioc.units import UnitTable
from ioc.validate import CODING_SWITCH, CodingRule, UnitCoding

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
    """What a connector may use from the outside world; injected so tests can control it.

    ``units`` are the units the deployment counts in (``UnitTable.configured``): a record's unit
    code is checked against the codes of its own scheme that count in them (:meth:`coding`).
    """

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

    def coding(self, settings: BaseModel | None = None) -> UnitCoding:
        """How the records of a connector with these settings (:class:`Coding`; others: pre-2025,
        as FEEDS.md says) carry unit codes, checked against the configured units."""
        if isinstance(settings, Coding):
            return UnitCoding.of(self.units, settings.coding, settings.coding_switch)
        return UnitCoding.of(self.units)


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


class Coding(BaseModel):
    """The settings of every connector whose records carry unit codes (``ma_dvhc``): which scheme
    its source codes them in (docs/coding.md)."""

    model_config = ConfigDict(extra="forbid")

    coding: CodingRule = Field(
        "pre2025",
        description="How the source codes units (`ma_dvhc`): `pre2025` (FEEDS.md's codes), `2025` (the "
        "codes of today's province, from 1 July 2025), or `by_date`: a record whose event time "
        "(`ngay_tiep_nhan`, `thoi_diem_tao`, `thoi_diem_tiem`) is before `coding_switch` carries "
        "pre-2025 codes, a later one 2025 codes. A code unknown in its record's scheme, or outside the "
        "province counted, is a dead letter naming the scheme. Feeds without `ma_dvhc` (mobile data) "
        "place records by their coordinates instead.",
    )
    coding_switch: date = Field(
        CODING_SWITCH,
        ge=date(2025, 1, 1),
        le=date(2099, 12, 31),
        description='With `coding = "by_date"`: the day the source began coding in the 2025 scheme '
        "(from 00:00 Asia/Ho_Chi_Minh); records before it carry pre-2025 codes.",
    )

    @field_validator("coding_switch")
    @classmethod
    def _only_by_date(cls, value: date, info: ValidationInfo) -> date:
        if info.data.get("coding", "by_date") != "by_date":
            raise ValueError(f'applies only with coding = "by_date" (coding is "{info.data["coding"]}")')
        return value


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
        tables[feed] = demo_connector(feed, settings.boundaries.scheme) | tables.get(feed, {})
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


def shown_specs(settings: Settings) -> dict[str, FeedSpec]:
    """The feeds configured (or simulated), in the registry's order."""
    configured = connector_names(settings)
    return {feed: spec for feed, spec in FEED_SPECS.items() if feed in configured}


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
