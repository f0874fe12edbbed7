"""Signed, short-lived tokens: what a screen shows the realtime relay to be let in."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "ioc-realtime"


class TokenError(Exception):
    """A token that is missing, forged or expired; the message says which."""


def mint(secret: str, scope: str = "screen") -> str:
    return URLSafeTimedSerializer(secret, salt=SALT).dumps({"scope": scope})


def check(secret: str, token: str | None, *, max_age_s: float) -> dict[str, str]:
    if not token:
        raise TokenError("no token")
    try:
        claims: dict[str, str] = URLSafeTimedSerializer(secret, salt=SALT).loads(
            token, max_age=int(max_age_s)
        )
    except SignatureExpired:
        raise TokenError("token expired") from None
    except BadSignature:
        raise TokenError("token signature is not valid") from None
    return claims
