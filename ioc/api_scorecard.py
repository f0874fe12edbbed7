"""The scorecard's API (``SCORECARD.md``): ``GET /api/v1/index766?unit=&period=&what_if=``, the
drill-down of an indicator ``GET /api/v1/index766/units?indicator=&period=&unit=``, and the
province's targets ``GET /api/v1/targets``. The same access rules as the KPI API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ioc import scorecard
from ioc.api import outside
from ioc.config import Settings
from ioc.kpis import TZ
from ioc.login import audit_view, user
from ioc.login import refused as refuse
from ioc.snapshots import SnapshotReader
from ioc.targets import targets_answer
from ioc.units import UnitTable


def scorecard_blueprint(reader: SnapshotReader, units: UnitTable, settings: Settings) -> Blueprint:
    api = Blueprint("scorecard_api", __name__)
    known = set(units.codes)

    def checked_unit(name: str = "unit") -> tuple[str, Any]:
        unit = request.args.get(name, units.province)
        if unit not in known:
            return unit, refuse(400, f"unknown unit {unit!r} in scheme {units.scheme}")
        if not user().sees_kpis(unit, units):
            return unit, refuse(403, outside(unit))
        if units.level(unit) == "commune":  # below the districts (areas in 2025): a scoped figure
            audit_view("commune_index766", unit=unit)
        return unit, None

    @api.get("/api/v1/index766")
    def index766() -> Any:
        unit, refused = checked_unit()
        if refused is not None:
            return refused
        try:
            what_if = scorecard.what_if_of(request.args.get("what_if"))
            answer = scorecard.scorecard(reader, units, settings, unit, request.args.get("period"), what_if)
        except scorecard.BadRequest as exc:
            return refuse(400, str(exc))
        if answer["as_of"] is None:
            return refuse(
                503,
                "no indicators computed yet (are the public_services and citizen_feedback feeds running?)",
            )
        return jsonify(answer)

    @api.get("/api/v1/index766/units")
    def index766_units() -> Any:
        unit, refused = checked_unit()
        if refused is not None:
            return refused
        below = units.children(unit)
        if any(not user().sees_kpis(u, units) for u in below):
            return refuse(403, outside(unit))
        try:
            answer = scorecard.drilldown(
                reader, units, settings, request.args.get("indicator", ""), request.args.get("period"), unit
            )
        except scorecard.BadRequest as exc:
            return refuse(400, str(exc))
        return jsonify(answer)

    @api.get("/api/v1/targets")
    def targets() -> Any:
        now = scorecard.data_now(reader)  # as of the figures, like the scorecard
        answer = targets_answer(reader, units, settings, now.astimezone(TZ).date(), now=now)
        shown = [t for t in answer["targets"] if user().sees_kpis(t["unit"] or units.province, units)]
        return jsonify({**answer, "targets": shown})

    return api
