"""The provincial room as each role gets it over HTTP: what its map carries."""

from __future__ import annotations

import json

import pytest

from ioc import keys
from ioc.web import create_app
from tests.processes import app_settings, logged_in

# Two open field reports, one in a commune of 705 and one in a commune of 706, with positions
# nothing else on the page could print.
POINTS = [
    {"id": "PA-705-1", "lat": 11.34561, "lon": 106.12341, "unit_code": "25486", "status": "dang_xu_ly"},
    {"id": "PA-706-1", "lat": 11.67891, "lon": 106.43211, "unit_code": "25516", "status": "dang_xu_ly"},
]


@pytest.fixture
def app(r, redis_server):
    """The app with the field-report feed, its snapshot holding the two reports as map points."""
    meta = {"as_of": "2026-11-22T10:00:00+07:00", "records": 2}
    doc = {"kpis": {"open": {"value": 2}, "hotspots": {"value": []}}}
    r.hset(
        keys.snapshot("citizen_feedback"),
        mapping={
            keys.META_FIELD: json.dumps(meta),
            "72|7d": json.dumps(doc),
            "_points": json.dumps([p | {"severity": "khan", "overdue": False} for p in POINTS]),
        },
    )
    settings = app_settings(redis_server, connectors={"citizen_feedback": {"url": "http://127.0.0.1:9"}})
    return create_app(settings, r)


def province_page(client) -> str:
    """The field-report tab of the provincial room, as the browser's page callback gets it."""
    found = client.get("/_dash-dependencies").get_json()
    pages = next(c for c in found if "_pages_content.children" in c["output"])
    values = {"pathname": "/", "search": "?feed=citizen_feedback"}
    body = {
        "output": pages["output"],
        "outputs": [
            {"id": o.split(".")[0], "property": o.split(".")[1]}
            for o in pages["output"].strip(".").split("...")
        ],
        "inputs": [{**i, "value": values[i["property"]]} for i in pages["inputs"]],
        "changedPropIds": ["_pages_location.pathname"],
    }
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 200
    return reply.text


def test_an_officers_province_map_carries_report_points_of_their_own_district_only(app) -> None:
    """The map's open reports are ids and exact positions: a duty officer of 705 gets 705's and
    nothing of 706's (its counts stay in the map's colours); a leader gets both."""
    officer, leader = province_page(logged_in(app, "truc-705")), province_page(logged_in(app, "lanhdao"))
    mine, other = POINTS
    for text in (officer, leader):
        assert mine["id"] in text and str(mine["lat"]) in text and str(mine["lon"]) in text
    assert (
        other["id"] not in officer and str(other["lat"]) not in officer and str(other["lon"]) not in officer
    )
    assert other["id"] in leader and str(other["lat"]) in leader
