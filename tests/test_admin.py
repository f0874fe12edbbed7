"""The administrator's audit log page: both streams newest first, filters, pages that continue
exactly, a CSV export that no spreadsheet runs as formulas, and refusals for other roles."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, datetime

import httpx
import pytest
import redis

from ioc import audit, keys
from ioc.admin import BadFilter, cell, parse_filter
from ioc.web import create_app
from tests.processes import PASSWORD, app_settings, logged_in, web_alone
from tests.test_browser import browser, new_page  # noqa: F401

DAY = datetime(2026, 12, 4, tzinfo=UTC)  # 07:00 local


def entry(r: redis.Redis, stream: str, ms: int | None, **fields: str) -> str:
    """An audit entry written at epoch milliseconds ``ms`` (its stream id; None: now), as
    ``audit.record`` writes them."""
    at = datetime.fromtimestamp((ms or time.time() * 1000) / 1000, UTC).isoformat(timespec="milliseconds")
    return r.xadd(stream, {"at": at, "role": "admin", **fields}, id=f"{ms}-0" if ms else "*").decode()


@pytest.fixture
def log(r) -> list[str]:
    """600 entries in ``ioc:audit`` and 400 in ``ioc:audit:failures``, interleaved in time (more
    than a chunk of each): the ids of all of them, newest first."""
    start = int(DAY.timestamp() * 1000)
    ids = []
    for i in range(1000):
        if i % 5 in (1, 3):
            ids.append(entry(r, keys.audit_failures(), start + i * 60_000, action="login_failed", who="-"))
        else:
            unit = "705" if i % 2 else "706"
            ids.append(
                entry(r, keys.audit(), start + i * 60_000, action="cases", who=f"truc-{unit}", unit=unit)
            )
    return ids[::-1]


def test_the_walk_merges_both_streams_newest_first_across_chunks(r, log) -> None:
    got = [e["id"] for e in audit.walk(r)]
    assert got == log, "not every entry once, newest first"
    middle = log[437]
    assert [e["id"] for e in audit.walk(r, before=middle)] == log[438:]


def test_filters_keep_what_they_name(r, log) -> None:
    local_8am = int(datetime(2026, 12, 4, 8, 0, tzinfo=UTC).timestamp() * 1000) - 7 * 3_600_000
    wanted = audit.Filter(action="cases", unit="705", since_ms=local_8am, until_ms=local_8am + 3_600_000)
    got = list(wanted.entries(r))
    assert got and all(e["unit"] == "705" and e["action"] == "cases" for e in got)
    assert all(local_8am <= int(e["id"].split("-")[0]) < local_8am + 3_600_000 for e in got)
    expected = [
        i for i in log if local_8am <= int(i.split("-")[0]) < local_8am + 3_600_000
    ]  # then the 705 cases among them, by the way the fixture wrote them
    kept = {e["id"] for e in audit.walk(r) if e.get("unit") == "705"}
    assert [e["id"] for e in got] == [i for i in expected if i in kept]


def test_the_walk_holds_about_a_chunk_of_each_stream_not_the_older_stream_whole(r, monkeypatch) -> None:
    """Entries of one stream all newer than the other's: reading the newer stream does not read
    the older one chunk after chunk beside it (what an export of a long log would hold)."""
    monkeypatch.setattr(audit, "CHUNK", 50)
    start = int(DAY.timestamp() * 1000)
    for i in range(1000):
        entry(r, keys.audit_failures(), start + i, action="login_failed", who="-")
        entry(r, keys.audit(), start + 10_000 + i, action="cases", who="truc-705", unit="705")
    read = []
    real = r.xrevrange

    def counted(*args, **kwargs):
        got = real(*args, **kwargs)
        read.append(len(got))
        return got

    monkeypatch.setattr(r, "xrevrange", counted)
    first = [e["action"] for _, e in zip(range(500), audit.walk(r), strict=False)]
    assert first == ["cases"] * 500
    assert sum(read) <= 500 + 2 * 50, f"read {sum(read)} entries to give 500: {read}"
    monkeypatch.setattr(r, "xrevrange", real)
    assert len(list(audit.walk(r))) == 2000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"since": "yesterday"}, "since: 'yesterday' is not a date (2026-12-05) or a time"),
        ({"until": "2026-13-01"}, "until: '2026-13-01' is not a date"),
        ({"since": "2026-12-05", "until": "2026-12-04"}, "since: must be before until"),
        ({"before": "drop table"}, "before: 'drop table' is not an audit entry id"),
        ({"before": "0-0"}, "before: '0-0' is not an audit entry id"),
        ({"before": f"{2**64}-0/1"}, f"before: '{2**64}-0/1' is not an audit entry id"),
        ({"before": f"1-{2**64}"}, f"before: '1-{2**64}' is not an audit entry id"),
        ({"who": "x" * 201}, "who: longer than 200 characters"),
        ({"since": "1850-01-01"}, "outside the years 2000 to 2200"),
    ],
)
def test_a_bad_filter_says_which_argument_and_why(args, message) -> None:
    with pytest.raises(BadFilter, match=re.escape(message)):
        parse_filter(args)


def test_a_date_is_a_whole_local_day() -> None:
    wanted, before = parse_filter({"since": "2026-12-05", "until": "2026-12-05", "action": " ack "})
    assert before is None and wanted.action == "ack"
    assert wanted.since_ms == int(datetime(2026, 12, 4, 17, tzinfo=UTC).timestamp() * 1000)
    assert wanted.until_ms == wanted.since_ms + 86_400_000


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_is_text(value) -> None:
    assert cell(value) == "'" + value
    assert cell("/district/705") == "/district/705"


@pytest.fixture
def app(r, redis_server):
    return create_app(app_settings(redis_server), r)


def test_only_an_administrator_opens_the_audit_log(app) -> None:
    for path in ("/admin/audit", "/admin/audit.csv"):
        anonymous = app.server.test_client().get(path)
        assert anonymous.status_code in (302, 401), (path, anonymous.status_code)
        for login in ("lanhdao", "truc-705"):
            refused = logged_in(app, login).get(path)
            assert refused.status_code == 403, (path, login)
            assert "the audit log is for administrators" in refused.get_data(as_text=True)
    assert logged_in(app, "quantri").get("/admin/audit").status_code == 200


def test_pages_continue_exactly_and_the_csv_is_every_row(app, r, log) -> None:
    admin = logged_in(app, "quantri")
    seen: list[str] = []
    url = "/admin/audit?action=cases&unit=706"
    for _page in range(20):
        page = admin.get(url)
        assert page.status_code == 200, page.get_data(as_text=True)
        text = page.get_data(as_text=True)
        seen += re.findall(r'<td class="at">([^<]+)</td>', text)
        more = re.search(r'<a class="next" href="([^"]+)"', text)
        if more is None:
            break
        url = "/admin/audit" + more[1].replace("&amp;", "&")
    wanted = [e for e in audit.walk(r) if e.get("unit") == "706" and e["action"] == "cases"]
    assert len(seen) == len(wanted) == 300 and len(set(seen)) == 300, "a page skipped or repeated entries"
    exported = admin.get("/admin/audit.csv?action=cases&unit=706")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [row["at"] for row in rows] == seen
    assert {row["who"] for row in rows} == {"truc-706"}
    reads = [e for e in audit.read(r, 50) if e["action"] in ("audit_read", "audit_export")]
    assert {e["action"] for e in reads} == {"audit_read", "audit_export"}
    assert all(
        e["who"] == "quantri" and (e["of_unit"], e["of_action"]) == ("706", "cases") and "unit" not in e
        for e in reads
    )


def test_a_hostile_path_is_shown_as_text_and_exported_as_text(app, r) -> None:
    """A refused request's path is chosen by its sender: the page escapes it, the CSV defuses it."""
    hostile = "/=cmd|' /C calc'!A0<script>alert(1)</script>"
    entry(r, keys.audit(), None, action="refused", who="truc-705", path=hostile, reason="outside the scope")
    admin = logged_in(app, "quantri")
    text = admin.get("/admin/audit?action=refused").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
    exported = admin.get("/admin/audit.csv?action=refused&who=truc-705").get_data(as_text=True)
    (row,) = list(csv.DictReader(io.StringIO(exported)))
    assert row["path"] == hostile  # starts with "/": text already
    entry(r, keys.audit(), None, action="refused", who="truc-705", path="=1+1", reason="x")
    exported = admin.get("/admin/audit.csv?action=refused&who=truc-705").get_data(as_text=True)
    newest = next(iter(csv.DictReader(io.StringIO(exported))))
    assert newest["path"] == "'=1+1"


