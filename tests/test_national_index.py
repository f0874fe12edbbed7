"""Feed §5 (SCORECARD.md): the national portal's 766 index, from the simulated portal over HTTP
through the connector, its contract and the aggregator into the scorecard's documents."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flask import Flask
from pydantic import TypeAdapter

from connectors.national_portal import NationalIndexConfig, NationalIndexConnector
from ioc import keys
from ioc.alerts import Alerts
from ioc.api import kpi_blueprint
from ioc.config import default_alert_rules
from ioc.connector import Context
from ioc.feeds import FEED_SPECS
from ioc.index766 import GROUPS, INDICATORS, parse_period
from ioc.kpis import TZ
from ioc.national_index import (
    PERIODS_FIELD,
    PortalPeriod,
    PortalPeriods,
    portal_field,
    portal_period,
    portal_periods,
    rule_points,
)
from ioc.runner import ConnectorRunner
from ioc.simulators.http import SimulatorServer
from ioc.simulators.national_index import CODES, PROVINCES, NationalPortal, published_at
from ioc.testing import ConformanceCase, ConnectorConformance
from tests.pipeline import FeedPipeline

PATH = "/api/v1/chi-so-766"
MONDAY = datetime(2026, 11, 30, tzinfo=TZ)  # W48 ends, W49 begins; W48 is published at 09:00


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Recorded:
    """The simulated portal, remembering every period asked for; ``edit`` changes a period's
    answer (a republication, a malformed entry), ``every`` each period's."""

    def __init__(self, portal: NationalPortal) -> None:
        self.portal = portal
        self.asked: list[str] = []
        self.edit: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.every: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def answer(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        self.asked.append(query["ky"][0])
        status, body = self.portal.answer(query)
        edit = self.edit.get(body.get("ky", "")) or self.every
        return (status, edit(copy.deepcopy(body))) if status == 200 and edit else (status, body)


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY + timedelta(hours=8))  # an hour before W48 is published


@pytest.fixture
def portal(clock: Clock) -> Iterator[tuple[Recorded, str]]:
    source = Recorded(NationalPortal(seed=7, clock=clock))
    server = SimulatorServer({PATH: source}).start()
    yield source, server.url
    server.close()


def connector(units, url: str, clock: Clock, **options: Any) -> NationalIndexConnector:
    config = NationalIndexConfig(url=url, **options)
    return NationalIndexConnector(config, context=Context(units=units, http=httpx.Client(), clock=clock))


def one_broken(body: dict[str, Any]) -> dict[str, Any]:
    body["du_lieu"][0]["tong_diem"] = 120
    return body


# ---- the conformance suite, against the simulated portal over HTTP --------------------------------


class TestConformance(ConnectorConformance):
    name = "national_index"

    @pytest.fixture
    def case(self, request) -> ConformanceCase:
        """Two weeks and a month, each with one entry over 100 points; our clock a Wednesday noon
        (the last week and month published before it: between a period's end and its publication,
        Monday 09:00 or the 3rd, the portal's answer would be dated after our clock), the portal's
        ten days ahead of it."""
        ours = datetime(2026, 11, 25, 12, tzinfo=TZ)
        source = Recorded(NationalPortal(clock=lambda: ours + timedelta(days=10)))
        source.every = one_broken
        server = SimulatorServer({PATH: source}).start()
        request.addfinalizer(server.close)
        table = {"url": server.url, "history_weeks": 2, "history_months": 1}
        return ConformanceCase(
            table, good=3 * (len(CODES) - 1), bad="tong_diem: outside [0, 100] (120)", clock=lambda: ours
        )


# ---- the simulated portal ------------------------------------------------------------------------


def test_a_week_is_published_the_monday_after_at_nine_and_a_month_on_the_third() -> None:
    assert published_at(parse_period("2026-W48")) == datetime(2026, 11, 30, 9, tzinfo=TZ)
    assert published_at(parse_period("2026-11")) == datetime(2026, 12, 3, 9, tzinfo=TZ)
    assert published_at(parse_period("2026-12")) == datetime(2027, 1, 3, 9, tzinfo=TZ)


