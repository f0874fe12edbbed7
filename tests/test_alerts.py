"""Alert rules: raised once, kept current, cleared when the condition ends, acknowledged with who
and when; a stale feed; rules that cannot be evaluated are refused with their name. Alerts are
stored as data (rule, unit, value, threshold) and the pages say them in the reader's language, in
Python and in the browser alike."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from ioc import alert_store, keys
from ioc.alerts import Alerts
from ioc.config import AlertRule, ConfigError, default_alert_rules
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.web import create_app
from layouts.alert_text import describe
from tests.pipeline import Pipeline
from tests.processes import app_settings, get, logged_in
from tests.test_areas_2025 import ON_TIME_7D, TAN_BIEN, TAN_CHAU, counted_2025, new  # noqa: F401  (new: the fixture)
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
URGENT = AlertRule(
    feed="citizen_feedback",
    kind="cases",
    above=20,
    title="phản ánh khẩn quá hạn",
    title_en="overdue urgent reports",
)
RULES = {"dung_han": ON_TIME, "ngung": STALE, "khan": URGENT}


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
    active = alert_store.read_active(r, "public_services")
    assert sorted(active) == ["dung_han|703", "dung_han|705"]
    assert {k: active["dung_han|705"][k] for k in ("rule", "unit", "value", "threshold", "comparison")} == {
        "rule": "dung_han",
        "unit": "705",
        "value": 0.0,
        "threshold": 0.9,
        "comparison": "below",
    }
    assert describe(active["dung_han|705"], RULES, "vi") == "Huyện Tân Biên: đúng hạn 7 ngày 0,0% < 90%"
    assert describe(active["dung_han|705"], RULES, "en") == "Huyện Tân Biên: on time, 7 days 0.0% < 90%"
    assert active["dung_han|703"]["value"] == 0.5
    assert events(r) == [("raised", "dung_han|703"), ("raised", "dung_han|705")]
    since = active["dung_han|705"]["since"]
    for i in range(9):
        listing.put(
            dossier(f"T{i}", "705", "20T08:00:00", "25T08:00:00", "da_tra_ket_qua", f"22T09:5{i}:00")
            | {"ngay_tra_ket_qua": "2026-11-21T08:00:00+07:00"}
        )
    pipeline.sync()
    active = alert_store.read_active(r, "public_services")
    assert sorted(active) == ["dung_han|703"] and active["dung_han|703"]["since"] <= since
    assert events(r)[-1] == ("cleared", "dung_han|705")


def test_acknowledged_alert_keeps_who_and_when_through_later_commits(r, pipe) -> None:
    listing, pipeline = pipe
    load_cases(listing, pipeline)
    acked = alert_store.acknowledge(r, "public_services", "dung_han|705", "Nguyễn Trực Ban", AS_OF)
    assert acked["acked_by"] == "Nguyễn Trực Ban" and acked["acked_at"] == "2026-11-22T03:00:00+00:00"
    pushed = json.loads(r.xrevrange(keys.deltas("public_services"), count=1)[0][1][b"d"])
    assert {a["id"]: a.get("acked_by") for a in pushed["alerts"]}["dung_han|705"] == "Nguyễn Trực Ban"
    listing.put(dossier("N", "705", "22T09:00:00", "25T09:00:00", "tiep_nhan", "22T09:58:00"))
    pipeline.sync()  # the alert's value is rewritten by the aggregator; the acknowledgement stays
    assert alert_store.read_active(r, "public_services")["dung_han|705"]["acked_by"] == "Nguyễn Trực Ban"
    assert events(r)[-1] == ("acknowledged", "dung_han|705")
    with pytest.raises(alert_store.UnknownAlert, match=re.escape("no active alert 'dung_han|706'")):
        alert_store.acknowledge(r, "public_services", "dung_han|706", "X", AS_OF)


def test_stale_feed_is_an_alert_at_the_province(r, units) -> None:
    rules = Alerts("public_services", {"ngung": STALE}, units, connectors=["public_services"])
    health = keys.connector_health("public_services", "public_services")
    r.hset(health, "last_success_at", (AS_OF - timedelta(minutes=14)).isoformat())
    assert rules.evaluate(r, {}, AS_OF) == {}
    r.hset(health, "last_success_at", (AS_OF - timedelta(minutes=16)).isoformat())
    (alert,) = rules.evaluate(r, {}, AS_OF).values()
    assert alert["unit"] == "72" and alert["kind"] == "stale" and alert["threshold"] == 15
    assert (
        describe(alert, RULES, "vi") == "Tỉnh Tây Ninh: nguồn dữ liệu ngừng cập nhật 16 phút (ngưỡng 15 phút)"
    )
    assert describe(alert, RULES, "en") == "Tỉnh Tây Ninh: feed stopped updating 16 min (threshold 15 min)"


def test_alerts_are_data_in_no_language(r, pipe) -> None:
    """What the aggregator stores and logs: the rule, the unit, the value and the threshold, and
    how to read them; no words in any language."""
    listing, pipeline = pipe
    load_cases(listing, pipeline)
    stored = json.loads(r.hget(keys.alerts("public_services"), "dung_han|705"))
    assert stored == {
        "id": "dung_han|705",
        "rule": "dung_han",
        "feed": "public_services",
        "unit": "705",
        "unit_name": "Huyện Tân Biên",
        "kind": "kpi",
        "kpi": "on_time_rate",
        "window": "7d",
        "comparison": "below",
        "value": 0.0,
        "threshold": 0.9,
        "since": "2026-11-22T03:00:00+00:00",
    }
    raised = r.xrange(keys.alert_log("public_services"))[-1][1]
    assert {k.decode(): v.decode() for k, v in raised.items()} == {
        "event": "raised",
        "id": "dung_han|705",
        "at": "2026-11-22T03:00:00+00:00",
        "rule": "dung_han",
        "unit": "705",
        "value": "0.0",
        "threshold": "0.9",
        "since": "2026-11-22T03:00:00+00:00",  # when the occurrence began (a resolution says it)
    }


def stored(rule: str, where: str, kind: str, kpi: str | None, comparison: str, value: float, limit: float):
    """An alert as the aggregator stores it (the unit's code is not what the pages say)."""
    return dict(
        rule=rule,
        unit="x",
        unit_name=where,
        kind=kind,
        kpi=kpi,
        comparison=comparison,
        value=value,
        threshold=limit,
    )


# One alert of each way of saying it, with what the pages write in Vietnamese and English.
SAID = [
    (
        stored("dung_han", "Huyện Tân Biên", "kpi", "on_time_rate", "below", 0.865, 0.9),
        "Huyện Tân Biên: đúng hạn 7 ngày 86,5% < 90%",
        "Huyện Tân Biên: on time, 7 days 86.5% < 90%",
    ),
    (
        stored("khan", "Tỉnh Tây Ninh", "cases", None, "above", 1234.0, 20.0),
        "Tỉnh Tây Ninh: phản ánh khẩn quá hạn 1.234 > 20",
        "Tỉnh Tây Ninh: overdue urgent reports 1,234 > 20",
    ),
    (
        stored("ngung", "Tỉnh Tây Ninh", "stale", None, "above", -1.0, 15.0),
        "Tỉnh Tây Ninh: nguồn dữ liệu ngừng cập nhật chưa từng có số liệu",
        "Tỉnh Tây Ninh: feed stopped updating never had data",
    ),
    (  # an area of the 2025 scheme, by its name
        stored("dung_han", "Khu vực Tân Biên cũ", "kpi", "on_time_rate", "below", 0.5, 0.6),
        "Khu vực Tân Biên cũ: đúng hạn 7 ngày 50,0% < 60%",
        "Khu vực Tân Biên cũ: on time, 7 days 50.0% < 60%",
    ),
    (  # a rule no longer configured is named
        stored("gone", "Thành phố Tây Ninh", "kpi", "overdue_open", "above", 12.0, 10.0),
        "Thành phố Tây Ninh: gone 12 > 10",
        "Thành phố Tây Ninh: gone 12 > 10",
    ),
]


@pytest.mark.parametrize(("alert", "vi", "en"), SAID)
def test_the_pages_say_an_alert_in_the_readers_language(alert, vi, en) -> None:
    assert (describe(alert, RULES, "vi"), describe(alert, RULES, "en")) == (vi, en)


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


# ---- levels: districts before 2025, areas in 2025 -----------------------------------------------


def test_a_rule_at_the_area_level_raises_for_the_areas_past_its_threshold(r, new) -> None:  # noqa: F811
    """2025 scheme, on time in 7 days below 60%: Khu vực Tân Biên cũ (50%) only; not Khu vực Tân
    Châu cũ (80%), though its Xã 25516 is at 0% (communes are another level), nor the areas at
    100% or without a figure. A rule without a level checks the same areas; one at the communes
    the communes below 60%."""
    below = {"kpi": "on_time_rate", "window": "7d", "below": 0.6, "title": "đúng hạn 7 ngày"}
    rules = {
        "kv": AlertRule(feed="public_services", level="area", **below, title_en="on time, 7 days"),
        "mac_dinh": AlertRule(feed="public_services", **below),
        "xa": AlertRule(feed="public_services", level="commune", **below),
    }
    alerts = Alerts("public_services", rules, new, connectors=["public_services"])
    with counted_2025(r, new, alerts):
        active = alert_store.read_active(r, "public_services")
    by_hand = {unit for unit, rate in ON_TIME_7D.items() if rate < 0.6}
    assert sorted(active) == sorted(
        [f"kv|{TAN_BIEN}", f"mac_dinh|{TAN_BIEN}", *(f"xa|{u}" for u in by_hand if new.level(u) == "commune")]
    ), "areas below 60% by hand: " + TAN_BIEN
    assert f"kv|{TAN_CHAU}" not in active and ON_TIME_7D[TAN_CHAU] >= 0.6
    raised = active[f"kv|{TAN_BIEN}"]
    assert (raised["unit"], raised["unit_name"], raised["value"]) == (TAN_BIEN, "Khu vực Tân Biên cũ", 0.5)
    assert describe(raised, rules, "vi") == "Khu vực Tân Biên cũ: đúng hạn 7 ngày 50,0% < 60%"
    assert describe(raised, rules, "en") == "Khu vực Tân Biên cũ: on time, 7 days 50.0% < 60%"


def test_a_rule_at_a_level_the_scheme_has_not_is_refused_naming_it(units, new) -> None:  # noqa: F811
    """Districts are pre-2025 units, areas 2025 ones: a rule at the other's level would never be
    raised, so the aggregator refuses to start with it, naming the rule and the scheme."""
    with pytest.raises(ConfigError) as caught:
        Alerts("public_services", {"dung_han": ON_TIME}, new, connectors=[])
    assert str(caught.value) == (
        "alerts.dung_han.level: 'district' is not a level of the scheme 2025 (boundaries.scheme): its "
        'units below the province are areas; use level = "area", or leave level unset for the level '
        "below the province"
    )
    area = ON_TIME.model_copy(update={"level": "area"})
    with pytest.raises(
        ConfigError, match=re.escape("alerts.kv.level: 'area' is not a level of the scheme pre2025")
    ):
        Alerts("public_services", {"kv": area}, units, connectors=[])


def test_the_default_rules_check_the_level_below_the_province(r, units, new) -> None:  # noqa: F811
    """The registry's rule on dossiers on time names no level: the districts before 2025, the
    areas in 2025; every default rule is accepted in both schemes."""
    rules = {n: rule for n, rule in default_alert_rules().items() if rule.feed == "public_services"}
    assert rules["dung_han_duoi_90"].level is None
    for table in (units, new):
        Alerts("public_services", rules, table, connectors=["public_services"])
    with counted_2025(r, new, Alerts("public_services", rules, new, ["public_services"])):
        raised = {a["unit"] for a in alert_store.read_active(r, "public_services").values()}
    assert raised == {u for u, rate in ON_TIME_7D.items() if new.level(u) == "area" and rate < 0.9}
    assert raised == {TAN_BIEN, TAN_CHAU}


def test_a_rule_needs_one_threshold() -> None:
    with pytest.raises(ValueError, match="exactly one of below or above"):
        AlertRule(feed="public_services", kpi="on_time_rate", title="t")


def test_alert_api_lists_and_acknowledges(r, pipe, redis_server) -> None:
    listing, pipeline = pipe
    load_cases(listing, pipeline)
    settings = app_settings(redis_server, alerts={"dung_han": ON_TIME})
    client = logged_in(create_app(settings, r), "truc-705")
    listed = client.get("/api/v1/alerts").get_json()["alerts"]
    assert [a["id"] for a in listed] == ["dung_han|705"]  # an officer's units' alerts only, as the relay's
    # the API still says each alert in words, as when the aggregator wrote them
    assert listed[0]["text"] == "Huyện Tân Biên: đúng hạn 7 ngày 0,0% < 90%"
    assert listed[0]["text_en"] == "Huyện Tân Biên: on time, 7 days 0.0% < 90%"
    refused = client.post("/api/v1/alerts/ack", json={"feed": "public_services", "id": "dung_han|703"})
    assert refused.status_code == 403 and "outside your scope" in refused.get_json()["error"]
    reply = client.post("/api/v1/alerts/ack", json={"feed": "public_services", "id": "dung_han|705"})
    assert reply.status_code == 200 and reply.get_json()["acked_by"] == "truc-705 (test)"
    assert reply.get_json()["text"] == listed[0]["text"]
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
    assert re.fullmatch(
        rf"▲ {alert['unit_name']}: hồ sơ quá hạn [\d.]+ > 0", item.locator(".alert-text").inner_text()
    )
    wall.locator(f".alert-item[data-alert='{alert['id']}']").wait_for(timeout=30_000)
    assert wall.locator(".alert-ack").count() == 0  # a leader reads alerts; officers acknowledge them
    item.locator(".alert-comment").fill("Đã giao bộ phận một cửa xử lý")  # optional
    item.locator(".alert-ack").click()  # who: the person logged in, no question asked
    elsewhere = wall.locator(f".alert-item.acked[data-alert='{alert['id']}']")
    elsewhere.wait_for(timeout=10_000)
    assert "đã xác nhận: quantri (test)" in elsewhere.inner_text()
    assert "“Đã giao bộ phận một cửa xử lý”" in elsewhere.inner_text()
    assert room.locator(f".alert-item.acked[data-alert='{alert['id']}'] .alert-ack").count() == 0
    room.locator(f".alert-item[data-alert='{alert['id']}'] .alert-history").click()
    room.wait_for_url("**/alerts/history?**")
    rows = room.locator("table.history tbody tr").all_inner_texts()
    assert any("Cảnh báo xuất hiện" in r for r in rows), rows
    assert any("Đã xác nhận" in r and "quantri (test)" in r and "một cửa" in r for r in rows), rows
    room.goto(base + "/?lang=en")
    room.locator(f".alert-item[data-alert='{alert['id']}']").wait_for(timeout=30_000)
    said = room.locator(f".alert-item[data-alert='{alert['id']}'] .alert-text").inner_text()
    assert re.fullmatch(rf"▲ {alert['unit_name']}: overdue dossiers [\d,]+ > 0", said)  # the page's language


@pytest.mark.browser
def test_the_browser_says_alerts_as_the_server_does(browser, demo) -> None:  # noqa: F811
    """realtime.js writes each kind of alert in both languages exactly as layouts/alert_text.py."""
    base = f"http://127.0.0.1:{demo[0]}"
    page = new_page(browser, demo[0], viewport={"width": 1600, "height": 1000})
    for lang, column in (("vi", 1), ("en", 2)):
        page.goto(f"{base}/?lang={lang}")
        page.wait_for_function("() => window.ioc_rt && window.ioc_rt.state.config", timeout=30_000)
        page.evaluate(
            "(titles) => Object.assign(window.ioc_rt.state.config.alert_titles, titles)",
            {name: rule.title_en if lang == "en" else rule.title for name, rule in RULES.items()},
        )
        written = page.evaluate("(all) => all.map(window.ioc_rt.alertText)", [row[0] for row in SAID])
        assert written == [row[column] for row in SAID]
