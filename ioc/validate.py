"""Vectorised validation of source records against a field contract.

A connector declares its fields once (:class:`Field`); :func:`validate` turns a page of JSON
objects into a frame of canonical columns and a list of rejects, each with every reason it
failed, in one Polars pass (no per-record Python on the happy path).

A unit code is checked in the scheme its record is coded in (:class:`UnitCoding`, a connector's
``coding``) and kept as its record key (:func:`ioc.units.record_key`); see docs/coding.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import polars as pl

from ioc.units import NEW_KEY, UnitTable

ISO_TIME = "%Y-%m-%dT%H:%M:%S%.f%:z"
NAIVE_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
TRUE_FALSE = {"true": True, "false": False}

Kind = Literal["text", "time", "enum", "bool", "unit", "int", "float"]
CodingRule = Literal["pre2025", "2025", "by_date"]
CODING_SWITCH = date(2025, 7, 1)  # the 2025 units took effect on 1 July 2025
# Asia/Ho_Chi_Minh has been UTC+7 all year since 1975: a local day is a UTC day shifted by 7 hours.
LOCAL_OFFSET = timedelta(hours=7)


@dataclass(frozen=True)
class Field:
    """One source field: its name in the source, its canonical name, its kind and rules."""

    source: str
    target: str
    kind: Kind = "text"
    required: bool = True
    values: tuple[str, ...] = ()
    low: float | None = None  # bounds of int and float fields, inclusive
    high: float | None = None


@dataclass(frozen=True)
class UnitCoding:
    """In which scheme a source's records carry unit codes, and which codes count.

    ``rule`` is ``pre2025`` or ``2025`` (every record), or ``by_date``: a record whose event time
    is before 00:00 (Asia/Ho_Chi_Minh) of ``switch_day`` carries pre-2025 codes, a later one 2025
    codes. ``codes[scheme]`` are the codes a record of that scheme may carry and be counted;
    ``outside[scheme]`` those that exist but lie outside the province counted (``counted`` says
    which it is, for the dead letters).
    """

    rule: CodingRule = "pre2025"
    switch_day: date = CODING_SWITCH
    codes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    outside: Mapping[str, frozenset[str]] = field(default_factory=dict)
    counted: str = ""

    @classmethod
    def of(
        cls, units: UnitTable, rule: CodingRule = "pre2025", switch_day: date = CODING_SWITCH
    ) -> UnitCoding:
        """The coding ``rule`` against the units a deployment counts in (``boundaries``)."""
        province = units.province
        when = " before 2025" if units.scheme == "pre2025" else ""
        counted = f"boundaries.scheme = {units.scheme} counts {units.name(province)}{when}, {province}"
        return cls(rule, switch_day, dict(units.record_codes), dict(units.outside), counted)

    @classmethod
    def single(cls, codes: frozenset[str]) -> UnitCoding:
        """Every record coded pre-2025, ``codes`` the only ones known (codes kept as they are)."""
        return cls(codes={"pre2025": codes})

    @property
    def switch(self) -> datetime:
        """The instant of the switch: 00:00 local time of ``switch_day``, in UTC."""
        return datetime.combine(self.switch_day, time(0), UTC) - LOCAL_OFFSET


@dataclass(frozen=True)
class Reject:
    row: int
    reason: str


def frame_from_rows(rows: Sequence[Any], names: Sequence[str]) -> pl.DataFrame:
    """Every field as text (JSON scalars as Polars casts them); nested values become JSON text."""
    schema = dict.fromkeys(names, pl.String)
    objects = [r if isinstance(r, dict) else {} for r in rows]
    try:
        frame = (
            pl.from_dicts(objects, schema=schema, strict=False) if objects else pl.DataFrame(schema=schema)
        )
    except (pl.exceptions.PolarsError, OverflowError, TypeError, ValueError):
        # Mixed or odd values (nested objects, integers past 64 bits): each as its text, then parsed.
        flat = [{k: _scalar(r.get(k)) for k in names} for r in objects]
        frame = pl.from_dicts(flat, schema=schema, strict=False)
    return frame.with_columns(
        pl.Series("_row", range(len(rows)), dtype=pl.Int64),
        pl.Series("_is_object", [isinstance(r, dict) for r in rows], dtype=pl.Boolean),
    )


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _missing(col: pl.Expr) -> pl.Expr:
    return col.is_null() | (col.str.strip_chars() == "")


def _parsed(f: Field) -> tuple[pl.Expr, pl.Expr]:
    """The canonical value of a field and the reason it is invalid (null when valid)."""
    col = pl.col(f.source)
    missing = _missing(col)
    value: pl.Expr
    bad: pl.Expr
    if f.kind == "time":
        value = (
            col.str.strip_chars()
            .str.replace(r"Z$", "+00:00")
            .str.to_datetime(ISO_TIME, strict=False, time_zone="UTC", time_unit="us")
        )
        no_offset = col.str.strip_chars().str.contains(NAIVE_TIME)
        bad = (
            pl.when(~missing & value.is_null() & no_offset)
            .then(pl.format("{}: time without offset ({})", pl.lit(f.source), col))
            .when(~missing & value.is_null())
            .then(pl.format("{}: not an ISO 8601 time ({})", pl.lit(f.source), col))
        )
    elif f.kind == "bool":
        value = col.str.to_lowercase().replace_strict(TRUE_FALSE, default=None, return_dtype=pl.Boolean)
        bad = pl.when(~missing & value.is_null()).then(
            pl.format("{}: not true or false ({})", pl.lit(f.source), col)
        )
    elif f.kind == "enum":
        value = col.str.strip_chars()
        bad = pl.when(~missing & ~value.is_in(list(f.values))).then(
            pl.format("{}: unknown value '{}'", pl.lit(f.source), col)
        )
    elif f.kind in ("int", "float"):
        number = col.str.strip_chars().cast(pl.Float64, strict=False)
        whole = number.is_not_null() & (number.round(0) == number) & (number.abs() < 2.0**53)
        value = number if f.kind == "float" else pl.when(whole).then(number).cast(pl.Int64, strict=False)
        low = pl.lit(True) if f.low is None else number >= f.low
        high = pl.lit(True) if f.high is None else number <= f.high
        bad = (
            pl.when(~missing & number.is_null())
            .then(pl.format("{}: not a number ({})", pl.lit(f.source), col))
            .when(~missing & ~whole & pl.lit(f.kind == "int"))
            .then(pl.format("{}: not a whole number in range ({})", pl.lit(f.source), col))
            .when(~missing & ~(low & high))
            .then(
                pl.format("{}: outside [{}, {}] ({})", pl.lit(f.source), pl.lit(f.low), pl.lit(f.high), col)
            )
        )
    else:
        value = col.str.strip_chars()
        bad = pl.lit(None, pl.String)
    return _required(f, missing, value, bad)


def _required(f: Field, missing: pl.Expr, value: pl.Expr, bad: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    if f.required:
        bad = pl.when(missing).then(pl.lit(f"{f.source}: missing")).otherwise(bad)
    return value.alias(f.target), bad.cast(pl.String)


def _in_scheme(code: pl.Expr, scheme: pl.Expr, sets: Mapping[str, frozenset[str]], rule: str) -> pl.Expr:
    """Whether ``code`` is in ``sets`` of its record's scheme (one look-up when the rule is fixed)."""
    if rule != "by_date":
        return code.is_in(sorted(sets.get(rule, ())))
    return (
        pl.when(scheme == "2025")
        .then(code.is_in(sorted(sets.get("2025", ()))))
        .otherwise(code.is_in(sorted(sets.get("pre2025", ()))))
    )


