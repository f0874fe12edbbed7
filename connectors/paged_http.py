"""The paged listing shared by the HTTP feeds: ``?cap_nhat_tu=<time>&trang=<n>&so_ban_ghi=<k>``.

Pages are walked by key, not by offset: after each page the request starts again at page 1 from
the newest ``cap_nhat_luc`` seen. A record that changes while the listing is being read moves to
a later time and is met again; an offset walk would skip the record that slid into the page just
read. The price is seeing boundary records twice, which the aggregator's latest-wins state
absorbs (FEEDS.md: "must tolerate seeing the boundary records again").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ioc.connector import SourceError


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
        rows: list[Any] = []
        page, requests, more = 1, 0, True
        while more and requests < self.max_pages:
            data = self._get(cursor, page)["du_lieu"]
            requests += 1
            if not data:
                more = False
                break
            rows.extend(data)
            newest = self._newest(data)
            if newest is not None and (cursor is None or parse_time(newest) > parse_time(cursor)):  # type: ignore[operator]
                cursor, page = newest, 1
            else:
                page += 1
        return Page(rows, cursor, requests, more)

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
