"""The public card API for the app's native widgets: value, Vietnamese text, trend, time; small
counts of health data hidden (and their complement), never shown as 0."""

from __future__ import annotations

import json

import pytest

from ioc import keys
from ioc.config import Settings
from ioc.web import create_app

AS_OF = "2026-11-22T10:42:00+07:00"
TAY_NINH_CITY = "703"


@pytest.fixture
def client(r, redis_server, units):
    """Figures written as the aggregator writes them: dossiers everywhere, and vaccination doses
    where Phường 1 has 7 (hidden) and a sister commune 20 (its complement)."""
    communes = units.children(TAY_NINH_CITY)
    for feed in ("public_services", "vaccination"):
        r.delete(keys.snapshot(feed), keys.series(feed))
        r.hset(keys.snapshot(feed), keys.META_FIELD, json.dumps({"as_of": AS_OF}))
    for code in units.codes:
        dossiers = {
            "received": {"value": 1234},
            "on_time_rate": {"value": 0.8694, "numerator": 20, "denominator": 23},
        }
        doses = 7 if code == communes[0] else 20 if code == communes[1] else 150
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
    app = create_app(Settings(redis={"url": redis_server.url}), r)  # type: ignore[arg-type]
    return app.server.test_client(), communes


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
        ("/api/v1/cards/public_services.nope", 404, "unknown card 'public_services.nope'"),
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
