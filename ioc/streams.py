"""Redis streams: micro-batches in Arrow IPC, the connector's atomic publish, the consumer group.

Every write that must not be half-done goes through one MULTI/EXEC: a connector's entries, dead
letters and cursor together; an aggregator's checkpoint, snapshot and XACK together. Only the
portable subset of commands is used (Redis 6.2 to 8, Valkey).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import polars as pl
import redis

from ioc import keys
from ioc.privacy import redact, scrub_value

log = logging.getLogger(__name__)

BATCH_ROWS = 2000  # rows per stream entry: fewer, larger IPC batches encode and decode faster per record
FIELD_BATCH = b"b"
FIELD_ROWS = b"n"
FIELD_SOURCE = b"src"
TRIMMED = "entry trimmed from the stream before it was processed"


ARROW_FILE_MAGIC = b"ARROW1"


def encode_frame(frame: pl.DataFrame) -> bytes:
    """Arrow IPC in the streaming format (LZ4): it decodes about 9 times faster than the file
    format for batches of a few hundred rows (no footer to seek, no memory map)."""
    buf = io.BytesIO()
    frame.write_ipc_stream(buf, compression="lz4")
    return buf.getvalue()


def schema_message(data: bytes) -> bytes | None:
    """The leading schema message of an Arrow IPC stream (the same bytes for every batch a
    writer sends with one schema), or None for the file format: a cheap key to remember a
    schema already checked."""
    if data[:4] != b"\xff\xff\xff\xff" or len(data) < 8:
        return None
    return data[: 8 + int.from_bytes(data[4:8], "little")]


def decode_frame(data: bytes) -> pl.DataFrame:
    """Either Arrow IPC format: the streaming one written now, the file one of older entries and
    checkpoints."""
    if data[: len(ARROW_FILE_MAGIC)] == ARROW_FILE_MAGIC:
        return pl.read_ipc(io.BytesIO(data))
    return pl.read_ipc_stream(io.BytesIO(data))


@dataclass(frozen=True)
class DeadLetter:
    """Something that was not counted, why, and what it was (after personal data was removed)."""

    reason: str
    record: Any
    source: str

    def fingerprint(self) -> str:
        body = json.dumps([self.reason, self.record], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.blake2b(body.encode(), digest_size=12).hexdigest()

    def fields(self) -> dict[str, str]:
        """What is stored, scrubbed once more here: whoever made the letter, no name, phone number
        or id in its reason or record reaches Redis."""
        return {
            "reason": redact(self.reason),
            "record": json.dumps(scrub_value(self.record), ensure_ascii=False, default=str),
            "source": self.source,
            "at": str(int(time.time() * 1000)),
        }


@dataclass
class Publication:
    """What one connector poll hands to Redis in one transaction."""

    feed: str
    connector: str
    records: pl.DataFrame
    dead_letters: Sequence[DeadLetter]
    cursor: str | None
    health: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


DEAD_SEEN_S = 7 * 86400


def publish(client: redis.Redis, pub: Publication, *, maxlen: int, dead_maxlen: int) -> int:
    """Append the records as micro-batches, the dead letters and the new cursor, atomically.

    Dead letters are remembered by fingerprint for a week (see :func:`unseen`) in the same
    transaction, so a record read twice at a page boundary is dead-lettered once.

    Returns the number of stream entries written.
    """
    pipe = client.pipeline(transaction=True)
    entries = 0
    for chunk in pub.records.iter_slices(BATCH_ROWS):
        pipe.xadd(
            keys.raw_stream(pub.feed),
            {FIELD_BATCH: encode_frame(chunk), FIELD_ROWS: chunk.height, FIELD_SOURCE: pub.connector},
            maxlen=maxlen,
            approximate=True,
        )
        entries += 1
    for dead in pub.dead_letters:
        pipe.xadd(keys.dead_letters(pub.feed), dead.fields(), maxlen=dead_maxlen, approximate=True)  # type: ignore[arg-type]
    if pub.cursor is not None:
        pipe.set(keys.cursor(pub.feed, pub.connector), pub.cursor)
    if pub.dead_letters:
        now = time.time()
        pipe.zadd(keys.dead_seen(pub.feed), {d.fingerprint(): now for d in pub.dead_letters})
        pipe.zremrangebyscore(keys.dead_seen(pub.feed), "-inf", now - DEAD_SEEN_S)
    health_key = keys.connector_health(pub.feed, pub.connector)
    if pub.health:
        pipe.hset(health_key, mapping=pub.health)  # type: ignore[arg-type]
    for name, amount in pub.counters.items():
        pipe.hincrby(health_key, name, amount)
    pipe.execute()
    return entries


def unseen(client: redis.Redis, feed: str, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """The dead letters not already written for this feed (same reason, same record)."""
    if not letters:
        return []
    prints = [d.fingerprint() for d in letters]
    scores = client.zmscore(keys.dead_seen(feed), prints)
    fresh: dict[str, DeadLetter] = {}
    for letter, fp, score in zip(letters, prints, scores, strict=True):
        if score is None:
            fresh.setdefault(fp, letter)
    return list(fresh.values())


def read_cursor(client: redis.Redis, feed: str, connector: str) -> str | None:
    value = client.get(keys.cursor(feed, connector))
    return None if value is None else _text(value)


@dataclass(frozen=True)
class Entry:
    id: bytes
    fields: dict[bytes, bytes]


def _entries(reply: Any) -> list[Entry]:
    """XREADGROUP's reply for one stream as entries."""
    raw = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply or [])
    return [Entry(i, f) for _stream, items in raw for i, f in items]


