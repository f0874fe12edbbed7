"""The one typed configuration tree: a TOML file plus ``IOC_...`` environment overrides.

Built once at start-up by :func:`load_settings` and passed down; nothing here runs at import.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ioc.config_access import AuthSettings, EmbedSettings, PublicSettings
from ioc.config_delivery import DeliverySettings, Severity
from ioc.config_scorecard import ScorecardSettings, Target, default_targets
from ioc.config_servers import RealtimeSettings, WebSettings
from ioc.registry import FEEDS, simulated

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A configuration mistake, said in one line that names the file, the key and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedisSettings(_Section):
    url: str | None = Field(
        None,
        description="URL of the Redis server (redis://host:port/db). Empty: start an embedded "
        "redis-server on a free port with its data in `data_dir`.",
    )
    cluster: bool = Field(False, description="The URL names one node of a Redis or Valkey Cluster.")
    timeout_s: float = Field(
        60.0,
        gt=0,
        description="How long a client waits for Redis's answer to one command or transaction, in "
        "seconds. An aggregator's first commit rewrites its whole checkpoint (a year of dossiers: "
        "about 60 MB, several seconds on a busy server); redis-py's own default, 5 s, made such a "
        "commit fail and the worker give its lease up.",
    )
    stream_maxlen: int = Field(
        100_000,
        ge=1_000,
        description="Approximate bound (MAXLEN ~) of every raw stream, in entries (micro-batches of up "
        "to 2,000 records; a source writes one per poll or push).",
    )
    dead_letter_maxlen: int = Field(
        100_000, ge=100, description="Approximate bound of every dead-letter stream, in entries."
    )


class FreshnessSettings(_Section):
    amber_s: float = Field(
        120.0, gt=0, description="A feed whose last successful poll is older than this is amber."
    )
    red_s: float = Field(600.0, gt=0, description="... and red (shown as stopped) past this.")


class BoundarySettings(_Section):
    scheme: Literal["pre2025", "2025"] = Field(
        "2025",
        description="The units everything is counted in: `2025` (the province of today, code 80: "
        "old Tây Ninh and old Long An, 96 communes grouped into areas) or `pre2025` (old Tây Ninh, "
        "province 72, its 9 districts and 94 communes, for its history).",
    )
    directory: Path = Field(
        PROJECT_ROOT / "geodata",
        description="Folder with the unit tables and boundary GeoJSON files.",
    )
    areas: Path | None = Field(
        None,
        description="2025 scheme: a CSV (`commune_code,area_code,area_name`, one row per commune) "
        "grouping the communes into areas (khu vực) for rooms, duty officers and alerts. Empty: the "
        "24 former districts, each commune in the one that gave it most of its old units.",
    )


class HistorySettings(_Section):
    directory: Path | None = Field(
        None,
        description="Folder of the KPIs' history (Parquet files the aggregators write and the web app "
        "reads: on one machine, or a folder both see). Empty: `<data_dir>/history`.",
    )
    hourly_days: int = Field(
        90, ge=1, le=3660, description="Hourly snapshots are kept this many days (time travel, comparisons)."
    )
    daily_days: int = Field(
        730, ge=1, le=36600, description="Each day's last snapshot is kept this many days."
    )
    enabled: bool = Field(True, description="Aggregators write the history; false: none is kept.")

    def folder(self, data_dir: Path) -> Path:
        return self.directory or data_dir / "history"


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BriefingSettings(_Section):
    at: time = Field(
        time(6, 30), description="Local time the day's morning briefings (bản tin giao ban) are made."
    )
    levels: list[Literal["province", "district", "area", "commune"]] = Field(
        ["province", "district", "area"],
        description="Which units get one every day: the province, its districts (before 2025) or "
        "areas (2025), their communes. Any unit's can be asked for on the briefings page.",
    )
    window: Literal["today", "7d", "30d", "mtd", "ytd"] = Field(
        "7d", description="The window of the headline KPIs, the map and the ranking."
    )
    directory: Path | None = Field(
        None,
        description="Folder of the archive (PDF and PNG, made by the `brief` process, served by the web "
        "app: on one machine, or a folder both see). Empty: `<data_dir>/briefings`.",
    )
    keep_days: int = Field(90, ge=1, le=3660, description="Briefings are kept this many days.")
    chromium: str = Field(
        "",
        description="The headless Chromium that prints them. Empty: the first of `chromium`, "
        "`chromium-browser`, `google-chrome` on the PATH.",
    )
    enabled: bool = Field(True, description="Run the `brief` process in `ioc run`; false: none are made.")

    def folder(self, data_dir: Path) -> Path:
        return self.directory or data_dir / "briefings"

    def find_chromium(self) -> str:
        """The Chromium that prints the briefings: the configured one, else the first on the PATH."""
        if self.chromium:
            found = shutil.which(self.chromium)
            if found is None:
                raise ConfigError(f"briefing.chromium: {self.chromium!r} is not an executable")
            return found
        for name in CHROMIUM_NAMES:
            if found := shutil.which(name):
                return found
        raise ConfigError(
            f"briefing: no headless Chromium found ({', '.join(CHROMIUM_NAMES)} on the PATH); "
            "install Chromium or set briefing.chromium"
        )


class AggregatorSettings(_Section):
    interval_s: float = Field(
        1.0, gt=0, description="Longest wait for new stream entries before recomputing, in seconds."
    )
    recompute_s: float = Field(
        15.0,
        gt=0,
        description="Recompute the snapshot at least this often even without new data "
        "(`overdue_open` moves with the clock), in seconds.",
    )
    checkpoint_s: float = Field(
        5.0,
        gt=0,
        description="Snapshots are published every cycle; the durable state and the acknowledgement "
        "of the entries it covers are written this often, in seconds.",
    )
    read_count: int = Field(
        1000,
        ge=1,
        description="Most stream entries read per cycle (micro-batches of ≤ 2,000 records); while a read "
        "returns this many, the next one runs while the cycle computes. Only a worker behind reads "
        "this many: two million records a cycle, half the cycles (and their fixed cost) of 500.",
    )
    claim_idle_s: float = Field(
        30.0,
        gt=0,
        description="Entries pending this long on another consumer are taken over (XAUTOCLAIM).",
    )
    max_deliveries: int = Field(
        5, ge=1, description="An entry delivered this many times without success goes to the dead letters."
    )
    lease_ttl_s: float = Field(
        15.0,
        gt=0,
        description="One worker owns a feed's state; if it stops renewing for this long, another "
        "takes over, in seconds.",
    )
    state_buckets: int = Field(
        16,
        ge=1,
        le=65_536,
        description="Buckets of the checkpointed state (a cycle rewrites the touched ones).",
    )
    series_days: int = Field(
        7, ge=1, le=60, description="Days of hourly history kept for the time-series panels."
    )
    horizons_h: dict[str, float] = Field(
        {"mobile_data": 24.0},
        description="Per counter feed, hours after a period's start during which a re-delivered row "
        "still replaces the one held; past it the rows are dropped from the state and only their "
        "sums kept, and a row that late is a dead letter (never counted twice). Only counter feeds "
        "(mobile_data) can have one.",
    )

    @model_validator(mode="after")
    def _known_horizons(self) -> AggregatorSettings:
        for feed, hours in self.horizons_h.items():
            if feed not in FEEDS:
                raise ValueError(f"horizons_h: {feed!r} is not a feed ({', '.join(sorted(FEEDS))})")
            if not hours >= 1:
                raise ValueError(f"horizons_h.{feed}: {hours} hours; a horizon is at least 1 hour")
        return self


class SimulatorSettings(_Section):
    host: str = Field("127.0.0.1", description="Interface the simulators listen on.")
    port: int = Field(0, ge=0, le=65535, description="Port of the simulator (0: a free port).")
    seed: int = Field(2026, description="Random seed: the same seed gives the same province.")
    history_days: int = Field(
        60, ge=1, le=400, description="Days of past dossiers the simulator starts with."
    )
    daily_dossiers: int = Field(
        1_400, ge=10, description="Dossiers received on an ordinary working day in the province."
    )
    activity: float = Field(
        10.0,
        ge=1,
        description="Multiplier of the live arrival rate after start-up, so numbers move while "
        "you watch (1 = a real province's pace).",
    )
    malformed_rate: float = Field(
        0.001, ge=0, le=1, description="Share of records sent malformed, to exercise the dead letters."
    )
    daily_reports: int = Field(
        120, ge=1, description="citizen_feedback: field reports created on an ordinary day."
    )
    daily_vaccinations: int = Field(
        150, ge=1, description="vaccination: vaccination series started on an ordinary working day."
    )
    push_s: float = Field(
        5.0, gt=0, description="vaccination: seconds between pushes of new dose records to the webhook."
    )
    cells: int = Field(2_400, ge=1, description="mobile_data: cells of the three operators together.")
    file_history_hours: float = Field(
        12.0,
        ge=0,
        description="mobile_data: the simulator starts this many hours back and writes the files "
        "up to the present, one period every `period_s`.",
    )
    period_s: float = Field(
        3.0, ge=0, description="mobile_data: seconds between the 15-minute periods while catching up."
    )


WallScenes = Literal["exceptions", "feeds", "districts", "scorecard"]


class WallSettings(_Section):
    """The wall display; each screen may override these in its address (``/wall?interval=30``)."""

    interval_s: float = Field(20.0, ge=0.5, description="Seconds each scene stays on the wall.")
    scenes: list[WallScenes] = Field(
        default_factory=lambda: list(get_args(WallScenes)),
        min_length=1,
        description="Scene groups in order: the worst breaches, one scene per feed, a district tour, "
        "the province on the national 766 index.",
    )
    reload_at: time | None = Field(
        time(4, 0), description="Local time of the daily soft reload (only when the server answers)."
    )
    dim_from: time = Field(time(22, 0), description="Local time the wall dims from ...")
    dim_to: time = Field(time(6, 0), description="... and until.")
    dim_brightness: float = Field(0.55, gt=0, le=1, description="Brightness while dimmed (1: not dimmed).")
    shift_every_s: float = Field(180.0, gt=0, description="Seconds between shifts of the whole layout.")
    shift_px: int = Field(4, ge=0, le=20, description="How far the layout shifts against burn-in, in pixels.")


class AlertRule(_Section):
    """One rule. ``kind``: a KPI past a threshold at every unit of a level; a count of overdue
    cases (optionally only some, e.g. urgent ones) above a threshold; or a feed gone stale."""

    feed: str = Field(description="The feed the rule watches.")
    kind: Literal["kpi", "cases", "stale"] = Field("kpi", description="What the rule measures.")
    title: str = Field(
        min_length=1, description="What the ticker says, in Vietnamese (e.g. `đúng hạn 7 ngày`)."
    )
    title_en: str = Field("", description="The same in English, for the English pages (`on time, 7 days`).")
    kpi: str | None = Field(None, description="kpi: the KPI (FEEDS.md name).")
    window: str = Field("7d", description="kpi: the window.")
    level: Literal["province", "district", "area", "commune"] | None = Field(
        None,
        description="Units checked: `province`, `district` (pre2025 scheme only), `area` (2025 scheme "
        "only) or `commune`; unset: the level below the province, the districts before 2025 and the "
        "areas in 2025.",
    )
    below: float | None = Field(None, description="Raised when the value is below this.")
    above: float | None = Field(None, description="Raised when the value is above this.")
    where: dict[str, str] = Field(default_factory=dict, description="cases: only cases with these fields.")
    minutes: float = Field(15.0, gt=0, description="stale: minutes without a successful poll.")
    severity: Severity = Field(
        "warning", description="`info`, `warning` or `critical`: what delivery routes may choose by."
    )

    @model_validator(mode="after")
    def _complete(self) -> AlertRule:
        if self.kind == "kpi" and not self.kpi:
            raise ValueError("a kpi rule needs kpi")
        if self.kind != "stale" and (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below or above")
        return self


STALE_RULE: dict[str, Any] = {
    "kind": "stale",
    "minutes": 15,
    "title": "nguồn dữ liệu ngừng cập nhật",
    "title_en": "feed stopped updating",
}


def default_alert_rules() -> dict[str, AlertRule]:
    """Every registered feed's own default rules, then one per feed raised when it stops updating."""
    rules = {
        name: {"feed": feed.name, **rule} for feed in FEEDS.values() for name, rule in feed.alerts.items()
    }
    rules |= {f"{name}_ngung": {"feed": name, **STALE_RULE} for name in FEEDS}
    return {name: AlertRule(**rule) for name, rule in rules.items()}


