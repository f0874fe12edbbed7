"""The realtime relay (a real websockets server and Redis, in this process), with real websocket clients."""

from __future__ import annotations

import json
import socket
import time
from contextlib import ExitStack
from unittest import mock

import psutil
import pytest
from itsdangerous.timed import TimestampSigner
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.http11 import Response
from websockets.sync.client import connect
from websockets.uri import parse_uri

from ioc import auth, keys
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.web import create_app
from tests.pipeline import Pipeline
from tests.processes import app_settings, logged_in
from tests.relays import receive, relay_in_process
from tests.test_kpis import AS_OF, dossier, load_cases

SECRET = "relay-test-secret"
ALL_FEEDS = {f: [f] for f in ("public_services", "citizen_feedback", "mobile_data", "vaccination")}
HELLO = {"type": "subscribe", "feeds": ["public_services"], "units": ["72", "703"], "series": ["72"]}


@pytest.fixture
def relay(r, redis_server, units):
    """The relay in this process on port 0 (a process of its own costs seconds of imports; it runs
    as one in tests/test_scale.py and tests/test_live.py): tokens live 2 s, small buffers."""
    with relay_in_process(
        redis_server.url,
        SECRET,
        set(units.codes),
        feeds=ALL_FEEDS,
        token_ttl_s=2,
        health_interval_s=0.2,
        max_buffer_bytes=10000,
    ) as url:
        yield url


def minted_ago(seconds: float) -> str:
    """A token signed ``seconds`` ago (itsdangerous dates a token by its signer's clock)."""
    with mock.patch.object(TimestampSigner, "get_timestamp", lambda _self: int(time.time() - seconds)):
        return auth.mint(SECRET)


@pytest.fixture
def source(r, units):
    listing = RecordListing("ma_ho_so")
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    pipe = Pipeline(r, units, server.url, lambda: AS_OF, page_size=50)
    load_cases(listing, pipe)
    yield listing, pipe
    pipe.close()
    server.close()


@pytest.mark.parametrize(
    "token",
    [None, "forged.token.value", pytest.param(auth.mint("another-secret"), id="signed-with-another-key")],
)
def test_refuses_upgrade_without_a_valid_token(relay, token) -> None:
    """No token, a forged one, or one signed with another key: HTTP 401, no websocket."""
    url = relay if token is None else f"{relay}?token={token}"
    with pytest.raises(InvalidStatus) as info:
        connect(url, open_timeout=5)
    assert info.value.response.status_code == 401


def test_refuses_expired_token(relay) -> None:
    """A token signed before the relay's token_ttl_s (2 s here) is refused, and says why."""
    token = minted_ago(3.2)
    with pytest.raises(InvalidStatus) as info:
        connect(f"{relay}?token={token}", open_timeout=5)
    assert info.value.response.status_code == 401
    assert b"expired" in info.value.response.body


def test_snapshot_on_connect_then_only_the_changed_subscribed_documents(relay, source) -> None:
    """A screen gets its units' documents, then deltas with what changed for those units only."""
    listing, pipe = source
    with connect(f"{relay}?token={auth.mint(SECRET)}") as ws:
        ws.send(json.dumps(HELLO))
        snap = receive(ws, "snapshot")
        feed = snap["feeds"]["public_services"]
        assert sorted(feed["kpis"]) == sorted(
            f"{u}|{w}" for u in ("72", "703") for w in ("today", "7d", "30d", "mtd", "ytd")
        )
        assert feed["kpis"]["72|7d"]["received"] == {"value": 6}
        assert list(feed["series"]) == ["72"] and feed["meta"]["as_of"] == "2026-11-22T10:00:00+07:00"
        listing.put(dossier("N", "25456", "22T09:00:00", "25T09:00:00", "tiep_nhan", "22T09:50:00"))
        pipe.sync()
        delta = receive(ws, "delta")
        while not delta["kpis"]:
            delta = receive(ws, "delta")
        assert delta["kpis"]["72|7d"]["received"] == {"value": 7}
        assert delta["kpis"]["703|today"]["received"] == {"value": 1}
        assert {k.split("|")[0] for k in delta["kpis"]} == {"72", "703"}  # not commune 25456
        assert set(delta["series"]) == {"72"}
        tail = delta["series"]["72"]
        assert tail["received"][tail["t"].index("2026-11-22T09:00:00+07:00")] == 1


