"""Comparison with a week and a year earlier (``?compare=week|year``): the difference of each
tile and ranking row from the figures the history kept then, with an arrow coloured by whether
it is better."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from ioc import keys
from ioc.annotations import Annotation, Annotations
from ioc.config import PROJECT_ROOT
from ioc.documents import series_document
from ioc.history import HistoryWriter
from ioc.kpis import PUBLIC_SERVICES_KPIS, TZ
from ioc.web import create_app
from layouts.compare import change, earlier
from tests.processes import app_settings, logged_in, web_alone
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)

FEED = "public_services"
KPIS = {k.name: k for k in PUBLIC_SERVICES_KPIS}
SHOTS = PROJECT_ROOT / "tests" / "screenshots"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)


def doc(received: int, on_time: tuple[int, int], overdue: int, days: float) -> str:
    num, den = on_time
    return json.dumps(
        {
            "kpis": {
                "received": {"value": received},
                "resolved": {"value": den},
                "on_time_rate": {"value": num / den, "numerator": num, "denominator": den},
                "overdue_open": {"value": overdue},
                "online_rate": {"value": None, "numerator": 0, "denominator": 0},
                "online_payment_rate": {"value": None, "numerator": 0, "denominator": 0},
                "digitisation_rate": {"value": None, "numerator": 0, "denominator": 0},
                "avg_processing_days": {"value": days},
            }
        }
    )


def snapshot(at: datetime, docs: dict[str, str]) -> dict[str, str]:
    meta = {"as_of": at.astimezone(TZ).isoformat(timespec="seconds"), "records": 1}
    return {keys.META_FIELD: json.dumps(meta), **docs}


@pytest.fixture
def app(r, redis_server, units, tmp_path):
    """Thành phố Tây Ninh (703) now, and as the history kept it a week before: more received,
    a better on-time rate, fewer overdue, slower processing."""
    now = {
        f"{u}|{w}": doc(120, (90, 100), 5, 3.5)
        for u in ["72", "703", *units.children("703")]
        for w in ("7d", "30d")
    }
    before = {
        f"{u}|{w}": doc(100, (80, 100), 8, 3.0)
        for u in ["72", "703", *units.children("703")]
        for w in ("7d", "30d")
    }
    writer = HistoryWriter(tmp_path / "history", FEED, hourly_days=90, daily_days=730)
    assert writer.offer(earlier(NOW, "week") - timedelta(minutes=30), snapshot(NOW, before))
    r.hset(keys.snapshot(FEED), mapping=snapshot(NOW, now))
    return create_app(app_settings(redis_server, history={"directory": tmp_path / "history"}), r)


@pytest.mark.parametrize(
    ("kpi", "now", "before", "text", "state"),
    [
        ("received", 120, 100, "▲ 20 (20%)", "neutral"),  # more dossiers: neither better nor worse
        ("on_time_rate", 0.9, 0.8, "▲ 10,0 điểm %", "better"),
        ("on_time_rate", 0.7, 0.8, "▼ 10,0 điểm %", "worse"),
        ("overdue_open", 5, 8, "▼ 3 (38%)", "better"),  # lower is better
        ("avg_processing_days", 3.5, 3.0, "▲ 0,50", "worse"),
        ("received", 7, 7, "=", "same"),
        ("received", 7, None, "–", "none"),  # nothing kept then
    ],
)
def test_a_difference_has_its_arrow_and_colour(kpi, now, before, text, state) -> None:
    assert change(KPIS[kpi], now, before) == (text, state)


def test_a_year_before_29_february_is_the_28th() -> None:
    assert earlier(datetime(2028, 2, 29, 8, tzinfo=TZ), "year") == datetime(2027, 2, 28, 8, tzinfo=TZ)
    assert earlier(datetime(2026, 11, 22, 8, tzinfo=TZ), "week") == datetime(2026, 11, 15, 8, tzinfo=TZ)


def refresh(client, page: dict, **choices: str) -> dict:
    """The district room's callback, as the browser calls it with ``choices``."""
    spec = next(
        c for c in client.get("/_dash-dependencies").get_json() if "district-tiles.children" in c["output"]
    )
    values = {
        "district-kpi": "on_time_rate",
        "district-window": "7d",
        "district-sort": "best",
        "district-search": "",
        "district-case-filter": "",
        "district-compare": "",
    } | choices
    outputs = spec["output"].strip(".").split("...")
    body = {
        "output": spec["output"],
        "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in outputs],
        "inputs": [{**i, "value": values.get(i["id"])} for i in spec["inputs"]],
        "state": [{**s, "value": page} for s in spec["state"]],
        "changedPropIds": ["district-compare.value"],
    }
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    return reply.get_json()["response"]


