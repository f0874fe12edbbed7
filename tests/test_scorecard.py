"""The national 766 index by hand (SCORECARD.md) for a few dossiers and field reports, through the
real pipeline: HTTP sources, the connectors, Redis and both aggregators, then ``ioc.scorecard``.

as_of is Sunday 22/11/2026 10:00 (+07): the current month is 2026-11 = [1/11, as_of), the current
ISO week 2026-W47 = [Mon 16/11, as_of). The portal has published 2026-10 (a month) and
2026-W46 (a week), written as the national_index aggregator writes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.citizen_feedback import CitizenFeedbackConfig, CitizenFeedbackConnector
from ioc import keys
from ioc.config import Settings
from ioc.connector import Context
from ioc.index766 import INDICATORS
from ioc.scorecard import BadRequest, drilldown, scorecard, weekly_rates, what_if_of
from ioc.simulators.http import RecordListing, SimulatorServer
from tests import oracle
from tests.pipeline import FeedPipeline, Pipeline
from tests.test_areas_2025 import DUC_HOA, INDEX_21, TAN_BIEN, TAN_CHAU, counted_2025, new  # noqa: F401
from tests.test_citizen_feedback import REPORTS as FEEDBACK_REPORTS
from tests.test_citizen_feedback import report
from tests.test_kpis import dossier

AS_OF = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
NOW = AS_OF

# Dossiers of Phường 1 (25456, district 703); 2.1's every case, for the month 2026-11.
DOSSIERS = [
    # returned in the period by its deadline: on time
    dossier(
        "A",
        "25456",
        "20T08:00:00",
        "21T08:00:00",
        "da_tra_ket_qua",
        "20T16:00:00",
        ngay_tra_ket_qua="2026-11-20T16:00:00+07:00",
        kenh_nop="truc_tuyen",
        co_nghia_vu_tai_chinh=True,
        thanh_toan_truc_tuyen=True,
    ),
    # returned in the period after its deadline: late
    dossier(
        "B",
        "25456",
        "10T08:00:00",
        "15T08:00:00",
        "da_tra_ket_qua",
        "18T08:00:00",
        ngay_tra_ket_qua="2026-11-18T08:00:00+07:00",
        co_nghia_vu_tai_chinh=True,
        thanh_toan_truc_tuyen=False,
        so_hoa=False,
    ),
    # not finished, not yet due at the period's end (as_of): on time
    dossier("C", "25456", "18T08:00:00", "25T08:00:00", "dang_xu_ly", "18T08:00:00", kenh_nop="truc_tuyen"),
    # not finished, past its deadline: late
    dossier(
        "D",
        "25456",
        "05T08:00:00",
        "12T08:00:00",
        "dang_xu_ly",
        "05T08:00:00",
        co_nghia_vu_tai_chinh=True,
        thanh_toan_truc_tuyen=True,
        so_hoa=False,
    ),
    # not finished, past its deadline, but waiting for the citizen: on time
    dossier("E", "25456", "05T08:00:00", "12T08:00:00", "cho_bo_sung", "06T08:00:00"),
    # refused in the period by its deadline: on time
    dossier("G", "25456", "15T08:00:00", "30T08:00:00", "tu_choi", "16T08:00:00", kenh_nop="truc_tuyen"),
    # withdrawn in the period after its deadline: late
    dossier("H", "25456", "15T08:00:00", "16T08:00:00", "rut_ho_so", "17T08:00:00"),
]
OCTOBER = [
    # received and returned in October: not counted in November (finished before its start)
    {
        **dossier("F", "25456", "01T08:00:00", "01T08:00:00", "da_tra_ket_qua", "01T08:00:00"),
        "ngay_tiep_nhan": "2026-10-20T08:00:00+07:00",
        "han_xu_ly": "2026-10-25T08:00:00+07:00",
        "ngay_tra_ket_qua": "2026-10-24T08:00:00+07:00",
        "cap_nhat_luc": "2026-10-24T08:00:00+07:00",
    },
    # received in October, returned on 1/11 by its deadline: counted in November, on time
    {
        **dossier("K", "25456", "01T08:00:00", "02T08:00:00", "da_tra_ket_qua", "01T08:00:00"),
        "ngay_tiep_nhan": "2026-10-25T08:00:00+07:00",
        "ngay_tra_ket_qua": "2026-11-01T08:00:00+07:00",
    },
]

# Field reports of Phường 3 (25459, district 703), all closed in week 47.
REPORTS = [
    # R3: binh_thuong, closed on time, rated 4: satisfied; R4: khan, due Wed 17:00, closed Thu
    # 08:00: late, and rated 2 (one dissatisfied report, subtracted once in 5.2)
    *(r for r in FEEDBACK_REPORTS if r["ma_phan_anh"] in ("R3", "R4")),
    # khan, accepted Mon 08:00 (due 14:00), closed 13:30: on time, but rated 1
    report(
        "R12",
        "16T07:30:00",
        "da_xu_ly",
        thoi_diem_tiep_nhan="16T08:00:00",
        thoi_diem_hoan_thanh="16T13:30:00",
        danh_gia=1,
    ),
    # binh_thuong, closed on time, not rated: satisfied
    report(
        "R13",
        "17T07:30:00",
        "da_xu_ly",
        muc_do="binh_thuong",
        thoi_diem_tiep_nhan="17T08:00:00",
        thoi_diem_hoan_thanh="18T10:00:00",
    ),
]

# By hand, November, for Phường 1 / 703 / 72 (the dossiers), Phường 3 / 703 / 72 (the reports):
RATE_21 = 5 / 8  # counted A B C D E G H K; on time A C E G K
RATE_33 = 3 / 7  # received in November: A B C D E G H; online A C G
RATE_36 = 2 / 3  # a fee due: A B D; paid online A D
RATE_42 = 5 / 7  # digitised: all but B and D
RATE_51 = 3 / 4  # closed R3 R4 R12 R13; on time R3 R12 R13
RATE_52 = 2 / 4  # neither late nor rated 1–2: R3 R13
FEED_POINTS = {
    "2.1": 20 * RATE_21,
    "3.3": 4.4 * min(1, RATE_33 / 0.5),
    "3.6": 4.4 * min(1, RATE_36 / 0.8),
    "4.2": 4.4 * min(1, RATE_42 / 0.8),
    "5.1": 6 * min(1, RATE_51 / 1.0),
    "5.2": 6 * min(1, RATE_52 / 0.9),
}
PORTAL_IDS = [i for i, ind in INDICATORS.items() if ind.source == "portal"]
# The portal's figures of 2026-10 for Tây Ninh (80): every portal-only rate full but 1.2 at 0.5
# and 3.1 at 0.4 (full points at 0.8): 4.5 × 0.5 and 4.4 × 0.5.
PORTAL_RATES = {i: 1.0 for i in PORTAL_IDS} | {"1.2": 0.5, "3.1": 0.4}
PORTAL_POINTS = {
    i: INDICATORS[i].default_max * min(1, r / (INDICATORS[i].full_at or 1)) for i, r in PORTAL_RATES.items()
}
TOTAL = sum(FEED_POINTS.values()) + sum(PORTAL_POINTS.values())
# 33 other provinces: ten between 86 and 95, the rest from 50 up
OTHERS = {f"{10 + n:02d}": 86.0 + n for n in range(10)} | {f"{40 + n:02d}": 50.0 + n for n in range(23)}


def portal_document(period: str, ours: float) -> dict:
    provinces = {
        code: {"name": f"Tỉnh {code}", "total": total, "groups": {}, "indicators": {}}
        for code, total in OTHERS.items()
    }
    provinces["80"] = {
        "name": "Tây Ninh",
        "total": ours,
        "groups": {},
        "indicators": {i: {"rate": r, "points": PORTAL_POINTS[i]} for i, r in PORTAL_RATES.items()},
    }
    return {"period": period, "published_at": "2026-11-03T09:00:00+07:00", "provinces": provinces}


@pytest.fixture(scope="module")
def counted(redis_server, units, geodata) -> Iterator[dict]:
    """Both feeds through their pipelines once; the portal's two publications written beside."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    dossiers = RecordListing("ma_ho_so", DOSSIERS + OCTOBER)
    reports = RecordListing("ma_phan_anh", REPORTS)
    server = SimulatorServer({"/api/v1/hoso": dossiers, "/api/v1/phan-anh": reports}).start()
    http = httpx.Client()
    services = Pipeline(client, units, server.url, lambda: AS_OF, page_size=3)
    config = CitizenFeedbackConfig(url=server.url, page_size=3)  # type: ignore[arg-type]
    context = Context(units=units, http=http, clock=lambda: AS_OF, geodata=geodata)
    feedback = FeedPipeline(client, units, CitizenFeedbackConnector(config, context=context), lambda: AS_OF)
    try:
        services.sync()
        feedback.sync()
        assert not services.dead_letters() and not feedback.dead_letters()
        client.hset(
            keys.snapshot("national_index"),
            mapping={
                "_portal|2026-10": json.dumps(portal_document("2026-10", 70.0)),
                "_portal|2026-W46": json.dumps(portal_document("2026-W46", 71.0)),
                "_portal_periods": json.dumps({"weeks": ["2026-W46"], "months": ["2026-10"]}),
            },
        )
        yield {"client": client, "reader": services.reader}
    finally:
        services.close()
        http.close()
        server.close()
        client.close()