class Settings(BaseSettings):
    """Everything the IOC reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="IOC_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    data_dir: Path = Field(
        PROJECT_ROOT / "data",
        description="Local folder for the embedded Redis (AOF) and other runtime files.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of every process."
    )
    redis: RedisSettings = Field(default_factory=RedisSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)
    freshness: FreshnessSettings = Field(default_factory=FreshnessSettings)
    secret_key: SecretStr | None = Field(
        None,
        description="Signs the screens' relay tokens. Environment only (IOC_SECRET_KEY); the demo "
        "generates one.",
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="Key of the vaccination pseudonyms (HMAC-SHA256 of citizen ids). Environment only "
        "(IOC_PSEUDONYM_KEY); the demo generates one; the vaccination connector will not start "
        "without it.",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Fallback signing secret of the built-in `vaccination` connector's webhook when "
        "IOC_WEBHOOK_SECRET_VACCINATION is not set; every other webhook has its own secret "
        "(IOC_WEBHOOK_SECRET_<NAME>). Environment only (IOC_WEBHOOK_SECRET).",
    )
    boundaries: BoundarySettings = Field(default_factory=BoundarySettings)
    aggregator: AggregatorSettings = Field(default_factory=AggregatorSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    briefing: BriefingSettings = Field(default_factory=BriefingSettings)
    connectors: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="One table per connector, by entry-point name; each is validated by that "
        "connector's own Config (see the README).",
    )
    simulators: dict[str, SimulatorSettings] = Field(
        default_factory=dict,
        description="Simulators to start, by feed name. The demo (no --config) starts all.",
    )
    wall: WallSettings = Field(default_factory=WallSettings)
    public: PublicSettings = Field(default_factory=PublicSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    alerts: dict[str, AlertRule] = Field(
        default_factory=default_alert_rules,
        description="Alert rules by name (below); a file's `[alerts.*]` tables replace the defaults.",
    )
    scorecard: ScorecardSettings = Field(
        default_factory=ScorecardSettings,
        description="How the national 766 index is scored: the province's portal code, each "
        "indicator's maximum and full-points rate, the bands of the total.",
    )
    targets: dict[str, Target] = Field(
        default_factory=default_targets,
        description="The province's own targets by name (below); a file's `[targets.*]` tables "
        "replace the defaults.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = init_settings.init_kwargs.pop("_toml_file", None)  # type: ignore[attr-defined]
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def secret(self) -> str:
        """``IOC_SECRET_KEY``, which the web app cannot do without (sessions, relay tokens)."""
        if self.secret_key is None:
            raise ConfigError("IOC_SECRET_KEY: not set; the login sessions and the relay's tokens need it")
        return self.secret_key.get_secret_value()


def load_settings(path: Path | str | None = None) -> Settings:
    """Build the settings from ``path`` (or ``IOC_CONFIG``) and the environment.

    Without a file this is the demo: every built-in simulator runs and every connector reads
    from its simulator. With a file, only what the file configures runs.
    """
    if path is None and os.environ.get("IOC_CONFIG"):
        path = os.environ["IOC_CONFIG"]
    source = "environment"
    kwargs: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        source = str(file)
        _check_toml(file)
        kwargs["_toml_file"] = file
    try:
        settings = Settings(**kwargs)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None
    if path is None:  # the demo runs every simulator, the ones tuned in the environment included
        for feed in simulated():
            settings.simulators.setdefault(feed, SimulatorSettings())
    return settings


def _check_toml(file: Path) -> None:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    secrets = {
        "secret_key": data,
        "pseudonym_key": data,
        "webhook_secret": data,
        "embed.clients": data.get("embed", {}),
        "auth.oidc.client_secret": data.get("auth", {}).get("oidc", {}),
    }
    for name, table in secrets.items():
        if isinstance(table, dict) and name.rsplit(".", 1)[-1] in table:
            env = "IOC_" + name.upper().replace(".", "__")
            raise ConfigError(f"{file}: {name}: secrets come from the environment ({env}), not the file")


def _describe(source: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        problems.append(f"{source}: {key}: {err['msg']}{shown}")
    return "\n".join(problems)


def connector_error(name: str, source: str, exc: ValidationError) -> ConfigError:
    """A ConfigError for a connector's own table, with keys as they are written in the file."""
    text = _describe(source, exc)
    return ConfigError(text.replace(f"{source}: ", f"{source}: connectors.{name}.", -1))
