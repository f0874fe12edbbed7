"""Colours, targets and labels: the look of every page, in one place.

Labels are Vietnamese; pages show them through ``i18n._`` (the English catalog lists them all,
see ``messages``)."""

from __future__ import annotations

from dataclasses import dataclass

from ioc.geo import ATTRIBUTION
from layouts.i18n import current

FONT = "Be Vietnam Pro, sans-serif"
INK = "#1f2933"
MUTED = "#6b7785"
CALM = "#d9dee3"
GOOD = "#9cc5a1"
AMBER = "#f0a53b"
RED = "#c8362b"
BACKGROUND = "#f5f6f7"
SERIES_RECEIVED = "#4c6a92"
SERIES_RESOLVED = "#6aa17a"
NO_DATA = "#eef1f4"  # a unit without figures
HIDDEN = "#c9ced6"  # a unit whose small count a public view hides ("dưới 10"), never drawn as zero


@dataclass(frozen=True)
class Target:
    """A KPI's target and which way is better; colour scales start from the target."""

    value: float
    higher_is_better: bool
    label: str


# Targets of the province's public-service programme (Decision 766/QĐ-TTg building blocks).
TARGETS = {
    "on_time_rate": Target(0.95, True, "Mục tiêu ≥ 95%"),
    "online_rate": Target(0.50, True, "Mục tiêu ≥ 50%"),
    "online_payment_rate": Target(0.45, True, "Mục tiêu ≥ 45%"),
    "digitisation_rate": Target(0.80, True, "Mục tiêu ≥ 80%"),
}

# What each feed's series panel shows: measure -> (legend, colour); and its title and unit.
SERIES = {
    "public_services": (
        "Hồ sơ tiếp nhận và trả kết quả theo giờ, 7 ngày qua (toàn tỉnh)",
        "hồ sơ / giờ",
        {"received": ("Tiếp nhận", SERIES_RECEIVED), "resolved": ("Đã trả kết quả", SERIES_RESOLVED)},
    ),
    "citizen_feedback": (
        "Phản ánh mới và đã xử lý theo giờ, 7 ngày qua (toàn tỉnh)",
        "phản ánh / giờ",
        {"new": ("Phản ánh mới", SERIES_RECEIVED), "closed": ("Đã xử lý", SERIES_RESOLVED)},
    ),
    "mobile_data": (
        "Lưu lượng dữ liệu di động theo giờ, 7 ngày qua (toàn tỉnh)",
        "GB / giờ",
        {"traffic_gb": ("Lưu lượng (GB)", SERIES_RECEIVED)},
    ),
    "vaccination": (
        "Mũi tiêm theo giờ, 7 ngày qua (toàn tỉnh)",
        "mũi / giờ",
        {"doses": ("Mũi tiêm", SERIES_RESOLVED)},
    ),
}
DEFAULT_KPI = {
    "public_services": "on_time_rate",
    "citizen_feedback": "overdue",
    "mobile_data": "traffic_per_capita_mb",
    "vaccination": "doses",
}
LOWER_IS_BETTER = frozenset(
    {"overdue_open", "avg_processing_days", "overdue", "median_handling_hours", "dropout_rate"}
)
REPORT_POINT = "#4c6a92"
REPORT_OVERDUE = RED
HOTSPOT = AMBER

WINDOW_LABELS = {
    "today": "hôm nay",
    "7d": "7 ngày",
    "30d": "30 ngày",
    "mtd": "từ đầu tháng",
    "ytd": "từ đầu năm",
}

FEED_LABELS = {
    "public_services": "Dịch vụ công",
    "citizen_feedback": "Phản ánh hiện trường",
    "mobile_data": "Dữ liệu di động",
    "vaccination": "Tiêm chủng",
}

ATTRIBUTION_VI = (
    "Ranh giới huyện: Chính phủ Việt Nam / OCHA ROAP (HDX COD-AB), qua geoBoundaries "
    "(Runfola và cộng sự 2020). Giấy phép CC BY 3.0 IGO. Dự án đã đơn giản hóa và mã hóa lại."
)