class GroupReader:
    """One consumer of a feed's raw stream in the aggregator group.

    It reads new entries, takes over entries left pending by a consumer that died, and sends
    entries that were delivered too often without success to the dead letters.
    """

    def __init__(
        self,
        client: redis.Redis,
        feed: str,
        consumer: str,
        *,
        claim_idle_ms: int,
        max_deliveries: int,
        dead_maxlen: int = 100_000,
    ) -> None:
        self.client = client
        self.feed = feed
        self.stream = keys.raw_stream(feed)
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.dead_maxlen = dead_maxlen
        self.own_history = False
        self.history_from = "0-0"
        self.claimed = 0
        self.dead_lettered = 0

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, keys.AGGREGATOR_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, count: int, block_ms: int) -> list[Entry]:
        """Entries to process: first this consumer's own left from before it (re)took the lease,
        then any taken over from consumers that died, then new ones."""
        if self.own_history:
            mine = self._own_history(count)
            if mine:
                return mine
            self.own_history = False
        claimed = self.reclaim(count)
        if claimed:
            return claimed
        reply = self.client.xreadgroup(
            keys.AGGREGATOR_GROUP, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return _entries(reply)

    def take_back_own(self) -> None:
        """After taking the feed's lease: this consumer's pending entries (read before it lost the
        lease, say) are read again first. Otherwise they are in flight and never reclaimed."""
        self.own_history, self.history_from = True, "0-0"

    def _own_history(self, count: int) -> list[Entry]:
        if self.history_from == "0-0":
            # Reading history delivers again: an entry that kills the process that reads it (one
            # that restarts with this name, a container's pid 1) would be read at every start.
            self._retire_poison(self._pending_of(self.consumer, count=1000))
        while True:
            reply = self.client.xreadgroup(
                keys.AGGREGATOR_GROUP, self.consumer, {self.stream: self.history_from}, count=count
            )
            items = _entries(reply)
            if not items:
                return []
            trimmed = [e.id for e in items if not e.fields]  # a trimmed entry comes back without fields
            if trimmed:
                self._dead_letter_all(trimmed, TRIMMED)
            self.history_from = items[-1].id.decode()
            kept = [e for e in items if e.fields]
            if kept:
                return kept

    def reclaim(self, count: int) -> list[Entry]:
        """Entries pending longer than the claim time on other consumers (dead, or standing by
        after losing the lease), at most ``count``. Never this consumer's own: those are in
        flight, acknowledged at its next checkpoint however long its cycles take."""
        pending = self._others_pending(count)
        stale = [p["message_id"] for p in self._retire_poison(pending)][:count]
        if not stale:
            return []
        claimed = cast(
            list[tuple[bytes | None, dict[bytes, bytes] | None]],
            self.client.xclaim(self.stream, keys.AGGREGATOR_GROUP, self.consumer, self.claim_idle_ms, stale),
        )
        entries = [Entry(i, f) for i, f in claimed if i is not None and f]
        got = {e.id for e in entries}
        # Trimmed from the stream: Redis 6.2 answers nil and leaves it pending (now ours), Redis 7+
        # leaves it out and drops it from the pending list. An entry another consumer claimed
        # first is left out too, but still exists.
        trimmed = [i for i in stale if i not in got and not self.client.xrange(self.stream, i, i)]
        if trimmed:
            self._dead_letter_all(trimmed, TRIMMED)
        if entries:
            self.claimed += len(entries)
            log.warning("%s: took over %d entries from a dead consumer", self.feed, len(entries))
        return entries

    def _dead_letter_all(self, ids: Iterable[bytes], reason: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        for entry_id in ids:
            self.dead_letter(pipe, entry_id, reason)
        pipe.execute()

    def ack_pipeline(self, pipe: Any, ids: Iterable[bytes]) -> None:
        ids = list(ids)
        if ids:
            pipe.xack(self.stream, keys.AGGREGATOR_GROUP, *ids)

    def dead_letter(
        self, pipe: Any, entry_id: bytes, reason: str, source: str = "aggregator", *, acknowledge: bool = True
    ) -> None:
        """Queue, on ``pipe``, the move of one entry to the dead letters with its reason (or, not
        ``acknowledge``, a letter about some of its rows, the entry acknowledged as processed)."""
        letter = DeadLetter(reason=reason, record={"stream_entry": entry_id.decode()}, source=source)
        pipe.xadd(keys.dead_letters(self.feed), letter.fields(), maxlen=self.dead_maxlen, approximate=True)
        if acknowledge:
            pipe.xack(self.stream, keys.AGGREGATOR_GROUP, entry_id)
        self.dead_lettered += 1

    def _retire_poison(self, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send the entries among ``pending`` delivered ``max_deliveries`` times or more to the
        dead letters; the others are returned."""
        poison = [p for p in pending if p["times_delivered"] >= self.max_deliveries]
        if not poison:
            return pending
        pipe = self.client.pipeline(transaction=True)
        for p in poison:
            reason = f"delivered {p['times_delivered']} times without being processed"
            self.dead_letter(pipe, p["message_id"], reason)
        pipe.execute()
        log.error("%s: %d stream entries sent to the dead letters", self.feed, len(poison))
        return [p for p in pending if p["times_delivered"] < self.max_deliveries]

    def _others_pending(self, count: int) -> list[dict[str, Any]]:
        """Entries pending longer than the claim time on consumers other than this one, about
        ``count`` of them (this consumer's own in-flight entries never fill the page)."""
        found: list[dict[str, Any]] = []
        for info in self.client.xinfo_consumers(self.stream, keys.AGGREGATOR_GROUP):
            name = _text(info["name"])
            if name != self.consumer and info["pending"] and len(found) < count:
                found += self._pending_of(name, count=count - len(found), idle=self.claim_idle_ms)
        return found

    def _pending_of(self, consumer: str, **options: Any) -> list[dict[str, Any]]:
        return cast(
            list[dict[str, Any]],
            self.client.xpending_range(
                self.stream, keys.AGGREGATOR_GROUP, "-", "+", consumername=consumer, **options
            ),
        )

    def forget_idle_consumers(self) -> None:
        """Remove consumers with nothing pending that have been idle longer than the claim time."""
        for info in self.client.xinfo_consumers(self.stream, keys.AGGREGATOR_GROUP):
            name = info["name"]
            name = name.decode() if isinstance(name, bytes) else name
            if name != self.consumer and info["pending"] == 0 and info["idle"] > self.claim_idle_ms:
                self.client.xgroup_delconsumer(self.stream, keys.AGGREGATOR_GROUP, name)

    def progress(self) -> dict[str, int]:
        return stream_progress(self.client, self.feed)


COUNT_UNDELIVERED_AT_MOST = 250


def stream_progress(client: redis.Redis, feed: str) -> dict[str, int]:
    """Entries in a feed's raw stream, pending (delivered, not acknowledged), not yet delivered,
    and done.

    Not yet delivered is XINFO GROUPS' ``lag`` (Redis 7+). Where it is missing (Redis 6.2) or
    unknown (after some trims), the entries after the group's last-delivered-id are counted, at
    most :data:`COUNT_UNDELIVERED_AT_MOST` of them: every entry read is a whole micro-batch, and a
    backlog of millions of records must not be shipped to the health board to be counted.
    """
    stream = keys.raw_stream(feed)
    if not client.exists(stream):
        return {"length": 0, "pending": 0, "undelivered": 0, "done": 0}
    infos = client.xinfo_groups(stream)
    group = {_text(g["name"]): g for g in infos}.get(keys.AGGREGATOR_GROUP)
    length = client.xlen(stream)
    if group is None:
        return {"length": length, "pending": 0, "undelivered": length, "done": 0}
    last = _text(group["last-delivered-id"])
    if group.get("lag") is not None:
        undelivered = int(group["lag"])
    elif last == "0-0":
        undelivered = length
    else:
        after = client.xrange(stream, f"({last}", "+", count=COUNT_UNDELIVERED_AT_MOST)
        undelivered = len(cast(list[Any], after))
    pending = int(group["pending"])
    return {
        "length": length,
        "pending": pending,
        "undelivered": undelivered,
        "done": length - pending - undelivered,
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
