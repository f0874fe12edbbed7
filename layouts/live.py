"""What every live page carries: the relay's address and token for realtime.js, the store that
receives pushed messages, and freshness badges."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dash import dcc, html

from layouts import ids


@dataclass(frozen=True)
class Live:
    """How a page reaches the relay; ``token`` mints a fresh signed token per page load."""

    port: int
    url: str | None
    token: Callable[[], str]
    amber_s: float
    red_s: float

    def elements(self, *, feeds: list[str], units: list[str], series: list[str], **extra: Any) -> list[Any]:
        config = {
            "port": self.port,
            "url": self.url,
            "token": self.token(),
            "amber_s": self.amber_s,
            "red_s": self.red_s,
            "feeds": feeds,
            "units": units,
            "series": series,
            **extra,
        }
        return [
            html.Div(
                id=ids.RT_CONFIG, hidden=True, **{"data-config": json.dumps(config, ensure_ascii=False)}
            ),
            dcc.Store(id=ids.RT_MESSAGE),
        ]


def fresh_badge(feed: str) -> html.Span:
    """'Số liệu lúc HH:MM', amber then red as the feed ages; realtime.js keeps it current."""
    return html.Span("Đang kết nối…", className="fresh-badge", **{"data-feed": feed})
