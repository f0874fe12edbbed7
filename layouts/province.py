"""The provincial room (``/?feed=<feed>``): one feed's KPI tiles, the district map coloured by the
chosen KPI (field reports also as points and hotspots), the ranking and the hourly series.

A render or a callback reads its feed once (``ProvincePage.fetch``) and builds from what it read;
the header, footer and tiles are builders the district room shares."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlencode

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update

from ioc import login
from ioc.annotations import Annotation, Annotations, lineage
from ioc.feeds import FEED_SPECS, POINTS_FIELD, FeedSpec, SeriesPanel
from ioc.geo import Layer
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import figures, ids, past, theme
from layouts import format as fmt
from layouts.communes import ranking_rows
from layouts.compare import KINDS, Comparison, compare_pick, fetch_comparison
from layouts.downloads import export_links
from layouts.geography import (
    APPROXIMATE_TITLE,
    REFERENCE_NOTE,
    TILES_NOTE,
    approximate_text,
    map_areas,
    province_layer,
    room_paths,
    room_prefix,
)
from layouts.i18n import N_, _, current
from layouts.live import Live, fresh_badge, header_tools, scorecard_link, throttle_js
from layouts.room_data import (
    DEFAULT_FEED,
    DEFAULT_WINDOW,
    NOT_WINDOWED,
    FeedView,
    base_name,
    entry,
    feed_query,
    feed_spec,
    fetch_room,
)

MAP_ZOOM = 8.75  # old Tây Ninh's districts; other maps are fitted to a box of the room's map:
MAP_BOX_PX = (740, 500)  # the map panel of a 1600-px-wide room, less its colour bar and a
# margin (the note that the tiles are a diagram sits in the top one)
COMPARING_JS = "function (m, compare) { return compare ? (THROTTLE)(m) : window.dash_clientside.no_update; }"
PAST_ALERTS = N_("Cảnh báo chỉ hiện khi xem trực tiếp.")
RANKING_TITLES = {"district": N_("Xếp hạng huyện, thị xã, thành phố"), "area": N_("Xếp hạng khu vực")}


@dataclass
class ProvincePage:
    """Renders the page per request (``layout``); ``register`` wires its callbacks to an app."""

    reader: SnapshotReader
    units: UnitTable
    layer: Layer
    specs: dict[str, FeedSpec]
    geojson_url: str
    live: Live
    goals: Goals
    # The commune layer (installed polygons, or the 2025 communes' schematic tiles) and its address:
    # in the 2025 scheme the map colours every commune on it.
    communes: Layer | None = None
    communes_url: str = ""
    marks: Annotations | None = None  # holidays, outages and events on the series
    map_layer: Layer = field(init=False)  # what the map draws: ``layer``, or ``communes``
    map_url: str = field(init=False)
    areas: list[str] = field(init=False)  # the units the map colours, when ``coloured``
    coloured: bool = field(init=False)
    # The units ranked: the province's children (districts before 2025, areas after), each
    # linked to its room.
    ranked: list[str] = field(init=False)
    paths: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.map_layer = province_layer(self.units, self.layer, self.communes)
        self.map_url = self.communes_url if self.map_layer is self.communes else self.geojson_url
        self.areas, self.coloured = map_areas(self.units, self.map_layer)
        self.ranked = self.units.children(self.units.province)
        self.paths = room_paths(self.units)

    @property
    def map_codes(self) -> list[str]:
        """The units of the map's polygons (a click opens their rooms, where they have one)."""
        return self.areas if self.coloured else self.layer.codes

    def fetch(self, feed: Any, window: str, *, series: bool = False, at: datetime | None = None) -> FeedView:
        """What the page draws of ``feed`` (the first shown when it is not one) over ``window``,
        read at once: the province's and each area's and ranked unit's documents, the open reports
        of a feed with points and, for a whole page, the province's series."""
        spec = feed_spec(self.specs, feed)
        province = self.units.province
        shown = dict.fromkeys([*self.areas, *self.ranked])
        data = fetch_room(
            self.reader,
            spec.name,
            docs=[(province, DEFAULT_WINDOW), (province, window), *((a, window) for a in shown)],
            series=[province] if series else [],
            extras=[POINTS_FIELD] if spec.has_points else [],
            at=at,
        )
        return FeedView.of(spec, data, self.goals)

    def layout(
        self, feed: str = DEFAULT_FEED, at: str | None = None, compare: str = "", **_query: Any
    ) -> html.Div:
        viewing = past.Viewing.of(at)
        view = self.fetch(feed, DEFAULT_WINDOW, series=True, at=viewing.at)
        past.use(viewing, view.data.meta)
        return self.render(view, viewing, self.compared(view, compare))

    def compared(self, view: FeedView, kind: Any) -> Comparison | None:
        """The view's documents a week or a year before its figures (``kind``), or None."""
        if not isinstance(kind, str) or kind not in KINDS:
            return None
        as_of = (view.data.meta or {}).get("as_of")
        return fetch_comparison(self.reader, view.spec.name, kind, as_of, [*view.data.docs])

    # ---- builders: what was read -> components -----------------------------------------------

    def map_figure(self, view: FeedView, kpi: str, window: str) -> Any:
        zoom = (
            MAP_ZOOM
            if self.units.middle == "district"
            else figures.fit_zoom(self.map_layer.bounds, *MAP_BOX_PX, pad=0)
        )
        if self.coloured:
            names = self.units.names()
            figure = figures.province_map(
                geojson_url=self.map_url,
                codes=self.areas,
                names=[names[c] for c in self.areas],
                values=view.data.values(view.kpis[kpi], self.areas, window),
                kpi=view.kpis[kpi],
                goal=view.goal(kpi, self.units.province),
                center=self.map_layer.center,
                zoom=zoom,
                box_px=MAP_BOX_PX,
            )
            if self.map_layer.schematic:  # names on the tiles, areas outlined, "a diagram"
                figures.schematic(figure, self.map_layer, zoom)
            elif self.map_layer is not self.layer and map_areas(self.units, self.layer)[1]:
                # the communes' polygons, their areas (the former districts) outlined
                figure["data"].append(figures.line_trace(self.layer.geojson))
        else:  # no unit of the scheme has polygons: the former districts, for orientation
            figure = figures.reference_map(
                geojson_url=self.geojson_url, layer=self.layer, zoom=zoom, box_px=MAP_BOX_PX
            )
        if view.spec.has_points:
            points = visible_points(view.data.extras.get(POINTS_FIELD) or [], self.units)
            spots = entry(view.data.doc(self.units.province, window), "hotspots").get("value") or []
            figure["data"] += figures.report_layers(points, spots)
            figure["layout"] |= {"showlegend": True, "legend": figures.LEGEND}
        return figure

    def render(
        self, view: FeedView, viewing: past.Viewing | None = None, comparison: Comparison | None = None
    ) -> html.Div:
        feed = view.spec.name
        panel = series_panel(view.spec)
        kpi = view.pick(None)
        viewing = viewing or past.Viewing()
        return html.Div(
            className="room" if viewing.live else "room in-past",
            children=[
                room_header(self.specs, feed, province_href, path="/", viewing=viewing),
                *past.banner(viewing, view.data.meta, province_href(feed)),
                html.Main(
                    className="room-grid",
                    children=[
                        html.Section(
                            [
                                fresh_badge(feed),
                                html.Div(
                                    tiles(view, self.units.province, DEFAULT_WINDOW, comparison), id=ids.TILES
                                ),
                            ],
                            className="tiles",
                        ),
                        html.Section(
                            className="map-panel",
                            children=self._map_panel(view, kpi, comparison.kind if comparison else ""),
                        ),
                        html.Aside(
                            className="side",
                            children=[
                                html.H2(_("Cảnh báo")),
                                *(
                                    [
                                        html.Div(className="alert-ticker", id=ids.ALERTS),
                                        export_links("alerts"),
                                    ]
                                    if viewing.live
                                    else [html.P(_(PAST_ALERTS), className="muted small")]
                                ),
                                html.H2(_(RANKING_TITLES[self.units.middle])),
                                fresh_badge(feed),
                                html.Div(
                                    self.ranking_links(feed, kpi, DEFAULT_WINDOW, viewing),
                                    id=ids.RANKING_EXPORT,
                                ),
                                html.Div(
                                    self.ranking(view, kpi, DEFAULT_WINDOW, comparison),
                                    id=ids.RANKING,
                                    className="ranking-scroll",
                                ),
                            ],
                        ),
                        html.Section(
                            className="series-panel",
                            children=[
                                html.H2(_(panel.title)),
                                fresh_badge(feed),
                                dcc.Graph(
                                    id=ids.SERIES,
                                    figure=self.series_figure(view, comparison.kind if comparison else ""),
                                    config={"displayModeBar": False, "locale": "vi"},
                                ),
                            ],
                        ),
                    ],
                ),
                room_footer(feed),
                *(
                    []
                    if not viewing.live
                    else self.live.elements(
                        feeds=list(self.specs),  # every feed's alerts reach the ticker
                        units=[self.units.province, *dict.fromkeys([*self.areas, *self.ranked])],
                        series=[self.units.province],
                        feed=feed,
                        province=self.units.province,
                        codes=self.ranked,
                        map_codes=self.areas if self.coloured else [],
                        links=f"/{self.units.middle}/",
                        approximate=sorted(self.units.approximate),
                        names=self.units.names(),
                        kpis=kpi_info(view, list(dict.fromkeys([*self.areas, *self.ranked]))),
                        measures=list(view.spec.measures),
                    )
                ),
                dcc.Store(id=ids.FEED, data=feed),
                dcc.Store(id=ids.AT, data=viewing.text),
                dcc.Store(id=ids.COMPARE_TICK),
            ],
        )

    def _map_panel(self, view: FeedView, kpi: str, compare: str) -> list[Any]:
        return [
            html.Div(
                className="map-controls",
                children=[
                    dcc.Dropdown(
                        kpi_options(view), kpi, id=ids.KPI_PICK, clearable=False, className="kpi-pick"
                    ),
                    dcc.RadioItems(
                        window_options(),
                        DEFAULT_WINDOW,
                        id=ids.WINDOW_PICK,
                        inline=True,
                        className="window-pick",
                    ),
                    compare_pick(ids.COMPARE, compare),
                    fresh_badge(view.spec.name),
                ],
            ),
            dcc.Graph(
                id=ids.MAP,
                figure=self.map_figure(view, kpi, DEFAULT_WINDOW),
                config={"displayModeBar": False, "scrollZoom": True},
                className="map",
            ),
            *([] if self.coloured else [html.Div(_(REFERENCE_NOTE), className="map-note")]),
            *([html.Div(_(TILES_NOTE), className="map-note")] if self.map_layer.schematic else []),
        ]

    def ranking(
        self, view: FeedView, path: str, window: str, comparison: Comparison | None = None
    ) -> html.Table:
        """The province's children (districts, or areas) best first, each opening its room; with
        a comparison, how each moved since then."""
        kpi = view.kpis[path]
        names = self.units.names()
        query = feed_query(view.spec.name)
        rows = [
            html.Tr(
                [
                    html.Td(str(i), className="rank"),
                    html.Td(
                        dcc.Link(names[code], href=self.paths[code] + query, refresh=True)
                        if code in self.paths
                        else names[code]
                    ),
                    html.Td(
                        approximate_text(self.units, code, figures.value_text(kpi, value)),
                        className=f"num {figures.tile_state(kpi, value, view.goal(path, code))}",
                        title=_(APPROXIMATE_TITLE) if code in self.units.approximate else None,
                    ),
                    *(
                        [
                            html.Td(
                                comparison.delta(kpi, value, code, window, path, short=True), className="num"
                            )
                        ]
                        if comparison
                        else []
                    ),
                ]
            )
            for i, (code, value) in enumerate(
                ranking_rows(view.data, self.units, self.units.province, kpi, window), start=1
            )
        ]
        return html.Table(html.Tbody(rows), className="ranking")

    def ranking_links(self, feed: str, kpi: str, window: str, viewing: past.Viewing) -> html.Div:
        return export_links(
            "ranking", feed=feed, unit=self.units.province, kpi=kpi, window=window, at=viewing.text or ""
        )

    def series_figure(self, view: FeedView, compare: str = "") -> Any:
        doc = view.data.series.get(self.units.province)
        as_of = (view.data.meta or {}).get("as_of")
        panel = series_panel(view.spec)
        return figures.hourly_series(
            doc,
            as_of,
            panel,
            past.series_note(),
            series_marks(self.marks, view.spec.name, doc, as_of, self.units, self.units.province),
            week_before(self.reader, view.spec.name, self.units.province, compare if doc else ""),
        )

    def register(self, app: Dash) -> None:
        @app.callback(
            Output(ids.TILES, "children"),
            Output(ids.MAP, "figure"),
            Output(ids.RANKING, "children"),
            Output(ids.RANKING_EXPORT, "children"),
            Input(ids.KPI_PICK, "value"),
            Input(ids.WINDOW_PICK, "value"),
            Input(ids.COMPARE, "value"),
            Input(ids.COMPARE_TICK, "data"),
            State(ids.FEED, "data"),
            State(ids.AT, "data"),
            prevent_initial_call=True,
        )
        def pick(
            kpi: str, window: str, compare: str, _tick: Any, feed: str, at: str | None
        ) -> tuple[Any, ...]:
            """A person chose another KPI or window: new colours and legend, same zoom (at the
            instant the room shows)."""
            # the values come from the browser: a forged one gets the defaults, not a server error
            window = window if isinstance(window, str) and window in theme.WINDOW_LABELS else DEFAULT_WINDOW
            viewing = past.Viewing.of(at)
            view = self.fetch(feed, window, at=viewing.at)
            past.use(viewing, view.data.meta)
            kpi = view.pick(kpi)
            comparison = self.compared(view, compare)
            shown = tiles(view, self.units.province, window, comparison)
            links = self.ranking_links(view.spec.name, kpi, window, viewing)
            if not self.coloured:  # a reference map: nothing on it depends on the KPI
                return shown, no_update, self.ranking(view, kpi, window, comparison), links
            fresh = self.map_figure(view, kpi, window)["data"][0]
            patch = figures.trace_patch(
                fresh, ("z", "customdata", "hovertemplate", "colorscale", "zmin", "zmax", "colorbar")
            )
            return shown, patch, self.ranking(view, kpi, window, comparison), links

        # Comparing with last week: the series panel draws the week before under this one.
        @app.callback(
            Output(ids.SERIES, "figure", allow_duplicate=True),
            Input(ids.COMPARE, "value"),
            State(ids.FEED, "data"),
            State(ids.AT, "data"),
            prevent_initial_call=True,
        )
        def overlay(compare: Any, feed: str, at: str | None) -> Any:
            viewing = past.Viewing.of(at)
            if not viewing.live:  # the history keeps no series: the panel says so, unchanged
                return no_update
            view = self.fetch(feed, DEFAULT_WINDOW, series=True)
            return self.series_figure(view, compare if isinstance(compare, str) else "")

        # A click on a unit of the map opens its room, with the same feed (report dots have no
        # location).
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            "function (click, feed) { return window.ioc_rt.openRoom(click, feed, ROOMS); }".replace(
                "ROOMS",
                json.dumps({0: room_prefix(self.units, self.areas if self.coloured else self.layer.codes)}),
            ),
            Output(ids.FEED, "data", allow_duplicate=True),
            Input(ids.MAP, "clickData"),
            State(ids.FEED, "data"),
            prevent_initial_call=True,
        )

        # While comparing, pushes redraw tiles and ranking on the server (their differences move
        # with the figures): at most one request every few seconds, the last push never lost.
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            COMPARING_JS.replace("THROTTLE", throttle_js(ids.COMPARE_TICK)),
            Output(ids.COMPARE_TICK, "data"),
            Input(ids.RT_MESSAGE, "data"),
            State(ids.COMPARE, "value"),
            prevent_initial_call=True,
        )

        # Pushed messages: applied in the browser with Patch, no request to the server.
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            "function (m, k, w, t) { return window.ioc_rt.apply(m, k, w, t); }",
            Output(ids.MAP, "figure", allow_duplicate=True),
            Output(ids.SERIES, "figure"),
            Output({"type": ids.TILE_VALUE, "kpi": ALL}, "children"),
            Output(ids.RANKING, "children", allow_duplicate=True),
            Input(ids.RT_MESSAGE, "data"),
            State(ids.KPI_PICK, "value"),
            State(ids.WINDOW_PICK, "value"),
            State({"type": ids.TILE_VALUE, "kpi": ALL}, "id"),
            prevent_initial_call=True,
        )


