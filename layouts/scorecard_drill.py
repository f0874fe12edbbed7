"""The drill-down of a feed-computed indicator (``/scorecard/<indicator>?unit=&period=``): the same
indicator for every unit below (the province's districts before 2025, its areas in 2025; a
district's or an area's communes), the most points lost first, each linked to its room and, for
2.1 and 5.1, to the work list of the overdue cases behind it. Live as the scorecard room is
(``layouts/scorecard.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from ioc import login
from ioc.documents import DrilldownAnswer
from ioc.index766 import INDICATORS
from ioc.units import UnitTable
from layouts import format as fmt
from layouts import ids
from layouts import scorecard_panels as panels
from layouts.i18n import _
from layouts.live import throttle_js
from layouts.scorecard import FEED_NAMES, PERIOD_JS, ScorecardPage, header, period_picker, query
from layouts.scorecard_data import BadRequest

# The KPI a room opens on, for a work list's feed.
OVERDUE_KPI = {"public_services": "overdue_open", "citizen_feedback": "overdue"}


@dataclass
class DrilldownPage(ScorecardPage):
    """One indicator, unit by unit; the access rules and the header are the room's."""

    def drill_layout(
        self, indicator: str = "", unit: str | None = None, period: str | None = None, **_query: Any
    ) -> html.Div:
        unit = unit or self.units.province
        if (refused := self.refusal(unit, f"/scorecard/{indicator}")) is not None:
            return refused
        try:
            answer = self.data.drilldown(indicator, period, unit)
        except BadRequest as exc:
            return self.message_page(_("KHÔNG CÓ CHỈ SỐ NÀY"), str(exc))
        return self.render_drill(answer)

    def render_drill(self, answer: DrilldownAnswer) -> html.Div:
        key, unit, period = answer["indicator"], answer["parent"], answer["period"]
        back = dcc.Link(
            _("‹ Chỉ số 766 của {name}").format(name=self.units.name(unit)),
            href="/scorecard" + query(unit, period, self.units.province),
            refresh=True,
            className="sc-back",
        )
        title = _("Chỉ số {id}: {label}").format(id=key, label=panels.said(answer["label"]))
        return html.Div(
            className="room scorecard-room",
            children=[
                header(self.units, unit, title, back, period_picker(self.data, period, ids.SC_DRILL_PERIOD)),
                html.Main(
                    html.Section(self.drill_body(answer), id=ids.SC_DRILL_BODY, className="sc-panel"),
                    className="sc-drill-main",
                ),
                self.footer(),
                *self.live.elements(
                    feeds=list(self.data.feeds), units=[], series=[], store=ids.RT_SC_DRILL, served=True
                ),
                dcc.Store(id=ids.SC_DRILL_PAGE, data={"indicator": key, "unit": unit, "period": period}),
                dcc.Store(id=ids.SC_DRILL_REFRESH),
            ],
        )

    def drill_body(self, answer: DrilldownAnswer) -> list[Any]:
        indicator = INDICATORS[answer["indicator"]]
        level = panels.level_noun(answer["level"])
        lead = (
            _("{level} của {parent}, mất nhiều điểm nhất trước · {period}")
            if indicator.scored
            else _("{level} của {parent}, chậm nhất trước · {period}")
        )
        return [
            html.Div(
                [
                    html.H2(
                        lead.format(
                            level=level[:1].upper() + level[1:],
                            parent=self.units.name(answer["parent"]),
                            period=panels.period_label(answer["period"], in_sentence=True),
                        )
                    ),
                    html.Span(fmt.as_of(answer["as_of"]), className="as-of"),
                ],
                className="sc-panel-head",
            ),
            drill_table(answer, self.links(answer)),
            html.P(self.note(answer["indicator"]), className="small muted"),
        ]

    @staticmethod
    def note(key: str) -> str:
        indicator = INDICATORS[key]
        feed = _(FEED_NAMES.get(indicator.feed, indicator.feed))
        if indicator.full_at is None:  # 2.2: shown, not scored
            return _("Ước tính từ số liệu trực tiếp của {feed}; không tính điểm.").format(feed=feed)
        return _("Ước tính từ số liệu trực tiếp của {feed}; đủ điểm từ {full}.").format(
            feed=feed, full=fmt.percent(indicator.full_at, 0)
        )

    def links(self, answer: DrilldownAnswer) -> dict[str, tuple[str | None, str | None]]:
        """Each unit's room (a district's before 2025; an area's or a commune's in 2025; else the
        unit's own scorecard) and its work list, where this person may open them."""
        feed = INDICATORS[answer["indicator"]].feed
        cases = answer["case_feed"]
        person = login.user()
        found: dict[str, tuple[str | None, str | None]] = {}
        for row in answer["units"]:
            code = row["unit"]
            room = unit_room(self.units, code, feed) or "/scorecard" + query(
                code, answer["period"], self.units.province
            )
            work = work_list(self.units, code, cases) if cases else None
            where = work_list_unit(self.units, code)
            found[code] = (
                room if person.sees_cases(code, self.units) else None,
                work if work and where and person.sees_cases(where, self.units) else None,
            )
        return found

    def register_drill(self, app: Dash) -> None:
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            throttle_js(ids.SC_DRILL_REFRESH),
            Output(ids.SC_DRILL_REFRESH, "data"),
            Input(ids.RT_SC_DRILL, "data"),
            prevent_initial_call=True,
        )
        app.clientside_callback(  # type: ignore[no-untyped-call]
            PERIOD_JS,
            Output(ids.SC_DRILL_PAGE, "data"),
            Input(ids.SC_DRILL_PERIOD, "value"),
            prevent_initial_call=True,
        )

        @app.callback(
            Output(ids.SC_DRILL_BODY, "children"),
            Input(ids.SC_DRILL_REFRESH, "data"),
            State(ids.SC_DRILL_PAGE, "data"),
            prevent_initial_call=True,
        )
        def refresh(_pushed: Any, page: Any) -> list[Any]:
            """A push: the units re-ranked on the new figures."""
            page = page if isinstance(page, dict) else {}
            if not self.allowed(page.get("unit")) or not isinstance(page.get("period"), str):
                raise PreventUpdate
            try:
                answer = self.data.drilldown(str(page.get("indicator")), page["period"], page["unit"])
            except BadRequest:
                raise PreventUpdate from None
            return self.drill_body(answer)


