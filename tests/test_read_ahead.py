"""Reading ahead under a backlog loses nothing: what was read ahead is processed at a stop."""

from __future__ import annotations

import threading

import pytest

from ioc import keys
from ioc.aggregate import Aggregator
from ioc.config import AggregatorSettings
from ioc.feeds import FEED_SPECS
from ioc.streams import Publication, publish, stream_progress
from tests.records import dossiers
from tests.wait import wait_until

FEED = "public_services"


@pytest.mark.timeout(60)
def test_a_worker_stopped_under_load_acknowledges_every_entry_it_read(r, units) -> None:
    """Under a backlog the aggregator reads ahead while it computes; stopped mid-stream, it
    finishes what it read: nothing stays pending and the snapshot counts every record of the
    acknowledged entries, the rest waits undelivered for the next worker."""
    settings = AggregatorSettings(read_count=4, interval_s=0.05, checkpoint_s=0.01)  # type: ignore[call-arg]
    worker = Aggregator(r, FEED_SPECS[FEED], units, settings)
    thread = threading.Thread(target=worker.run)
    for i in range(120):  # a backlog: every read returns all it may, and the next one is ahead
        publish(
            r,
            Publication(FEED, "test", dossiers(units, 500, start=500 * i, seed=i), [], None),
            maxlen=10_000,
            dead_maxlen=100,
        )
    thread.start()
    wait_until(
        lambda: stream_progress(r, FEED)["done"] >= 8,
        30,
        "the aggregator acknowledged fewer than 8 entries",
        interval=0.01,
    )
    worker.close()
    thread.join(30)
    progress = stream_progress(r, FEED)
    assert not thread.is_alive()
    assert progress["pending"] == 0
    assert 8 <= progress["done"] < 120, "stopped mid-stream"
    snapshot_meta = r.hget(keys.snapshot(FEED), keys.META_FIELD)
    assert snapshot_meta is not None
    assert f'"records": {progress["done"] * 500}' in snapshot_meta.decode()
    assert worker.records_applied == progress["done"] * 500
