"""The scorecard's screens (``/scorecard``, ``/scorecard/<indicator>``, the wall's scene) drawn
from a Redis holding known index counts and a known portal publication, scored by the real
``ioc.scorecard``: the room's figures, the server's what-if, the drill-down's order, an officer's
scope, both languages, and in Chromium a push that changes the total on screen.

The counts are chosen so every figure is worked out by hand (``SCORECARD.md``'s formula: points =
max × min(1, rate / full_at)). The current month's province, 72:

    2.1  900/1000 → 18,0 of 20 (lost 2,0)   3.3 400/1000 → 3,52 of 4,4   3.6 300/500 → 3,3 of 4,4
    4.2  800/1000 → 4,4 (full at 80%)       5.1 90/100   → 5,4 of 6      5.2 72/100  → 4,8 of 6
    portal-only (last month's publication): every rate full but 1.2 at 50% (2,25 of 4,5) and
    3.1 at 40% (full at 80%: 2,2 of 4,4)

Total 89,77 ("Tốt"); eleven provinces above it (90,5 … 95,5), so rank 12/34, 0,73 behind the one
above, 0,77 ahead of the one below (89,0). Last month 2.1 was 800/1000: 87,77, rank 14, so ▲ 2.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from dash import page_registry
from plotly.utils import PlotlyJSONEncoder

from ioc import keys
from ioc.index766 import current_month, current_week, previous
from ioc.web import create_app
from layouts import i18n
from layouts.scorecard_panels import period_label
from tests.processes import acting_as, app_settings, logged_in
from tests.relays import relay_in_process, relay_port, web_in_process
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)

NOW = datetime.now(UTC)
MONTH = current_month(NOW).name
LAST_MONTH = previous(current_month(NOW)).name
WEEK = current_week(NOW).name
LAST_WEEK = previous(current_week(NOW)).name
FEEDS = {"public_services": {"url": "http://127.0.0.1:9"}, "citizen_feedback": {"url": "http://127.0.0.1:9"}}

DOSSIERS = {  # the province's counts this month
    "2.1": (900, 1000),
    "3.3": (400, 1000),
    "3.6": (300, 500),
    "4.2": (800, 1000),
}
REPORTS = {"5.1": (90, 100), "5.2": (72, 100)}
# 2.1 by district this month: 705 loses the most, then 706, then 703; the others have no figure.
DISTRICT_21 = {"703": (95, 100), "705": (50, 100), "706": (80, 100)}
PORTAL_RATES = {
    **dict.fromkeys(["1.1", "1.3", "1.4", "3.2", "3.5", "4.1", "4.3", "4.4", "4.5", "5.3"], 1.0),
    "1.2": 0.5,
    "3.1": 0.4,
}
ABOVE = {f"{n:02d}": 90.5 + 0.5 * n for n in range(11)}  # 90,5 … 95,5
BELOW = {f"{40 + n:02d}": 89.0 - n for n in range(22)}  # 89,0, 88,0, …
TOTAL = 89.77


def counts(pairs: dict[str, tuple[int, int]]) -> dict:
    return {k: {"numerator": n, "denominator": d} for k, (n, d) in pairs.items()}


def portal(period: str, ours: float) -> dict:
    others = {
        code: {"name": f"Tỉnh số {code}", "total": total, "groups": {}, "indicators": {}}
        for code, total in (ABOVE | BELOW).items()
    }
    tay_ninh = {
        "name": "Tây Ninh",
        "total": ours,
        "groups": {},
        "indicators": {i: {"rate": r, "points": None} for i, r in PORTAL_RATES.items()},
    }
    return {
        "period": period,
        "published_at": "2026-11-03T09:00:00+07:00",
        "provinces": {**others, "80": tay_ninh},
    }


def write_index(r, dossiers: dict[str, tuple[int, int]] = DOSSIERS) -> None:
    """The aggregators' index documents and the portal's publication, as their writers write them."""
    meta = json.dumps({"as_of": NOW.isoformat(), "records": 1})
    last = dossiers | {"2.1": (800, 1000)}
    services = {
        keys.META_FIELD: meta,
        f"_index766|72|{MONTH}": json.dumps(
            counts(dossiers) | {"2.2": {"seconds": 4200 * 86400, "count": 1000}}
        ),
        f"_index766|72|{LAST_MONTH}": json.dumps(counts(last)),
        f"_index766|72|{WEEK}": json.dumps(counts(dossiers)),
        f"_index766|72|{LAST_WEEK}": json.dumps(counts(last)),
        **{f"_index766|{u}|{MONTH}": json.dumps(counts({"2.1": c})) for u, c in DISTRICT_21.items()},
    }
    feedback = {
        keys.META_FIELD: meta,
        **{f"_index766|72|{p}": json.dumps(counts(REPORTS)) for p in (MONTH, LAST_MONTH, WEEK, LAST_WEEK)},
    }
    r.hset(keys.snapshot("public_services"), mapping=services)
    r.hset(keys.snapshot("citizen_feedback"), mapping=feedback)
    r.hset(
        keys.snapshot("national_index"),
        mapping={
            f"_portal|{LAST_MONTH}": json.dumps(portal(LAST_MONTH, 86.5)),
            f"_portal|{LAST_WEEK}": json.dumps(portal(LAST_WEEK, 87.0)),
            "_portal_periods": json.dumps({"weeks": [LAST_WEEK], "months": [LAST_MONTH]}),
        },
    )


@pytest.fixture
def app(r, redis_server):
    write_index(r)
    return create_app(app_settings(redis_server, connectors=FEEDS), r)


def page(app, login: str = "lanhdao", name: str = "scorecard", query: str = "", **path) -> str:
    """A page's layout as ``login`` gets it, as text (its components' JSON)."""
    with acting_as(app, login, "/scorecard" + query):
        args = dict(re.findall(r"(\w+)=([^&]+)", query.lstrip("?"))) | path
        args.pop("lang", None)
        return as_text(page_registry[name]["layout"](**args))


def as_text(component) -> str:
    """A layout as the browser receives it (its JSON), Vietnamese left as written."""
    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)


def test_the_room_shows_total_band_rank_and_the_neighbours(app) -> None:
    text = page(app)
    assert "Chỉ số phục vụ người dân, doanh nghiệp (766)" in text
    assert '"89,8"' in text and "Tốt" in text  # 89,77 to one decimal
    assert "Hạng 12/34" in text and "tỉnh, thành phố" in text
    assert "▲ 2 bậc" in text and "+2,0 điểm" in text
    assert f"so với {period_label(LAST_MONTH, in_sentence=True)}" in text
    assert "Kém Tỉnh số 00 0,7 điểm" in text  # 90,5 − 89,77
    assert "Hơn Tỉnh số 40 0,8 điểm" in text  # 89,77 − 89,0
    # the portal's own figures of last month, dated
    assert "Cổng DVCQG, tháng" in text and "công bố 03/11/2026: 86,5 điểm, hạng 15/34" in text


def test_the_groups_show_their_points_out_of_their_maximum(app) -> None:
    text = page(app)
    for shown in ("15,8 / 18,0", "18,0 / 20,0", "17,8 / 22,0", "22,0 / 22,0", "16,2 / 18,0"):
        assert shown in text, shown


def test_the_indicators_come_most_points_lost_first_with_their_source(app) -> None:
    text = page(app)
    order = re.findall(r'"data-indicator": "([\d.]+)"', text)
    assert order[:7] == ["1.2", "3.1", "2.1", "5.2", "3.6", "3.3", "5.1"]
    assert "90,0%" in text and "900 / 1.000" in text and "18,0 / 20,0" in text and "−2,0" in text
    assert "4,2 ngày" in text and "không tính điểm" in text  # 2.2, days
    assert "ước tính" in text and "chính thức" in text
    # a portal-only figure says where and when it was published
    assert f"Cổng DVCQG {period_label(LAST_MONTH, in_sentence=True)}, công bố 03/11/2026" in text
    assert '"href": "/scorecard/2.1?period=' + MONTH + '"' in text  # to the drill-down


def test_the_trend_has_official_estimate_and_national_mean(app) -> None:
    with acting_as(app, "lanhdao", "/scorecard"):
        layout = page_registry["scorecard"]["layout"]()
    figure = next(c.figure for c in iter_components(layout) if getattr(c, "figure", None) is not None)
    names = [t["name"] for t in figure["data"]]
    assert names == ["Tỉnh Tây Ninh (chính thức)", "Tỉnh Tây Ninh (ước tính)", "Bình quân cả nước"]
    official, estimate, mean = (list(t["y"]) for t in figure["data"])
    assert len(official) == 26 and official[-2] == 87.0 and official[-1] is None
    assert estimate[-1] == pytest.approx(TOTAL) and estimate[-2] == pytest.approx(TOTAL - 2)
    assert figure["data"][1]["line"]["dash"] == "dash"
    assert mean[-2] == pytest.approx((sum(ABOVE.values()) + sum(BELOW.values()) + 87.0) / 34, abs=0.01)


def iter_components(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        if hasattr(child, "to_plotly_json"):
            yield from iter_components(child)


def what_if(client, indicator, n, unit: str = "72"):
    """The room's callback, as the page calls it when the what-if button is pressed."""
    found = client.get("/_dash-dependencies").get_json()
    callback = next(c for c in found if "scorecard-body.children" in c["output"])
    values = {"scorecard-whatif-go": 1, "scorecard-whatif-indicator": indicator, "scorecard-whatif-n": n}
    state = {"scorecard-page": {"unit": unit, "period": MONTH}}
    body = {
        "output": callback["output"],
        "outputs": [
            {"id": o.split(".")[0], "property": o.split(".")[1]}
            for o in callback["output"].strip(".").split("...")
        ],
        "inputs": [{**i, "value": values.get(i["id"])} for i in callback["inputs"]],
        "state": [{**s, "value": state.get(s["id"], values.get(s["id"]))} for s in callback["state"]],
        "changedPropIds": ["scorecard-whatif-go.n_clicks"],
    }
    return client.post("/_dash-update-component", json=body)