def room_level(units: UnitTable, code: str) -> str | None:
    """The level of a unit's room the drill-down links to: a district's before 2025; an area's or
    a commune's in 2025 (each has its room and work list); None: the unit's own scorecard."""
    level = units.level(code)
    if level == units.middle or (level == "commune" and units.middle == "area"):
        return level
    return None


def unit_room(units: UnitTable, code: str, feed: str) -> str | None:
    """A unit's room, on the indicator's feed (None for a unit without a room)."""
    level = room_level(units, code)
    return None if level is None else f"/{level}/{code}?feed={feed}"


def work_list_unit(units: UnitTable, code: str) -> str | None:
    """Whose room's work list holds a unit's cases: a district's or an area's own, a 2025
    commune's own (its room shows its cases), a pre-2025 commune's its district's; None for the
    province (its cases are listed unit by unit)."""
    if room_level(units, code) is not None:
        return code
    parent = units.parent(code)
    return parent if parent is not None and units.level(parent) == units.middle else None


def work_list(units: UnitTable, code: str, feed: str) -> str | None:
    """The room opened on the overdue cases of ``feed``: the unit's own, or its district's
    filtered to a pre-2025 commune's."""
    where = work_list_unit(units, code)
    if where is None:
        return None
    params = {"feed": feed, "kpi": OVERDUE_KPI[feed]}
    if where != code:
        params["f"] = units.name(code)
    return f"/{units.level(where)}/{where}?" + urlencode(params)


def drill_table(answer: DrilldownAnswer, links: Mapping[str, tuple[str | None, str | None]]) -> html.Table:
    """The units worst first: rate, count, points and points lost; ``links`` gives each unit its
    room's address and its work list's (None where this person may not open it or there is none:
    no column then)."""
    scored = INDICATORS[answer["indicator"]].scored
    work = any(cases for _room, cases in links.values())
    head = [
        "#",
        _("Đơn vị"),
        _("Tỷ lệ") if scored else _("Số ngày"),
        _("Đạt / tổng"),
        _("Điểm"),
        _("Mất"),
        *([_("Việc cần xử lý")] if work else []),
    ]
    rows = []
    for i, row in enumerate(answer["units"], start=1):
        room, cases = links.get(row["unit"], (None, None))
        name = dcc.Link(row["name"], href=room, refresh=True) if room else row["name"]
        count = row["denominator"]
        cells = [
            html.Td(str(i), className="rank"),
            html.Td(name),
            html.Td(fmt.percent(row["rate"]) if scored else fmt.number(row["rate"], 1), className="num"),
            html.Td(
                "–" if count is None else f"{fmt.number(row['numerator'])} / {fmt.number(count)}",
                className="num muted",
            ),
            html.Td(
                f"{panels.points(row['points'])} / {panels.points(row['max'])}" if scored else "–",
                className="num",
            ),
            html.Td(
                panels.lost_text(row["lost"]), className=f"num {panels.loss_state(row['lost'], row['max'])}"
            ),
        ]
        if work:
            cells.append(
                html.Td(dcc.Link(_("Danh sách quá hạn ›"), href=cases, refresh=True) if cases else "")
            )
        rows.append(html.Tr(cells, **ids.DataAttrs({"data-unit": row["unit"]})))
    return html.Table(
        [
            html.Thead(
                html.Tr([html.Th(h, className="num" if 1 < i < 6 else None) for i, h in enumerate(head)])
            ),
            html.Tbody(rows),
        ],
        className="ranking sc-drill-table",
    )
