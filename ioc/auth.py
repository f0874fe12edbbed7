"""Signed, short-lived tokens: what a screen shows the realtime relay to be let in.

The claims say what the screen may subscribe to: a room's token carries the units its person
may see (``units``, none: all), the units whose alerts it gets (``alerts``, none: all) and the
session it belongs to (``login``, ``sid``: the relay closes the socket when that session ends, see
:mod:`ioc.sessions`); an embed's carries its feed (``scope: embed``) and its own life (``ttl``: an
embed stays live for its session, longer than a room's token lasts).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "ioc-realtime"


class TokenError(Exception):
    """A token that is missing, forged or expired; the message says which."""


def mint(
    secret: str,
    scope: str = "screen",
    *,
    units: list[str] | None = None,
    feeds: list[str] | None = None,
    ttl_s: float | None = None,
    alerts: list[str] | None = None,
    login: str | None = None,
    sid: str | None = None,
) -> str:
    claims: dict[str, Any] = {"scope": scope}
    if units is not None:
        claims["units"] = units
    if alerts is not None:
        claims["alerts"] = alerts
    if login is not None and sid is not None:
        claims |= {"login": login, "sid": sid}
    if feeds is not None:
        claims["feeds"] = feeds
    if ttl_s is not None:
        claims["ttl"] = ttl_s
    return URLSafeTimedSerializer(secret, salt=SALT).dumps(claims)


def check(secret: str, token: str | None, *, max_age_s: float) -> dict[str, Any]:
    """The token's claims, if its signature holds and it is younger than its ``ttl`` claim (or
    ``max_age_s``)."""
    if not token:
        raise TokenError("no token")
    try:
        claims, signed = URLSafeTimedSerializer(secret, salt=SALT).loads(token, return_timestamp=True)
    except BadSignature:
        raise TokenError("token signature is not valid") from None
    if not isinstance(claims, dict):
        raise TokenError("token claims are not an object")
    age = time.time() - datetime.timestamp(signed)
    if age > float(claims.get("ttl", max_age_s)):
        raise TokenError("token expired")
    return claims
