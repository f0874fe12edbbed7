"""The web app against anonymous abuse: password guessing throttled per address and per account
(before any hash), failures audited apart without what was typed, the login form's CSRF token,
bounded request bodies, the security headers, and the client's address behind trusted proxies."""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from collections.abc import Iterator

import pytest
import redis

import ioc.access
from ioc import keys
from ioc.throttle import network
from ioc.web import create_app
from tests.processes import PASSWORD, app_settings, logged_in, login_form
from tests.test_kpis import counted_cases

T0 = 1_800_000_000.0  # a whole number of 5- and 15-minute windows since the epoch
TYPED = "mat-khau-go-nham-o-o-ten"  # a password typed into the login field by mistake
TOO_MANY = "Quá nhiều lần đăng nhập sai"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def app(redis_server, units):
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    with counted_cases(client, units):
        yield create_app(
            app_settings(redis_server, auth={"audit_maxlen": 1000, "failures_maxlen": 1000}), client
        )


@pytest.fixture
def store(redis_server) -> Iterator[redis.Redis]:
    """The tests' Redis with no login counters or audit entries of other tests (the rest kept:
    the module's app reads its figures there)."""
    client = redis.Redis.from_url(redis_server.url)
    for key in [*client.scan_iter(f"{keys.PREFIX}:throttle:*"), keys.audit(), keys.audit_failures()]:
        client.delete(key)
    yield client
    client.close()