# ---- builders the rooms share --------------------------------------------------------------


def province_href(feed: str) -> str:
    return "/" + feed_query(feed)


def series_marks(
    marks: Annotations | None,
    feed: str,
    doc: dict[str, Any] | None,
    as_of: str | None,
    units: UnitTable,
    unit: str,
) -> list[Annotation]:
    """The marks over ``unit``'s series (from its start to the figures' time): holidays, the
    feed's outages, events about the province or the units above or at ``unit``."""
    if marks is None or not doc or not as_of:
        return []
    end = datetime.fromisoformat(as_of)
    start = datetime.fromisoformat(doc["start"])
    language = "en_US" if current() == "en" else "vi"
    return marks.between(start, end, [feed], datetime.now(UTC), units=lineage(units, unit), lang=language)


def week_before(reader: SnapshotReader, feed: str, unit: str, compare: str) -> dict[str, Any] | None:
    """The series a week earlier when the room compares with last week (and is live)."""
    if compare != "week":
        return None
    return cast(dict[str, Any] | None, reader.series_week_before(feed, unit))


def series_panel(spec: FeedSpec) -> SeriesPanel:
    return spec.series_panel or SeriesPanel(spec.title, "", ())


def room_header(
    specs: dict[str, FeedSpec],
    shown: str,
    href: Callable[[str], str],
    title: Any = None,
    *,
    path: str,
    viewing: past.Viewing,
) -> html.Header:
    """Title, clock, the instant shown (live, or one picked in the time control) and a tab per
    feed of the registry with KPIs (those the room does not show, greyed); a tab keeps the
    instant."""

    def tab_href(feed: str) -> str:
        link = href(feed)
        if viewing.text is None:
            return link
        return f"{link}{'&' if '?' in link else '?'}{urlencode({past.PARAM: viewing.text})}"

    tabs = [
        dcc.Link(
            _(spec.title),
            href=tab_href(feed),
            className="feed-tab active" if feed == shown else "feed-tab",
            refresh=True,  # a new page: its own tiles, map and subscription
        )
        if feed in specs
        else html.Span(_(spec.title), className="feed-tab off")
        for feed, spec in FEED_SPECS.items()
        if spec.has_kpis
    ]
    return html.Header(
        className="room-header",
        children=[
            html.H1(title or _("TRUNG TÂM GIÁM SÁT, ĐIỀU HÀNH THÔNG MINH TỈNH TÂY NINH")),
            html.Div(fmt.date_time(datetime.now(UTC)), id=ids.CLOCK, className="clock"),
            html.Nav(
                [
                    *tabs,
                    scorecard_link(),
                    past.time_control(path, viewing, feed="" if shown == DEFAULT_FEED else shown),
                ],
                id=ids.FEED_TABS,
                className="feed-tabs",
            ),
            header_tools(),
        ],
    )