def said(reply) -> str:
    """A callback's answer as text, Vietnamese left as written."""
    return json.dumps(reply.get_json(), ensure_ascii=False)


def test_a_what_if_shows_the_servers_new_points_total_and_rank(app) -> None:
    """100 more dossiers on time: 2.1 reaches 100% (20 points), the total 91,77, and eight
    provinces stay above (92,0 … 95,5): rank 9."""
    reply = what_if(logged_in(app, "lanhdao"), "2.1", 100)
    assert reply.status_code == 200
    text = said(reply)
    assert '"data-rank": "9"' in text
    assert "100 hồ sơ nữa giải quyết đúng hạn" in text
    assert "18,0 → 20,0 / 20,0 điểm" in text and "Tổng 89,8 → 91,8 điểm" in text
    assert "hạng 12 → 9/34" in text


@pytest.mark.parametrize("n", [0, -5, 2.5, "abc", None, 10**9])
def test_a_what_if_with_a_bad_number_says_so(app, n) -> None:
    reply = what_if(logged_in(app, "lanhdao"), "2.1", n)
    assert reply.status_code == 200 and "N là số nguyên từ 1 đến 1.000.000." in said(reply)


def test_a_what_if_on_a_portal_indicator_is_refused(app) -> None:
    reply = what_if(logged_in(app, "lanhdao"), "1.2", 10)
    assert reply.status_code == 200 and "Chọn một chỉ số." in said(reply)


