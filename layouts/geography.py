"""The two coding schemes as the rooms show them: which units a room ranks and colours, and the
approximate figures of 2025 units that took part of a split pre-2025 commune."""

from __future__ import annotations

from ioc.geo import Layer
from ioc.units import UnitTable
from layouts.i18n import N_


def map_areas(units: UnitTable, layer: Layer) -> tuple[list[str], bool]:
    """The units a room ranks, and whether its map colours them: the map's own units when its
    polygons are units (districts before 2025, communes where installed), otherwise the province's
    children (the 2025 communes, ranked beside a reference map of the former districts)."""
    if set(layer.codes) <= set(units.codes):
        return layer.codes, True
    return units.children(units.province), False


REFERENCE_NOTE = N_(
    "Bản đồ: ranh giới các huyện cũ (trước 01/7/2025), chỉ để định hướng. Chưa có ranh giới xã, "
    "phường 2025 được cấp phép mở: số liệu từng xã, phường ở bảng xếp hạng; ≈ là số liệu xấp xỉ."
)
APPROXIMATE_TITLE = N_("Số liệu xấp xỉ: có xã cũ nhập một phần vào đơn vị này (bảng chuyển đổi 2025)")


def approximate_text(units: UnitTable, code: str, text: str) -> str:
    """The text with "≈ " before it for a 2025 unit whose figures are approximate."""
    return f"≈ {text}" if code in units.approximate and text != "–" else text