def room_footer(feed: str) -> html.Footer:
    """Freshness, the offline note and the boundaries' attribution, on every room."""
    return html.Footer(
        className="footer",
        children=[
            fresh_badge(feed),
            html.Span(_("Mất kết nối trực tiếp, đang kết nối lại…"), className="offline-note"),
            html.Span(theme.attribution(current()), className="attribution"),
        ],
    )


def kpi_options(view: FeedView) -> list[dict[str, str]]:
    return [{"label": k.label, "value": path} for path, k in view.kpis.items() if k.kind != "breakdown"]


def window_options() -> list[dict[str, str]]:
    return [{"label": _(label), "value": w} for w, label in theme.WINDOW_LABELS.items()]


def kpi_info(view: FeedView, areas: list[str]) -> dict[str, dict[str, Any]]:
    """What realtime.js needs of each KPI to redraw tiles, map and ranking: its target is the
    province's, ``unit_targets`` those of the ranked ``areas`` that have their own."""
    info = {}
    for path, k in view.kpis.items():
        goal = view.goal(path, view.goals.units.province)
        own = {code: g for code in areas if (g := view.goal(path, code)) != goal}
        info[path] = {
            "kind": k.kind,
            "target": goal,
            "unit_targets": own,
            "higher_is_better": not k.lower_is_better,
        }
    return info