def test_the_drilldown_ranks_units_worst_first_with_links(app) -> None:
    text = page(app, name="scorecard-drill", indicator="2.1")
    order = re.findall(r'"data-unit": "(\d+)"', text)
    assert order[:3] == ["705", "706", "703"] and len(order) == 9  # the rest: no figure, last
    assert "50,0%" in text and "50 / 100" in text and "10,0 / 20,0" in text and "−10,0" in text
    assert '"href": "/district/705?feed=public_services"' in text  # its room, on the feed
    assert "/district/705?feed=public_services&kpi=overdue_open" in text  # its work list
    assert "Chỉ số 2.1: Hồ sơ giải quyết trước, đúng hạn" in text


def test_the_drilldown_of_field_reports_links_to_their_work_list(app) -> None:
    text = page(app, name="scorecard-drill", indicator="5.1")
    assert "/district/705?feed=citizen_feedback&kpi=overdue" in text


def test_the_drilldown_of_processing_days_is_shown_not_scored(app) -> None:
    text = page(app, name="scorecard-drill", indicator="2.2")
    assert "Chỉ số 2.2: Thời gian giải quyết bình quân" in text and "chậm nhất trước" in text
    assert "Số ngày" in text and "không tính điểm" in text and "đủ điểm từ" not in text