def test_a_bad_filter_is_a_400_saying_why(app) -> None:
    reply = logged_in(app, "quantri").get("/admin/audit?since=tomorrow")
    assert reply.status_code == 400
    assert "since: 'tomorrow' is not a date" in reply.get_data(as_text=True)


# ---- in Chromium ----------------------------------------------------------------------------


@pytest.fixture
def web(redis_server, tmp_path):
    with web_alone(tmp_path, redis_server.url, "admin-test-secret") as port:
        yield port


@pytest.mark.browser
def test_an_administrator_filters_the_audit_log_in_the_browser(browser, web, r) -> None:  # noqa: F811
    """A duty officer's refused request is in the log; the administrator finds it by filtering
    on the page, and the CSV link carries the same filter; a leader is refused the page."""
    base = f"http://127.0.0.1:{web}"
    with httpx.Client(base_url=base, auth=("truc-705", PASSWORD)) as officer:
        assert officer.get("/api/v1/cases?feed=public_services&unit=706").status_code == 403
    page = new_page(browser, web, "quantri", viewport={"width": 1400, "height": 800})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(base + "/admin/audit")
    page.wait_for_selector("table.audit tbody tr")
    assert "login" in page.locator("td.action").all_inner_texts()
    page.fill("input[name=action]", "refused")
    page.fill("input[name=who]", "truc-705")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/audit?who=truc-705&action=refused**")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1
    assert rows.first.locator("td.reason").inner_text().startswith("unit '706' is outside your scope")
    assert page.locator("td.path").first.inner_text() == "/api/v1/cases"  # never the query string
    href = page.locator("a.csv").get_attribute("href") or ""
    assert href.startswith("/admin/audit.csv?") and "action=refused" in href and "who=truc-705" in href
    assert errors == []
    leader = new_page(browser, web, "lanhdao")
    reply = leader.goto(base + "/admin/audit")
    assert reply is not None and reply.status == 403
    assert "the audit log is for administrators" in leader.inner_text("body")


