"""The login form's token against cross-site requests: a POST to ``/login`` is taken only with the
token of the form this browser session was given.

The session (Flask's signed cookie) holds a random value; the form carries it signed with the
app's secret and dated (itsdangerous), so a token is good for that session only and for
:data:`MAX_AGE_S`. A login starts a new session (``session.clear()``), and with it a new value.
"""

from __future__ import annotations

import hmac
import secrets

from flask import current_app, session
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

FIELD = "csrf_token"
SALT = "ioc-login-form"
MAX_AGE_S = 24 * 3600  # a login page left open on a wall overnight still works


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key), salt=SALT)


def form_token() -> str:
    """The token for a form shown in this session."""
    nonce = session.get("csrf")
    if not nonce:
        nonce = session["csrf"] = secrets.token_urlsafe(16)
    return _signer().dumps(nonce)


def problem(given: str | None) -> str | None:
    """What is wrong with a form's token (None: it is this session's, and fresh)."""
    if not given:
        return "missing"
    try:
        nonce = _signer().loads(given, max_age=MAX_AGE_S)
    except SignatureExpired:
        return "expired"
    except BadSignature:
        return "forged"
    mine = session.get("csrf")
    if not mine or not hmac.compare_digest(str(nonce), str(mine)):
        return "another session's"
    return None
