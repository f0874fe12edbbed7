"""Figure builders: pure functions from data to ``go.Figure`` (no I/O, no Redis)."""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from dash import Patch
from plotly.colors import sample_colorscale

from ioc import tilemap
from ioc.annotations import Annotation
from ioc.feeds import SeriesPanel
from ioc.geo import Layer
from ioc.kpis import TZ, Kpi
from layouts import format as fmt
from layouts import theme
from layouts.geography import SCHEMATIC_NOTE
from layouts.i18n import _, current

# Our own small template instead of Plotly's default one: the default is validated into every
# figure (a third of a district callback's time) and sent with it (6.5 kB each). These are the
# few of its settings the figures here do not set themselves.
_AXIS = {"zeroline": False, "automargin": True, "ticks": "", "title": {"standoff": 15}}
pio.templates["ioc"] = go.layout.Template(
    layout={
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "hoverlabel": {"align": "left"},
        "coloraxis": {"colorbar": {"outlinewidth": 0, "ticks": ""}},
    },
    data={"choropleth": [go.Choropleth(colorbar={"outlinewidth": 0, "ticks": ""})]},
)
pio.templates.default = "ioc"

SEPARATORS = {"vi": ",.", "en": ".,"}  # Plotly's decimal then thousands separator, by language
LABEL_WEIGHT = 500  # names on a map: the rooms' own font (Be Vietnam Pro), its Medium
LEGEND = {"x": 0, "y": 0, "bgcolor": "rgba(255,255,255,0.8)"}  # a map's (its report dots'), on it
TILE_PX = 512  # a web map's tile at zoom 0: the zooms here are a web map's (MapLibre's, as the maps were)


@dataclass(frozen=True)
class MapScale:
    colorscale: list[list[Any]]
    zmin: float
    zmax: float
    title: str


def display_value(kpi: Kpi, value: float | None) -> float | None:
    """What a map or table shows: rates in percent, everything else as is."""
    if value is None:
        return None
    return value * 100 if kpi.kind == "rate" else value


def scalar(kpi: Kpi, value: Any) -> float | None:
    """One number for a tile or a map: a list (hotspots) counts its items, a breakdown sums."""
    if kpi.kind == "list":
        return None if value is None else float(len(value))
    if kpi.kind == "breakdown":
        return None if value is None else float(sum(value.values()))
    return value  # type: ignore[no-any-return]


def value_text(kpi: Kpi, value: Any, compact: bool = False) -> str:
    """A KPI's value as people read it; ``compact`` (tiles, the wall) writes a million and more
    in words: "1,2 triệu"."""
    value = scalar(kpi, value)
    if kpi.kind == "rate":
        return fmt.percent(value)
    write = fmt.compact if compact else fmt.number
    if kpi.kind in ("mean", "sum"):
        return write(value, 2 if kpi.kind == "mean" else 1)
    return write(value)


# ``goal``: the configured target the panel colours against (``ioc.targets.Goals``), None: none.


def goal_text(kpi: Kpi, goal: float) -> str:
    return fmt.percent(goal, 0) if kpi.kind == "rate" else fmt.number(goal, 1)


def target_text(kpi: Kpi, goal: float | None) -> str:
    """ "≥ 95%" (the sign kept with its number), "–" without a target."""
    if goal is None:
        return "–"
    return f"{'≤' if kpi.lower_is_better else '≥'}\u00a0{goal_text(kpi, goal)}"


def target_label(kpi: Kpi, goal: float | None) -> str:
    """ "Mục tiêu ≥ 95%" for a legend or a note, "" without a target."""
    if goal is None:
        return ""
    text = _("Mục tiêu ≤ {value}") if kpi.lower_is_better else _("Mục tiêu ≥ {value}")
    return text.format(value=goal_text(kpi, goal))


def tile_state(kpi: Kpi, value: float | None, goal: float | None) -> str:
    """How a value stands against its target: ok, warn (within 5 points) or bad; neutral
    without a target or a value."""
    if value is None or goal is None:
        return "neutral"
    gap = goal - value if kpi.lower_is_better else value - goal
    if gap >= 0:
        return "ok"
    return "warn" if gap > -0.05 else "bad"