def test_an_officer_sees_only_their_own_units_scorecard_and_links(app) -> None:
    refused = page(app, "truc-705", query="?unit=706")
    assert "NGOÀI PHẠM VI ĐƯỢC GIAO" in refused and "Huyện Tân Biên" in refused
    assert "sc-grid" not in refused
    assert "NGOÀI PHẠM VI" not in page(app, "truc-705", query="?unit=705")
    assert "Hạng 12/34" in page(app, "truc-705")  # the province's, like the provincial room
    drill = page(app, "truc-705", name="scorecard-drill", indicator="2.1")
    assert "/district/705?feed=public_services" in drill and "/district/706" not in drill
    assert "NGOÀI PHẠM VI" in page(
        app, "truc-705", name="scorecard-drill", query="?unit=706", indicator="2.1"
    )
    # the room's callback, its unit forged in the browser, gets nothing
    assert what_if(logged_in(app, "truc-705"), "2.1", 10, unit="706").status_code == 204


# ---- the 2025 scheme: areas and communes ----------------------------------------------------

# 2.1 this month in the province of today (the areas keep the former districts' codes, so 703 has
# DISTRICT_21's 95%): Khu vực Tân Biên cũ loses the most, then Tân Châu cũ, whose Xã 25516 loses
# more than its sister 25522.
AREA_21 = {"705": (50, 100), "706": (80, 100), "25516": (20, 40), "25522": (60, 60)}


@pytest.fixture
def app_2025(r, redis_server):
    write_index(r)
    month = {f"_index766|{u}|{MONTH}": json.dumps(counts({"2.1": c})) for u, c in AREA_21.items()}
    r.hset(keys.snapshot("public_services"), mapping=month)
    return create_app(app_settings(redis_server, connectors=FEEDS, boundaries={"scheme": "2025"}), r)


def test_in_2025_the_drilldown_ranks_the_areas_with_their_rooms_and_work_lists(app_2025) -> None:
    text = page(app_2025, name="scorecard-drill", indicator="2.1")
    order = re.findall(r'"data-unit": "(\d+)"', text)
    assert order[:3] == ["705", "706", "703"] and len(order) == 24  # the areas, the rest without a figure
    assert "Khu vực của Tỉnh Tây Ninh, mất nhiều điểm nhất trước" in text
    assert '"href": "/area/705?feed=public_services"' in text  # its room, on the feed
    assert "/area/705?feed=public_services&kpi=overdue_open" in text  # its work list
    assert "Khu vực Tân Biên cũ" in text and "/district/" not in text


