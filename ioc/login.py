"""Login for every page and API but the public ones, with the local user file or the province's
single sign-on (OpenID Connect through Authlib).

A person logs in once (``/login``); the signed session cookie holds who they are and until when,
and the id of the session's record in Redis (:mod:`ioc.sessions`), read at every request: a
logout, a removed or changed account or a single sign-on role the provider no longer grants
(re-read every ``auth.oidc.recheck_s``) ends it at once. Every 403 is recorded in the audit log.
Scripts may call the API with HTTP Basic credentials of a local account instead. Passwords,
typed in the form (which carries a CSRF token, :mod:`ioc.csrf`) or sent with Basic, are tried
only while the client's address and the account are within their limits of failures
(:mod:`ioc.throttle`: 429 past them), and every failure is audited. What stays
public: the embeds and cards (public views, suppressed), the health check, the login itself and
the static code and fonts of the pages (no data).
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ioc import audit, csrf, keys, sessions
from ioc.access import User, UserFile
from ioc.accounts import narrower
from ioc.config import PROJECT_ROOT, ConfigError, Settings
from ioc.config_access import AuthSettings, Role
from ioc.throttle import LoginThrottle, Throttled
from ioc.units import UnitTable
from layouts import i18n
from layouts.i18n import _

TEMPLATES = PROJECT_ROOT / "layouts" / "templates"
PUBLIC = (
    "/login",
    "/logout",
    "/auth/",
    "/healthz",
    "/api/v1/cards/",
    "/api/v1/embed-tokens",
    "/embed/",
    "/embed-static/",
    "/fonts/",
    "/assets/",
    "/_dash-component-suites/",
    "/favicon.ico",
)


def is_public(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC)


def current_user() -> User | None:
    """The person behind this request, if any (none outside a request: a layout built in a test)."""
    found: User | None = g.get("user") if has_request_context() else None
    return found


def user() -> User:
    """The person behind this request (the guard has let only a logged-in one through)."""
    found: User | None = g.get("user")
    if found is None:
        raise PermissionError("no logged-in user in this request")
    return found


def audit_view(action: str, **what: str) -> None:
    """Record that the current person opened a case-level or sensitive view."""
    current_app.extensions["ioc.login"].audit(action, current_user(), **what)


def refused(status: int, message: str) -> tuple[Response, int]:
    note_refusal(message)
    return jsonify({"error": message}), status


def note_refusal(message: str) -> None:
    """Why this request is refused, for its audit entry (see ``Login.audit_refusal``)."""
    if has_request_context():
        g.refusal = message


def safe_next(target: str | None) -> str:
    """Only a path of this host: never a redirect to somewhere else."""
    target = target or "/"
    # Browsers read "\\" as "/" ("/\\evil.example" goes to evil.example) and drop control
    # characters, so both are refused before the address is judged.
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class Login:
    """Installs the guard and the login routes on the Flask server."""

    def __init__(
        self, settings: Settings, client: redis.Redis, users: UserFile | None, table: UnitTable
    ) -> None:
        self.auth: AuthSettings = settings.auth
        self.table = table
        self.client = client
        self.users = users
        self.oauth: Any = None
        if users is None and self.auth.oidc is None:
            raise ConfigError("auth: no way to log in; set auth.users_file or auth.oidc (see the README)")
        self.throttle = LoginThrottle(client, self.auth, settings.secret())

    def audit(self, action: str, user: User | None, **what: str) -> None:
        who, role = (user.login, user.role) if user else (what.pop("login", "-"), "-")
        maxlen = self.auth.failures_maxlen if audit.apart(action, who) else self.auth.audit_maxlen
        audit.record(self.client, maxlen, action, who, role, ip=request.remote_addr or "", **what)

    # ---- the session ----------------------------------------------------------------------

    def session_user(self) -> User | None:
        data, sid = session.get("user"), session.get("sid")
        if not data or not sid or session.get("exp", 0) < time.time():
            return None
        user = User.from_dict(data)
        record = sessions.read(self.client, user.login, sid)
        if record is None:  # logged out, removed, changed or run out: the cookie alone is not enough
            return None
        if user.via == "local":  # the file decides now: a removed, disabled or narrowed account is out
            found = self.users.user(user.login) if self.users else None
            stamp = self.users.stamp(user.login) if self.users else None
            if session.get("pw") is None and stamp is not None:
                session["pw"] = stamp  # a session begun before sessions carried it
            if found is None or narrower(user, found, self.table) or session.get("pw") != stamp:
                sessions.end_all(self.client, user.login)  # the relay closes its screens too
                self.audit(
                    "session_ended",
                    user,
                    reason="account removed, disabled, narrowed or its password changed",
                )
                return None
            if found != user:  # wider, or renamed: the session goes on as the file says now
                session["user"] = found.as_dict()
            return found
        return self.rechecked(user, sid, record)

    def basic_user(self) -> User | Throttled | None:
        creds = request.authorization
        if (
            creds is None
            or creds.type != "basic"
            or self.users is None
            or not request.path.startswith("/api/")
        ):
            return None
        return self.password_user(creds.username or "", creds.password or "", via="basic")

    def password_user(self, login: str, password: str, *, via: str) -> User | Throttled | None:
        """The local account ``login`` if ``password`` is its own. An address or an account past
        its limit is refused before the password is hashed; every failure is audited, naming the
        account only if it exists (what was typed may be a password)."""
        assert self.users is not None
        named = {"login": login} if login in self.users.entries() else {"account": "unknown"}
        attempt = self.throttle.attempt(request.remote_addr or "", login)
        if isinstance(attempt, Throttled):
            self.audit("login_throttled", None, via=via, limit=attempt.limit, **named)
            return attempt
        user = self.users.authenticate(login, password)
        if user is None:
            self.audit("login_failed", None, via=via, **named)
            return None
        attempt.succeeded()
        return user

    def begin(self, user: User, remember: bool, tokens: dict[str, Any] | None = None) -> None:
        session.clear()
        session["user"] = user.as_dict()
        lasting = (
            timedelta(days=self.auth.remember_days) if remember else timedelta(hours=self.auth.session_hours)
        )
        recheck = self.auth.oidc.recheck_s if user.via == "oidc" and self.auth.oidc else None
        session["sid"] = sessions.start(
            self.client,
            user.login,
            lasting_s=lasting.total_seconds(),
            via=user.via,
            recheck_s=recheck,
            tokens=provider_tokens(tokens or {}),
        )
        session["exp"] = time.time() + lasting.total_seconds()
        if user.via == "local" and self.users is not None:
            session["pw"] = self.users.stamp(user.login)
        session.permanent = remember
        self.audit("login", user, via=user.via)

    def guard(self) -> Any:
        found = self.session_user() or self.basic_user()
        g.user = found if isinstance(found, User) else None
        if isinstance(found, Throttled):
            response, status = refused(429, f"too many failed logins: try again in {found.retry_after_s} s")
            response.headers["Retry-After"] = str(found.retry_after_s)
            return response, status
        if g.user is not None or is_public(request.path):
            return None
        if request.method == "GET" and not request.path.startswith(("/api/", "/_", "/geo/", "/realtime/")):
            return redirect(url_for("login.form", next=request.full_path.rstrip("?")))
        return refused(401, "login required: log in at /login (scripts: HTTP Basic with a local account)")

    # ---- installing -----------------------------------------------------------------------

    def install(self, server: Flask, secret: str) -> None:
        server.secret_key = secret
        server.config.update(
            SESSION_COOKIE_NAME="ioc_session",
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            SESSION_COOKIE_SECURE=self.auth.secure_cookies,
            PERMANENT_SESSION_LIFETIME=timedelta(days=self.auth.remember_days),
        )
        server.before_request(self.guard)
        server.after_request(self.audit_refusal)
        server.extensions["ioc.login"] = self
        if self.auth.oidc is not None:
            from authlib.integrations.flask_client import OAuth

            oidc = self.auth.oidc
            self.oauth = OAuth(server)
            self.oauth.register(
                "province",
                server_metadata_url=oidc.metadata_url,
                client_id=oidc.client_id,
                client_secret=oidc.client_secret.get_secret_value() if oidc.client_secret else None,
                client_kwargs={"scope": oidc.scope},
            )
        server.register_blueprint(self.blueprint())

    def blueprint(self) -> Blueprint:
        bp = Blueprint("login", __name__, template_folder=str(TEMPLATES))

        def page(error: str = "", status: int = 200) -> tuple[str, int]:
            oidc = self.auth.oidc
            return (
                render_template(
                    "login.html",
                    _=_,
                    lang=i18n.current(),
                    error=error,
                    next=safe_next(request.values.get("next")),
                    local=self.users is not None,
                    sso=_(oidc.label) if oidc else "",
                    csrf_field=csrf.FIELD,
                    csrf_token=csrf.form_token(),
                ),
                status,
            )

        @bp.get("/login")
        def form() -> Any:
            return page()

        @bp.post("/login")
        def submit() -> Any:
            if csrf.problem(request.form.get(csrf.FIELD)):  # not the form this browser was given
                return page(_("Trang đăng nhập đã cũ hoặc không hợp lệ; hãy đăng nhập lại."), 400)
            if self.users is None:
                return page(_("Tài khoản nội bộ không được bật; dùng đăng nhập một cửa."), 400)
            login = request.form.get("login", "").strip()
            user = self.password_user(login, request.form.get("password", ""), via="form")
            if isinstance(user, Throttled):
                minutes = math.ceil(user.retry_after_s / 60)
                text, status = page(
                    _("Quá nhiều lần đăng nhập sai. Hãy thử lại sau {minutes} phút.").format(minutes=minutes),
                    429,
                )
                return text, status, {"Retry-After": str(user.retry_after_s)}
            if user is None:
                return page(_("Sai tên đăng nhập hoặc mật khẩu."), 401)
            self.begin(user, remember=request.form.get("remember") == "on")
            return redirect(safe_next(request.form.get("next")))

        @bp.get("/logout")
        def logout() -> Any:
            user = self.session_user()
            if user is not None:
                self.audit("logout", user)
                sessions.end(self.client, user.login, session["sid"])  # its cookie and relay sockets
            session.clear()
            return redirect(url_for("login.form"))

        @bp.get("/auth/sso")
        def sso() -> Any:
            if self.oauth is None:
                return refused(404, "single sign-on is not configured (auth.oidc)")
            session["next"] = safe_next(request.args.get("next"))
            return self.oauth.province.authorize_redirect(url_for("login.callback", _external=True))

        @bp.get("/auth/callback")
        def callback() -> Any:
            if self.oauth is None:
                return refused(404, "single sign-on is not configured (auth.oidc)")
            from authlib.integrations.base_client.errors import OAuthError

            try:
                token = self.oauth.province.authorize_access_token()
                user = self.oidc_user(token.get("userinfo") or self.oauth.province.userinfo(token=token))
            except OAuthError as exc:  # refused at the provider, a stale state, a bad ID token
                self.audit("login_failed", None, login="sso", reason=str(exc)[:200])
                return page(_("Đăng nhập một cửa không thành công: {reason}").format(reason=exc), 403)
            except PermissionError as exc:
                self.audit("login_failed", None, login="sso", reason=str(exc)[:200])
                return page(str(exc), 403)
            target = session.pop("next", "/")
            self.begin(user, remember=False, tokens=token)
            return redirect(safe_next(target))

        return bp

    def audit_refusal(self, response: Response) -> Response:
        """Every 403 goes to the audit log: who was refused which path, and why (never the query
        string: it may carry a token)."""
        if response.status_code == 403:
            reason = str(g.get("refusal", ""))[:200]
            self.audit("refused", current_user(), path=request.path[:200], reason=reason)
        return response

    # ---- single sign-on: the role re-read from the provider ----------------------------------

    def rechecked(self, user: User, sid: str, record: dict[str, Any]) -> User | None:
        """A single sign-on person as the provider sees them now, re-read once ``recheck_s`` has
        passed (None: it no longer grants them a role, or cannot say; the session is over)."""
        oidc, now = self.auth.oidc, time.time()
        if float(record.get("recheck_by") or 0) > now:
            return user
        if oidc is None or self.oauth is None:  # single sign-on switched off since
            sessions.end(self.client, user.login, sid)
            return None
        if not self.client.set(keys.session_recheck(sid), 1, nx=True, ex=RECHECK_LOCK_S):
            return user  # another request of this session is asking the provider right now
        try:
            fresh, tokens = self.ask_provider(record.get("tokens") or {})
            if fresh.login != user.login:
                raise PermissionError("the provider now names another person")
        except PermissionError as exc:
            sessions.end(self.client, user.login, sid)
            self.audit("session_ended", user, reason=str(exc)[:200])
            return None
        finally:
            self.client.delete(keys.session_recheck(sid))
        if (fresh.role, fresh.units) == (user.role, user.units):
            sessions.save(
                self.client, user.login, sid, record | {"recheck_by": now + oidc.recheck_s, "tokens": tokens}
            )
            return fresh
        # Another role or other units: a new session, so the relay closes the old one's screens
        # (their tokens carry the old scope) and they reconnect with the new.
        sessions.end(self.client, user.login, sid)
        session["sid"] = sessions.start(
            self.client,
            fresh.login,
            lasting_s=float(record["exp"]) - now,
            via="oidc",
            recheck_s=oidc.recheck_s,
            tokens=tokens,
        )
        session["user"] = fresh.as_dict()
        self.audit("role_changed", fresh, was=user.role)
        return fresh

    def ask_provider(self, tokens: dict[str, Any]) -> tuple[User, dict[str, Any]]:
        """The person's claims now (userinfo, with a token refreshed if there is a refresh token),
        and the tokens to keep; PermissionError when the provider refuses or cannot be asked."""
        import requests
        from authlib.integrations.base_client.errors import OAuthError

        try:
            if tokens.get("refresh_token"):
                token = self.oauth.province.fetch_access_token(
                    grant_type="refresh_token", refresh_token=tokens["refresh_token"]
                )
            elif tokens.get("access_token") and float(tokens.get("expires_at") or 0) > time.time():
                token = tokens
            else:
                raise PermissionError("no refresh token and the access token has expired: log in again")
            claims = self.oauth.province.userinfo(token=token)
        except (OAuthError, requests.RequestException) as exc:
            raise PermissionError(f"the provider did not confirm the role: {exc}") from None
        return self.oidc_user(dict(claims)), provider_tokens({**tokens, **token})

    def oidc_user(self, claims: dict[str, Any]) -> User:
        """The person the provider vouches for, with the role its claims give."""
        assert self.auth.oidc is not None
        oidc = self.auth.oidc
        raw = claims.get(oidc.role_claim)
        values = raw if isinstance(raw, list) else [raw]
        roles = [oidc.roles[v] for v in values if isinstance(v, str) and v in oidc.roles]
        if not roles:
            raise PermissionError(
                _("Tài khoản chưa được cấp quyền vào IOC (thiếu {claim}).").format(claim=oidc.role_claim)
            )
        role: Role = "admin" if "admin" in roles else "leader" if "leader" in roles else "officer"
        units = claims.get(oidc.units_claim) or []
        if role == "officer" and not units:
            raise PermissionError(
                _("Tài khoản trực ban chưa được gán đơn vị ({claim}).").format(claim=oidc.units_claim)
            )
        if unknown := [
            u for u in map(str, units) if u not in set(self.table.codes) or u == self.table.province
        ]:
            raise PermissionError(
                _("Đơn vị không có trong bảng đơn vị: {codes}.").format(codes=", ".join(unknown))
            )
        login = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
        name = str(claims.get("name") or login)
        return User(login, name, role, tuple(str(u) for u in units) if role == "officer" else (), via="oidc")


RECHECK_LOCK_S = 30


def provider_tokens(token: dict[str, Any]) -> dict[str, Any]:
    """What a single sign-on session keeps of the provider's token answer, for the re-check."""
    kept = ("access_token", "token_type", "expires_at", "refresh_token")
    return {k: token[k] for k in kept if token.get(k)}
