"""The panels embedded in Tây Ninh Smart: ``/embed/<panel>?unit=<code>&token=<token>``.

The app's backend mints a token for one panel and one unit just before it opens the WebView:
``POST /api/v1/embed-tokens`` with ``Authorization: Bearer <client secret>`` (or, for trying
panels out, an administrator's login) and ``{"panel", "unit", "ttl_s", "once"}``. Tokens are JWTs
(HS256, PyJWT) with a short life (``embed.token_ttl_s`` at most) and, by default, single use:
a one-time token is spent in Redis (``SET NX`` until it expires), so a copied address does not
open the panel a second time. A forged, expired, spent or out-of-scope token gets 403 and a page
that says which.

Headers: an embed may be framed by this host and by ``embed.frame_ancestors`` alone
(``Content-Security-Policy: frame-ancestors``); every other
answer of the app says ``X-Frame-Options: SAMEORIGIN``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import redis
from flask import Blueprint, Flask, Response, jsonify, render_template, request

from ioc import auth, keys
from ioc.cards import PANELS, SHAPES, CardError, Cards, parse_panel
from ioc.config import Settings
from ioc.login import TEMPLATES, audit_view, current_user, note_refusal
from ioc.login import refused as refuse
from layouts import i18n
from layouts.embed import template_context
from layouts.i18n import _, using

AUDIENCE = "ioc-embed"
ISSUER = "ioc-tayninh"
POLL_S = 30


class Refused(Exception):
    """A token that does not open this panel; the message says why."""


def signing_key(secret: str) -> bytes:
    """Embed tokens have their own key, derived from the app's secret."""
    return hmac.new(secret.encode(), b"ioc-embed-token", hashlib.sha256).digest()


def mint(secret: str, *, panel: str, unit: str, ttl_s: int, once: bool, client: str) -> tuple[str, int]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": client,
        "iat": now,
        "exp": now + ttl_s,
        "jti": secrets.token_urlsafe(12),
        "panel": panel,
        "unit": unit,
        "once": once,
    }
    return jwt.encode(claims, signing_key(secret), algorithm="HS256"), now + ttl_s


def check(secret: str, token: str | None, *, panel: str, unit: str, client: redis.Redis) -> dict[str, Any]:
    if not token:
        raise Refused("no token: the app opens a panel with a token it has just asked for")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key(secret),
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "jti", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Refused("token expired: the app asks for a new one each time it opens a panel") from None
    except jwt.InvalidSignatureError:
        raise Refused("token signature is not valid (forged, or signed with another key)") from None
    except jwt.InvalidTokenError as exc:
        raise Refused(f"token is not valid: {exc}") from None
    if claims.get("panel") != panel:
        raise Refused(f"token is for panel {claims.get('panel')!r}, not {panel!r}")
    if claims.get("unit") != unit:
        raise Refused(f"token is for unit {claims.get('unit')!r}, not {unit!r}")
    if claims.get("once") and not client.set(
        keys.embed_used(str(claims["jti"])), 1, nx=True, exat=int(claims["exp"]) + 5
    ):
        raise Refused("token already used: a one-time token opens its panel once")
    return claims


def relay_origin(settings: Settings) -> str:
    """Where an embed's websocket goes, as CSP's connect-src names it."""
    if settings.realtime.public_url:
        parts = urlsplit(settings.realtime.public_url)
        return f"{parts.scheme}://{parts.netloc}"
    scheme = "wss" if request.is_secure else "ws"  # as the rooms' realtime.js picks it
    return f"{scheme}://{request.host.rsplit(':', 1)[0]}:{settings.realtime.port}"


