"""A simulated national portal publishing the 766 index of the 34 provinces (SCORECARD.md §5).

``GET /api/v1/chi-so-766?ky=<period>`` answers ``{"ky", "cong_bo_luc", "du_lieu": [...]}`` for a
published period, 404 with a JSON error for one not yet published, 400 for a period that is not
one. A week is published on the Monday after it ends, 09:00 local time; a month on the 3rd of the
next month, 09:00; nothing before the 34 provinces began (1 July 2025).

Every figure is fixed by the seed and the period: each province has a quality, each of its
indicators a level around it, and each indicator's rate drifts week by week (a mean-reverting walk
in logit space, drawn from the week's own random numbers); a month averages its weeks' rates.
Points follow SCORECARD.md's rule at the default maxima, so totals spread over about 60–95 and
ranks change from week to week; Tây Ninh (80) sits mid-table.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from ioc.index766 import GROUPS, INDICATORS, BadPeriod, Period, parse_period
from ioc.national_index import rule_points
from ioc.simulators.timeline import TZ, malformed

PROVINCES = {
    "01": "Hà Nội",
    "04": "Cao Bằng",
    "08": "Tuyên Quang",
    "11": "Điện Biên",
    "12": "Lai Châu",
    "14": "Sơn La",
    "15": "Lào Cai",
    "19": "Thái Nguyên",
    "20": "Lạng Sơn",
    "22": "Quảng Ninh",
    "24": "Bắc Ninh",
    "25": "Phú Thọ",
    "31": "Hải Phòng",
    "33": "Hưng Yên",
    "37": "Ninh Bình",
    "38": "Thanh Hóa",
    "40": "Nghệ An",
    "42": "Hà Tĩnh",
    "44": "Quảng Trị",
    "46": "Huế",
    "48": "Đà Nẵng",
    "51": "Quảng Ngãi",
    "52": "Gia Lai",
    "56": "Khánh Hòa",
    "66": "Đắk Lắk",
    "68": "Lâm Đồng",
    "75": "Đồng Nai",
    "79": "Hồ Chí Minh",
    "80": "Tây Ninh",
    "82": "Đồng Tháp",
    "86": "Vĩnh Long",
    "91": "An Giang",
    "92": "Cần Thơ",
    "96": "Cà Mau",
}
CODES = tuple(PROVINCES)
HOME = "80"  # Tây Ninh: given the middle quality
SCORED = tuple(i for i in INDICATORS.values() if i.scored)  # 2.2 is shown, not scored: not sent
FIRST_DAY = date(2025, 7, 1)  # the 34 provinces from 1 July 2025
EPOCH = date(2024, 1, 1)  # a Monday: week numbers of the random walk count from it
MEMORY_WEEKS = 26  # how far back a week's walk reaches (0.85^26 ≈ 1.5%)
PERSISTENCE, STEP = 0.85, 0.1  # the walk's pull back to the province's level, and its weekly step
MALFORMED_KINDS = (
    "missing_name",
    "bad_total",
    "total_out_of_range",
    "unknown_indicator",
    "unknown_group",
    "rate_out_of_range",
)


def published_at(period: Period) -> datetime:
    """When the portal publishes ``period``: the Monday after a week, the 3rd after a month, 09:00."""
    days = 0 if period.kind == "week" else 2
    return period.end + timedelta(days=days, hours=9)


def _iso(moment: datetime) -> str:
    return moment.astimezone(TZ).isoformat(timespec="seconds")


@lru_cache(maxsize=512)
def _week_noise(seed: int, week: int) -> np.ndarray:
    """One week's random steps: per province, one per scored indicator and one shared."""
    return np.random.default_rng([seed, week]).standard_normal((len(CODES), len(SCORED) + 1))


