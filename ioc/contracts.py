"""What each feed's records must be, and what happens to them before anything is stored.

A :class:`Contract` is the feed-specific half of every connector, built-in or generic: it renames
a province's field names to FEEDS.md's (``mapping``), removes personal data (``scrub``, row by
row, before validation, so that not even a dead letter holds it), validates the FEEDS.md fields
in one Polars pass, and derives what the KPIs need (``finish``: units from coordinates, SLA
deadlines). The transport half (paged HTTP, a drop folder, a webhook) lives in ``connectors/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError

from ioc.config import ConfigError
from ioc.connector import Context
from ioc.feeds import FEED_SPECS
from ioc.privacy import personal_cell, personal_code, redact, scrub_value
from ioc.registry import load
from ioc.streams import DeadLetter
from ioc.validate import Field as SourceField
from ioc.validate import Reject, UnitCoding, validate

Where = Callable[[int], str]  # "file.csv line 12" for row 12, for the dead letters


@dataclass(frozen=True)
class Transformed:
    records: pl.DataFrame
    dead_letters: list[DeadLetter]


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contract:
    """The default contract: rename, keep the FEEDS.md fields only, validate.

    A feed's spec (``ioc.feeds.FeedSpec.contract``) names its contract; :meth:`build` makes one
    from the feed's own ``Options`` (a generic connector's ``options``) and the connector's context.
    """

    Options: ClassVar[type[BaseModel]] = NoOptions
    fields: tuple[SourceField, ...] = ()
    schema: pl.Schema = pl.Schema()
    mapping: Mapping[str, str] = {}  # FEEDS.md name -> the source's name, from configuration
    derived: tuple[str, ...] = ()  # fields ``scrub`` makes; when it cannot, it says why itself
    personal_fields: tuple[str, ...] = ()  # personal fields FEEDS.md names, which ``scrub`` consumes
    free_text: tuple[str, ...] = ()  # text fields ``scrub`` redacts (the others must hold none)
    # The source's time of a record's version: one dated past ``not_after`` (the connector's clock
    # plus its allowed skew) is refused, or it would win every later version and drag a cursor.
    version_field: tuple[str, str] = ("cap_nhat_luc", "updated_at")
    # The time of the event a record is about: under ``coding = "by_date"`` it decides whether the
    # record's unit code is a pre-2025 or a 2025 one (docs/coding.md). None: the feed has no codes.
    event_field: tuple[str, str] | None = None

    @classmethod
    def build(cls, options: BaseModel, context: Context) -> Contract:
        """The contract with its validated options, and what it needs of the connector's context."""
        return cls()

    def scrub(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The row without personal data, and any problem found while removing it."""
        known = {f.source for f in self.fields}
        return {k: v for k, v in row.items() if k in known}, []

    def finish(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
        """Derive the columns the KPIs need; ``frame`` has ``_row``. Rejects by row."""
        return frame, []

    def transform(
        self,
        rows: Sequence[Any],
        *,
        units: UnitCoding | frozenset[str],
        source: str,
        mapping: Mapping[str, str] | None = None,
        where: Where | None = None,
        not_after: datetime | None = None,
    ) -> Transformed:
        """Records to count, and dead letters holding only the reason, where, and the scrubbed
        FEEDS.md fields of what was refused (never a field the contract does not know).

        ``units``: the connector's coding against the configured units (a set: pre-2025 codes);
        a unit code is kept as its record key."""
        mapping = self.mapping if mapping is None else mapping  # {}: the rows are renamed already
        clean: list[Any] = []
        problems: dict[int, list[str]] = {}
        unknown: dict[int, int] = {}
        expected = {f.source for f in self.fields} | set(self.personal_fields)
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                clean.append(row)
                problems[i] = [f"record is not a JSON object (got {_json_type(row)})"]
                continue
            renamed = rename(row, mapping) if mapping else row
            unknown[i] = sum(1 for k in renamed if k not in expected)
            scrubbed, found = self.scrub(renamed)
            clean.append(scrubbed)
            found += [
                f"{k}: {_json_type(v)} where a single value belongs"
                for k, v in scrubbed.items()
                if isinstance(v, list | dict)
            ]
            if found:
                problems[i] = found
        event = self.event_field[0] if self.event_field else None
        frame, rejects = validate(clean, self.fields, units=units, event=event, keep_row=True)
        if problems:
            frame = frame.filter(~pl.col("_row").is_in(list(problems)))
        frame, more = self.finish(frame)
        more += self._personal_in_codes(frame)
        if not_after is not None:
            more += self._future(frame, not_after)
        reasons: dict[int, list[str]] = {i: list(p) for i, p in problems.items()}
        for reject in [*rejects, *more]:
            if reject.row in problems:
                if isinstance(clean[reject.row], dict):
                    kept = [p for p in reject.reason.split("; ") if p.split(":")[0] not in self.derived]
                    reasons[reject.row] += kept
            else:
                reasons.setdefault(reject.row, []).append(reject.reason)
        dead = [
            self._dead_letter(i, r, clean[i], unknown.get(i, 0), source, where)
            for i, r in sorted(reasons.items())
        ]
        records = frame.filter(~pl.col("_row").is_in(list(reasons))).select(self.schema.names())
        return Transformed(compacted(records.cast(dict(self.schema))), dead)  # type: ignore[arg-type]

    def _dead_letter(
        self, i: int, reasons: list[str], row: Any, unknown: int, source: str, where: Where | None
    ) -> DeadLetter:
        """Only what an operator needs to fix the source: never a field the contract does not know."""
        if unknown:
            reasons = [*reasons, f"{unknown} unknown field{'s' if unknown > 1 else ''} dropped"]
        reason = "; ".join(reasons)
        if where is not None:
            reason = f"{where(i)}: {reason}"
        known = {f.source for f in self.fields}
        record = {k: v for k, v in row.items() if k in known} if isinstance(row, dict) else {}
        return DeadLetter(redact(reason), scrub_value(record), source)

    def _personal_in_codes(self, frame: pl.DataFrame) -> list[Reject]:
        """Ids and codes holding a name, phone number or citizen id: the source sends personal
        data where none belongs, so the record is refused rather than stored."""
        rejects: list[Reject] = []
        for f in self.fields:
            if f.kind != "text" or f.source in self.free_text or f.target in self.derived_targets():
                continue
            # An operator's cell id ("452-04-1234-56789") has digits grouped like a phone number.
            check = personal_cell if f.target == "cell" else personal_code
            suspect = frame.filter(pl.col(f.target).str.contains(SUSPECT))
            rejects += [
                Reject(row, f"{f.source}: holds personal data (a name, phone number or citizen id)")
                for row, value in suspect.select("_row", f.target).iter_rows()
                if check(value)
            ]
        return rejects

    def derived_targets(self) -> set[str]:
        return {f.target for f in self.fields if f.source in self.derived}

    def _future(self, frame: pl.DataFrame, not_after: datetime) -> list[Reject]:
        source, target = self.version_field
        late = frame.filter(pl.col(target) > not_after.astimezone(UTC))  # times are kept in UTC
        return [
            Reject(row, f"{source}: {when.isoformat()} is in the future (later than {not_after.isoformat()})")
            for row, when in late.select("_row", target).iter_rows()
        ]


# What a code holding personal data has and most codes do not: a space (names, grouped digits), a
# run of nine or more digits (ids, phone numbers), or an @ (e-mail). Only such values are checked
# one by one.
SUSPECT = r"\s|@|\d[\d .()+\-]{7,}\d"


def compacted(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in fresh buffers. Polars' string views keep the buffers of the rows a filter
    removed, and Arrow IPC writes those buffers whole: the values of a refused record (a name, an
    id) would travel to Redis inside the bytes of the accepted ones. A copy through Arrow's plain
    strings keeps only the values of the rows that are left."""
    return cast(pl.DataFrame, pl.from_arrow(frame.to_arrow(compat_level=pl.CompatLevel.oldest())))


def _json_type(value: Any) -> str:
    kinds = {list: "an array", dict: "an object", str: "a string", bool: "true or false", type(None): "null"}
    return next((name for kind, name in kinds.items() if isinstance(value, kind)), "a number")


def rename(row: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """FEEDS.md names from a source's own names: ``mapping`` is FEEDS.md name -> source name."""
    theirs = set(mapping.values())
    out = {k: v for k, v in row.items() if k not in theirs}
    for ours, name in mapping.items():
        if name in row:
            out[ours] = row[name]
    return out


# ---- building a feed's contract from configuration ----------------------------------------


def make_contract(
    feed: str,
    options: BaseModel | dict[str, Any] | None,
    context: Context,
    *,
    mapping: Mapping[str, str] | None = None,
) -> Contract:
    """The contract of ``feed`` with its options (a model, or a table still to validate)."""
    contract = _contract(feed, options, context)
    if mapping:
        known = {f.source for f in contract.fields} | set(contract.personal_fields)
        if unknown := sorted(set(mapping) - known):
            raise ConfigError(f"mapping: {unknown} are not fields of {feed} (FEEDS.md names are the keys)")
        contract.mapping = dict(mapping)
    return contract


def contract_class(feed: str) -> type[Contract]:
    """The contract class ``feed``'s spec names, or a ConfigError listing the feeds."""
    spec = FEED_SPECS.get(feed)
    if spec is None:
        raise ConfigError(f"feed: unknown feed {feed!r}; feeds: {', '.join(FEED_SPECS)}")
    found = load(spec.contract)
    if not (isinstance(found, type) and issubclass(found, Contract)):
        raise TypeError(f"{feed}: {spec.contract} is not a Contract")
    return found


def _contract(feed: str, options: BaseModel | dict[str, Any] | None, context: Context) -> Contract:
    kind = contract_class(feed)
    if not isinstance(options, BaseModel):
        try:
            options = kind.Options.model_validate(options or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"options.{where}: {first['msg']}") from None
    return kind.build(options, context)