def test_each_feed_indicator_by_hand(counted, units):
    answer = scorecard(counted["reader"], units, Settings(), "72", "2026-11", now=NOW)
    got = answer["indicators"]
    for name, (num, den) in {
        "2.1": (5, 8),
        "3.3": (3, 7),
        "3.6": (2, 3),
        "4.2": (5, 7),
        "5.1": (3, 4),
        "5.2": (2, 4),
    }.items():
        assert (got[name]["numerator"], got[name]["denominator"]) == (num, den), f"{name}: {got[name]}"
        assert got[name]["rate"] == pytest.approx(num / den), name
        assert got[name]["points"] == pytest.approx(FEED_POINTS[name], abs=1e-4), name
        assert got[name]["source"] == "feed"
    # thresholds: 3.3 at 3/7 of its 50% earns 6/7 of 4.4; 2.1 needs 100%
    assert got["3.3"]["lost"] == pytest.approx(4.4 - 4.4 * (3 / 7) / 0.5, abs=1e-4)
    # 2.2: mean processing days of the dossiers returned in November (A 8 h, B 8 days, K 7 days)
    assert got["2.2"]["value"] == pytest.approx(round((8 / 24 + 8 + 7) / 3, 2))
    assert got["2.2"]["points"] is None and got["2.2"]["max"] == 0


