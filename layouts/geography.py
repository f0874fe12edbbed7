"""The two coding schemes as the rooms show them: which units a room ranks and colours, where each
unit's room is, which records count in a unit, and the approximate figures of 2025 units that took
part of a split pre-2025 commune."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from ioc.geo import Layer
from ioc.units import UnitTable
from layouts.i18n import N_

# The levels with a room: ``/district/<code>`` before 2025, ``/area/<code>`` after, and
# ``/commune/<code>`` in both.
ROOM_LEVELS = ("district", "area", "commune")


def map_areas(units: UnitTable, layer: Layer) -> tuple[list[str], bool]:
    """The units a map colours, and whether it can: the map's own units when its polygons are
    units (districts before 2025; in 2025 the former districts, whose codes the default areas
    keep; communes where installed), otherwise the province's children (configured areas, beside
    a reference map of the former districts)."""
    if set(layer.codes) <= set(units.codes):
        return layer.codes, True
    return units.children(units.province), False


def province_layer(units: UnitTable, layer: Layer, communes: Layer | None) -> Layer:
    """The layer a map of the whole province colours: in the 2025 scheme (no districts) its
    communes, on the commune layer (a province's installed polygons, else the schematic tiles)
    when that holds every one of them; otherwise ``layer`` (old Tây Ninh's districts)."""
    if (
        communes is not None
        and units.middle == "area"
        and set(units.level_codes("commune")) <= set(communes.codes)
    ):
        return communes
    return layer


def room_paths(units: UnitTable) -> dict[str, str]:
    """Each unit with a room -> its address: a district's, an area's or a commune's."""
    levels = zip(units.frame["code"].to_list(), units.frame["level"].to_list(), strict=True)
    return {code: f"/{level}/{code}" for code, level in levels if level in ROOM_LEVELS}


def room_prefix(units: UnitTable, codes: Iterable[str]) -> str:
    """Where a click on a map's polygon of one of ``codes`` goes ("/area/" and the code): the
    rooms of their level when they all have one, else "" (nowhere: the former districts beside
    configured areas)."""
    levels = {units.level(code) for code in codes}
    if len(levels) == 1 and (level := levels.pop()) in ROOM_LEVELS:
        return f"/{level}/"
    return ""


def record_keys(units: UnitTable) -> dict[str, frozenset[str]]:
    """Each unit -> the record keys that count in it (``ioc.units.record_key``): a case's or an
    open report's ``unit_code`` is one. A commune's cases are those of its parent's list whose key
    is among its own (the lists are kept per unit above the communes)."""
    grouped = units.rollup().group_by("unit").agg(pl.col("code"))
    return {
        unit: frozenset(found)
        for unit, found in zip(grouped["unit"].to_list(), grouped["code"].to_list(), strict=True)
    }


def key_communes(units: UnitTable, keys: dict[str, frozenset[str]]) -> dict[str, str]:
    """Record key -> the commune its records count in (``keys``: :func:`record_keys`)."""
    return {key: commune for commune in units.level_codes("commune") for key in keys.get(commune, ())}


def former_district(units: UnitTable, area: str) -> str:
    """The former district a default area is named after, by its name ("Huyện Tân Châu"), with
    its old province where two had the name, as the area's name says it ("Huyện Châu Thành (Tây
    Ninh)")."""
    name = units.key_names.get(area) or units.name(area)
    area_name = units.name(area)
    if area_name.endswith(" cũ)"):  # "Khu vực Châu Thành cũ (Tây Ninh cũ)"
        return f"{name} ({area_name.rsplit(' (', 1)[1].removesuffix(' cũ)')})"
    return name


REFERENCE_NOTE = N_(
    "Bản đồ: ranh giới các huyện cũ (trước 01/7/2025), chỉ để định hướng. Chưa có ranh giới xã, "
    "phường 2025 được cấp phép mở: số liệu từng khu vực ở bảng xếp hạng; ≈ là số liệu xấp xỉ."
)
SCHEMATIC_NOTE = N_("Sơ đồ, không theo ranh giới thật")  # on every map of the schematic tiles
TILES_NOTE = N_(
    "Mỗi ô là một xã, phường, đặt gần nơi có huyện cũ của nó; viền đậm bao các xã, phường của một "
    "khu vực. Chưa có ranh giới xã, phường 2025 được cấp phép mở. Bấm vào một ô để mở phòng của "
    "xã, phường đó."
)
APPROXIMATE_TITLE = N_("Số liệu xấp xỉ: có xã cũ nhập một phần vào đơn vị này (bảng chuyển đổi 2025)")


def approximate_text(units: UnitTable, code: str, text: str) -> str:
    """The text with "≈ " before it (never on a line of its own) for a 2025 unit whose figures
    are approximate."""
    return f"≈\u00a0{text}" if code in units.approximate and text != "–" else text
