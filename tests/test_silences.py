"""Silences: made on the page or the API within one's scope, audited, redacted; a silenced alert
still shows (marked) and sends nothing until the silence ends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ioc import audit, keys, silences
from ioc.silences import Silence
from tests.delivery_servers import http_receiver
from tests.processes import logged_in
from tests.test_accounts import post
from tests.test_delivery import AT, FEED, ON_TIME, Clock, condition, deliveries, events, hook, run, set_alerts


@pytest.fixture
def app(own_app):
    return own_app


def silence(**given) -> Silence:
    return Silence(
        **{"ends_at": AT + timedelta(hours=4), "reason": "bảo trì", "created_by": "quantri", "created_at": AT}
        | given
    )


def test_a_silence_matches_its_unit_and_every_unit_inside(units) -> None:
    commune = units.children("705")[0]
    area = silence(unit="705")
    assert area.matches({"feed": FEED, "rule": ON_TIME, "unit": commune}, units)
    assert not area.matches({"feed": FEED, "rule": ON_TIME, "unit": "706"}, units)
    assert not silence(feed="vaccination").matches({"feed": FEED, "unit": "705"}, units)
    assert area.active(AT + timedelta(hours=3)) and not area.active(AT + timedelta(hours=4))
    with pytest.raises(ValueError, match="at least a feed, a unit or a rule"):
        silence()
    with pytest.raises(ValueError, match="at most 90 days"):
        silence(unit="705", ends_at=AT + timedelta(days=91))


def test_a_silenced_alert_sends_nothing_until_the_silence_ends(r, units) -> None:
    clock = Clock(AT)
    with http_receiver() as receiver:
        worker = deliveries(
            r, units, clock, {"zalo": hook(receiver)}, {"tat_ca": {"contact_points": ["zalo"]}}
        )
        worker.silences = silences.Silences(r, units, check_s=0)
        silences.save(r, silence(unit="705", ends_at=AT + timedelta(hours=2)))
        set_alerts(r, AT, condition("705", 0.5), condition("706", 0.5))
        run(worker)
        assert events(receiver) == [("raised", f"{ON_TIME}|706")], "the silenced 705 was sent"
        clock.advance(121)  # the silence is over; 705 is still on: the next scan says it
        worker.scanned = -1e18
        run(worker)
        assert ("reminder", f"{ON_TIME}|705") in events(receiver)


def test_an_officer_silences_only_their_own_units_and_everything_is_audited(app, r) -> None:
    officer = logged_in(app, "truc-705")
    outside = post(officer, "/silences", unit="706", hours="2", reason="bảo trì máy chủ")
    assert outside.status_code == 403 and r.hlen(keys.silences()) == 0
    no_unit = post(officer, "/silences", feed=FEED, hours="2", reason="bảo trì máy chủ")
    assert no_unit.status_code == 403
    ok = post(officer, "/silences", unit="705", hours="2", reason="gọi anh Nguyễn Văn An 0912345678")
    assert ok.status_code == 302
    (made,) = silences.read_all(r)
    assert made.unit == "705" and made.created_by == "truc-705"
    assert "0912345678" not in made.reason and "Nguyễn Văn An" not in made.reason, made.reason
    entry = audit.read(r, 10, "silence_created")[0]
    assert (entry["who"], entry["unit"], entry["silence"]) == ("truc-705", "705", made.id)
    page = officer.get("/silences").text
    assert "Kết thúc ngay" in page
    other = logged_in(app, "truc-706")
    refused = other.post(f"/silences/{made.id}/end", data={"csrf_token": _token(other.get("/silences").text)})
    assert refused.status_code == 403
    leader = logged_in(app, "lanhdao")
    ended = leader.post(f"/silences/{made.id}/end", data={"csrf_token": _token(leader.get("/silences").text)})
    assert ended.status_code == 302
    (after,) = silences.read_all(r)
    assert after.ended_by == "lanhdao" and not after.active(datetime.now(UTC))
    assert audit.read(r, 10, "silence_ended")[0]["who"] == "lanhdao"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"unit": "999", "hours": 1, "reason": "abc"}, 400, "unit: '999' is not a unit"),
        ({"unit": "705", "hours": 0, "reason": "abc"}, 400, "hours: more than 0"),
        ({"unit": "705", "hours": "x", "reason": "abc"}, 400, "hours: 'x' is not a number"),
        ({"unit": "705", "ends_at": "mai", "reason": "abc"}, 400, "ends_at: a time like"),
        ({"unit": "705", "hours": 1, "reason": ""}, 400, "reason: String should have at least 3"),
        ({"rule": "khong_co", "hours": 1, "reason": "abc"}, 400, "rule: 'khong_co' is not an alert rule"),
        ({"hours": 1, "reason": "abc"}, 400, "a silence names at least a feed, a unit or a rule"),
        ([1, 2], 400, "the body must be a JSON object"),
    ],
)
def test_the_api_says_what_is_wrong_with_a_silence(app, body, status, message) -> None:
    admin = logged_in(app, "quantri")
    reply = admin.post("/api/v1/silences", json=body)
    assert reply.status_code == status and message in reply.get_json()["error"], reply.get_json()


def test_the_api_makes_lists_and_ends_silences(app, r) -> None:
    admin = logged_in(app, "quantri")
    made = admin.post("/api/v1/silences", json={"feed": FEED, "hours": 3, "reason": "Tết"}).get_json()
    assert made["feed"] == FEED and made["created_by"] == "quantri"
    assert [s["id"] for s in admin.get("/api/v1/silences").get_json()["silences"]] == [made["id"]]
    officer = logged_in(app, "truc-705")
    assert officer.post(f"/api/v1/silences/{made['id']}/end").status_code == 403
    ended = admin.post(f"/api/v1/silences/{made['id']}/end").get_json()
    assert ended["ended_by"] == "quantri"
    assert admin.post("/api/v1/silences/nope/end").status_code == 404


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found[1]
