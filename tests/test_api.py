"""The KPI API of FEEDS.md: shape, every unit and window, and 400s that say what was wrong."""

from __future__ import annotations

import pytest
import redis

from ioc.web import create_app
from tests.processes import app_settings, logged_in
from tests.test_kpis import counted_cases


@pytest.fixture(scope="module")
def api(units, redis_server):
    """Built once for the module: every test only reads (GETs of a logged-in leader)."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    with counted_cases(client, units):
        yield logged_in(create_app(app_settings(redis_server), client), "lanhdao")
    client.close()


def test_answers_in_the_documented_shape(api) -> None:
    reply = api.get("/api/v1/kpis?feed=public_services&unit=705&window=7d")
    assert reply.status_code == 200
    body = reply.get_json()
    assert {k: body[k] for k in ("feed", "unit", "scheme", "window", "as_of")} == {
        "feed": "public_services",
        "unit": "705",
        "scheme": "pre2025",
        "window": "7d",
        "as_of": "2026-11-22T10:00:00+07:00",
    }
    assert body["kpis"]["received"] == {"value": 1}
    assert body["kpis"]["on_time_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}


@pytest.mark.parametrize("window", ["today", "7d", "30d", "mtd", "ytd"])
def test_every_unit_and_window_answers(api, units, window) -> None:
    for unit in units.codes:
        reply = api.get(f"/api/v1/kpis?feed=public_services&unit={unit}&window={window}")
        assert reply.status_code == 200, (unit, window)
        assert len(reply.get_json()["kpis"]) == 8


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("feed=dich_vu&unit=72&window=7d", "unknown feed 'dich_vu'"),
        ("feed=public_services&unit=704&window=7d", "unknown unit '704' in scheme pre2025"),
        ("feed=public_services&unit=72&window=week", "unknown window 'week'"),
        ("unit=72&window=7d", "unknown feed ''"),
    ],
)
def test_bad_queries_get_400_with_the_reason(api, query, message) -> None:
    reply = api.get(f"/api/v1/kpis?{query}")
    assert reply.status_code == 400
    assert message in reply.get_json()["error"]


def test_case_list_of_a_district(api) -> None:
    body = api.get("/api/v1/cases?feed=public_services&unit=703").get_json()
    assert body["as_of"] == "2026-11-22T10:00:00+07:00" and body["count"] == 1
    assert [c["id"] for c in body["cases"]] == ["B"]


def test_case_list_of_a_commune_is_its_own_part_of_its_districts(api) -> None:
    """B is Phường 3's (25459): its list holds it, Phường 1's (25456, the same district) not."""
    own = api.get("/api/v1/cases?feed=public_services&unit=25459").get_json()
    assert [(c["id"], c["unit_code"]) for c in own["cases"]] == [("B", "25459")] and own["count"] == 1
    assert api.get("/api/v1/cases?feed=public_services&unit=25456").get_json()["cases"] == []


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("feed=mobile_data&unit=703", 400, "no case list for feed 'mobile_data'"),
        ("feed=public_services&unit=704", 400, "unknown unit '704'"),
        ("feed=citizen_feedback&unit=703", 503, "no KPIs computed yet"),
    ],
)
def test_bad_case_queries_say_why(api, query, status, message) -> None:
    reply = api.get(f"/api/v1/cases?{query}")
    assert reply.status_code == status
    assert message in reply.get_json()["error"]


def test_feed_without_data_yet_is_503(api) -> None:
    reply = api.get("/api/v1/kpis?feed=vaccination&unit=72&window=7d")
    assert reply.status_code == 503
    assert "no KPIs computed yet" in reply.get_json()["error"]


def test_geojson_and_fonts_are_served_locally(api) -> None:
    geo = api.get("/geo/pre2025-district.geojson")
    assert geo.status_code == 200 and geo.mimetype == "application/geo+json"
    features = geo.get_json()["features"]
    assert sorted(f["properties"]["code"] for f in features) == ["703", *map(str, range(705, 713))]
    assert api.get("/fonts/BeVietnamPro-Regular.vietnamese.woff2").status_code == 200
