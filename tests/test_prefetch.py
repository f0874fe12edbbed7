"""Reading ahead loses nothing: what was read is processed, handed back at a stop, or left pending."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from bench.common import dossiers
from ioc import keys
from ioc.aggregate import Aggregator
from ioc.config import AggregatorSettings
from ioc.feeds import FEED_SPECS
from ioc.prefetch import Prefetch
from ioc.streams import Entry, Publication, publish, stream_progress

FEED = "public_services"


def counting_reader() -> tuple[list[list[Entry]], object]:
    batches: list[list[Entry]] = []

    def read() -> list[Entry]:
        batch = [Entry(f"{len(batches) + 1}-0".encode(), {})]
        batches.append(batch)
        return batch

    return batches, read


def test_what_was_read_ahead_and_not_taken_is_handed_back_at_the_stop() -> None:
    batches, read = counting_reader()
    ahead = Prefetch(read, "test")  # type: ignore[arg-type]
    taken = ahead.take() + ahead.take()
    time.sleep(0.3)  # it reads on: one batch waits in the queue, one in its hand
    left = ahead.stop()
    assert [e.id for e in taken + left] == [b[0].id for b in batches]
    assert len(left) == 2
    assert not ahead.thread.is_alive()


def test_a_failed_read_is_raised_where_the_entries_are_taken() -> None:
    def read() -> list[Entry]:
        raise redis.ConnectionError("Redis went away")

    ahead = Prefetch(read, "test")
    with pytest.raises(redis.ConnectionError, match="went away"):
        ahead.take()
    assert ahead.stop() == []


@pytest.mark.timeout(60)
def test_a_worker_stopped_under_load_acknowledges_every_entry_it_read(r, units) -> None:
    """The aggregator reads ahead while it computes; stopped mid-stream, it finishes what it read:
    nothing stays pending and the snapshot counts every record of the acknowledged entries."""
    settings = AggregatorSettings(read_count=4, interval_s=0.05)  # type: ignore[call-arg]
    worker = Aggregator(r, FEED_SPECS[FEED], units, settings)
    thread = threading.Thread(target=worker.run)
    batches = [dossiers(units, 500, start=500 * i, seed=i) for i in range(60)]
    publish(r, Publication(FEED, "test", batches[0], [], None), maxlen=10_000, dead_maxlen=100)
    thread.start()
    for batch in batches[1:]:
        publish(r, Publication(FEED, "test", batch, [], None), maxlen=10_000, dead_maxlen=100)
        time.sleep(0.01)
    worker.close()
    thread.join(30)
    progress = stream_progress(r, FEED)
    assert not thread.is_alive()
    assert progress["pending"] == 0
    assert 0 < progress["done"] <= len(batches)
    snapshot_meta = r.hget(keys.snapshot(FEED), keys.META_FIELD)
    assert snapshot_meta is not None
    assert f'"records": {progress["done"] * 500}' in snapshot_meta.decode()
    assert worker.records_applied == progress["done"] * 500
