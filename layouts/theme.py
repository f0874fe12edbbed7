"""Colours and labels: the look of every page, in one place (what each feed's KPIs, targets and
panels are is the registry's, ``ioc.feeds``).

Labels are Vietnamese; pages show them through ``i18n._`` (the English catalog lists them all,
see ``messages``)."""

from __future__ import annotations

from ioc.geo import ATTRIBUTION

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
# The time series' marks: public holidays and Tết, a feed's outage, an event people added
MARK_COLOURS = {"holiday": "#f3e3b5", "tet": "#f6c9b8", "outage": "#f2b8b3", "event": "#c9d8ef"}
SERIES_COLOURS = {"received": SERIES_RECEIVED, "resolved": SERIES_RESOLVED}  # a series panel's roles
NO_DATA = "#eef1f4"  # a unit without figures
HIDDEN = "#c9ced6"  # a unit whose small count a public view hides ("dưới 10"), never drawn as zero
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

# The wall: what each district's scene shows, as (feed, KPI path, window); at most six numbers a
# scene (each feed's own scene: its spec's ``wall_numbers``).
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


def messages() -> list[str]:
    """Every label above, for the catalog of translations."""
    found: list[str] = []
    for table in (WINDOW_LABELS, REPORT_SECTOR_LABELS, REPORT_SEVERITY_LABELS):
        found += table.values()
    return [*found, *VACCINE_NAMES]


def attribution(lang: str) -> str:
    """The boundaries' attribution (CC BY 3.0 IGO) in ``lang``: PROVENANCE.md's own words in
    English. The page says its language: the theme imports nothing of ``i18n``, whose catalog
    collects the theme's labels (``messages``)."""
    return ATTRIBUTION_VI if lang == "vi" else ATTRIBUTION
