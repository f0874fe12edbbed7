"""The paged listing shared by the HTTP feeds: ``?cap_nhat_tu=<time>&trang=<n>&so_ban_ghi=<k>``.

Pages are walked by key, not by offset: after each page the request starts again at page 1 from
the newest ``cap_nhat_luc`` seen. A record that changes while the listing is being read moves to
a later time and is met again; an offset walk would skip the record that slid into the page just
read.

The price is seeing boundary records again. The cursor therefore carries, beside the time it
sends as ``cap_nhat_tu``, fingerprints of the records already read at exactly that time: an
identical re-read is dropped, while a record re-sent with changed content at the same time (a
real new version) passes. Whatever slips through is absorbed by the aggregator's latest-wins
state (FEEDS.md: "must tolerate seeing the boundary records again").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from ioc.connector import Batch, Context, SourceError
from ioc.contracts import Contract

MAX_SEEN = 2000  # fingerprints kept at the boundary; past that, re-reads are let through


def fingerprint(row: Any) -> str:
    body = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(body.encode(), digest_size=8).hexdigest()


def parse_cursor(cursor: str | None) -> tuple[str | None, set[str]]:
    """The time to ask from and the fingerprints read at that time (a bare time is accepted)."""
    if cursor is None or not cursor.startswith("{"):
        return cursor, set()
    state = json.loads(cursor)
    return state["cap_nhat_tu"], set(state.get("seen", []))


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    cursor: str | None
    requests: int
    more: bool  # stopped at max_pages with the listing not finished


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time with an offset, or None (naive times do not advance a cursor)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass(frozen=True)
class ListingShape:
    """How a source names its listing: query parameters, the records list, the cursor field."""

    since_param: str = "cap_nhat_tu"
    page_param: str = "trang"
    size_param: str = "so_ban_ghi"
    records: str = "du_lieu"  # a dotted path into the body: "data.items"
    total: str = "tong_so"
    cursor_field: str = "cap_nhat_luc"


FEEDS_MD = ListingShape()


class PagedHttpSource:
    def __init__(
        self,
        http: httpx.Client,
        url: str,
        *,
        page_size: int,
        max_pages: int,
        timeout_s: float,
        shape: ListingShape = FEEDS_MD,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.http = http
        self.url = url
        self.page_size = page_size
        self.max_pages = max_pages
        self.timeout_s = timeout_s
        self.shape = shape
        self.cursor_field = shape.cursor_field
        self.headers = headers or {}

    def total(self) -> int:
        body = self._get(None, 1, size=1)
        total = body.get(self.shape.total) if isinstance(body, dict) else None
        return int(total) if isinstance(total, int) else len(self._records(body, 1))

    def read(self, cursor: str | None) -> Page:
        since, seen = parse_cursor(cursor)
        rows: list[Any] = []
        page, requests, more = 1, 0, True
        while more and requests < self.max_pages:
            data = self._records(self._get(since, page), page)
            requests += 1
            if not data:
                more = False
                break
            fresh = [(row, fp) for row in data if (fp := fingerprint(row)) not in seen]
            rows.extend(row for row, _fp in fresh)
            newest = self._newest(data)
            if newest is not None and (since is None or parse_time(newest) > parse_time(since)):  # type: ignore[operator]
                since, page, seen = newest, 1, set()
            else:
                page += 1
            seen |= {fp for row, fp in fresh if self._time_text(row) == since}
        state = {"cap_nhat_tu": since, "seen": sorted(seen)[:MAX_SEEN]}
        return Page(rows, None if since is None else json.dumps(state), requests, more)

    def _time_text(self, row: Any) -> str | None:
        value = row.get(self.cursor_field) if isinstance(row, dict) else None
        return value.strip() if isinstance(value, str) else None

    def _newest(self, data: Sequence[Any]) -> str | None:
        best: tuple[datetime, str] | None = None
        for row in data:
            raw = row.get(self.cursor_field) if isinstance(row, dict) else None
            when = parse_time(raw)
            if when is not None and (best is None or when > best[0]):
                best = (when, str(raw).strip())
        return None if best is None else best[1]

    def _records(self, body: Any, page: int) -> list[Any]:
        data = body
        for part in self.shape.records.split("."):
            data = data.get(part) if isinstance(data, dict) else None
        if not isinstance(data, list):
            raise SourceError(f"{self.url}: page {page} has no '{self.shape.records}' list")
        return data

    def _get(self, cursor: str | None, page: int, *, size: int | None = None) -> Any:
        shape = self.shape
        params: dict[str, str | int] = {shape.page_param: page, shape.size_param: size or self.page_size}
        if cursor is not None:
            params[shape.since_param] = cursor
        try:
            response = self.http.get(self.url, params=params, timeout=self.timeout_s, headers=self.headers)
        except httpx.HTTPError as exc:
            raise SourceError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise SourceError(f"{self.url}: HTTP {response.status_code} on page {page}")
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise SourceError(f"{self.url}: page {page} is not JSON ({exc})") from None


class PagedHttpConfig(BaseModel):
    """A source listing records page by page from a time cursor, as FEEDS.md §1 describes."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="Base URL of the source system; the connector appends its path.")
    interval_s: float = Field(30.0, gt=0, description="Seconds between polls.")
    page_size: int = Field(500, ge=1, le=5000, description="Records asked for per page (so_ban_ghi).")
    max_pages: int = Field(
        200, ge=1, description="Pages read at most in one poll; the rest waits for the next."
    )
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one request, in seconds.")


class PagedConnector:
    """A built-in connector: FEEDS.md's paged listing at ``PATH``, through its feed's contract."""

    name: ClassVar[str]
    feed: ClassVar[str]
    PATH: ClassVar[str]
    WHAT: ClassVar[str] = "records"

    def __init__(self, config: PagedHttpConfig, *, context: Context, contract: Contract) -> None:
        self.config = config
        self.context = context
        self.units = frozenset(context.units.codes)
        self.contract = contract
        self.source = PagedHttpSource(
            context.http,
            str(config.url).rstrip("/") + self.PATH,
            page_size=config.page_size,
            max_pages=config.max_pages,
            timeout_s=config.timeout_s,
        )

    def check(self) -> str:
        return f"{self.source.url}: {self.source.total()} {self.WHAT}"

    def poll(self, cursor: str | None) -> Batch:
        return read_batch(self.source, self.contract, cursor, units=self.units, source=self.name)


def read_batch(
    listing: PagedHttpSource, contract: Contract, cursor: str | None, *, units: frozenset[str], source: str
) -> Batch:
    """One poll of a paged listing through a feed's contract."""
    page = listing.read(cursor)
    done = contract.transform(page.rows, units=units, source=source)
    stats = {"requests": page.requests, "rows": len(page.rows), "more": int(page.more)}
    return Batch(done.records, page.cursor, done.dead_letters, stats)
