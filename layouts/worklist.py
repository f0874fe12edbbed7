"""The duty officer's work list: every overdue dossier and field report of a district, newest
breach first, with how late each is; filterable without diacritics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dash import dcc, html

from ioc.cases import cases_field
from ioc.snapshots import SnapshotReader
from ioc.units import key_code
from layouts import format as fmt
from layouts import ids, theme
from layouts.downloads import export_links
from layouts.i18n import N_, _
from layouts.room_data import RoomData, feed_query, fetch_room


def _dossier(case: dict[str, Any]) -> tuple[Any, Any]:
    return f"{case.get('procedure') or '–'} · {case.get('sector') or '–'}", case.get("agency") or "–"


def _dossier_sheet(case: dict[str, Any]) -> tuple[Any, Any, Any]:
    return case.get("procedure"), case.get("sector"), case.get("agency")


def _report_sheet(case: dict[str, Any]) -> tuple[Any, Any, Any]:
    sector, severity = case.get("sector") or "", case.get("severity") or ""
    return (
        _(theme.REPORT_SECTOR_LABELS.get(sector, sector)),
        _(theme.REPORT_SEVERITY_LABELS.get(severity, severity)),
        case.get("text"),
    )


def _report(case: dict[str, Any]) -> tuple[Any, Any]:
    sector, severity = case.get("sector") or "", case.get("severity") or ""
    what = (
        f"{_(theme.REPORT_SECTOR_LABELS.get(sector, sector))} · "
        f"{_(theme.REPORT_SEVERITY_LABELS.get(severity, severity))}"
    )
    return what, html.Span(case.get("text") or "", className="case-text")


@dataclass(frozen=True)
class CaseTable:
    """How a feed's work list reads: its title and noun, the heads of the columns that differ
    (id, what, fourth) and what a case puts in the second and fourth."""

    title: str
    noun: str
    heads: tuple[str, str, str]
    cells: Callable[[dict[str, Any]], tuple[Any, Any]]
    # a download's three columns after the id (layouts.sheets): their heads, and a case's values
    sheet_heads: tuple[str, str, str]
    sheet_cells: Callable[[dict[str, Any]], tuple[Any, Any, Any]]
    # the morning briefing counts the cases by this field, under this head (``layouts.briefing``)
    counted_by: tuple[str, str]


CASE_TABLES = {
    "public_services": CaseTable(
        N_("Hồ sơ quá hạn đang xử lý"),
        N_("hồ sơ"),
        (N_("Mã hồ sơ"), N_("Thủ tục · lĩnh vực"), N_("Cơ quan")),
        _dossier,
        (N_("Thủ tục"), N_("Lĩnh vực"), N_("Cơ quan")),
        _dossier_sheet,
        ("agency", N_("Cơ quan tiếp nhận")),
    ),
    "citizen_feedback": CaseTable(
        N_("Phản ánh quá hạn xử lý"),
        N_("phản ánh"),
        (N_("Mã phản ánh"), N_("Lĩnh vực · mức độ"), N_("Nội dung")),
        _report,
        (N_("Lĩnh vực"), N_("Mức độ"), N_("Nội dung")),
        _report_sheet,
        ("sector", N_("Lĩnh vực")),
    ),
}
CASE_FEEDS = tuple(CASE_TABLES)
STATUS_LABELS = {
    "tiep_nhan": N_("Tiếp nhận"),
    "dang_xu_ly": N_("Đang xử lý"),
    "da_tiep_nhan": N_("Đã tiếp nhận"),
}


ROWS_SHOWN = 100  # the newest breaches; the older ones through the filter or the API (stays fast)


def fetch_cases(reader: SnapshotReader, feeds: list[str], unit: str) -> dict[str, RoomData]:
    """Each feed's meta and the case list of ``unit``: one read of each feed's snapshot."""
    return {feed: fetch_room(reader, feed, extras=[cases_field(unit)]) for feed in feeds}


def case_lists(
    found: dict[str, RoomData],
    unit: str,
    names: dict[str, str],
    case_filter: str,
    rooms: Mapping[str, str] | None = None,
) -> list[Any]:
    """One table per feed read (``found``, holding its meta and ``unit``'s case list) of every
    overdue case of ``unit``, with its count and time. ``names``: record key -> the name of its
    unit (``UnitTable.key_names``: a case's ``unit_code`` is its record key); ``rooms``: record
    key -> the room of the commune it counts in, which its name opens (on the list's feed)."""
    out: list[Any] = []
    wanted = fmt.fold(case_filter.strip())
    for feed in [f for f in CASE_FEEDS if f in found]:
        title, noun = _(CASE_TABLES[feed].title), _(CASE_TABLES[feed].noun)
        meta = found[feed].meta or {}
        cases = found[feed].extras.get(cases_field(unit))
        as_of = datetime.fromisoformat(meta["as_of"]) if meta.get("as_of") else datetime.now(UTC)
        if cases is None:
            out.append(
                html.Div(
                    [html.H3(title), html.P(_("Chưa có số liệu."), className="muted")], className="cases"
                )
            )
            continue
        shown = matching_cases(cases, names, case_filter)
        count = f"{fmt.number(len(cases))} {noun}" + (
            _(", {n} khớp bộ lọc").format(n=fmt.number(len(shown))) if wanted else ""
        )
        out.append(
            html.Div(
                className="cases",
                children=[
                    html.H3(
                        [
                            title,
                            html.Span(count, className="case-count", **ids.DataAttrs({"data-feed": feed})),
                        ]
                    ),
                    html.Div(
                        _("Tính đến {time}").format(time=fmt.short_time(as_of)), className="muted small"
                    ),
                    export_links("cases", feed=feed, unit=unit, f=case_filter.strip()),
                    _case_table(feed, shown, as_of, names, rooms or {}),
                ],
                **ids.DataAttrs({"data-feed": feed}),
            )
        )
    return out


def _case_table(
    feed: str, cases: list[dict[str, Any]], as_of: datetime, names: dict[str, str], rooms: Mapping[str, str]
) -> Any:
    if not cases:
        return html.P(_("Không có việc quá hạn."), className="muted")
    kind = CASE_TABLES[feed]
    ident, what_head, fourth_head = (_(h) for h in kind.heads)
    head = [ident, what_head, _("Xã, phường"), fourth_head, _("Tình trạng"), _("Hạn xử lý"), _("Trễ")]
    rows = []
    for case in cases[:ROWS_SHOWN]:
        deadline = datetime.fromisoformat(case["deadline_at"])
        what, fourth = kind.cells(case)
        rows.append(
            html.Tr(
                [
                    html.Td(html.Code(case["id"])),
                    html.Td(what),
                    html.Td(
                        dcc.Link(unit_name(case, names), href=rooms[key] + feed_query(feed), refresh=True)
                        if (key := case["unit_code"]) in rooms
                        else unit_name(case, names)
                    ),
                    html.Td(fourth),
                    html.Td(_(STATUS_LABELS.get(case["status"], case["status"]))),
                    html.Td(fmt.short_time(deadline), className="num"),
                    html.Td(fmt.late_by((as_of - deadline).total_seconds()), className="num late"),
                ]
            )
        )
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="case-table"
    )
    more = len(cases) - ROWS_SHOWN
    if more <= 0:
        return html.Div(table, className="case-scroll")
    note = _("Còn {n} việc quá hạn từ trước đó: gõ vào ô lọc để tìm, hoặc lấy cả danh sách qua {api}.")
    api = f"/api/v1/cases?feed={feed}"
    return html.Div(
        [table, html.P(note.format(n=fmt.number(more), api=api), className="muted small case-more")],
        className="case-scroll",
    )


def matching_cases(
    cases: list[dict[str, Any]], names: dict[str, str], case_filter: str
) -> list[dict[str, Any]]:
    """The cases a work list shows (and downloads) for ``case_filter``: those whose id,
    procedure, sector, commune, agency or text holds it, without diacritics; all of them for none."""
    wanted = fmt.fold(case_filter.strip())
    return [c for c in cases if not wanted or wanted in _case_text(c, names)]


def _case_text(case: dict[str, Any], names: dict[str, str]) -> str:
    """What the case filter searches: id, procedure, sector, commune, agency, text."""
    parts = [case.get(k) or "" for k in ("id", "procedure", "sector", "agency", "severity", "text")]
    labels = [theme.REPORT_SECTOR_LABELS.get(parts[2], ""), theme.REPORT_SEVERITY_LABELS.get(parts[4], "")]
    return fmt.fold(" ".join([*parts, *labels, unit_name(case, names)]))


def unit_name(case: dict[str, Any], names: dict[str, str]) -> str:
    """The name of a case's unit in its own scheme; its plain code when the name is not known."""
    return names.get(case["unit_code"]) or key_code(case["unit_code"])[1]