def ranked(rows: list[tuple[str, float | None]], kpi: Kpi, *, best_first: bool = True) -> list[Any]:
    """(unit, value) rows best to worst on ``kpi`` (worst first if not ``best_first``): higher is
    better unless the KPI says lower; units without a value last."""
    descending = (not kpi.lower_is_better) == best_first
    return sorted(rows, key=lambda r: (r[1] is None, -(r[1] or 0) if descending else (r[1] or 0)))


def map_scale(kpi: Kpi, values: list[float | None], goal: float | None) -> MapScale:
    """Rates with a target are coloured from it: calm at or above it, amber then red below."""
    present = [v for v in values if v is not None]
    if goal is not None and kpi.kind == "rate":
        top = goal * 100
        zmin = max(0.0, min([top - 20, *present]))
        cut = (top - zmin) / (100 - zmin)
        scale = [[0, theme.RED], [cut * 0.6, theme.AMBER], [cut, theme.CALM], [1, theme.GOOD]]
        return MapScale(scale, zmin, 100.0, f"{kpi.unit}<br>{target_label(kpi, goal)}")
    if kpi.lower_is_better and kpi.kind == "count":
        top = max([60.0, *present])
        scale = [[0, theme.CALM], [20 / top, theme.AMBER], [1, theme.RED]]
        return MapScale(scale, 0.0, top, kpi.unit)
    top = max([1.0, *present])
    return MapScale([[0, "#eef1f5"], [1, theme.SERIES_RECEIVED]], 0.0, top, kpi.unit)


def scale_colour(scale: MapScale, value: float | None) -> str:
    """The colour a map gives ``value`` (in display units) on ``scale``; no value: "no data"."""
    if value is None:
        return theme.NO_DATA
    span = (scale.zmax - scale.zmin) or 1.0
    return str(sample_colorscale(scale.colorscale, [min(1.0, max(0.0, (value - scale.zmin) / span))])[0])


def choropleth(
    *,
    geojson_url: str,
    codes: list[str],
    names: list[str],
    values: list[float | None],
    kpi: Kpi,
    goal: float | None,
) -> dict[str, Any]:
    """Units coloured by one KPI (against ``goal``): the trace as a plain dict (no Plotly
    validation on the way)."""
    shown = [display_value(kpi, v) for v in values]
    scale = map_scale(kpi, shown, goal)
    return {
        "type": "choropleth",
        "geojson": geojson_url,
        "locationmode": "geojson-id",
        "featureidkey": "properties.code",
        "locations": codes,
        "z": shown,
        "customdata": [[n, value_text(kpi, v)] for n, v in zip(names, values, strict=True)],
        "hovertemplate": "<b>%{customdata[0]}</b><br>" + kpi.label + ": %{customdata[1]}<extra></extra>",
        "colorscale": scale.colorscale,
        "zmin": scale.zmin,
        "zmax": scale.zmax,
        "marker": {"line": {"color": "#ffffff", "width": 1.2}, "opacity": 0.92},
        "colorbar": {"title": {"text": scale.title}, "thickness": 12, "len": 0.6, "outlinewidth": 0},
    }


def province_map(
    *,
    geojson_url: str,
    codes: list[str],
    names: list[str],
    values: list[float | None],
    kpi: Kpi,
    goal: float | None,
    center: tuple[float, float],
    zoom: float,
    box_px: tuple[float, float],
) -> dict[str, Any]:
    """The districts coloured by one KPI (against ``goal``) on a blank map: what a web map
    shows at ``zoom`` around ``center`` in a box of ``box_px``. Plain dicts, as every map here:
    Plotly's graph objects check every value of every array (the outlines' thousands of points),
    most of a room's answer time."""
    trace = choropleth(geojson_url=geojson_url, codes=codes, names=names, values=values, kpi=kpi, goal=goal)
    return {"data": [trace], "layout": map_layout(geo_layout(center, zoom, box_px), "province-map")}


def map_layout(geo: dict[str, Any], revision: str, ink: str = theme.INK) -> dict[str, Any]:
    """A map's layout: ``geo``, no margins, the rooms' font; ``revision`` keeps a person's zoom
    when the figure is replaced."""
    return {
        "geo": geo,
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": theme.FONT, "color": ink},
        "hoverlabel": {"align": "left"},
        "uirevision": revision,
    }


