"""Dossiers of the provincial one-stop system (FEEDS.md §1), pulled over HTTP."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from connectors.paged_http import PagedHttpSource
from ioc.connector import Batch, Context
from ioc.contracts import PublicServicesContract

PATH = "/api/v1/hoso"


class PublicServicesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="Base URL of the one-stop system; the connector appends /api/v1/hoso.")
    interval_s: float = Field(30.0, gt=0, description="Seconds between polls.")
    page_size: int = Field(500, ge=1, le=5000, description="Records asked for per page (so_ban_ghi).")
    max_pages: int = Field(
        200, ge=1, description="Pages read at most in one poll; the rest waits for the next."
    )
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one request, in seconds.")


class PublicServicesConnector:
    """Reads ``/api/v1/hoso`` page by page from its ``cap_nhat_tu`` cursor."""

    name: ClassVar[str] = "public_services"
    feed: ClassVar[str] = "public_services"
    Config: ClassVar[type[BaseModel]] = PublicServicesConfig

    def __init__(self, config: PublicServicesConfig, *, context: Context) -> None:
        self.config = config
        self.context = context
        self.units = frozenset(context.units.codes)
        self.contract = PublicServicesContract()
        self.source = PagedHttpSource(
            context.http,
            str(config.url).rstrip("/") + PATH,
            page_size=config.page_size,
            max_pages=config.max_pages,
            timeout_s=config.timeout_s,
        )

    def check(self) -> str:
        total = self.source.total()
        return f"{self.source.url}: {total} dossiers"

    def poll(self, cursor: str | None) -> Batch:
        page = self.source.read(cursor)
        done = self.contract.transform(page.rows, units=self.units, source=self.name)
        return Batch(
            done.records,
            page.cursor,
            done.dead_letters,
            {"requests": page.requests, "rows": len(page.rows), "more": int(page.more)},
        )
