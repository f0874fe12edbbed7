"""The aggregator worker: raw stream → latest state → KPI snapshot, exactly once in effect.

Each cycle reads entries through the consumer group, merges them into the latest-version state,
computes every KPI for every unit and window, and commits checkpoint, snapshot, series and XACK
in one MULTI/EXEC guarded by the feed's lease. A crash before EXEC leaves the entries pending
(another worker reclaims them); a crash after leaves nothing to redo.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import polars as pl
import redis

from ioc import alert_store, keys
from ioc import cases as case_lists
from ioc import horizon as horizons
from ioc.alerts import Alerts
from ioc.config import AggregatorSettings
from ioc.documents import DeltaDocument, SnapshotMeta
from ioc.feeds import FeedSpec
from ioc.history import HistoryWriter
from ioc.index766 import FIELD_PREFIX, INDEX_META
from ioc.indicators import indicator_documents
from ioc.kpis import TZ
from ioc.ledger import Ledger
from ioc.snapshots import delta_document, series_documents
from ioc.state import State, with_arrival
from ioc.streams import FIELD_BATCH, Entry, GroupReader, decode_frame, schema_message
from ioc.units import UnitTable

log = logging.getLogger(__name__)

SCHEMAS_REMEMBERED = 64
DELTAS_MAXLEN = 1000  # the relay reads them live; a screen that connects gets the snapshot
WEEK = timedelta(days=7)  # the series overlaid when a room compares with last week


class LeaseLost(Exception):
    """Another worker owns the feed now; this one must reload before it writes again."""


class Aggregator:
    """One worker for one feed. ``run()`` until ``close()``; safe to kill at any moment."""

    def __init__(
        self,
        client: redis.Redis,
        spec: FeedSpec,
        units: UnitTable,
        settings: AggregatorSettings,
        *,
        consumer: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        dead_maxlen: int = 100_000,
        alerts: Alerts | None = None,
        history: HistoryWriter | None = None,
    ) -> None:
        self.client = client
        self.alerts = alerts
        self.history = history
        self.week_before_start: datetime | None = None  # the series' start its week before was written for
        self.spec = spec
        self.units = units
        self.settings = settings
        self.clock = clock
        # A random part: a container restarted as pid 1 on the same host is a new consumer, and
        # what its previous life left pending is taken over (and retired if it kills) as a dead
        # consumer's, not read again at once as its own.
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.reader = GroupReader(
            client,
            spec.name,
            self.consumer,
            claim_idle_ms=int(settings.claim_idle_s * 1000),
            max_deliveries=settings.max_deliveries,
            dead_maxlen=dead_maxlen,
        )
        self.rollup_frame = units.rollup()
        self.rollup = self.rollup_frame.lazy()
        self.state: State | None = None
        self.ledger: Ledger | None = None  # the incremental KPIs' partial sums, with the state
        self.horizon = horizons.configured(spec, settings)
        self.horizon_column = spec.horizon_column or ""  # set wherever a horizon is
        self.late: dict[bytes, str] = {}  # dead letters of rows past the horizon, written when acknowledged
        self.folded = 0  # records dropped from the state past the horizon, their sums kept
        self.published: dict[str, str] = {}  # snapshot fields as last committed
        self.published_series: dict[str, str] = {}
        self.case_book = case_lists.CaseBook()  # what the work lists hold, as last committed
        self.list_units = set(case_lists.list_units(self.rollup_frame))  # the units with a work list
        self.unacked: list[bytes] = []  # applied and published, acknowledged at the next checkpoint
        self.last_checkpoint = time.monotonic()
        self.stopping = threading.Event()
        self.cycles = self.records_applied = self.entries_acked = 0
        self.last_compute = 0.0
        self.schemas_seen: set[bytes] = set()

    def __repr__(self) -> str:
        rows = self.state.frame.height if self.state else 0
        return (
            f"<Aggregator {self.spec.name} consumer={self.consumer} cycles={self.cycles} "
            f"entries={self.entries_acked} records={self.records_applied} state={rows} "
            f"claimed={self.reader.claimed} dead={self.reader.dead_lettered}>"
        )

    # ---- lifecycle ---------------------------------------------------------------------

    def open(self) -> bool:
        """Create the consumer group if needed and try to take the feed's lease."""
        self.reader.ensure_group()
        return self._acquire()

    def drain(self) -> int:
        """Cycle until the stream has nothing more for this worker; returns entries processed."""
        total = 0
        self.last_compute = 0.0  # the first cycle recomputes even if nothing is new
        while done := self.cycle():
            total += done
        self.cycle(checkpoint=True)
        return total

    def run(self) -> None:
        """Cycle until ``close()``. Under a backlog (a read returned all it may), the next read
        runs while this cycle computes: Redis serialises a million-record reply on its own core
        meanwhile. Otherwise a cycle reads when it starts, so a record that has just arrived is in
        the very next cycle. Entries read ahead are processed at a clean stop; if the lease is
        lost they stay pending in the group, for the feed's next owner to take over."""
        self.reader.ensure_group()
        with ThreadPoolExecutor(1, thread_name_prefix=f"read-{self.spec.name}") as reads:
            ahead: Future[list[Entry]] | None = None
            while not self.stopping.is_set():
                if self.state is None and not self._acquire():
                    self.stopping.wait(min(1.0, self.settings.lease_ttl_s / 3))
                    continue
                try:
                    entries = ahead.result() if ahead is not None else self._read()
                    backlog = len(entries) >= self.settings.read_count
                    ahead = reads.submit(self._read) if backlog else None
                    self.cycle(entries=entries)
                except LeaseLost:
                    log.warning("%s: lease lost to another worker; standing by", self.spec.name)
                    if ahead is not None:
                        ahead.result()  # left pending, not acknowledged: the new owner's
                    ahead, self.state, self.ledger, self.unacked, self.late = None, None, None, [], {}
            left = ahead.result() if ahead is not None else []
        if self.state is not None:
            self.cycle(checkpoint=True, entries=left)  # a clean stop leaves nothing to redo
        log.info("stopped: %r", self)

    def close(self) -> None:
        self.stopping.set()

    def release(self) -> None:
        """Give the lease back at a clean stop so a successor need not wait for it to expire."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.watch(  # type: ignore[no-untyped-call]
                keys.lease(self.spec.name)
            )
            if pipe.get(keys.lease(self.spec.name)) == self.consumer.encode():
                pipe.multi()
                pipe.delete(keys.lease(self.spec.name))
                pipe.execute()

    def _acquire(self) -> bool:
        ttl_ms = int(self.settings.lease_ttl_s * 1000)
        if not self.client.set(keys.lease(self.spec.name), self.consumer, nx=True, px=ttl_ms):
            return False
        saved = cast(dict[bytes, bytes], self.client.hgetall(keys.checkpoint(self.spec.name)))
        self.state = State.restore(
            saved,
            self.spec.schema,
            self.spec.key,
            self.spec.version,
            self.spec.buckets(self.settings.state_buckets),
        )
        if self.spec.incremental is not None:
            self.ledger = Ledger.restore(self.spec.incremental, saved, self.state.frame)
        self.published = _texts(self.client.hgetall(keys.snapshot(self.spec.name)))
        self.published_series = _texts(self.client.hgetall(keys.series(self.spec.name)))
        self.case_book = case_lists.CaseBook()  # unknown: the first commit rewrites the lists
        self.unacked, self.last_checkpoint = [], time.monotonic()
        log.info("%s: took the lease, restored %d records", self.spec.name, self.state.frame.height)
        self.reader.forget_idle_consumers()
        self.reader.take_back_own()
        self.last_compute = 0.0
        return True

    # ---- one cycle ---------------------------------------------------------------------

    def _read(self) -> list[Entry]:
        return self.reader.read(self.settings.read_count, int(self.settings.interval_s * 1000))

    def cycle(self, *, checkpoint: bool = False, entries: list[Entry] | None = None) -> int:
        """Read (unless given ``entries``), merge, compute and publish once; returns the number
        of entries processed.

        The snapshot and delta are published every cycle; the checkpoint and the XACK of the
        entries it covers only every ``checkpoint_s`` (or when ``checkpoint`` is asked for).
        """
        assert self.state is not None
        entries = self._read() if entries is None else entries
        new, poison = self._decode(entries)
        now = time.monotonic()
        self.unacked += [e.id for e in entries if e.id not in poison]
        durable = checkpoint or now - self.last_checkpoint >= self.settings.checkpoint_s
        as_of = self.clock().astimezone(UTC).replace(microsecond=0)  # as shown and served
        foldable = self.horizon is not None and horizons.foldable(
            self.state.frame, self.horizon_column, as_of - self.horizon
        )
        pending_work = bool(self.unacked or self.state.dirty or foldable) and durable
        rules_moved = self.alerts is not None and self.alerts.moved()  # rules or silences
        counted = self.state.frame.height > 0 or (self.ledger is not None and self.ledger.rows > 0)
        due = (now - self.last_compute >= self.settings.recompute_s or rules_moved) and counted
        if not entries and not due and not pending_work:
            self._renew()  # nothing new, or nothing at all: an all-zero snapshot would mislead
            return 0
        state, ledger, folded = self.state, self.ledger, 0
        if new is not None and ledger is not None and ledger.folded_before is not None:
            # only what was dropped is refused, not what this worker's clock says is past
            new, late = horizons.refused(new, self.horizon_column, ledger.folded_before, self.horizon)
            self.late |= late
        if new is not None:
            state, added, replaced = self.state.apply(new)
            ledger = ledger.update(added, replaced) if ledger is not None else None
        if durable and self.horizon is not None and ledger is not None:
            # past the horizon a row can no longer be re-delivered: its sums stay, the row goes;
            # where rows were dropped is saved with the sums (a worker's clock may lag another's)
            cutoff = max(as_of - self.horizon, ledger.folded_before or as_of - self.horizon)
            state, folded = state.drop_before(self.horizon_column, cutoff)
            ledger = ledger.fold(cutoff).compact(as_of, self.settings.series_days + 8)
        acks = self.unacked if durable else []
        self._commit(state, ledger, as_of, acks, poison, durable=durable)
        if durable:
            self.entries_acked += len(acks)
            self.unacked, self.last_checkpoint, self.late = [], now, {}
            self.folded += folded
            state = state.clean()
            ledger = ledger.clean() if ledger is not None else None
        self.state, self.ledger = state, ledger
        self.last_compute = now
        self.cycles += 1
        self.records_applied += new.height if new is not None else 0
        return len(entries)

    def _decode(self, entries: list[Entry]) -> tuple[pl.DataFrame | None, dict[bytes, str]]:
        """The entries' batches as one frame tagged with arrival order, and the poison entries."""
        frames: list[pl.DataFrame] = []
        ids: list[bytes] = []
        poison: dict[bytes, str] = {}
        for entry in entries:
            try:
                frame = decode_frame(entry.fields[FIELD_BATCH])
            except KeyError:
                poison[entry.id] = "stream entry has no Arrow batch field 'b'"
                continue
            except (OSError, pl.exceptions.PolarsError) as exc:
                poison[entry.id] = f"stream entry is not an Arrow IPC batch: {exc}"
                continue
            if not self._schema_ok(entry.fields[FIELD_BATCH], frame):
                poison[entry.id] = f"batch schema {dict(frame.schema)} is not the {self.spec.name} schema"
                continue
            frames.append(frame)
            ids.append(entry.id)
        if not any(f.height for f in frames):
            return None, poison
        return with_arrival(frames, ids), poison

    def _schema_ok(self, blob: bytes, frame: pl.DataFrame) -> bool:
        """The batch has the feed's schema; checked once per distinct IPC schema message (comparing
        Polars schemas in Python costs more than decoding a small batch)."""
        head = schema_message(blob)
        if head is not None and head in self.schemas_seen:
            return True
        if frame.schema != self.spec.schema:
            return False
        if head is not None and len(self.schemas_seen) < SCHEMAS_REMEMBERED:
            self.schemas_seen.add(head)
        return True

    def _commit(
        self,
        state: State,
        ledger: Ledger | None,
        as_of: datetime,
        acks: list[bytes],
        poison: dict[bytes, str],
        *,
        durable: bool,
    ) -> None:
        records = state.records()
        table = (  # from the partial sums where the feed keeps them, else from the whole state
            ledger.kpis(records, self.rollup, as_of)
            if ledger is not None
            else self.spec.compute(records, self.rollup, as_of)
        )
        hours = self.settings.series_days * 24
        start = (as_of - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
        series = self._series(records, ledger, as_of, self.settings.series_days)
        frames = [
            table,
            series.filter(pl.col("hour") >= start),
            records.select(pl.col(self.spec.version).max()),
        ]
        if self.spec.cases is not None:  # every overdue case in each list that holds it
            frames.append(case_lists.placed(self.spec.cases(records, as_of), self.rollup_frame))
        # The 766 index's indicators: with every durable commit (the state they count is the one
        # checkpointed), and at a worker's first; between them the last ones stay as published.
        counting = self.spec.indicators is not None and (durable or INDEX_META not in self.published)
        if counting and self.spec.indicators is not None:
            frames.append(self.spec.indicators(records, self.rollup, as_of))
        table_df, series_df, newest, *more = pl.collect_all(frames)
        overdue = more.pop(0) if self.spec.cases is not None else None  # then the indicators, if counted
        indicators = more
        meta: SnapshotMeta = {
            "as_of": as_of.astimezone(TZ).isoformat(timespec="seconds"),
            "records": state.frame.height,
            "newest_record_at": _iso(newest.item()),
            "series_start": start.astimezone(TZ).isoformat(),
        }
        snapshot = self.spec.documents(self.spec, table_df, records, self.rollup_frame, as_of)
        lists = None
        if overdue is not None:
            self.case_book.check(self.client, self.spec.name)
            lists = self.case_book.changes(overdue, self.rollup_frame)
        if indicators:
            snapshot |= indicator_documents(indicators[0])
            snapshot[INDEX_META] = json.dumps({"as_of": meta["as_of"]})
        elif self.spec.indicators is not None:
            snapshot |= {k: v for k, v in self.published.items() if k.startswith(FIELD_PREFIX)}
        snapshot[keys.META_FIELD] = json.dumps(meta)
        series_docs = (  # a feed without measures (the portal's index) keeps no series
            series_documents(series_df, self.units.codes, start, hours, self.spec.measures)
            if self.spec.measures
            else {}
        )
        delta = delta_document(
            self.spec.name, meta, self.published, snapshot, self.published_series, series_docs
        )
        raised = self._alerts(snapshot, as_of, delta, overdue)
        week_before = self._week_before(records, ledger, start, hours)

        def also(pipe: Any) -> None:
            if raised is not None:
                raised(pipe)
            if lists is not None:
                lists.write(pipe, self.spec.name)
            if week_before:
                pipe.hset(keys.series_week_before(self.spec.name), mapping=week_before)

        self._transaction(
            state if durable else None,
            ledger if durable else None,
            snapshot,
            series_docs,
            delta,
            acks,
            poison,
            also,
        )
        if week_before:
            self.week_before_start = start
        if lists is not None:
            self.case_book.committed(lists)
        self.published, self.published_series = snapshot, series_docs
        if self.history is not None:  # once an hour: what was just published, as it was known
            self.history.offer(as_of, snapshot)

    def _series(
        self, records: pl.LazyFrame, ledger: Ledger | None, as_of: datetime, days: int
    ) -> pl.LazyFrame:
        """The hourly series: from the sums where they are kept per instant (the records of a
        counter feed are not held past its horizon), else from the records."""
        if ledger is not None and ledger.incremental.series is not None:
            return ledger.hourly(self.rollup, as_of, days=days)
        return self.spec.series(records, self.rollup, as_of, days=days)

    def _week_before(
        self, records: pl.LazyFrame, ledger: Ledger | None, start: datetime, hours: int
    ) -> dict[str, str]:
        """The series' hours a week earlier, each unit's (what a room overlays when it compares with
        last week), when the series' first hour has moved since they were last written: whole
        hours, which change after that only by late records, counted again an hour later."""
        if not self.spec.measures or self.week_before_start == start:
            return {}
        begin = start - WEEK
        end = begin + timedelta(hours=hours, microseconds=-1)
        counted = self._series(records, ledger, end, self.settings.series_days)
        frame = counted.filter(pl.col("hour") >= begin).collect()
        return series_documents(frame, self.units.codes, begin, hours, self.spec.measures)

    def _alerts(
        self, snapshot: dict[str, str], as_of: datetime, delta: DeltaDocument, overdue: pl.DataFrame | None
    ) -> Callable[[Any], None] | None:
        """Evaluate the feed's rules (on the figures and on ``overdue``, the work lists' cases);
        the delta carries the active list when it changed, and the returned writer queues the
        changes on the commit's transaction."""
        if self.alerts is None:
            return None
        feed = self.spec.name
        previous = alert_store.read_active(self.client, feed)

        def listed(unit: str) -> list[dict[str, Any]] | None:  # a commune has no list
            return None if overdue is None else case_lists.cases_of(overdue, self.list_units, unit)

        found = self.alerts.evaluate(self.client, snapshot, as_of, listed)
        changes = alert_store.reconcile(previous, found, as_of)
        shown = {k: alert_store.with_ack(v, previous.get(k)) for k, v in changes.active.items()}
        if shown != previous:
            delta["alerts"] = list(shown.values())
        return lambda pipe: alert_store.write(pipe, feed, changes, previous, as_of)

    def _transaction(
        self,
        state: State | None,
        ledger: Ledger | None,
        snapshot: dict[str, str],
        series: dict[str, str],
        delta: DeltaDocument,
        acks: list[bytes],
        poison: dict[bytes, str],
        also: Callable[[Any], None] | None = None,
    ) -> None:
        feed = self.spec.name
        changed = {k: v for k, v in snapshot.items() if self.published.get(k) != v}
        changed_series = {u: v for u, v in series.items() if self.published_series.get(u) != v}
        if ledger is not None and state is not None and state.replace:
            ledger = ledger.everything()  # the checkpoint is rewritten whole
        saved, emptied = ledger.checkpoint_fields() if ledger is not None else ({}, [])
        with self._leased() as pipe:
            if state is not None and state.replace:
                pipe.delete(keys.checkpoint(feed))
            if state is not None and state.dirty:
                pipe.hset(keys.checkpoint(feed), mapping=state.checkpoint_fields())
                emptied = [*emptied, *state.emptied_fields()]
            if saved:  # the sums no record holds any more, with the state they go with
                pipe.hset(keys.checkpoint(feed), mapping=saved)
            if emptied:
                pipe.hdel(keys.checkpoint(feed), *emptied)
            if changed:
                pipe.hset(keys.snapshot(feed), mapping=changed)
            if gone := set(self.published) - set(snapshot):  # units no longer counted (a new scheme)
                pipe.hdel(keys.snapshot(feed), *gone)
            if changed_series:
                pipe.hset(keys.series(feed), mapping=changed_series)
            if gone_series := set(self.published_series) - set(series):
                pipe.hdel(keys.series(feed), *gone_series)
            pipe.xadd(keys.deltas(feed), {"d": json.dumps(delta)}, maxlen=DELTAS_MAXLEN, approximate=True)
            if also is not None:
                also(pipe)
            self.reader.ack_pipeline(pipe, acks)
            if acks:
                for entry_id, reason in self.late.items():
                    self.reader.dead_letter(pipe, entry_id, reason, acknowledge=False)
            for entry_id, reason in poison.items():
                self.reader.dead_letter(pipe, entry_id, reason)

    def _renew(self) -> None:
        """Push the lease's expiry back (``_leased`` does it on exit); LeaseLost if it is gone."""
        with self._leased():
            log.debug("%s: lease renewed by %s", self.spec.name, self.consumer)

    @contextmanager
    def _leased(self) -> Iterator[Any]:
        """A MULTI that commits only while this worker still holds the feed's lease."""
        lease = keys.lease(self.spec.name)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.watch(  # type: ignore[no-untyped-call]
                lease
            )
            if pipe.get(lease) != self.consumer.encode():
                raise LeaseLost(self.spec.name)
            pipe.multi()
            yield pipe
            pipe.pexpire(lease, int(self.settings.lease_ttl_s * 1000))
            try:
                pipe.execute()
            except redis.WatchError:
                raise LeaseLost(self.spec.name) from None


def _texts(mapping: Any) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in mapping.items()}


def _iso(value: Any) -> str | None:
    return value.astimezone(TZ).isoformat(timespec="seconds") if isinstance(value, datetime) else None
