"""The types of ``ioc.documents`` are what is really written and sent: every feed runs for real
(served sources, connectors, Redis, aggregators with alert rules), an alert is acknowledged, a room
and a public screen listen to a real relay and a leader reads the API, and each document is
validated against its TypedDict by pydantic, strictly and with no key the type does not name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import pytest
import redis
from pydantic import TypeAdapter
from websockets.sync.client import connect

from connectors.citizen_feedback import CitizenFeedbackConfig, CitizenFeedbackConnector
from connectors.drop_folder import MobileDataConfig, MobileDataConnector
from connectors.vaccination import VaccinationConfig, VaccinationConnector
from ioc import alert_store, auth, documents, keys
from ioc.alerts import Alerts
from ioc.config import AlertRule
from ioc.connector import Context
from ioc.documents import (
    Alert,
    AlertAck,
    AlertLogEvent,
    CasesAnswer,
    ConnectorHealthHash,
    DeltaDocument,
    DeltaMessage,
    DossierCase,
    HealthMessage,
    KpiAnswer,
    KpiDocument,
    KpiEntries,
    MapPoint,
    Notice,
    NoticeSnapshot,
    ReportCase,
    SaidAlert,
    SeriesDocument,
    SeriesTail,
    SnapshotMessage,
    SnapshotMeta,
    VaccinationKpis,
    has_parts,
    series_values,
)
from ioc.feeds import FEED_SPECS
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.snapshots import SnapshotReader
from ioc.web import create_app
from tests.pipeline import FeedPipeline, Pipeline
from tests.processes import app_settings, logged_in
from tests.relays import receive, relay_in_process
from tests.test_citizen_feedback import REPORTS
from tests.test_kpis import AS_OF, dossier, load_cases
from tests.test_mobile_data import FIRST, drop
from tests.test_vaccination import DOSES, KEY

pytestmark = pytest.mark.xdist_group("documents")  # one worker: the run below is made once

FEEDS = ("public_services", "citizen_feedback", "mobile_data", "vaccination")
SECRET = "documents-test-secret"
RULES = {
    "dung_han": AlertRule(  # Tân Biên (705) and Tây Ninh city (703) are below 90% on time
        feed="public_services", kpi="on_time_rate", window="7d", below=0.9, title="đúng hạn 7 ngày"
    ),
    "khan": AlertRule(  # an urgent report overdue in Tây Ninh city (703)
        feed="citizen_feedback", kind="cases", above=0, where={"severity": "khan"}, title="khẩn quá hạn"
    ),
    "ngung": AlertRule(feed="mobile_data", kind="stale", minutes=15, title="ngừng cập nhật"),
}


@cache
def adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def valid(kind: Any, document: Any, *, extra: str = "forbid") -> None:
    """``document`` is a ``kind``: every key of the right type, no key the type does not name."""
    adapter(kind).validate_python(document, strict=True, extra=extra)


def without_measures(series: dict[str, Any]) -> dict[str, Any]:
    """Series documents or tails by unit, each without its measures (``valid_series`` checks them)."""
    return {u: {k: v for k, v in doc.items() if k not in series_values(doc)} for u, doc in series.items()}


def valid_series(doc: Any, measures: set[str], *, head: type) -> None:
    """A series document or tail: ``head``'s keys, then one list of numbers per measure, nothing else."""
    valid(head, doc, extra="ignore")
    valid(dict[str, list[float]], series_values(doc))
    assert set(doc) == head.__required_keys__ | head.__optional_keys__ | measures


def valid_delta(kind: Any, delta: dict[str, Any]) -> None:
    """A delta, or a room's delta message: its series tails checked apart."""
    valid(kind, delta | {"series": without_measures(delta["series"])})
    for tail in delta["series"].values():
        valid_series(tail, set(FEED_SPECS[delta["feed"]].measures), head=SeriesTail)


def valid_snapshot(message: dict[str, Any]) -> None:
    """A room's snapshot message: its series documents checked apart."""
    feeds = {f: sent | {"series": without_measures(sent["series"])} for f, sent in message["feeds"].items()}
    valid(SnapshotMessage, message | {"feeds": feeds})
    for feed, sent in message["feeds"].items():
        for doc in sent["series"].values():
            valid_series(doc, set(FEED_SPECS[feed].measures), head=SeriesDocument)


@dataclass
class Written:
    client: redis.Redis
    dossiers: RecordListing
    pipe: Pipeline
    acked: Alert


