"""The case lists behind the overdue counts: the duty officer's work list.

For every unit above the communes (the districts or areas, and the province), every overdue
dossier and every overdue field report filed in it, newest breach first. The lists use the very
predicates the ``overdue_open`` and ``overdue`` KPIs count, so a list and its count never
disagree; they are never truncated. A case's ``unit_code`` is its record key
(``ioc.units.record_key``); the API says it as the plain code and its scheme (:func:`said_case`).

Each list is a Redis hash of its own (``keys.case_list``): one field per case, its id naming its
JSON, and the mark, a field with an empty name, which no id can have (a list that is there and
empty has only the mark; a unit without a list, a commune, has no hash). The aggregator writes
them by change (:class:`CaseBook`): a commit writes the cases that entered a list or changed,
and deletes those that left, in the transaction that publishes the figures counting them. Every
list is rewritten whole when what Redis holds may not be what the worker last wrote: at a
worker's first commit, when the generation counted up by every commit is not the one it wrote
(a failover that lost a commit, a list deleted by hand or evicted with its index), and once an
hour whatever happened. A reader sorts a list when it reads it (:func:`read_list`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import polars as pl

from ioc import keys, kpis
from ioc.documents import Case
from ioc.units import key_code

CASES_FIELD = "_cases"
MARK = ""  # the field every list's hash holds, so that an empty list is there (an id is never empty)
TIMES = ("opened_at", "deadline_at")
TIME_TEXT = "%Y-%m-%dT%H:%M:%SZ"
REWRITE_S = 3600.0  # every list is written whole at least this often, whatever happened
CasesFunction = Callable[[pl.LazyFrame, datetime], pl.LazyFrame]


def cases_field(unit: str) -> str:
    """The name a unit's work list goes by beside the KPI documents (``RoomData.extras``,
    ``SnapshotReader.extra``)."""
    return f"{CASES_FIELD}|{unit}"


def listed_unit(name: str) -> str | None:
    """The unit of a :func:`cases_field` name; None for any other name."""
    prefix = f"{CASES_FIELD}|"
    return name[len(prefix) :] if name.startswith(prefix) else None


def said_case(case: Case) -> Case:
    """A case as the API says it: ``unit_code`` the plain code, ``unit_scheme`` its scheme (codes
    are reused between schemes: 25459 is old Phường 3 and new Phường Tân Ninh)."""
    scheme, code = key_code(case["unit_code"])
    return cast(Case, {**case, "unit_code": code, "unit_scheme": scheme})


def overdue_dossiers(records: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The overdue dossiers as a work list shows them (``ioc.documents.DossierCase``)."""
    return records.filter(kpis.dossier_overdue(as_of.astimezone(UTC))).select(
        "id",
        pl.col("procedure_code").alias("procedure"),
        "sector",
        pl.col("agency_code").alias("agency"),
        "unit_code",
        "status",
        pl.col("received_at").alias("opened_at"),
        "deadline_at",
    )


