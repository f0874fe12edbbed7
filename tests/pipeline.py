"""The real pipeline in one process for tests: source → connector runner → Redis → aggregator."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import redis

from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from ioc import keys
from ioc.aggregate import Aggregator
from ioc.config import AggregatorSettings
from ioc.connector import Context
from ioc.feeds import FEED_SPECS
from ioc.runner import ConnectorRunner
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable


class FeedPipeline:
    """Any connector through the real runner, Redis and its feed's aggregator."""

    def __init__(
        self,
        client: redis.Redis,
        units: UnitTable,
        connector: Any,
        clock: Callable[[], datetime],
        *,
        read_count: int = 50,
    ) -> None:
        self.client = client
        self.connector = connector
        self.feed = connector.feed
        self.runner = ConnectorRunner(client, connector, interval_s=1, clock=clock)
        settings = AggregatorSettings(read_count=read_count, interval_s=0.05)  # type: ignore[call-arg]
        self.aggregator = Aggregator(client, FEED_SPECS[self.feed], units, settings, clock=clock)
        assert self.aggregator.open()
        self.reader = SnapshotReader(client)

    def sync(self) -> None:
        """Pull everything the source has, then aggregate everything pulled."""
        while self.runner.run_once():
            pass
        self.aggregator.drain()

    def kpis(self, unit: str, window: str) -> dict:
        found = self.reader.kpis(self.feed, unit, window)
        assert found is not None, f"no snapshot for {unit}/{window}"
        return found

    def dead_letters(self) -> list[dict]:
        entries = self.client.xrange(keys.dead_letters(self.feed))
        return [
            {k.decode(): v.decode() for k, v in fields.items()} | {"record": json.loads(fields[b"record"])}
            for _id, fields in entries
        ]


class Pipeline(FeedPipeline):
    """The one-stop system's dossiers from an HTTP source at ``url``."""

    def __init__(
        self,
        client: redis.Redis,
        units: UnitTable,
        url: str,
        clock: Callable[[], datetime],
        *,
        page_size: int = 500,
        read_count: int = 50,
        counted_in: UnitTable | None = None,  # the aggregator's scheme, when not the records'
    ) -> None:
        self.http = httpx.Client()
        config = PublicServicesConfig(url=url, page_size=page_size, max_pages=5)  # type: ignore[arg-type]
        connector = PublicServicesConnector(config, context=Context(units=units, http=self.http, clock=clock))
        super().__init__(client, counted_in or units, connector, clock, read_count=read_count)

    def close(self) -> None:
        self.http.close()