def tiles(view: FeedView, unit: str, window: str, comparison: Comparison | None = None) -> list[html.Div]:
    """One tile per KPI of ``unit`` over ``window``, coloured against the unit's target; with a
    comparison, each says how it moved since then."""
    values = view.data.doc(unit, window) or {}
    out = []
    for path, kpi in view.kpis.items():
        value = entry(values, path).get("value")
        state = figures.tile_state(kpi, figures.scalar(kpi, value), view.goal(path, unit))
        when = _("hiện tại") if base_name(path) in NOT_WINDOWED else _(theme.WINDOW_LABELS[window])
        out.append(
            html.Div(
                className=f"tile {state}",
                children=[
                    html.Div(f"{kpi.label} ({when})", className="tile-label"),
                    html.Div(
                        [
                            html.Span(
                                figures.value_text(kpi, value, compact=True),
                                id={"type": ids.TILE_VALUE, "kpi": path},
                                className="tile-value",
                            ),
                            html.Span("" if kpi.kind == "rate" else kpi.unit, className="tile-unit"),
                        ]
                    ),
                    *([comparison.delta(kpi, value, unit, window, path)] if comparison else []),
                ],
                **ids.DataAttrs({"data-kpi": path}),
            )
        )
    return out


def visible_points(points: list[dict[str, Any]], table: UnitTable) -> list[dict[str, Any]]:
    """Open reports one by one (id, exact position) are case-level: a duty officer gets those of
    their own units only (elsewhere the map's colours give the counts per district), and a page
    built outside a request no one's."""
    person = login.current_user()
    if person is None:
        return []
    inside = person.units_within(table)
    return points if inside is None else [p for p in points if p.get("unit_code") in inside]