def overdue_reports(records: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The overdue field reports as a work list shows them (``ioc.documents.ReportCase``)."""
    return records.filter(kpis.report_overdue(as_of.astimezone(UTC))).select(
        "id",
        "sector",
        "severity",
        "unit_code",
        "status",
        pl.col("created_at").alias("opened_at"),
        "deadline_at",
        pl.col("text").str.slice(0, 160),  # already redacted by the connector
    )


def list_units(rollup: pl.DataFrame) -> list[str]:
    """The units that have a work list: the province and its districts or areas (an area's
    code may be a province's own, any length)."""
    return sorted(rollup.filter(pl.col("unit_level") != "commune")["unit"].unique().to_list())


def placed(cases: pl.LazyFrame, rollup: pl.DataFrame) -> pl.LazyFrame:
    """Each case once in each list that holds it: ``unit``, ``id``, ``case`` (a struct of the
    case's fields as its JSON says them, times in text) and ``hash`` (of the case: a case whose
    hash has not changed is not written again)."""
    columns = cases.collect_schema().names()
    as_text = [pl.col(c).dt.to_string(TIME_TEXT) if c in TIMES else pl.col(c) for c in columns]
    return (
        cases.filter(pl.col("id").is_not_null() & (pl.col("id") != MARK))  # the mark's name is no id
        .select("unit_code", "id", pl.struct(as_text).alias("case"))
        .with_columns(pl.col("case").hash().alias("hash"))
        .join(rollup.lazy().select("code", "unit"), left_on="unit_code", right_on="code")
        .filter(pl.col("unit").is_in(list_units(rollup)))
        .select("unit", "id", "case", "hash")
    )


def ordered(cases: Iterable[Case]) -> list[Case]:
    """A work list's order: newest breach first (deadline, to the second, latest first), then by
    identifier."""
    out = sorted(cases, key=lambda c: c["id"])
    out.sort(key=lambda c: c["deadline_at"], reverse=True)
    return out


def lists_by_unit(cases: pl.LazyFrame, rollup: pl.DataFrame) -> dict[str, list[Case]]:
    """Every unit's whole work list, computed at once (what the lists in Redis hold, read)."""
    frame = placed(cases, rollup).collect()
    found: dict[str, list[Case]] = {unit: [] for unit in list_units(rollup)}
    for unit, case in zip(frame["unit"].to_list(), frame["case"].to_list(), strict=True):
        found[unit].append(case)
    return {unit: ordered(listed) for unit, listed in found.items()}


def read_list(raw: dict[bytes, bytes] | Any) -> list[Case] | None:
    """A work list from its hash as Redis answers it (HGETALL), in order; None: no list."""
    if not raw:
        return None
    return ordered(json.loads(v) for k, v in raw.items() if k != MARK.encode())


@dataclass(frozen=True)
class ListChanges:
    """What one commit writes to the work lists."""

    written: dict[str, dict[str, str]]  # unit -> case id -> the case's JSON
    removed: dict[str, list[str]]  # unit -> ids of the cases that left its list
    rewrite: list[str] | None  # the units whose lists are written whole (None: by change)
    held: pl.DataFrame = field(repr=False)  # unit, id, hash of every case listed once committed
    generation: int = 0  # the lists' generation once committed
    before: tuple[str, ...] = ()  # the units that had lists before a rewrite (their lists go)

    @property
    def count(self) -> int:
        return sum(map(len, self.written.values())) + sum(map(len, self.removed.values()))

    def write(self, pipe: Any, feed: str) -> None:
        """Queue the changes on ``pipe`` (the commit's transaction)."""
        if self.rewrite is not None:
            if gone := [keys.case_list(feed, u) for u in dict.fromkeys([*self.before, *self.rewrite])]:
                pipe.unlink(*gone)  # freed in the background: a long list is not deleted in line
            for unit in self.rewrite:
                pipe.hset(keys.case_list(feed, unit), MARK, "")
            pipe.hset(keys.case_index(feed), "units", json.dumps(self.rewrite))
        for unit, ids in self.removed.items():
            pipe.hdel(keys.case_list(feed, unit), *ids)
        for unit, cases in self.written.items():
            pipe.hset(keys.case_list(feed, unit), mapping=cases)
        pipe.hset(keys.case_index(feed), "generation", str(self.generation))


class CaseBook:
    """What the work lists in Redis hold, as this worker last committed them: per list, each
    case's id and hash, and the lists' generation. Unknown (None) at a worker's start: its first
    commit rewrites them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.held: pl.DataFrame | None = None
        self.generation = 0
        self.before: tuple[str, ...] = ()
        self.whole_at = 0.0  # when the lists were last written whole (``clock``)
        self.clock = clock

    def check(self, client: Any, feed: str) -> None:
        """Forget what the lists hold, so the next commit rewrites them, when Redis's generation
        is not the one last written here, or the last rewrite is an hour old."""
        generation, units = client.hmget(keys.case_index(feed), ["generation", "units"])
        self.before = tuple(json.loads(units)) if units else ()
        stale = self.clock() - self.whole_at >= REWRITE_S
        if stale or int(generation or 0) != self.generation:
            self.held = None

    def changes(self, now: pl.DataFrame, rollup: pl.DataFrame) -> ListChanges:
        """What to write for the lists to hold ``now`` (the feed's overdue cases, :func:`placed`
        and collected)."""
        if self.held is None:
            fresh, gone = now, now.clear().select("unit", "id")
        else:
            fresh = now.join(self.held, on=["unit", "id", "hash"], how="anti")
            gone = self.held.join(now, on=["unit", "id"], how="anti").select("unit", "id")
        texts = fresh.select("unit", "id", pl.col("case").struct.json_encode().alias("json"))
        written: dict[str, dict[str, str]] = {}
        for unit, case_id, text in texts.iter_rows():
            written.setdefault(unit, {})[case_id] = text
        removed: dict[str, list[str]] = {}
        for unit, case_id in gone.iter_rows():
            removed.setdefault(unit, []).append(case_id)
        return ListChanges(
            written,
            removed,
            list_units(rollup) if self.held is None else None,
            now.select("unit", "id", "hash"),
            self.generation + 1,
            self.before,
        )

    def committed(self, changes: ListChanges) -> None:
        """The changes are in Redis: they are what the lists hold."""
        self.held, self.generation = changes.held, changes.generation
        if changes.rewrite is not None:
            self.whole_at = self.clock()


def cases_of(now: pl.DataFrame, units: Iterable[str], unit: str) -> list[dict[str, Any]] | None:
    """``unit``'s cases in ``now`` (:func:`placed`, collected) as dictionaries, as its list's
    JSON says them; None for a unit not of ``units`` (those with a list: :func:`list_units`)."""
    if unit not in units:
        return None
    return cast(list[dict[str, Any]], now.filter(pl.col("unit") == unit)["case"].to_list())
