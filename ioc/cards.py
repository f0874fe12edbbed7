"""Cards for the app's native widgets and embeds: ``GET /api/v1/cards/<panel>?unit=&window=``.

Public (no login), one KPI of one unit, in three shapes; the embeds (``/embed/<panel>``) draw
exactly these and re-read them when the relay says the feed has new figures:

- ``<feed>.<kpi>``: the value, a formatted string in Vietnamese (``lang=en`` for English), the
  last days' trend where the feed keeps an hourly series of that measure, and the time;
- ``<feed>.<kpi>.map``: the same for each unit on the unit's map (its communes when their
  polygons are installed, else the districts with the unit outlined), each with its colour;
- ``<feed>.<kpi>.series``: the daily totals of the KPI's own hourly measure (``days=``, 14).

Counts of health and location data are protected as every public view protects them
(``ioc.disclosure``): a hidden value is ``null`` with ``"hidden": true`` and reads "dưới 10",
never 0; a series that would show a small day shows no day at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, request
from plotly.colors import sample_colorscale

from ioc.api import unit_and_window_error
from ioc.disclosure import public_values, series_hidden
from ioc.feeds import FEED_SPECS
from ioc.kpis import Kpi
from ioc.login import refused as refuse
from ioc.snapshots import SnapshotReader
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

    def body(self, panel: str, args: dict[str, str]) -> dict[str, Any]:
        feed, kpi, shape = parse_panel(panel)
        unit = args.get("unit", self.units.province)
        window = args.get("window", DEFAULT_WINDOW)
        lang = args.get("lang", "vi")
        if wrong := unit_and_window_error(self.units, unit, window):
            raise CardError(400, wrong)
        if lang not in LANGS:
            raise CardError(400, f"lang: {lang!r} is not one of {', '.join(LANGS)}")
        meta = self.reader.meta(feed)
        docs = self.reader.many(feed, self.units.codes, window)
        if meta is None or not docs:
            raise CardError(503, f"no figures yet for feed {feed!r}")
        vaccine = args.get("vaccine")
        if vaccine is not None:
            known = sorted((docs.get(self.units.province) or {}).get("by_vaccine", {}))
            if feed != "vaccination" or vaccine not in known:
                choices = ", ".join(known) or "none (not the vaccination feed)"
                raise CardError(400, f"vaccine: {vaccine!r} is not one of {choices}")
            docs = {u: (d.get("by_vaccine") or {}).get(vaccine) or {} for u, d in docs.items()}
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
                return head | self.map_body(feed, kpi, unit, docs)
            if shape == "series":
                if vaccine is not None:
                    raise CardError(400, "vaccine: the hourly series counts every vaccine together")
                return head | self.series_body(feed, kpi, unit, meta["as_of"], args.get("days", "14"))
            shown = public_values(feed, kpi.name, [unit], docs, self.units, self.k)[unit]
            return head | {
                "value": shown.value,
                "hidden": shown.hidden,
                "text": self.text(kpi, shown.value, shown.hidden),
                "trend": None if shown.hidden or vaccine else self.trend(feed, kpi, unit),
            }

    def text(self, kpi: Kpi, value: Any, hidden: bool) -> str:
        return _("dưới {k}").format(k=self.k) if hidden else value_text(kpi, value)

    def map_body(self, feed: str, kpi: Kpi, unit: str, docs: dict[str, Any]) -> dict[str, Any]:
        chosen = self.maps.choose(unit)
        if chosen is None:
            raise CardError(404, f"no map for unit {unit!r}: no coloured boundary layer in this scheme")
        layer, focus = chosen
        shown = public_values(feed, kpi.name, layer.codes, docs, self.units, self.k)
        values = [figures.display_value(kpi, s.value) for s in shown.values()]
        scale = figures.map_scale(kpi, values)
        span = (scale.zmax - scale.zmin) or 1.0

        def fill(value: float | None) -> str:
            if value is None:
                return theme.NO_DATA
            return str(
                sample_colorscale(scale.colorscale, [min(1.0, max(0.0, (value - scale.zmin) / span))])[0]
            )

        return {
            "layer": layer.name,
            "focus": focus,
            "units": [
                {
                    "code": code,
                    "name": self.units.name(code),
                    "value": s.value,
                    "hidden": s.hidden,
                    "text": self.text(kpi, s.value, s.hidden),
                    "fill": theme.HIDDEN if s.hidden else fill(figures.display_value(kpi, s.value)),
                }
                for code, s in shown.items()
            ],
        }

    def series_body(self, feed: str, kpi: Kpi, unit: str, as_of: str, days_text: str) -> dict[str, Any]:
        if not days_text.isdigit() or not 2 <= int(days_text) <= MAX_DAYS:
            raise CardError(400, f"days: {days_text!r} is not a whole number from 2 to {MAX_DAYS}")
        doc = self.reader.series(feed, unit) or {}
        hourly = doc.get(kpi.name)
        if not isinstance(hourly, list):
            measures = sorted(
                m
                for m, v in doc.items()
                if isinstance(v, list) and m in {k.name for k in FEED_SPECS[feed].kpis}
            )
            raise CardError(
                404,
                f"no hourly series of {kpi.name!r}; series panels of {feed}: {', '.join(measures) or 'none'}",
            )
        daily, _text = figures.daily_trend([float(v or 0) for v in hourly], 1 if kpi.kind == "sum" else 0)
        daily = daily[-int(days_text) :]
        hidden = series_hidden(feed, doc, self.k)
        end = datetime.fromisoformat(as_of)
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

    def trend(self, feed: str, kpi: Kpi, unit: str) -> dict[str, Any] | None:
        """The last seven days of the KPI's own hourly measure, and the last 24 hours against the
        24 before; none for rates and means, or where a day would show a small protected count."""
        doc = self.reader.series(feed, unit) or {}
        hourly = doc.get(kpi.name)
        if not isinstance(hourly, list):
            return None
        daily, text = figures.daily_trend([float(v or 0) for v in hourly], 1 if kpi.kind == "sum" else 0)
        if series_hidden(feed, doc, self.k):  # false for feeds with nothing protected
            return None
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


def value_text(kpi: Kpi, value: Any) -> str:
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
