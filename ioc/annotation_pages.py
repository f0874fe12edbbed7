"""The time series' marks in the API: ``GET /api/v1/annotations?from=&to=&feed=&unit=`` lists the
holidays, Tết, feed outages and added events of a span (by default the last 7 days); ``POST``
adds an event (``{"start", "end", "title", "note"?, "feed"?, "unit"?}``), ``DELETE
/api/v1/annotations/<id>`` removes one. See :mod:`ioc.annotations`.

A duty officer adds events about a unit of their own scope only (the unit is then required) and
removes only those; an administrator any; a leader reads. Title and note are redacted and kept on
one line. Adding and removing are audited.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from pydantic import ValidationError

from ioc.annotations import Annotation, Annotations, as_json, lineage
from ioc.feeds import FEED_SPECS
from ioc.history import instant
from ioc.login import audit_view, user
from ioc.login import refused as refuse
from ioc.privacy import redact
from ioc.units import UnitTable
from layouts.i18n import current

DEFAULT_SPAN = timedelta(days=7)
LONGEST_READ = timedelta(days=800)


def install(server: Flask, marks: Annotations, units: UnitTable) -> None:
    bp = Blueprint("annotations", __name__)
    known = set(units.codes)

    def span() -> tuple[datetime, datetime]:
        now = datetime.now(UTC)
        end = _time(request.args.get("to"), "to", now) or now
        start = _time(request.args.get("from"), "from", now) or end - DEFAULT_SPAN
        if end <= start:
            raise ValueError("to: must be after from")
        if end - start > LONGEST_READ:
            raise ValueError(f"from, to: at most {LONGEST_READ.days} days at once")
        return start, end

    @bp.get("/api/v1/annotations")
    def listed() -> Any:
        try:
            start, end = span()
        except ValueError as exc:
            return refuse(400, str(exc))
        feed = request.args.get("feed")
        if feed is not None and feed not in FEED_SPECS:
            return refuse(400, f"feed: {feed[:40]!r} is not a feed; feeds: {', '.join(FEED_SPECS)}")
        unit = request.args.get("unit")
        within: Collection[str] | None = None
        if unit is not None:
            if unit not in known:
                return refuse(400, f"unit: {unit[:20]!r} is not a unit of scheme {units.scheme}")
            if not user().sees_kpis(unit, units):
                return refuse(403, f"unit {unit!r} is outside your scope")
            within = lineage(units, unit)
        found = marks.between(
            start, end, [feed] if feed else list(FEED_SPECS), datetime.now(UTC), units=within, lang=current()
        )
        person = user()
        shown = [a for a in found if not a.unit or person.sees_kpis(a.unit, units)]
        return jsonify(
            {"from": start.isoformat(), "to": end.isoformat(), "annotations": [as_json(a) for a in shown]}
        )

    @bp.post("/api/v1/annotations")
    def add() -> Any:
        person = user()
        if person.role == "leader":
            return refuse(403, "a leader reads annotations: duty officers and administrators add them")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return refuse(400, "the body must be a JSON object with start, end and title")
        unit, feed = str(body.get("unit") or ""), str(body.get("feed") or "")
        if unit and unit not in known:
            return refuse(400, f"unit: {unit[:20]!r} is not a unit of scheme {units.scheme}")
        if person.scoped and not (unit and person.within(unit, units)):
            return refuse(403, "unit: a duty officer marks a unit of their own scope only")
        if feed and feed not in FEED_SPECS:
            return refuse(400, f"feed: {feed[:40]!r} is not a feed")
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            start = _time(body.get("start"), "start", now + LONGEST_READ, required=True)
            end = _time(body.get("end"), "end", now + LONGEST_READ, required=True)
            mark = Annotation(
                kind="event",
                start=start,
                end=end,
                title=redact(str(body.get("title") or "")),  # no names, phone numbers or ids
                note=redact(str(body.get("note") or "")),
                feed=feed,
                unit=unit,
                created_by=person.login,
                created_at=now,
            )
            marks.add(mark)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "annotation"
            return refuse(400, f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
        except ValueError as exc:
            return refuse(400, str(exc))
        audit_view("annotation_added", annotation=mark.id, unit=unit, feed=feed)
        return jsonify(as_json(mark)), 201

    @bp.delete("/api/v1/annotations/<annotation_id>")
    def remove(annotation_id: str) -> Any:
        person = user()
        found = marks.get(annotation_id[:40])
        if found is None:
            return refuse(
                404, f"no annotation {annotation_id[:40]!r} (holidays and outages cannot be removed)"
            )
        if person.role == "leader" or (person.scoped and found.created_by != person.login):
            return refuse(403, "an annotation is removed by who added it or an administrator")
        marks.remove(found.id)
        audit_view("annotation_removed", annotation=found.id, unit=found.unit, feed=found.feed)
        return jsonify({"removed": found.id})

    server.register_blueprint(bp)


def _time(value: Any, name: str, latest: datetime, *, required: bool = False) -> datetime | None:
    """A time given as ISO 8601 (Tây Ninh's time without an offset), not after ``latest``."""
    if value is None or value == "":
        if required:
            raise ValueError(f"{name}: required (ISO 8601, e.g. 2026-11-20T08:00)")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: a time as text (ISO 8601)")
    try:
        return instant(value, latest).replace(microsecond=0)
    except ValueError as exc:
        raise ValueError(str(exc).replace("at:", f"{name}:", 1)) from None
