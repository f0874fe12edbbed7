"""Generic: any feed from an HTTP JSON listing paged by a time cursor, in the source's own names.

The listing is walked as in FEEDS.md §1 (keyset pages from the newest cursor value seen), with
the query parameters, the path of the records list in the body and the cursor field configured;
``mapping`` renames the source's fields to FEEDS.md's, and the feed's contract does the rest.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from connectors.paged_http import ListingShape, PagedHttpConfig, PagedHttpSource, read_batch
from ioc.connector import Batch, Context
from ioc.contracts import make_contract


class HttpJsonConfig(PagedHttpConfig):
    feed: str = Field(description="The feed the records belong to (FEEDS.md name).")
    path: str = Field("", description="Path appended to `url` (may be empty).")
    since_param: str = Field("cap_nhat_tu", description="Query parameter carrying the cursor time.")
    page_param: str = Field("trang", description="Query parameter of the page number (from 1).")
    size_param: str = Field("so_ban_ghi", description="Query parameter of the page size.")
    records_path: str = Field(
        "du_lieu", description="Where the list of records is in the body, dotted (`data.items`)."
    )
    cursor_field: str = Field(
        "cap_nhat_luc", description="The source's field of each record's last change (ISO time with offset)."
    )
    token_env: str | None = Field(
        None,
        description="Name of an environment variable holding a bearer token for the source (the "
        "token itself never goes in the file).",
    )
    mapping: dict[str, str] = Field(
        default_factory=dict, description="FEEDS.md field name -> the source's name, where they differ."
    )
    options: dict[str, Any] = Field(default_factory=dict, description="The feed's own options.")


class HttpJsonConnector:
    name: ClassVar[str] = "http_json"
    feed: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = HttpJsonConfig

    def __init__(self, config: HttpJsonConfig, *, context: Context) -> None:
        self.config = config
        self.context = context
        self.feed = config.feed  # type: ignore[misc]
        self.units = context.coding(config)
        self.contract = make_contract(config.feed, config.options, context, mapping=config.mapping)
        headers = {}
        if config.token_env:
            token = context.secret(config.token_env, "token_env names it as the source's bearer token")
            headers["Authorization"] = f"Bearer {token.decode()}"
        shape = ListingShape(
            since_param=config.since_param,
            page_param=config.page_param,
            size_param=config.size_param,
            records=config.records_path,
            cursor_field=config.cursor_field,
        )
        self.source = PagedHttpSource(
            context.http,
            str(config.url).rstrip("/") + config.path,
            page_size=config.page_size,
            max_pages=config.max_pages,
            timeout_s=config.timeout_s,
            shape=shape,
            headers=headers,
        )

    def check(self) -> str:
        return f"{self.source.url}: {self.source.total()} records for {self.feed}"

    def poll(self, cursor: str | None) -> Batch:
        not_after = self.context.not_after(self.config.future_skew_s)
        return read_batch(
            self.source, self.contract, cursor, units=self.units, source=self.name, not_after=not_after
        )
