"""Cards for the app's native widgets and embeds: ``GET /api/v1/cards/<panel>?unit=&window=``.

Public (no login), one KPI of one unit (the province, a district before 2025, an area in 2025, a
commune), in three shapes; the embeds (``/embed/<panel>``) draw exactly these and re-read them
when the relay says the feed has new figures:

- ``<feed>.<kpi>``: the value, a formatted string in Vietnamese (``lang=en`` for English), the
  last days' trend where the feed keeps an hourly series of that measure, and the time;
- ``<feed>.<kpi>.map``: the same for each unit on the unit's map (its communes when their
  polygons are installed, or their schematic tiles in 2025, else the districts with the unit
  outlined), each with its colour;
- ``<feed>.<kpi>.series``: the daily totals of the KPI's own hourly measure (``days=``, 14).

Counts of health and location data are protected as every public view protects them
(``ioc.disclosure``, decided once per commit for every unit, window, vaccine and series): a hidden
value is ``null`` with ``"hidden": true`` and reads "dưới 10", never 0; a hidden unit's series
shows no day at all and its card no trend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from flask import Blueprint, jsonify, request

from ioc.api import unit_and_window_error
from ioc.disclosure import PublicView, Tree
from ioc.feeds import FEED_SPECS
from ioc.kpis import Kpi
from ioc.login import refused as refuse
from ioc.schemas import WINDOWS
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import figures, theme
from layouts import format as fmt
from layouts.embed import EmbedMaps
from layouts.i18n import LANGS, _, using

# Public cards: every KPI with one number (lists and breakdowns are for the rooms).
PANELS = {
    f"{feed}.{kpi.name}": (feed, kpi)
    for feed, spec in FEED_SPECS.items()
    for kpi in spec.kpis
    if kpi.kind not in ("list", "breakdown")
}
SHAPES = ("map", "series")
DEFAULT_WINDOW = "7d"
MAX_DAYS = 30


class CardError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_panel(panel: str) -> tuple[str, Kpi, str]:
    """``(feed, kpi, shape)`` of a panel name; shape "" is the number itself."""
    base, _dot, shape = panel.rpartition(".")
    if shape not in SHAPES:
        base, shape = panel, ""
    if base not in PANELS:
        known = ", ".join(sorted(PANELS))
        raise CardError(404, f"unknown panel {panel!r}; panels: <feed>.<kpi>[.map|.series] with {known}")
    feed, kpi = PANELS[base]
    return feed, kpi, shape


@dataclass(frozen=True)
class Cards:
    reader: SnapshotReader
    units: UnitTable
    k: int
    maps: EmbedMaps
    goals: Goals
    _views: dict[str, PublicView] = field(default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def tree(self) -> Tree:
        return Tree.of(self.units)

    def view(self, feed: str) -> PublicView:
        """What public views of ``feed`` may show, as of its latest commit: read in one go, and
        decided again only when the figures have changed (embeds re-read their card often)."""
        last = self._views.get(feed)
        cut = self.reader.cut(feed, self.units.codes, WINDOWS, known=last.cut if last else None)
        if cut is None or not any(cut.docs.values()):
            raise CardError(503, f"no figures yet for feed {feed!r}")
        if last is None or cut is not last.cut:
            last = self._views[feed] = PublicView(feed, cut, self.tree, self.k)
        return last

    def body(self, panel: str, args: dict[str, str]) -> dict[str, Any]:
        feed, kpi, shape = parse_panel(panel)
        unit = args.get("unit", self.units.province)
        window = args.get("window", DEFAULT_WINDOW)
        lang = args.get("lang", "vi")
        if wrong := unit_and_window_error(self.units, unit, window):
            raise CardError(400, wrong)
        if lang not in LANGS:
            raise CardError(400, f"lang: {lang!r} is not one of {', '.join(LANGS)}")
        view = self.view(feed)
        meta = view.cut.meta
        vaccine = args.get("vaccine")
        if vaccine is not None and vaccine not in view.vaccines:
            choices = ", ".join(view.vaccines) or "none (the feed's figures are not per vaccine)"
            raise CardError(400, f"vaccine: {vaccine!r} is not one of {choices}")
        with using(lang):
            head = {
                "panel": panel,
                "unit": unit,
                "unit_name": self.units.name(unit),
                "window": window,
                **({"vaccine": vaccine} if vaccine is not None else {}),
                "label": _(kpi.label),
                "explanation": explanation(kpi, window, vaccine),
                "as_of": meta["as_of"],
                "as_of_text": fmt.as_of(meta["as_of"]),
                "approximate": unit in self.units.approximate,
            }
            if shape == "map":
                return head | self.map_body(view, kpi, unit, window, vaccine)
            if shape == "series":
                if vaccine is not None:
                    raise CardError(400, "vaccine: the hourly series counts every vaccine together")
                return head | self.series_body(view, kpi, unit, args.get("days", "14"))
            shown = view.value(kpi.name, unit, window, vaccine)
            return head | {
                "value": shown.value,
                "hidden": shown.hidden,
                "text": self.text(feed, kpi, shown.value, shown.hidden),
                "trend": None if shown.hidden or vaccine else self.trend(view, kpi, unit),
            }

    def text(self, feed: str, kpi: Kpi, value: Any, hidden: bool) -> str:
        if hidden:
            return _("dưới {k}").format(k=self.k)
        return value_text(kpi, value, whole_percent=FEED_SPECS[feed].whole_percent)

    def map_body(
        self, view: PublicView, kpi: Kpi, unit: str, window: str, vaccine: str | None
    ) -> dict[str, Any]:
        chosen = self.maps.choose(unit)
        if chosen is None:
            raise CardError(404, f"no map for unit {unit!r}: no coloured boundary layer in this scheme")
        layer, focus = chosen
        shown = view.values(kpi.name, layer.codes, window, vaccine)
        values = [figures.display_value(kpi, s.value) for s in shown.values()]
        scale = figures.map_scale(kpi, values, self.goals.goal(view.feed, kpi.name, unit))
        return {
            "layer": layer.name,
            "focus": focus,
            "units": [
                {
                    "code": code,
                    "name": self.units.name(code),
                    "value": s.value,
                    "hidden": s.hidden,
                    "text": self.text(view.feed, kpi, s.value, s.hidden),
                    "fill": theme.HIDDEN
                    if s.hidden
                    else figures.scale_colour(scale, figures.display_value(kpi, s.value)),
                }
                for code, s in shown.items()
            ],
        }

    def series_body(self, view: PublicView, kpi: Kpi, unit: str, days_text: str) -> dict[str, Any]:
        if not days_text.isdigit() or not 2 <= int(days_text) <= MAX_DAYS:
            raise CardError(400, f"days: {days_text!r} is not a whole number from 2 to {MAX_DAYS}")
        feed = view.feed
        found = view.cut.measures(unit)
        hourly = found.get(kpi.name)
        if hourly is None:
            measures = sorted(m for m in found if m in {k.name for k in FEED_SPECS[feed].kpis})
            raise CardError(
                404,
                f"no hourly series of {kpi.name!r}; series panels of {feed}: {', '.join(measures) or 'none'}",
            )
        daily, _text = figures.daily_trend([float(v or 0) for v in hourly], 1 if kpi.kind == "sum" else 0)
        daily = daily[-int(days_text) :]
        hidden = view.series_hidden(unit)
        end = datetime.fromisoformat(view.cut.meta["as_of"])
        return {
            "explanation": _("{what}, từng ngày").format(what=_(kpi.label)),
            "hidden": hidden,
            "note": _("Số nhỏ được ẩn để bảo vệ thông tin cá nhân.") if hidden else "",
            "days": [
                {
                    "end": (end - timedelta(days=len(daily) - 1 - i)).isoformat(timespec="minutes"),
                    "label": fmt.day_month(end - timedelta(days=len(daily) - 1 - i)),
                    "value": None if hidden else v,
                    "text": "" if hidden else value_text(kpi, v),
                }
                for i, v in enumerate(daily)
            ],
        }

    def trend(self, view: PublicView, kpi: Kpi, unit: str) -> dict[str, Any] | None:
        """The last seven days of the KPI's own hourly measure, and the last 24 hours against the
        24 before; none for rates and means, or where the unit's series is hidden."""
        hourly = view.cut.measures(unit).get(kpi.name)
        if hourly is None or view.series_hidden(unit):
            return None
        daily, text = figures.daily_trend([float(v or 0) for v in hourly], 1 if kpi.kind == "sum" else 0)
        return {"daily": daily[-7:], "text": text}


