"""Vaccination records (FEEDS.md §4): pushed to a webhook, pulled from the listing, or both.

Citizen ids become keyed pseudonyms (HMAC-SHA256, key ``IOC_PSEUDONYM_KEY``) and birth dates age
bands inside :class:`ioc.feed_contracts.VaccinationContract`, before anything is stored; names, birth
dates and ids reach neither Redis, nor the logs, nor the dead letters. A record that arrives both
ways is counted once (latest version by ``cap_nhat_luc``). The webhook checks signatures with its
own secret, ``IOC_WEBHOOK_SECRET_<NAME>`` (``IOC_WEBHOOK_SECRET_VACCINATION`` for the built-in
table), falling back to the older shared ``IOC_WEBHOOK_SECRET`` for the built-in table only (see
:mod:`connectors.webhook`).
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from connectors.paged_http import PagedHttpSource, read_batch
from connectors.webhook import Accept, Receiver, WebhookOptions, receiver_for
from ioc.connector import Batch, Context
from ioc.contracts import make_contract
from ioc.signatures import webhook_secret

PATH = "/api/v1/mui-tiem"


class VaccinationConfig(WebhookOptions):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = Field(
        None, description="Base URL of the immunisation system for pulling (appends /api/v1/mui-tiem)."
    )
    webhook: bool = Field(False, description="Also accept POSTs of dose records at `webhook_path`.")
    interval_s: float = Field(30.0, gt=0, description="Seconds between polls.")
    page_size: int = Field(500, ge=1, le=5000, description="Records asked for per page.")
    max_pages: int = Field(200, ge=1, description="Pages read at most in one poll.")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one request, in seconds.")

    @model_validator(mode="after")
    def _a_way_in(self) -> VaccinationConfig:
        if self.url is None and not self.webhook:
            raise ValueError("set url (pull), webhook = true (push), or both")
        return self


class VaccinationConnector:
    name: ClassVar[str] = "vaccination"
    feed: ClassVar[str] = "vaccination"
    Config: ClassVar[type[BaseModel]] = VaccinationConfig

    def __init__(self, config: VaccinationConfig, *, context: Context) -> None:
        self.config = config
        self.context = context
        self.units = context.coding(config)
        self.contract = make_contract(self.feed, None, context)  # refuses to start without the key
        self.secret = b""
        if config.webhook:  # refuses to start without its own signing secret
            self.secret = webhook_secret(
                context.name or self.name, config.webhook_secret_env, context.secrets
            )
        self.source = (
            None
            if config.url is None
            else PagedHttpSource(
                context.http,
                str(config.url).rstrip("/") + PATH,
                page_size=config.page_size,
                max_pages=config.max_pages,
                timeout_s=config.timeout_s,
            )
        )

    def check(self) -> str:
        parts = [] if self.source is None else [f"{self.source.url}: {self.source.total()} dose records"]
        if self.config.webhook:
            parts.append(f"webhook on port {self.config.webhook_port} at {self.config.webhook_path}")
        return "; ".join(parts)

    def poll(self, cursor: str | None) -> Batch:
        if self.source is None:
            return Batch(pl.DataFrame(schema=self.contract.schema), cursor)
        not_after = self.context.not_after(self.config.future_skew_s)
        return read_batch(
            self.source, self.contract, cursor, units=self.units, source=self.name, not_after=not_after
        )

    def listen(self, accept: Accept) -> Receiver | None:
        if not self.config.webhook:
            return None
        receiver = receiver_for(self.config, self.context, self.contract, self.name, self.secret, accept)
        return receiver.start()