def test_the_portal_answers_only_published_periods(portal, clock) -> None:
    """Before 09:00 on Monday the week just ended is a 404 with a JSON error, the current week too;
    at 09:00 it is published; a period that is not one is a 400."""
    _source, url = portal
    for ky in ("2026-W48", "2026-W49", "2026-12"):
        answer = httpx.get(url + PATH, params={"ky": ky})
        assert answer.status_code == 404 and "chưa công bố" in answer.json()["error"], ky
    clock.now = MONDAY + timedelta(hours=9)
    body = httpx.get(url + PATH, params={"ky": "2026-W48"}).json()
    assert body["ky"] == "2026-W48" and body["cong_bo_luc"] == "2026-11-30T09:00:00+07:00"
    assert {e["ma_tinh"]: e["ten_tinh"] for e in body["du_lieu"]} == PROVINCES
    assert len(PROVINCES) == 34 and PROVINCES["80"] == "Tây Ninh"
    assert httpx.get(url + PATH, params={"ky": "2026-W60"}).status_code == 400


def test_points_follow_the_rule_and_add_up(clock) -> None:
    """Every indicator's points are its default maximum × min(1, rate / full-points-at), groups are
    the sums of their indicators' points, the total the sum of the groups (2 decimals); 2.2 is not
    sent."""
    clock.now = MONDAY + timedelta(days=10)
    portal = NationalPortal(clock=clock)
    for ky in ("2026-W48", "2026-11"):
        for entry in portal.answer({"ky": [ky]})[1]["du_lieu"]:
            assert "2.2" not in entry["chi_so"]
            for key, figure in entry["chi_so"].items():
                assert figure["diem"] == round(rule_points(INDICATORS[key], figure["ty_le"]), 2)
                assert 0 <= figure["ty_le"] <= 1
            for group, (_label, top) in GROUPS.items():
                points = sum(f["diem"] for k, f in entry["chi_so"].items() if INDICATORS[k].group == group)
                assert (
                    entry["nhom"][group] == pytest.approx(points, abs=0.006) and entry["nhom"][group] <= top
                )
            assert entry["tong_diem"] == pytest.approx(sum(entry["nhom"].values()), abs=0.006)


def test_scores_are_plausible_and_ranks_move_week_by_week() -> None:
    """Over half a year: totals mostly 60–95, the ranks change every week, Tây Ninh mid-table."""
    portal = NationalPortal(clock=lambda: MONDAY + timedelta(days=400))
    totals, ranks = [], []
    for week in range(26, 49):
        entries = portal.answer({"ky": [f"2026-W{week:02d}"]})[1]["du_lieu"]
        scores = {e["ma_tinh"]: e["tong_diem"] for e in entries}
        totals += scores.values()
        ranks.append(
            {code: rank for rank, code in enumerate(sorted(scores, key=scores.__getitem__, reverse=True), 1)}
        )
    inside = sum(60 <= t <= 95 for t in totals) / len(totals)
    assert inside > 0.85 and max(totals) <= 100 and min(totals) >= 0
    assert all(before != after for before, after in itertools.pairwise(ranks))
    home = [r["80"] for r in ranks]
    assert 10 <= sum(home) / len(home) <= 25


def test_the_same_seed_and_period_give_the_same_figures(clock) -> None:
    clock.now = MONDAY + timedelta(days=10)
    first = NationalPortal(seed=3, clock=clock).answer({"ky": ["2026-W40"]})
    assert first == NationalPortal(seed=3, clock=clock).answer({"ky": ["2026-W40"]})
    assert first != NationalPortal(seed=4, clock=clock).answer({"ky": ["2026-W40"]})


# ---- the connector's cursor ----------------------------------------------------------------------


def test_the_cursor_pulls_a_newly_published_period_and_never_a_current_one(units, portal, clock) -> None:
    """First run: the history (2 weeks, 1 month) that is published; W48 ended at midnight but is a
    404 until 09:00 and is asked again; the current week (W49) and month are never asked. At
    09:00 the next poll reads W48 (and the latest week and month again, unchanged: no records)."""
    source, url = portal
    reader = connector(units, url, clock, history_weeks=2, history_months=1)
    first = reader.poll(None)
    assert source.asked == ["2026-W47", "2026-W48", "2026-10"]
    assert sorted(set(first.records["period"])) == ["2026-10", "2026-W47"]
    assert first.records.height == 2 * 34 and first.dead_letters == []
    assert json.loads(first.cursor)["week"] == {"ky": "2026-W47", "cong_bo_luc": "2026-11-23T09:00:00+07:00"}

    source.asked.clear()
    again = reader.poll(first.cursor)  # still 08:00: nothing new
    assert again.records.height == 0 and source.asked == ["2026-W47", "2026-W48", "2026-10"]

    clock.now = MONDAY + timedelta(hours=9)
    source.asked.clear()
    published = reader.poll(again.cursor)
    assert source.asked == ["2026-W47", "2026-W48", "2026-10"]
    assert set(published.records["period"]) == {"2026-W48"} and published.records.height == 34
    assert json.loads(published.cursor)["week"]["ky"] == "2026-W48"

    source.asked.clear()
    assert reader.poll(published.cursor).records.height == 0
    assert source.asked == ["2026-W48", "2026-10"]  # only the latest of each kind, read again


