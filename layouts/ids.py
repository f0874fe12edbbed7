"""Component ids of every page, in one place."""

from __future__ import annotations

from typing import TypedDict

FEED_TABS = "feed-tabs"
KPI_PICK = "kpi-pick"
WINDOW_PICK = "window-pick"
TILES = "tiles"
MAP = "province-map"
SERIES = "series"
RANKING = "ranking"
CLOCK = "clock"
RT_CONFIG = "rt-config"
RT_MESSAGE = "rt-message"  # the provincial page's; other pages have their own
RT_HEALTH = "rt-health-message"
RT_DISTRICT = "rt-district-message"
TILE_VALUE = "tile-value"  # pattern: {"type": TILE_VALUE, "kpi": <name>}
HEALTH_TABLE = "health-table"
FEED = "feed"  # the feed a provincial page shows (a store)

# District room
D_PAGE = "district-page"  # store: {"feed", "code"}
D_TILES = "district-tiles"
D_KPI = "district-kpi"
D_WINDOW = "district-window"
D_MAP = "district-map"
D_SEARCH = "district-search"
D_SORT = "district-sort"
D_COMMUNES = "district-communes"
D_CASE_FILTER = "district-case-filter"
D_CASES = "district-cases"
ALERTS = "alert-ticker"  # filled by realtime.js from the pushed alerts

# Wall
W_TITLE = "wall-title"
W_NUMBERS = "wall-numbers"
W_MAP = "wall-map"
W_BADGE = "wall-badge"
W_PROGRESS = "wall-progress"
W_TICK = "wall-tick"
W_OPTIONS = "wall-options"  # store: {"keys", "offset"}
W_VIEWPORT = "wall-viewport"  # store: the screen's size, for the map's zoom
W_CONFIG = "wall-config"  # dimming, pixel shift and reload, for wall.js
RT_WALL = "rt-wall-message"

# The data-* attributes the pages' scripts read (and the tests find elements by). Dash's components
# take them only through **kwargs; passed as a DataAttrs, a misspelt one is a type error.
DataAttrs = TypedDict(
    "DataAttrs",
    {
        "data-config": str,  # JSON, for realtime.js and wall.js
        "data-feed": str,
        "data-code": str,
        "data-kpi": str,
        "data-lang": str,
        "data-units": str,  # the codes, space-separated, whose alerts the ticker shows
        # a number realtime.js keeps current (the wall's): where its value is, and how to write it
        "data-unit": str,
        "data-window": str,
        "data-kind": str,
    },
    total=False,
)
