"""Sessions end when they are ended: a logout or a removed account takes the cookie and the
screen's relay socket with it (the real web app, a real relay, a real Redis)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ioc import audit, auth, cli, keys, sessions
from ioc.config import load_settings
from ioc.realtime import SESSION_ENDED
from tests.processes import logged_in
from tests.relays import receive, relay_in_process

SECRET = "test-secret"  # app_settings'
CHECK_S = 0.2  # the relay's session_check_s here
HELLO = {"type": "subscribe", "feeds": ["public_services"], "units": ["72"], "series": []}


@pytest.fixture
def app(own_app):
    return own_app


@pytest.fixture
def relay(r, redis_server, units):
    with relay_in_process(redis_server.url, SECRET, set(units.codes), session_check_s=CHECK_S) as url:
        yield url


@pytest.fixture
def sockets() -> Iterator[ExitStack]:
    """Every socket a test opens is closed at its end."""
    with ExitStack() as stack:
        yield stack


def closed_with(ws, within_s: float) -> tuple[int, str]:
    """The close code and reason the relay sends, awaited at most ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    try:
        while True:  # deltas and health may come first
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except TimeoutError:
        raise AssertionError(f"the socket was still open after {within_s} s") from None
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "closed without a close frame"
        return exc.rcvd.code, exc.rcvd.reason


def screen(app, relay: str, login: str, sockets: ExitStack):
    """``login``'s browser (a logged-in client) and its page's relay socket, past its snapshot."""
    client = logged_in(app, login)
    token = client.get("/realtime/token").get_json()["token"]
    ws = sockets.enter_context(connect(f"{relay}?token={token}"))
    ws.send(json.dumps(HELLO))
    receive(ws, "snapshot")
    return client, token, ws


def with_cookie(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    other = app.server.test_client()
    other.set_cookie("ioc_session", client.get_cookie("ioc_session").value)
    return other


def test_logout_ends_the_cookie_and_closes_the_relay_socket(app, relay, sockets) -> None:
    """After a logout the old cookie gets the login page (and 401 from the API), the page's relay
    socket is closed with 4401 within two checks, and its token no longer opens one; the same
    account's other session (another screen) goes on."""
    client, token, ws = screen(app, relay, "truc-705", sockets)
    _other_client, _other_token, other_ws = screen(app, relay, "truc-705", sockets)
    copied = with_cookie(app, client)
    assert copied.get("/api/v1/alerts").status_code == 200
    started = time.monotonic()
    assert client.get("/logout").status_code == 302
    code, reason = closed_with(ws, within_s=5)
    assert code == SESSION_ENDED and "session ended: logged out" in reason
    assert time.monotonic() - started < 2 * CHECK_S + 2  # two checks, and a loaded machine's slack
    assert copied.get("/api/v1/alerts").status_code == 401
    assert copied.get("/").headers["Location"].startswith("/login")
    with pytest.raises(InvalidStatus) as info:
        connect(f"{relay}?token={token}", open_timeout=5)
    assert info.value.response.status_code == 401 and b"session ended" in info.value.response.body
    assert other_ws.ping().wait(5)  # still open, still answered: another session of the same account


def test_removing_an_account_through_the_cli_ends_its_sessions(
    app, relay, sockets, users_copy, r, redis_server, monkeypatch, capsys
) -> None:
    """`ioc user remove` takes the account out of the file and ends every session of it at once:
    each cookie gets the login page, each relay socket is closed, and the removal is audited."""
    browsers = [screen(app, relay, "truc-706", sockets) for _ in range(2)]
    monkeypatch.setenv("IOC_REDIS__URL", redis_server.url)
    monkeypatch.delenv("IOC_CONFIG", raising=False)
    args = cli.parser().parse_args(["user", "remove", "truc-706", "--file", str(users_copy)])
    assert args.func(load_settings(), args) == 0
    assert "2 session(s) ended" in capsys.readouterr().out
    for client, _token, ws in browsers:
        assert closed_with(ws, within_s=5)[0] == SESSION_ENDED
        assert client.get("/").headers["Location"].startswith("/login")
    assert "truc-706" not in users_copy.read_text(encoding="utf-8")
    entry = audit.read(r, 10, "account_removed")[0]
    assert entry["account"] == "truc-706" and entry["sessions"] == "2"
    assert not r.exists(keys.sessions("truc-706"))


def test_a_cookie_without_a_session_record_is_not_a_login(app, r) -> None:
    """A signed cookie alone is not enough: once its record is gone from Redis (flushed, or from
    before sessions were recorded), the person logs in again."""
    client = logged_in(app, "lanhdao")
    assert client.get("/api/v1/alerts").status_code == 200
    assert sessions.end_all(r, "lanhdao") == 1
    assert client.get("/api/v1/alerts").status_code == 401


def test_the_relay_closes_a_single_sign_on_screen_due_for_its_recheck(r, relay, sockets) -> None:
    """A single sign-on session past its re-check time has not been re-read from the provider:
    the relay closes its screen (4401), and the page's reconnect, which asks the web app for a
    fresh token, is what makes the web app re-read the role."""
    sid = sessions.start(r, "sso.person", lasting_s=3600, via="oidc", recheck_s=1.0)
    ws = sockets.enter_context(connect(f"{relay}?token={auth.mint(SECRET, login='sso.person', sid=sid)}"))
    ws.send(json.dumps(HELLO))
    receive(ws, "snapshot")
    code, reason = closed_with(ws, within_s=5)
    assert code == SESSION_ENDED and "re-checked" in reason
