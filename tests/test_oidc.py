"""Single sign-on: the whole OpenID Connect code flow against a real provider of the tests' own
(discovery, authorisation, token endpoint, RS256-signed ID token checked against its JWKS), and
the role and scope its claims give."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from flask import Flask, jsonify, redirect, request
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from ioc import audit
from ioc.redis_server import free_port
from ioc.web import create_app
from tests.processes import app_settings
from tests.test_kpis import counted_cases

CLIENT_ID = "ioc"
CLIENT_SECRET = "provider-client-secret"
CASES = "/api/v1/cases?feed=public_services&unit="


class Provider:
    """A minimal OpenID provider: whoever ``person`` says is logged in there."""

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048)
        self.person: dict[str, Any] = {}
        self.codes: dict[str, str] = {}  # code -> nonce
        self.token_calls: list[str] = []
        self.refresh_calls: list[str] = []
        self.issued: set[str] = set()  # access and refresh tokens given out
        app = Flask("provider")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "userinfo_endpoint": f"{self.issuer}/userinfo",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            )

        @app.get("/authorize")
        def authorize() -> Any:
            args = request.args
            assert args["client_id"] == CLIENT_ID and args["response_type"] == "code"
            code = secrets.token_urlsafe(8)
            self.codes[code] = args.get("nonce", "")
            return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}")

        @app.post("/token")
        def token() -> Any:
            creds = request.authorization
            assert creds is not None and (creds.username, creds.password) == (CLIENT_ID, CLIENT_SECRET)
            if request.form.get("grant_type") == "refresh_token":
                refresh = request.form["refresh_token"]
                if refresh not in self.issued:
                    return jsonify({"error": "invalid_grant"}), 400
                self.refresh_calls.append(refresh)
                return jsonify(self.new_tokens())
            code = request.form["code"]
            self.token_calls.append(code)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "iat": now,
                "exp": now + 300,
                "nonce": self.codes.pop(code),
                **self.person,
            }
            header = {"alg": "RS256", "kid": self.key.thumbprint()}
            id_token = jose_jwt.encode(header, claims, self.key)
            return jsonify(self.new_tokens() | {"id_token": id_token})

        @app.get("/userinfo")
        def userinfo() -> Any:
            bearer = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
            if bearer not in self.issued:
                return jsonify({"error": "invalid_token"}), 401
            return jsonify(self.person)

        @app.get("/jwks")
        def jwks() -> Any:
            public = self.key.as_dict(private=False) | {
                "kid": self.key.thumbprint(),
                "use": "sig",
                "alg": "RS256",
            }
            return jsonify({"keys": [public]})

        self.server = make_server("127.0.0.1", self.port, app, threaded=True)

    def new_tokens(self) -> dict[str, Any]:
        tokens = {"access_token": secrets.token_urlsafe(8), "refresh_token": secrets.token_urlsafe(8)}
        self.issued |= set(tokens.values())
        return tokens | {"token_type": "Bearer", "expires_in": 300}

    def __enter__(self) -> Provider:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def oidc_settings(provider: Any, **extra: Any) -> dict[str, Any]:
    """``[auth.oidc]`` for the tests' provider: its leaders and duty officers by group."""
    return {
        "metadata_url": f"{provider.issuer}/.well-known/openid-configuration",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "role_claim": "groups",
        "roles": {"ioc-lanh-dao": "leader", "ioc-truc-ban": "officer"},
        **extra,
    }


@pytest.fixture(scope="module")
def provider_and_app(redis_server, units) -> Iterator[tuple[Provider, Any]]:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    with Provider() as provider, counted_cases(client, units):
        oidc = oidc_settings(provider)
        yield provider, create_app(app_settings(redis_server, auth={"oidc": oidc}), client)


def sign_in(provider: Provider, app: Any, person: dict[str, Any], next_: str = "/") -> tuple[Any, Any]:
    """The browser's trip: the IOC sends it to the provider, the provider back with a code."""
    provider.person = person
    client = app.server.test_client()
    start = client.get(f"/auth/sso?next={next_}")
    assert start.status_code == 302 and start.headers["Location"].startswith(f"{provider.issuer}/authorize?")
    back = httpx.get(start.headers["Location"], follow_redirects=False)
    target = urlsplit(back.headers["Location"])
    assert target.path == "/auth/callback" and "code" in parse_qs(target.query)
    return client, client.get(f"{target.path}?{target.query}")


