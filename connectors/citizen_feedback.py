"""Citizen field reports (FEEDS.md §2, "1022 Tây Ninh"), pulled over HTTP.

The reporter (``nguoi_phan_anh``) is dropped and ``noi_dung`` redacted before anything is
stored; reports without a unit are placed by point-in-polygon; deadlines are computed in working
hours of the Vietnamese calendar (see :class:`ioc.sla.FeedbackOptions`).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from connectors.paged_http import PagedConnector, PagedHttpConfig
from ioc.connector import Context
from ioc.feed_contracts import FeedbackContract, LazyLocator
from ioc.sla import FeedbackOptions

PATH = "/api/v1/phan-anh"


class CitizenFeedbackConfig(PagedHttpConfig, FeedbackOptions):
    """The field-report system; the connector appends /api/v1/phan-anh to ``url``."""


class CitizenFeedbackConnector(PagedConnector):
    name: ClassVar[str] = "citizen_feedback"
    feed: ClassVar[str] = "citizen_feedback"
    Config: ClassVar[type[BaseModel]] = CitizenFeedbackConfig
    PATH: ClassVar[str] = PATH
    WHAT: ClassVar[str] = "reports"

    def __init__(self, config: CitizenFeedbackConfig, *, context: Context) -> None:
        super().__init__(config, context=context, contract=FeedbackContract(config, LazyLocator(context)))
