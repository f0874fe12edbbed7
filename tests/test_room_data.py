"""The rooms read each feed once per render and callback, then build from what they read: Redis
commands counted on the wire, and builders run on figures made by hand without any Redis."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
import redis
from dash import page_registry

from ioc import keys
from ioc.config_scorecard import default_targets
from ioc.feeds import FEED_SPECS, POINTS_FIELD
from ioc.targets import Goals
from ioc.web import create_app
from layouts.communes import ranked_communes
from layouts.room_data import RoomData
from tests.processes import acting_as, app_settings, logged_in
from tests.test_access import district_callback, room_callback
from tests.worklists import put_lists

FEEDS = ("public_services", "citizen_feedback")
SENT: list[tuple[str, ...]] = []  # every command the recording client sent, in order


class Recording(redis.Connection):
    """A connection that notes each command it sends, alone or in a pipeline."""

    def send_command(self, *args: object, **kwargs: object) -> None:
        SENT.append(tuple(str(a) for a in args))
        super().send_command(*args, **kwargs)

    def pack_commands(self, commands):  # type: ignore[no-untyped-def]
        commands = list(commands)
        SENT.extend(tuple(str(a) for a in args) for args in commands)
        return super().pack_commands(commands)


def snapshot_reads() -> Counter[tuple[str, str]]:
    """(command, key) of the commands sent since the last clear that touch a feed's snapshot or
    series."""
    watched = {keys.snapshot(f) for f in FEEDS} | {keys.series(f) for f in FEEDS}
    return Counter((args[0].upper(), args[1]) for args in SENT if len(args) > 1 and args[1] in watched)


@pytest.fixture
def app(redis_server, units) -> Iterator:
    """The app on a recording client, both feeds' snapshots filled for every unit and window."""
    pool = redis.ConnectionPool.from_url(redis_server.url, connection_class=Recording)
    client = redis.Redis(connection_pool=pool)
    client.flushdb()
    doc = {"kpis": {"on_time_rate": {"value": 0.9}, "overdue_open": {"value": 3}, "overdue": {"value": 2}}}
    hourly = {"start": "2026-11-15T10:00:00+07:00", "step_s": 3600}
    for feed in FEEDS:
        mapping = {keys.META_FIELD: json.dumps({"as_of": "2026-11-22T10:00:00+07:00"})}
        mapping |= {keys.snapshot_field(u, w): json.dumps(doc) for u in units.codes for w in ("today", "7d")}
        mapping |= {POINTS_FIELD: "[]"}
        client.hset(keys.snapshot(feed), mapping=mapping)
        put_lists(client, feed, {"706": [], "703": []})
        measures = dict.fromkeys(FEED_SPECS[feed].measures, [1] * 168)
        client.hset(keys.series(feed), mapping={u: json.dumps(hourly | measures) for u in units.codes})
    settings = app_settings(redis_server, connectors={f: {"url": "http://127.0.0.1:9"} for f in FEEDS})
    yield create_app(settings, client)
    client.close()


def rendered(app, page: str, **query: str) -> Counter[tuple[str, str]]:
    with acting_as(app, "lanhdao"):
        SENT.clear()
        page_registry[page]["layout"](**query)
    return snapshot_reads()


@pytest.mark.parametrize("feed", FEEDS)
def test_a_provincial_page_reads_its_feed_once(app, feed) -> None:
    """Tiles, map (with the open reports), ranking and series: one HMGET of the snapshot and one
    of the series, in one transaction (it read the same document 11 times and more before)."""
    assert rendered(app, "province", feed=feed) == {
        ("HMGET", keys.snapshot(feed)): 1,
        ("HMGET", keys.series(feed)): 1,
    }
    first = next(i for i, args in enumerate(SENT) if args[0] == "HMGET")
    assert [args[0] for args in SENT[first - 1 : first + 3]] == ["MULTI", "HMGET", "HMGET", "EXEC"]


def test_a_district_page_reads_each_feed_it_shows_once(app) -> None:
    """The shown feed's snapshot (tiles, map, communes, its work list) and its communes' series
    once, and the other work list's feed once."""
    assert rendered(app, "district", code="706", feed="citizen_feedback") == {
        ("HMGET", keys.snapshot("citizen_feedback")): 1,
        ("HMGET", keys.series("citizen_feedback")): 1,
        ("HMGET", keys.snapshot("public_services")): 1,
    }


def test_a_commune_page_reads_each_feed_it_shows_once(app) -> None:
    """The shown feed's snapshot (tiles, map, its district's work list) and the commune's series
    once, and the other work list's feed once; its callback the same."""
    expected = {
        ("HMGET", keys.snapshot("citizen_feedback")): 1,
        ("HMGET", keys.series("citizen_feedback")): 1,
        ("HMGET", keys.snapshot("public_services")): 1,
    }
    assert rendered(app, "commune", code="25516", feed="citizen_feedback") == expected
    client = logged_in(app, "lanhdao")
    SENT.clear()
    assert room_callback(client, "25516", "commune").status_code == 200
    assert snapshot_reads() == {
        ("HMGET", keys.snapshot("public_services")): 1,
        ("HMGET", keys.series("public_services")): 1,
        ("HMGET", keys.snapshot("citizen_feedback")): 1,
    }


def test_the_commune_ranking_reads_no_more_for_more_communes(app, units) -> None:
    """Tân Châu (12 communes) and Tây Ninh (10) cost the same reads, on the page and in its
    callback: nothing per row."""
    assert len(units.children("706")) != len(units.children("703"))
    assert rendered(app, "district", code="706") == rendered(app, "district", code="703")
    client = logged_in(app, "lanhdao")
    counts = []
    for code in ("706", "703"):
        SENT.clear()
        assert district_callback(client, code).status_code == 200
        counts.append(snapshot_reads())
    assert (
        counts[0]
        == counts[1]
        == {
            ("HMGET", keys.snapshot("public_services")): 1,
            ("HMGET", keys.series("public_services")): 1,
            ("HMGET", keys.snapshot("citizen_feedback")): 1,
        }
    )


def test_the_commune_ranking_is_built_from_figures_alone(units) -> None:
    """No Redis: communes ranked best first on the on-time rate, its target, the day's trend."""
    spec = FEED_SPECS["public_services"]
    communes = units.children("706")
    rates = {c: 0.5 + i / 100 for i, c in enumerate(communes)}
    day = {"start": "2026-11-20T10:00:00+07:00", "step_s": 3600, "received": [1] * 24 + [2] * 24}
    data = RoomData(
        feed=spec.name,
        meta=None,
        docs={(c, "7d"): {"on_time_rate": {"value": v}} for c, v in rates.items()},
        series={c: day for c in communes},
        extras={},
    )
    kpi = spec.kpis[2]
    assert kpi.name == "on_time_rate"
    table = ranked_communes(
        data, units, spec, "706", kpi, "7d", "", "best", goals=Goals(default_targets(), units)
    )
    rows = table.children[1].children
    assert [getattr(r, "data-code") for r in rows] == sorted(communes, key=rates.get, reverse=True)
    first = [td.children for td in rows[0].children]
    assert first[2:5] == ["61,0%", "≥\u00a095%", "48 ▲ 100%"]
