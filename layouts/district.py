"""The rooms below the province: a district's (``/district/<code>``, before 2025) or an area's
(``/area/<code>``, the 2025 scheme), the duty officer's page, and what they share with a commune's
room (``layouts/commune.py``).

The district's or area's tiles for the chosen feed, the unit on the map among its greyed
neighbours (its communes coloured where their polygons, or the schematic tiles of the 2025
communes, are there), its communes ranked (each opening its room), and the work list: every
overdue dossier and field report, newest breach first. Every state (feed, KPI, window, commune
search and order, case filter) is in the URL, so a link shows what its sender saw. A render or a
callback reads each feed it shows once (``UnitRoom.fetch``), then builds.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ioc import keys, login
from ioc.annotations import Annotations
from ioc.cases import cases_field
from ioc.feeds import POINTS_FIELD, FeedSpec
from ioc.geo import Layer
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import figures, ids, past, theme, worklist
from layouts.communes import SORTS, ranked_communes
from layouts.compare import KINDS, Comparison, compare_pick, fetch_comparison
from layouts.downloads import export_links
from layouts.geography import former_district, key_communes, record_keys, room_paths, room_prefix
from layouts.i18n import N_, _
from layouts.live import Live, fresh_badge
from layouts.province import (
    PAST_ALERTS,
    kpi_options,
    province_href,
    room_footer,
    room_header,
    tiles,
    window_options,
)
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
# unit and feed this often, not one a second.
CASES_AUDIT_REPEAT_S = 300
PAST_CASES = N_("Danh sách việc quá hạn chỉ có khi xem trực tiếp: lịch sử lưu các chỉ số.")
# What an address of a room names when its code is not a unit of that level, by level (a
# commune of the 2025 scheme: "commune2025", there is no thị trấn after 1 July 2025).
NO_SUCH_UNIT = {
    "district": N_("Không có huyện, thị xã, thành phố mã {code} trong bảng đơn vị."),
    "area": N_("Không có khu vực mã {code} trong bảng đơn vị."),
    "commune": N_("Không có xã, phường, thị trấn mã {code} trong bảng đơn vị."),
    "commune2025": N_("Không có xã, phường mã {code} trong bảng đơn vị."),
}
NEIGHBOUR_HINTS = {"district": N_("Bấm để mở phòng huyện"), "area": N_("Bấm để mở phòng khu vực")}


@dataclass(frozen=True)
class RoomRead:
    """What one request read for a unit's room: the shown feed, and each work list's feed (its
    meta and the unit's case list; the shown feed's own read when it has one)."""

    code: str
    view: FeedView
    cases: dict[str, RoomData]
    comparison: Comparison | None = None  # the figures a week or a year earlier


@dataclass(frozen=True)
class Choice:
    """The person's choices, as the address or the page's controls give them (checked)."""

    kpi: str
    window: str
    search: str
    sort: str
    case_filter: str
    viewing: past.Viewing = past.LIVE  # the instant shown: now, or one in the past
    compare: str = ""  # "week", "year": beside the same window then


@dataclass(frozen=True)
class RoomIds:
    """The component ids of one kind of room (each its own, so a room's callbacks never fire on
    another's components)."""

    page: str  # store: {"feed", "code", "path", "at"}
    tiles: str
    kpi: str
    window: str
    map: str
    case_filter: str
    cases: str
    message: str  # the store pushed messages land in
    compare: str  # the comparison's choice


@dataclass
class UnitRoom(ABC):
    """A room of one unit below the province: the unit and every choice come with each request
    (the address, or the page's state in a callback). What the district or area room and the
    commune room share: the checks, the reads, the map, the work lists and their audit.
    ``communes``: the commune layer (installed polygons, or the 2025 communes' schematic tiles)."""

    reader: SnapshotReader
    units: UnitTable
    layer: Layer
    specs: dict[str, FeedSpec]
    geojson_url: str
    live: Live
    goals: Goals
    communes: Layer | None = None
    communes_url: str = ""
    marks: Annotations | None = None  # holidays, outages and events on the series
    # unit -> the record keys counted in it (the cases and open reports that are its own)
    keys: dict[str, frozenset[str]] = field(init=False, repr=False)
    paths: dict[str, str] = field(init=False, repr=False)  # unit -> its room's address
    key_rooms: dict[str, str] = field(init=False, repr=False)  # record key -> its commune's room
    neighbours: str = field(init=False, repr=False)  # the rooms of the layer's units ("/area/"), or ""

    IDS: ClassVar[RoomIds]
    # The person's choices: their name in the address, the value the address leaves out (None:
    # always written) and the component that makes them, in the order the callbacks take them.
    CHOICES: ClassVar[tuple[tuple[str, str | None, str], ...]]
    SIDE: ClassVar[tuple[str, str]]  # what a callback redraws beside the map (id, property)

    def __post_init__(self) -> None:
        self.keys = record_keys(self.units)
        self.paths = room_paths(self.units)
        self.key_rooms = {key: self.paths[c] for key, c in key_communes(self.units, self.keys).items()}
        self.neighbours = room_prefix(self.units, self.layer.codes)

    @property
    @abstractmethod
    def level(self) -> str:
        """The level of the units this room shows."""

    @abstractmethod
    def fetch(self, spec: FeedSpec, code: str, window: str, at: datetime | None = None) -> RoomRead:
        """What the room shows of ``spec``'s feed for unit ``code``, read at once (as known at
        ``at``, when given)."""

    @abstractmethod
    def side(self, room: RoomRead, choice: Choice) -> list[Any]:
        """What the room shows beside its map."""

    @abstractmethod
    def room_map(self, room: RoomRead, path: str, window: str) -> dict[str, Any]:
        """The room's map, coloured by the KPI at ``path`` over ``window``."""

    def map_notes(self, room: RoomRead) -> list[Any]:
        """What the room says under its map."""
        return []

    @abstractmethod
    def alert_units(self, code: str) -> list[str]:
        """The units whose alerts the room's ticker shows (with the province-wide ones)."""

    @abstractmethod
    def live_units(self, code: str) -> list[str]:
        """The units whose pushed changes make the room re-read."""

    def render(self, room: RoomRead, choice: Choice) -> html.Div:
        code, feed = room.code, room.view.spec.name
        viewing = choice.viewing
        return html.Div(
            className=f"room district-room {self.level}-room{'' if viewing.live else ' in-past'}",
            children=[
                self._header(room.view.spec, self.paths[code], self.breadcrumb(feed, code), viewing),
                *past.banner(viewing, room.view.data.meta, self.paths[code] + feed_query(feed)),
                html.Main(
                    className="room-grid district-grid",
                    children=[
                        html.Section(
                            [
                                fresh_badge(feed),
                                html.Div(
                                    tiles(room.view, code, choice.window, room.comparison), id=self.IDS.tiles
                                ),
                            ],
                            className="tiles",
                        ),
                        html.Section(self.map_panel(room, choice), className="map-panel"),
                        html.Aside(self.side(room, choice), className="side"),
                        self.alert_ticker([self.units.province, *self.alert_units(code)], viewing),
                        html.Section(self.cases_panel(room, choice), className="cases-panel"),
                    ],
                ),
                room_footer(feed),
                *(
                    self.live.elements(
                        feeds=list(self.specs),  # the case lists' feeds, and every feed's alerts
                        units=self.live_units(code),
                        series=[],
                        store=self.IDS.message,
                        served=True,  # each message starts a request: handed over one at a time
                    )
                    if viewing.live
                    else [dcc.Store(id=self.IDS.message)]  # no pushes: the room's callback needs it
                ),
                self.page_store(room, viewing),
            ],
        )

    def map_panel(self, room: RoomRead, choice: Choice) -> list[Any]:
        return [
            self.map_controls(room.view, choice),
            dcc.Graph(
                id=self.IDS.map,
                figure=self.room_map(room, choice.kpi, choice.window),
                config={"displayModeBar": False, "scrollZoom": True},
                className="map",
            ),
            *self.map_notes(room),
        ]

    def layout(
        self,
        path_level: str,
        /,
        code: str = "",
        feed: str = DEFAULT_FEED,
        kpi: str = "",
        window: str = DEFAULT_WINDOW,
        q: str = "",
        sort: str = "best",
        f: str = "",
        at: str | None = None,
        compare: str = "",
        **_query: Any,
    ) -> html.Div:
        """The room at ``/<path_level>/<code>``: a unit of this room's level inside the person's
        scope, else a page that says why not (another scheme's address, an unknown code, a unit
        outside the scope)."""
        spec = feed_spec(self.specs, feed)
        if path_level != self.level or code not in self.units.level_codes(self.level):
            return self._unknown(spec, path_level, code)
        if not login.user().sees_cases(code, self.units):  # an officer of another unit
            login.audit_view(
                "refused", path=f"/{path_level}/{code}", reason=f"{self.level} room outside the scope"
            )
            return self._unknown(spec, path_level, code, refused=True)
        login.audit_view(f"{self.level}_room", unit=code, feed=feed)
        window = window if window in theme.WINDOW_LABELS else DEFAULT_WINDOW
        viewing = past.Viewing.of(at)
        room = self.fetch(spec, code, window, viewing.at)
        past.use(viewing, room.view.data.meta)
        sort = sort if sort in SORTS else "best"
        choice = Choice(room.view.pick(kpi), window, q, sort, f, viewing, compare if compare in KINDS else "")
        return self.render(self.compared(room, choice), choice)

    # ---- reads -----------------------------------------------------------------------------

    @property
    def case_feeds(self) -> list[str]:
        return [f for f in worklist.CASE_FEEDS if f in self.specs]

    def listed(self, code: str) -> str:
        """The unit whose case list holds ``code``'s cases: its own, a commune's its parent's
        (the lists are kept per unit above the communes)."""
        return (self.units.parent(code) or code) if self.units.level(code) == "commune" else code

    def case_fields(self, spec: FeedSpec, code: str) -> list[str]:
        """The shown feed's case list for ``code``, read with its figures (when it has one)."""
        return [cases_field(self.listed(code))] if spec.name in self.case_feeds else []

    def read(self, spec: FeedSpec, code: str, data: RoomData, *, in_past: bool = False) -> RoomRead:
        """The room's read: the shown feed's ``data``, and the other work lists' feeds read once
        each; every list narrowed to ``code``'s own cases."""
        others = (
            worklist.fetch_cases(
                self.reader, [f for f in self.case_feeds if f != spec.name], self.listed(code)
            )
            if not in_past
            else {}  # the history keeps no case lists
        )
        cases = {feed: self.own_cases(found, code) for feed, found in {spec.name: data, **others}.items()}
        return RoomRead(code, FeedView.of(spec, data, self.goals), cases)

    def own_cases(self, data: RoomData, code: str) -> RoomData:
        """``data`` with ``code``'s case list: a commune's are those of its parent's list whose
        record keys count in it."""
        listed = self.listed(code)
        found = data.extras.get(cases_field(listed))
        if listed == code or found is None:
            return data
        mine = [case for case in found if case["unit_code"] in self.keys.get(code, frozenset())]
        return replace(data, extras={**data.extras, cases_field(code): mine})

    def focus(self, code: str) -> tuple[list[str], str]:
        """The units a map of ``code`` colours, and their boundaries: its communes on the commune
        layer when there is one, else the unit itself."""
        if self.communes is not None:
            inside = set(self.units.communes_of(code))
            return [c for c in self.communes.codes if c in inside], self.communes_url
        return [code], self.geojson_url

    # ---- builders: what was read -> components ----------------------------------------------

    def unit_map(self, room: RoomRead, path: str, window: str, unit: str) -> dict[str, Any]:
        """``unit`` (the room's own, or a commune's area) coloured by the KPI (its communes, where
        the commune layer has them: those whose figures were read), the room's open reports (a
        feed with points) on top, the other units of the layer grey and clickable."""
        kpi = room.view.kpis[path]
        codes, url = self.focus(unit)
        names = self.units.names()
        points = None
        if room.view.spec.has_points:
            inside = self.keys.get(room.code, frozenset())
            found = room.view.data.extras.get(POINTS_FIELD) or []
            points = [p for p in found if p.get("unit_code") in inside]
        bounded = self._bounded(unit, codes if url == self.communes_url else [])
        figure = figures.district_map(
            geojson_url=self.geojson_url,
            layer=bounded,
            code=unit,
            names=self.layer.names | names,
            focus=figures.choropleth(
                geojson_url=url,
                codes=codes,
                names=[names[c] for c in codes],
                values=room.view.data.values(kpi, codes, window),
                kpi=kpi,
                goal=room.view.goal(path, unit),
            ),
            points=points,
            width_px=MAP_WIDTH_PX,
        )
        if url == self.communes_url and self.communes is not None and self.communes.schematic:
            # Tiles are not where the communes lie: no real boundaries beside them, names on them.
            figure["data"][0] |= {"locations": [], "z": [], "customdata": [], "hoverinfo": "skip"}
            figure["data"][0].pop("hovertemplate", None)
            zoom = figures.district_zoom(bounded.feature_bounds[unit], MAP_WIDTH_PX)
            figures.schematic(figure, self.communes, zoom, codes=codes)
            return figure
        level = self.neighbours.strip("/")  # the grey units open their rooms: say which
        hint = f"<br>{_(NEIGHBOUR_HINTS[level])}" if level in NEIGHBOUR_HINTS else ""
        figure["data"][0]["hovertemplate"] = f"<b>%{{customdata[0]}}</b>{hint}<extra></extra>"
        return figure

    def _bounded(self, unit: str, communes: list[str]) -> Layer:
        """The layer, with the box the map zooms to for ``unit``: its ``communes``' (polygons or
        tiles) when it has them on the commune layer, else its own polygon's, else the layer's."""
        boxes = [self.communes.feature_bounds[c] for c in communes] if self.communes else []
        if boxes:
            box = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
        elif unit in self.layer.feature_bounds:
            return self.layer
        else:
            box = self.layer.bounds
        return replace(self.layer, feature_bounds={**self.layer.feature_bounds, unit: box})

    def map_rooms(self) -> dict[int, str]:
        """Where a click on the map goes, by trace: the grey neighbours to their rooms, the
        coloured communes (on the commune layer) to theirs."""
        return {0: self.neighbours, 1: "/commune/" if self.communes else ""}

    def map_controls(self, view: FeedView, choice: Choice) -> html.Div:
        return html.Div(
            [
                dcc.Dropdown(
                    kpi_options(view), choice.kpi, id=self.IDS.kpi, clearable=False, className="kpi-pick"
                ),
                dcc.RadioItems(
                    window_options(), choice.window, id=self.IDS.window, inline=True, className="window-pick"
                ),
                compare_pick(self.IDS.compare, choice.compare),
                fresh_badge(view.spec.name),
            ],
            className="map-controls",
        )

    def compared(self, room: RoomRead, choice: Choice) -> RoomRead:
        """``room`` with the same documents a week or a year before its figures (``choice``)."""
        meta = room.view.data.meta or {}
        found = fetch_comparison(
            self.reader, room.view.spec.name, choice.compare, meta.get("as_of"), [*room.view.data.docs]
        )
        return replace(room, comparison=found)

    def cases_panel(self, room: RoomRead, choice: Choice) -> list[Any]:
        hint = _("Lọc theo mã, thủ tục, lĩnh vực, xã (không dấu được)")
        if not choice.viewing.live:  # the history keeps figures, not case lists
            return [
                html.Div(html.H2(_("Việc cần xử lý: hồ sơ và phản ánh quá hạn")), className="cases-head"),
                html.P(_(PAST_CASES), className="muted"),
                html.Div(  # the room's callback takes the filter and draws here: kept, unseen
                    [search_box(self.IDS.case_filter, choice.case_filter, hint), html.Div(id=self.IDS.cases)],
                    hidden=True,
                ),
            ]
        return [
            html.Div(
                [
                    html.H2(_("Việc cần xử lý: hồ sơ và phản ánh quá hạn")),
                    search_box(self.IDS.case_filter, choice.case_filter, hint),
                ],
                className="cases-head",
            ),
            html.Div(self.case_lists(room, choice.case_filter), id=self.IDS.cases, className="cases-lists"),
        ]

    def case_lists(self, room: RoomRead, case_filter: str) -> list[Any]:
        return worklist.case_lists(
            room.cases, room.code, self.units.key_names, case_filter, rooms=self.key_rooms
        )

    def alert_ticker(self, units: list[str], viewing: past.Viewing) -> html.Section:
        """The alerts of these units (and the province-wide ones), as realtime.js pushes them."""
        if not viewing.live:
            return html.Section(html.P(_(PAST_ALERTS), className="muted small"), className="district-alerts")
        return html.Section(
            [
                html.Div(
                    className="alert-ticker",
                    id=ids.ALERTS,
                    **ids.DataAttrs({"data-units": " ".join(units)}),
                ),
                export_links("alerts"),
            ],
            className="district-alerts",
        )

    def page_store(self, room: RoomRead, viewing: past.Viewing) -> dcc.Store:
        path = self.paths[room.code]
        data = {"feed": room.view.spec.name, "code": room.code, "path": path, "at": viewing.text}
        return dcc.Store(id=self.IDS.page, data=data)

    def breadcrumb(self, feed: str, code: str) -> html.Nav:
        """Province › (the area or district, for a commune: a link where this person may open
        its room) › the unit."""
        names = self.units.names()
        above = [u for u in [self.units.parent(code)] if u and u != self.units.province]
        links: list[Any] = [dcc.Link(names[self.units.province], href=province_href(feed), refresh=True)]
        for unit in above:
            opens = login.user().sees_cases(unit, self.units)
            href = self.paths[unit] + feed_query(feed)
            links += [
                html.Span(" › "),
                dcc.Link(names[unit], href=href, refresh=True) if opens else html.Span(names[unit]),
            ]
        return html.Nav(
            className="breadcrumb",
            children=[*links, html.Span(" › "), html.Span(names[code], className="here")],
        )

    def _header(self, spec: FeedSpec, path: str, title: Any, viewing: past.Viewing) -> html.Header:
        return room_header(
            self.specs, spec.name, lambda feed: f"{path}{feed_query(feed)}", title, path=path, viewing=viewing
        )

    def _unknown(self, spec: FeedSpec, path_level: str, code: str, *, refused: bool = False) -> html.Div:
        """Why there is no room here: outside the person's scope (with their own rooms), an
        address of the other scheme (with this scheme's room of the code, if any), or no such
        unit."""
        names = self.units.names()
        rooms: list[str] = []
        if refused:
            title = _("NGOÀI PHẠM VI ĐƯỢC GIAO")
            text = _("Tài khoản trực ban của bạn chỉ xem được {units}.").format(
                units=", ".join(names.get(u, u) for u in login.user().units)
            )
            rooms = [u for u in login.user().units if u in self.paths]
        elif path_level == "district" and self.units.middle == "area":
            title = _("KHÔNG CÓ ĐƠN VỊ NÀY")
            text = _("Từ 01/7/2025 không còn cấp huyện: số liệu theo khu vực (huyện cũ) và từng xã, phường.")
            rooms = [code] if self.units.level(code) == "area" else []
        elif path_level == "area" and self.units.middle == "district":
            title = _("KHÔNG CÓ ĐƠN VỊ NÀY")
            text = _(
                "Khu vực chỉ có ở bảng đơn vị 2025; bảng đơn vị đang dùng (trước 01/7/2025) chia theo huyện."
            )
            rooms = [code] if self.units.level(code) == "district" else []
        else:
            title = _("KHÔNG CÓ ĐƠN VỊ NÀY")
            said = (
                f"{path_level}2025"
                if f"{path_level}2025" in NO_SUCH_UNIT and self.units.scheme == "2025"
                else path_level
            )
            text = _(NO_SUCH_UNIT[said]).format(code=repr(code))
        links = [html.Li(html.A(names[u], href=self.paths[u] + feed_query(spec.name))) for u in rooms]
        return html.Div(
            className="room",
            children=[
                self._header(spec, f"/{path_level}/{code}", title, past.LIVE),
                html.Main(
                    className="health-main refused" if refused else "health-main",
                    children=[
                        html.P(text),
                        *([html.Ul(links, className="room-links")] if links else []),
                        html.A(_("‹ Về trang tỉnh"), href="/", className="back"),
                    ],
                ),
            ],
        )

    # ---- callbacks ---------------------------------------------------------------------------

    def wanted(self, page: Any, message: Any) -> tuple[str, FeedSpec] | None:
        """The room a callback re-reads: the page's unit and feed (the page's state is the
        browser's: a made-up one, or a unit outside the scope, gets nothing), or None when a
        pushed change is another feed's (its alerts reach the ticker alone)."""
        page = page if isinstance(page, dict) else {}
        code, feed = page.get("code"), page.get("feed")
        if (
            not isinstance(code, str)
            or not isinstance(feed, str)
            or code not in self.units.level_codes(self.level)
            or feed not in self.specs
        ):
            raise PreventUpdate
        if not login.user().sees_cases(code, self.units):
            login.audit_view(
                "refused", unit=code[:20], reason=f"{self.level} room callback outside the scope"
            )
            raise PreventUpdate
        if ctx.triggered_id == self.IDS.message and not pushed_feeds(message) & {feed, *worklist.CASE_FEEDS}:
            return None
        self.audit_cases(code)
        return code, self.specs[feed]

    def reread(self, page: Any, message: Any, chosen: dict[str, Any]) -> tuple[RoomRead, Choice] | None:
        """What a callback redraws: the room read again with the choices the browser sent (by
        their names in the address; a forged one gets the default), or None (see :meth:`wanted`)."""
        found = self.wanted(page, message)
        if found is None:
            return None
        code, spec = found
        window = chosen.get("window")
        window = window if isinstance(window, str) and window in theme.WINDOW_LABELS else DEFAULT_WINDOW
        viewing = past.Viewing.of((page if isinstance(page, dict) else {}).get("at"))
        room = self.fetch(spec, code, window, viewing.at)
        past.use(viewing, room.view.data.meta)
        search, sort, case_filter, compare = (chosen.get(k, "") for k in ("q", "sort", "f", "compare"))
        choice = Choice(
            room.view.pick(chosen.get("kpi")),
            window,
            search if isinstance(search, str) else "",
            sort if isinstance(sort, str) and sort in SORTS else "best",
            case_filter if isinstance(case_filter, str) else "",
            viewing,
            compare if isinstance(compare, str) and compare in KINDS else "",
        )
        return self.compared(room, choice), choice

    @abstractmethod
    def side_update(self, room: RoomRead, choice: Choice) -> Any:
        """What a callback redraws beside the map (``SIDE``)."""

    def register(self, app: Dash) -> None:
        """The room's callback: a choice or a pushed change re-reads the unit (one read per
        feed shown) and redraws tiles, map, what is beside the map and the work lists; every
        choice goes into the address; a click on the map opens a room."""
        names = [name for name, _left, _component in self.CHOICES]

        @app.callback(
            Output(self.IDS.tiles, "children"),
            Output(self.IDS.map, "figure"),
            Output(*self.SIDE),
            Output(self.IDS.cases, "children"),
            *(Input(component, "value") for _name, _left, component in self.CHOICES),
            Input(self.IDS.message, "data"),
            State(self.IDS.page, "data"),
            prevent_initial_call=True,
        )
        def refresh(*values: Any) -> tuple[Any, ...]:
            *chosen, message, page = values
            found = self.reread(page, message, dict(zip(names, chosen, strict=True)))
            if found is None:
                return (no_update,) * 4
            room, choice = found
            return (
                tiles(room.view, room.code, choice.window, room.comparison),
                self.room_map(room, choice.kpi, choice.window),
                self.side_update(room, choice),
                self.case_lists(room, choice.case_filter),
            )

        self.register_address(app)

    def audit_cases(self, code: str) -> None:
        """The callback's work lists are case-level reads, recorded as the API's are ("cases");
        a page's repeated re-reads once per ``CASES_AUDIT_REPEAT_S``."""
        who = login.user().login
        for feed in self.case_feeds:
            repeat = keys.audit_repeat("cases", who, code, feed)
            if self.reader.client.set(repeat, 1, nx=True, ex=CASES_AUDIT_REPEAT_S):
                login.audit_view("cases", feed=feed, unit=code, view="room")

    def register_address(self, app: Dash) -> None:
        """Every choice goes into the address bar (replaceState: no reload, no new history
        entry), and a click on the map opens the room of what was clicked, with the same feed."""
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            address_js(tuple((name, left) for name, left, _component in self.CHOICES)),
            Output(self.IDS.page, "data"),
            *(Input(component, "value") for _name, _left, component in self.CHOICES),
            State(self.IDS.page, "data"),
            prevent_initial_call=True,
        )
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            "function (click, page) { return window.ioc_rt.openRoom(click, page.feed, ROOMS); }".replace(
                "ROOMS", json.dumps(self.map_rooms())
            ),
            Output(self.IDS.page, "data", allow_duplicate=True),
            Input(self.IDS.map, "clickData"),
            State(self.IDS.page, "data"),
            prevent_initial_call=True,
        )


