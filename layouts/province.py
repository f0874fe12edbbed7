"""The provincial room (``/``): KPI tiles, the district map, the ranking and the hourly series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dash import Dash, Input, Output, Patch, dcc, html

from ioc.feeds import FeedSpec
from ioc.geo import Layer
from ioc.kpis import Kpi
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable
from layouts import figures, ids, theme
from layouts import format as fmt

DEFAULT_KPI = "on_time_rate"
DEFAULT_WINDOW = "7d"
MAP_ZOOM = 8.75


@dataclass
class ProvincePage:
    """Builds the page from the snapshot; ``register`` wires its callbacks to an app."""

    reader: SnapshotReader
    units: UnitTable
    layer: Layer
    spec: FeedSpec
    geojson_url: str
    refresh_s: float

    @property
    def kpis(self) -> dict[str, Kpi]:
        return {k.name: k for k in self.spec.kpis}

    def district_values(self, kpi: str, window: str) -> list[float | None]:
        found = self.reader.many(self.spec.name, self.layer.codes, window)
        return [found.get(code, {}).get(kpi, {}).get("value") for code in self.layer.codes]

    def map_figure(self, kpi: str, window: str) -> Any:
        names = self.units.names()
        return figures.province_map(
            geojson_url=self.geojson_url,
            codes=self.layer.codes,
            names=[names[c] for c in self.layer.codes],
            values=self.district_values(kpi, window),
            kpi=self.kpis[kpi],
            center=self.layer.center,
            zoom=MAP_ZOOM,
        )

    def layout(self) -> html.Div:
        meta = self.reader.meta(self.spec.name) or {}
        return html.Div(
            className="room",
            children=[
                self._header(),
                html.Main(
                    className="room-grid",
                    children=[
                        html.Section(self.tiles(DEFAULT_WINDOW), id=ids.TILES, className="tiles"),
                        html.Section(className="map-panel", children=self._map_panel()),
                        html.Aside(
                            className="side",
                            children=[
                                html.H2("Xếp hạng huyện, thị xã, thành phố"),
                                html.Div(self.ranking(DEFAULT_KPI, DEFAULT_WINDOW), id=ids.RANKING),
                            ],
                        ),
                        html.Section(
                            className="series-panel",
                            children=[
                                html.H2("Hồ sơ tiếp nhận và trả kết quả theo giờ, 7 ngày qua (toàn tỉnh)"),
                                dcc.Graph(
                                    id=ids.SERIES,
                                    figure=self.series_figure(),
                                    config={"displayModeBar": False, "locale": "vi"},
                                ),
                            ],
                        ),
                    ],
                ),
                html.Footer(
                    className="footer",
                    children=[
                        html.Span(fmt.as_of(meta.get("as_of")), id=ids.AS_OF, className="as-of"),
                        html.Span(theme.ATTRIBUTION_VI, className="attribution"),
                    ],
                ),
                dcc.Interval(id=ids.REFRESH, interval=int(self.refresh_s * 1000)),
            ],
        )

    def _header(self) -> html.Header:
        tabs = [
            html.Span(label, className="feed-tab active" if feed == self.spec.name else "feed-tab off")
            for feed, label in theme.FEED_LABELS.items()
        ]
        return html.Header(
            className="room-header",
            children=[
                html.H1("TRUNG TÂM GIÁM SÁT, ĐIỀU HÀNH THÔNG MINH TỈNH TÂY NINH"),
                html.Div(fmt.date_time(datetime.now(UTC)), id=ids.CLOCK, className="clock"),
                html.Nav(tabs, id=ids.FEED_TABS, className="feed-tabs"),
            ],
        )

    def _map_panel(self) -> list[Any]:
        options = [{"label": k.label, "value": k.name} for k in self.spec.kpis]
        windows = [{"label": label, "value": w} for w, label in theme.WINDOW_LABELS.items()]
        return [
            html.Div(
                className="map-controls",
                children=[
                    dcc.Dropdown(
                        options, DEFAULT_KPI, id=ids.KPI_PICK, clearable=False, className="kpi-pick"
                    ),
                    dcc.RadioItems(
                        windows, DEFAULT_WINDOW, id=ids.WINDOW_PICK, inline=True, className="window-pick"
                    ),
                ],
            ),
            dcc.Graph(
                id=ids.MAP,
                figure=self.map_figure(DEFAULT_KPI, DEFAULT_WINDOW),
                config={"displayModeBar": False, "scrollZoom": True},
                className="map",
            ),
        ]

    def tiles(self, window: str) -> list[html.Div]:
        values = self.reader.kpis(self.spec.name, self.units.province, window) or {}
        out = []
        for kpi in self.spec.kpis:
            entry = values.get(kpi.name, {})
            when = "hiện tại" if kpi.name == "overdue_open" else theme.WINDOW_LABELS[window]
            unit = "" if kpi.kind == "rate" else kpi.unit
            out.append(
                html.Div(
                    className=f"tile {_tile_state(kpi, entry.get('value'))}",
                    children=[
                        html.Div(f"{kpi.label} ({when})", className="tile-label"),
                        html.Div(
                            [
                                html.Span(
                                    figures.value_text(kpi, entry.get("value")), className="tile-value"
                                ),
                                html.Span(unit, className="tile-unit"),
                            ]
                        ),
                    ],
                    **{"data-kpi": kpi.name},
                )
            )
        return out

    def ranking(self, kpi_name: str, window: str) -> html.Table:
        kpi = self.kpis[kpi_name]
        names = self.units.names()
        pairs = list(zip(self.layer.codes, self.district_values(kpi_name, window), strict=True))
        target = theme.TARGETS.get(kpi_name)
        lower_better = kpi_name in ("overdue_open", "avg_processing_days")
        reverse = not lower_better if target is None else target.higher_is_better
        ranked = sorted(pairs, key=lambda p: (p[1] is None, -(p[1] or 0) if reverse else (p[1] or 0)))
        rows = [
            html.Tr(
                [
                    html.Td(str(i), className="rank"),
                    html.Td(names[code]),
                    html.Td(figures.value_text(kpi, value), className=f"num {_tile_state(kpi, value)}"),
                ]
            )
            for i, (code, value) in enumerate(ranked, start=1)
        ]
        return html.Table(html.Tbody(rows), className="ranking")

    def series_figure(self) -> Any:
        meta = self.reader.meta(self.spec.name) or {}
        return figures.hourly_series(
            self.reader.series(self.spec.name, self.units.province), meta.get("as_of")
        )

    def register(self, app: Dash) -> None:
        @app.callback(
            Output(ids.TILES, "children"),
            Output(ids.MAP, "figure"),
            Output(ids.RANKING, "children"),
            Output(ids.SERIES, "figure"),
            Output(ids.AS_OF, "children"),
            Input(ids.REFRESH, "n_intervals"),
            Input(ids.KPI_PICK, "value"),
            Input(ids.WINDOW_PICK, "value"),
        )
        def refresh(_n: int | None, kpi: str, window: str) -> tuple[Any, ...]:
            fresh = self.map_figure(kpi, window).data[0]
            map_patch = Patch()
            for prop in ("z", "customdata", "hovertemplate", "colorscale", "zmin", "zmax", "colorbar"):
                map_patch["data"][0][prop] = fresh[prop]
            series = self.series_figure()
            series_patch = Patch()
            series_patch["data"] = series.data
            series_patch["layout"]["shapes"] = series.layout.shapes
            meta = self.reader.meta(self.spec.name) or {}
            return (
                self.tiles(window),
                map_patch,
                self.ranking(kpi, window),
                series_patch,
                fmt.as_of(meta.get("as_of")),
            )


def _tile_state(kpi: Kpi, value: float | None) -> str:
    target = theme.TARGETS.get(kpi.name)
    if value is None or target is None:
        return "neutral"
    gap = value - target.value if target.higher_is_better else target.value - value
    if gap >= 0:
        return "ok"
    return "warn" if gap > -0.05 else "bad"
