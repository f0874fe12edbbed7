"""Downloads of the rooms' tables (CSV and XLSX): the API's rows, the screen's filter and order,
the same access rules, an audit entry; text never read as a formula."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import redis

from ioc import audit
from ioc.sheets import Sheet, csv_lines, xlsx_file
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.web import create_app
from layouts.format import fold
from tests.pipeline import Pipeline
from tests.processes import app_settings, logged_in
from tests.test_browser import browser  # noqa: F401  (the fixture)
from tests.test_delivery import AT, condition, set_alerts
from tests.test_district import TAN_CHAU, open_page
from tests.test_kpis import AS_OF, dossier, load_cases

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DISTRICTS = ["703", "705", "706", "707", "708", "709", "710", "711", "712"]


# Overdue dossiers beside the counted cases: enough of them, of two procedures, to filter.
OVERDUE = [
    dossier(
        f"HS-{i:03}", unit, f"{10 + i % 5}T08:00:00", f"{15 + i % 5}T17:00:00", "dang_xu_ly", "22T09:45:00"
    )
    | {"ma_tthc": "2.000123" if i % 3 == 0 else "1.004227"}
    for i, unit in enumerate(["25456", "25459", "25480", "25507", "25516"] * 6)
]


@pytest.fixture(scope="module")
def app(units, redis_server):
    """The counted cases of tests/test_kpis.py, more overdue dossiers and two alerts: read only by
    every test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    listing = RecordListing("ma_ho_so")
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    pipe = Pipeline(client, units, server.url, lambda: AS_OF, page_size=10)
    try:
        load_cases(listing, pipe)
        for record in OVERDUE:
            listing.put(record)
        pipe.sync()
        set_alerts(client, AT, condition("705", 0.5), condition("706", 0.25))
        yield create_app(app_settings(redis_server), client), client
    finally:
        pipe.close()
        server.close()
        client.close()


@pytest.fixture(scope="module")
def leader(app):
    return logged_in(app[0], "lanhdao")


def rows_of(reply) -> list[dict[str, str]]:
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    text = reply.get_data(as_text=True)
    assert text.startswith("\ufeff"), "no BOM: Excel would read the diacritics in the wrong code page"
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_the_provinces_ranking_is_the_apis_values_best_first(leader, units) -> None:
    reply = leader.get("/export/ranking.csv?feed=public_services&kpi=on_time_rate&window=30d")
    assert reply.headers["Content-Disposition"] == (
        'attachment; filename="ioc-xep-hang-public_services-72-30d.csv"'
    )
    assert reply.headers["Cache-Control"] == "no-store"
    rows = rows_of(reply)
    assert [r["Mã đơn vị"] for r in rows] != [] and {r["Mã đơn vị"] for r in rows} == set(
        units.children(units.province)
    )
    head = "Giải quyết đúng hạn (tỷ lệ, 1 = 100%)"
    for row in rows:
        kpi = leader.get(f"/api/v1/kpis?feed=public_services&unit={row['Mã đơn vị']}&window=30d").get_json()
        value = kpi["kpis"]["on_time_rate"]["value"]
        assert row[head] == ("" if value is None else repr(float(value))), row
        assert row["Đơn vị"] == units.names()[row["Mã đơn vị"]]
    values = [float(r[head]) for r in rows if r[head]]
    assert values == sorted(values, reverse=True), "not best first"
    assert [r["#"] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]


def test_a_districts_communes_as_the_room_filters_and_orders_them(leader, units) -> None:
    reply = leader.get(
        "/export/ranking.csv?feed=public_services&unit=703&kpi=received&window=7d&q=phuong&sort=name"
    )
    rows = rows_of(reply)
    names = units.names()
    expected = sorted(
        (c for c in units.children("703") if "phuong" in fold(names[c])), key=lambda c: fold(names[c])
    )
    assert [r["Mã đơn vị"] for r in rows] == expected and len(expected) >= 3
    for row in rows:
        kpi = leader.get(f"/api/v1/kpis?feed=public_services&unit={row['Mã đơn vị']}&window=7d").get_json()
        assert row["Hồ sơ tiếp nhận (hồ sơ)"] == str(kpi["kpis"]["received"]["value"])