def test_in_2025_an_areas_drilldown_links_each_commune_to_its_own_room(app_2025) -> None:
    text = page(app_2025, name="scorecard-drill", query="?unit=706", indicator="2.1")
    order = re.findall(r'"data-unit": "(\d+)"', text)
    assert order[:2] == ["25516", "25522"] and len(order) == 5  # the area's five communes
    assert '"href": "/commune/25516?feed=public_services"' in text
    assert "/commune/25516?feed=public_services&kpi=overdue_open" in text
    # an officer of another area sees the ranking of the areas, not this one's communes
    officer = page(app_2025, "truc-705", name="scorecard-drill", query="?unit=706", indicator="2.1")
    assert "NGOÀI PHẠM VI" in officer
    # ... and on the areas' ranking, only their own area's room and work list are links
    areas = page(app_2025, "truc-705", name="scorecard-drill", indicator="2.1")
    assert "/area/705?feed=public_services&kpi=overdue_open" in areas and "/area/706" not in areas


def test_in_2025_an_area_ranks_among_the_areas(app_2025) -> None:
    text = page(app_2025, query="?unit=705")
    assert "Khu vực Tân Biên cũ" in text
    # behind 703 and 706, of the 24 areas (every one has the province's portal-only points)
    assert "Hạng 3/24" in text and '"khu vực"' in text
    english = page(app_2025, query="?unit=705&lang=en")
    assert "Rank 3/24" in english and '"areas"' in english


def test_an_unknown_period_or_indicator_says_what_is_wrong(app) -> None:
    assert "is neither a month" in page(app, query="?period=2026-13")
    assert "is not computed from the feeds" in page(app, name="scorecard-drill", indicator="1.2")
    assert "KHÔNG CÓ ĐƠN VỊ NÀY" in page(app, query="?unit=99999")


def test_the_room_reads_in_english(app) -> None:
    text = page(app, query="?lang=en")
    assert "Public service quality index (766)" in text
    assert '"89.8"' in text and "Good" in text and "Rank 12/34" in text
    assert "▲ 2 places" in text and "Behind Tỉnh số 00 by 0.7 points" in text
    assert "estimate" in text and "official" in text
    assert not re.search(r"Hạng|điểm|ước tính|chính thức|Mục tiêu", text)


def test_the_period_picker_offers_the_kept_months_and_weeks(app) -> None:
    text = page(app)
    assert period_label(MONTH) in text and period_label(WEEK) in text
    options = re.findall(r'"label": "(?:Tháng|Tuần) [^"]+", "value": "\d{4}-(?:\d{2}|W\d{2})"', text)
    assert len(options) == 3 + 26


def test_the_targets_panel_shows_each_target(app) -> None:
    text = page(app)
    assert "Hồ sơ nộp trực tuyến 95% (hết năm 2025)" in text
    assert '"data-target": "ho_so_truc_tuyen"' in text
    assert "Trễ hạn" in text and "Không đạt khi hết hạn 12/2025" in text  # its deadline has passed


def test_the_provincial_rooms_header_links_to_the_scorecard(app) -> None:
    with acting_as(app, "lanhdao", "/"):
        text = as_text(page_registry["province"]["layout"]())
    assert '"href": "/scorecard"' in text


def test_the_wall_scene_shows_total_rank_groups_and_the_three_worst(app) -> None:
    with acting_as(app, "lanhdao", "/wall"):
        layout = page_registry["wall"]["layout"](scenes="scorecard")
    text = as_text(layout)
    assert "wall-main scorecard-on" in text
    assert '"89,8"' in text and "Hạng 12/34" in text and "▲ 2 bậc" in text and "Tốt" in text
    assert "Mất nhiều điểm nhất" in text and "−2,2" in text and "−2,0" in text
    losing = re.findall(r'"children": "(\d\.\d) [^"]+", "className": "wall-sc-ind"', text)
    assert losing == ["1.2", "3.1", "2.1"]
    assert "15,8 / 18,0" in text
    with i18n.using("en"), acting_as(app, "lanhdao", "/wall?lang=en"):
        english = as_text(page_registry["wall"]["layout"](scenes="scorecard", lang="en"))
    assert "Rank 12/34" in english and "Losing the most points" in english


