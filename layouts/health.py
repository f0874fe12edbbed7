"""The feed-health board (``/health-board``): is the data live, and if not, why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html

from ioc.feeds import FEED_SPECS
from ioc.health import ConnectorHealth
from layouts import format as fmt
from layouts import ids, theme
from layouts.i18n import N_, _
from layouts.live import Live, fresh_badge, header_tools


def _when(iso: str | None) -> str:
    return "–" if iso is None else fmt.date_time(datetime.fromisoformat(iso))


def sparkline(counts: list[int]) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            y=counts, mode="lines", line={"color": theme.SERIES_RECEIVED, "width": 1.5}, fill="tozeroy"
        )
    )
    figure.update_layout(
        height=36,
        width=180,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        xaxis={"visible": False},
        yaxis={"visible": False, "rangemode": "tozero"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
    )
    return figure


def health_row(h: ConnectorHealth, now: datetime) -> html.Tr:
    counts = h.records_last_minutes(now)
    return html.Tr(
        [
            html.Td(
                [
                    html.Div(
                        _(FEED_SPECS[h.feed].title if h.feed in FEED_SPECS else h.feed), className="feed-name"
                    ),
                    html.Code(h.connector),
                ]
            ),
            html.Td(fresh_badge(h.feed)),
            html.Td(_when(h.last_success_at)),
            html.Td(_when(h.newest_record_at)),
            html.Td(
                [
                    html.Div(_("{n} / phút (5 phút qua)").format(n=fmt.number(sum(counts[-6:-1]) / 5, 1))),
                    dcc.Graph(figure=sparkline(counts), config={"staticPlot": True}, className="sparkline"),
                ]
            ),
            html.Td(
                [
                    html.Div(fmt.number(h.errors)),
                    html.Div(
                        f"{_when(h.last_error_at)}: {h.last_error}" if h.last_error else "",
                        className="reason",
                    ),
                ],
                className="num-cell",
            ),
            html.Td(
                [
                    html.Div(fmt.number(h.dead_letters)),
                    html.Div(h.last_dead_reason or "", className="reason"),
                ],
                className="num-cell",
            ),
            html.Td(f"{fmt.number(h.pending)} / {fmt.number(h.undelivered)}", className="num-cell"),
        ],
        **ids.DataAttrs({"data-feed": h.feed}),
    )


HEADERS = (
    N_("Nguồn dữ liệu"),
    N_("Trạng thái"),
    N_("Lần lấy thành công gần nhất"),
    N_("Bản ghi mới nhất"),
    N_("Bản ghi / phút (60 phút)"),
    N_("Lỗi"),
    N_("Thư lỗi (dead letters)"),
    N_("Đang chờ / chưa giao (tổng hợp)"),
)


POINT_HEADERS = (
    N_("Kênh gửi cảnh báo"),
    N_("Lần gửi thành công gần nhất"),
    N_("Lỗi gần nhất"),
    N_("Tin chờ gửi lại"),
)
POINT_KINDS = {"email": N_("thư điện tử"), "webhook": N_("webhook")}


def point_row(name: str, kind: str, health: dict[str, Any]) -> html.Tr:
    failing = bool(health.get("waiting")) or (
        health.get("last_error_at") is not None
        and (health.get("last_success_at") or "") < (health.get("last_error_at") or "")
    )
    error = (
        f"{_when(health.get('last_error_at'))}: {health['last_error']}" if health.get("last_error") else "–"
    )
    return html.Tr(
        [
            html.Td([html.Div(name, className="feed-name"), html.Code(_(POINT_KINDS.get(kind, kind)))]),
            html.Td(_when(health.get("last_success_at"))),
            html.Td(html.Div(error, className="reason")),
            html.Td(fmt.number(health.get("waiting", 0)), className="num-cell"),
        ],
        className="point-failing" if failing else "point-ok",
        **ids.DataAttrs({"data-point": name}),
    )


@dataclass
class HealthBoard:
    read: Callable[[], list[ConnectorHealth]]
    feeds: list[str]
    live: Live
    points: Mapping[str, str] = field(default_factory=dict)  # contact point -> kind
    read_points: Callable[[], dict[str, dict[str, Any]]] = dict

    def table(self) -> html.Div:
        now = datetime.now(UTC)
        tables = [
            html.Table(
                [
                    html.Thead(html.Tr([html.Th(_(h)) for h in HEADERS])),
                    html.Tbody([health_row(h, now) for h in self.read()]),
                ],
                className="health-table",
            )
        ]
        if self.points:  # alert delivery is configured: is it reaching people?
            found = self.read_points()
            tables.append(
                html.Table(
                    [
                        html.Thead(html.Tr([html.Th(_(h)) for h in POINT_HEADERS])),
                        html.Tbody(
                            [point_row(n, k, found.get(n, {})) for n, k in sorted(self.points.items())]
                        ),
                    ],
                    className="health-table points-table",
                )
            )
        return html.Div(tables)

    def layout(self) -> html.Div:
        return html.Div(
            className="room",
            children=[
                html.Header(
                    className="room-header",
                    children=[
                        html.H1(_("TÌNH TRẠNG CÁC NGUỒN DỮ LIỆU")),
                        html.A(_("‹ Về trang tỉnh"), href="/", className="back"),
                        header_tools(),
                    ],
                ),
                html.Main(html.Div(self.table(), id=ids.HEALTH_TABLE), className="health-main"),
                *self.live.elements(feeds=self.feeds, units=[], series=[], store=ids.RT_HEALTH, served=True),
            ],
        )

    def register(self, app: Dash) -> None:
        @app.callback(
            Output(ids.HEALTH_TABLE, "children"), Input(ids.RT_HEALTH, "data"), prevent_initial_call=True
        )
        def refresh(_message: Any) -> html.Div:
            """Re-read on every pushed message (not on a timer); badges age by themselves."""
            return self.table()