def test_entries_of_one_millisecond_in_both_streams_are_each_shown_once(r) -> None:
    """Two streams, one id: each entry once in the walk, and a page that ends on either one
    continues exactly after it."""
    for ms in (1000, 2000, 3000):
        entry(r, keys.audit(), ms, action="cases", who="a")
        entry(r, keys.audit_failures(), ms, action="login_failed", who="-")
    every = list(audit.walk(r))
    assert [(e["id"], e["action"]) for e in every] == [
        (f"{ms}-0", action) for ms in (3000, 2000, 1000) for action in ("login_failed", "cases")
    ]
    for i, e in enumerate(every):
        assert [x["cursor"] for x in audit.walk(r, before=e["cursor"])] == [
            x["cursor"] for x in every[i + 1 :]
        ]
    assert [x["id"] for x in audit.walk(r, before="2000-0")] == ["1000-0", "1000-0"]


def test_a_page_examines_a_bounded_number_of_entries_and_continues_exactly(r, log) -> None:
    """A filter matching few entries: each page looks at no more than the limit, says how far it
    searched, and the pages together are every match once."""
    wanted = audit.Filter(who="truc-705")
    every = [e["cursor"] for e in wanted.entries(r)]
    seen: list[str] = []
    before, stops = None, 0
    for _ in range(100):
        found, before, searched_to = wanted.page(r, before, 50, limit=90)
        seen += [e["cursor"] for e in found]
        stops += searched_to is not None
        if before is None:
            break
    assert seen == every and len(every) == 300
    assert stops > 0, "the limit never stopped a page"
    found, after, searched_to = audit.Filter(who="nobody").page(r, None, 7, limit=90)
    assert found == [] and after is not None and searched_to is not None
