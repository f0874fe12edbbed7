"""The provincial room (``/?feed=<feed>``): one feed's KPI tiles, the district map coloured by the
chosen KPI (field reports also as points and hotspots), the ranking and the hourly series."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update

from ioc import login
from ioc.feeds import FeedSpec
from ioc.geo import Layer
from ioc.kpis import Kpi
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable
from layouts import figures, ids, theme
from layouts import format as fmt
from layouts.geography import APPROXIMATE_TITLE, REFERENCE_NOTE, approximate_text, map_areas
from layouts.i18n import _
from layouts.live import Live, fresh_badge, header_tools

DEFAULT_WINDOW = "7d"
MAP_ZOOM = 8.75
LOWER_IS_BETTER = theme.LOWER_IS_BETTER
NOT_WINDOWED = frozenset(
    {
        "overdue_open",
        "open",
        "overdue",
        "hotspots",
        "people_first_dose",
        "coverage_first_dose",
        "dropout_rate",
    }
)


def entry(doc: dict[str, Any] | None, path: str) -> dict[str, Any]:
    """A KPI's entry in a document by name, or by path for nested ones (``by_vaccine/<v>/<kpi>``)."""
    current: Any = doc or {}
    for part in path.split("/"):
        current = current.get(part) if isinstance(current, dict) else None
    return current if isinstance(current, dict) else {}


def display_kpis(spec: FeedSpec, province_doc: dict[str, Any] | None) -> list[Kpi]:
    """What the tiles, the map choice and the ranking offer for a feed, by path, with their labels
    and units in the reader's language."""
    shown = [replace(k, label=_(k.label), unit=_(k.unit)) for k in spec.kpis]
    if spec.name != "vaccination":
        return shown
    by = {k.name: k for k in shown}
    out = [by["doses"]]
    for vaccine in sorted((province_doc or {}).get("by_vaccine", {})):
        for name in ("coverage_first_dose", "dropout_rate", "people_first_dose"):
            if (
                name == "dropout_rate"
                and entry(province_doc, f"by_vaccine/{vaccine}/{name}").get("value") is None
            ):
                continue
            kpi = by[name]
            out.append(Kpi(f"by_vaccine/{vaccine}/{name}", kpi.kind, f"{kpi.label} · {_(vaccine)}", kpi.unit))
    return out


