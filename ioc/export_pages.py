"""Downloads of the rooms' tables: ``GET /export/<table>.<csv|xlsx>``.

- ``ranking?feed=&unit=&kpi=&window=&q=&sort=``: the children of the province (its districts or
  areas) or of a district or area (its communes), ranked as the room ranks them;
- ``cases?feed=&unit=&f=``: a unit's whole work list, the rows the case filter ``f`` keeps;
- ``alerts``: the active alerts the person sees.

The same choices as the room's address, the same rows as the screen (``layouts.sheets``), the same
access rules as the room and the API (an officer gets only their own units' communes, cases and
alerts), an audit entry for each download. CSV is streamed a row at a time; XLSX is written in
constant memory to a temporary file and sent from it. Case-level downloads are never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, request, stream_with_context
from werkzeug.datastructures import MultiDict

from ioc.api import no_history, outside, read_cases, visible_alerts
from ioc.config import AlertRule
from ioc.feeds import FeedSpec
from ioc.history import instant
from ioc.login import audit_view, user
from ioc.login import refused as refuse
from ioc.sheets import Sheet, csv_lines, local, xlsx_file
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import sheets, theme
from layouts.communes import SORTS
from layouts.geography import record_keys
from layouts.i18n import _
from layouts.room_data import DEFAULT_FEED, DEFAULT_WINDOW, FeedView, fetch_room
from layouts.worklist import CASE_FEEDS

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TABLES = ("ranking", "cases", "alerts")
SEARCH_MAX = 100  # a search or a case filter, as the rooms' boxes take them


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Exports:
    reader: SnapshotReader
    units: UnitTable
    specs: Mapping[str, FeedSpec]  # the feeds the rooms show (with KPIs)
    goals: Goals
    rules: Mapping[str, AlertRule]

    def about(self, title: str, **more: str) -> dict[str, str]:
        """What a sheet was made for, beside its rows (XLSX's second worksheet)."""
        return {
            _("Bảng"): title,
            **more,
            _("Tải lúc"): local(datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S"),
            _("Người tải"): user().login,
        }

    def ranking(self, args: MultiDict[str, str]) -> tuple[Sheet, dict[str, str]]:
        feed = args.get("feed", DEFAULT_FEED if DEFAULT_FEED in self.specs else next(iter(self.specs)))
        if feed not in self.specs:
            raise Refused(400, f"feed: {feed!r} has no ranking; feeds: {', '.join(self.specs)}")
        unit = args.get("unit", self.units.province)
        if unit not in set(self.units.codes) or not self.units.children(unit):
            raise Refused(400, f"unit: {unit!r} is not the province, a district or an area of this scheme")
        window = args.get("window", DEFAULT_WINDOW)
        if window not in theme.WINDOW_LABELS:
            raise Refused(400, f"window: {window!r} is not one of {', '.join(theme.WINDOW_LABELS)}")
        sort = args.get("sort", "best")
        if sort not in SORTS:
            raise Refused(400, f"sort: {sort!r} is not one of {', '.join(SORTS)}")
        search = self.text(args, "q")
        try:  # an instant in the past: the ranking as it was known then
            at = instant(args["at"]) if args.get("at") else None
        except ValueError as exc:
            raise Refused(400, str(exc)) from None
        children = self.units.children(unit)
        person = user()
        if not all(person.sees_kpis(c, self.units) for c in children):
            raise Refused(403, outside(unit))
        province = self.units.province
        data = fetch_room(
            self.reader, feed, docs=[(province, DEFAULT_WINDOW), *((c, window) for c in children)], at=at
        )
        if data.meta is None and at is not None and self.reader.history is not None:
            raise Refused(404, no_history(self.reader.history, feed, at))
        if data.meta is None:
            raise Refused(503, f"no KPIs computed yet for feed {feed!r}")
        view = FeedView.of(self.specs[feed], data, self.goals)
        kpi = args.get("kpi", view.pick(None))
        if kpi not in view.kpis:
            raise Refused(400, f"kpi: {kpi!r} is not one of {', '.join(view.kpis)}")
        made_for = self.about(
            _("Xếp hạng"),
            **{
                _("Nguồn"): feed,
                _("Đơn vị"): f"{self.units.names()[unit]} ({unit})",
                _("Số liệu lúc"): local(datetime.fromisoformat(data.meta["as_of"])).isoformat(),
                _("Thời điểm chọn"): local(at).isoformat() if at else _("trực tiếp"),
            },
        )
        sheet = sheets.ranking_sheet(view, self.units, unit, kpi, window, search, sort, made_for)
        return sheet, {"feed": feed, "unit": unit, "kpi": kpi, "window": window, "at": args.get("at", "")}

    def cases(self, args: MultiDict[str, str]) -> tuple[Sheet, dict[str, str]]:
        feed = args.get("feed", "")
        if feed not in CASE_FEEDS:
            raise Refused(400, f"feed: no work list for {feed!r}; feeds with one: {', '.join(CASE_FEEDS)}")
        unit = args.get("unit", "")
        if unit not in set(self.units.codes):
            raise Refused(400, f"unit: unknown unit {unit!r} in scheme {self.units.scheme}")
        case_filter = self.text(args, "f")
        if not user().sees_cases(unit, self.units):
            raise Refused(403, outside(unit))
        meta, found = read_cases(self.reader, self.units, record_keys(self.units), feed, unit)
        if meta is None or found is None:
            raise Refused(503, f"no work list of unit {unit!r} computed yet for feed {feed!r}")
        as_of = datetime.fromisoformat(meta["as_of"])
        made_for = self.about(
            _("Việc quá hạn"),
            **{
                _("Nguồn"): feed,
                _("Đơn vị"): f"{self.units.names()[unit]} ({unit})",
                _("Số liệu lúc"): local(as_of).isoformat(),
            },
        )
        cases: list[dict[str, Any]] = [dict(c) for c in found]
        sheet = sheets.cases_sheet(feed, unit, cases, self.units.key_names, case_filter, as_of, made_for)
        return sheet, {"feed": feed, "unit": unit}

    def alerts(self, args: MultiDict[str, str]) -> tuple[Sheet, dict[str, str]]:
        found = visible_alerts(self.reader.client, self.units, user())
        sheet = sheets.alerts_sheet(found, self.units.names(), self.rules, self.about(_("Cảnh báo")))
        return sheet, {}

    @staticmethod
    def text(args: MultiDict[str, str], name: str) -> str:
        value = args.get(name, "")
        if len(value) > SEARCH_MAX:
            raise Refused(400, f"{name}: at most {SEARCH_MAX} characters")
        return value


def send(sheet: Sheet, fmt: str) -> Response:
    """The sheet as a download: CSV streamed, XLSX from its temporary file."""
    if fmt == "csv":
        response = Response(stream_with_context(csv_lines(sheet)), mimetype=FORMATS["csv"])
    else:
        body = xlsx_file(sheet)
        response = Response(iter(lambda: body.read(64 * 1024), b""), mimetype=FORMATS["xlsx"])
        response.call_on_close(body.close)
    response.headers["Content-Disposition"] = f'attachment; filename="ioc-{sheet.name}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def install(server: Flask, exports: Exports) -> None:
    bp = Blueprint("exports", __name__)
    builders: dict[str, Callable[[MultiDict[str, str]], tuple[Sheet, dict[str, str]]]] = {
        "ranking": exports.ranking,
        "cases": exports.cases,
        "alerts": exports.alerts,
    }

    @bp.get("/export/<table>.<fmt>")
    def export(table: str, fmt: str) -> Any:
        if table not in builders:
            return refuse(404, f"no table {table[:40]!r} to download; tables: {', '.join(TABLES)}")
        if fmt not in FORMATS:
            return refuse(404, f"no format {fmt[:10]!r}; formats: {', '.join(FORMATS)}")
        try:
            sheet, what = builders[table](request.args)
        except Refused as exc:
            return refuse(exc.status, str(exc))
        if isinstance(sheet.rows, Sized):
            what["rows"] = str(len(sheet.rows))
        audit_view("export", table=table, format=fmt, **what)
        return send(sheet, fmt)

    server.register_blueprint(bp)
