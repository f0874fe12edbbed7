"""Vectorised validation of source records against a field contract.

A connector declares its fields once (:class:`Field`); :func:`validate` turns a page of JSON
objects into a frame of canonical columns and a list of rejects, each with every reason it
failed, in one Polars pass (no per-record Python on the happy path).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

ISO_TIME = "%Y-%m-%dT%H:%M:%S%.f%:z"
NAIVE_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
TRUE_FALSE = {"true": True, "false": False}

Kind = Literal["text", "time", "enum", "bool", "unit", "int", "float"]


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


def _parsed(f: Field, units: frozenset[str]) -> tuple[pl.Expr, pl.Expr]:
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
    elif f.kind in ("enum", "unit"):
        allowed = list(f.values) if f.kind == "enum" else sorted(units)
        value = col.str.strip_chars()
        what = "unknown value" if f.kind == "enum" else "unknown unit code"
        bad = pl.when(~missing & ~value.is_in(allowed)).then(
            pl.format("{}: {} '{}'", pl.lit(f.source), pl.lit(what), col)
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
    if f.required:
        bad = pl.when(missing).then(pl.lit(f"{f.source}: missing")).otherwise(bad)
    return value.alias(f.target), bad.cast(pl.String)


def validate(
    rows: Sequence[Any],
    fields: Sequence[Field],
    *,
    units: frozenset[str] = frozenset(),
    keep_row: bool = False,
) -> tuple[pl.DataFrame, list[Reject]]:
    """Split ``rows`` into canonical records (in the order given) and rejects with reasons.

    With ``keep_row`` the records keep a ``_row`` column: their index in ``rows``.
    """
    frame = frame_from_rows(rows, [f.source for f in fields])
    parsed = [_parsed(f, units) for f in fields]
    reasons = pl.concat_list(
        pl.when(~pl.col("_is_object")).then(pl.lit("record is not a JSON object")).cast(pl.String),
        *[bad for _value, bad in parsed],
    ).list.drop_nulls()
    checked = frame.with_columns(*[value for value, _bad in parsed], reasons.alias("_reasons"))
    ok = checked.filter(pl.col("_reasons").list.len() == 0)
    bad_rows = checked.filter(pl.col("_reasons").list.len() > 0)
    rejects = [
        Reject(row, "; ".join(reasons))
        for row, reasons in zip(bad_rows["_row"], bad_rows["_reasons"], strict=True)
    ]
    columns = [f.target for f in fields]
    return ok.select([*columns, "_row"] if keep_row else columns), rejects
