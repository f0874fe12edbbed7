"""Configuration of the leaders' scorecard (``[scorecard]``: how the national 766 index is scored)
and of the province's own targets (``[targets.<name>]``). Sections of :class:`ioc.config.Settings`;
the defaults are ``SCORECARD.md``'s.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field, field_validator, model_validator

from ioc.config_access import _Section
from ioc.index766 import GROUPS, INDICATORS, KPI_INDICATORS


class IndicatorScoring(_Section):
    """How one indicator scores: its maximum points and the rate that earns them all."""

    max: float = Field(ge=0, le=100, description="The indicator's maximum points.")
    full_at: float = Field(gt=0, le=1, description="The rate (0–1) at which it earns its maximum.")


class Band(_Section):
    """A band of the total: from ``min`` points (inclusive) up to the next band's."""

    min: float = Field(ge=0, le=100, description="Lowest total of the band.")
    label: str = Field(description="Its name in Vietnamese (`Xuất sắc`).")
    label_en: str = Field("", description="... and in English (`Excellent`).")


def _default_scoring() -> dict[str, IndicatorScoring]:
    return {
        i.id: IndicatorScoring(max=i.default_max, full_at=i.full_at)
        for i in INDICATORS.values()
        if i.scored and i.full_at is not None
    }


def _default_bands() -> list[Band]:
    return [
        Band(min=90, label="Xuất sắc", label_en="Excellent"),
        Band(min=80, label="Tốt", label_en="Good"),
        Band(min=65, label="Khá", label_en="Fair"),
        Band(min=50, label="Trung bình", label_en="Average"),
        Band(min=0, label="Yếu", label_en="Weak"),
    ]


class ScorecardSettings(_Section):
    portal_code: str = Field(
        "80",
        pattern=r"^\d{2}$",
        description="The province's code on the national portal (2025 codes: Tây Ninh is 80, also "
        "when the product runs the pre-2025 scheme).",
    )
    indicators: dict[str, IndicatorScoring] = Field(
        default_factory=_default_scoring,
        description="Per indicator id (`2.1`): `max` points and `full_at` rate. A file's table "
        "replaces the named indicators only; each group's maxima must add up to its points.",
    )
    bands: list[Band] = Field(
        default_factory=_default_bands,
        min_length=1,
        description="Bands of the total, highest first; the lowest must start at 0.",
    )

    @field_validator("indicators", mode="before")
    @classmethod
    def _merge(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        merged: dict[str, object] = {k: v.model_dump() for k, v in _default_scoring().items()}
        for key, given in value.items():
            if key not in merged:
                scored = ", ".join(merged)
                raise ValueError(f"unknown or unscored indicator {key!r}; scored indicators: {scored}")
            base = merged[key]
            merged[key] = {**base, **given} if isinstance(base, dict) and isinstance(given, dict) else given
        return merged

    @model_validator(mode="after")
    def _consistent(self) -> ScorecardSettings:
        for group, (_label, points) in GROUPS.items():
            total = sum(s.max for k, s in self.indicators.items() if INDICATORS[k].group == group)
            if abs(total - points) > 1e-6:
                raise ValueError(
                    f"the maxima of group {group}'s indicators add up to {total:g}, not {points:g}"
                )
        lows = [b.min for b in self.bands]
        if lows != sorted(lows, reverse=True) or len(set(lows)) != len(lows):
            raise ValueError("bands must be listed highest first, each with its own min")
        if lows[-1] != 0:
            raise ValueError("the lowest band must start at min = 0")
        return self


def metric_names() -> list[str]:
    """What a target may follow: an indicator of the index, or a rate KPI with a weekly history."""
    return [*INDICATORS, "public_services.on_time_rate", *KPI_INDICATORS]


class Target(_Section):
    """One of the province's own targets (``[targets.<name>]``)."""

    metric: str = Field(
        description="What it follows: an indicator id (`2.1`) or a rate KPI as `<feed>.<kpi>` "
        "(`public_services.online_rate`)."
    )
    unit: str | None = Field(None, description="The unit it is set for (empty: the province).")
    goal: float = Field(ge=0, le=1, description="The rate to reach, 0–1.")
    deadline: date = Field(description="By when (a date).")
    label: str = Field(description="What the panel calls it, in Vietnamese.")
    label_en: str = Field("", description="... and in English.")

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        names = metric_names()
        if value not in names or (value in INDICATORS and INDICATORS[value].unit != "%"):
            known = ", ".join(n for n in names if n != "2.2")
            raise ValueError(f"unknown metric {value!r}; metrics: {known}")
        return value


def default_targets() -> dict[str, Target]:
    """The demo's targets, in the order the panels look for one (the first on a KPI colours its
    tiles): the rates the theme coloured against before targets were configuration (dossiers
    resolved and reports handled on time 95%, submitted online 50% (the 766 index's full points
    for 3.3), paid online 45%, digitised 80%), and the national programme's dossiers submitted
    online 95% by the end of 2025 (passed: it shows as missed, with the date)."""
    return {
        name: Target(**fields)
        for name, fields in {
            "giai_quyet_dung_han": {
                "metric": "public_services.on_time_rate",
                "goal": 0.95,
                "deadline": date(2026, 12, 31),
                "label": "Giải quyết đúng hạn 95%",
                "label_en": "Dossiers resolved on time 95%",
            },
            "nop_truc_tuyen": {
                "metric": "public_services.online_rate",
                "goal": 0.50,
                "deadline": date(2026, 12, 31),
                "label": "Hồ sơ nộp trực tuyến 50% (điểm tối đa chỉ số 3.3)",
                "label_en": "Dossiers submitted online 50% (full points of indicator 3.3)",
            },
            "ho_so_truc_tuyen": {
                "metric": "3.3",
                "goal": 0.95,
                "deadline": date(2025, 12, 31),
                "label": "Hồ sơ nộp trực tuyến 95% (hết năm 2025)",
                "label_en": "Dossiers submitted online 95% (end of 2025)",
            },
            "thanh_toan_truc_tuyen": {
                "metric": "3.6",
                "goal": 0.45,
                "deadline": date(2026, 12, 31),
                "label": "Thanh toán trực tuyến 45%",
                "label_en": "Fees paid online 45%",
            },
            "so_hoa_ho_so": {
                "metric": "4.2",
                "goal": 0.80,
                "deadline": date(2026, 12, 31),
                "label": "Số hóa hồ sơ 80%",
                "label_en": "Dossiers digitised 80%",
            },
            "phan_anh_dung_han": {
                "metric": "citizen_feedback.on_time_rate",
                "goal": 0.95,
                "deadline": date(2026, 12, 31),
                "label": "Phản ánh xử lý đúng hạn 95%",
                "label_en": "Field reports handled on time 95%",
            },
        }.items()
    }
