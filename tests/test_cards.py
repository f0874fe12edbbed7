"""The public card API for the app's native widgets: value, Vietnamese text, trend, time; small
counts of health data hidden (and their complement), never shown as 0."""

from __future__ import annotations

import json

import pytest
import redis

from ioc import keys
from ioc.web import create_app
from tests.processes import app_settings

AS_OF = "2026-11-22T10:42:00+07:00"
TAY_NINH_CITY = "703"


@pytest.fixture(scope="module")
def store(redis_server):
    """The module's Redis, emptied once: its figures are written once for every test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="module")
def client(store, redis_server, units):
    """Figures written as the aggregator writes them: dossiers everywhere, and vaccination doses
    where Phường 1 has 7 (hidden) and a sister commune 20 (its complement). Built once: the tests
    read, and the one that writes (mobile data) writes keys no other test reads."""
    r = store
    communes = units.children(TAY_NINH_CITY)
    for feed in ("public_services", "vaccination"):
        r.delete(keys.snapshot(feed), keys.series(feed))
        r.hset(keys.snapshot(feed), keys.META_FIELD, json.dumps({"as_of": AS_OF}))
    doses_of = {
        c: 7 if c == communes[0] else 20 if c == communes[1] else 150 for c in units.level_codes("commune")
    }
    for level in ("district", "province"):  # a unit's doses are its communes' (records are coded there)
        for code in units.level_codes(level):
            doses_of[code] = sum(doses_of[c] for c in units.children(code))
    for code in units.codes:
        dossiers = {
            "received": {"value": 1234},
            "on_time_rate": {"value": 0.8694, "numerator": 20, "denominator": 23},
        }
        doses = doses_of[code]
        r.hset(
            keys.snapshot("public_services"), keys.snapshot_field(code, "7d"), json.dumps({"kpis": dossiers})
        )
        r.hset(
            keys.snapshot("vaccination"),
            keys.snapshot_field(code, "7d"),
            json.dumps({"kpis": {"doses": {"value": doses}}}),
        )
    hourly = [0.0] * 24 * 6 + [2.0] * 24  # 6 quiet days, then 48 dossiers in the last 24 hours
    r.hset(
        keys.series("public_services"),
        TAY_NINH_CITY,
        json.dumps({"start": "2026-11-15T11:00:00+07:00", "step_s": 3600, "received": hourly}),
    )
    app = create_app(app_settings(redis_server), r)
    return app.server.test_client(), communes  # no login: cards are public


def test_a_card_gives_value_text_trend_and_time(client) -> None:
    http, _communes = client
    body = http.get(f"/api/v1/cards/public_services.received?unit={TAY_NINH_CITY}").get_json()
    assert body["value"] == 1234 and body["text"] == "1.234 hồ sơ" and not body["hidden"]
    assert body["unit_name"] == "Thành phố Tây Ninh" and body["explanation"] == "Hồ sơ tiếp nhận, 7 ngày qua"
    assert body["as_of_text"] == "Số liệu lúc 10:42 22/11/2026" and body["as_of"] == AS_OF
    assert body["trend"]["daily"][-2:] == [0.0, 48.0] and body["trend"]["text"] == "48"
    rate = http.get("/api/v1/cards/public_services.on_time_rate?unit=703&lang=en").get_json()
    assert rate["text"] == "86.9%" and rate["label"] == "Resolved on time" and rate["trend"] is None


def test_small_health_counts_are_hidden_with_their_complement(client) -> None:
    http, communes = client
    small = http.get(f"/api/v1/cards/vaccination.doses?unit={communes[0]}").get_json()
    assert small["hidden"] and small["value"] is None and small["text"] == "dưới 10"
    # 20 is not small, but shown beside the city's total it would give the 7 back
    sister = http.get(f"/api/v1/cards/vaccination.doses?unit={communes[1]}").get_json()
    assert sister["hidden"] and sister["text"] == "dưới 10"
    shown = http.get(f"/api/v1/cards/vaccination.doses?unit={communes[2]}").get_json()
    assert shown["value"] == 150 and shown["text"] == "150 mũi"


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/v1/cards/public_services.nope", 404, "unknown panel 'public_services.nope'"),
        ("/api/v1/cards/public_services.received?unit=999", 400, "unknown unit '999'"),
        ("/api/v1/cards/public_services.received?window=week", 400, "unknown window 'week'"),
        ("/api/v1/cards/public_services.received?lang=fr", 400, "lang: 'fr' is not one of vi, en"),
        (
            "/api/v1/cards/public_services.received?vaccine=COVID-19",
            400,
            "vaccine: 'COVID-19' is not one of none",
        ),
    ],
)
def test_a_bad_card_request_says_what_is_wrong(client, url, status, message) -> None:
    http, _communes = client
    reply = http.get(url)
    assert reply.status_code == status and message in reply.get_json()["error"]


def test_a_map_card_colours_every_district_and_outlines_the_unit(client) -> None:
    http, _communes = client
    body = http.get("/api/v1/cards/public_services.on_time_rate.map?unit=703").get_json()
    assert body["focus"] == "703" and len(body["units"]) == 9  # no commune polygons: the districts
    city = next(u for u in body["units"] if u["code"] == "703")
    assert city["text"] == "86,9%" and city["fill"].startswith("rgb(") and not city["hidden"]
    province = http.get("/api/v1/cards/public_services.received.map").get_json()
    assert province["focus"] is None and {u["text"] for u in province["units"]} == {"1.234 hồ sơ"}


def test_a_series_card_gives_days_and_hides_them_all_where_one_is_small(client, store) -> None:
    r = store
    http, _communes = client
    body = http.get(f"/api/v1/cards/public_services.received.series?unit={TAY_NINH_CITY}&days=7").get_json()
    assert [d["value"] for d in body["days"]] == [0.0] * 6 + [48.0] and not body["hidden"]
    assert body["days"][-1]["label"] == "22/11" and body["days"][-1]["text"] == "48 hồ sơ"
    # mobile data: a day on which the unit had 5 subscriber-periods hides every day of it
    r.hset(keys.snapshot("mobile_data"), keys.META_FIELD, json.dumps({"as_of": AS_OF}))
    for code in ("72", TAY_NINH_CITY):
        r.hset(keys.snapshot("mobile_data"), keys.snapshot_field(code, "7d"), json.dumps({"kpis": {}}))
    subscribers = [40.0] * 24 * 6 + [0.0] * 23 + [5.0]
    doc = {
        "start": "2026-11-15T11:00:00+07:00",
        "step_s": 3600,
        "traffic_gb": [1.0] * 168,
        "subscribers": subscribers,
    }
    r.hset(keys.series("mobile_data"), TAY_NINH_CITY, json.dumps(doc))
    hidden = http.get(f"/api/v1/cards/mobile_data.traffic_gb.series?unit={TAY_NINH_CITY}").get_json()
    assert (
        hidden["hidden"]
        and {d["value"] for d in hidden["days"]} == {None}
        and "Số nhỏ được ẩn" in hidden["note"]
    )
    r.hset(keys.series("mobile_data"), TAY_NINH_CITY, json.dumps(doc | {"subscribers": [40.0] * 168}))
    shown = http.get(f"/api/v1/cards/mobile_data.traffic_gb.series?unit={TAY_NINH_CITY}").get_json()
    assert not shown["hidden"] and shown["days"][-1]["value"] == 24.0
    missing = http.get(f"/api/v1/cards/public_services.on_time_rate.series?unit={TAY_NINH_CITY}")
    assert (
        missing.status_code == 404
        and "series panels of public_services: received" in missing.get_json()["error"]
    )