def test_the_total_band_and_rank(counted, units):
    answer = scorecard(counted["reader"], units, Settings(), "72", "2026-11", now=NOW)
    assert answer["total"] == pytest.approx(round(TOTAL, 2))
    # the portal-only figures are October's (November is not published yet), each with its date
    assert answer["indicators"]["3.1"]["source"] == "portal"
    assert answer["indicators"]["3.1"]["points"] == pytest.approx(2.2)
    assert answer["indicators"]["3.1"]["portal"]["period"] == "2026-10"
    above = sum(1 for t in OTHERS.values() if t > TOTAL)
    assert answer["rank"] == 1 + above and answer["of"] == 34
    assert answer["above"]["total"] == min(t for t in OTHERS.values() if t > TOTAL)
    assert answer["above"]["gap"] == pytest.approx(answer["above"]["total"] - round(TOTAL, 2), abs=0.011)
    assert answer["below"]["total"] == max(t for t in OTHERS.values() if t <= TOTAL)
    assert answer["band"] == ("Tốt" if TOTAL >= 80 else "Khá")
    # groups add up their indicators; the lost points come most first
    group3 = sum(v for k, v in (FEED_POINTS | PORTAL_POINTS).items() if k.startswith("3."))
    assert answer["groups"]["3"]["points"] == pytest.approx(round(group3, 2))
    assert answer["lost"][0] == "2.1"  # 7.5 points lost
    # the official figures: October, ranked among the 34 as published
    assert answer["portal"]["period"] == "2026-10"
    assert answer["portal"]["rank"] == 1 + sum(1 for t in OTHERS.values() if t > 70.0)


