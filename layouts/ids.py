"""Component ids of every page, in one place."""

from __future__ import annotations

REFRESH = "refresh"
AS_OF = "as-of"
FEED_TABS = "feed-tabs"
KPI_PICK = "kpi-pick"
WINDOW_PICK = "window-pick"
TILES = "tiles"
MAP = "province-map"
SERIES = "series"
RANKING = "ranking"
CLOCK = "clock"
