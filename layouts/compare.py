"""A room's figures beside the same window a week or a year earlier (``?compare=week|year``):
the earlier figures are those the history kept then (``ioc.history``), the difference is written
with an arrow, green when it is better, red when worse, grey when the KPI has no better way or
nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dash import dcc, html

from ioc.kpis import Kpi
from ioc.snapshots import SnapshotReader
from layouts import figures
from layouts import format as fmt
from layouts.i18n import N_, _
from layouts.room_data import RoomData, entry, fetch_room

KINDS = {"week": N_("so với tuần trước"), "year": N_("so với năm trước")}
CHOICES = {"": N_("Không so sánh"), "week": N_("Tuần trước"), "year": N_("Năm trước")}


def compare_pick(component_id: str, value: str) -> dcc.RadioItems:
    """ "So sánh: không · tuần trước · năm trước", beside the window."""
    options = [{"label": _(label), "value": kind} for kind, label in CHOICES.items()]
    return dcc.RadioItems(options, value, id=component_id, inline=True, className="compare-pick")


def earlier(moment: datetime, kind: str) -> datetime:
    """The same instant a week or a year before (29 February: the 28th)."""
    if kind == "week":
        return moment - timedelta(days=7)
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        return moment.replace(year=moment.year - 1, day=28)


@dataclass(frozen=True)
class Comparison:
    """What the room's figures are compared with: ``kind``, and the documents of that instant
    (none kept: ``before.meta`` is None, and every difference is "–")."""

    kind: str
    before: RoomData

    @property
    def said(self) -> str:
        return _(KINDS[self.kind])

    def value(self, unit: str, window: str, path: str, kpi: Kpi) -> float | None:
        return figures.scalar(kpi, entry(self.before.doc(unit, window), path).get("value"))

    def delta(
        self, kpi: Kpi, now: Any, unit: str, window: str, path: str, *, short: bool = False
    ) -> html.Span:
        """The difference of ``now`` from the earlier value, as a small coloured line."""
        return delta_span(
            kpi, figures.scalar(kpi, now), self.value(unit, window, path, kpi), self.said, short
        )


def fetch_comparison(
    reader: SnapshotReader, feed: str, kind: str, as_of: str | None, docs: list[tuple[str, str]]
) -> Comparison | None:
    """The documents ``docs`` as they were ``kind`` before ``as_of`` (the figures shown); None
    for no comparison (or nothing shown to compare)."""
    if kind not in KINDS or not as_of:
        return None
    moment = earlier(datetime.fromisoformat(as_of), kind)
    return Comparison(kind, fetch_room(reader, feed, docs=docs, at=moment))


def change(kpi: Kpi, now: float | None, before: float | None) -> tuple[str, str]:
    """The difference's text and its state (better, worse, same, neutral, none)."""
    if now is None or before is None:
        return "–", "none"
    diff = now - before
    if kpi.kind == "rate":  # percentage points
        size = fmt.number(abs(diff) * 100, 1)
        text = _("{size} điểm %").format(size=size)
    elif kpi.kind == "mean":
        text = fmt.number(abs(diff), 2)
    else:
        text = fmt.number(abs(diff))
        if before:
            text += f" ({fmt.number(abs(diff) / abs(before) * 100)}%)"
    if abs(diff) < 1e-9:
        return "=", "same"
    arrow = "▲" if diff > 0 else "▼"
    if kpi.better is None:
        return f"{arrow} {text}", "neutral"
    better = (diff > 0) != kpi.lower_is_better
    return f"{arrow} {text}", "better" if better else "worse"


def delta_span(kpi: Kpi, now: float | None, before: float | None, said: str, short: bool) -> html.Span:
    text, state = change(kpi, now, before)
    title = _("Trước đó: {value}").format(value=figures.value_text(kpi, before))
    if state == "none" and not short:
        text, said = _("không có số liệu để so sánh"), ""
    return html.Span(
        text if short or not said else f"{text} {said}",
        className=f"delta {state}",
        title=title,
    )
