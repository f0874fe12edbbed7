"""The national portal's published 766 index (SCORECARD.md feed §5), pulled period by period.

``GET {url}/api/v1/chi-so-766?ky=<period>`` answers one period, an ISO week (``2026-W48``) or a
month (``2026-11``): ``{"ky", "cong_bo_luc", "du_lieu": [<province>, ...]}``, or 404 while it is
not published. The connector asks, for each kind, every period that has ended by our clock since
the last one it read (on a first run, the last ``history_weeks`` weeks and ``history_months``
months). A period not yet published (404, or an empty ``du_lieu``) is asked again at the next
poll; one already read is not, except the most recent of each kind, which is read again at every
poll and passed on only when the portal has republished it (a new ``cong_bo_luc``: the latest
version wins). The cursor holds, per kind, that most recent period and its ``cong_bo_luc``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from connectors.paged_http import parse_time
from ioc.connector import Batch, Context, FutureSkew, SourceError
from ioc.feed_contracts import NationalIndexContract
from ioc.index766 import BadPeriod, Period, current_month, current_week, parse_period, previous
from ioc.national_index import next_period

PATH = "/api/v1/chi-so-766"
KINDS = ("week", "month")


class NationalIndexConfig(FutureSkew):
    """The national portal; the connector appends /api/v1/chi-so-766 to ``url``."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="Base URL of the national portal; the connector appends its path.")
    interval_s: float = Field(300.0, gt=0, description="Seconds between polls.")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one request, in seconds.")
    history_weeks: int = Field(26, ge=0, le=260, description="ISO weeks read back on a first run.")
    history_months: int = Field(3, ge=0, le=60, description="Months read back on a first run.")
    token_env: str | None = Field(
        None,
        description="Name of an environment variable holding a bearer token for the portal (the "
        "token itself never goes in the file).",
    )


@dataclass(frozen=True)
class Published:
    """A period as the portal answered it."""

    period: Period
    published: str  # cong_bo_luc, as sent
    entries: list[Any]


def load_cursor(cursor: str | None) -> dict[str, tuple[str, str]]:
    """Per kind, the most recent period read and its ``cong_bo_luc``; an unreadable cursor (or
    none) is a first run."""
    try:
        state = json.loads(cursor) if cursor else {}
        found = {
            kind: (str(state[kind]["ky"]), str(state[kind]["cong_bo_luc"])) for kind in KINDS if kind in state
        }
        for name, _published in found.values():
            parse_period(name)
    except (ValueError, TypeError, KeyError, BadPeriod):
        return {}
    return found


def dump_cursor(state: dict[str, tuple[str, str]]) -> str:
    return json.dumps(
        {kind: {"ky": name, "cong_bo_luc": when} for kind, (name, when) in sorted(state.items())}
    )


class NationalIndexConnector:
    """Reads each newly published period of the portal's index, and the latest again."""

    name: ClassVar[str] = "national_index"
    feed: ClassVar[str] = "national_index"
    Config: ClassVar[type[BaseModel]] = NationalIndexConfig

    def __init__(self, config: NationalIndexConfig, *, context: Context) -> None:
        self.config = config
        self.context = context
        self.contract = NationalIndexContract()
        self.url = str(config.url).rstrip("/") + PATH
        self.headers: dict[str, str] = {}
        if config.token_env:
            token = context.secret(config.token_env, "token_env names it as the portal's bearer token")
            self.headers["Authorization"] = f"Bearer {token.decode()}"

    def check(self) -> str:
        latest = previous(current_week(self.context.clock()))
        found = self._get(latest)
        if found is None:
            return f"{self.url}: {latest.name} not published yet"
        return f"{self.url}: {latest.name} published at {found.published}, {len(found.entries)} provinces"

    def poll(self, cursor: str | None) -> Batch:
        state = load_cursor(cursor)
        now = self.context.clock()
        not_after = self.context.not_after(self.config.future_skew_s)
        rows: list[Any] = []
        places: list[str] = []
        requests = 0
        for kind in KINDS:
            last = state.get(kind)
            for period in self.candidates(kind, last[0] if last else None, now):
                found = self._get(period)
                requests += 1
                if found is None or (last is not None and (period.name, found.published) == last):
                    continue  # not published yet, or the latest again unchanged
                rows += [self._row(entry, found) for entry in found.entries]
                places += [_place(period, i, entry) for i, entry in enumerate(found.entries)]
                when = parse_time(found.published)
                if when is None or when <= not_after:  # a future one is refused, and asked again
                    state[kind] = last = (period.name, found.published)
        done = self.contract.transform(
            rows, units=frozenset(), source=self.name, where=places.__getitem__, not_after=not_after
        )
        stats = {"requests": requests, "rows": len(rows), "more": 0}
        return Batch(done.records, dump_cursor(state), done.dead_letters, stats)

    def candidates(self, kind: str, last: str | None, now: datetime) -> list[Period]:
        """The periods of ``kind`` to ask for: from the last one read (asked again), else the
        history's first, to the newest that has ended by ``now``; never one before the history."""
        period = current_week(now) if kind == "week" else current_month(now)
        for _ in range(self.config.history_weeks if kind == "week" else self.config.history_months):
            period = previous(period)
        if last is not None and parse_period(last).start > period.start:
            period = parse_period(last)
        found = []
        while period.end <= now:
            found.append(period)
            period = next_period(period)
        return found

    @staticmethod
    def _row(entry: Any, found: Published) -> Any:
        """An entry with its period and publication time (the response's) as fields of its own."""
        if not isinstance(entry, dict):
            return entry  # the contract says what it is
        return {**entry, "ky": found.period.name, "cong_bo_luc": found.published}

    def _get(self, period: Period) -> Published | None:
        """The period as published, or None while it is not (404, or no entries)."""
        where = f"{self.url}?ky={period.name}"
        try:
            response = self.context.http.get(
                self.url, params={"ky": period.name}, timeout=self.config.timeout_s, headers=self.headers
            )
        except httpx.HTTPError as exc:
            raise SourceError(f"{where}: {type(exc).__name__}: {exc}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceError(f"{where}: HTTP {response.status_code}")
        try:
            body = response.json()
        except (ValueError, RecursionError) as exc:  # not JSON, a 4,300-digit number, too deep
            raise SourceError(f"{where}: not JSON ({str(exc)[:200]})") from None
        if not isinstance(body, dict) or not isinstance(body.get("du_lieu"), list):
            raise SourceError(f"{where}: no 'du_lieu' list")
        if body.get("ky") != period.name:
            raise SourceError(f"{where}: answered the period {body.get('ky')!r}")
        entries: list[Any] = body["du_lieu"]
        return Published(period, str(body.get("cong_bo_luc") or ""), entries) if entries else None


def _place(period: Period, index: int, entry: Any) -> str:
    """Where an entry is, for its dead letter: ``2026-W48 du_lieu[3] (ma_tinh 80)``."""
    code = entry.get("ma_tinh") if isinstance(entry, dict) else None
    return f"{period.name} du_lieu[{index}]" + (f" (ma_tinh {code})" if code is not None else "")
