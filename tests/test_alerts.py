"""Alert rules: raised once, kept current, cleared when the condition ends, acknowledged with who
and when; a stale feed; rules that cannot be evaluated are refused with their name."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from ioc import alerts, keys
from ioc.alerts import Alerts
from ioc.config import AlertRule, ConfigError
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.web import create_app
from tests.pipeline import Pipeline
from tests.processes import app_settings, get, logged_in
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)
from tests.test_kpis import AS_OF, dossier, load_cases

ON_TIME = AlertRule(
    feed="public_services",
    kpi="on_time_rate",
    window="7d",
    level="district",
    below=0.9,
    title="đúng hạn 7 ngày",
    title_en="on time, 7 days",
)
STALE = AlertRule(
    feed="public_services",
    kind="stale",
    minutes=15,
    title="nguồn dữ liệu ngừng cập nhật",
    title_en="feed stopped updating",
)


@pytest.fixture
def pipe(r, units):
    listing = RecordListing("ma_ho_so")
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    pipeline = Pipeline(r, units, server.url, lambda: AS_OF)
    pipeline.aggregator.alerts = Alerts(
        "public_services", {"dung_han": ON_TIME}, units, connectors=["public_services"]
    )
    yield listing, pipeline
    pipeline.close()
    server.close()


def events(r) -> list[tuple[str, str]]:
    return [
        (f[b"event"].decode(), f[b"id"].decode()) for _i, f in r.xrange(keys.alert_log("public_services"))
    ]


def test_raised_once_with_the_value_then_cleared(r, pipe) -> None:
    """Tân Biên (705): E resolved late, 0% on time < 90%; Tây Ninh city (703): 1 of 2, 50%.
    Raised once however many commits follow; cleared when nine on-time dossiers lift 705 to 90%."""
    listing, pipeline = pipe
    load_cases(listing, pipeline)
    pipeline.aggregator.cycle(checkpoint=True)  # more commits: nothing raised twice
    active = alerts.read_active(r, "public_services")
    assert sorted(active) == ["dung_han|703", "dung_han|705"]
    assert active["dung_han|705"]["text"] == "Huyện Tân Biên: đúng hạn 7 ngày 0,0% < 90%"
    assert active["dung_han|705"]["text_en"] == "Huyện Tân Biên: on time, 7 days 0.0% < 90%"
    assert active["dung_han|703"]["value"] == 0.5
    assert events(r) == [("raised", "dung_han|703"), ("raised", "dung_han|705")]
    since = active["dung_han|705"]["since"]
    for i in range(9):
        listing.put(
            dossier(f"T{i}", "705", "20T08:00:00", "25T08:00:00", "da_tra_ket_qua", f"22T09:5{i}:00")
            | {"ngay_tra_ket_qua": "2026-11-21T08:00:00+07:00"}
        )
    pipeline.sync()
    active = alerts.read_active(r, "public_services")
    assert sorted(active) == ["dung_han|703"] and active["dung_han|703"]["since"] <= since
    assert events(r)[-1] == ("cleared", "dung_han|705")


def test_acknowledged_alert_keeps_who_and_when_through_later_commits(r, pipe) -> None:
    listing, pipeline = pipe
    load_cases(listing, pipeline)
    acked = alerts.acknowledge(r, "public_services", "dung_han|705", "Nguyễn Trực Ban", AS_OF)
    assert acked["acked_by"] == "Nguyễn Trực Ban" and acked["acked_at"] == "2026-11-22T03:00:00+00:00"
    pushed = json.loads(r.xrevrange(keys.deltas("public_services"), count=1)[0][1][b"d"])
    assert {a["id"]: a.get("acked_by") for a in pushed["alerts"]}["dung_han|705"] == "Nguyễn Trực Ban"
    listing.put(dossier("N", "705", "22T09:00:00", "25T09:00:00", "tiep_nhan", "22T09:58:00"))
    pipeline.sync()  # the alert's value is rewritten by the aggregator; the acknowledgement stays
    assert alerts.read_active(r, "public_services")["dung_han|705"]["acked_by"] == "Nguyễn Trực Ban"
    assert events(r)[-1] == ("acknowledged", "dung_han|705")
    with pytest.raises(alerts.UnknownAlert, match=re.escape("no active alert 'dung_han|706'")):
        alerts.acknowledge(r, "public_services", "dung_han|706", "X", AS_OF)


def test_stale_feed_is_an_alert_at_the_province(r, units) -> None:
    rules = Alerts("public_services", {"ngung": STALE}, units, connectors=["public_services"])
    health = keys.connector_health("public_services", "public_services")
    r.hset(health, "last_success_at", (AS_OF - timedelta(minutes=14)).isoformat())
    assert rules.evaluate(r, {}, AS_OF) == {}
    r.hset(health, "last_success_at", (AS_OF - timedelta(minutes=16)).isoformat())
    (alert,) = rules.evaluate(r, {}, AS_OF).values()
    assert alert["unit"] == "72" and alert["text"] == (
        "Tỉnh Tây Ninh: nguồn dữ liệu ngừng cập nhật 16 phút (ngưỡng 15 phút)"
    )
    assert alert["text_en"] == "Tỉnh Tây Ninh: feed stopped updating 16 min (threshold 15 min)"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kpi": "dung_han"}, r"alerts.x.kpi: 'dung_han' is not a KPI of public_services"),
        ({"window": "week"}, r"alerts.x.window: 'week' is not one of"),
        ({"feed": "mobile_data"}, r"alerts.x.feed: 'mobile_data' is not the feed 'public_services'"),
    ],
)
def test_rules_that_cannot_be_evaluated_are_refused(units, rule, message) -> None:
    bad = ON_TIME.model_copy(update=rule)
    with pytest.raises(ConfigError, match=message):
        Alerts("public_services", {"x": bad}, units, connectors=[])


def test_a_rule_needs_one_threshold() -> None:
    with pytest.raises(ValueError, match="exactly one of below or above"):
        AlertRule(feed="public_services", kpi="on_time_rate", title="t")


def test_alert_api_lists_and_acknowledges(r, pipe, redis_server) -> None:
    listing, pipeline = pipe
    load_cases(listing, pipeline)
    client = logged_in(create_app(app_settings(redis_server), r), "truc-705")
    listed = client.get("/api/v1/alerts").get_json()["alerts"]
    assert [a["id"] for a in listed] == ["dung_han|705"]  # an officer's units' alerts only, as the relay's
    refused = client.post("/api/v1/alerts/ack", json={"feed": "public_services", "id": "dung_han|703"})
    assert refused.status_code == 403 and "outside your scope" in refused.get_json()["error"]
    reply = client.post("/api/v1/alerts/ack", json={"feed": "public_services", "id": "dung_han|705"})
    assert reply.status_code == 200 and reply.get_json()["acked_by"] == "truc-705 (test)"
    leader = logged_in(create_app(app_settings(redis_server), r), "lanhdao")
    listed = leader.get("/api/v1/alerts").get_json()["alerts"]
    assert [a["id"] for a in listed] == ["dung_han|703", "dung_han|705"]  # acknowledged ones last
    for body, status, said in [
        ({"feed": "public_services"}, 400, "id (the alert"),
        ({"feed": "x", "id": "a"}, 400, "unknown feed 'x'"),
        ({"feed": "public_services", "id": "nope"}, 404, "no active alert 'nope'"),
    ]:
        reply = client.post("/api/v1/alerts/ack", json=body)
        assert reply.status_code == status and said in reply.get_json()["error"]
    assert client.post("/api/v1/alerts/ack", data="not json").status_code == 400
    reply = leader.post("/api/v1/alerts/ack", json={"feed": "public_services", "id": "dung_han|703"})
    assert reply.status_code == 403 and "leader does not acknowledge" in reply.get_json()["error"]


@pytest.mark.browser
def test_a_duty_officer_acknowledges_an_alert_and_every_screen_shows_it(browser, demo) -> None:  # noqa: F811
    """The demo's districts with overdue dossiers are in the ticker; acknowledging one on one
    screen shows who and when on another without a reload."""
    base = f"http://127.0.0.1:{demo[0]}"
    listed = get(base + "/api/v1/alerts").json()["alerts"]
    alert = next(a for a in listed if a["rule"] == "qua_han" and "acked_by" not in a)
    room = new_page(browser, demo[0], "quantri", viewport={"width": 1600, "height": 1000})
    room.goto(base + "/")
    wall = new_page(browser, demo[0], viewport={"width": 1600, "height": 1000})
    wall.goto(f"{base}/district/{alert['unit']}")
    item = room.locator(f".alert-item[data-alert='{alert['id']}']")
    item.wait_for(timeout=30_000)
    assert f"{alert['unit_name']}: hồ sơ quá hạn" in item.inner_text()
    wall.locator(f".alert-item[data-alert='{alert['id']}']").wait_for(timeout=30_000)
    assert wall.locator(".alert-ack").count() == 0  # a leader reads alerts; officers acknowledge them
    item.locator(".alert-ack").click()  # who: the person logged in, no question asked
    elsewhere = wall.locator(f".alert-item.acked[data-alert='{alert['id']}']")
    elsewhere.wait_for(timeout=10_000)
    assert "đã xác nhận: quantri (test)" in elsewhere.inner_text()
    assert room.locator(f".alert-item.acked[data-alert='{alert['id']}'] .alert-ack").count() == 0
