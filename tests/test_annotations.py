"""Marks on the time series: holidays and Tết from the SLA's calendar, a feed's outage from its
stale alert, events people add (in the API, audited, within their scope), drawn as bands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc import alert_store, audit
from ioc.annotations import Annotations, calendar, outages
from ioc.config import default_alert_rules
from ioc.feeds import FEED_SPECS
from ioc.kpis import TZ
from layouts import figures
from layouts.province import series_panel
from tests.processes import logged_in

FEED = "public_services"
STALE = f"{FEED}_ngung"


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=TZ)  # type: ignore[misc]


def test_tet_is_one_mark_and_each_holiday_its_own() -> None:
    marks = calendar(local(2026, 2, 1), local(2026, 9, 30))
    said = [(m.kind, m.title, m.start, m.end) for m in marks]
    assert ("tet", "Tết Nguyên Đán", local(2026, 2, 16), local(2026, 2, 21)) in said  # eve to the 4th day
    assert ("holiday", "Quốc khánh", local(2026, 9, 1), local(2026, 9, 3)) in said  # two days, one mark
    assert ("holiday", "Ngày Quốc tế Lao động", local(2026, 5, 1), local(2026, 5, 2)) in said
    english = calendar(local(2026, 2, 1), local(2026, 3, 1), "en")
    assert [(m.kind, m.title) for m in english] == [("tet", "Tết (Lunar New Year)")]


def stale(unit: str = "80") -> dict:
    return {
        "id": f"{STALE}|{unit}",
        "rule": STALE,
        "feed": FEED,
        "unit": unit,
        "unit_name": unit,
        "kind": "stale",
        "kpi": None,
        "window": None,
        "comparison": "above",
        "value": 30.0,
        "threshold": 15.0,
    }


def commit(r, at: datetime, *conditions: dict) -> None:
    previous = alert_store.read_active(r, FEED)
    changes = alert_store.reconcile(previous, {c["id"]: c for c in conditions}, at)  # type: ignore[misc]
    pipe = r.pipeline(transaction=True)
    alert_store.write(pipe, FEED, changes, previous, at)
    pipe.execute()


def test_a_feed_outage_is_its_stopped_alert_from_raised_to_cleared(r) -> None:
    rules = default_alert_rules()
    raised, cleared = datetime(2026, 11, 20, 1, 0, tzinfo=UTC), datetime(2026, 11, 20, 3, 30, tzinfo=UTC)
    commit(r, raised, stale())
    commit(r, cleared)
    commit(r, datetime(2026, 11, 21, 5, 0, tzinfo=UTC), stale())  # stopped again, still
    now = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
    found = outages(r, [FEED], rules, raised - timedelta(days=1), now, now)
    assert [(m.kind, m.start, m.end, m.feed) for m in found] == [
        ("outage", raised, cleared, FEED),
        ("outage", datetime(2026, 11, 21, 5, 0, tzinfo=UTC), now, FEED),
    ]
    assert outages(r, ["citizen_feedback"], rules, raised, now, now) == []


@pytest.fixture
def app(own_app):
    return own_app


def test_events_are_added_within_ones_scope_listed_and_audited(app, r) -> None:
    officer = logged_in(app, "truc-705")
    event = {
        "start": "2026-11-20T07:00",
        "end": "2026-11-20T11:00",
        "title": "Mất điện khu vực",
        "unit": "705",
    }
    added = officer.post("/api/v1/annotations", json=event | {"note": "Gọi anh Nguyễn Văn An 0912345678"})
    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    assert body["kind"] == "event" and body["created_by"] == "truc-705" and "0912345678" not in body["note"]
    assert officer.post("/api/v1/annotations", json=event | {"unit": "706"}).status_code == 403
    assert officer.post("/api/v1/annotations", json=event | {"unit": ""}).status_code == 403
    leader = logged_in(app, "lanhdao")
    assert leader.post("/api/v1/annotations", json=event).status_code == 403
    for wrong, message in [
        ({"end": "2026-11-20T06:00"}, "end: must be after start"),
        ({"start": "hôm qua"}, "start: 'hôm qua' is not a time"),
        ({"title": ""}, "title: String should have at least 1 character"),
        ({"end": "2028-11-20T06:00"}, "end: an annotation spans at most a year"),
    ]:
        reply = officer.post("/api/v1/annotations", json=event | wrong)
        assert reply.status_code == 400 and message in reply.get_json()["error"], (wrong, reply.get_json())

    listed = leader.get("/api/v1/annotations?from=2026-11-19T00:00&to=2026-11-25T00:00").get_json()
    kinds = [(a["kind"], a["title"]) for a in listed["annotations"]]
    assert ("event", "Mất điện khu vực") in kinds
    assert ("holiday", "Ngày Văn hóa Việt Nam") in kinds  # 24 November
    other = logged_in(app, "truc-706")
    theirs = other.get("/api/v1/annotations?from=2026-11-19T00:00&to=2026-11-25T00:00").get_json()
    assert ("event", "Mất điện khu vực") in [(a["kind"], a["title"]) for a in theirs["annotations"]]
    assert other.delete(f"/api/v1/annotations/{body['id']}").status_code == 403  # not theirs
    assert logged_in(app, "quantri").delete(f"/api/v1/annotations/{body['id']}").status_code == 200
    assert Annotations(r, {}).events() == []
    actions = [e["action"] for e in audit.read(r, 50)]
    assert "annotation_added" in actions and "annotation_removed" in actions


def test_a_series_draws_its_marks_as_bands() -> None:
    start = local(2026, 2, 14)
    doc = {"start": start.isoformat(), "received": [1.0] * 7 * 24, "resolved": [1.0] * 7 * 24}
    as_of = (start + timedelta(days=7) - timedelta(hours=1)).isoformat()
    marks = calendar(start, start + timedelta(days=7))
    figure = figures.hourly_series(doc, as_of, series_panel(FEED_SPECS[FEED]), marks=marks)
    bands = [s for s in figure.layout.shapes if s.fillcolor == "#f6c9b8"]
    assert len(bands) == 1 and bands[0].x0.date() == local(2026, 2, 16).date()
    assert "Tết Nguyên Đán" in [a.text for a in figure.layout.annotations]