def test_a_work_list_is_the_apis_rows_in_tay_ninh_time(leader) -> None:
    api = leader.get("/api/v1/cases?feed=public_services&unit=703").get_json()
    rows = rows_of(leader.get("/export/cases.csv?feed=public_services&unit=703"))
    assert [r["Mã hồ sơ"] for r in rows] == [c["id"] for c in api["cases"]] and rows
    as_of = datetime.fromisoformat(api["as_of"])
    for row, case in zip(rows, api["cases"], strict=True):
        deadline = datetime.fromisoformat(case["deadline_at"])
        assert row["Hạn xử lý"] == deadline.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")
        assert (row["Mã xã, phường"], row["Hệ mã"]) == (case["unit_code"], case["unit_scheme"])
        assert float(row["Trễ (giờ)"]) == round((as_of - deadline).total_seconds() / 3600, 1)
    commune = leader.get("/api/v1/cases?feed=public_services&unit=25459").get_json()
    own = rows_of(leader.get("/export/cases.csv?feed=public_services&unit=25459"))
    assert [r["Mã hồ sơ"] for r in own] == [c["id"] for c in commune["cases"]]


def test_the_case_filter_keeps_what_the_screen_keeps(leader) -> None:
    every = rows_of(leader.get("/export/cases.csv?feed=public_services&unit=72"))
    assert len(every) == 31, "the 30 overdue dossiers and B"
    kept = rows_of(leader.get("/export/cases.csv?feed=public_services&unit=72&f=2.000123"))
    assert [r["Mã hồ sơ"] for r in kept] == [r["Mã hồ sơ"] for r in every if r["Thủ tục"] == "2.000123"]
    assert len(kept) == 10
    places = rows_of(leader.get("/export/cases.csv?feed=public_services&unit=72&f=phuong+3"))
    assert places and {r["Xã, phường"] for r in places} == {"Phường 3"}  # without diacritics
    assert rows_of(leader.get("/export/cases.csv?feed=public_services&unit=72&f=khong+co+dau+vet")) == []


def test_xlsx_holds_the_same_rows_and_what_they_were_made_for(leader) -> None:
    reply = leader.get("/export/cases.xlsx?feed=public_services&unit=72&f=")
    assert reply.status_code == 200 and reply.mimetype.endswith("spreadsheetml.sheet")
    frame = pl.read_excel(io.BytesIO(reply.data), sheet_id=1)
    rows = rows_of(leader.get("/export/cases.csv?feed=public_services&unit=72"))
    assert frame["Mã hồ sơ"].to_list() == [r["Mã hồ sơ"] for r in rows]
    assert frame["Trễ (giờ)"].to_list() == [float(r["Trễ (giờ)"]) for r in rows]
    about = pl.read_excel(io.BytesIO(reply.data), sheet_name="Thông tin", has_header=False)
    said = dict(zip(about[:, 0].to_list(), about[:, 1].to_list(), strict=True))
    assert said["Đơn vị"] == "Tỉnh Tây Ninh (72)" and said["Người tải"] == "lanhdao"
    ranking = leader.get("/export/ranking.xlsx?feed=public_services&kpi=on_time_rate")
    frame = pl.read_excel(io.BytesIO(ranking.data), sheet_id=1)
    assert frame.columns[:3] == ["#", "Mã đơn vị", "Đơn vị"] and frame.height == 9


def test_alerts_are_those_the_person_sees(app, leader) -> None:
    every = rows_of(leader.get("/export/alerts.csv"))
    api = leader.get("/api/v1/alerts").get_json()["alerts"]
    assert [r["Mã cảnh báo"] for r in every] == [a["id"] for a in api] and len(every) == 2
    assert [r["Cảnh báo"] for r in every] == [a["text"] for a in api]
    officer = logged_in(app[0], "truc-705")
    own = rows_of(officer.get("/export/alerts.csv"))
    assert [r["Mã đơn vị"] for r in own] == ["705"]


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("truc-705", "/export/cases.csv?feed=public_services&unit=703"),
        ("truc-705", "/export/cases.xlsx?feed=public_services&unit=72"),
        ("truc-705", "/export/ranking.csv?feed=public_services&unit=703"),
        ("truc-706", "/export/cases.csv?feed=public_services&unit=25459"),
    ],
)
def test_refused_outside_an_officers_scope(app, who, path) -> None:
    reply = logged_in(app[0], who).get(path)
    assert reply.status_code == 403 and "outside your scope" in reply.get_json()["error"]