@dataclass
class DistrictPage(UnitRoom):
    """A district's room (before 2025) or an area's (2025): ``units.middle`` says which."""

    IDS: ClassVar[RoomIds] = RoomIds(
        ids.D_PAGE,
        ids.D_TILES,
        ids.D_KPI,
        ids.D_WINDOW,
        ids.D_MAP,
        ids.D_CASE_FILTER,
        ids.D_CASES,
        ids.RT_DISTRICT,
        ids.D_COMPARE,
    )
    CHOICES: ClassVar[tuple[tuple[str, str | None, str], ...]] = (
        ("kpi", None, ids.D_KPI),
        ("window", None, ids.D_WINDOW),
        ("q", "", ids.D_SEARCH),
        ("sort", "best", ids.D_SORT),
        ("f", "", ids.D_CASE_FILTER),
        ("compare", "", ids.D_COMPARE),
    )
    SIDE: ClassVar[tuple[str, str]] = (ids.D_COMMUNES, "children")

    @property
    def level(self) -> str:
        return self.units.middle

    def fetch(self, spec: FeedSpec, code: str, window: str, at: datetime | None = None) -> RoomRead:
        """Everything the room draws, one read per feed: the shown feed's documents (the
        province's for its KPIs, the unit's, its communes'), its communes' series and open
        reports, and each work list's case list of the unit."""
        children = self.units.children(code)
        data = fetch_room(
            self.reader,
            spec.name,
            docs=[
                (self.units.province, DEFAULT_WINDOW),
                *((u, window) for u in [code, *self.focus(code)[0], *children]),
            ],
            series=children,
            extras=[*([POINTS_FIELD] if spec.has_points else []), *self.case_fields(spec, code)],
            at=at,
        )
        return self.read(spec, code, data, in_past=at is not None)

    def alert_units(self, code: str) -> list[str]:
        return [code, *self.units.children(code)]  # this unit's and its communes'

    def live_units(self, code: str) -> list[str]:
        return [code, *self.units.children(code)]

    def side(self, room: RoomRead, choice: Choice) -> list[Any]:
        """Its communes ranked, and which of them took old units of another former district."""
        sorts = [{"label": _(v), "value": k} for k, v in SORTS.items()]
        controls = [
            search_box(ids.D_SEARCH, choice.search, _("Tìm xã, phường (không dấu được)")),
            dcc.Dropdown(
                sorts, choice.sort, id=ids.D_SORT, clearable=False, searchable=False, className="sort-pick"
            ),
        ]
        heading = (
            _("Xã, phường của {name}")
            if self.units.scheme == "2025"
            else _("Xã, phường, thị trấn của {name}")
        )
        return [
            html.H2(heading.format(name=self.units.names()[room.code])),
            html.Div(controls, className="commune-controls"),
            fresh_badge(room.view.spec.name),
            html.Div(self.communes_with_links(room, choice), id=ids.D_COMMUNES),
            *split_note(self.units, self.units.children(room.code)),
        ]

    def room_map(self, room: RoomRead, path: str, window: str) -> dict[str, Any]:
        return self.unit_map(room, path, window, room.code)

    def side_update(self, room: RoomRead, choice: Choice) -> Any:
        return self.communes_with_links(room, choice)

    def communes_with_links(self, room: RoomRead, choice: Choice) -> list[Any]:
        """The communes ranked, and the links that download the same rows."""
        links = export_links(
            "ranking",
            feed=room.view.spec.name,
            unit=room.code,
            kpi=choice.kpi,
            window=choice.window,
            q=choice.search,
            sort=choice.sort,
            at=choice.viewing.text or "",
        )
        return [links, self.commune_table(room, choice)]

    def commune_table(self, room: RoomRead, choice: Choice) -> html.Table:
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
            comparison=room.comparison,
        )