def test_a_duty_officer_signs_in_through_the_province_and_keeps_to_their_district(provider_and_app) -> None:
    provider, app = provider_and_app
    person = {"sub": "u-17", "preferred_username": "le.an", "name": "Lê An", "groups": ["ioc-truc-ban"]}
    client, done = sign_in(provider, app, person | {"ioc_units": ["705"]}, next_="/district/705")
    assert done.status_code == 302 and done.headers["Location"] == "/district/705"
    assert provider.token_calls  # the code was exchanged at the token endpoint
    assert client.get("/api/v1/cases?feed=public_services&unit=705").status_code == 200
    refused = client.get("/api/v1/cases?feed=public_services&unit=706")
    assert refused.status_code == 403 and "outside your scope" in refused.get_json()["error"]
    leader, done = sign_in(provider, app, person | {"groups": ["other", "ioc-lanh-dao"]})
    assert (
        done.status_code == 302
        and leader.get("/api/v1/cases?feed=public_services&unit=706").status_code == 200
    )


@pytest.mark.parametrize(
    ("claims", "said"),
    [
        ({"groups": ["ioc-khac"]}, "chưa được cấp quyền vào IOC (thiếu groups)"),
        ({"groups": ["ioc-truc-ban"]}, "chưa được gán đơn vị (ioc_units)"),
        ({"groups": ["ioc-truc-ban"], "ioc_units": ["799"]}, "không có trong bảng đơn vị: 799"),
    ],
)
def test_an_account_without_a_role_or_units_is_refused_with_the_reason(
    provider_and_app, claims, said
) -> None:
    provider, app = provider_and_app
    client, done = sign_in(provider, app, {"sub": "u-99", "preferred_username": "x"} | claims)
    assert done.status_code == 403 and said in done.text
    assert client.get("/api/v1/alerts").status_code == 401


def test_a_refusal_at_the_provider_is_said_not_crashed(provider_and_app) -> None:
    _provider, app = provider_and_app
    client = app.server.test_client()
    start = client.get("/auth/sso")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    done = client.get(f"/auth/callback?error=access_denied&error_description=denied&state={state}")
    assert done.status_code == 403 and "Đăng nhập một cửa không thành công: access_denied" in done.text


RECHECK_S = 1.0


@pytest.fixture(scope="module")
def rechecking_app(provider_and_app, redis_server) -> Any:
    """The app with a role re-checked every second (an hour, in production)."""
    import redis

    provider, _app = provider_and_app
    oidc = oidc_settings(provider, recheck_s=RECHECK_S)
    client = redis.Redis.from_url(redis_server.url)
    return create_app(app_settings(redis_server, auth={"oidc": oidc}), client)


def status_once_rechecked(client: Any, url: str, checked_at: float) -> int:
    """The answer to ``url`` once the session's re-check is due: the one thing waited for here is
    time itself passing ``RECHECK_S`` since ``checked_at``."""
    time.sleep(max(0.0, checked_at + RECHECK_S - time.monotonic()) + 0.05)
    return int(client.get(url).status_code)


def test_a_role_the_provider_no_longer_grants_is_dropped_at_the_recheck(
    provider_and_app, rechecking_app
) -> None:
    """Signed in as a leader; the provider then drops the role. At the next request after
    ``recheck_s`` the app re-reads the claims (refresh token, then userinfo) and ends the session:
    the API says 401 and the page sends to the login, and the ending is audited."""
    provider, _app = provider_and_app
    person = {
        "sub": "u-31",
        "preferred_username": "tran.binh",
        "name": "Trần Bình",
        "groups": ["ioc-lanh-dao"],
    }
    client, done = sign_in(provider, rechecking_app, person)
    started = time.monotonic()
    assert done.status_code == 302 and client.get(CASES + "706").status_code == 200
    provider.person = person | {"groups": ["other"]}
    calls = len(provider.refresh_calls)
    assert status_once_rechecked(client, CASES + "706", started) == 401
    assert len(provider.refresh_calls) == calls + 1  # asked the provider, with the refresh token
    assert client.get("/").headers["Location"].startswith("/login")
    ended = audit.read(rechecking_app.server.extensions["ioc.login"].client, 20, "session_ended")
    assert ended and ended[0]["who"] == "tran.binh" and "groups" in ended[0]["reason"]


def test_a_role_the_provider_changes_takes_effect_at_the_recheck(provider_and_app, rechecking_app) -> None:
    """A leader the provider makes a duty officer of 705: after the re-check the same browser
    reads 705's cases and is refused 706's; while the role is still granted nothing changes."""
    provider, _app = provider_and_app
    person = {"sub": "u-32", "preferred_username": "le.cuong", "name": "Lê Cường", "groups": ["ioc-lanh-dao"]}
    client, _done = sign_in(provider, rechecking_app, person)
    started, calls = time.monotonic(), len(provider.refresh_calls)
    assert status_once_rechecked(client, CASES + "706", started) == 200  # re-checked, still a leader
    assert len(provider.refresh_calls) == calls + 1
    provider.person = person | {"groups": ["ioc-truc-ban"], "ioc_units": ["705"]}
    assert status_once_rechecked(client, CASES + "706", time.monotonic()) == 403
    assert client.get(CASES + "705").status_code == 200
