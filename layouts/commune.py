"""The commune room (``/commune/<code>``, in both schemes): one commune's or ward's tiles for the
chosen feed, its hourly series, its place on the map among its area's (or district's) communes,
and its work list: the overdue dossiers and field reports of its parent's list that are its own.

It shares the district and area room's reads, checks, map and work lists (``layouts.district``);
what it adds is the series and where the commune stands: its area, the old units it took from
another former district, and whether its figures are approximate. A duty officer of a commune
sees its neighbours on the map uncoloured: their figures are outside the scope, so never read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from dash import dcc, html

from ioc import login
from ioc.feeds import POINTS_FIELD, FeedSpec
from layouts import figures, ids, past, theme
from layouts import format as fmt
from layouts.district import (
    Choice,
    RoomIds,
    RoomRead,
    UnitRoom,
    split_note,
)
from layouts.geography import APPROXIMATE_TITLE
from layouts.i18n import _
from layouts.live import fresh_badge
from layouts.province import series_marks, series_panel, week_before
from layouts.room_data import DEFAULT_WINDOW, feed_query, fetch_room

OUTLINE_PX = 4  # the commune's own outline among its neighbours'
SERIES_HEIGHT_PX = 300  # beside the map, above what the room says of the commune


class CommunePage(UnitRoom):
    """One commune's room; its area's (or district's) communes are its map."""

    IDS: ClassVar[RoomIds] = RoomIds(
        ids.C_PAGE,
        ids.C_TILES,
        ids.C_KPI,
        ids.C_WINDOW,
        ids.C_MAP,
        ids.C_CASE_FILTER,
        ids.C_CASES,
        ids.RT_COMMUNE,
        ids.C_COMPARE,
    )
    CHOICES: ClassVar[tuple[tuple[str, str | None, str], ...]] = (
        ("kpi", None, ids.C_KPI),
        ("window", None, ids.C_WINDOW),
        ("f", "", ids.C_CASE_FILTER),
        ("compare", "", ids.C_COMPARE),
    )
    SIDE: ClassVar[tuple[str, str]] = (ids.C_SERIES, "figure")

    def __post_init__(self) -> None:
        super().__post_init__()
        frame = self.units.frame
        self.population: dict[str, int | None] = dict(
            zip(frame["code"].to_list(), frame["pop_2019"].to_list(), strict=True)
        )

    @property
    def level(self) -> str:
        return "commune"

    def fetch(self, spec: FeedSpec, code: str, window: str, at: datetime | None = None) -> RoomRead:
        """One read per feed: the shown feed's documents (the province's for its KPIs, the
        commune's, those of its area's communes this person may see, for the map), its series
        and open reports, and each work list's case list of its area."""
        area = self.units.parent(code) or self.units.province
        person = login.user()
        seen = [c for c in self.focus(area)[0] if c == code or person.sees_kpis(c, self.units)]
        data = fetch_room(
            self.reader,
            spec.name,
            docs=[(self.units.province, DEFAULT_WINDOW), *((u, window) for u in [code, area, *seen])],
            series=[code],
            extras=[*([POINTS_FIELD] if spec.has_points else []), *self.case_fields(spec, code)],
            at=at,
        )
        return self.read(spec, code, data, in_past=at is not None)

    def alert_units(self, code: str) -> list[str]:
        return [self.units.parent(code) or self.units.province, code]

    def live_units(self, code: str) -> list[str]:
        return [code]

    def map_notes(self, room: RoomRead) -> list[Any]:
        area = self.units.parent(room.code) or self.units.province
        names = {"area": self.units.name(area), "name": self.units.name(room.code)}
        if self.communes is None:
            note = _("Chưa có ranh giới xã, phường: bản đồ tô màu {area}, nơi có {name}.").format(**names)
        else:
            note = _("{name}: viền đậm, giữa các xã, phường của {area}.").format(**names)
        return [html.Div(note, className="map-note")]

    def side(self, room: RoomRead, choice: Choice) -> list[Any]:
        """Its hourly series, and where it stands: its area (or district), its population, the
        old units it took from another former district, its approximate figures."""
        spec, code = room.view.spec, room.code
        area = self.units.parent(code) or self.units.province
        opens = area in self.paths and login.user().sees_cases(area, self.units)
        about: list[Any] = [
            html.Li(
                [
                    _("Thuộc"),
                    " ",
                    dcc.Link(
                        self.units.name(area), href=self.paths[area] + feed_query(spec.name), refresh=True
                    )
                    if opens
                    else self.units.name(area),
                ]
            )
        ]
        population = self.population.get(code)
        if population is not None:
            said = (
                _("Dân số ước tính: {n} người")
                if code in self.units.estimated_population
                else _("Dân số (2019): {n} người")
            )
            about.append(html.Li(said.format(n=fmt.number(population))))
        if code in self.units.approximate:
            about.append(html.Li(_(APPROXIMATE_TITLE)))
        return [
            html.H2(_("{name}: theo giờ, 7 ngày qua").format(name=self.units.name(code))),
            fresh_badge(spec.name),
            dcc.Graph(
                id=ids.C_SERIES,
                figure=self.series_figure(room, choice.compare),
                config={"displayModeBar": False, "locale": "vi"},
            ),
            html.Ul(about, className="commune-about"),
            *split_note(self.units, [code]),
        ]

    def side_update(self, room: RoomRead, choice: Choice) -> Any:
        return self.series_figure(room, choice.compare)

    def series_figure(self, room: RoomRead, compare: str = "") -> Any:
        """The commune's hourly series; comparing with last week, the week before under it."""
        doc = room.view.data.series.get(room.code)
        as_of = (room.view.data.meta or {}).get("as_of")
        marks = series_marks(self.marks, room.view.spec.name, doc, as_of, self.units, room.code)
        before = week_before(self.reader, room.view.spec.name, room.code, compare if doc else "")
        panel = series_panel(room.view.spec)
        figure = figures.hourly_series(doc, as_of, panel, past.series_note(), marks, before)
        figure.update_layout(height=SERIES_HEIGHT_PX)
        return figure

    def room_map(self, room: RoomRead, path: str, window: str) -> dict[str, Any]:
        """The commune's area (or district) as its room draws it, the commune outlined on top of
        its neighbours when the commune layer has it (under the open reports)."""
        area = self.units.parent(room.code) or self.units.province
        figure = self.unit_map(room, path, window, area)
        if self.communes is not None and room.code in self.communes.codes:
            figure["data"].insert(
                2,
                {
                    "type": "choropleth",
                    "geojson": self.communes_url,
                    "locationmode": "geojson-id",
                    "featureidkey": "properties.code",
                    "locations": [room.code],
                    "z": [0],
                    "colorscale": [[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
                    "showscale": False,
                    "hoverinfo": "skip",
                    "marker": {"line": {"color": theme.INK, "width": OUTLINE_PX}},
                },
            )
        return figure