def test_a_what_if_changes_the_rank(counted, units):
    base = scorecard(counted["reader"], units, Settings(), "72", "2026-11", now=NOW)
    more = scorecard(counted["reader"], units, Settings(), "72", "2026-11", what_if_of("2.1:+3"), now=NOW)
    assert more["indicators"]["2.1"]["numerator"] == 8 and more["indicators"]["2.1"]["points"] == 20
    new_total = TOTAL - FEED_POINTS["2.1"] + 20
    assert more["total"] == pytest.approx(round(new_total, 2))
    assert more["rank"] == 1 + sum(1 for t in OTHERS.values() if t > new_total)
    assert more["rank"] < base["rank"], (base["rank"], more["rank"])
    # never past the denominator, never below zero
    capped = scorecard(
        counted["reader"], units, Settings(), "72", "2026-11", {"2.1": 1000, "3.3": -50}, now=NOW
    )
    assert capped["indicators"]["2.1"]["numerator"] == 8
    assert capped["indicators"]["3.3"]["numerator"] == 0 and capped["indicators"]["3.3"]["points"] == 0


def test_a_zero_denominator_scores_null_and_the_group_says_so(counted, units):
    # district 705 has no dossiers and no reports at all
    answer = scorecard(counted["reader"], units, Settings(), "705", "2026-11", now=NOW)
    assert answer["indicators"]["2.1"]["rate"] is None and answer["indicators"]["2.1"]["points"] is None
    assert answer["indicators"]["2.1"]["denominator"] == 0
    assert answer["groups"]["2"]["points"] is None and answer["groups"]["2"]["missing"] == ["2.1"]
    assert set(answer["groups"]["5"]["missing"]) == {"5.1", "5.2"}
    # ranked among the districts: 703 ahead of every district without figures
    district = scorecard(counted["reader"], units, Settings(), "703", "2026-11", now=NOW)
    assert district["rank"] == 1 and district["of"] == len(units.level_codes("district"))


def test_the_drilldown_ranks_the_units_that_cost_points(counted, units):
    answer = drilldown(counted["reader"], units, Settings(), "2.1", "2026-11", "72", now=NOW)
    assert answer["level"] == "district" and answer["case_feed"] == "public_services"
    first = answer["units"][0]
    assert first["unit"] == "703" and first["lost"] == pytest.approx(7.5)
    assert all(row["rate"] is None for row in answer["units"][1:])
    communes = drilldown(counted["reader"], units, Settings(), "5.2", "2026-11", "703", now=NOW)
    assert communes["units"][0]["unit"] == "25459"
    assert communes["units"][0]["rate"] == pytest.approx(RATE_52)


def test_weeks_and_the_previous_period(counted, units):
    # week 47: every November report, and the dossiers counted in it (F and K finished before it)
    week = scorecard(counted["reader"], units, Settings(), "72", "2026-W47", now=NOW)
    assert (week["indicators"]["5.1"]["numerator"], week["indicators"]["5.1"]["denominator"]) == (3, 4)
    assert (week["indicators"]["2.1"]["numerator"], week["indicators"]["2.1"]["denominator"]) == (4, 7)
    assert week["indicators"]["3.1"]["portal"]["period"] == "2026-W46"
    # October: F on time, K not finished by 1/11 00:00 and not yet due: 2 of 2
    october = scorecard(counted["reader"], units, Settings(), "72", "2026-10", now=NOW)
    assert (october["indicators"]["2.1"]["numerator"], october["indicators"]["2.1"]["denominator"]) == (2, 2)
    assert october["indicators"]["3.1"]["portal"]["period"] == "2026-10"
    november = scorecard(counted["reader"], units, Settings(), "72", "2026-11", now=NOW)
    assert november["previous"]["period"] == "2026-10"
    assert november["previous"]["total"] == october["total"]
    assert november["change"]["total"] == pytest.approx(november["total"] - october["total"], abs=0.011)
    rates = weekly_rates(counted["reader"], units, "5.1", "72", NOW)
    assert rates[-1][0].name == "2026-W47" and rates[-1][1] == pytest.approx(RATE_51)
    assert len(rates) == 26 and rates[0][1] is None