@pytest.fixture(scope="module")
def written(redis_server, units, geodata, tmp_path_factory) -> Iterator[Written]:
    """Every feed through its connector and aggregator into one Redis, each with an alert rule it
    breaks; one alert acknowledged."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    http = httpx.Client()
    servers = [
        SimulatorServer({"/api/v1/hoso": (dossiers := RecordListing("ma_ho_so"))}).start(),
        SimulatorServer({"/api/v1/phan-anh": RecordListing("ma_phan_anh", REPORTS)}).start(),
        SimulatorServer({"/api/v1/mui-tiem": RecordListing("ma_mui_tiem", DOSES)}).start(),
    ]
    folder = tmp_path_factory.mktemp("drop")
    drop(folder, "viettel_202611220800.csv", FIRST)
    context = Context(units=units, http=http, clock=lambda: AS_OF, geodata=geodata)
    vaccination = Context(units=units, http=http, clock=lambda: AS_OF, secrets={"IOC_PSEUDONYM_KEY": KEY})
    pipe = Pipeline(client, units, servers[0].url, lambda: AS_OF, page_size=3)
    others = [
        FeedPipeline(
            client,
            units,
            CitizenFeedbackConnector(CitizenFeedbackConfig(url=servers[1].url), context=context),
            lambda: AS_OF,
        ),
        FeedPipeline(
            client,
            units,
            MobileDataConnector(MobileDataConfig(drop_dir=folder), context=context),
            lambda: AS_OF,
        ),
        FeedPipeline(
            client,
            units,
            VaccinationConnector(VaccinationConfig(url=servers[2].url), context=vaccination),
            lambda: AS_OF,
        ),
    ]
    for run in (pipe, *others):
        rules = {n: rule for n, rule in RULES.items() if rule.feed == run.feed}
        connectors = ["nowhere"] if run.feed == "mobile_data" else [run.feed]  # never polled: stale
        run.aggregator.alerts = Alerts(run.feed, rules, units, connectors=connectors) if rules else None
    load_cases(dossiers, pipe)
    for run in others:
        run.sync()
    acked = alert_store.acknowledge(client, "public_services", "dung_han|705", "Nguyễn Trực Ban", AS_OF)
    yield Written(client, dossiers, pipe, acked)
    pipe.close()
    http.close()
    for server in servers:
        server.close()
    client.close()


def texts(mapping: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in mapping.items()}


def test_kpi_documents_and_the_meta_are_their_types(written) -> None:
    """Every ``<unit>|<window>`` field of every feed's snapshot is a KpiDocument (vaccination's
    KPIs with their vaccines, the others' entries only), and ``_meta`` a SnapshotMeta."""
    seen: set[str] = set()
    for feed in FEEDS:
        snapshot = texts(written.client.hgetall(keys.snapshot(feed)))
        valid(SnapshotMeta, json.loads(snapshot.pop(keys.META_FIELD)))
        for field, text in snapshot.items():
            if field.startswith("_"):
                continue
            doc = json.loads(text)
            valid(KpiDocument, doc)
            valid(VaccinationKpis if feed == "vaccination" else KpiEntries, doc["kpis"])
            assert has_parts(doc["kpis"]) == (feed == "vaccination")
            seen |= {f"{feed}.{name}" for name, entry in doc["kpis"].items() if entry.get("value")}
            seen |= {f"{feed}.by_vaccine.{v}" for v in doc["kpis"].get("by_vaccine", {})}
    # not vacuous: a count, a rate, hotspots, a dose breakdown and each vaccine's KPIs were there
    assert {
        "public_services.received",
        "public_services.on_time_rate",
        "citizen_feedback.hotspots",
        "mobile_data.traffic_gb",
        "vaccination.doses_by_dose_number",
        "vaccination.by_vaccine.DPT-VGB-Hib",
    } <= seen


def test_case_lists_and_map_points_are_their_types(written, units) -> None:
    reports = texts(written.client.hgetall(keys.snapshot("citizen_feedback")))
    reader = SnapshotReader(written.client)
    lists = {
        kind: [reader.cases(feed, unit) for unit in [units.province, *units.level_codes("district")]]
        for kind, feed in ((DossierCase, "public_services"), (ReportCase, "citizen_feedback"))
    }
    for kind, found in lists.items():
        assert any(found), f"no {kind.__name__} written"
        for cases in found:
            valid(list[kind], cases)
    points = json.loads(reports["_points"])
    assert points
    valid(list[MapPoint], points)


def test_series_are_start_and_step_then_one_list_per_measure(written) -> None:
    for feed in FEEDS:
        hourly = texts(written.client.hgetall(keys.series(feed)))
        assert hourly
        for doc in map(json.loads, hourly.values()):
            valid_series(doc, set(FEED_SPECS[feed].measures), head=SeriesDocument)