def test_an_officer_downloads_their_own(app) -> None:
    officer = logged_in(app[0], "truc-705")
    assert rows_of(officer.get("/export/ranking.csv?feed=public_services&unit=705"))
    assert officer.get("/export/cases.csv?feed=public_services&unit=705").status_code == 200
    assert len(rows_of(officer.get("/export/ranking.csv?feed=public_services"))) == 9  # the districts'


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/export/ranking.csv?window=week", 400, "window: 'week' is not one of today, 7d"),
        ("/export/ranking.csv?sort=random", 400, "sort: 'random' is not one of best, worst, name"),
        ("/export/ranking.csv?kpi=nope", 400, "kpi: 'nope' is not one of received"),
        ("/export/ranking.csv?unit=25459", 400, "unit: '25459' is not the province, a district or an area"),
        ("/export/ranking.csv?feed=mobile_data", 400, "feed: 'mobile_data' has no ranking"),
        ("/export/cases.csv?feed=mobile_data&unit=72", 400, "feed: no work list for 'mobile_data'"),
        ("/export/cases.csv?feed=public_services&unit=999", 400, "unit: unknown unit '999'"),
        ("/export/cases.csv?feed=public_services&unit=72&f=" + "x" * 101, 400, "f: at most 100 characters"),
        ("/export/cases.csv?feed=citizen_feedback&unit=72", 503, "no work list of unit '72'"),
        ("/export/people.csv", 404, "no table 'people' to download; tables: ranking, cases, alerts"),
        ("/export/cases.pdf", 404, "no format 'pdf'; formats: csv, xlsx"),
    ],
)
def test_a_bad_request_says_what_was_wrong(leader, path, status, message) -> None:
    reply = leader.get(path)
    assert reply.status_code == status and message in reply.get_json()["error"], reply.get_json()


def test_each_download_is_audited(app, leader) -> None:
    client = app[1]
    leader.get("/export/cases.xlsx?feed=public_services&unit=703")
    entry = next(e for e in audit.read(client, 50, "export"))
    assert {k: entry.get(k) for k in ("who", "table", "format", "feed", "unit", "rows")} == {
        "who": "lanhdao",
        "table": "cases",
        "format": "xlsx",
        "feed": "public_services",
        "unit": "703",
        "rows": str(leader.get("/api/v1/cases?feed=public_services&unit=703").get_json()["count"]),
    }


def test_text_from_outside_is_never_a_formula() -> None:
    """A citizen's report that starts with "=" stays text in both forms (OWASP: CSV injection)."""
    hostile = ['=HYPERLINK("http://x.invalid","bấm")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "bình thường"]
    sheet = Sheet("t", "t", ("text", "n"), ("text", "number"), [(h, -1.5) for h in hostile])
    rows = list(csv.reader(io.StringIO("".join(csv_lines(sheet)).removeprefix("\ufeff"))))[1:]
    assert [r[0] for r in rows] == [f"'{h}" for h in hostile[:-1]] + ["bình thường"]
    assert {r[1] for r in rows} == {"-1.5"}  # numbers are numbers, a minus and all
    frame = pl.read_excel(xlsx_file(sheet).read(), sheet_id=1)
    assert frame["text"].to_list() == hostile and frame["n"].to_list() == [-1.5] * len(hostile)


@pytest.mark.browser
def test_the_rooms_links_download_what_the_screen_shows(browser, demo) -> None:  # noqa: F811
    """In a district's room, after a search and a case filter: the communes' CSV holds the rows of
    the table on the screen, in its order; the work list's holds only what the filter keeps."""
    port = demo[0]
    page, errors = open_page(browser, f"http://127.0.0.1:{port}/district/{TAN_CHAU}")
    page.wait_for_selector(".communes tbody tr", timeout=20_000)
    page.locator("#district-search").fill("tan")
    page.wait_for_function(  # the room's answer: seconds on a loaded machine
        "() => document.querySelector('[data-table=ranking] a').href.includes('q=tan')", timeout=30_000
    )
    for _attempt in range(3):  # pushed figures may reorder the ranking between the look and the file
        shown = page.locator(".communes tbody tr td:nth-child(2)").all_inner_texts()
        with page.expect_download() as got:  # the link clicked as the page has it: pushes redraw the
            # table every second, and a pointer click waiting for it to hold still timed out
            page.locator("[data-table=ranking] a", has_text="CSV").dispatch_event("click")
        rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8-sig"))))
        if [r["Đơn vị"] for r in rows] == shown:
            break
    assert [r["Đơn vị"] for r in rows] == shown and len(shown) > 1
    page.locator("#district-case-filter").fill("ho tich")
    link = ".cases[data-feed='public_services'] [data-table=cases] a"
    page.wait_for_function(
        f"() => document.querySelector(\"{link}\").href.includes('f=ho+tich')", timeout=30_000
    )
    with page.expect_download() as got:
        page.locator(link, has_text="CSV").dispatch_event("click")
    cases = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8-sig"))))
    assert cases and all("ho tich" in fold(" ".join(c.values())) for c in cases)
    assert errors == []