@pytest.mark.parametrize(
    ("what_if", "message"),
    [("2.1:lots", "not <indicator>:<±count>"), ("1.1:+5", "not a scored indicator computed from the feeds")],
)
def test_bad_what_if_says_what(what_if, message):
    with pytest.raises(BadRequest, match=message):
        what_if_of(what_if)


def test_bad_period_says_what(counted, units):
    with pytest.raises(BadRequest, match="neither a month"):
        scorecard(counted["reader"], units, Settings(), "72", "November", now=NOW)
    with pytest.raises(BadRequest, match="not kept"):
        scorecard(counted["reader"], units, Settings(), "72", "2025-01", now=NOW)


# ---- the API -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(counted, redis_server):
    from ioc.web import create_app
    from tests.processes import app_settings, logged_in

    app = create_app(app_settings(redis_server), counted["client"])
    return {login: logged_in(app, login) for login in ("lanhdao", "truc-705")}


def test_the_api_answers_in_the_documented_shape(api):
    reply = api["lanhdao"].get("/api/v1/index766?unit=72&period=2026-11")
    assert reply.status_code == 200, reply.text
    body = reply.get_json()
    assert {"unit", "period", "as_of", "total", "band", "rank", "of", "groups", "indicators"} <= set(body)
    assert body["unit"] == "72" and body["period"] == "2026-11" and body["of"] == 34
    assert body["as_of"] == "2026-11-22T10:00:00+07:00"
    assert body["total"] == pytest.approx(round(TOTAL, 2))
    assert set(body["groups"]["1"]) >= {"points", "max"} and body["groups"]["1"]["max"] == 18
    assert {k: body["indicators"]["2.1"][k] for k in ("source", "numerator", "denominator", "max")} == {
        "source": "feed",
        "numerator": 5,
        "denominator": 8,
        "max": 20.0,
    }
    assert body["indicators"]["1.1"]["source"] == "portal" and body["indicators"]["1.1"]["numerator"] is None


def test_the_api_applies_a_what_if(api):
    base = api["lanhdao"].get("/api/v1/index766?period=2026-11").get_json()
    body = api["lanhdao"].get("/api/v1/index766?period=2026-11&what_if=2.1:%2B3").get_json()
    assert body["what_if"] == {"2.1": 3}
    assert body["total"] == pytest.approx(round(TOTAL - FEED_POINTS["2.1"] + 20, 2))
    assert body["rank"] < base["rank"]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("unit=704", 400, "unknown unit '704' in scheme pre2025"),
        ("period=2026-13", 400, "neither a month"),
        ("period=9999-12", 400, "neither a month"),
        ("period=9999-W52", 400, "neither a month"),
        ("what_if=2.1:many", 400, "not <indicator>:<±count>"),
        ("what_if=4.4:%2B5", 400, "not a scored indicator computed from the feeds"),
    ],
)
def test_bad_api_queries_say_why(api, query, status, message):
    reply = api["lanhdao"].get(f"/api/v1/index766?{query}")
    assert reply.status_code == status
    assert message in reply.get_json()["error"]