def _unit(f: Field, coding: UnitCoding, event: Field | None) -> tuple[pl.Expr, pl.Expr]:
    """A unit code checked in its record's scheme, kept as its record key.

    Under ``by_date`` the scheme comes from the event time parsed already (column ``event.target``);
    a record whose event time is missing or not a time has no scheme, and that field says why.
    """
    col = pl.col(f.source)
    missing = _missing(col)
    code = col.str.strip_chars()
    scheme: pl.Expr
    why: pl.Expr
    if coding.rule == "by_date":
        if event is None:
            raise ValueError(f"{f.source}: coding by_date needs the feed's event time")
        at = pl.col(event.target)
        switch = coding.switch_day.isoformat()
        day = (at + LOCAL_OFFSET).dt.date().cast(pl.String)
        before = at < coding.switch
        scheme = pl.when(before).then(pl.lit("pre2025")).when(at.is_not_null()).then(pl.lit("2025"))
        side = (
            pl.when(before)
            .then(pl.lit("before"))
            .when(day == switch)
            .then(pl.lit("on"))
            .otherwise(pl.lit("after"))
        )
        why = pl.format(
            "coding by_date: {} {} is {} the switch {}", pl.lit(event.source), day, side, pl.lit(switch)
        )
    else:
        scheme = pl.lit(coding.rule)
        why = pl.lit(f"coding {coding.rule}")
    known = _in_scheme(code, scheme, coding.codes, coding.rule)
    far = _in_scheme(code, scheme, coding.outside, coding.rule)
    checked = ~missing & scheme.is_not_null()
    bad = (
        pl.when(checked & far)
        .then(
            pl.format(
                "{}: unit code '{}' of scheme {} lies outside the province counted ({}; {})",
                pl.lit(f.source),
                col,
                scheme,
                pl.lit(coding.counted),
                why,
            )
        )
        .when(checked & ~known)
        .then(pl.format("{}: unknown unit code '{}' in scheme {} ({})", pl.lit(f.source), col, scheme, why))
    )
    key = pl.when(scheme == "2025").then(pl.lit(NEW_KEY) + code).otherwise(code)
    return _required(f, missing, pl.when(~missing).then(key), bad)


