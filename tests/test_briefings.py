"""The morning briefing: made by the real ``brief`` worker from the real pipeline's snapshot and
history, printed by headless Chromium, read back with ``pdftotext``; archived, listed, served and
refused by the web app; asked for, and made once even when the worker dies mid-way."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import redis

from ioc import alert_store, keys
from ioc.briefings import GROUP, Archive, Briefer, Printer, PrintError, ask, briefer
from ioc.config import BriefingSettings, ConfigError, default_alert_rules
from ioc.feeds import FEED_SPECS
from ioc.web import create_app
from layouts import figures
from tests import oracle
from tests.processes import app_settings, logged_in
from tests.test_history import RUNS, history_run, known_at  # noqa: F401  (the fixture)
from tests.test_realtime import an_alert

SHOTS = Path(__file__).parent / "screenshots"
NOW = RUNS[-1] + timedelta(minutes=20)  # the briefing's moment: 20 minutes after the last commit
PROVINCE, DISTRICT, OTHER = "72", "705", "706"


def needs(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is missing: .ci/run must install it")
        pytest.skip(f"{program} is not installed")
    return found


def pdf_text(path: Path) -> str:
    done = subprocess.run([needs("pdftotext"), "-layout", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode()


def condition(unit: str, value: float, rule: str) -> dict:
    """The on-time rule broken at ``unit`` with ``value`` (the time: when it is committed)."""
    broken = an_alert(unit, rule) | {"value": value}
    del broken["since"]
    return broken


def commit(client: redis.Redis, at: datetime, *conditions: dict) -> None:
    previous = alert_store.read_active(client, "public_services")
    changes = alert_store.reconcile(previous, {c["id"]: c for c in conditions}, at)  # type: ignore[misc]
    pipe = client.pipeline(transaction=True)
    alert_store.write(pipe, "public_services", changes, previous, at)
    pipe.execute()


@pytest.fixture(scope="module")
def made(history_run, redis_server, tmp_path_factory):  # noqa: F811
    """The province's briefing at NOW, with alerts of the last day and one older, and the web app
    that serves the archive."""
    _web, folder, records, url = history_run
    client = redis.Redis.from_url(url)
    rule = next(
        n for n, r in default_alert_rules().items() if r.feed == "public_services" and r.kind == "kpi"
    )
    commit(client, NOW - timedelta(hours=40), condition("703", 0.81, rule))  # over before the day began
    commit(client, NOW - timedelta(hours=39))
    commit(client, NOW - timedelta(hours=30), condition(OTHER, 0.85, rule))  # ended within the day,
    alert_store.acknowledge(  # acknowledged before it began
        client, "public_services", f"{rule}|{OTHER}", "truc-706", NOW - timedelta(hours=28), "Đang kiểm tra"
    )
    commit(client, NOW - timedelta(hours=20))
    commit(client, NOW - timedelta(hours=3), condition(DISTRICT, 0.874, rule))  # on, acknowledged
    alert_store.acknowledge(
        client,
        "public_services",
        f"{rule}|{DISTRICT}",
        "truc-705",
        NOW - timedelta(hours=2),
        "Đã gọi bộ phận một cửa",
    )
    archive_dir = tmp_path_factory.mktemp("briefings")
    settings = app_settings(
        redis_server,
        history={"directory": folder},
        briefing={"directory": archive_dir, "levels": ["province"], "at": "06:30"},
    )
    worker = briefer(settings, client)
    found = worker.make(PROVINCE, NOW, "asked", "lanhdao")
    app = create_app(settings, client)
    yield worker, found, records, rule, app
    client.close()


def test_the_pdf_holds_the_kpis_of_now_and_of_yesterday_with_their_diacritics(made, units) -> None:
    worker, found, records, _rule, _app = made
    text = pdf_text(worker.archive.file(found, "pdf"))
    assert "Bản tin giao ban: Tỉnh Tây Ninh" in text, text[:400]
    assert "Dịch vụ công" in text and "Hồ sơ quá hạn đang xử lý" in text
    parents = dict(zip(units.frame["code"], units.frame["parent_code"], strict=True))
    now = oracle.public_services(
        oracle.counts_for(known_at(records, RUNS[-1]), PROVINCE, parents), RUNS[-1], "7d"
    )
    # 24 hours before NOW the history's newest snapshot was that of RUNS[3]
    then = oracle.public_services(
        oracle.counts_for(known_at(records, RUNS[3]), PROVINCE, parents), RUNS[3], "7d"
    )
    spec = FEED_SPECS["public_services"]
    lines = text.splitlines()
    for kpi in spec.kpis:
        # (a long label wraps: its first line holds the figures)
        line = next((ln for ln in lines if ln.strip().startswith(kpi.label[:18])), None)
        assert line is not None, f"no line for {kpi.label!r} in:\n{text}"
        cells = re.split(r"\s{2,}", line.strip())
        shown_now = figures.value_text(kpi, now[kpi.name]["value"])
        shown_then = figures.value_text(kpi, then[kpi.name]["value"])
        assert cells[1].startswith(shown_now), (kpi.name, cells, shown_now)
        assert cells[2] == shown_then, (kpi.name, cells, shown_then)
        assert cells[3] == "–", (kpi.name, cells)  # nothing kept a week before: no comparison


def test_the_alerts_of_the_day_say_who_acknowledged_them(made, units) -> None:
    worker, found, _records, _rule, _app = made
    text = pdf_text(worker.archive.file(found, "pdf"))
    section = text[text.index("Cảnh báo 24 giờ qua") :]
    names = units.names()
    district = next(ln for ln in section.splitlines() if names[DISTRICT] in ln)
    assert "87,4%" in district and "truc-705: Đã gọi bộ phận một cửa" in district, district
    assert "đang diễn ra" in district
    other = next(ln for ln in section.splitlines() if names[OTHER] in ln)
    ended = (NOW - timedelta(hours=20)).astimezone(RUNS[0].tzinfo).strftime("%H:%M %d/%m/%Y")
    assert "truc-706: Đang kiểm tra" in other and ended in other, other
    assert names["703"] not in section, "an alert over before the last 24 hours is listed"


def test_the_page_says_what_it_was_made_for_and_is_one_a4_page(made) -> None:
    worker, found, _records, _rule, _app = made
    pdf = worker.archive.file(found, "pdf")
    info = subprocess.run([needs("pdfinfo"), str(pdf)], capture_output=True, check=True).stdout.decode()
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    assert "(A4)" in info, info
    text = pdf_text(pdf)
    made_at = NOW.astimezone(RUNS[0].tzinfo).strftime("%H:%M %d/%m/%Y")
    assert f"Tỉnh Tây Ninh ({PROVINCE})" in text and "7 ngày" in text and made_at in text
    assert "theo yêu cầu (lanhdao)" in text
    png = worker.archive.file(found, "png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1588, 2246)  # A4 at 192 px an inch
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(worker.archive.file(found, "png"), SHOTS / "briefing.png")


def test_the_list_shows_each_person_what_they_may_see_and_serves_it_audited(made, redis_server) -> None:
    worker, found, _records, _rule, app = made
    mine = worker.make(DISTRICT, NOW, "asked", "truc-705")
    leader, officer, other = (logged_in(app, who) for who in ("lanhdao", "truc-705", "truc-706"))
    day = f"/briefings?day={found.day}"
    page = leader.get(day).text
    assert f'data-unit="{PROVINCE}"' in page and f'data-unit="{DISTRICT}"' in page
    page = officer.get(day).text
    assert f'data-unit="{DISTRICT}"' in page and f'data-unit="{PROVINCE}"' not in page
    assert f'data-unit="{DISTRICT}"' not in other.get(day).text
    pdf = officer.get(f"{mine.href}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert "no-store" in pdf.headers["Cache-Control"]
    refused = other.get(f"{mine.href}.pdf")
    assert refused.status_code == 403 and "outside your scope" in refused.get_json()["error"]
    assert officer.get(f"{found.href}.png").status_code == 403  # the province's names every district
    assert leader.get(f"{found.href}.png").data[:4] == b"\x89PNG"
    client = redis.Redis.from_url(redis_server.url)
    audit = [
        {k.decode(): v.decode() for k, v in f.items()} for _i, f in client.xrevrange(keys.audit(), count=20)
    ]
    assert any(e.get("action") == "briefing" and e.get("unit") == DISTRICT for e in audit), audit


@pytest.mark.parametrize(
    ("path", "status", "said"),
    [
        ("/briefings/2026-11-22/72-1010-asked.pdf", 404, "no briefing"),  # not a name it writes
        ("/briefings/..x/72-101010-asked.pdf", 404, "no briefing"),
        ("/briefings/2026-11-22/72-101010-asked.exe", 404, "no format"),
        ("/briefings/2026-11-22/72-999999-asked.pdf", 404, "no briefing"),
        ("/briefings?day=yesterday", 400, "not a date"),
    ],
)
def test_a_wrong_address_says_what_was_wrong(made, path, status, said) -> None:
    app = made[4]
    reply = logged_in(app, "lanhdao").get(path)
    assert reply.status_code == status, (path, reply.status_code)
    if said:
        assert said in reply.get_json()["error"]


def form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found[1]


def test_asked_for_on_the_page_it_is_made_once_even_by_a_worker_that_died(made, redis_server) -> None:
    worker, _found, _records, _rule, app = made
    client = redis.Redis.from_url(redis_server.url)
    officer = logged_in(app, "truc-705")
    token = form_token(officer.get("/briefings").text)
    assert officer.post("/briefings", data={"csrf_token": token, "unit": OTHER}).status_code == 403
    assert officer.post("/briefings", data={"csrf_token": "x", "unit": DISTRICT}).status_code == 400
    reply = officer.post("/briefings", data={"csrf_token": token, "unit": DISTRICT})
    assert reply.status_code == 302 and reply.headers["Location"] == f"/briefings?asked={DISTRICT}"
    officer.post("/briefings", data={"csrf_token": token, "unit": DISTRICT})  # asked twice: one
    assert client.xlen(keys.briefings("requests")) == 1
    assert "Đang lập" in officer.get("/briefings").text
    # A worker takes the request and dies before making it: it stays pending, for the next one.
    worker.ensure_group()
    taken = client.xreadgroup(GROUP, worker.consumer, {keys.briefings("requests"): ">"}, count=1)
    assert taken and len(taken[0][1]) == 1
    before = {
        a.name for a in worker.archive.listed(datetime.now(UTC).astimezone(RUNS[0].tzinfo).date().isoformat())
    }
    assert worker.asked(block_ms=50) == 1
    assert worker.asked(block_ms=50) == 0  # and only once
    today = datetime.now(UTC).astimezone(RUNS[0].tzinfo).date().isoformat()
    new = [a for a in worker.archive.listed(today) if a.name not in before]
    assert [(a.unit, a.kind, a.asked_by) for a in new] == [(DISTRICT, "asked", "truc-705")]
    assert client.hlen(keys.briefings("pending")) == 0
    assert client.xpending(keys.briefings("requests"), GROUP)["pending"] == 0


def test_the_days_briefings_come_once_after_their_time(made, tmp_path) -> None:
    worker = made[0]
    daily = Briefer(
        worker.client,
        worker.sources,
        Archive(tmp_path, keep_days=2),
        worker.printer,
        worker.settings,
    )
    morning = datetime(2026, 11, 22, 6, 29, tzinfo=RUNS[0].tzinfo)
    assert daily.daily(morning) == 0  # not yet
    assert daily.daily(morning + timedelta(minutes=2)) == 1  # the province (levels = province)
    assert daily.daily(morning + timedelta(hours=3)) == 0  # once a day
    assert [a.unit for a in daily.archive.listed("2026-11-22")] == [PROVINCE]
    (tmp_path / "2026-11-19").mkdir()
    (tmp_path / "2026-11-21").mkdir()
    assert daily.archive.expire(date(2026, 11, 22)) == ["2026-11-19"]  # two days kept
    assert daily.archive.days() == ["2026-11-22", "2026-11-21"]


def test_a_chromium_that_fails_is_a_failure_on_the_page_not_a_crash(made, tmp_path) -> None:
    worker, _found, _records, _rule, app = made
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(PrintError, match="exited with 3: cannot open display"):
        Printer(str(broken)).print("<p>x</p>")
    failing = Briefer(
        worker.client, worker.sources, Archive(tmp_path / "a", 2), Printer(str(broken)), worker.settings
    )
    assert failing.daily(datetime(2026, 11, 22, 7, 0, tzinfo=RUNS[0].tzinfo)) == 0
    page = logged_in(app, "lanhdao").get("/briefings").text
    assert "Không lập được" in page and "exited with 3" in page
    with pytest.raises(ConfigError, match=r"briefing\.chromium"):
        BriefingSettings(chromium=str(tmp_path / "none")).find_chromium()


def test_requests_are_bounded_per_person_and_in_all(made, redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url)
    app = made[4]
    client.delete(keys.briefings("pending"), keys.briefings("requests"))
    leader = logged_in(app, "lanhdao")
    token = form_token(leader.get("/briefings").text)
    communes = made[0].sources.units.level_codes("commune")
    for unit in communes[:10]:
        assert leader.post("/briefings", data={"csrf_token": token, "unit": unit}).status_code == 302
    reply = leader.post("/briefings", data={"csrf_token": token, "unit": communes[10]})
    assert reply.status_code == 429 and "an hour" in reply.get_json()["error"]
    for unit in communes[10:20]:
        ask(client, unit, "quantri")
    admin = logged_in(app, "quantri")
    reply = admin.post(
        "/briefings", data={"csrf_token": form_token(admin.get("/briefings").text), "unit": "72"}
    )
    assert reply.status_code == 503 and "waiting" in reply.get_json()["error"]
    # a request no process took within the hour leaves the list: a stopped process cannot fill it
    stale = json.dumps({"unit": communes[0], "by": "quantri", "at": "2026-01-01T00:00:00+00:00"})
    client.hset(keys.briefings("pending"), "0-1", stale)
    client.hset(keys.briefings("pending"), "0-2", "not json")
    admin.get("/briefings")
    assert not client.hexists(keys.briefings("pending"), "0-1")
    assert not client.hexists(keys.briefings("pending"), "0-2")
    client.delete(keys.briefings("pending"), keys.briefings("requests"))


def test_a_communes_briefing_shows_no_other_communes_figures(made, units) -> None:
    worker = made[0]
    commune = units.children(DISTRICT)[0]
    found = worker.make(commune, NOW, "asked", "truc-705")
    text = pdf_text(worker.archive.file(found, "pdf"))
    section = text[text.index("Đơn vị kém nhất") : text.index("Cảnh báo 24 giờ qua")]
    names = units.names()
    others = [names[c] for c in units.children(DISTRICT) if c != commune]
    assert not [n for n in others if n in section], section
    assert re.search(re.escape(names[commune]) + r": \d+/\d+", section), section


def test_a_bad_request_or_a_junk_folder_stops_nothing(made, redis_server, tmp_path) -> None:
    worker = made[0]
    client = redis.Redis.from_url(redis_server.url)
    worker.ensure_group()
    ask(client, "99999", "lanhdao")  # a unit of no scheme (a queue kept across a change of scheme)
    assert worker.asked(block_ms=50) == 0
    assert client.xpending(keys.briefings("requests"), GROUP)["pending"] == 0  # done with
    assert "99999" in client.lindex(keys.briefings("failed"), 0).decode()
    archive = Archive(tmp_path, keep_days=1)
    for junk in ("2025-99-99", "2026-11-2", "notes"):
        (tmp_path / junk).mkdir()
    (tmp_path / "2026-11-20").mkdir()
    (tmp_path / "2026-11-20" / "72-101010-asked.json").write_text("[1, 2]")
    assert archive.days() == ["2026-11-20"]
    assert archive.listed("2026-11-20") == []
    assert archive.expire(date(2026, 11, 22)) == ["2026-11-20"]