def test_a_duty_officer_sees_only_their_scope(api, units):
    officer = api["truc-705"]
    # the province and the districts are open to every role, as in the KPI API; communes only inside
    assert officer.get("/api/v1/index766?unit=72&period=2026-11").status_code == 200
    assert officer.get("/api/v1/index766?unit=25456&period=2026-11").status_code == 403
    assert officer.get("/api/v1/index766/units?indicator=2.1&unit=703&period=2026-11").status_code == 403
    # a commune of theirs ranks among its district's communes: no neighbour from another district
    commune = units.children("705")[0]
    body = officer.get(f"/api/v1/index766?unit={commune}&period=2026-11").get_json()
    assert body["of"] == len(units.children("705"))
    for side in ("above", "below"):
        assert body[side] is None or body[side]["code"] in units.children("705"), body[side]
    mine = officer.get("/api/v1/index766/units?indicator=2.1&unit=705&period=2026-11")
    assert mine.status_code == 200
    assert {r["unit"] for r in mine.get_json()["units"]} == set(units.children("705"))


def test_the_drilldown_api(api):
    body = api["lanhdao"].get("/api/v1/index766/units?indicator=2.1&unit=72&period=2026-11").get_json()
    assert body["units"][0]["unit"] == "703" and body["units"][0]["lost"] == pytest.approx(7.5)
    reply = api["lanhdao"].get("/api/v1/index766/units?indicator=1.1&unit=72")
    assert reply.status_code == 400 and "not computed from the feeds" in reply.get_json()["error"]


def test_the_targets_api_lists_each_target_with_its_projection(api):
    body = api["lanhdao"].get("/api/v1/targets").get_json()
    by_name = {t["name"]: t for t in body["targets"]}
    # as of the figures (Sunday of week 47, which is still running and left out of the trend):
    # received online in week 43 none of F K, week 45 none of D E, week 46 one of B G H
    online = by_name["ho_so_truc_tuyen"]
    assert online["metric"] == "3.3" and online["goal"] == 0.95
    assert online["current"] == pytest.approx(1 / 3) and online["slope_per_week"] > 0
    # the national programme's 95% online by the end of 2025 has passed: missed, with its date
    assert online["status"] == "missed" and online["missed_on"] == "2025-12-31"
    # resolved on time: F in week 43, K in week 44, both on time: met, a flat trend
    on_time = by_name["giai_quyet_dung_han"]
    assert on_time["current"] == 1.0 and on_time["slope_per_week"] == 0.0, on_time["weeks"]
    assert on_time["status"] == "met"
    for target in body["targets"]:
        assert target["status"] in {"met", "on_track", "off_track", "missed"}, target
        assert len(target["weeks"]) == 12, target["name"]


# ---- the 2025 scheme: areas and their communes --------------------------------------------------

# An area's total: its 2.1 (20 × rate), 3.3 and 4.2 full (every dossier online and digitised, 4.4
# each), no fee due (3.6) and no report (5.x), and the province's portal-only points.
AREA_TOTALS = {
    a: round(20 * n / d + 4.4 + 4.4 + sum(PORTAL_POINTS.values()), 2) for a, (n, d) in INDEX_21.items()
}


@pytest.fixture(scope="module")
def api_2025(redis_server, new):  # noqa: F811
    """The dossiers of ``tests/test_areas_2025.py`` counted in the province of today, the portal's
    publications beside them, and the app of the 2025 scheme."""
    import redis

    from ioc.web import create_app
    from tests.processes import app_settings, logged_in

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    with counted_2025(client, new):
        client.hset(
            keys.snapshot("national_index"),
            mapping={
                "_portal|2026-10": json.dumps(portal_document("2026-10", 70.0)),
                "_portal_periods": json.dumps({"weeks": [], "months": ["2026-10"]}),
            },
        )
        app = create_app(app_settings(redis_server, boundaries={"scheme": "2025"}), client)
        yield {login: logged_in(app, login) for login in ("lanhdao", "truc-705")}
    client.close()