def validate(
    rows: Sequence[Any],
    fields: Sequence[Field],
    *,
    units: UnitCoding | frozenset[str] = frozenset(),
    event: str | None = None,
    keep_row: bool = False,
) -> tuple[pl.DataFrame, list[Reject]]:
    """Split ``rows`` into canonical records (in the order given) and rejects with reasons.

    ``units``: how unit codes are checked and kept (a set: pre-2025 codes, kept as they are);
    ``event``: the source name of the time field that decides a record's scheme under ``by_date``.
    With ``keep_row`` the records keep a ``_row`` column: their index in ``rows``.
    """
    coding = units if isinstance(units, UnitCoding) else UnitCoding.single(units)
    frame = frame_from_rows(rows, [f.source for f in fields])
    # Units second: under by_date their scheme depends on the event time parsed first.
    parsed = {i: _parsed(f) for i, f in enumerate(fields) if f.kind != "unit"}
    checked = frame.with_columns(*[value for value, _bad in parsed.values()], *_bads(parsed))
    if units_at := [i for i, f in enumerate(fields) if f.kind == "unit"]:
        times = {f.source: f for f in fields if f.kind == "time"}
        found = {i: _unit(fields[i], coding, times.get(event or "")) for i in units_at}
        checked = checked.with_columns(*[value for value, _bad in found.values()], *_bads(found))
    reasons = pl.concat_list(
        pl.when(~pl.col("_is_object")).then(pl.lit("record is not a JSON object")).cast(pl.String),
        *[pl.col(f"_bad{i}") for i in range(len(fields))],
    ).list.drop_nulls()
    checked = checked.with_columns(reasons.alias("_reasons"))
    ok = checked.filter(pl.col("_reasons").list.len() == 0)
    bad_rows = checked.filter(pl.col("_reasons").list.len() > 0)
    rejects = [
        Reject(row, "; ".join(reasons))
        for row, reasons in zip(bad_rows["_row"], bad_rows["_reasons"], strict=True)
    ]
    columns = [f.target for f in fields]
    return ok.select([*columns, "_row"] if keep_row else columns), rejects


def _bads(parsed: dict[int, tuple[pl.Expr, pl.Expr]]) -> list[pl.Expr]:
    """Each field's reason as ``_bad<i>`` (``i`` its place in the fields: reasons keep that order)."""
    return [bad.alias(f"_bad{i}") for i, (_value, bad) in parsed.items()]
