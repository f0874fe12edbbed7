"""The wall (``/wall``): a dark screen for the provincial operations room, read from 5 m.

Title and clock on top, the map large in the centre, at most six big numbers beside it, the alert
ticker at the bottom. Scenes rotate by themselves (``layouts/scenes.py``): the worst breach first,
then each feed, then a tour of the districts (of the areas in the 2025 scheme). Each rotation is
one server callback that patches the same map (new colours, outline and zoom), so a wall that runs
for days holds one map, not one per scene. Between rotations the numbers follow the relay's pushes
(``realtime.js``, ``.live-value``); dimming at night, the pixel shift and the daily soft reload are
``wall.js``'s.

Every setting of ``[wall]`` can be overridden per screen in the address, so screens side by side
can show different scenes: ``/wall?scenes=districts&offset=4&interval=30``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html, no_update
from pydantic import ValidationError

from ioc.annotations import Annotations, lineage
from ioc.config import WallSettings
from ioc.documents import ScorecardAnswer
from ioc.feeds import FeedSpec
from ioc.geo import Layer
from ioc.kpis import Kpi
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import figures, ids, past, theme
from layouts import format as fmt
from layouts.geography import map_areas
from layouts.i18n import DEFAULT, LANGS, _, current, using
from layouts.live import Live, fresh_badge
from layouts.room_data import entry
from layouts.scenes import Number, Scene, WallPlan
from layouts.scorecard_data import BadRequest, Scorecards
from layouts.scorecard_wall import wall_panel

# The map's share of the screen, as laid out in style.css (.wall-main): the zoom is fitted to it.
MAP_WIDTH_SHARE = 0.56
MAP_HEIGHT_SHARE = 0.76
# The left of the map's panel holds its colour bar, beside the map and never over it.
LEGEND_SHARE = 0.2
LONG_NUMBER = 6  # characters from which a number is sized to its card (the CSS class "long")


class Viewport(TypedDict):
    """The screen's size in CSS pixels, as the browser reports it (``W_VIEWPORT``)."""

    w: float
    h: float


DEFAULT_VIEWPORT: Viewport = {"w": 1920, "h": 1080}
# Address parameters -> settings; "dim" is "22:00-06:00" or "off", "reload" a time or "off".
QUERY = {"interval": "interval_s", "scenes": "scenes", "shift": "shift_every_s", "reload": "reload_at"}
EXAMPLE = (
    "/wall?interval=20&scenes=exceptions,feeds,districts&offset=0&dim=22:00-06:00&shift=180&reload=04:00"
)


class BadWallAddress(ValueError):
    """A screen's address asks for something the wall cannot do; the message says what."""


def screen_options(settings: WallSettings, query: dict[str, str]) -> tuple[WallSettings, int]:
    """The wall's settings with this screen's overrides, and its offset in the rotation."""
    allowed = {*QUERY, "dim", "offset", "lang", "at"}  # at: what the wall showed then (layouts/past.py)
    if unknown := sorted(set(query) - allowed):
        raise BadWallAddress(
            _("không có tham số “{name}”; dùng: {known}").format(
                name=unknown[0], known=", ".join(sorted(allowed))
            )
        )
    raw = settings.model_dump()
    for name, value in query.items():
        if name == "scenes":
            raw["scenes"] = [s.strip() for s in value.split(",") if s.strip()]
        elif name == "reload":
            raw["reload_at"] = None if value == "off" else value
        elif name == "dim" and value == "off":
            raw["dim_brightness"] = 1.0
        elif name == "dim":
            raw["dim_from"], _sep, raw["dim_to"] = value.partition("-")
        elif name == "lang" and value not in LANGS:
            raise BadWallAddress(f"lang={value!r}: " + _("dùng {known}").format(known=" / ".join(LANGS)))
        elif name in QUERY:
            raw[QUERY[name]] = value
    try:
        wall = WallSettings.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0])
        param = next((q for q, s in QUERY.items() if s == field), "dim")
        raise BadWallAddress(f"{param}={query.get(param, '')!r}: {error['msg']}") from None
    offset = query.get("offset", "0")
    if not offset.isdigit():
        raise BadWallAddress(f"offset={offset!r}: " + _("cần một số nguyên ≥ 0"))
    return wall, int(offset)


