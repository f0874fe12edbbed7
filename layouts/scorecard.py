"""The scorecard room (``/scorecard?unit=<code>&period=<period>``): where the province (or one of
its units) stands on the national 766 index. The total, its band and rank among the 34 provinces
and the change since the previous period, the gap to the province above; each group's points;
the indicators by points lost; the weekly trend beside the national mean; a what-if computed by
the server; the province's targets and when their trend reaches them.

Live like every room: the page subscribes to the relay for the feeds the index is computed from
(dossiers, field reports, the portal's publications) and, on their pushes, re-renders its body on
the server, at most every ``REFRESH_MS``: a monthly index needs no more, and each refresh is one
read of the index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ioc import login
from ioc.documents import ScorecardAnswer
from ioc.units import UnitTable
from layouts import format as fmt
from layouts import ids, theme
from layouts import scorecard_panels as panels
from layouts.i18n import N_, _, current
from layouts.live import Live, fresh_badge, header_tools, throttle_js
from layouts.scorecard_data import WHAT_IF_INDICATORS, BadRequest, Scorecards
from layouts.scorecard_figures import trend_figure
from layouts.scorecard_targets import targets_panel

TITLE = N_("Chỉ số phục vụ người dân, doanh nghiệp (766)")
MAX_WHAT_IF = 1_000_000
# The period picked opens the same page for that period (the address keeps unit and language).
PERIOD_JS = """function (period) {
    const url = new URL(window.location.href);
    if (!period || url.searchParams.get("period") === period) return window.dash_clientside.no_update;
    url.searchParams.set("period", period);
    window.location.assign(url.toString());
    return window.dash_clientside.no_update;
}"""


def unit_level(units: UnitTable, code: str) -> str:
    return str(units.frame.filter(units.frame["code"] == code)["level"][0])


def query(unit: str, period: str, province: str) -> str:
    """The address's query for a unit and period: the province's is the default."""
    parts = ([f"unit={unit}"] if unit != province else []) + [f"period={period}"]
    return "?" + "&".join(parts)


@dataclass
class ScorecardPage:
    """Renders the room per request (``layout``); ``register`` wires its callbacks."""

    data: Scorecards
    live: Live

    @property
    def units(self) -> UnitTable:
        return self.data.units

    # ---- access -----------------------------------------------------------------------------

    def refusal(self, unit: Any, path: str) -> html.Div | None:
        """A page saying why ``unit`` cannot be shown to this person, or None when it can: the
        province for everyone, a unit below it within a duty officer's scope (the district
        room's rule)."""
        if not isinstance(unit, str) or unit not in set(self.units.codes):
            text = _("Không có đơn vị mã {code} trong bảng đơn vị.").format(code=repr(unit))
            return self.message_page(_("KHÔNG CÓ ĐƠN VỊ NÀY"), text)
        if unit != self.units.province and not login.user().sees_cases(unit, self.units):
            login.audit_view("refused", path=path, unit=unit, reason="scorecard outside the scope")
            text = _("Tài khoản trực ban của bạn chỉ xem được {units}.").format(
                units=", ".join(self.units.name(u) for u in login.user().units)
            )
            return self.message_page(_("NGOÀI PHẠM VI ĐƯỢC GIAO"), text, refused=True)
        return None

    def allowed(self, unit: Any) -> bool:
        """For a callback: the page's unit, which the browser holds, checked again."""
        if not isinstance(unit, str) or unit not in set(self.units.codes):
            return False
        return unit == self.units.province or login.user().sees_cases(unit, self.units)

    def message_page(self, title: str, text: str, *, refused: bool = False) -> html.Div:
        return html.Div(
            className="room",
            children=[
                header(self.units, self.units.province, title),
                html.Main(
                    className="health-main refused" if refused else "health-main",
                    children=[html.P(text), html.A(_("‹ Về trang tỉnh"), href="/", className="back")],
                ),
            ],
        )

    # ---- the page ---------------------------------------------------------------------------

    def layout(self, unit: str | None = None, period: str | None = None, **_query: Any) -> html.Div:
        unit = unit or self.units.province
        if (refused := self.refusal(unit, "/scorecard")) is not None:
            return refused
        try:
            answer = self.data.answer(unit, period)
        except BadRequest as exc:
            return self.message_page(_("KHÔNG CÓ KỲ NÀY"), str(exc))
        return self.render(answer)

    def render(self, answer: ScorecardAnswer) -> html.Div:
        unit, period = answer["unit"], answer["period"]
        return html.Div(
            className="room scorecard-room",
            children=[
                header(
                    self.units,
                    unit,
                    _(TITLE),
                    period_picker(self.data, period, ids.SC_PERIOD),
                ),
                html.Main(
                    className="sc-grid",
                    children=[
                        html.Div(self.body(answer), id=ids.SC_BODY, className="sc-body"),
                        self.what_if_panel(),
                    ],
                ),
                self.footer(),
                *self.live.elements(
                    feeds=list(self.data.feeds), units=[], series=[], store=ids.RT_SCORECARD, served=True
                ),
                dcc.Store(id=ids.SC_PAGE, data={"unit": unit, "period": period}),
                dcc.Store(id=ids.SC_REFRESH),
            ],
        )

    def body(self, answer: ScorecardAnswer) -> list[Any]:
        """Everything drawn from the answer (a push re-renders it; the what-if form stays)."""
        unit = answer["unit"]
        level = unit_level(self.units, unit)
        return [
            panels.headline(answer, level, self.badges()),
            html.Section(
                [
                    html.H2(_("Diễn biến tổng điểm 26 tuần")),
                    dcc.Graph(
                        figure=trend_figure(answer["trend"], name=answer["unit_name"]),
                        config={"displayModeBar": False, "locale": "vi"},
                        className="sc-trend",
                    ),
                ],
                className="sc-panel sc-trend-panel",
            ),
            panels.groups(answer),
            html.Section(
                [
                    html.Div(
                        [
                            html.H2(_("Các chỉ số, mất nhiều điểm nhất trước")),
                            html.Span(fmt.as_of(answer["as_of"]), className="as-of"),
                        ],
                        className="sc-panel-head",
                    ),
                    panels.indicators_table(
                        answer,
                        query(unit, answer["period"], self.units.province),
                        province=unit == self.units.province,
                    ),
                    html.P(
                        _(
                            "Ước tính: tính trực tiếp từ hồ sơ và phản ánh của tỉnh theo công thức của "
                            "Bộ chỉ số, đến khi Cổng DVCQG công bố số liệu chính thức."
                        ),
                        className="small muted",
                    ),
                ],
                className="sc-panel sc-indicators-panel",
            ),
            targets_panel(self.data.targets(), unit),
        ]

    def what_if_panel(self) -> html.Section:
        return html.Section(
            className="sc-panel sc-whatif",
            children=[
                html.H2(_("Nếu … thì sao?")),
                html.Div(
                    [
                        dcc.Dropdown(
                            panels.what_if_options(),
                            WHAT_IF_INDICATORS[0],
                            id=ids.SC_WHATIF_INDICATOR,
                            clearable=False,
                            searchable=False,
                            className="sc-whatif-pick",
                        ),
                        dcc.Input(
                            id=ids.SC_WHATIF_N,
                            type="number",
                            value=100,
                            min=1,
                            max=MAX_WHAT_IF,
                            step=1,
                            className="search sc-whatif-n",
                        ),
                        html.Button(_("Tính"), id=ids.SC_WHATIF_GO, className="sc-whatif-go"),
                    ],
                    className="sc-whatif-form",
                ),
                html.P(_("Thêm N hồ sơ (hoặc phản ánh) đạt chỉ số trong kỳ này."), className="small muted"),
                html.Div(id=ids.SC_WHATIF_RESULT, className="sc-whatif-result"),
            ],
        )

    def badges(self) -> html.Div:
        """How fresh each source of the index is: the feeds' live counts, the portal's figures."""
        return html.Div(
            [
                html.Span([html.Span(_(FEED_NAMES.get(f, f)), className="sc-feed"), " ", fresh_badge(f)])
                for f in self.data.feeds
            ],
            className="sc-badges",
        )

    def footer(self) -> html.Footer:
        return html.Footer(
            className="footer",
            children=[
                self.badges(),
                html.Span(_("Mất kết nối trực tiếp, đang kết nối lại…"), className="offline-note"),
                html.Span(theme.attribution(current()), className="attribution"),
            ],
        )

    # ---- callbacks --------------------------------------------------------------------------

    def what_if(self, page: Any, indicator: Any, n: Any) -> tuple[ScorecardAnswer, Any]:
        """The page's answer now and, for a valid what-if, the server's answer with it."""
        unit, period = page.get("unit"), page.get("period")
        base = self.data.answer(unit, period)
        if indicator not in WHAT_IF_INDICATORS:
            return base, html.Div(_("Chọn một chỉ số."), className="sc-whatif-error")
        if not isinstance(n, int | float) or not math.isfinite(n) or n != int(n) or not 1 <= n <= MAX_WHAT_IF:
            text = _("N là số nguyên từ 1 đến {max}.").format(max=fmt.number(MAX_WHAT_IF))
            return base, html.Div(text, className="sc-whatif-error")
        try:
            after = self.data.answer(unit, period, {indicator: int(n)})
        except BadRequest as exc:
            return base, html.Div(str(exc), className="sc-whatif-error")
        return base, panels.what_if_result(base, after, indicator, int(n), unit_level(self.units, unit))

    def register(self, app: Dash) -> None:
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            throttle_js(ids.SC_REFRESH),
            Output(ids.SC_REFRESH, "data"),
            Input(ids.RT_SCORECARD, "data"),
            prevent_initial_call=True,
        )
        app.clientside_callback(  # type: ignore[no-untyped-call]
            PERIOD_JS,
            Output(ids.SC_PAGE, "data"),
            Input(ids.SC_PERIOD, "value"),
            prevent_initial_call=True,
        )

        @app.callback(
            Output(ids.SC_BODY, "children"),
            Output(ids.SC_WHATIF_RESULT, "children"),
            Input(ids.SC_REFRESH, "data"),
            Input(ids.SC_WHATIF_GO, "n_clicks"),
            Input(ids.SC_WHATIF_N, "n_submit"),
            State(ids.SC_WHATIF_INDICATOR, "value"),
            State(ids.SC_WHATIF_N, "value"),
            State(ids.SC_PAGE, "data"),
            prevent_initial_call=True,
        )
        def refresh(
            _pushed: Any, clicks: Any, submits: Any, indicator: Any, n: Any, page: Any
        ) -> tuple[Any, Any]:
            """A push re-renders the body (and a what-if shown, on the new figures); a what-if
            asked for is computed by the server from the same formulas."""
            page = page if isinstance(page, dict) else {}
            if not self.allowed(page.get("unit")) or not isinstance(page.get("period"), str):
                raise PreventUpdate  # the page's state is the browser's: a made-up one gets nothing
            asked = ctx.triggered_id in (ids.SC_WHATIF_GO, ids.SC_WHATIF_N)
            try:
                if asked or clicks or submits:
                    base, result = self.what_if(page, indicator, n)
                else:
                    base, result = self.data.answer(page["unit"], page["period"]), no_update
            except BadRequest:
                raise PreventUpdate from None  # a period no longer kept: the page stays as drawn
            return self.body(base), result


