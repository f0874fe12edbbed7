"""The KPI API of FEEDS.md: ``GET /api/v1/kpis?feed=&unit=&window=``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ioc.schemas import FEEDS, WINDOWS
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def kpi_blueprint(reader: SnapshotReader, units: UnitTable) -> Blueprint:
    api = Blueprint("kpi_api", __name__)
    known_units = set(units.codes)

    @api.get("/api/v1/kpis")
    def kpis() -> Any:
        feed = request.args.get("feed", "")
        unit = request.args.get("unit", units.province)
        window = request.args.get("window", "")
        if feed not in FEEDS:
            return _error(400, f"unknown feed {feed!r}; feeds: {', '.join(FEEDS)}")
        if unit not in known_units:
            return _error(400, f"unknown unit {unit!r} in scheme {units.scheme}")
        if window not in WINDOWS:
            return _error(400, f"unknown window {window!r}; windows: {', '.join(WINDOWS)}")
        meta = reader.meta(feed)
        values = reader.kpis(feed, unit, window)
        if meta is None or values is None:
            return _error(503, f"no KPIs computed yet for feed {feed!r} (is its connector configured?)")
        vaccine = request.args.get("vaccine")
        if vaccine is not None:
            by_vaccine = values.get("by_vaccine")
            if by_vaccine is None:
                return _error(400, f"vaccine= applies to the vaccination feed only, not {feed!r}")
            if vaccine not in by_vaccine:
                return _error(400, f"unknown vaccine {vaccine!r}; vaccines: {', '.join(sorted(by_vaccine))}")
            values = by_vaccine[vaccine]
        body = {
            "feed": feed,
            "unit": unit,
            "scheme": units.scheme,
            "window": window,
            **({"vaccine": vaccine} if vaccine is not None else {}),
            "as_of": meta["as_of"],
            "kpis": values,
        }
        return jsonify(body)

    @api.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    return api
