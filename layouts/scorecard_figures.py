"""The scorecard's one figure: the weekly total over the kept weeks beside the national mean, the
portal's official totals as a line and our live estimate as a dashed one. Pure: an answer's trend
in, a figure out, as a plain dict (Plotly's validation of a ``go.Figure`` cost most of a render,
as for the maps' traces in ``layouts/figures.py``)."""

from __future__ import annotations

from typing import Any

from ioc.documents import TrendPoint
from layouts import theme
from layouts.figures import SEPARATORS
from layouts.i18n import _, current

OFFICIAL = "#2f4f7a"
ESTIMATE = "#4c6a92"
MEAN = "#9aa5b1"
WALL_OFFICIAL = "#8fb8ff"
WALL_ESTIMATE = "#c3d6f5"
WALL_MEAN = "#8fa1b6"


def trend_figure(trend: list[TrendPoint], *, name: str, wall_height: float | None = None) -> dict[str, Any]:
    """``trend``'s weeks by their Monday; ``wall_height`` (the screen's height in pixels) draws it
    dark and large for the wall, else light for a room. A line without any value is left out."""
    wall = wall_height is not None
    scale = (wall_height or 0) / 1080  # the wall's lines as thick at 3840×2160 as at 1920×1080
    x = [p["start"] for p in trend]
    points = _("điểm (thang 100)")
    lines = [
        (
            [p["total"] for p in trend],
            _("{name} (chính thức)").format(name=name),
            {"color": WALL_OFFICIAL if wall else OFFICIAL, "width": 3 * scale if wall else 2.2},
            "lines+markers",
        ),
        (
            [p["estimate"] for p in trend],
            _("{name} (ước tính)").format(name=name),
            {
                "color": WALL_ESTIMATE if wall else ESTIMATE,
                "width": 2.5 * scale if wall else 1.8,
                "dash": "dash",
            },
            "lines",
        ),
        (
            [p["national_mean"] for p in trend],
            _("Bình quân cả nước"),
            {"color": WALL_MEAN if wall else MEAN, "width": 2 * scale if wall else 1.5},
            "lines",
        ),
    ]
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": y,
            "name": label,
            "mode": mode,
            "line": line,
            "marker": {"size": 7 * scale if wall else 5},
            "connectgaps": False,
            "hovertemplate": "%{x|%d/%m/%Y}: %{y:.1f}<extra>" + label + "</extra>",
        }
        for y, label, line, mode in lines
        if any(v is not None for v in y)
    ]
    grid = "#24324a" if wall else "#e3e7eb"
    layout = {
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {
            "family": theme.FONT,
            "color": theme.WALL_INK if wall else theme.INK,
            "size": max(14.0, wall_height / 55) if wall_height else 12.0,
        },
        "showlegend": True,  # a unit's one line too: the legend says what it is
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "yaxis": {"title": {"text": points}, "gridcolor": grid, "zeroline": False, "automargin": True},
        "xaxis": {"type": "date", "tickformat": "%d/%m", "gridcolor": grid, "automargin": True},
        "separators": SEPARATORS[current()],
        "hovermode": False if wall else "x unified",
    }
    if not wall:
        layout["height"] = 260
    return {"data": data, "layout": layout}