def base_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@dataclass
class ProvincePage:
    """Builds the page from the snapshot; ``register`` wires its callbacks to an app."""

    reader: SnapshotReader
    units: UnitTable
    layer: Layer
    specs: dict[str, FeedSpec]
    geojson_url: str
    live: Live
    spec: FeedSpec = None  # type: ignore[assignment]  # the feed being rendered

    def view(self, feed: str) -> Any:
        """This page for ``feed`` (the first feed when it is not one the page shows)."""
        return replace(self, spec=self.specs.get(feed) or next(iter(self.specs.values())))

    @property
    def kpis(self) -> dict[str, Kpi]:
        doc = self.reader.kpis(self.spec.name, self.units.province, DEFAULT_WINDOW)
        return {k.name: k for k in display_kpis(self.spec, doc)}

    def default_kpi(self) -> str:
        wanted = theme.DEFAULT_KPI.get(self.spec.name, "")
        return wanted if wanted in self.kpis else next(iter(self.kpis))

    @property
    def areas(self) -> list[str]:
        return map_areas(self.units, self.layer)[0]

    @property
    def coloured(self) -> bool:
        return map_areas(self.units, self.layer)[1]

    def district_values(self, kpi: str, window: str) -> list[Any]:
        found = self.reader.many(self.spec.name, self.areas, window)
        known = self.kpis[kpi]
        return [figures.scalar(known, entry(found.get(code), kpi).get("value")) for code in self.areas]

    def map_figure(self, kpi: str, window: str) -> Any:
        if self.coloured:
            names = self.units.names()
            figure = figures.province_map(
                geojson_url=self.geojson_url,
                codes=self.layer.codes,
                names=[names[c] for c in self.layer.codes],
                values=self.district_values(kpi, window),
                kpi=self.kpis[kpi],
                center=self.layer.center,
                zoom=MAP_ZOOM,
            )
        else:  # the 2025 communes have no polygons: the former districts, for orientation
            figure = figures.reference_map(
                geojson_url=self.geojson_url, layer=self.layer, zoom=MAP_ZOOM - 0.7
            )
        if self.spec.name == "citizen_feedback":
            points = visible_points(self.reader.extra(self.spec.name, "_points") or [], self.units)
            doc = self.reader.kpis(self.spec.name, self.units.province, window)
            figure.add_traces(figures.report_layers(points, entry(doc, "hotspots").get("value") or []))
            figure.update_layout(showlegend=True, legend={"x": 0, "y": 0, "bgcolor": "rgba(255,255,255,0.8)"})
        return figure

    def layout(self, feed: str = "public_services", **_query: Any) -> html.Div:
        return self.view(feed).render()

    def render(self) -> html.Div:
        title = _(theme.SERIES[self.spec.name][0])
        return html.Div(
            className="room",
            children=[
                self._header(),
                html.Main(
                    className="room-grid",
                    children=[
                        html.Section(
                            [fresh_badge(self.spec.name), html.Div(self.tiles(DEFAULT_WINDOW), id=ids.TILES)],
                            className="tiles",
                        ),
                        html.Section(className="map-panel", children=self._map_panel()),
                        html.Aside(
                            className="side",
                            children=[
                                html.H2(_("Cảnh báo")),
                                html.Div(className="alert-ticker", id=ids.ALERTS),
                                html.H2(
                                    _("Xếp hạng huyện, thị xã, thành phố")
                                    if self.units.level_codes("district")
                                    else _("Xếp hạng xã, phường")
                                ),
                                fresh_badge(self.spec.name),
                                html.Div(
                                    self.ranking(self.default_kpi(), DEFAULT_WINDOW),
                                    id=ids.RANKING,
                                    className="ranking-scroll",
                                ),
                            ],
                        ),
                        html.Section(
                            className="series-panel",
                            children=[
                                html.H2(title),
                                fresh_badge(self.spec.name),
                                dcc.Graph(
                                    id=ids.SERIES,
                                    figure=self.series_figure(),
                                    config={"displayModeBar": False, "locale": "vi"},
                                ),
                            ],
                        ),
                    ],
                ),
                self._footer(),
                *self.live.elements(
                    feeds=list(self.specs),  # every feed's alerts reach the ticker
                    units=[self.units.province, *self.areas],
                    series=[self.units.province],
                    feed=self.spec.name,
                    province=self.units.province,
                    codes=self.areas,
                    map_codes=self.layer.codes if self.coloured else [],
                    links=bool(self.units.level_codes("district")),
                    approximate=sorted(self.units.approximate),
                    names=self.units.names(),
                    kpis=self._kpi_info(),
                    measures=list(self.spec.measures),
                ),
                dcc.Store(id=ids.FEED, data=self.spec.name),
            ],
        )

    def _footer(self) -> html.Footer:
        """Freshness, the offline note and the boundaries' attribution, on every room."""
        return html.Footer(
            className="footer",
            children=[
                fresh_badge(self.spec.name),
                html.Span(_("Mất kết nối trực tiếp, đang kết nối lại…"), className="offline-note"),
                html.Span(theme.attribution(), className="attribution"),
            ],
        )

    def _kpi_info(self) -> dict[str, dict[str, Any]]:
        info = {}
        for path, kpi in self.kpis.items():
            target = theme.TARGETS.get(base_name(path))
            info[path] = {
                "kind": kpi.kind,
                "target": target.value if target else None,
                "higher_is_better": target.higher_is_better
                if target
                else base_name(path) not in LOWER_IS_BETTER,
            }
        return info

    def district_href(self, code: str) -> str:
        query = "" if self.spec.name == "public_services" else f"?feed={self.spec.name}"
        return f"/district/{code}{query}"

    def feed_href(self, feed: str) -> str:
        return "/" if feed == "public_services" else f"/?feed={feed}"

    def _header(self, title: Any = None) -> html.Header:
        tabs = [
            dcc.Link(
                _(label),
                href=self.feed_href(feed),
                className="feed-tab active" if feed == self.spec.name else "feed-tab",
                refresh=True,  # a new page: its own tiles, map and subscription
            )
            if feed in self.specs
            else html.Span(_(label), className="feed-tab off")
            for feed, label in theme.FEED_LABELS.items()
        ]
        return html.Header(
            className="room-header",
            children=[
                html.H1(title or _("TRUNG TÂM GIÁM SÁT, ĐIỀU HÀNH THÔNG MINH TỈNH TÂY NINH")),
                html.Div(fmt.date_time(datetime.now(UTC)), id=ids.CLOCK, className="clock"),
                html.Nav(tabs, id=ids.FEED_TABS, className="feed-tabs"),
                header_tools(),
            ],
        )

    def _map_panel(self) -> list[Any]:
        options = [
            {"label": k.label, "value": path} for path, k in self.kpis.items() if k.kind != "breakdown"
        ]
        windows = [{"label": _(label), "value": w} for w, label in theme.WINDOW_LABELS.items()]
        return [
            html.Div(
                className="map-controls",
                children=[
                    dcc.Dropdown(
                        options, self.default_kpi(), id=ids.KPI_PICK, clearable=False, className="kpi-pick"
                    ),
                    dcc.RadioItems(
                        windows, DEFAULT_WINDOW, id=ids.WINDOW_PICK, inline=True, className="window-pick"
                    ),
                    fresh_badge(self.spec.name),
                ],
            ),
            dcc.Graph(
                id=ids.MAP,
                figure=self.map_figure(self.default_kpi(), DEFAULT_WINDOW),
                config={"displayModeBar": False, "scrollZoom": True},
                className="map",
            ),
            *([] if self.coloured else [html.Div(_(REFERENCE_NOTE), className="map-note")]),
        ]

    def tiles(self, window: str, unit: str | None = None) -> list[html.Div]:
        values = self.reader.kpis(self.spec.name, unit or self.units.province, window) or {}
        out = []
        for path, kpi in self.kpis.items():
            value = entry(values, path).get("value")
            when = _("hiện tại") if base_name(path) in NOT_WINDOWED else _(theme.WINDOW_LABELS[window])
            unit = "" if kpi.kind == "rate" else kpi.unit
            out.append(
                html.Div(
                    className=f"tile {tile_state(kpi, figures.scalar(kpi, value))}",
                    children=[
                        html.Div(f"{kpi.label} ({when})", className="tile-label"),
                        html.Div(
                            [
                                html.Span(
                                    figures.value_text(kpi, value, compact=True),
                                    id={"type": ids.TILE_VALUE, "kpi": path},
                                    className="tile-value",
                                ),
                                html.Span(unit, className="tile-unit"),
                            ]
                        ),
                    ],
                    **{"data-kpi": path},
                )
            )
        return out

    def ranking(self, kpi_name: str, window: str) -> html.Table:
        kpi = self.kpis[kpi_name]
        names = self.units.names()
        pairs = list(zip(self.areas, self.district_values(kpi_name, window), strict=True))
        districts = set(self.units.level_codes("district"))
        target = theme.TARGETS.get(base_name(kpi_name))
        lower_better = base_name(kpi_name) in LOWER_IS_BETTER
        reverse = not lower_better if target is None else target.higher_is_better
        ranked = sorted(pairs, key=lambda p: (p[1] is None, -(p[1] or 0) if reverse else (p[1] or 0)))
        rows = [
            html.Tr(
                [
                    html.Td(str(i), className="rank"),
                    html.Td(
                        dcc.Link(names[code], href=self.district_href(code), refresh=True)
                        if code in districts
                        else names[code]
                    ),
                    html.Td(
                        approximate_text(self.units, code, figures.value_text(kpi, value)),
                        className=f"num {tile_state(kpi, value)}",
                        title=_(APPROXIMATE_TITLE) if code in self.units.approximate else None,
                    ),
                ]
            )
            for i, (code, value) in enumerate(ranked, start=1)
        ]
        return html.Table(html.Tbody(rows), className="ranking")

    def series_figure(self) -> Any:
        meta = self.reader.meta(self.spec.name) or {}
        return figures.hourly_series(
            self.reader.series(self.spec.name, self.units.province), meta.get("as_of"), self.spec.name
        )

    def register(self, app: Dash) -> None:
        @app.callback(
            Output(ids.TILES, "children"),
            Output(ids.MAP, "figure"),
            Output(ids.RANKING, "children"),
            Input(ids.KPI_PICK, "value"),
            Input(ids.WINDOW_PICK, "value"),
            State(ids.FEED, "data"),
            prevent_initial_call=True,
        )
        def pick(kpi: str, window: str, feed: str) -> tuple[Any, ...]:
            """A person chose another KPI or window: new colours and legend, same zoom."""
            view = self.view(feed if isinstance(feed, str) else "")
            # the values come from the browser: a forged one gets the defaults, not a server error
            kpi = kpi if isinstance(kpi, str) and kpi in view.kpis else view.default_kpi()
            window = window if isinstance(window, str) and window in theme.WINDOW_LABELS else DEFAULT_WINDOW
            if not view.coloured:  # a reference map: nothing on it depends on the KPI
                return view.tiles(window), no_update, view.ranking(kpi, window)
            fresh = view.map_figure(kpi, window).data[0]
            patch = figures.trace_patch(
                fresh, ("z", "customdata", "hovertemplate", "colorscale", "zmin", "zmax", "colorbar")
            )
            return view.tiles(window), patch, view.ranking(kpi, window)

        # A click on a district opens its room, with the same feed (report dots have no location).
        app.clientside_callback(
            "function (click, feed) { return window.ioc_rt.openDistrict(click, feed); }",
            Output(ids.FEED, "data", allow_duplicate=True),
            Input(ids.MAP, "clickData"),
            State(ids.FEED, "data"),
            prevent_initial_call=True,
        )

        # Pushed messages: applied in the browser with Patch, no request to the server.
        app.clientside_callback(
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


def visible_points(points: list[dict[str, Any]], table: UnitTable) -> list[dict[str, Any]]:
    """Open reports one by one (id, exact position) are case-level: a duty officer gets those of
    their own units only (elsewhere the map's colours give the counts per district), and a page
    built outside a request no one's."""
    person = login.current_user()
    if person is None:
        return []
    inside = person.units_within(table)
    return points if inside is None else [p for p in points if p.get("unit_code") in inside]


def tile_state(kpi: Kpi, value: float | None) -> str:
    target = theme.TARGETS.get(base_name(kpi.name))
    if value is None or target is None:
        return "neutral"
    gap = value - target.value if target.higher_is_better else target.value - value
    if gap >= 0:
        return "ok"
    return "warn" if gap > -0.05 else "bad"
