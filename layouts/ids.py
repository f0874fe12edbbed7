"""Component ids of every page, in one place."""

from __future__ import annotations

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