def test_the_wall_turns_to_the_scorecard_after_the_districts() -> None:
    from ioc.config import WallSettings

    assert WallSettings().scenes[-1] == "scorecard"  # type: ignore[call-arg]


# ---- in the browser ---------------------------------------------------------------------


@pytest.mark.browser
def test_in_chromium_the_room_computes_a_what_if_and_follows_a_push(browser, r, redis_server, units) -> None:  # noqa: F811
    """The page draws the total with a few tens of kB of its own, the what-if button brings the server's rank, and
    when the feeds' counts change and their aggregator pushes, the total on screen follows, no
    reload."""
    write_index(r)
    feeds = {"public_services": ["public_services"], "citizen_feedback": ["citizen_feedback"]}
    with relay_in_process(redis_server.url, "test-secret", set(units.codes), feeds=feeds) as relay:
        settings = app_settings(redis_server, connectors=FEEDS, realtime={"port": relay_port(relay)})
        with web_in_process(create_app(settings, r).server) as port:
            page_ = new_page(browser, port, viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page_.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page_.on("pageerror", lambda e: errors.append(str(e)))
            page_.goto(f"http://127.0.0.1:{port}/scorecard")
            page_.wait_for_selector(".sc-total", timeout=30_000)
            assert page_.inner_text(".sc-total") == "89,8"
            # the page's weight (UI.md, DESIGN.md): the rooms' own scripts, nothing more, and its
            # figures (the layout and the page's callback) in a few tens of kB over the wire
            sent = page_.evaluate(
                "() => performance.getEntriesByType('resource').map((e) => [e.name, e.transferSize])"
            )
            data = sum(
                size for url, size in sent if "/_dash-update-component" in url or "/_dash-layout" in url
            )
            assert 0 < data < 40_000, sent
            assert not [u for u, _size in sent if "package_data/plotly" in u]  # not the whole of Plotly
            page_.wait_for_selector(".sc-trend .main-svg", timeout=20_000)
            page_.fill("#scorecard-whatif-n", "100")
            page_.click("#scorecard-whatif-go")
            page_.wait_for_selector(".sc-whatif-rank[data-rank='9']", timeout=20_000)
            # the snapshot arrived; then the feeds' counts change and a delta is pushed
            page_.wait_for_function(
                "() => window.ioc_rt && window.ioc_rt.state.snapshots > 0", timeout=20_000
            )
            write_index(r, DOSSIERS | {"2.1": (1000, 1000)})
            delta = {"feed": "public_services", "meta": {"as_of": NOW.isoformat()}, "kpis": {}, "series": {}}
            r.xadd(keys.deltas("public_services"), {"d": json.dumps(delta)})
            page_.wait_for_function(
                "() => document.querySelector('.sc-total').textContent === '91,8'", timeout=20_000
            )
            # the what-if shown is recomputed on the new figures: 2.1 already full, rank unchanged
            assert page_.locator(".sc-whatif-rank").get_attribute("data-rank") == "9"
            assert page_.inner_text(".sc-rank") == "Hạng 9/34"
            assert errors == []
            page_.context.close()


def test_a_drilldown_without_work_lists_has_no_such_column() -> None:
    """In 2025 the communes have no work list of their own (cases are kept per district, and
    there are no districts): no empty column then."""
    from layouts.scorecard_drill import drill_table

    row = {"unit": "25459", "name": "Phường Tân Ninh", "rate": 0.8, "numerator": 4, "denominator": 5}
    answer = {
        "indicator": "5.1",
        "units": [row | {"points": 4.8, "max": 6.0, "lost": 1.2}],
        "case_feed": "citizen_feedback",
    }
    text = as_text(drill_table(answer, {"25459": ("/scorecard?unit=25459&period=2026-12", None)}))
    assert "Việc cần xử lý" not in text and "Phường Tân Ninh" in text and "−1,2" in text