def test_a_republished_period_is_read_again_with_its_new_time(units, portal, clock) -> None:
    """The latest week republished (a new cong_bo_luc, a corrected total) is passed on once."""
    source, url = portal
    clock.now = MONDAY + timedelta(hours=10)
    reader = connector(units, url, clock, history_weeks=1, history_months=0)
    first = reader.poll(None)
    assert set(first.records["period"]) == {"2026-W48"}

    def corrected(body: dict[str, Any]) -> dict[str, Any]:
        body["cong_bo_luc"] = "2026-11-30T09:45:00+07:00"
        body["du_lieu"][28]["tong_diem"] = 50.0
        return body

    source.edit["2026-W48"] = corrected
    again = reader.poll(first.cursor)
    assert again.records.height == 34
    assert again.records["published_at"].unique().to_list() == [datetime(2026, 11, 30, 2, 45, tzinfo=UTC)]
    assert reader.poll(again.cursor).records.height == 0


def test_a_publication_dated_ahead_of_our_clock_is_refused_and_asked_again(units, portal, clock) -> None:
    """A cong_bo_luc later than our clock plus the skew: dead letters, and the cursor stays."""
    source, url = portal
    clock.now = MONDAY + timedelta(hours=10)
    source.edit["2026-W48"] = lambda body: body | {"cong_bo_luc": "2026-12-30T09:00:00+07:00"}
    reader = connector(units, url, clock, history_weeks=1, history_months=0)
    batch = reader.poll(None)
    assert batch.records.height == 0 and len(batch.dead_letters) == 34
    assert "cong_bo_luc: 2026-12-30T02:00:00+00:00 is in the future" in batch.dead_letters[0].reason
    assert json.loads(batch.cursor) == {}
    del source.edit["2026-W48"]
    assert reader.poll(batch.cursor).records.height == 34


def test_a_cursor_older_than_the_history_reads_from_the_history(units, portal, clock) -> None:
    source, url = portal
    old = json.dumps({"week": {"ky": "2025-W40", "cong_bo_luc": "2025-10-06T09:00:00+07:00"}})
    connector(units, url, clock, history_weeks=2, history_months=0).poll(old)
    assert source.asked == ["2026-W47", "2026-W48"]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, {"error": "boom"}, "HTTP 500"),
        (200, {"ky": "2026-W47", "cong_bo_luc": "2026-11-23T09:00:00+07:00"}, "no 'du_lieu' list"),
        (
            200,
            {"ky": "2026-W46", "cong_bo_luc": "2026-11-23T09:00:00+07:00", "du_lieu": []},
            "answered the period",
        ),
    ],
)
def test_source_faults_are_source_errors(units, clock, status, body, message) -> None:
    from ioc.connector import SourceError

    class Broken:
        def answer(self, query: dict[str, list[str]]) -> tuple[int, Any]:
            return status, body

    server = SimulatorServer({PATH: Broken()}).start()
    try:
        with pytest.raises(SourceError, match=message):
            connector(units, server.url, clock, history_weeks=1, history_months=0).poll(None)
    finally:
        server.close()


# ---- dead letters ------------------------------------------------------------------------------


