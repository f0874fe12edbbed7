"""Dossiers of the provincial one-stop system (FEEDS.md §1), pulled over HTTP."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from connectors.paged_http import PagedConnector, PagedHttpConfig
from ioc.connector import Context
from ioc.feed_contracts import PublicServicesContract

PATH = "/api/v1/hoso"


class PublicServicesConfig(PagedHttpConfig):
    """The one-stop system; the connector appends /api/v1/hoso to ``url``."""


class PublicServicesConnector(PagedConnector):
    """Reads ``/api/v1/hoso`` page by page from its ``cap_nhat_tu`` cursor."""

    name: ClassVar[str] = "public_services"
    feed: ClassVar[str] = "public_services"
    Config: ClassVar[type[BaseModel]] = PublicServicesConfig
    PATH: ClassVar[str] = PATH
    WHAT: ClassVar[str] = "dossiers"

    def __init__(self, config: PublicServicesConfig, *, context: Context) -> None:
        super().__init__(config, context=context, contract=PublicServicesContract())