def test_an_area_ranks_among_the_24_areas(api_2025, new):  # noqa: F811
    """Khu vực Tân Biên cũ (1 of 3 on time) behind Tân Châu cũ (8 of 10) and Đức Hòa cũ (3 of 5),
    ahead of the 21 areas with only the province's portal-only points."""
    body = api_2025["lanhdao"].get(f"/api/v1/index766?unit={TAN_BIEN}&period=2026-11").get_json()
    assert (body["unit"], body["unit_name"]) == (TAN_BIEN, "Khu vực Tân Biên cũ")
    got = body["indicators"]["2.1"]
    assert (got["numerator"], got["denominator"]) == INDEX_21[TAN_BIEN]
    assert body["total"] == pytest.approx(AREA_TOTALS[TAN_BIEN], abs=0.011)
    others = [t for a, t in AREA_TOTALS.items() if a != TAN_BIEN]
    assert body["of"] == 24 == len(new.level_codes("area"))
    assert body["rank"] == 1 + sum(t > AREA_TOTALS[TAN_BIEN] for t in others) == 3
    assert body["above"]["code"] == DUC_HOA and body["above"]["name"] == "Khu vực Đức Hòa cũ"
    assert body["below"]["code"] in new.level_codes("area")
    assert body["below"]["total"] == pytest.approx(round(sum(PORTAL_POINTS.values()), 2), abs=0.011)
    province = api_2025["lanhdao"].get("/api/v1/index766?unit=80&period=2026-11").get_json()
    assert province["of"] == 34 and province["unit_name"] == new.name("80")


def test_the_drilldown_ranks_the_areas_then_an_areas_communes(api_2025, new):  # noqa: F811
    areas = api_2025["lanhdao"].get("/api/v1/index766/units?indicator=2.1&unit=80&period=2026-11").get_json()
    assert areas["level"] == "area" and len(areas["units"]) == 24
    assert [r["unit"] for r in areas["units"][:3]] == [TAN_BIEN, DUC_HOA, TAN_CHAU]  # most points lost first
    assert areas["units"][0]["lost"] == pytest.approx(20 * 2 / 3, abs=1e-3)
    communes = (
        api_2025["lanhdao"]
        .get(f"/api/v1/index766/units?indicator=2.1&unit={TAN_CHAU}&period=2026-11")
        .get_json()
    )
    assert communes["level"] == "commune"
    assert {r["unit"] for r in communes["units"]} == set(new.children(TAN_CHAU))
    assert communes["units"][0]["unit"] == "25516" and communes["units"][0]["rate"] == 0.0


def test_a_commune_ranks_among_its_areas_communes_within_an_officers_scope(api_2025, new):  # noqa: F811
    """An area's duty officer: the province and every area open, their own area's communes too,
    ranked among one another; another area's commune refused."""
    officer = api_2025["truc-705"]
    assert officer.get(f"/api/v1/index766?unit={TAN_CHAU}&period=2026-11").status_code == 200
    assert officer.get("/api/v1/index766?unit=25516&period=2026-11").status_code == 403
    mine = officer.get("/api/v1/index766?unit=25486&period=2026-11").get_json()
    assert mine["of"] == len(new.children(TAN_BIEN)) and mine["rank"] == 1
    for side in ("above", "below"):
        assert mine[side] is None or mine[side]["code"] in new.children(TAN_BIEN), mine[side]
    assert (
        officer.get(f"/api/v1/index766/units?indicator=2.1&unit={TAN_BIEN}&period=2026-11").status_code == 200
    )
    assert (
        officer.get(f"/api/v1/index766/units?indicator=2.1&unit={TAN_CHAU}&period=2026-11").status_code == 403
    )


