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
from typing import Any

import httpx

from ioc.connector import SourceError

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


class PagedHttpSource:
    def __init__(
        self,
        http: httpx.Client,
        url: str,
        *,
        page_size: int,
        max_pages: int,
        timeout_s: float,
        cursor_field: str = "cap_nhat_luc",
    ) -> None:
        self.http = http
        self.url = url
        self.page_size = page_size
        self.max_pages = max_pages
        self.timeout_s = timeout_s
        self.cursor_field = cursor_field

    def total(self) -> int:
        return int(self._get(None, 1, size=1).get("tong_so", 0))

    def read(self, cursor: str | None) -> Page:
        since, seen = parse_cursor(cursor)
        rows: list[Any] = []
        page, requests, more = 1, 0, True
        while more and requests < self.max_pages:
            data = self._get(since, page)["du_lieu"]
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

    def _get(self, cursor: str | None, page: int, *, size: int | None = None) -> dict[str, Any]:
        params: dict[str, str | int] = {"trang": page, "so_ban_ghi": size or self.page_size}
        if cursor is not None:
            params["cap_nhat_tu"] = cursor
        try:
            response = self.http.get(self.url, params=params, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise SourceError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise SourceError(f"{self.url}: HTTP {response.status_code} on page {page}")
        try:
            body = response.json()
        except json.JSONDecodeError as exc:
            raise SourceError(f"{self.url}: page {page} is not JSON ({exc})") from None
        if not isinstance(body, dict) or not isinstance(body.get("du_lieu"), list):
            raise SourceError(f"{self.url}: page {page} has no 'du_lieu' list")
        return body
