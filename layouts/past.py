"""A room at an instant in the past (``?at=``): what it shows is the KPIs as they were known then
(``ioc.history``), and it says so on every badge and in a banner, with "back to live" one click
away; the header's time control opens any instant."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from dash import html
from flask import g, has_request_context

from ioc.history import instant
from ioc.kpis import TZ
from layouts import format as fmt
from layouts import ids
from layouts.i18n import _

PARAM = "at"
SEEN = "ioc_viewing"  # flask.g: the instant this request's room shows, with the shown meta


@dataclass(frozen=True)
class Viewing:
    """The instant a room shows: None, now (live); ``error``: an ``at`` not understood (the room
    shows now, and the banner says why)."""

    at: datetime | None = None
    error: str = ""

    @classmethod
    def of(cls, text: Any) -> Viewing:
        if not isinstance(text, str) or not text.strip():
            return cls()
        try:
            return cls(instant(text))
        except ValueError as exc:  # said in the page's language, the instant quoted
            shown = text.strip()[:40]
            if "future" in str(exc):
                return cls(error=_("“{at}” còn chưa tới").format(at=shown))
            return cls(error=_("không đọc được “{at}” (viết như 2026-11-20T08:00)").format(at=shown))

    @property
    def live(self) -> bool:
        return self.at is None

    @property
    def text(self) -> str | None:
        """The instant as the pages keep it (their store, their address)."""
        return None if self.at is None else self.at.astimezone(TZ).isoformat(timespec="minutes")

    def field_value(self) -> str:
        """The time control's value (``datetime-local``: Tây Ninh's time, no offset)."""
        moment = self.at or datetime.now(UTC)
        return moment.astimezone(TZ).strftime("%Y-%m-%dT%H:%M")


LIVE = Viewing()


def use(
    viewing: Viewing, meta: dict[str, Any] | None, by_feed: Mapping[str, dict[str, Any] | None] | None = None
) -> None:
    """This request draws a room at ``viewing`` (its figures' meta ``meta``; other feeds' in
    ``by_feed``): every freshness badge it draws says so (``layouts.live.fresh_badge``)."""
    setattr(g, SEEN, None if viewing.live else (viewing, meta, dict(by_feed or {})))


def viewed(feed: str | None = None) -> tuple[Viewing, dict[str, Any] | None] | None:
    """The instant in the past this request draws, if any, and the meta of ``feed``'s figures."""
    seen = getattr(g, SEEN, None) if has_request_context() else None
    if seen is None:
        return None
    viewing, meta, by_feed = seen
    return viewing, by_feed.get(feed, meta) if feed is not None else meta


def series_note() -> str:
    """What a series panel says in the past: the history keeps figures, not hourly series."""
    return _("Chuỗi theo giờ chỉ có khi xem trực tiếp.") if viewed() is not None else ""


def badge(feed: str, viewing: Viewing, meta: dict[str, Any] | None) -> html.Span:
    """A freshness badge that does not move: the time of the figures shown, "not live"."""
    shown = meta.get("as_of") if meta else None
    text = (
        _("Số liệu lúc {time} · không trực tiếp").format(
            time=datetime.fromisoformat(shown).astimezone(TZ).strftime("%H:%M %d/%m")
        )
        if shown
        else _("Không có số liệu lúc đó")
    )
    return html.Span(text, className="fresh-badge past", **ids.DataAttrs({"data-feed": feed}))


def banner(viewing: Viewing, meta: dict[str, Any] | None, live_href: str) -> list[html.Div]:
    """Across the room: which time is shown and that it is not live, and the way back."""
    if viewing.error:
        return [
            html.Div(
                [_("Không hiểu thời điểm đã chọn, đang xem trực tiếp: {why}").format(why=viewing.error)],
                className="past-banner error",
            )
        ]
    if viewing.at is None:
        return []
    asked = fmt.date_time(viewing.at)
    shown = meta.get("as_of") if meta else None
    said = (
        _(
            "ĐANG XEM QUÁ KHỨ, KHÔNG PHẢI TRỰC TIẾP: số liệu như đã biết lúc {shown} (đã chọn {asked})."
        ).format(shown=fmt.date_time(datetime.fromisoformat(shown)), asked=asked)
        if shown
        else _("ĐANG XEM QUÁ KHỨ: không có số liệu nào được lưu lúc {asked}.").format(asked=asked)
    )
    return [
        html.Div(
            [html.Span(said), html.A(_("Về trực tiếp"), href=live_href, className="back-to-live")],
            className="past-banner",
            role="status",
        )
    ]


def time_control(path: str, viewing: Viewing, **keep: str) -> html.Div:
    """The header's instant: a date and time (Tây Ninh's), "Xem"; the page's other choices kept
    (``keep``, empty ones left out). Dash has no date-and-time field: clock.js draws the browser's
    own into this box, a plain form that opens the same room at that instant."""
    latest = datetime.now(UTC).astimezone(TZ).strftime("%Y-%m-%dT%H:%M")
    return html.Div(
        className="time-control-box",
        **ids.DataAttrs(
            {
                "data-path": path,
                "data-value": viewing.field_value(),
                "data-max": latest,
                "data-keep": json.dumps({k: v for k, v in keep.items() if v}),
                "data-label": _("Xem lúc"),
                "data-go": _("Xem"),
                "data-past": "" if viewing.live else "1",
            }
        ),
    )


def live_href(path: str, **keep: str) -> str:
    asked = urlencode({k: v for k, v in keep.items() if v})
    return f"{path}?{asked}" if asked else path
