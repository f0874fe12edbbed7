"""The contracts of the four feeds of FEEDS.md and of SCORECARD.md's feed §5: what each adds to
:class:`ioc.contracts.Contract` (fields, personal data to strip, what it derives). Each feed's spec
names its class here; a connector builds it through :func:`ioc.contracts.make_contract`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl
from pydantic import BaseModel

from ioc import national_index, schemas
from ioc.connector import Context
from ioc.contracts import Contract
from ioc.geo import Locator
from ioc.index766 import BadPeriod, parse_period
from ioc.privacy import age_band, pseudonym, redact
from ioc.sla import TZ, FeedbackOptions
from ioc.validate import Reject

PSEUDONYM_KEY = "IOC_PSEUDONYM_KEY"


@dataclass
class LazyLocator:
    """Boundaries are read on first use: a connector that never needs them never pays for them."""

    context: Context
    _locator: Locator | None = field(default=None, init=False)

    def __call__(self) -> Locator:
        if self._locator is None:
            self._locator = Locator.finest(self.context.geodata, self.context.units.scheme)
        return self._locator


# ---- §1 public services ------------------------------------------------------------------


class PublicServicesContract(Contract):
    fields = schemas.PUBLIC_SERVICES_FIELDS
    schema = schemas.PUBLIC_SERVICES_SCHEMA
    event_field = ("ngay_tiep_nhan", "received_at")


# ---- §2 citizen field reports ------------------------------------------------------------


class FeedbackContract(Contract):
    fields = schemas.CITIZEN_FEEDBACK_FIELDS
    schema = schemas.CITIZEN_FEEDBACK_SCHEMA
    personal_fields = ("nguoi_phan_anh",)
    free_text = ("noi_dung",)
    event_field = ("thoi_diem_tao", "created_at")
    Options = FeedbackOptions

    def __init__(self, options: FeedbackOptions, locator: Callable[[], Locator]) -> None:
        self.options = options
        self.calendar = options.calendar()
        self._locator = locator

    @classmethod
    def build(cls, options: BaseModel, context: Context) -> Contract:
        assert isinstance(options, FeedbackOptions)
        return cls(options, LazyLocator(context))

    def scrub(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        clean, problems = super().scrub(row)  # nguoi_phan_anh is not a FEEDS.md field we keep
        text = clean.get("noi_dung")
        if self.options.text == "drop" or not isinstance(text, str):
            clean.pop("noi_dung", None)
        else:
            clean["noi_dung"] = redact(text)
        return clean, problems

    def finish(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
        rejects: list[Reject] = []
        frame, placed = self._place(frame, rejects)
        closed_unaccepted = frame.filter((pl.col("status") == "da_xu_ly") & pl.col("accepted_at").is_null())
        rejects += [
            Reject(row, "thoi_diem_tiep_nhan: missing on a closed report (da_xu_ly)")
            for row in closed_unaccepted["_row"]
        ]
        deadlines: list[datetime | None] = []
        hours: list[float | None] = []
        for accepted, closed, severity in frame.select("accepted_at", "closed_at", "severity").iter_rows():
            if accepted is None:
                deadlines.append(None)
                hours.append(None)
                continue
            deadlines.append(self.calendar.deadline(accepted, self.options.sla_hours[severity]))
            hours.append(None if closed is None else round(self.calendar.working_hours(accepted, closed), 4))
        frame = frame.with_columns(
            pl.Series("located", placed, dtype=pl.Boolean),
            pl.Series("deadline_at", deadlines, dtype=pl.Datetime("us", "UTC")),
            pl.Series("handling_hours", hours, dtype=pl.Float64),
        )
        return frame, rejects

    def _place(self, frame: pl.DataFrame, rejects: list[Reject]) -> tuple[pl.DataFrame, list[bool]]:
        """Reports without ``ma_dvhc`` placed by point-in-polygon (kept as the record key of the
        layer's unit); outside the province: rejected."""
        need = frame.filter(pl.col("unit_code").is_null())
        placed = frame["unit_code"].is_null().to_list()
        if need.height == 0:
            return frame, placed
        found = self._locator().keys(need["lon"].to_list(), need["lat"].to_list())
        by_row = dict(zip(need["_row"].to_list(), found, strict=True))
        for row, lat, lon in need.select("_row", "lat", "lon").iter_rows():
            if lat is None or lon is None:
                rejects.append(Reject(row, "ma_dvhc: missing, and no vi_do/kinh_do to place the report"))
            elif by_row[row] is None:
                rejects.append(Reject(row, f"vi_do/kinh_do: ({lat}, {lon}) is outside the province"))
        units = [by_row.get(r, u) for r, u in frame.select("_row", "unit_code").iter_rows()]
        return frame.with_columns(pl.Series("unit_code", units, dtype=pl.String)), placed


# ---- §3 mobile data -----------------------------------------------------------------------


class MobileContract(Contract):
    """Cells are placed once and cached (as the record key of the layer's unit: the feed has no
    unit codes); a row's identity is (operator, cell, period start)."""

    fields = schemas.MOBILE_DATA_FIELDS
    version_field = ("thoi_diem_bat_dau", "period_start")
    schema = schemas.MOBILE_DATA_SCHEMA

    def __init__(self, locator: Callable[[], Locator]) -> None:
        self._locator = locator
        self.cells: dict[tuple[str, str, float, float], str | None] = {}

    @classmethod
    def build(cls, options: BaseModel, context: Context) -> Contract:
        return cls(LazyLocator(context))

    def finish(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
        ids = list(frame.select("operator", "cell", "lat", "lon").iter_rows())
        new = sorted({c for c in ids if c not in self.cells})
        if new:
            found = self._locator().keys([c[3] for c in new], [c[2] for c in new])
            self.cells.update(zip(new, found, strict=True))
        rejects = [
            Reject(row, f"ma_tram {c[1]} ({c[0]}) at ({c[2]}, {c[3]}) is outside the province")
            for row, c in zip(frame["_row"], ids, strict=True)
            if self.cells[c] is None
        ]
        return frame.with_columns(
            pl.Series("unit_code", [self.cells[c] for c in ids], dtype=pl.String),
            pl.concat_str(
                "operator", "cell", pl.col("period_start").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), separator="|"
            ).alias("key"),
        ), rejects


# ---- §4 vaccination -----------------------------------------------------------------------

PERSONAL = ("so_dinh_danh", "ho_ten", "ngay_sinh")
CITIZEN_ID = re.compile(r"^\d{12}$")


class VaccinationContract(Contract):
    """The citizen id becomes a keyed pseudonym and the birth date an age band, here and only here."""

    fields = schemas.VACCINATION_FIELDS
    schema = schemas.VACCINATION_SCHEMA
    derived = ("ma_nguoi", "nhom_tuoi")
    personal_fields = PERSONAL
    event_field = ("thoi_diem_tiem", "given_at")

    def __init__(self, key: bytes) -> None:
        self.key = key

    @classmethod
    def build(cls, options: BaseModel, context: Context) -> Contract:
        key = context.secret(
            PSEUDONYM_KEY,
            "vaccination records carry citizen ids, which are replaced by keyed pseudonyms; the "
            "connector will not start without the key (make one with: python -c "
            '"import secrets; print(secrets.token_hex(32))")',
        )
        return cls(key)

    def scrub(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        problems: list[str] = []
        raw_id = row.get("so_dinh_danh")
        text_id = str(raw_id).strip() if isinstance(raw_id, str | int) else ""
        clean = {k: v for k, v in row.items() if k not in PERSONAL}
        clean, _ = super().scrub(clean)
        if CITIZEN_ID.match(text_id):
            clean["ma_nguoi"] = pseudonym(self.key, text_id)
        else:  # the value itself is personal data: say what is wrong, never what it was
            problems.append("so_dinh_danh: missing" if not text_id else "so_dinh_danh: not a 12-digit id")
        born = row.get("ngay_sinh")
        if born not in (None, ""):
            given = _date(row.get("thoi_diem_tiem"))
            birth = _date(born)
            if birth is None:
                problems.append("ngay_sinh: not a date")
            elif given is not None:
                try:
                    clean["nhom_tuoi"] = age_band(birth, given)
                except ValueError:
                    problems.append("ngay_sinh: not a plausible birth date for the dose's time")
        return clean, problems


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.astimezone(TZ).date() if parsed.tzinfo else parsed.date()


# ---- §5 the national portal's 766 index (SCORECARD.md) --------------------------------------


class NationalIndexContract(Contract):
    """One province's published figures for one period. ``nhom`` and ``chi_so`` are objects: they
    are checked here, row by row (five groups within their points, known indicators with a rate
    from 0 to 1 and points from 0 to 100), and kept as canonical JSON text. No personal data."""

    fields = national_index.FIELDS
    schema = national_index.SCHEMA
    derived = ("nhom", "chi_so")  # made (as text) by ``scrub``, which says itself what is wrong
    version_field = ("cong_bo_luc", "published_at")

    def scrub(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        clean, problems = super().scrub(row)
        for source, parse in (
            ("nhom", national_index.groups_text),
            ("chi_so", national_index.indicators_text),
        ):
            if clean.get(source) is None:
                continue  # validation says it is missing
            text, found = parse(clean[source])
            # refused: kept as its text, for the dead letter
            clean[source] = national_index.canonical(clean[source]) if text is None else text
            problems += found
        return clean, problems

    def finish(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
        rejects: list[Reject] = []
        for row, period, code in frame.select("_row", "period", "province_code").iter_rows():
            try:
                parse_period(period)
            except BadPeriod as exc:
                rejects.append(Reject(row, f"ky: {exc}"))
            if not national_index.PROVINCE_CODE.match(code):
                rejects.append(Reject(row, f"ma_tinh: not a two-digit province code ({code!r})"))
        key = pl.concat_str("period", "province_code", separator="|").alias("id")
        return frame.with_columns(key), rejects