def test_indicators_are_counted_with_each_durable_commit(r, units):
    """The indicators follow the checkpointed state: a commit between checkpoints updates the KPIs
    and keeps the last indicators as published (none deleted), the next checkpoint counts anew."""
    listing = RecordListing("ma_ho_so", DOSSIERS[:1])
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    pipe = Pipeline(r, units, server.url, lambda: AS_OF, page_size=3)
    try:
        pipe.sync()
        field = "_index766|72|2026-11"
        first = json.loads(r.hget(keys.snapshot("public_services"), field))
        assert first["2.1"] == {"numerator": 1, "denominator": 1}
        count = r.hlen(keys.snapshot("public_services"))
        listing.put({**DOSSIERS[1], "cap_nhat_luc": "2026-11-21T08:00:00+07:00"})  # B, late, sent later
        while pipe.runner.run_once():
            pass
        pipe.aggregator.cycle()  # not durable: checkpoint_s (5 s) has not passed
        assert pipe.kpis("72", "mtd")["received"]["value"] == 2
        assert json.loads(r.hget(keys.snapshot("public_services"), field)) == first
        assert r.hlen(keys.snapshot("public_services")) == count
        pipe.aggregator.cycle(checkpoint=True)
        assert json.loads(r.hget(keys.snapshot("public_services"), field))["2.1"] == {
            "numerator": 1,
            "denominator": 2,
        }
    finally:
        pipe.close()
        server.close()


def test_the_indicators_equal_a_plain_python_count_on_random_dossiers(units):
    """2.1, 3.3 and 2.2 of the province in every kept period, by Polars and by a plain loop over
    300 random dossiers (finished or not, late or not, across period bounds)."""
    import random

    import polars as pl

    from ioc.index766 import months_kept, period_end, weeks_kept
    from ioc.indicators import public_services_indicators
    from ioc.schemas import PUBLIC_SERVICES_SCHEMA

    rng = random.Random(7)
    now = AS_OF.astimezone(UTC)
    communes = units.level_codes("commune")
    rows = []
    for n in range(300):
        received = now - timedelta(seconds=rng.uniform(0, 120 * 86400))
        deadline = received + timedelta(days=rng.choice([1, 5, 15]))
        status = rng.choice(
            ["tiep_nhan", "dang_xu_ly", "cho_bo_sung", "da_tra_ket_qua", "tu_choi", "rut_ho_so"]
        )
        finished = received + timedelta(seconds=rng.uniform(0, 30 * 86400))
        finished = min(finished, now - timedelta(seconds=1))
        rows.append(
            {
                "id": f"X{n}",
                "procedure_code": None,
                "sector": None,
                "agency_code": None,
                "unit_code": rng.choice(communes),
                "channel": rng.choice(["truc_tuyen", "truc_tiep"]),
                "received_at": received,
                "deadline_at": deadline,
                "returned_at": finished if status == "da_tra_ket_qua" else None,
                "status": status,
                "fee_due": False,
                "paid_online": None,
                "digitised": True,
                "updated_at": finished if status in ("tu_choi", "rut_ho_so") else received,
            }
        )
    frame = pl.DataFrame(rows, schema=PUBLIC_SERVICES_SCHEMA)
    got = public_services_indicators(frame.lazy(), units.rollup().lazy(), now).collect().filter(unit="72")
    by_period = {row["period"]: row for row in got.iter_rows(named=True)}
    for period in [*months_kept(now), *weeks_kept(now)]:
        start, end = period.start.astimezone(UTC), period_end(period, now).astimezone(UTC)
        counted = on_time = received = online = returned = seconds = 0
        for d in rows:
            done = d["returned_at"] if d["status"] == "da_tra_ket_qua" else None
            if d["status"] in ("tu_choi", "rut_ho_so"):
                done = d["updated_at"]
            if d["received_at"] < end and not (done is not None and done < start):
                counted += 1
                if done is not None and start <= done < end:
                    on_time += done <= d["deadline_at"]
                elif end <= d["deadline_at"] or d["status"] == "cho_bo_sung":
                    on_time += 1
            if start <= d["received_at"] < end:
                received += 1
                online += d["channel"] == "truc_tuyen"
            if d["status"] == "da_tra_ket_qua" and start <= d["returned_at"] < end:
                returned += 1
                seconds += int((d["returned_at"] - d["received_at"]).total_seconds())
        row = by_period[period.name]
        assert (row["2.1__num"], row["2.1__den"]) == (on_time, counted), period.name
        assert (row["3.3__num"], row["3.3__den"]) == (online, received), period.name
        assert (row["2.2__seconds"], row["2.2__count"]) == (seconds, returned), period.name