@pytest.fixture
def clock(app, store) -> Iterator[Clock]:
    """The throttle of the module's app on a clock of the test's."""
    throttle = app.server.extensions["ioc.login"].throttle
    clock, kept = Clock(), throttle.clock
    throttle.clock = clock
    yield clock
    throttle.clock = kept


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every password hash the app computes (werkzeug's scrypt check, still called through)."""
    calls: list[str] = []
    real = ioc.access.check_password_hash

    def counted(pwhash: str, password: str) -> bool:
        calls.append(pwhash[:6])
        return real(pwhash, password)

    monkeypatch.setattr(ioc.access, "check_password_hash", counted)
    return calls


def post_login(app, login: str, password: str, address: str = "192.0.2.10", **headers: str):
    """The login form filled in and sent from ``address``, as a browser there does."""
    client = app.server.test_client()
    where = {"environ_base": {"REMOTE_ADDR": address}, "headers": headers}
    form = login_form(client.get("/login", **where).text, login, password)
    return client.post("/login", data=form, **where)


def basic(app, login: str, password: str, address: str = "192.0.2.10"):
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return app.server.test_client().get(
        "/api/v1/alerts", headers={"Authorization": f"Basic {token}"}, environ_base={"REMOTE_ADDR": address}
    )


def audit_entries(app, action: str) -> list[dict]:
    admin = logged_in(app, "quantri")
    return admin.get(f"/api/v1/audit?count=5000&action={action}").get_json()["entries"]


# ---- the throttle ---------------------------------------------------------------------------


def test_an_address_past_its_failures_is_refused_before_any_password_is_hashed(app, clock, hashes) -> None:
    """Ten failed logins from one address (any accounts) and the eleventh is a 429 with
    Retry-After and a page that says so, its password not even hashed, the right one included;
    another address is not held back, and the window's end lets the first in again, where logins
    that succeed never count (an office behind one address logs in all day)."""
    for i in range(10):
        assert post_login(app, f"nobody-{i}", "guess").status_code == 401
    assert len(hashes) == 10
    refused = post_login(app, "lanhdao", PASSWORD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "300"
    assert TOO_MANY in html.unescape(refused.text) and "5 phút" in refused.text
    assert len(hashes) == 10  # refused before the scrypt hash
    assert post_login(app, "lanhdao", PASSWORD, address="192.0.2.11").status_code == 302
    clock.now += 299
    assert post_login(app, "lanhdao", PASSWORD).headers["Retry-After"] == "1"
    clock.now += 1
    for _ in range(15):
        assert post_login(app, "lanhdao", PASSWORD).status_code == 302


def test_an_account_past_its_failures_is_refused_from_every_address(app, clock, hashes) -> None:
    """Five wrong passwords for one account, each from another address, and the sixth try is
    refused for 15 minutes wherever it comes from, before hashing; other accounts are not."""
    for i in range(5):
        assert post_login(app, "lanhdao", "guess", address=f"198.51.100.{i}").status_code == 401
    refused = post_login(app, "lanhdao", PASSWORD, address="198.51.100.99")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
    assert len(hashes) == 5
    assert post_login(app, "quantri", PASSWORD, address="198.51.100.99").status_code == 302
    clock.now += 900
    assert post_login(app, "lanhdao", PASSWORD, address="198.51.100.99").status_code == 302


def test_http_basic_is_throttled_and_audited_as_the_form_is(app, clock, hashes) -> None:
    """Scripts' Basic credentials count as the form's: each failure audited (via basic), and past
    the account's limit a 429 with Retry-After, the password unhashed."""
    for _ in range(5):
        assert basic(app, "truc-705", "guess").status_code == 401
    refused = basic(app, "truc-705", PASSWORD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
    assert "too many failed logins" in refused.get_json()["error"]
    assert len(hashes) == 5
    failed = [e for e in audit_entries(app, "login_failed") if e["who"] == "truc-705"]
    assert len(failed) == 5 and {e["via"] for e in failed} == {"basic"} and failed[0]["ip"] == "192.0.2.10"
    throttled = audit_entries(app, "login_throttled")
    assert [(e["who"], e["via"], e["limit"]) for e in throttled] == [("truc-705", "basic", "account")]
    assert basic(app, "lanhdao", PASSWORD).status_code == 200


def test_ipv6_clients_count_by_their_64() -> None:
    """One subscriber holds a whole IPv6 /64: its addresses count together; IPv4 ones alone."""
    assert network("2001:db8:1:2::a") == network("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert network("2001:db8:1:3::a") != network("2001:db8:1:2::a")
    assert network("::ffff:192.0.2.1") == network("192.0.2.1") == "192.0.2.1"


# ---- the audit: failures apart, never what was typed ----------------------------------------


def test_a_failed_login_names_only_an_existing_account(app, clock, store, caplog) -> None:
    """A failed login records the account when one of that name exists, else "unknown": never
    the text typed (often a password), neither in the audit stream, nor the log, nor Redis."""
    with caplog.at_level(logging.INFO, logger="ioc.audit"):
        assert post_login(app, TYPED, "whatever").status_code == 401
        assert post_login(app, "lanhdao", TYPED).status_code == 401
    known, unknown = audit_entries(app, "login_failed")[:2]  # newest first
    assert (unknown["who"], unknown["account"], unknown["via"]) == ("-", "unknown", "form")
    assert known["who"] == "lanhdao" and "account" not in known
    assert TYPED not in str(audit_entries(app, "login_failed"))
    assert TYPED not in caplog.text and "lanhdao" in caplog.text
    assert not [k for k in store.scan_iter() if TYPED.encode() in k]


def test_a_flood_of_failed_logins_leaves_the_record_of_who_viewed_what(app, clock, store) -> None:
    """Failed and throttled logins go to their own bounded stream: a flood of them leaves the
    audit stream of views as it was, and the administrator's API still reads both."""
    assert logged_in(app, "truc-705").get("/api/v1/cases?feed=public_services&unit=705").status_code == 200
    views = store.xlen(keys.audit())
    flooder = app.server.test_client()  # one browser: its form's token serves every attempt
    where = {"environ_base": {"REMOTE_ADDR": "192.0.2.10"}}
    page = flooder.get("/login", **where).text
    for i in range(1200):
        assert flooder.post("/login", data=login_form(page, f"flood-{i}", "guess"), **where).status_code in (
            401,
            429,
        )
    assert store.xlen(keys.audit()) == views
    assert 1000 <= store.xlen(keys.audit_failures()) <= 1100  # failures_maxlen, approximately
    assert any(e["who"] == "truc-705" and e["unit"] == "705" for e in audit_entries(app, "cases"))
    assert len(audit_entries(app, "login_throttled")) > 900


# ---- the login form's CSRF token ----------------------------------------------------------------


def test_the_login_form_is_taken_only_with_its_own_sessions_token(app, clock) -> None:
    """A POST without the form's token, with a forged one or with another session's is a 400
    that says so (and shows a fresh form); with its own it logs in."""
    client = app.server.test_client()
    form = login_form(client.get("/login").text, "lanhdao")
    other = login_form(app.server.test_client().get("/login").text, "lanhdao")
    for token in (None, "forged.token.value", other["csrf_token"]):
        data = {k: v for k, v in form.items() if k != "csrf_token"} | ({"csrf_token": token} if token else {})
        reply = client.post("/login", data=data)
        assert reply.status_code == 400, token
        assert "Trang đăng nhập đã cũ hoặc không hợp lệ" in html.unescape(reply.text)
        assert 'name="csrf_token"' in reply.text
    assert client.post("/login", data=form).status_code == 302


# ---- bodies, headers, addresses -------------------------------------------------------------------


def test_a_request_body_past_the_limit_is_refused(app, clock) -> None:
    """web.max_request_bytes bounds every body the app reads (the login form, Dash's callbacks,
    the API): past it, 413."""
    big = "x" * 1_100_000
    client = logged_in(app, "lanhdao")
    assert client.post("/login", data={"login": big, "password": "p"}).status_code == 413
    assert client.post("/_dash-update-component", json={"output": big}).status_code == 413
    officer = logged_in(app, "truc-705")
    assert officer.post("/api/v1/alerts/ack", json={"feed": big}).status_code == 413
    assert officer.post("/api/v1/alerts/ack", data=big.encode()).status_code == 413  # not JSON either
    assert officer.post("/api/v1/alerts/ack", json={"feed": "x" * 900_000}).status_code == 400  # read


def test_every_answer_carries_the_security_headers(app, clock) -> None:
    """Rooms, login, API, static files: a CSP allowing this host only (Dash's inline scripts by
    hash, no workers, framed by this host), nosniff and same-origin referrers; an
    embed keeps its own policy with its framing allowlist; no HSTS over plain cookies."""
    client = logged_in(app, "lanhdao")
    for path in ("/", "/wall", "/login", "/api/v1/alerts", "/assets/style.css", "/healthz"):
        reply = client.get(path)
        csp = reply.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "blob:" not in csp, path
        assert "frame-ancestors 'self'" in csp and "'unsafe-eval'" not in csp, path
        assert re.search(r"script-src 'self'( 'sha256-[^']+')+;", csp), path
        assert reply.headers["X-Content-Type-Options"] == "nosniff", path
        assert reply.headers["Referrer-Policy"] == "same-origin", path
        assert "Strict-Transport-Security" not in reply.headers, path
    room = client.get("/")
    inline = [
        body
        for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", room.text, re.S)
        if "src=" not in attrs and "json" not in attrs
    ]
    inline = [body for body in inline if "Internet Explorer" not in body]  # inside <!--[if IE]>
    assert len(inline) >= 2
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in room.headers["Content-Security-Policy"], body[:80]
    embed = client.get("/embed/public_services.received?unit=705")
    assert embed.status_code == 403 and "frame-ancestors 'self'" in embed.headers["Content-Security-Policy"]
    assert "script-src 'self';" in embed.headers["Content-Security-Policy"]  # its own, unchanged
    assert embed.headers["X-Content-Type-Options"] == "nosniff"


def test_https_only_cookies_bring_hsts(store, redis_server) -> None:
    """With auth.secure_cookies on, every answer asks browsers to come back over HTTPS only."""
    app = create_app(app_settings(redis_server, auth={"secure_cookies": True}), store)
    reply = app.server.test_client().get("/login")
    assert reply.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(app, clock) -> None:
    """Untold of a proxy, the app counts and audits the peer: a guesser changing X-Forwarded-For
    at each try is still one address, throttled after ten."""
    for i in range(10):
        reply = post_login(
            app, f"nobody-{i}", "guess", address="192.0.2.50", **{"X-Forwarded-For": f"203.0.113.{i}"}
        )
        assert reply.status_code == 401
    reply = post_login(app, "x", "guess", address="192.0.2.50", **{"X-Forwarded-For": "203.0.113.200"})
    assert reply.status_code == 429
    assert {e["ip"] for e in audit_entries(app, "login_failed")} == {"192.0.2.50"}


def test_a_trusted_proxy_names_the_client(store, redis_server) -> None:
    """Behind web.trusted_proxies = 1 at web.proxy_addresses, the audit and the throttle name the
    client X-Forwarded-For gives; a request from elsewhere is named by its own address."""
    settings = app_settings(redis_server, web={"trusted_proxies": 1, "proxy_addresses": ["10.0.0.0/8"]})
    app = create_app(settings, store)
    for peer, forwarded in (("10.1.2.3", "203.0.113.7"), ("192.0.2.9", "203.0.113.8")):
        assert (
            post_login(app, "nobody", "guess", address=peer, **{"X-Forwarded-For": forwarded}).status_code
            == 401
        )
    assert [e["ip"] for e in audit_entries(app, "login_failed")] == ["192.0.2.9", "203.0.113.7"]


@pytest.mark.parametrize("target", ["/\\evil.example", "//evil.example", "/\tevil", "https://evil.example"])
def test_after_login_only_this_hosts_paths(target) -> None:
    """The page to go to after the login never leads to another host, however it is written."""
    from ioc.login import safe_next

    assert safe_next(target) == "/"
    assert safe_next("/district/705?feed=vaccination") == "/district/705?feed=vaccination"