def geo_view(center: tuple[float, float], zoom: float, box_px: tuple[float, float]) -> dict[str, Any]:
    """What a web map (Web Mercator, 512-pixel tiles) shows at ``zoom`` around ``center`` (lat,
    lon) in a box of ``box_px`` (width, height), as the longitudes and latitudes of Plotly's geo
    map in the Mercator projection. Plotly fits that box to the graph's size."""
    world = TILE_PX * 2**zoom  # pixels around the equator
    lat, lon = center
    half_lon = box_px[0] / 2 * 360 / world
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    half_y = box_px[1] / 2 * 2 * math.pi / world

    def latitude(v: float) -> float:
        return math.degrees(2 * math.atan(math.exp(v)) - math.pi / 2)

    return {
        "lonaxis": {"range": [lon - half_lon, lon + half_lon]},
        "lataxis": {"range": [latitude(y - half_y), latitude(y + half_y)]},
    }


def geo_layout(
    center: tuple[float, float], zoom: float, box_px: tuple[float, float], background: str = "#ffffff"
) -> dict[str, Any]:
    """A blank map (nothing but ``background`` under the traces: no land, coasts or frame, nothing
    fetched) showing :func:`geo_view`. Drawn by Plotly in SVG: no WebGL, no map library."""
    return {
        "projection": {"type": "mercator"},
        "visible": False,
        "bgcolor": background,
        **geo_view(center, zoom, box_px),
    }


def line_trace(geojson: bytes | str, ink: str = theme.INK, width: float = 1.5) -> dict[str, Any]:
    """A trace drawing the lines of ``geojson`` (LineStrings, or the rings of polygons) over the
    units: the groups (areas) of the units a map colours. Not clickable, no hover."""
    lon, lat = _lines(geojson if isinstance(geojson, bytes) else geojson.encode())
    return {
        "type": "scattergeo",
        "mode": "lines",
        "lon": lon,
        "lat": lat,
        "line": {"color": ink, "width": width},
        "opacity": 0.55,
        "hoverinfo": "skip",
        "showlegend": False,
    }


@functools.lru_cache(maxsize=8)
def _lines(geojson: bytes) -> tuple[list[float | None], list[float | None]]:
    """Every line of a GeoJSON as one path: longitudes and latitudes, None between lines."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    for feature in json.loads(geojson)["features"]:
        geometry = feature["geometry"]
        kind, coordinates = geometry["type"], geometry["coordinates"]
        lines = {
            "LineString": [coordinates],
            "MultiLineString": coordinates,
            "Polygon": coordinates,
            "MultiPolygon": [ring for polygon in coordinates for ring in polygon],
        }.get(kind, [])
        for line in lines:
            lon += [x for x, _y in line] + [None]
            lat += [y for _x, y in line] + [None]
    return lon, lat


def tile_px(layer: Layer, zoom: float) -> float:
    """How many pixels wide a tile of a schematic layer is at ``zoom``."""
    west, _s, east, _n = next(iter(layer.feature_bounds.values()))
    return (east - west) * 512 * 2**zoom / 360


def schematic(
    figure: dict[str, Any],
    layer: Layer,
    zoom: float,
    *,
    codes: list[str] | None = None,
    ink: str = theme.INK,
    background: str = "#ffffff",
) -> dict[str, Any]:
    """A map of the schematic tiles (``layer``, coloured by a choropleth trace of ``figure``, a
    plain dict) made readable as one: the short name of each tile of
    ``codes`` (default: all) written on it by a trace over the choropleths (under any points),
    sized to the tiles at ``zoom``; the areas' outlines over the tiles (under the names); the
    note, on the map, that it is a diagram."""
    size = max(9.0, min(16.0, tile_px(layer, zoom) * 0.23))
    shown = layer.codes if codes is None else [c for c in layer.codes if c in set(codes)]
    boxes = [layer.feature_bounds[c] for c in shown]
    labels = {
        "type": "scattergeo",
        "lon": [(b[0] + b[2]) / 2 for b in boxes],
        "lat": [(b[1] + b[3]) / 2 for b in boxes],
        "mode": "text",
        "text": [tilemap.short_name(layer.names[c]).replace("\n", "<br>") for c in shown],
        "textfont": {"family": theme.FONT, "weight": LABEL_WEIGHT, "size": round(size, 1), "color": ink},
        "hoverinfo": "skip",
        "showlegend": False,
    }
    note = {
        "text": _(SCHEMATIC_NOTE),
        "xref": "paper",
        "yref": "paper",
        "x": 0,
        "y": 1,
        "xanchor": "left",
        "yanchor": "top",
        "showarrow": False,
        "font": {"size": 13, "color": ink},
        "bgcolor": background,
        "opacity": 0.9,
        "borderpad": 4,
    }
    lines = line_trace(layer.outlines, ink, max(1.5, size / 6))
    figure["data"] = _over_choropleths(figure["data"], [lines, labels])
    figure["layout"]["geo"]["bgcolor"] = background
    figure["layout"]["annotations"] = [*figure["layout"].get("annotations", []), note]
    return figure


def _over_choropleths(traces: list[dict[str, Any]], added: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``traces`` with ``added`` right after the last choropleth: over the tiles, under points
    (and after them in the list, which keeps a click's trace number)."""
    last = max((i for i, t in enumerate(traces) if t["type"] == "choropleth"), default=-1)
    return [*traces[: last + 1], *added, *traces[last + 1 :]]