def test_deltas_are_their_type(written) -> None:
    """Every delta of every feed, its series tails, and the acknowledgement's (meta None, alerts)."""
    alerts = 0
    for feed in FEEDS:
        for _id, fields in written.client.xrange(keys.deltas(feed)):
            delta = json.loads(fields[b"d"])
            valid_delta(DeltaDocument, delta)
            alerts += len(delta.get("alerts", []))
    assert alerts


def test_alerts_acknowledgements_and_log_events_are_their_types(written) -> None:
    client = written.client
    kinds = set()
    for feed in FEEDS:
        for alert in alert_store.read_active(client, feed).values():
            valid(Alert, alert)
            kinds.add(alert["kind"])
        for text in texts(client.hgetall(keys.alert_acks(feed))).values():
            valid(AlertAck, json.loads(text))
        for _id, fields in client.xrange(keys.alert_log(feed)):
            valid(AlertLogEvent, texts(fields))
    assert kinds == {"kpi", "cases", "stale"}
    valid(Alert, written.acked)
    assert written.acked["acked_by"] == "Nguyễn Trực Ban"


def test_connector_health_hashes_are_their_type(written) -> None:
    for feed in FEEDS:
        (key,) = written.client.keys(keys.connector_health(feed, "*"))
        health = documents.health_hash(written.client.hgetall(key))
        valid(ConnectorHealthHash, health)
        assert "last_success_at" in health


def test_the_relays_messages_are_their_types(written, redis_server, units) -> None:
    """A room's snapshot, health and deltas, and a public screen's notices, as sent on the socket."""
    room = {"type": "subscribe", "feeds": list(FEEDS), "units": ["72", "703", "705"], "series": ["72", "705"]}
    public = {"type": "subscribe", "feeds": ["public_services"]}
    feeds = {f: [f] for f in FEEDS}
    with (
        relay_in_process(
            redis_server.url, SECRET, set(units.codes), feeds=feeds, health_interval_s=0.1
        ) as url,
        connect(f"{url}?token={auth.mint(SECRET)}") as ws,
        connect(f"{url}?token={auth.mint(SECRET, 'embed', feeds=['public_services'], ttl_s=60)}") as notices,
    ):
        ws.send(json.dumps(room))
        notices.send(json.dumps(public))
        snapshot = receive(ws, "snapshot")
        valid_snapshot(snapshot)
        assert all(snapshot["feeds"][f]["kpis"] and snapshot["feeds"][f]["series"] for f in FEEDS)
        valid(NoticeSnapshot, receive(notices, "changed"))
        (health,) = written.client.keys(keys.connector_health("public_services", "*"))
        written.client.hset(health, mapping={"last_error_at": AS_OF.isoformat(), "last_error": "HTTP 503"})
        valid(HealthMessage, receive(ws, "health"))
        written.dossiers.put(dossier("N", "705", "22T09:00:00", "25T09:00:00", "tiep_nhan", "22T09:58:00"))
        written.pipe.sync()  # new KPIs and series
        delta = receive(ws, "delta")
        while not delta["kpis"]:
            delta = receive(ws, "delta")
        assert delta["series"]
        valid_delta(DeltaMessage, delta)
        valid(Notice, receive(notices, "changed"))
        acked = alert_store.acknowledge(written.client, "public_services", "dung_han|703", "Trực ban", AS_OF)
        while delta["meta"] is not None:  # the deltas of the commits before, then the acknowledgement's
            delta = receive(ws, "delta")
        valid_delta(DeltaMessage, delta)
        assert acked in delta["alerts"]


def test_the_apis_answers_are_their_types(written, redis_server) -> None:
    api = logged_in(create_app(app_settings(redis_server, alerts=RULES), written.client), "lanhdao")
    for query in (
        "feed=public_services&unit=705&window=7d",
        "feed=vaccination&unit=72&window=ytd",
        "feed=vaccination&unit=72&window=ytd&vaccine=DPT-VGB-Hib",
    ):
        valid(KpiAnswer, api.get(f"/api/v1/kpis?{query}").get_json())
    for feed in ("public_services", "citizen_feedback"):
        answer = api.get(f"/api/v1/cases?feed={feed}&unit=72").get_json()
        assert answer["count"]
        valid(CasesAnswer, answer)
    listed = api.get("/api/v1/alerts").get_json()
    assert listed["alerts"]
    valid(dict[str, list[SaidAlert]], listed)