@dataclass
class WallPage:
    reader: SnapshotReader
    units: UnitTable
    layer: Layer
    specs: dict[str, FeedSpec]
    geojson_url: str
    live: Live
    goals: Goals
    settings: WallSettings
    scorecards: Scorecards | None = None
    marks: Annotations | None = None  # holidays, outages and events at the wall's moment

    def plan(self, at: datetime | None = None) -> WallPlan:
        return WallPlan(
            self.reader, self.units, self.layer, self.specs, self.goals, scorecard=self.province_index, at=at
        )

    def province_index(self) -> ScorecardAnswer | None:
        """The province's 766 index this month, or None while it cannot be scored."""
        if self.scorecards is None:
            return None
        try:
            return self.scorecards.answer(self.units.province)
        except BadRequest:
            return None

    def layout(self, **query: str) -> html.Div:
        asked = query.get("lang")
        with using(asked if asked in LANGS else current()):
            return self._layout(query)

    def _layout(self, query: dict[str, str]) -> html.Div:
        try:
            wall, offset = screen_options(self.settings, query)
        except BadWallAddress as exc:
            return html.Div(
                className="wall wall-error",
                children=[
                    html.H1(_("Địa chỉ màn hình không hợp lệ")),
                    html.P(str(exc)),
                    html.P(_("Ví dụ: {example}").format(example=EXAMPLE)),
                ],
            )
        viewing = past.Viewing.of(query.get("at"))  # what the wall showed then
        plan = self.plan(viewing.at)  # one per render: it reads what the scene shows once
        keys = plan.keys(list(wall.scenes))
        index = offset % len(keys)
        scene = plan.scene(keys[index])
        if not viewing.live:
            past.use(viewing, plan.meta(scene.feed), {f: plan.meta(f) for f in self.specs})
        config = {
            "dim_from": wall.dim_from.isoformat(),
            "dim_to": wall.dim_to.isoformat(),
            "dim_brightness": wall.dim_brightness,
            "shift_every_s": wall.shift_every_s,
            "shift_px": wall.shift_px,
            "reload_at": wall.reload_at.isoformat() if wall.reload_at else None,
        }
        return html.Div(
            className="wall" if viewing.live else "wall in-past",
            children=[
                *past.banner(viewing, plan.meta(scene.feed), past.live_href("/wall", **query_kept(query))),
                html.Header(
                    className="wall-header",
                    children=[
                        html.Div(
                            [
                                html.Div(
                                    _("TỈNH TÂY NINH · TRUNG TÂM GIÁM SÁT, ĐIỀU HÀNH THÔNG MINH"),
                                    className="wall-org",
                                ),
                                html.H1(scene.title, id=ids.W_TITLE, className="wall-title"),
                            ]
                        ),
                        html.Div(fresh_badge(scene.feed), id=ids.W_BADGE, className="wall-badge"),
                        html.Div(fmt.date_time(datetime.now(UTC)), id=ids.CLOCK, className="wall-clock"),
                        # what explains the numbers now: a holiday, an outage, an event (a row of its own)
                        html.Div(self.marks_at(scene, viewing.at), id=ids.W_MARKS, className="wall-marks"),
                    ],
                ),
                html.Main(
                    id=ids.W_MAIN,
                    className=main_class(scene),
                    children=[
                        dcc.Graph(
                            id=ids.W_MAP,
                            figure=self.map_figure(plan, scene, DEFAULT_VIEWPORT),
                            config={"displayModeBar": False, "staticPlot": True},
                            className="wall-map",
                        ),
                        html.Div(self.numbers(scene), id=ids.W_NUMBERS, className="wall-numbers"),
                        html.Div(
                            self.scorecard_panel(scene, DEFAULT_VIEWPORT),
                            id=ids.W_SCORECARD,
                            className="wall-scorecard",
                        ),
                    ],
                ),
                html.Footer(
                    className="wall-footer",
                    children=[
                        html.Div(
                            html.Div(className="alert-ticker wall-ticker read-only", id=ids.ALERTS),
                            className="wall-ticker-frame",
                        ),
                        html.Div(
                            [
                                html.Span(
                                    [
                                        html.Span(_(spec.title), className="wall-feed"),
                                        fresh_badge(f),
                                    ]
                                )
                                for f, spec in self.specs.items()
                            ],
                            className="wall-fresh",
                        ),
                        html.Div(f"{index + 1} / {len(keys)}", id=ids.W_PROGRESS, className="wall-progress"),
                        html.Span(_("Mất kết nối trực tiếp, đang kết nối lại…"), className="offline-note"),
                        html.Div(theme.attribution(current()), className="wall-attribution"),
                    ],
                ),
                dcc.Interval(id=ids.W_TICK, interval=wall.interval_s * 1000),
                dcc.Store(
                    id=ids.W_OPTIONS,
                    data={"keys": keys, "offset": offset, "lang": current(), "at": viewing.text},
                ),
                dcc.Store(id=ids.W_VIEWPORT),
                html.Div(id=ids.W_CONFIG, hidden=True, **ids.DataAttrs({"data-config": json.dumps(config)})),
                *(
                    self.live.elements(
                        feeds=list(self.specs),
                        units=plan.read_units,  # every unit a scene may show a number of
                        series=[],
                        store=ids.RT_WALL,
                    )
                    if viewing.live
                    else []  # no pushes: they would write today's numbers over the past's
                ),
            ],
        )

    def marks_at(self, scene: Scene, at: datetime | None) -> list[html.Span]:
        """What explains the figures at the wall's moment (now, or the instant it shows): the
        holiday of the day, an outage of the scene's feed, the events about it and its unit."""
        if self.marks is None:
            return []
        now = datetime.now(UTC)
        moment = at or now
        feeds = [scene.feed] if scene.feed in self.specs else list(self.specs)
        unit = scene.focus or self.units.province
        found = self.marks.between(
            moment,
            moment,
            feeds,
            now,
            units=lineage(self.units, unit),
            lang="en_US" if current() == "en" else "vi",
        )
        return [
            html.Span(
                [
                    html.Span(className="wall-mark-dot", style={"background": theme.MARK_COLOURS[a.kind]}),
                    a.title,
                ],
                className=f"wall-mark {a.kind}",
                title=a.note or None,
            )
            for a in found
        ]

    def numbers(self, scene: Scene) -> list[html.Div]:
        return [self._number(n) for n in scene.numbers]

    @staticmethod
    def scorecard_panel(scene: Scene, viewport: Viewport) -> list[Any]:
        """The scorecard scene's panel over the map and the numbers (empty in other scenes)."""
        return wall_panel(scene.scorecard, viewport["h"]) if scene.key == "scorecard" else []

    @staticmethod
    def _number(number: Number) -> html.Div:
        live: ids.DataAttrs = (
            {
                "data-feed": number.feed,
                "data-unit": number.unit,
                "data-window": number.window,
                "data-kpi": number.kpi,
                "data-kind": number.kind,
            }
            if number.feed
            else {}
        )
        return html.Div(
            className=f"wall-number {number.state}",
            children=[
                html.Div(number.label, className="wall-number-label"),
                html.Div(
                    [
                        html.Span(
                            number.text,
                            className="wall-number-value"
                            + (" long" if len(number.text) >= LONG_NUMBER else "")
                            + (" live-value" if live else ""),
                            **live,
                        ),
                        html.Span(number.suffix, className="wall-number-unit"),
                    ],
                    className="wall-number-line",
                ),
                html.Div(number.note, className="wall-number-note"),
            ],
        )

    def map_figure(self, plan: WallPlan, scene: Scene, viewport: Viewport) -> go.Figure:
        """The districts coloured by the scene's KPI, its district outlined, on a dark blank map
        (in the 2025 scheme the areas on their former districts' polygons; configured areas have
        none: the former districts, grey, and the numbers say where), from what ``plan`` read for
        the scene."""
        if not map_areas(self.units, self.layer)[1]:
            box = (viewport["w"] * MAP_WIDTH_SHARE, viewport["h"] * MAP_HEIGHT_SHARE)
            return figures.reference_map(
                geojson_url=self.geojson_url,
                layer=self.layer,
                zoom=figures.fit_zoom(self.layer.bounds, *box, 0.15),
                box_px=box,
                dark=True,
            )
        kpi = plan.kpi(scene.feed, scene.map_kpi) or Kpi(scene.map_kpi, "count", scene.map_kpi, "")
        goal = self.goals.goal(scene.feed, scene.map_kpi, self.units.province)
        docs = plan.docs(scene.feed, scene.window)
        codes = self.layer.codes
        names = self.units.names()
        values = [figures.scalar(kpi, entry(docs.get(c), scene.map_kpi).get("value")) for c in codes]
        zoomed = scene.zoom and scene.focus in self.layer.feature_bounds
        bounds = self.layer.feature_bounds[scene.focus] if zoomed and scene.focus else self.layer.bounds
        width = viewport["w"] * MAP_WIDTH_SHARE * (1 - LEGEND_SHARE)
        height = viewport["h"] * MAP_HEIGHT_SHARE
        figure = figures.province_map(
            geojson_url=self.geojson_url,
            codes=codes,
            names=[names[c] for c in codes],
            values=values,
            kpi=kpi,
            goal=goal,
            center=((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2),
            zoom=figures.fit_zoom(bounds, width, height, pad=0.8 if zoomed else 0.15),
            box_px=(width, height),
        )
        focused = [c == scene.focus for c in codes]
        trace, layout = figure["data"][0], figure["layout"]
        trace["marker"] = {
            "line": {
                "width": [max(4.0, viewport["h"] / 270) if f else 1.0 for f in focused],
                "color": [theme.WALL_INK if f else theme.WALL_LINE for f in focused],
            },
            "opacity": [0.95 if f or not scene.zoom else 0.35 for f in focused],
        }
        trace["colorbar"] |= {
            "title": {
                "text": f"{kpi.label} ({kpi.unit})<br>{figures.target_label(kpi, goal)}",
                "side": "top",
            },
            "thickness": max(12, viewport["h"] / 70),
            "len": 0.5,
            "x": 0,
            "xanchor": "left",
            "tickfont": {"size": max(14, viewport["h"] / 60)},
        }
        layout["geo"] |= {"domain": {"x": [LEGEND_SHARE, 1], "y": [0, 1]}, "bgcolor": theme.WALL_BACKGROUND}
        layout["font"] |= {"color": theme.WALL_INK, "size": max(14, viewport["h"] / 60)}
        layout.pop("uirevision")
        return figure

    def register(self, app: Dash) -> None:
        # The screen's size, once: the map's zoom is fitted to it (1920×1080, 3840×2160, ...).
        app.clientside_callback(  # type: ignore[no-untyped-call]  # dash 4 leaves it unannotated
            "function () { return {w: window.innerWidth, h: window.innerHeight}; }",
            Output(ids.W_VIEWPORT, "data"),
            Input(ids.W_OPTIONS, "data"),
        )

        @app.callback(
            Output(ids.W_TITLE, "children"),
            Output(ids.W_NUMBERS, "children"),
            Output(ids.W_MAP, "figure"),
            Output(ids.W_BADGE, "children"),
            Output(ids.W_PROGRESS, "children"),
            Output(ids.W_SCORECARD, "children"),
            Output(ids.W_MAIN, "className"),
            Output(ids.W_MARKS, "children"),
            Input(ids.W_TICK, "n_intervals"),
            Input(ids.W_VIEWPORT, "data"),
            State(ids.W_OPTIONS, "data"),
            prevent_initial_call=True,
        )
        def rotate(n: int | None, viewport: Viewport | None, options: dict[str, Any]) -> tuple[Any, ...]:
            """The next scene, patched into the same map and panels."""
            keys = options["keys"]
            index = (options["offset"] + (n or 0)) % len(keys)
            with using(options.get("lang", DEFAULT)):  # this screen's, whatever other tabs chose
                viewing = past.Viewing.of(options.get("at"))
                plan = self.plan(viewing.at)
                scene = plan.scene(keys[index])
                if not viewing.live:
                    past.use(viewing, plan.meta(scene.feed), {f: plan.meta(f) for f in self.specs})
                numbers = self.numbers(scene)
                marks = self.marks_at(scene, viewing.at)
                board = self.scorecard_panel(scene, viewport or DEFAULT_VIEWPORT)
                # the scorecard's scene covers the map: it keeps the last one it drew
                fresh = (
                    None
                    if scene.key == "scorecard"
                    else self.map_figure(plan, scene, viewport or DEFAULT_VIEWPORT)
                )
            patch: Any = no_update
            if fresh is not None:
                props = (
                    "z",
                    "customdata",
                    "hovertemplate",
                    "colorscale",
                    "zmin",
                    "zmax",
                    "colorbar",
                    "marker",
                )
                patch = figures.trace_patch(fresh["data"][0], props)
                patch["layout"]["geo"]["lonaxis"]["range"] = fresh["layout"]["geo"]["lonaxis"]["range"]
                patch["layout"]["geo"]["lataxis"]["range"] = fresh["layout"]["geo"]["lataxis"]["range"]
            progress = f"{index + 1} / {len(keys)}"
            return (
                scene.title,
                numbers,
                patch,
                fresh_badge(scene.feed),
                progress,
                board,
                main_class(scene),
                marks,
            )


def query_kept(query: dict[str, str]) -> dict[str, str]:
    """The wall's address without its instant: what "back to live" opens."""
    return {k: v for k, v in query.items() if k != past.PARAM}


def main_class(scene: Scene) -> str:
    """The scorecard's scene shows its panel over the map and the numbers (the map stays drawn
    beneath, so the next scene patches it as every scene does)."""
    return "wall-main scorecard-on" if scene.key == "scorecard" else "wall-main"