def district_map(
    *,
    geojson_url: str,
    layer: Any,
    code: str,
    names: dict[str, str],
    focus: dict[str, Any],
    points: list[dict[str, Any]] | None,
    width_px: float,
) -> dict[str, Any]:
    """A district's map: its ``focus`` trace (the district or its communes, coloured) outlined,
    the other districts of ``layer`` grey, ``points`` (open reports) on top when given, zoomed to
    the district.

    Built as plain dicts: Plotly's graph objects validated every property of every call (a third
    of the district room's answer time)."""
    others = [c for c in layer.codes if c != code]
    grey = {
        "type": "choropleth",
        "geojson": geojson_url,
        "locationmode": "geojson-id",
        "featureidkey": "properties.code",
        "locations": others,
        "z": [0] * len(others),
        "colorscale": [[0, "#e6e9ed"], [1, "#e6e9ed"]],
        "showscale": False,
        "customdata": [[names[c]] for c in others],
        "hovertemplate": "<b>%{customdata[0]}</b><br>" + _("Bấm để mở phòng huyện") + "<extra></extra>",
        "marker": {"line": {"color": "#ffffff", "width": 1.2}, "opacity": 0.9},
    }
    focus["marker"] = {"line": {"color": theme.INK, "width": 1.5}, "opacity": 0.92}
    data: list[dict[str, Any]] = [grey, focus]
    if points is not None:
        data += report_layers(points, [])
    bounds = layer.feature_bounds[code]
    minx, miny, maxx, maxy = bounds
    center = ((miny + maxy) / 2, (minx + maxx) / 2)
    geo = geo_layout(center, district_zoom(bounds, width_px), district_box(width_px))
    layout = map_layout(geo, f"district-{code}") | {"showlegend": points is not None}
    if points is not None:
        layout["legend"] = LEGEND
    return {"data": data, "layout": layout}


def district_box(width_px: float) -> tuple[float, float]:
    """The box a district's (an area's) map is fitted to, in pixels."""
    return width_px, width_px / 1.3


def district_zoom(bounds: tuple[float, float, float, float], width_px: float) -> float:
    """The zoom of a district's map: its box (min lon, min lat, max lon, max lat) fitted."""
    return fit_zoom(bounds, *district_box(width_px))