def deltas(component: object) -> list[tuple[str, str]]:
    """Every difference drawn in ``component``: (its text, its state)."""
    text = json.dumps(component, ensure_ascii=False)
    return re.findall(r'"children": "([^"]*)", "className": "delta (\w+)"', text)


def test_the_room_shows_each_tile_against_the_week_before(app) -> None:
    client = logged_in(app, "lanhdao")
    page = {"feed": FEED, "code": "703", "path": "/district/703"}
    drawn = refresh(client, page, **{"district-compare": "week"})
    tiles = deltas(drawn["district-tiles"])
    assert ("▲ 20 (20%) so với tuần trước", "neutral") in tiles
    assert ("▲ 10,0 điểm % so với tuần trước", "better") in tiles
    assert ("▼ 3 (38%) so với tuần trước", "better") in tiles
    assert ("▲ 0,50 so với tuần trước", "worse") in tiles
    communes = deltas(drawn["district-communes"])
    assert communes and set(communes) == {("▲ 10,0 điểm %", "better")}  # each commune's row
    assert deltas(refresh(client, page)["district-tiles"]) == []  # no comparison asked for
    year = deltas(refresh(client, page, **{"district-compare": "year"})["district-tiles"])
    assert year and {state for _text, state in year} == {"none"}  # nothing kept a year ago


@pytest.mark.browser
def test_the_province_room_compares_with_last_week_and_marks_its_series(
    r,
    redis_server,
    units,
    tmp_path,
    browser,  # noqa: F811
) -> None:
    """The province room with ``?compare=week``: each tile and district says how it moved, in its
    colour; the series shows an event and an outage as bands."""
    now = {f"{u}|7d": doc(120, (90, 100), 5, 3.5) for u in ["72", *units.children("72")]}
    before = {f"{u}|7d": doc(100, (80, 100), 8, 3.0) for u in ["72", *units.children("72")]}
    writer = HistoryWriter(tmp_path / "history", FEED, hourly_days=90, daily_days=730)
    assert writer.offer(earlier(NOW, "week") - timedelta(minutes=30), snapshot(NOW, before))
    start = (NOW - timedelta(hours=7 * 24 - 1)).astimezone(TZ).replace(minute=0, second=0)
    hours = [float(5 + (h % 24 > 7) * 20) for h in range(7 * 24)]
    series = json.dumps(
        series_document(start.isoformat(), 3600, {"received": hours, "resolved": hours[::-1]})
    )
    r.hset(keys.snapshot(FEED), mapping=snapshot(NOW, now))
    r.hset(keys.series(FEED), "72", series)
    marks = Annotations(r, {})
    marks.add(
        Annotation(
            start=NOW - timedelta(days=3, hours=4),
            end=NOW - timedelta(days=2, hours=20),
            title="Bảo trì hệ thống một cửa",
            created_by="quantri",
        )
    )
    with web_alone(tmp_path, redis_server.url, "compare-test-secret") as port:
        page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/?compare=week")
        page.wait_for_selector(".tile .delta", timeout=20_000)
        tile = page.locator(".tile[data-kpi='on_time_rate'] .delta")
        assert tile.inner_text() == "▲ 10,0 điểm % so với tuần trước" and "better" in tile.get_attribute(
            "class"
        )
        worse = page.locator(".tile[data-kpi='avg_processing_days'] .delta")
        assert "worse" in worse.get_attribute("class")
        rows = page.locator(".ranking .delta").all_inner_texts()
        assert len(rows) == 9 and set(rows) == {"▲ 10,0 điểm %"}
        assert page.locator("#compare-pick input[value='week']").is_checked()
        page.wait_for_selector("#series .shapelayer path", timeout=10_000)
        labels = page.locator("#series .annotation-text").all_text_contents()
        assert "Bảo trì hệ thống một cửa" in labels, labels
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "province-compare.png"))