def card_blueprint(cards: Cards) -> Blueprint:
    api = Blueprint("cards_api", __name__)

    @api.get("/api/v1/cards/<panel>")
    def card(panel: str) -> Any:
        try:
            return jsonify(cards.body(panel, request.args.to_dict()))
        except CardError as exc:
            return refuse(exc.status, str(exc))

    return api


def value_text(kpi: Kpi, value: Any, *, whole_percent: bool = False) -> str:
    if kpi.kind == "rate" and whole_percent:  # health data: whole percent, as FEEDS.md asks
        return fmt.percent(value, 0)
    unit = "" if kpi.kind == "rate" else f" {_(kpi.unit)}"
    return figures.value_text(kpi, value, compact=True) + (unit if value is not None else "")


def explanation(kpi: Kpi, window: str, vaccine: str | None) -> str:
    """One line under the number: "Giải quyết đúng hạn, 7 ngày qua"."""
    what = _(kpi.label) + (f" ({_(vaccine)})" if vaccine else "")
    if window == "today":
        return _("{what}, hôm nay").format(what=what)
    if window in ("mtd", "ytd"):
        return f"{what}, {_(theme.WINDOW_LABELS[window])}"
    return _("{what}, {window} qua").format(what=what, window=_(theme.WINDOW_LABELS[window]))
