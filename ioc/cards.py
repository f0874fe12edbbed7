"""Cards for the app's native widgets: ``GET /api/v1/cards/<feed>.<kpi>?unit=&window=&vaccine=``.

One KPI of one unit, public (no login): its value, a formatted string in Vietnamese (``lang=en``
for English), the last days' trend where the feed keeps an hourly series of that measure, and
the time of the figures. Counts of health and location data are protected as every public view
protects them (``ioc.disclosure``): a hidden value is ``null`` with ``"hidden": true`` and reads
"dưới 10", never 0.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ioc.api import refuse, unit_and_window_error
from ioc.disclosure import PROTECTED_BY, public_value
from ioc.feeds import FEED_SPECS
from ioc.kpis import Kpi
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable
from layouts import figures, theme
from layouts import format as fmt
from layouts.i18n import LANGS, _, using

# Public cards: every KPI with one number (lists and breakdowns are for the rooms).
PANELS = {
    f"{feed}.{kpi.name}": (feed, kpi)
    for feed, spec in FEED_SPECS.items()
    for kpi in spec.kpis
    if kpi.kind not in ("list", "breakdown")
}
DEFAULT_WINDOW = "7d"


def card_blueprint(reader: SnapshotReader, units: UnitTable, k: int) -> Blueprint:
    api = Blueprint("cards_api", __name__)

    @api.get("/api/v1/cards/<panel>")
    def card(panel: str) -> Any:
        if panel not in PANELS:
            return refuse(404, f"unknown card {panel!r}; cards: {', '.join(sorted(PANELS))}")
        feed, kpi = PANELS[panel]
        unit = request.args.get("unit", units.province)
        window = request.args.get("window", DEFAULT_WINDOW)
        lang = request.args.get("lang", "vi")
        if wrong := unit_and_window_error(units, unit, window):
            return refuse(400, wrong)
        if lang not in LANGS:
            return refuse(400, f"lang: {lang!r} is not one of {', '.join(LANGS)}")
        meta = reader.meta(feed)
        docs = reader.many(feed, units.codes, window)
        if meta is None or not docs:
            return refuse(503, f"no figures yet for feed {feed!r}")
        vaccine = request.args.get("vaccine")
        if vaccine is not None:
            known = sorted((docs.get(units.province) or {}).get("by_vaccine", {}))
            if feed != "vaccination" or vaccine not in known:
                choices = ", ".join(known) or "none (not the vaccination feed)"
                return refuse(400, f"vaccine: {vaccine!r} is not one of {choices}")
            docs = {u: (d.get("by_vaccine") or {}).get(vaccine) or {} for u, d in docs.items()}
        shown = public_value(feed, kpi.name, unit, docs, units, k)
        with using(lang):
            body = {
                "panel": panel,
                "unit": unit,
                "unit_name": units.name(unit),
                "window": window,
                **({"vaccine": vaccine} if vaccine is not None else {}),
                "label": _(kpi.label),
                "explanation": explanation(kpi, window, vaccine),
                "value": shown.value,
                "hidden": shown.hidden,
                "text": _("dưới {k}").format(k=k) if shown.hidden else value_text(kpi, shown.value),
                "trend": None if shown.hidden or vaccine else trend(reader, feed, kpi, unit, k),
                "as_of": meta["as_of"],
                "as_of_text": fmt.as_of(meta["as_of"]),
                "approximate": unit in units.approximate,
            }
        return jsonify(body)

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


def trend(reader: SnapshotReader, feed: str, kpi: Kpi, unit: str, k: int) -> dict[str, Any] | None:
    """The last seven days of the KPI's own hourly measure (a count the feed keeps per hour), and
    the last 24 hours against the 24 before; none for rates and means. A protected count (doses)
    with a day of 1 to k-1 has no trend: that day would be a small count."""
    doc = reader.series(feed, unit) or {}
    hourly = doc.get(kpi.name)
    if not isinstance(hourly, list):
        return None
    daily, text = figures.daily_trend([float(v or 0) for v in hourly], 1 if kpi.kind == "sum" else 0)
    if feed in PROTECTED_BY and kpi.kind == "count" and any(0 < d < k for d in daily):
        return None
    return {"daily": daily, "text": text}
