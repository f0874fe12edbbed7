"""The district room (``/district/<code>``): the duty officer's page.

The district's tiles for the chosen feed, the district on the map among its greyed neighbours
(its communes coloured when a commune boundary file is installed), its communes ranked, and the
work list: every overdue dossier and field report, newest breach first. Every state (feed, KPI,
window, commune search and order, case filter) is in the URL, so a link shows what its sender saw.
A render or a callback reads each feed it shows once (``DistrictPage.fetch``), then builds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ioc import keys, login
from ioc.cases import cases_field
from ioc.feeds import POINTS_FIELD, FeedSpec
from ioc.geo import Layer
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import figures, ids, theme, worklist
from layouts.communes import SORTS, ranked_communes
from layouts.i18n import _
from layouts.live import Live, fresh_badge
from layouts.province import kpi_options, province_href, room_footer, room_header, tiles, window_options
from layouts.room_data import (
    DEFAULT_FEED,
    DEFAULT_WINDOW,
    FeedView,
    RoomData,
    feed_query,
    feed_spec,
    fetch_room,
)

MAP_WIDTH_PX = 640  # what the zoom is fitted to
# The room's callback re-reads the work lists at every pushed change: one audit entry per person,
# district and feed this often, not one a second.
CASES_AUDIT_REPEAT_S = 300


@dataclass(frozen=True)
class DistrictData:
    """What one request read for a district's room: the shown feed, and each work list's feed
    (its meta and the district's case list; the shown feed's own read when it has one)."""

    code: str
    view: FeedView
    cases: dict[str, RoomData]


@dataclass(frozen=True)
class Choice:
    """The person's choices, as the address or the page's controls give them (checked)."""

    kpi: str
    window: str
    search: str
    sort: str
    case_filter: str


@dataclass
class DistrictPage:
    """One district's room: the district and every choice come with each request (the address,
    or the page's state in a callback); ``register`` wires its callbacks to an app."""

    reader: SnapshotReader
    units: UnitTable
    layer: Layer
    specs: dict[str, FeedSpec]
    geojson_url: str
    live: Live
    goals: Goals
    communes: Layer | None = None
    communes_url: str = ""

    def layout(
        self,
        code: str = "",
        feed: str = DEFAULT_FEED,
        kpi: str = "",
        window: str = DEFAULT_WINDOW,
        q: str = "",
        sort: str = "best",
        f: str = "",
        **_query: Any,
    ) -> html.Div:
        spec = feed_spec(self.specs, feed)
        if code not in self.units.level_codes("district"):
            return self._unknown(spec, code)
        if not login.user().sees_cases(code, self.units):  # an officer of another district
            login.audit_view("refused", path=f"/district/{code}", reason="district room outside the scope")
            return self._unknown(spec, code, refused=True)
        login.audit_view("district_room", unit=code, feed=feed)
        window = window if window in theme.WINDOW_LABELS else DEFAULT_WINDOW
        room = self.fetch(spec, code, window)
        sort = sort if sort in SORTS else "best"
        return self.render(room, Choice(room.view.pick(kpi), window, q, sort, f))

    def fetch(self, spec: FeedSpec, code: str, window: str) -> DistrictData:
        """Everything the room draws, one read per feed: the shown feed's documents (the
        province's for its KPIs, the district's, its communes'), its communes' series and open
        reports, and each work list's case list of the district."""
        province = self.units.province
        children = self.units.children(code)
        case_feeds = [f for f in worklist.CASE_FEEDS if f in self.specs]
        cases = [cases_field(code)] if spec.name in case_feeds else []
        data = fetch_room(
            self.reader,
            spec.name,
            docs=[
                (province, DEFAULT_WINDOW),
                *((u, window) for u in [code, *self.focus(code)[0], *children]),
            ],
            series=children,
            extras=[*([POINTS_FIELD] if spec.has_points else []), *cases],
        )
        others = worklist.fetch_cases(self.reader, [f for f in case_feeds if f != spec.name], code)
        return DistrictData(code, FeedView.of(spec, data, self.goals), {spec.name: data, **others})

    def focus(self, code: str) -> tuple[list[str], str]:
        """The units the district's map colours, and their boundaries: its communes when their
        polygons are installed, else the district itself."""
        if self.communes is not None:
            return [c for c in self.communes.codes if self.units.parent(c) == code], self.communes_url
        return [code], self.geojson_url

    def _unknown(self, spec: FeedSpec, code: str, *, refused: bool = False) -> html.Div:
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
                self._header(spec, code, title),
                html.Main(
                    className="health-main refused" if refused else "health-main",
                    children=[
                        html.P(text),
                        html.A(_("‹ Về trang tỉnh"), href="/", className="back"),
                    ],
                ),
            ],
        )

    def _header(self, spec: FeedSpec, code: str, title: Any) -> html.Header:
        return room_header(self.specs, spec.name, lambda feed: f"/district/{code}{feed_query(feed)}", title)

    # ---- builders: what was read -> components -----------------------------------------------

    def render(self, room: DistrictData, choice: Choice) -> html.Div:
        names = self.units.names()
        code, feed = room.code, room.view.spec.name
        breadcrumb = html.Nav(
            className="breadcrumb",
            children=[
                dcc.Link(names[self.units.province], href=province_href(feed), refresh=True),
                html.Span(" › "),
                html.Span(names[code], className="here"),
            ],
        )
        # this district's, its communes' and the province's alerts only
        units = " ".join([self.units.province, code, *self.units.children(code)])
        return html.Div(
            className="room district-room",
            children=[
                self._header(room.view.spec, code, breadcrumb),
                html.Main(
                    className="room-grid district-grid",
                    children=[
                        html.Section(
                            [
                                fresh_badge(feed),
                                html.Div(tiles(room.view, code, choice.window), id=ids.D_TILES),
                            ],
                            className="tiles",
                        ),
                        html.Section(self._map_panel(room, choice), className="map-panel"),
                        html.Aside(self._communes_panel(room, choice), className="side"),
                        html.Section(
                            [
                                html.Div(
                                    className="alert-ticker",
                                    id=ids.ALERTS,
                                    **ids.DataAttrs({"data-units": units}),
                                )
                            ],
                            className="district-alerts",
                        ),
                        html.Section(self._cases_panel(room, choice), className="cases-panel"),
                    ],
                ),
                room_footer(feed),
                *self.live.elements(
                    feeds=list(self.specs),  # the case lists' feeds, and every feed's alerts
                    units=[code, *self.units.children(code)],
                    series=[],
                    store=ids.RT_DISTRICT,
                ),
                dcc.Store(id=ids.D_PAGE, data={"feed": feed, "code": code}),
            ],
        )

    def _map_panel(self, room: DistrictData, choice: Choice) -> list[Any]:
        controls = [
            dcc.Dropdown(
                kpi_options(room.view), choice.kpi, id=ids.D_KPI, clearable=False, className="kpi-pick"
            ),
            dcc.RadioItems(
                window_options(), choice.window, id=ids.D_WINDOW, inline=True, className="window-pick"
            ),
            fresh_badge(room.view.spec.name),
        ]
        return [
            html.Div(controls, className="map-controls"),
            dcc.Graph(
                id=ids.D_MAP,
                figure=self.district_map(room, choice.kpi, choice.window),
                config={"displayModeBar": False, "scrollZoom": True},
                className="map",
            ),
        ]

    def _communes_panel(self, room: DistrictData, choice: Choice) -> list[Any]:
        sorts = [{"label": _(v), "value": k} for k, v in SORTS.items()]
        controls = [
            search_box(ids.D_SEARCH, choice.search, _("Tìm xã, phường (không dấu được)")),
            dcc.Dropdown(
                sorts, choice.sort, id=ids.D_SORT, clearable=False, searchable=False, className="sort-pick"
            ),
        ]
        return [
            html.H2(_("Xã, phường, thị trấn của {name}").format(name=self.units.names()[room.code])),
            html.Div(controls, className="commune-controls"),
            fresh_badge(room.view.spec.name),
            html.Div(self.commune_table(room, choice), id=ids.D_COMMUNES),
        ]

    def _cases_panel(self, room: DistrictData, choice: Choice) -> list[Any]:
        hint = _("Lọc theo mã, thủ tục, lĩnh vực, xã (không dấu được)")
        return [
            html.Div(
                [
                    html.H2(_("Việc cần xử lý: hồ sơ và phản ánh quá hạn")),
                    search_box(ids.D_CASE_FILTER, choice.case_filter, hint),
                ],
                className="cases-head",
            ),
            html.Div(self.case_lists(room, choice.case_filter), id=ids.D_CASES, className="cases-lists"),
        ]

    def district_map(self, room: DistrictData, path: str, window: str) -> dict[str, Any]:
        """The district coloured by the KPI (its communes, when their polygons are installed) and
        its open reports (a feed with points), the other districts grey and clickable."""
        kpi = room.view.kpis[path]
        codes, url = self.focus(room.code)
        points = None
        if room.view.spec.has_points:
            inside = set(codes) | {room.code} | set(self.units.children(room.code))
            found = room.view.data.extras.get(POINTS_FIELD) or []
            points = [p for p in found if p.get("unit_code") in inside]
        return figures.district_map(
            geojson_url=self.geojson_url,
            layer=self.layer,
            code=room.code,
            names=self.units.names(),
            focus=figures.choropleth(
                geojson_url=url,
                codes=codes,
                names=[self.units.names()[c] for c in codes],
                values=room.view.data.values(kpi, codes, window),
                kpi=kpi,
                goal=room.view.goal(path, room.code),
            ),
            points=points,
            width_px=MAP_WIDTH_PX,
        )

    def commune_table(self, room: DistrictData, choice: Choice) -> html.Table:
        kpi = room.view.kpis[choice.kpi]
        return ranked_communes(
            room.view.data,
            self.units,
            room.view.spec,
            room.code,
            kpi,
            choice.window,
            choice.search,
            choice.sort,
            goals=self.goals,
        )

    def case_lists(self, room: DistrictData, case_filter: str) -> list[Any]:
        return worklist.case_lists(room.cases, room.code, self.units.names(), case_filter)

    def audit_cases(self, code: str) -> None:
        """The callback's work lists are case-level reads, recorded as the API's are ("cases");
        a page's repeated re-reads once per ``CASES_AUDIT_REPEAT_S``."""
        who = login.user().login
        for feed in [f for f in worklist.CASE_FEEDS if f in self.specs]:
            repeat = keys.audit_repeat("cases", who, code, feed)
            if self.reader.client.set(repeat, 1, nx=True, ex=CASES_AUDIT_REPEAT_S):
                login.audit_view("cases", feed=feed, unit=code, view="room")

    # ---- callbacks ---------------------------------------------------------------------------

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
            """A choice or a pushed change: re-read this district (one read per feed shown)."""
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
            code = page["code"]
            window = window if isinstance(window, str) and window in theme.WINDOW_LABELS else DEFAULT_WINDOW
            sort = sort if isinstance(sort, str) and sort in SORTS else "best"
            search = search if isinstance(search, str) else ""
            case_filter = case_filter if isinstance(case_filter, str) else ""
            self.audit_cases(code)
            room = self.fetch(self.specs[page["feed"]], code, window)
            choice = Choice(room.view.pick(kpi), window, search, sort, case_filter)
            return (
                tiles(room.view, code, window),
                self.district_map(room, choice.kpi, window),
                self.commune_table(room, choice),
                self.case_lists(room, case_filter),
            )

        # Every choice goes into the address bar (replaceState: no reload, no new history entry).
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            ADDRESS_JS.replace("DEFAULT_FEED", json.dumps(DEFAULT_FEED)),
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
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            "function (click, page) { return window.ioc_rt.openDistrict(click, page.feed, 0); }",
            Output(ids.D_PAGE, "data", allow_duplicate=True),
            Input(ids.D_MAP, "clickData"),
            State(ids.D_PAGE, "data"),
            prevent_initial_call=True,
        )


ADDRESS_JS = """function (kpi, window_, q, sort, f, page) {
                const params = new URLSearchParams();
                if (page.feed !== DEFAULT_FEED) params.set("feed", page.feed);
                params.set("kpi", kpi); params.set("window", window_);
                if (q) params.set("q", q);
                if (sort !== "best") params.set("sort", sort);
                if (f) params.set("f", f);
                history.replaceState(null, "", `/district/${page.code}?${params.toString()}`);
                return window.dash_clientside.no_update;
            }"""


def search_box(component_id: str, value: str, placeholder: str) -> dcc.Input:
    """A search field answered a moment after typing stops (searched without diacritics)."""
    return dcc.Input(
        id=component_id, value=value, type="search", placeholder=placeholder, debounce=0.3, className="search"
    )