def install(server: Flask, settings: Settings, cards: Cards, client: redis.Redis, secret: str) -> None:
    embed = settings.embed
    ancestors = " ".join(["'self'", *embed.frame_ancestors])

    @server.after_request
    def frame_headers(response: Response) -> Response:
        if request.path.startswith("/embed/"):
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                f"font-src 'self'; connect-src 'self' {relay_origin(settings)}; "
                f"frame-ancestors {ancestors}"
            )
            response.headers["Cache-Control"] = "no-store"
        else:
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    bp = Blueprint("embeds", __name__, template_folder=str(TEMPLATES))

    def page(status: int, title: str, message: str) -> tuple[str, int]:
        note_refusal(message)  # a 403 goes to the audit log with its reason
        return render_template("refused.html", _=_, lang=i18n.current(), title=title, message=message), status

    @bp.get("/embed/<panel>")
    def panel(panel: str) -> Any:
        unit = request.args.get("unit", "")
        with using("vi"):  # the app is Vietnamese; a card may be asked for in English
            try:
                feed, _kpi, shape = parse_panel(panel)
                check(secret, request.args.get("token"), panel=panel, unit=unit, client=client)
                args = {k: v for k, v in request.args.items() if k in ("unit", "window", "vaccine", "days")}
                card = cards.body(panel, args)
            except Refused as exc:
                return page(403, _("Không mở được bảng số liệu"), str(exc))
            except CardError as exc:
                return page(exc.status, _("Không mở được bảng số liệu"), str(exc))
            config = {
                "card": f"/api/v1/cards/{panel}?{urlencode(args)}",
                "shape": shape,
                "feed": feed,
                "as_of": card["as_of"],
                "relay": relay_url(settings, auth.mint(secret, "embed", feeds=[feed], ttl_s=embed.session_s)),
                "poll_s": POLL_S,
                "red_s": settings.freshness.red_s,
                "strings": {
                    "last24": _("24 giờ qua"),
                    "stopped": _("Đã ngừng cập nhật"),
                    "live": _("● trực tiếp"),
                },
            }
            context = template_context(cards.maps, card, shape, config)
            return render_template("embed.html", _=_, lang="vi", k=cards.k, **context)

    @bp.post("/api/v1/embed-tokens")
    def mint_token() -> Any:
        client_name = authorised_client(embed.clients)
        if client_name is None:
            return refuse(401, "an embed token needs 'Authorization: Bearer <client secret>' (embed.clients)")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return refuse(400, "the body must be a JSON object with panel and unit")
        panel_name, unit = str(body.get("panel") or ""), str(body.get("unit") or "")
        try:
            parse_panel(panel_name)
        except CardError as exc:
            return refuse(400, str(exc))
        if unit not in set(cards.units.codes):
            return refuse(400, f"unknown unit {unit!r} in scheme {cards.units.scheme}")
        ttl = body.get("ttl_s", embed.token_ttl_s)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 10 <= ttl <= embed.token_ttl_s:
            return refuse(
                400, f"ttl_s: {ttl!r} is not a whole number of seconds from 10 to {embed.token_ttl_s}"
            )
        once = body.get("once", True)
        if not isinstance(once, bool):
            return refuse(400, f"once: {once!r} is not true or false")
        token, expires = mint(secret, panel=panel_name, unit=unit, ttl_s=ttl, once=once, client=client_name)
        audit_view("embed_token", backend=client_name, panel=panel_name, unit=unit, once=str(once).lower())
        url = f"/embed/{panel_name}?{urlencode({'unit': unit, 'token': token})}"
        return jsonify({"token": token, "expires_at": expires, "once": once, "url": url})

    @bp.get("/embeds")
    def index() -> Any:
        """Every panel of a unit, each opened with a fresh token: for an administrator trying them."""
        user = current_user()
        if user is None or user.role != "admin":
            return refuse(403, "the list of embeds is for administrators")
        unit = request.args.get("unit", cards.units.province)
        if unit not in set(cards.units.codes):
            return refuse(400, f"unknown unit {unit!r} in scheme {cards.units.scheme}")
        links = []
        for base in sorted(PANELS):
            for shape in ("", *SHAPES):
                name = f"{base}.{shape}" if shape else base
                token, _exp = mint(
                    secret, panel=name, unit=unit, ttl_s=embed.token_ttl_s, once=False, client=user.login
                )
                links.append((name, f"/embed/{name}?{urlencode({'unit': unit, 'token': token})}"))
        # reusable tokens, one per panel: as much an embed_token as one minted by the API
        audit_view(
            "embed_token",
            backend=f"admin:{user.login}",
            panel="*",
            unit=unit,
            once="false",
            count=str(len(links)),
        )
        return render_template(
            "embeds.html", _=_, lang=i18n.current(), links=links, unit=cards.units.name(unit)
        )

    server.register_blueprint(bp)


def authorised_client(clients: dict[str, Any]) -> str | None:
    """The backend whose secret this request carries (compared in constant time), or an
    administrator logged in here."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        given = header.removeprefix("Bearer ").strip().encode()
        for name, secret in clients.items():
            if hmac.compare_digest(given, secret.get_secret_value().encode()):
                return str(name)
        return None
    user = current_user()
    return f"admin:{user.login}" if user is not None and user.role == "admin" else None


def relay_url(settings: Settings, token: str) -> str:
    base = settings.realtime.public_url or f"{relay_origin(settings)}/"
    return f"{base}{'&' if '?' in base else '?'}token={token}"
