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
COMPARE = "compare-pick"  # the province room's comparison (week, year, none)
COMPARE_TICK = "compare-tick"  # pushes while comparing: the server redraws (throttled)
AT = "viewing-at"  # the instant a province room shows (None: live)
AT_FIELD = "at-field"  # the header's time control
RANKING_EXPORT = "ranking-export"  # its download links, redrawn with the KPI and window
CLOCK = "clock"
RT_CONFIG = "rt-config"
RT_MESSAGE = "rt-message"  # the provincial page's; other pages have their own
RT_HEALTH = "rt-health-message"
RT_DISTRICT = "rt-district-message"  # the district or area room's
RT_COMMUNE = "rt-commune-message"
TILE_VALUE = "tile-value"  # pattern: {"type": TILE_VALUE, "kpi": <name>}
HEALTH_TABLE = "health-table"
FEED = "feed"  # the feed a provincial page shows (a store)

# District room (an area's in the 2025 scheme)
D_PAGE = "district-page"  # store: {"feed", "code", "path"}
D_TILES = "district-tiles"
D_KPI = "district-kpi"
D_WINDOW = "district-window"
D_MAP = "district-map"
D_SEARCH = "district-search"
D_SORT = "district-sort"
D_COMMUNES = "district-communes"
D_CASE_FILTER = "district-case-filter"
D_CASES = "district-cases"
D_COMPARE = "district-compare"
ALERTS = "alert-ticker"  # filled by realtime.js from the pushed alerts

# Commune room
C_PAGE = "commune-page"  # store: {"feed", "code", "path"}
C_TILES = "commune-tiles"
C_KPI = "commune-kpi"
C_WINDOW = "commune-window"
C_MAP = "commune-map"
C_SERIES = "commune-series"
C_CASE_FILTER = "commune-case-filter"
C_CASES = "commune-cases"
C_COMPARE = "commune-compare"

# Wall
W_TITLE = "wall-title"
W_NUMBERS = "wall-numbers"
W_MAP = "wall-map"
W_BADGE = "wall-badge"
W_PROGRESS = "wall-progress"
W_MARKS = "wall-marks"
W_TICK = "wall-tick"
W_OPTIONS = "wall-options"  # store: {"keys", "offset"}
W_VIEWPORT = "wall-viewport"  # store: the screen's size, for the map's zoom
W_CONFIG = "wall-config"  # dimming, pixel shift and reload, for wall.js
RT_WALL = "rt-wall-message"
W_MAIN = "wall-main"
W_SCORECARD = "wall-scorecard"  # the scorecard scene's panel, over the map and the numbers

# Scorecard (the 766 index) and its drill-down
SC_PAGE = "scorecard-page"  # store: {"unit", "period"}
SC_BODY = "scorecard-body"  # everything the answer draws, re-rendered on a push
SC_PERIOD = "scorecard-period"
SC_WHATIF_INDICATOR = "scorecard-whatif-indicator"
SC_WHATIF_N = "scorecard-whatif-n"
SC_WHATIF_GO = "scorecard-whatif-go"
SC_WHATIF_RESULT = "scorecard-whatif-result"
SC_REFRESH = "scorecard-refresh"  # store: set at most every few seconds from the pushes
SC_DRILL_BODY = "scorecard-drill-body"
SC_DRILL_PAGE = "scorecard-drill-page"  # store: {"indicator", "unit", "period"}
SC_DRILL_PERIOD = "scorecard-drill-period"
SC_DRILL_REFRESH = "scorecard-drill-refresh"
RT_SCORECARD = "rt-scorecard-message"
RT_SC_DRILL = "rt-scorecard-drill-message"

# The data-* attributes the pages' scripts read (and the tests find elements by). Dash's components
# take them only through **kwargs; passed as a DataAttrs, a misspelt one is a type error.
DataAttrs = TypedDict(
    "DataAttrs",
    {
        "data-config": str,  # JSON, for realtime.js and wall.js
        "data-feed": str,
        "data-point": str,  # a contact point of alert delivery (the health board)
        "data-code": str,
        "data-kpi": str,
        "data-lang": str,
        "data-units": str,  # the codes, space-separated, whose alerts the ticker shows
        # a number realtime.js keeps current (the wall's): where its value is, and how to write it
        "data-unit": str,
        "data-window": str,
        "data-kind": str,
        "data-indicator": str,  # the scorecard's rows
        "data-rank": str,  # a what-if's rank, as the server computed it
        "data-target": str,  # a target's name
        "data-table": str,  # a download's table (layouts.sheets.export_links)
        # the header's time control (layouts.past.time_control), drawn by clock.js
        "data-path": str,
        "data-value": str,
        "data-max": str,
        "data-keep": str,
        "data-label": str,
        "data-go": str,
        "data-past": str,
    },
    total=False,
)