def reference_map(
    *, geojson_url: str, layer: Any, zoom: float, box_px: tuple[float, float], dark: bool = False
) -> dict[str, Any]:
    """The former districts (2025 scheme: no district units, no commune polygons), grey and named,
    for orientation only: nothing on it is a KPI."""
    fill = "#1b2940" if dark else "#e6e9ed"
    names = [layer.names.get(c, c) for c in layer.codes]
    trace = {
        "type": "choropleth",
        "geojson": geojson_url,
        "locationmode": "geojson-id",
        "featureidkey": "properties.code",
        "locations": layer.codes,
        "z": [0] * len(layer.codes),
        "colorscale": [[0, fill], [1, fill]],
        "showscale": False,
        "customdata": [[n] for n in names],
        "hovertemplate": "<b>%{customdata[0]}</b><br>"
        + _("Huyện cũ (trước 01/7/2025), để tham khảo")
        + "<extra></extra>",
        "marker": {"line": {"color": "#8a97a6" if not dark else "#3b4a5c", "width": 1}, "opacity": 0.9},
    }
    geo = geo_layout(layer.center, zoom, box_px, theme.WALL_BACKGROUND if dark else "#ffffff")
    ink = theme.WALL_INK if dark else theme.INK
    return {"data": [trace], "layout": map_layout(geo, "reference-map", ink)}


def trace_patch(fresh: Any, props: tuple[str, ...], patch: Patch | None = None) -> Patch:
    """A Patch that gives the shown figure's first trace these properties of ``fresh``: new
    colours on the same map, so the browser keeps its map (and a user's zoom) instead of a new one."""
    patch = patch if patch is not None else Patch()
    for prop in props:
        patch["data"][0][prop] = fresh[prop]
    return patch


def fit_zoom(
    bounds: tuple[float, float, float, float], width_px: float, height_px: float, pad: float = 0.3
) -> float:
    """The map zoom that fits ``bounds`` (min lon, min lat, max lon, max lat) in a box of pixels."""
    minx, miny, maxx, maxy = bounds
    across = math.log2(width_px * 360 / (512 * max(maxx - minx, 0.01)))
    down = math.log2(height_px * 360 / (512 * max(maxy - miny, 0.01)))
    return min(across, down) - pad


def mark_label(mark: Annotation) -> str:
    """A band's label: the holiday, "Nguồn … ngừng" for an outage, an event's title."""
    if mark.kind == "outage":
        return _("Ngừng nhận số liệu")
    return mark.title[:40]


def series_axis(start_iso: str, hours: int) -> list[datetime]:
    start = datetime.fromisoformat(start_iso)
    return [start + timedelta(hours=h) for h in range(hours)]


def hourly_series(
    doc: dict[str, Any] | None,
    as_of_iso: str | None,
    panel: SeriesPanel,
    missing: str = "",
    marks: Sequence[Annotation] = (),
    week_before: dict[str, Any] | None = None,
) -> go.Figure:
    """A feed's hourly measures (dossiers received and resolved, ...), with today shaded and
    ``marks`` (holidays, outages, events) as labelled bands; ``missing``: what the panel says
    without a series (none yet, or a room in the past); ``week_before``: the same hours a week
    earlier, drawn dotted over them (after the measures' traces, which pushes patch by index)."""
    unit = _(panel.unit)
    figure = go.Figure()
    if not doc:  # an axis without dates: nothing to shade either
        figure.add_annotation(
            text=missing or _("Chưa có chuỗi theo giờ."),
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
            font={"color": theme.MUTED},
        )
        as_of_iso = None
    drawn = [(doc, 0, "{measure}", False)] if doc else []
    if doc and week_before:  # the same hours a week earlier, moved onto this week's, dotted
        drawn.append((week_before, 7, _("{measure}, tuần trước"), True))
    for series, days_back, naming, dotted in drawn:
        begin = (datetime.fromisoformat(series["start"]) + timedelta(days=days_back)).isoformat()
        x = series_axis(begin, len(series[panel.measures[0][0]])) if panel.measures else []
        for key, label, role in panel.measures:
            name = naming.format(measure=_(label))
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=series[key],
                    name=name,
                    mode="lines",
                    opacity=0.55 if dotted else 1.0,
                    line={
                        "color": theme.SERIES_COLOURS[role],
                        "width": 1.2 if dotted else 1.6,
                        "shape": "hv",
                        "dash": "dot" if dotted else "solid",
                    },
                    hovertemplate="%{x|%d/%m %H:00}: %{y} "
                    + unit.split(" /")[0]
                    + "<extra>"
                    + name
                    + "</extra>",
                )
            )
    if as_of_iso:
        now = datetime.fromisoformat(as_of_iso).astimezone(TZ)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        figure.add_vrect(x0=midnight, x1=now, fillcolor="#e8eef7", line_width=0, layer="below")
        first = datetime.fromisoformat(doc["start"]).astimezone(TZ) if doc else now
        for mark in marks:
            start, end = max(mark.start.astimezone(TZ), first), min(mark.end.astimezone(TZ), now)
            if end <= start:
                continue
            figure.add_vrect(
                x0=start,
                x1=end,
                fillcolor=theme.MARK_COLOURS[mark.kind],
                opacity=0.35,
                line_width=0,
                layer="below",
                annotation_text=mark_label(mark),
                annotation_position="top left",
                annotation_font={"size": 10, "color": theme.MUTED},
            )
    figure.update_layout(
        margin={"l": 48, "r": 12, "t": 8, "b": 36},
        height=220,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": theme.FONT, "color": theme.INK, "size": 12},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        yaxis={"title": {"text": unit}, "gridcolor": "#e3e7eb", "rangemode": "tozero"},
        xaxis={"tickformat": "%d/%m", "gridcolor": "#eef1f4"},
        separators=SEPARATORS[current()],
        uirevision="series",
    )
    return figure