FEED_NAMES = {
    "public_services": N_("Dịch vụ công"),
    "citizen_feedback": N_("Phản ánh hiện trường"),
    "national_index": N_("Cổng DVCQG"),
}


def header(units: UnitTable, unit: str, title: str, *extra: Any) -> html.Header:
    """Title, clock, the way back (the province's room, or the unit's above) and the tools."""
    trail: list[Any] = [dcc.Link(_("‹ Trang tỉnh"), href="/", refresh=True, className="sc-back")]
    if unit != units.province:
        trail += [
            dcc.Link(_("Chỉ số 766 toàn tỉnh"), href="/scorecard", refresh=True, className="sc-back"),
            html.Span(units.name(unit), className="sc-here"),
        ]
    else:
        trail.append(html.Span(units.name(unit), className="sc-here"))
    return html.Header(
        className="room-header sc-header",
        children=[
            html.H1(title),
            html.Div(fmt.date_time(datetime.now(UTC)), id=ids.CLOCK, className="clock"),
            html.Nav([*trail, *extra], className="sc-nav"),
            header_tools(),
        ],
    )


def period_picker(data: Scorecards, period: str, component_id: str) -> dcc.Dropdown:
    kept = data.periods()
    names = [*kept["months"], *kept["weeks"]]
    return dcc.Dropdown(
        [{"label": panels.period_label(p), "value": p} for p in names],
        period,
        id=component_id,
        clearable=False,
        searchable=False,
        className="sc-period",
    )