def test_bad_subscription_is_closed_with_the_reason(relay) -> None:
    with connect(f"{relay}?token={auth.mint(SECRET)}") as ws:
        ws.send(json.dumps({"type": "subscribe", "feeds": ["public_services"], "units": ["99999"]}))
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd.code == 1008 and "unknown units" in info.value.rcvd.reason


def test_a_screen_subscribes_only_within_its_tokens_scope(relay) -> None:
    """A duty officer's token lists the units they may see: a commune of another district closes
    the socket with the reason; their own are served."""
    token = auth.mint(SECRET, units=["72", "703", "705", "25456"])
    with connect(f"{relay}?token={token}") as ws:
        ws.send(json.dumps({"type": "subscribe", "feeds": ["public_services"], "units": ["72", "25516"]}))
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd.code == 1008 and "outside this screen's scope: ['25516']" in info.value.rcvd.reason
    with connect(f"{relay}?token={token}") as ws:
        ws.send(json.dumps({"type": "subscribe", "feeds": ["public_services"], "units": ["72", "25456"]}))
        assert receive(ws, "snapshot")["type"] == "snapshot"


def test_an_embed_screen_gets_notices_and_never_figures(relay, source) -> None:
    """A public screen (an embed's token) is told that its feed has new figures, with their time,
    and nothing else: no KPI, series, alert or connector error goes to the public."""
    listing, pipe = source
    token = auth.mint(SECRET, "embed", feeds=["public_services"], ttl_s=60)
    with connect(f"{relay}?token={token}") as ws:
        ws.send(json.dumps({"type": "subscribe", "feeds": ["vaccination"]}))
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=5)
    assert "feeds outside this embed's token" in info.value.rcvd.reason
    with connect(f"{relay}?token={token}") as ws:
        ws.send(
            json.dumps({"type": "subscribe", "feeds": ["public_services"], "units": ["72"], "series": ["72"]})
        )
        first = json.loads(ws.recv(timeout=10))
        assert first == {
            "type": "changed",
            "server_time": first["server_time"],
            "feeds": {"public_services": {"as_of": "2026-11-22T10:00:00+07:00"}},
        }
        listing.put(dossier("N", "25456", "22T09:00:00", "25T09:00:00", "tiep_nhan", "22T09:50:00"))
        pipe.sync()
        notice = json.loads(ws.recv(timeout=10))
        assert set(notice) == {"type", "feed", "as_of", "server_time"} and notice["type"] == "changed"


def test_health_is_pushed(relay, source) -> None:
    """Screens receive each feed's last successful poll (what freshness badges are computed from)."""
    with connect(f"{relay}?token={auth.mint(SECRET)}") as ws:
        ws.send(json.dumps(HELLO))
        snap = receive(ws, "snapshot")
        health = snap["health"] or receive(ws, "health")["feeds"]
        assert health["public_services"]["last_success_at"] is not None


def stalled_screen(relay_url: str, token: str, hello: dict) -> socket.socket:
    """A screen that opens its websocket, subscribes, and then never reads again."""
    protocol = ClientProtocol(parse_uri(f"{relay_url}?token={token}"))
    port = int(relay_url.rsplit(":", 1)[1].strip("/"))
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    protocol.send_request(protocol.connect())
    sock.sendall(b"".join(protocol.data_to_send()))
    while protocol.handshake_exc is None and not any(
        isinstance(e, Response) for e in protocol.events_received()
    ):
        protocol.receive_data(sock.recv(65536))
    protocol.send_text(json.dumps(hello).encode())
    sock.sendall(b"".join(protocol.data_to_send()))
    return sock


