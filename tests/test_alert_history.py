"""An acknowledgement with a comment (redacted), and an alert's history: raised, sent to whom,
acknowledged by whom with what, resolved; refused outside one's scope."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from ioc import alert_store
from tests.delivery_servers import http_receiver
from tests.processes import logged_in
from tests.test_delivery import AT, FEED, ON_TIME, Clock, condition, deliveries, hook, run, set_alerts

ALERT = f"{ON_TIME}|705"


@pytest.fixture
def app(own_app):
    return own_app


def test_an_acknowledgement_carries_its_comment_without_personal_data(app, r) -> None:
    set_alerts(r, AT, condition("705", 0.5))
    officer = logged_in(app, "truc-705")
    long = officer.post("/api/v1/alerts/ack", json={"feed": FEED, "id": ALERT, "comment": "x" * 301})
    assert long.status_code == 400 and "comment: text of at most 300" in long.get_json()["error"]
    wrong = officer.post("/api/v1/alerts/ack", json={"feed": FEED, "id": ALERT, "comment": ["x"]})
    assert wrong.status_code == 400
    said = "Đã gọi anh Nguyễn Văn An 0912345678,\n đang xử lý"
    reply = officer.post("/api/v1/alerts/ack", json={"feed": FEED, "id": ALERT, "comment": said})
    assert reply.status_code == 200, reply.get_json()
    comment = alert_store.read_active(r, FEED)[ALERT]["ack_comment"]
    assert "0912345678" not in comment and "Nguyễn Văn An" not in comment and "đang xử lý" in comment
    listed = {a["id"]: a for a in officer.get("/api/v1/alerts").get_json()["alerts"]}
    assert listed[ALERT]["ack_comment"] == comment
    set_alerts(r, AT, condition("705", 0.6))  # a later commit keeps it
    assert alert_store.read_active(r, FEED)[ALERT]["ack_comment"] == comment


def test_the_history_says_raised_sent_acknowledged_and_resolved_in_order(app, r, units) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # the acknowledgement is stamped by the clock
    clock = Clock(now - timedelta(minutes=1))
    with http_receiver() as receiver:
        points, routes = {"zalo": hook(receiver)}, {"tat_ca": {"contact_points": ["zalo"]}}
        worker = deliveries(r, units, clock, points, routes)
        set_alerts(r, now - timedelta(minutes=1), condition("705", 0.5))
        run(worker)
        officer = logged_in(app, "truc-705")
        ack = {"feed": FEED, "id": ALERT, "comment": "đang xử lý"}
        assert officer.post("/api/v1/alerts/ack", json=ack).status_code == 200
        set_alerts(r, now + timedelta(seconds=30))
        clock.advance(2)
        run(worker)
    answer = officer.get(f"/api/v1/alerts/history?feed={FEED}&id={ALERT}").get_json()
    said = [(e["event"], e.get("message") or e.get("comment") or "") for e in answer["events"]]
    assert said == [
        ("raised", ""),
        ("sent", "raised"),
        ("acknowledged", "đang xử lý"),
        ("cleared", ""),
        ("sent", "cleared"),
    ]
    page = officer.get(f"/alerts/history?feed={FEED}&id={ALERT.replace('|', '%7C')}")
    assert page.status_code == 200 and "“đang xử lý”" in page.text and "Huyện Tân Biên" in page.text
    other = logged_in(app, "truc-706")
    assert other.get(f"/api/v1/alerts/history?feed={FEED}&id={ALERT}").status_code == 403
    assert other.get(f"/api/v1/alerts/history?feed={FEED}&id=nonsense").status_code == 400
    assert other.get(f"/api/v1/alerts/history?feed=weather&id={ALERT}").status_code == 400
    # the same events as a download, refused outside the scope as the page is
    assert 'href="/alerts/history.csv?feed=public_services&amp;id=' in page.text
    reply = officer.get(f"/alerts/history.csv?feed={FEED}&id={ALERT.replace('|', '%7C')}")
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True).removeprefix("\ufeff"))))
    assert [(r["Sự kiện"], r["Ghi chú"]) for r in rows] == [
        ("Cảnh báo xuất hiện", ""),
        ("Đã gửi", ""),
        ("Đã xác nhận", "đang xử lý"),
        ("Hết cảnh báo", ""),
        ("Đã gửi", ""),
    ]
    assert [r["Nơi nhận"] for r in rows if r["Sự kiện"] == "Đã gửi"] == ["zalo", "zalo"]
    assert other.get(f"/alerts/history.xlsx?feed={FEED}&id={ALERT}").status_code == 403
    assert officer.get(f"/alerts/history.pdf?feed={FEED}&id={ALERT}").status_code == 404
