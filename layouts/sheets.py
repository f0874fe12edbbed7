"""The rooms' tables as sheets to download (``ioc.sheets``: CSV and XLSX): a ranking, a work
list, the active alerts. The rows are those the screen shows, chosen by the screen's own
functions (``layouts.communes.ranking_rows``, ``layouts.worklist.matching_cases``), every one of
them (a work list on the screen stops at its first 100), with plain values: numbers as numbers (a
rate as its fraction), times as times, codes beside names."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ioc.cases import said_case
from ioc.config import AlertRule
from ioc.documents import Alert
from ioc.kpis import Kpi
from ioc.sheets import Kind, Sheet
from ioc.units import UnitTable
from layouts import theme
from layouts.alert_text import describe
from layouts.communes import SORTS, ranking_rows
from layouts.i18n import N_, _, current
from layouts.room_data import FeedView
from layouts.worklist import CASE_TABLES, STATUS_LABELS, matching_cases, unit_name

ABOUT = N_("Thông tin")


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def ranking_sheet(
    view: FeedView,
    units: UnitTable,
    parent: str,
    kpi_path: str,
    window: str,
    search: str,
    sort: str,
    made_for: dict[str, str],
) -> Sheet:
    """The children of ``parent`` ranked on the KPI at ``kpi_path`` as the room ranks them."""
    kpi: Kpi = view.kpis[kpi_path]
    names = units.names()
    rows = ranking_rows(view.data, units, parent, kpi, window, search, sort)
    measure: Kind = "percent" if kpi.kind == "rate" else "number"
    # a rate is written as its fraction (as the API gives it; XLSX shows it as a percent)
    said_unit = _("tỷ lệ, 1 = 100%") if kpi.kind == "rate" else kpi.unit
    unit = f" ({said_unit})" if said_unit else ""
    heads = (
        "#",
        _("Mã đơn vị"),
        _("Đơn vị"),
        f"{kpi.label}{unit}",
        _("Mục tiêu"),
        _("Số liệu gần đúng"),
    )
    cells = [
        (
            i,
            code,
            names[code],
            value,
            view.goal(kpi_path, code),
            _("có") if code in units.approximate else "",
        )
        for i, (code, value) in enumerate(rows, start=1)
    ]
    about = {
        **made_for,
        _("Chỉ số"): kpi.label,
        _("Khoảng thời gian"): _(theme.WINDOW_LABELS[window]),
        _("Tìm"): search,
        _("Thứ tự"): _(SORTS[sort]),
    }
    return Sheet(
        name=f"xep-hang-{view.spec.name}-{parent}-{window}",
        title=_("Xếp hạng"),
        heads=heads,
        kinds=("number", "text", "text", measure, measure, "text"),
        rows=cells,
        made_for=about,
        about=_(ABOUT),
    )


def cases_sheet(
    feed: str,
    unit: str,
    cases: list[dict[str, Any]],
    names: dict[str, str],
    case_filter: str,
    as_of: datetime,
    made_for: dict[str, str],
) -> Sheet:
    """Every overdue case of ``unit``'s work list that ``case_filter`` keeps, newest breach first,
    with how many hours late it is at ``as_of`` (``names``: record key -> unit name)."""
    shown = matching_cases(cases, names, case_filter)
    kind = CASE_TABLES[feed]
    ident = _(kind.heads[0])
    middle = tuple(_(h) for h in kind.sheet_heads)
    heads = (
        ident,
        *middle,
        _("Mã xã, phường"),
        _("Hệ mã"),
        _("Xã, phường"),
        _("Tình trạng"),
        _("Nhận lúc"),
        _("Hạn xử lý"),
        _("Trễ (giờ)"),
    )

    def row(case: dict[str, Any]) -> tuple[Any, ...]:
        said: dict[str, Any] = dict(said_case(case))  # type: ignore[arg-type]
        what = kind.sheet_cells(case)
        deadline = when(case.get("deadline_at"))
        late = None if deadline is None else round((as_of - deadline).total_seconds() / 3600, 1)
        return (
            case["id"],
            *what,
            said["unit_code"],
            said["unit_scheme"],
            unit_name(case, names),
            _(STATUS_LABELS.get(case["status"], case["status"])),
            when(case.get("opened_at")),
            deadline,
            late,
        )

    return Sheet(
        name=f"viec-qua-han-{feed}-{unit}",
        title=_(kind.title),
        heads=heads,
        kinds=("text", "text", "text", "text", "text", "text", "text", "text", "time", "time", "number"),
        rows=[row(c) for c in shown],
        made_for={**made_for, _("Lọc"): case_filter},
        about=_(ABOUT),
    )


def alerts_sheet(
    alerts: list[Alert], names: Mapping[str, str], rules: Mapping[str, AlertRule], made_for: dict[str, str]
) -> Sheet:
    """The active alerts a person sees, as the ticker lists them (not yet acknowledged first)."""
    heads = (
        _("Mã cảnh báo"),
        _("Nguồn"),
        _("Mã đơn vị"),
        _("Đơn vị"),
        _("Cảnh báo"),
        _("Giá trị"),
        _("Ngưỡng"),
        _("Từ lúc"),
        _("Người xác nhận"),
        _("Xác nhận lúc"),
        _("Ghi chú"),
        _("Tạm tắt thông báo đến"),
    )
    rows = [
        (
            a["id"],
            a["feed"],
            a["unit"],
            names.get(a["unit"]) or a.get("unit_name") or a["unit"],
            describe(a, rules, current()),
            a["value"],
            a["threshold"],
            when(a["since"]),
            a.get("acked_by"),
            when(a.get("acked_at")),
            a.get("ack_comment"),
            when(a.get("silenced_until")),
        )
        for a in alerts
    ]
    return Sheet(
        name="canh-bao",
        title=_("Cảnh báo"),
        heads=heads,
        kinds=(
            "text",
            "text",
            "text",
            "text",
            "text",
            "number",
            "number",
            "time",
            "text",
            "time",
            "text",
            "time",
        ),
        rows=rows,
        made_for=made_for,
        about=_(ABOUT),
    )