def pushed_feeds(message: Any) -> set[str]:
    """The feeds a pushed message stands for: its own, or those of the messages it replaced while
    the page waited for an answer (``for_feeds``, realtime.js)."""
    message = message if isinstance(message, dict) else {}
    feeds = message.get("for_feeds")
    named = feeds if isinstance(feeds, list) else [message.get("feed")]
    return {f for f in named if isinstance(f, str)}


def split_note(units: UnitTable, communes: list[str]) -> list[html.Ul]:
    """Which of ``communes`` also took old units from another former district than their area's
    (the default areas, 2025): "Xã Tân Phú cũng gồm một phần Huyện Tân Châu cũ."."""
    names = units.names()
    lines = [
        _("{commune} cũng gồm một phần {district} cũ.").format(
            commune=names[c], district=former_district(units, a)
        )
        for c in communes
        for a in units.split_areas.get(c, [])
    ]
    return [html.Ul([html.Li(line) for line in lines], className="split-note")] if lines else []


def address_js(params: tuple[tuple[str, str | None], ...]) -> str:
    """The browser's function that writes a room's choices into its address: one argument per
    ``params`` (its name in the address, and the value left out of it; None: always written),
    then the page's store (its feed and path)."""
    return """function (...args) {
                const page = args[args.length - 1];
                const params = new URLSearchParams();
                if (page.feed !== DEFAULT_FEED) params.set("feed", page.feed);
                PARAMS.forEach(([name, left], i) => {
                    if (args[i] && args[i] !== left) params.set(name, args[i]);
                });
                history.replaceState(null, "", `${page.path}?${params.toString()}`);
                return window.dash_clientside.no_update;
            }""".replace("DEFAULT_FEED", json.dumps(DEFAULT_FEED)).replace("PARAMS", json.dumps(params))


def search_box(component_id: str, value: str, placeholder: str) -> dcc.Input:
    """A search field answered a moment after typing stops (searched without diacritics)."""
    return dcc.Input(
        id=component_id, value=value, type="search", placeholder=placeholder, debounce=0.3, className="search"
    )
