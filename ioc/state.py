"""The aggregator's state: the latest version of every record, and its durable checkpoint.

The checkpoint is a Redis hash of buckets (records hashed by id), each an Arrow IPC blob, so a
cycle rewrites only the buckets its records touched. It is written in the same transaction as
the snapshot and the XACK of the entries it contains: after a crash, what was acknowledged is
exactly what the checkpoint holds, and everything else is still pending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import polars as pl

from ioc.streams import decode_frame, encode_frame

ARRIVAL = ("_arrival_hi", "_arrival_lo")
BUCKET = "_bucket"
META = b"meta"
HASH_SEED = 20_261_122


def with_arrival(frame: pl.DataFrame, entry_id: bytes) -> pl.DataFrame:
    """Tag each row with its arrival order: the stream entry id, then the row in the batch."""
    ms, seq = (int(part) for part in entry_id.split(b"-"))
    return frame.with_columns(
        pl.lit(ms, pl.Int64).alias(ARRIVAL[0]),
        (pl.lit(seq * 1_000_000, pl.Int64) + pl.int_range(pl.len(), dtype=pl.Int64)).alias(ARRIVAL[1]),
    )


def latest_versions(frame: pl.LazyFrame, key: str, version: str) -> pl.LazyFrame:
    """One row per key: the greatest version, ties broken by arrival order."""
    order = [version, *ARRIVAL]
    return frame.group_by(key).agg(pl.all().sort_by(order, nulls_last=False).last())


@dataclass(frozen=True)
class Bucketing:
    """How records are spread over checkpoint buckets.

    By a hash of the key (record feeds: a re-sent record rewrites one small bucket), or by a time
    column in slices of ``seconds`` (counter feeds: new periods touch only the newest bucket).
    """

    column: str
    buckets: int = 16
    seconds: int | None = None

    def expr(self) -> pl.Expr:
        if self.seconds is not None:
            return (pl.col(self.column).dt.epoch("s") // self.seconds).cast(pl.Int64).alias(BUCKET)
        return (pl.col(self.column).hash(seed=HASH_SEED) % self.buckets).cast(pl.Int64).alias(BUCKET)

    def describe(self) -> str:
        if self.seconds is not None:
            return f"time:{self.column}:{self.seconds}"
        return f"hash:{self.column}:{self.buckets}"


@dataclass
class State:
    """Latest record versions of one feed, held in memory between checkpoints."""

    key: str
    version: str
    bucketing: Bucketing
    frame: pl.DataFrame
    dirty: set[int] = field(default_factory=set)
    replace: bool = False  # the whole checkpoint is rewritten (bucketing changed)

    def merge(self, new: pl.DataFrame) -> State:
        """A new State with ``new`` applied; only the rows of keys in ``new`` are re-ranked."""
        if new.height == 0:
            return self
        new = new.with_columns(self.bucketing.expr())
        keys = new.select(self.key).unique()
        untouched = self.frame.join(keys, on=self.key, how="anti")
        changed = latest_versions(
            pl.concat([self.frame.join(keys, on=self.key, how="semi"), new]).lazy(), self.key, self.version
        ).collect()
        merged = pl.concat([untouched, changed.select(self.frame.columns)])
        touched = set(new[BUCKET].unique().to_list())
        return State(self.key, self.version, self.bucketing, merged, self.dirty | touched, self.replace)

    def records(self) -> pl.LazyFrame:
        return self.frame.lazy().drop(BUCKET, *ARRIVAL)

    def checkpoint_fields(self) -> dict[bytes, bytes]:
        """The buckets changed since the last checkpoint, ready for HSET."""
        fields: dict[bytes, bytes] = {}
        touched = self.frame.filter(pl.col(BUCKET).is_in(sorted(self.dirty)))
        for (bucket, *_), part in touched.partition_by(BUCKET, as_dict=True).items():
            fields[f"b:{bucket}".encode()] = encode_frame(part)
        for bucket in self.dirty:
            fields.setdefault(f"b:{bucket}".encode(), encode_frame(self.frame.clear()))
        fields[META] = json.dumps(
            {"buckets": self.bucketing.describe(), "polars": pl.__version__, "rows": self.frame.height}
        ).encode()
        return fields

    def clean(self) -> State:
        return State(self.key, self.version, self.bucketing, self.frame, set())

    @classmethod
    def empty(cls, schema: pl.Schema, key: str, version: str, bucketing: Bucketing) -> State:
        columns = pl.Schema({**schema, ARRIVAL[0]: pl.Int64(), ARRIVAL[1]: pl.Int64(), BUCKET: pl.Int64()})
        return cls(key, version, bucketing, pl.DataFrame(schema=columns))

    @classmethod
    def restore(
        cls, saved: dict[bytes, bytes], schema: pl.Schema, key: str, version: str, bucketing: Bucketing
    ) -> State:
        """Rebuild from the checkpoint hash; re-bucket everything if the bucketing changed."""
        state = cls.empty(schema, key, version, bucketing)
        parts = [decode_frame(blob) for name, blob in saved.items() if name.startswith(b"b:")]
        parts = [p for p in parts if p.height]
        if not parts:
            return state
        meta = json.loads(saved.get(META, b"{}"))
        frame = latest_versions(pl.concat(parts).lazy(), key, version).collect()
        frame = frame.select(state.frame.columns)
        if meta.get("buckets") != bucketing.describe() or meta.get("polars") != pl.__version__:
            frame = frame.with_columns(bucketing.expr())
            touched = set(frame[BUCKET].unique().to_list())
            return cls(key, version, bucketing, frame, touched, replace=True)
        return cls(key, version, bucketing, frame)