# Field-report codes of FEEDS.md §2 as people read them.
REPORT_SECTOR_LABELS = {
    "ha_tang_giao_thong": "Hạ tầng giao thông",
    "moi_truong": "Môi trường",
    "trat_tu_do_thi": "Trật tự đô thị",
    "an_ninh_trat_tu": "An ninh trật tự",
    "chieu_sang": "Chiếu sáng",
    "cay_xanh": "Cây xanh",
    "ngap_nuoc": "Ngập nước",
    "khac": "Khác",
}
REPORT_SEVERITY_LABELS = {"khan": "Khẩn", "phuc_tap": "Phức tạp", "binh_thuong": "Bình thường"}
# Vaccines of the national programme (Tiêm chủng mở rộng) named in Vietnamese, as records name
# them; shown through ``_()`` so the English pages name them in English. Others pass unchanged.
VACCINE_NAMES = (
    "Lao (BCG)",
    "Viêm gan B",
    "Bại liệt (OPV)",
    "Bại liệt (IPV)",
    "Sởi",
    "Sởi-Rubella",
    "Viêm não Nhật Bản",
    "Uốn ván",
)

# The wall: what each feed's scene and each district's scene show, as (feed, KPI path, window);
# at most six numbers a scene. Vaccination adds its vaccines' coverage to its scene.
WALL_FEED_NUMBERS = {
    "public_services": [
        ("on_time_rate", "7d"),
        ("overdue_open", "7d"),
        ("received", "today"),
        ("resolved", "today"),
        ("online_rate", "7d"),
        ("avg_processing_days", "7d"),
    ],
    "citizen_feedback": [
        ("overdue", "7d"),
        ("open", "7d"),
        ("new", "today"),
        ("on_time_rate", "7d"),
        ("median_handling_hours", "7d"),
        ("satisfaction", "30d"),
    ],
    "mobile_data": [
        ("traffic_gb", "today"),
        ("traffic_per_capita_mb", "7d"),
        ("share_5g", "7d"),
        ("subscribers", "today"),
    ],
    "vaccination": [("doses", "today"), ("doses", "7d")],
}
WALL_DISTRICT_NUMBERS = [
    ("public_services", "on_time_rate", "7d"),
    ("public_services", "overdue_open", "7d"),
    ("citizen_feedback", "overdue", "7d"),
    ("citizen_feedback", "on_time_rate", "7d"),
    ("vaccination", "doses", "7d"),
    ("mobile_data", "traffic_per_capita_mb", "7d"),
]
WALL_BACKGROUND = "#0b1220"
WALL_INK = "#e6edf5"
WALL_LINE = "#0b1220"
# A blank dark MapLibre style: no tiles, no glyphs, nothing fetched. Its "sources" is not empty
# on purpose: an empty {} is dropped on the way through Dash's Patch, Plotly then sees a changed
# style on every update and MapLibre refuses the one without sources ("Map error.").
WALL_MAP_STYLE = {
    "version": 8,
    "sources": {"none": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
    "layers": [{"id": "background", "type": "background", "paint": {"background-color": WALL_BACKGROUND}}],
}


def messages() -> list[str]:
    """Every label above, for the catalog of translations."""
    found = [t.label for t in TARGETS.values()]
    for title, unit, measures in SERIES.values():
        found += [title, unit, *(legend for legend, _colour in measures.values())]
    for table in (WINDOW_LABELS, FEED_LABELS, REPORT_SECTOR_LABELS, REPORT_SEVERITY_LABELS):
        found += table.values()
    return [*found, *VACCINE_NAMES]


def attribution() -> str:
    """The boundaries' attribution (CC BY 3.0 IGO): PROVENANCE.md's own words in English."""
    return ATTRIBUTION_VI if current() == "vi" else ATTRIBUTION
