"""The district room (``/district/<code>``): the duty officer's page.

The district's tiles for the chosen feed, the district on the map among its greyed neighbours
(its communes coloured when a commune boundary file is installed), its communes ranked, and the
work list: every overdue dossier and field report, newest breach first. Every state (feed, KPI,
window, commune search and order, case filter) is in the URL, so a link shows what its sender saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ioc import keys, login
from ioc.geo import Layer
from layouts import figures, ids, theme, worklist
from layouts.communes import SORTS, ranked_communes
from layouts.i18n import _
from layouts.live import fresh_badge
from layouts.province import DEFAULT_WINDOW, ProvincePage, entry

MAP_WIDTH_PX = 640  # what the zoom is fitted to
# The room's callback re-reads the work lists at every pushed change: one audit entry per person,
# district and feed this often, not one a second.
CASES_AUDIT_REPEAT_S = 300


@dataclass
class DistrictPage(ProvincePage):
    """One district's room; ``code`` is set per request by :meth:`layout`."""

    communes: Layer | None = None
    communes_url: str = ""
    code: str = ""

    def feed_href(self, feed: str) -> str:
        return f"/district/{self.code}" + ("" if feed == "public_services" else f"?feed={feed}")

    def layout(  # type: ignore[override]
        self,
        code: str = "",
        feed: str = "public_services",
        kpi: str = "",
        window: str = DEFAULT_WINDOW,
        q: str = "",
        sort: str = "best",
        f: str = "",
        **_query: Any,
    ) -> html.Div:
        page = self.view(feed)
        page.code = code
        if code not in self.units.level_codes("district"):
            return page._unknown(code)
        if not login.user().sees_cases(code, self.units):  # an officer of another district
            login.audit_view("refused", path=f"/district/{code}", reason="district room outside the scope")
            return page._unknown(code, refused=True)
        login.audit_view("district_room", unit=code, feed=feed)
        kpi = kpi if kpi in page.kpis else page.default_kpi()
        window = window if window in theme.WINDOW_LABELS else DEFAULT_WINDOW
        sort = sort if sort in SORTS else "best"
        return page.render_district(kpi, window, q, sort, f)

    def _unknown(self, code: str, *, refused: bool = False) -> html.Div:
        if refused:
            title = _("NGOÀI PHẠM VI ĐƯỢC GIAO")
            text = _("Tài khoản trực ban của bạn chỉ xem được {units}.").format(
                units=", ".join(self.units.name(u) for u in login.user().units)
            )
        elif self.units.level_codes("district"):
            title = _("KHÔNG CÓ ĐƠN VỊ NÀY")
            text = _("Không có huyện, thị xã, thành phố mã {code} trong bảng đơn vị.").format(code=repr(code))
        else:
            title = _("KHÔNG CÓ ĐƠN VỊ NÀY")
            text = _("Từ 01/7/2025 không còn cấp huyện: số liệu từng xã, phường ở trang tỉnh.")
        return html.Div(
            className="room",
            children=[
                self._header(title),
                html.Main(
                    className="health-main refused" if refused else "health-main",
                    children=[
                        html.P(text),
                        html.A(_("‹ Về trang tỉnh"), href="/", className="back"),
                    ],
                ),
            ],
        )

    # ---- the page ----------------------------------------------------------------------

    def render_district(self, kpi: str, window: str, search: str, sort: str, case_filter: str) -> html.Div:
        names = self.units.names()
        province = self.units.province
        breadcrumb = html.Nav(
            className="breadcrumb",
            children=[
                dcc.Link(names[province], href=ProvincePage.feed_href(self, self.spec.name), refresh=True),
                html.Span(" › "),
                html.Span(names[self.code], className="here"),
            ],
        )
        windows = [{"label": _(label), "value": w} for w, label in theme.WINDOW_LABELS.items()]
        options = [{"label": k.label, "value": p} for p, k in self.kpis.items() if k.kind != "breakdown"]
        return html.Div(
            className="room district-room",
            children=[
                self._header(breadcrumb),
                html.Main(
                    className="room-grid district-grid",
                    children=[
                        html.Section(
                            [
                                fresh_badge(self.spec.name),
                                html.Div(self.tiles(window, self.code), id=ids.D_TILES),
                            ],
                            className="tiles",
                        ),
                        html.Section(
                            className="map-panel",
                            children=[
                                html.Div(
                                    className="map-controls",
                                    children=[
                                        dcc.Dropdown(
                                            options, kpi, id=ids.D_KPI, clearable=False, className="kpi-pick"
                                        ),
                                        dcc.RadioItems(
                                            windows,
                                            window,
                                            id=ids.D_WINDOW,
                                            inline=True,
                                            className="window-pick",
                                        ),
                                        fresh_badge(self.spec.name),
                                    ],
                                ),
                                dcc.Graph(
                                    id=ids.D_MAP,
                                    figure=self.district_map(kpi, window),
                                    config={"displayModeBar": False, "scrollZoom": True},
                                    className="map",
                                ),
                            ],
                        ),
                        html.Aside(
                            className="side",
                            children=[
                                html.H2(_("Xã, phường, thị trấn của {name}").format(name=names[self.code])),
                                html.Div(
                                    className="commune-controls",
                                    children=[
                                        search_box(
                                            ids.D_SEARCH, search, _("Tìm xã, phường (không dấu được)")
                                        ),
                                        dcc.Dropdown(
                                            [{"label": _(v), "value": k} for k, v in SORTS.items()],
                                            sort,
                                            id=ids.D_SORT,
                                            clearable=False,
                                            searchable=False,
                                            className="sort-pick",
                                        ),
                                    ],
                                ),
                                fresh_badge(self.spec.name),
                                html.Div(self.commune_table(kpi, window, search, sort), id=ids.D_COMMUNES),
                            ],
                        ),
                        html.Section(
                            className="district-alerts",
                            children=[
                                html.Div(
                                    className="alert-ticker",
                                    id=ids.ALERTS,
                                    # this district's, its communes' and the province's alerts only
                                    **{
                                        "data-units": " ".join(
                                            [province, self.code, *self.units.children(self.code)]
                                        )
                                    },
                                )
                            ],
                        ),
                        html.Section(
                            className="cases-panel",
                            children=[
                                html.Div(
                                    className="cases-head",
                                    children=[
                                        html.H2(_("Việc cần xử lý: hồ sơ và phản ánh quá hạn")),
                                        search_box(
                                            ids.D_CASE_FILTER,
                                            case_filter,
                                            _("Lọc theo mã, thủ tục, lĩnh vực, xã (không dấu được)"),
                                        ),
                                    ],
                                ),
                                html.Div(
                                    self.case_lists(case_filter), id=ids.D_CASES, className="cases-lists"
                                ),
                            ],
                        ),
                    ],
                ),
                self._footer(),
                *self.live.elements(
                    feeds=list(self.specs),  # the case lists' feeds, and every feed's alerts
                    units=[self.code, *self.units.children(self.code)],
                    series=[],
                    store=ids.RT_DISTRICT,
                ),
                dcc.Store(id=ids.D_PAGE, data={"feed": self.spec.name, "code": self.code}),
            ],
        )

    # ---- map ---------------------------------------------------------------------------

    def district_map(self, kpi_name: str, window: str) -> dict[str, Any]:
        """The district coloured by the KPI (its communes, when their polygons are installed),
        the other districts grey and clickable, zoomed to the district.

        Built as plain dicts: Plotly's graph objects validated every property of every call (a
        third of the room's answer time)."""
        kpi = self.kpis[kpi_name]
        names = self.units.names()
        others = [c for c in self.layer.codes if c != self.code]
        grey = {
            "type": "choroplethmap",
            "geojson": self.geojson_url,
            "featureidkey": "properties.code",
            "locations": others,
            "z": [0] * len(others),
            "colorscale": [[0, "#e6e9ed"], [1, "#e6e9ed"]],
            "showscale": False,
            "customdata": [[names[c]] for c in others],
            "hovertemplate": "<b>%{customdata[0]}</b><br>" + _("Bấm để mở phòng huyện") + "<extra></extra>",
            "marker": {"line": {"color": "#ffffff", "width": 1.2}, "opacity": 0.9},
        }
        if self.communes is not None:
            codes = [c for c in self.communes.codes if self.units.parent(c) == self.code]
            url = self.communes_url
        else:
            codes, url = [self.code], self.geojson_url
        found = self.reader.many(self.spec.name, codes, window)
        values = [figures.scalar(kpi, entry(found.get(c), kpi_name).get("value")) for c in codes]
        focus = figures.choropleth(
            geojson_url=url, codes=codes, names=[names[c] for c in codes], values=values, kpi=kpi
        )
        focus["marker"] = {"line": {"color": theme.INK, "width": 1.5}, "opacity": 0.92}
        data: list[dict[str, Any]] = [grey, focus]
        if self.spec.name == "citizen_feedback":
            inside = set(codes) | {self.code} | set(self.units.children(self.code))
            points = [
                p for p in self.reader.extra(self.spec.name, "_points") or [] if p.get("unit_code") in inside
            ]
            data += [trace.to_plotly_json() for trace in figures.report_layers(points, [])]
        bounds = self.layer.feature_bounds[self.code]
        minx, miny, maxx, maxy = bounds
        layout = {
            "map": {
                "style": "white-bg",
                "center": {"lat": (miny + maxy) / 2, "lon": (minx + maxx) / 2},
                "zoom": figures.fit_zoom(bounds, MAP_WIDTH_PX, MAP_WIDTH_PX / 1.3),
            },
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": theme.FONT, "color": theme.INK},
            "showlegend": self.spec.name == "citizen_feedback",
            "legend": {"x": 0, "y": 0, "bgcolor": "rgba(255,255,255,0.8)"},
            "uirevision": f"district-{self.code}",
        }
        return {"data": data, "layout": layout}

    # ---- communes ----------------------------------------------------------------------

    def commune_table(self, kpi_name: str, window: str, search: str, sort: str) -> html.Table:
        return ranked_communes(
            self.reader, self.units, self.spec, self.code, self.kpis[kpi_name], window, search, sort
        )

    def case_lists(self, case_filter: str) -> list[Any]:
        feeds = [f for f in worklist.CASE_FEEDS if f in self.specs]
        return worklist.case_lists(self.reader, feeds, self.code, self.units.names(), case_filter)

    def audit_cases(self) -> None:
        """The callback's work lists are case-level reads, recorded as the API's are ("cases");
        a page's repeated re-reads once per ``CASES_AUDIT_REPEAT_S``."""
        who = login.user().login
        for feed in [f for f in worklist.CASE_FEEDS if f in self.specs]:
            repeat = keys.audit_repeat("cases", who, self.code, feed)
            if self.reader.client.set(repeat, 1, nx=True, ex=CASES_AUDIT_REPEAT_S):
                login.audit_view("cases", feed=feed, unit=self.code, view="room")

    # ---- callbacks ---------------------------------------------------------------------

    def register(self, app: Dash) -> None:
        @app.callback(
            Output(ids.D_TILES, "children"),
            Output(ids.D_MAP, "figure"),
            Output(ids.D_COMMUNES, "children"),
            Output(ids.D_CASES, "children"),
            Input(ids.D_KPI, "value"),
            Input(ids.D_WINDOW, "value"),
            Input(ids.D_SEARCH, "value"),
            Input(ids.D_SORT, "value"),
            Input(ids.D_CASE_FILTER, "value"),
            Input(ids.RT_DISTRICT, "data"),
            State(ids.D_PAGE, "data"),
            prevent_initial_call=True,
        )
        def refresh(
            kpi: str, window: str, search: str, sort: str, case_filter: str, _m: Any, page: dict[str, str]
        ) -> tuple[Any, ...]:
            """A choice or a pushed change: re-read this district (a handful of Redis reads)."""
            page = page if isinstance(page, dict) else {}
            if (
                not isinstance(page.get("code"), str)
                or not isinstance(page.get("feed"), str)
                or page.get("code") not in self.units.level_codes("district")
                or page.get("feed") not in self.specs
            ):
                raise PreventUpdate  # the page's state is the browser's: a made-up one gets nothing
            if not login.user().sees_cases(page["code"], self.units):
                login.audit_view(
                    "refused", unit=str(page["code"])[:20], reason="district room callback outside the scope"
                )
                raise PreventUpdate
            pushed = ctx.triggered_id == ids.RT_DISTRICT
            if pushed and (_m or {}).get("feed") not in {page["feed"], *worklist.CASE_FEEDS}:
                return (no_update,) * 4  # another feed's change (its alerts reach the ticker alone)
            view = self.view(page["feed"])
            view.code = page["code"]
            kpi = kpi if isinstance(kpi, str) and kpi in view.kpis else view.default_kpi()
            window = window if isinstance(window, str) and window in theme.WINDOW_LABELS else DEFAULT_WINDOW
            sort = sort if isinstance(sort, str) and sort in SORTS else "best"
            search = search if isinstance(search, str) else ""
            case_filter = case_filter if isinstance(case_filter, str) else ""
            view.audit_cases()
            return (
                view.tiles(window, view.code),
                view.district_map(kpi, window),
                view.commune_table(kpi, window, search or "", sort),
                view.case_lists(case_filter or ""),
            )

        # Every choice goes into the address bar (replaceState: no reload, no new history entry).
        app.clientside_callback(
            """function (kpi, window_, q, sort, f, page) {
                const params = new URLSearchParams();
                if (page.feed !== "public_services") params.set("feed", page.feed);
                params.set("kpi", kpi); params.set("window", window_);
                if (q) params.set("q", q);
                if (sort !== "best") params.set("sort", sort);
                if (f) params.set("f", f);
                history.replaceState(null, "", `/district/${page.code}?${params.toString()}`);
                return window.dash_clientside.no_update;
            }""",
            Output(ids.D_PAGE, "data"),
            Input(ids.D_KPI, "value"),
            Input(ids.D_WINDOW, "value"),
            Input(ids.D_SEARCH, "value"),
            Input(ids.D_SORT, "value"),
            Input(ids.D_CASE_FILTER, "value"),
            State(ids.D_PAGE, "data"),
            prevent_initial_call=True,
        )
        # A click on a neighbour opens its room, with the same feed.
        app.clientside_callback(
            "function (click, page) { return window.ioc_rt.openDistrict(click, page.feed, 0); }",
            Output(ids.D_PAGE, "data", allow_duplicate=True),
            Input(ids.D_MAP, "clickData"),
            State(ids.D_PAGE, "data"),
            prevent_initial_call=True,
        )


def search_box(component_id: str, value: str, placeholder: str) -> dcc.Input:
    """A search field answered a moment after typing stops (searched without diacritics)."""
    return dcc.Input(
        id=component_id, value=value, type="search", placeholder=placeholder, debounce=0.3, className="search"
    )