FAULTS: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (lambda e: e.pop("ten_tinh"), "ten_tinh: missing"),
    (lambda e: e.update(tong_diem="n/a"), "tong_diem: not a number (n/a)"),
    (lambda e: e.update(tong_diem=101.5), "tong_diem: outside [0, 100] (101.5)"),
    (lambda e: e["chi_so"].update({"7.1": {"ty_le": 0.5, "diem": 1}}), "chi_so: unknown indicator '7.1'"),
    (lambda e: e["nhom"].update({"6": 1.0}), "nhom: unknown group '6' (groups are 1–5)"),
    (lambda e: e["nhom"].pop("4"), "nhom: group 4 missing"),
    (lambda e: e["nhom"].update({"3": 30}), "nhom.3: 30 outside [0, 22]"),
    (lambda e: e["chi_so"]["1.1"].update(ty_le=1.2), "chi_so.1.1.ty_le: 1.2 is not a rate from 0 to 1"),
    (lambda e: e["chi_so"]["2.1"].update(diem=-1), "chi_so.2.1.diem: -1 is not points from 0 to 100"),
    (lambda e: e["chi_so"]["3.1"].pop("diem"), "chi_so.3.1.diem: missing"),
    (lambda e: e.update(ma_tinh="8"), "ma_tinh: not a two-digit province code ('8')"),
    (lambda e: e.update(nhom=[1, 2]), "nhom: not an object ([1, 2])"),
    # no personal data belongs in this feed, and the contract's checks still look for it
    (lambda e: e.update(ten_tinh="0912345678"), "ten_tinh: holds personal data"),
]


def test_malformed_entries_are_dead_letters_naming_the_entry_and_the_field(units, portal, clock) -> None:
    """Each fault makes its entry a dead letter whose reason names the period, the entry and the
    field; the other entries count."""
    source, url = portal
    clock.now = MONDAY + timedelta(hours=10)

    def broken(body: dict[str, Any]) -> dict[str, Any]:
        for (fault, _reason), entry in zip(FAULTS, body["du_lieu"], strict=False):
            fault(entry)
        body["du_lieu"].append("not an entry")
        return body

    source.edit["2026-W48"] = broken
    batch = connector(units, url, clock, history_weeks=1, history_months=0).poll(None)
    assert batch.records.height == 34 - len(FAULTS)
    reasons = [d.reason for d in batch.dead_letters]
    assert len(reasons) == len(FAULTS) + 1
    for i, ((_fault, reason), code) in enumerate(zip(FAULTS, CODES, strict=False)):
        where = f"2026-W48 du_lieu[{i}] (ma_tinh {'8' if 'ma_tinh' in reason else code})"
        assert reasons[i].startswith(where + ": ") and reason in reasons[i], (reason, reasons[i])
    assert reasons[-1] == "2026-W48 du_lieu[34]: record is not a JSON object (got a string)"
    letter = batch.dead_letters[6]  # what was refused is kept, as text, for whoever fixes it
    assert json.loads(letter.record["nhom"])["3"] == 30
    assert "0912345678" not in json.dumps([(d.reason, d.record) for d in batch.dead_letters])


def test_a_publication_time_without_offset_makes_every_entry_a_dead_letter(units, portal, clock) -> None:
    source, url = portal
    clock.now = MONDAY + timedelta(days=4)
    source.edit["2026-11"] = lambda body: body | {"cong_bo_luc": "2026-12-03T09:00:00"}
    batch = connector(units, url, clock, history_weeks=0, history_months=1).poll(None)
    assert batch.records.height == 0 and len(batch.dead_letters) == 34
    assert all(
        "cong_bo_luc: time without offset (2026-12-03T09:00:00)" in d.reason for d in batch.dead_letters
    )


# ---- through the runner and the aggregator ---------------------------------------------------