def report_layers(points: list[dict[str, Any]], spots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open field reports as dots (overdue in red) and hotspots as rings sized by their count."""

    def dots(rows: list[dict[str, Any]], colour: str, name: str) -> dict[str, Any]:
        return {
            "type": "scattergeo",
            "lat": [p["lat"] for p in rows],
            "lon": [p["lon"] for p in rows],
            "mode": "markers",
            "marker": {"size": 6, "color": colour, "opacity": 0.75},
            "name": name,
            "text": [f"{p['id']} · {p['severity']}" for p in rows],
            "hovertemplate": "%{text}<extra>" + name + "</extra>",
        }

    late = [p for p in points if p.get("overdue")]
    layers = [dots([p for p in points if not p.get("overdue")], theme.REPORT_POINT, _("Đang mở"))]
    layers.append(dots(late, theme.REPORT_OVERDUE, _("Quá hạn")))
    layers.append(
        {
            "type": "scattergeo",
            "lat": [s["lat"] for s in spots],
            "lon": [s["lon"] for s in spots],
            "mode": "markers",
            "marker": {
                "size": [10 + min(30, s["count"]) for s in spots],
                "color": theme.HOTSPOT,
                "opacity": 0.45,
            },
            "name": _("Điểm nóng"),
            "text": [_("{n} phản ánh trong 30 ngày").format(n=s["count"]) for s in spots],
            "hovertemplate": "%{text}<extra>" + _("Điểm nóng") + "</extra>",
        }
    )
    return layers


def daily_trend(hourly: list[float], decimals: int = 0) -> tuple[list[float], str]:
    """Daily totals of an hourly series (the last day ends now), and the last 24 hours against
    the 24 before them: "12 ▲ 50%", "3 =", or just the number when there is nothing to compare."""
    if not hourly:
        return [], "–"
    daily = [sum(hourly[max(0, end - 24) : end]) for end in range(len(hourly), 0, -24)][::-1]
    last, before = sum(hourly[-24:]), sum(hourly[-48:-24])
    text = fmt.number(last, decimals)
    if before == 0:
        return daily, text
    if last == before:
        return daily, f"{text} ="
    change = (last - before) / before
    return daily, f"{text} {'▲' if change > 0 else '▼'} {fmt.number(abs(change) * 100)}%"


def sparkline_svg(values: list[float], width: int = 84, height: int = 22) -> str:
    """A tiny trend line as an inline SVG data URI: no figure, no request."""
    if len(values) < 2:  # nothing to draw, at the size of a line (an empty SVG is 300×150)
        empty = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"/>'
        return "data:image/svg+xml;base64," + base64.b64encode(empty.encode()).decode()
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<polyline fill="none" stroke="{theme.SERIES_RECEIVED}" stroke-width="1.5" points="{points}"/></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
