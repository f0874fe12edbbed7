"""The duty officer's work list: every overdue dossier and field report of a district, newest
breach first, with how late each is; filterable without diacritics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import html

from ioc.cases import cases_field
from ioc.snapshots import SnapshotReader
from layouts import format as fmt
from layouts import theme
from layouts.i18n import N_, _

CASE_FEEDS = ("public_services", "citizen_feedback")
CASE_TITLES = {
    "public_services": (N_("Hồ sơ quá hạn đang xử lý"), N_("hồ sơ")),
    "citizen_feedback": (N_("Phản ánh quá hạn xử lý"), N_("phản ánh")),
}
STATUS_LABELS = {
    "tiep_nhan": N_("Tiếp nhận"),
    "dang_xu_ly": N_("Đang xử lý"),
    "da_tiep_nhan": N_("Đã tiếp nhận"),
}


ROWS_SHOWN = 100  # the newest breaches; the older ones through the filter or the API (stays fast)


def case_lists(
    reader: SnapshotReader, feeds: list[str], unit: str, names: dict[str, str], case_filter: str
) -> list[Any]:
    """One table per feed of every overdue case of ``unit``, with its count and time."""
    out: list[Any] = []
    wanted = fmt.fold(case_filter.strip())
    for feed in feeds:
        title, noun = (_(text) for text in CASE_TITLES[feed])
        meta = reader.meta(feed) or {}
        cases = reader.extra(feed, cases_field(unit))
        as_of = datetime.fromisoformat(meta["as_of"]) if meta.get("as_of") else datetime.now(UTC)
        if cases is None:
            out.append(
                html.Div(
                    [html.H3(title), html.P(_("Chưa có số liệu."), className="muted")], className="cases"
                )
            )
            continue
        shown = [c for c in cases if not wanted or wanted in _case_text(c, names)]
        count = f"{fmt.number(len(cases))} {noun}" + (
            _(", {n} khớp bộ lọc").format(n=fmt.number(len(shown))) if wanted else ""
        )
        out.append(
            html.Div(
                className="cases",
                children=[
                    html.H3([title, html.Span(count, className="case-count", **{"data-feed": feed})]),
                    html.Div(
                        _("Tính đến {time}").format(time=fmt.short_time(as_of)), className="muted small"
                    ),
                    _case_table(feed, shown, as_of, names),
                ],
                **{"data-feed": feed},
            )
        )
    return out


def _case_table(feed: str, cases: list[dict[str, Any]], as_of: datetime, names: dict[str, str]) -> Any:
    if not cases:
        return html.P(_("Không có việc quá hạn."), className="muted")
    if feed == "public_services":
        head = [
            _("Mã hồ sơ"),
            _("Thủ tục · lĩnh vực"),
            _("Xã, phường"),
            _("Cơ quan"),
            _("Tình trạng"),
            _("Hạn xử lý"),
            _("Trễ"),
        ]
    else:
        head = [
            _("Mã phản ánh"),
            _("Lĩnh vực · mức độ"),
            _("Xã, phường"),
            _("Nội dung"),
            _("Tình trạng"),
            _("Hạn xử lý"),
            _("Trễ"),
        ]
    rows = []
    for case in cases[:ROWS_SHOWN]:
        deadline = datetime.fromisoformat(case["deadline_at"])
        if feed == "public_services":
            what = f"{case.get('procedure') or '–'} · {case.get('sector') or '–'}"
            fourth = case.get("agency") or "–"
        else:
            sector, severity = case.get("sector") or "", case.get("severity") or ""
            what = (
                f"{_(theme.REPORT_SECTOR_LABELS.get(sector, sector))} · "
                f"{_(theme.REPORT_SEVERITY_LABELS.get(severity, severity))}"
            )
            fourth = html.Span(case.get("text") or "", className="case-text")
        rows.append(
            html.Tr(
                [
                    html.Td(html.Code(case["id"])),
                    html.Td(what),
                    html.Td(names.get(case["unit_code"], case["unit_code"])),
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


def _case_text(case: dict[str, Any], names: dict[str, str]) -> str:
    """What the case filter searches: id, procedure, sector, commune, agency, text."""
    parts = [case.get(k) or "" for k in ("id", "procedure", "sector", "agency", "severity", "text")]
    labels = [theme.REPORT_SECTOR_LABELS.get(parts[2], ""), theme.REPORT_SEVERITY_LABELS.get(parts[4], "")]
    return fmt.fold(" ".join([*parts, *labels, names.get(case["unit_code"], "")]))