def test_a_screen_that_stops_reading_is_cut_off_and_slows_no_one(r, relay, units) -> None:
    """One screen never reads; the other gets every delta at once, and the stalled one is cut off."""
    everything = {"type": "subscribe", "feeds": ["public_services"], "units": units.codes, "series": []}
    docs = {
        f"{u}|{w}": {"received": {"value": 1}}
        for u in units.codes
        for w in ("today", "7d", "30d", "mtd", "ytd")
    }
    token = auth.mint(SECRET)
    stalled = stalled_screen(relay, token, everything)
    with connect(f"{relay}?token={token}") as fast:
        fast.send(json.dumps(everything))
        receive(fast, "snapshot")
        started = time.monotonic()
        for n in range(600):  # about 9 MB: more than the kernel buffers between them hold
            body = {"feed": "public_services", "meta": {"as_of": str(n)}, "kpis": docs, "series": {}}
            r.xadd(keys.deltas("public_services"), {"d": json.dumps(body)})
        got = 0
        while got < 600:
            if receive(fast, "delta", timeout=20)["kpis"]:
                got += 1
        assert time.monotonic() - started < 15
    mine = stalled.getsockname()[1]
    held = [
        c
        for c in psutil.net_connections("tcp")
        if c.raddr and c.raddr.port == mine and c.status == psutil.CONN_ESTABLISHED and c.pid is not None
    ]
    assert held == []  # the relay closed its end: it is not waiting on this screen any more
    stalled.close()


def an_alert(unit: str, rule: str = "dung_han_duoi_90") -> dict:
    return {
        "id": f"{rule}|{unit}",
        "rule": rule,
        "feed": "public_services",
        "unit": unit,
        "unit_name": unit,
        "kind": "kpi",
        "kpi": "on_time_rate",
        "window": "7d",
        "comparison": "below",
        "value": 0.5,
        "threshold": 0.9,
        "since": "2026-11-22T03:00:00+00:00",
    }


def test_an_officers_socket_gets_only_the_alerts_of_its_units(r, redis_server, units) -> None:
    """A duty officer of 705, with the token the web app gives their page, gets the alerts (and
    their values) of 705, its communes and the province only, in the snapshot and in deltas;
    another district's and its communes' never reach the socket. A leader's gets every one."""
    r.hset(
        keys.alerts("public_services"),
        mapping={a["id"]: json.dumps(a) for a in (an_alert("705"), an_alert("706"), an_alert("72", "ngung"))},
    )
    app = create_app(app_settings(redis_server), r)
    room = {
        "type": "subscribe",
        "feeds": ["public_services"],
        "units": ["72", *units.level_codes("district")],
    }
    with relay_in_process(redis_server.url, "test-secret", set(units.codes)) as url, ExitStack() as stack:
        screens = {}
        for login in ("truc-705", "lanhdao"):
            token = logged_in(app, login).get("/realtime/token").get_json()["token"]
            screens[login] = stack.enter_context(connect(f"{url}?token={token}"))
            screens[login].send(json.dumps(room))
        shown = {
            login: {a["id"] for a in receive(ws, "snapshot")["feeds"]["public_services"]["alerts"]}
            for login, ws in screens.items()
        }
        assert shown["truc-705"] == {"dung_han_duoi_90|705", "ngung|72"}
        assert shown["lanhdao"] == {"dung_han_duoi_90|705", "dung_han_duoi_90|706", "ngung|72"}
        commune_of_705, commune_of_706 = units.children("705")[0], units.children("706")[0]
        now = [an_alert(u, "thap") for u in ("705", "706", commune_of_705, commune_of_706)]
        delta = {"feed": "public_services", "meta": None, "kpis": {}, "series": {}, "alerts": now}
        r.xadd(keys.deltas("public_services"), {"d": json.dumps(delta)})
        got = {login: receive(ws, "delta")["alerts"] for login, ws in screens.items()}
        assert {a["unit"] for a in got["truc-705"]} == {"705", commune_of_705}
        assert {a["unit"] for a in got["lanhdao"]} == {"705", "706", commune_of_705, commune_of_706}