def test_the_aggregator_publishes_every_period_of_34_provinces_for_the_scorecard(
    r, units, portal, clock
) -> None:
    """``_portal|<period>``: every province's latest figures, groups and totals adding up;
    ``_portal_periods``: the weeks and months held; no KPI document, and the reader helpers."""
    source, url = portal
    clock.now = MONDAY + timedelta(hours=10)
    pipe = FeedPipeline(r, units, connector(units, url, clock, history_weeks=3, history_months=2), clock)
    pipe.sync()
    held = portal_periods(r)
    assert held == {"weeks": ["2026-W46", "2026-W47", "2026-W48"], "months": ["2026-09", "2026-10"]}
    TypeAdapter(PortalPeriods).validate_python(held, strict=True)
    week = portal_period(r, "2026-W48")
    assert week is not None
    TypeAdapter(PortalPeriod).validate_python(week, strict=True)
    assert week["period"] == "2026-W48" and week["published_at"] == "2026-11-30T09:00:00+07:00"
    assert len(week["provinces"]) == 34 and week["provinces"]["80"]["name"] == "Tây Ninh"
    for province in week["provinces"].values():
        assert province["total"] == pytest.approx(sum(province["groups"].values()), abs=0.006)
        for group in GROUPS:
            found = [f["points"] for k, f in province["indicators"].items() if INDICATORS[k].group == group]
            assert province["groups"][group] == pytest.approx(sum(found), abs=0.006)
        for key, figure in province["indicators"].items():
            assert figure["points"] == round(rule_points(INDICATORS[key], figure["rate"]), 2)
    truth = {e["ma_tinh"]: e["tong_diem"] for e in source.portal.figures(parse_period("2026-W48"))}
    assert {code: p["total"] for code, p in week["provinces"].items()} == truth
    fields = {k.decode() for k in r.hkeys(keys.snapshot("national_index"))}
    assert fields == {"_meta", PERIODS_FIELD, *(portal_field(p) for p in [*held["weeks"], *held["months"]])}
    meta = json.loads(r.hget(keys.snapshot("national_index"), "_meta"))
    assert meta["records"] == 5 * 34 and meta["newest_record_at"] == "2026-11-30T09:00:00+07:00"
    assert portal_period(r, "2026-W49") is None


def test_a_republication_wins_in_the_documents(r, units, portal, clock) -> None:
    source, url = portal
    clock.now = MONDAY + timedelta(hours=10)
    pipe = FeedPipeline(r, units, connector(units, url, clock, history_weeks=1, history_months=0), clock)
    pipe.sync()

    def corrected(body: dict[str, Any]) -> dict[str, Any]:
        body["cong_bo_luc"] = "2026-11-30T11:00:00+07:00"
        body["du_lieu"][28]["tong_diem"] = 50.0
        return body

    source.edit["2026-W48"] = corrected
    clock.now = MONDAY + timedelta(hours=11, minutes=5)
    pipe.sync()
    week = portal_period(r, "2026-W48")
    assert week is not None and week["published_at"] == "2026-11-30T11:00:00+07:00"
    assert week["provinces"]["80"]["total"] == 50.0 and len(week["provinces"]) == 34


def test_a_poll_with_nothing_published_is_a_success_so_the_feed_is_not_stale(r, units, portal, clock) -> None:
    """Between publications the polls still succeed: the default stale rule stays quiet, and raises
    when the polls stop succeeding for 15 minutes."""
    _source, url = portal
    runner = ConnectorRunner(
        r, connector(units, url, clock, history_weeks=0, history_months=0), interval_s=1, clock=clock
    )
    runner.run_once()
    health = r.hgetall(keys.connector_health("national_index", "national_index"))
    assert health[b"last_success_at"] == clock.now.isoformat(timespec="seconds").encode()
    rules = {name: rule for name, rule in default_alert_rules().items() if rule.feed == "national_index"}
    assert set(rules) == {"national_index_ngung"}
    alerts = Alerts("national_index", rules, units, ["national_index"])
    assert alerts.evaluate(r, {}, clock.now + timedelta(minutes=10)) == {}
    assert set(alerts.evaluate(r, {}, clock.now + timedelta(minutes=20))) == {"national_index_ngung|72"}


def test_the_kpi_api_says_the_feed_has_no_kpis_and_where_its_figures_are(units) -> None:
    app = Flask(__name__)
    app.register_blueprint(kpi_blueprint(None, units, {}))
    answer = app.test_client().get("/api/v1/kpis?feed=national_index&window=7d")
    assert answer.status_code == 400
    assert answer.json == {"error": "feed national_index has no KPIs; its figures are in /api/v1/index766"}
    unknown = app.test_client().get("/api/v1/kpis?feed=nope&window=7d").json["error"]
    assert "national_index" not in unknown and unknown.endswith("vaccination")
    assert not FEED_SPECS["national_index"].has_kpis and FEED_SPECS["public_services"].has_kpis


def test_a_number_too_large_for_a_float_is_not_a_number():
    """A 401-digit integer in the portal's answer is refused as a figure, never a crash."""
    from ioc.national_index import number

    assert number(10**400) is None and number("9" * 401) is None and number(87.5) == 87.5
