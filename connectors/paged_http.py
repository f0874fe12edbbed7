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

The cursor never passes our clock plus ``future_skew_s``: one record dated 2099 would otherwise
carry it there, and every record changed later would never be asked for again. It moves only
over records whose time is valid and not beyond that limit; a record dated beyond it is a dead
letter (the contract's ``not_after``), once: its fingerprint is kept in the cursor while the
source keeps listing it, and it passes again when its time is no longer ahead of the clock (or
when it is re-sent changed). The cursor does move over records refused for other reasons (an
unknown unit, a missing field): they are dead letters once, and a source that fixes one re-sends
it with a newer time. A stored cursor already beyond the limit (written by a version without this
guard, or before our clock was set back) is not trusted: the listing is read again from the start,
and the aggregator's latest-wins state absorbs what it had counted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import ConfigDict, Field, HttpUrl

from ioc.connector import Batch, Coding, Context, FutureSkew, SourceError
from ioc.contracts import Contract
from ioc.validate import UnitCoding

MAX_SEEN = 2000  # fingerprints kept at the boundary; past that, re-reads are let through


def fingerprint(row: Any) -> str:
    body = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(body.encode(), digest_size=8).hexdigest()


@dataclass
class CursorState:
    """The time to ask from, the fingerprints read at that time, and those of records refused as
    dated in the future that the source still lists."""

    since: str | None
    seen: set[str]
    future: set[str]

    def dump(self) -> str | None:
        if self.since is None and not self.future:
            return None
        state = {"cap_nhat_tu": self.since, "seen": sorted(self.seen)[:MAX_SEEN]}
        if self.future:
            state["future"] = sorted(self.future)[:MAX_SEEN]
        return json.dumps(state)


def parse_cursor(cursor: str | None) -> CursorState:
    """The cursor's state (a bare time, as older versions stored it, is accepted)."""
    if cursor is None or not cursor.startswith("{"):
        return CursorState(cursor, set(), set())
    state = json.loads(cursor)
    return CursorState(state["cap_nhat_tu"], set(state.get("seen", [])), set(state.get("future", [])))


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

    def read(self, cursor: str | None, *, not_after: datetime) -> Page:
        """Every record changed since the cursor (up to ``max_pages``); the cursor moves only
        over records dated at most ``not_after``, and a record already refused as dated after it
        is not returned again while it still is."""
        state = parse_cursor(cursor)
        since_time = parse_time(state.since)
        if since_time is None or since_time > not_after:  # none, unreadable, or dragged into the future
            state, since_time = CursorState(None, set(), state.future), None
        rows: list[Any] = []
        future: set[str] = set()
        page, requests, more = 1, 0, True
        while more and requests < self.max_pages:
            data = self._records(self._get(state.since, page), page)
            requests += 1
            if not data:
                more = False
                break
            prints = [(row, fingerprint(row), self._is_future(row, not_after)) for row in data]
            refused = state.future | future  # future-dated records already returned once
            fresh = [
                (row, fp)
                for row, fp, ahead in prints
                if fp not in state.seen and not (ahead and fp in refused)
            ]
            future |= {fp for _row, fp, ahead in prints if ahead}
            rows.extend(row for row, _fp in fresh)
            newest = self._newest(data, not_after)
            if newest is not None and (since_time is None or newest[0] > since_time):
                since_time, state.since, state.seen, page = newest[0], newest[1], set(), 1
            else:
                page += 1
            state.seen |= {fp for row, fp in fresh if self._time_text(row) == state.since}
        # A listing read to its end showed every future-dated record it still has; a partial one
        # may not have reached them (they sort last), so the old ones are kept.
        state.future = future | state.future if more else future
        return Page(rows, state.dump(), requests, more)

    def _time_text(self, row: Any) -> str | None:
        value = row.get(self.cursor_field) if isinstance(row, dict) else None
        return value.strip() if isinstance(value, str) else None

    def _is_future(self, row: Any, not_after: datetime) -> bool:
        when = parse_time(row.get(self.cursor_field) if isinstance(row, dict) else None)
        return when is not None and when > not_after

    def _newest(self, data: Sequence[Any], not_after: datetime) -> tuple[datetime, str] | None:
        """The latest valid cursor time of ``data`` not after ``not_after``, and its text."""
        best: tuple[datetime, str] | None = None
        for row in data:
            raw = row.get(self.cursor_field) if isinstance(row, dict) else None
            when = parse_time(raw)
            if when is not None and when <= not_after and (best is None or when > best[0]):
                best = (when, str(raw).strip())
        return best

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


class PagedHttpConfig(FutureSkew, Coding):
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
        self.units = context.coding(config)
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
        not_after = self.context.not_after(self.config.future_skew_s)
        return read_batch(
            self.source, self.contract, cursor, units=self.units, source=self.name, not_after=not_after
        )


def read_batch(
    listing: PagedHttpSource,
    contract: Contract,
    cursor: str | None,
    *,
    units: UnitCoding,
    source: str,
    not_after: datetime,
) -> Batch:
    """One poll of a paged listing through a feed's contract; nothing dated after ``not_after``
    is counted or moves the cursor."""
    page = listing.read(cursor, not_after=not_after)
    done = contract.transform(page.rows, units=units, source=source, not_after=not_after)
    stats = {"requests": page.requests, "rows": len(page.rows), "more": int(page.more)}
    return Batch(done.records, page.cursor, done.dead_letters, stats)
