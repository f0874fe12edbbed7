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
RT_MESSAGE = "rt-message"
TILE_VALUE = "tile-value"  # pattern: {"type": TILE_VALUE, "kpi": <name>}
HEALTH_TABLE = "health-table"
FEED = "feed"  # the feed a provincial page shows (a store)