class NationalPortal:
    """The simulated portal (an ``ioc.simulators.http.Endpoint``); :meth:`figures` is the truth."""

    def __init__(
        self,
        *,
        seed: int = 2026,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        malformed_rate: float = 0.0,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.malformed_rate = malformed_rate
        self.levels = self._levels(np.random.default_rng([seed, 766]))

    def _levels(self, rng: np.random.Generator) -> np.ndarray:
        """Each province's level per indicator (logits): its quality, ranked with Tây Ninh in the
        middle, plus the indicator's national level and the province's own strengths."""
        qualities = np.linspace(-0.75, 1.1, len(CODES))
        middle = len(CODES) // 2
        others = iter(rng.permutation([r for r in range(len(CODES)) if r != middle]))
        quality = np.array([qualities[middle if c == HOME else next(others)] for c in CODES])
        national = rng.normal(1.3, 0.4, len(SCORED))
        own = rng.normal(0.0, 0.35, (len(CODES), len(SCORED)))
        return quality[:, None] + national[None, :] + own

    # ---- the figures -------------------------------------------------------------------

    def week_rates(self, monday: date) -> np.ndarray:
        """Rates of every province (rows) and scored indicator (columns) in the week from ``monday``."""
        week = (monday - EPOCH).days // 7
        walk = sum(PERSISTENCE**k * STEP * _week_noise(self.seed, week - k) for k in range(MEMORY_WEEKS))
        assert isinstance(walk, np.ndarray)
        shared = 1.6 * walk[:, -1:]  # a province's good and bad weeks move all its indicators
        return np.asarray(1.0 / (1.0 + np.exp(-(self.levels + walk[:, :-1] + shared))))

    def rates(self, period: Period) -> np.ndarray:
        """A week's rates, or a month's: the mean of its ISO weeks (those whose Thursday is in it)."""
        if period.kind == "week":
            return self.week_rates(period.start.date())
        first = period.start.date()
        monday = (
            first
            - timedelta(days=first.weekday())
            + (timedelta(days=7) if first.weekday() > 3 else timedelta())
        )
        weeks = []
        while (monday + timedelta(days=3)) < period.end.date():
            weeks.append(self.week_rates(monday))
            monday += timedelta(days=7)
        return np.asarray(np.mean(weeks, axis=0))

    def figures(self, period: Period) -> list[dict[str, Any]]:
        """Every province's entry of ``period``, as published (before any is broken)."""
        table = self.rates(period)
        return [self._entry(code, table[row]) for row, code in enumerate(CODES)]

    def _entry(self, code: str, rates: np.ndarray) -> dict[str, Any]:
        indicators: dict[str, dict[str, float]] = {}
        groups = dict.fromkeys(GROUPS, 0.0)
        for indicator, raw in zip(SCORED, rates, strict=True):
            rate = round(float(raw), 4)
            points = round(rule_points(indicator, rate), 2)
            indicators[indicator.id] = {"ty_le": rate, "diem": points}
            groups[indicator.group] += points
        nhom = {g: round(v, 2) for g, v in groups.items()}
        return {
            "ma_tinh": code,
            "ten_tinh": PROVINCES[code],
            "tong_diem": round(sum(nhom.values()), 2),
            "nhom": nhom,
            "chi_so": indicators,
        }

    # ---- the endpoint ------------------------------------------------------------------

    def answer(self, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        asked = (query.get("ky") or [""])[0]
        try:
            period = parse_period(asked)
        except BadPeriod as exc:
            return 400, {"error": str(exc)}
        when = published_at(period)
        if period.start.date() < FIRST_DAY:
            return 404, {"error": f"kỳ {asked}: không có chỉ số (34 tỉnh, thành từ 01/7/2025)"}
        if self.clock() < when:
            return 404, {"error": f"kỳ {asked}: chưa công bố (công bố lúc {_iso(when)})"}
        entries = self.figures(period)
        for entry in entries:
            pos = _position(period, entry["ma_tinh"])
            if malformed(pos, self.malformed_rate):
                _break(entry, MALFORMED_KINDS[pos % len(MALFORMED_KINDS)])
        return 200, {"ky": period.name, "cong_bo_luc": _iso(when), "du_lieu": entries}


def _position(period: Period, code: str) -> int:
    """A number fixed by the period and the province, so every read breaks the same entries."""
    return random.Random(f"{period.name}|{code}").randrange(2**31)


def _break(entry: dict[str, Any], kind: str) -> None:
    """Turn an entry into one of the malformed kinds a real portal might send."""
    if kind == "missing_name":
        del entry["ten_tinh"]
    elif kind == "bad_total":
        entry["tong_diem"] = "không có"
    elif kind == "total_out_of_range":
        entry["tong_diem"] = 100 + math.pi
    elif kind == "unknown_indicator":
        entry["chi_so"]["9.9"] = {"ty_le": 0.5, "diem": 1.0}
    elif kind == "unknown_group":
        entry["nhom"]["6"] = 0.0
    else:
        first = next(iter(entry["chi_so"]))
        entry["chi_so"][first]["ty_le"] = 1.7
