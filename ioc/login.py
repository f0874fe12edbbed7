"""Login for every page and API but the public ones, with the local user file or the province's
single sign-on (OpenID Connect through Authlib).

A person logs in once (``/login``); the signed session cookie holds who they are and until when.
Scripts may call the API with HTTP Basic credentials of a local account instead. What stays
public: the embeds and cards (public views, suppressed), the health check, the login itself and
the static code and fonts of the pages (no data).
"""

from __future__ import annotations

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

from ioc import audit
from ioc.access import User, UserFile
from ioc.config import PROJECT_ROOT, ConfigError, Settings
from ioc.config_access import AuthSettings, Role
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
    return jsonify({"error": message}), status


def safe_next(target: str | None) -> str:
    """Only a path of this host: never a redirect to somewhere else."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not (target or "/").startswith("/") or (target or "").startswith("//"):
        return "/"
    return target or "/"


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

    def audit(self, action: str, user: User | None, **what: str) -> None:
        who, role = (user.login, user.role) if user else (what.pop("login", "-"), "-")
        audit.record(
            self.client, self.auth.audit_maxlen, action, who, role, ip=request.remote_addr or "", **what
        )

    # ---- the session ----------------------------------------------------------------------

    def session_user(self) -> User | None:
        data = session.get("user")
        if not data or session.get("exp", 0) < time.time():
            return None
        user = User.from_dict(data)
        if user.via == "local":  # the file decides now: a removed or changed account follows at once
            return self.users.user(user.login) if self.users else None
        return user

    def basic_user(self) -> User | None:
        creds = request.authorization
        if (
            creds is None
            or creds.type != "basic"
            or self.users is None
            or not request.path.startswith("/api/")
        ):
            return None
        return self.users.authenticate(creds.username or "", creds.password or "")

    def begin(self, user: User, remember: bool) -> None:
        session.clear()
        session["user"] = user.as_dict()
        lasting = (
            timedelta(days=self.auth.remember_days) if remember else timedelta(hours=self.auth.session_hours)
        )
        session["exp"] = time.time() + lasting.total_seconds()
        session.permanent = remember
        self.audit("login", user, via=user.via)

    def guard(self) -> Any:
        g.user = self.session_user() or self.basic_user()
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
                ),
                status,
            )

        @bp.get("/login")
        def form() -> Any:
            return page()

        @bp.post("/login")
        def submit() -> Any:
            if self.users is None:
                return page(_("Tài khoản nội bộ không được bật; dùng đăng nhập một cửa."), 400)
            login = request.form.get("login", "").strip()
            user = self.users.authenticate(login, request.form.get("password", ""))
            if user is None:
                self.audit("login_failed", None, login=login[:80] or "-")
                return page(_("Sai tên đăng nhập hoặc mật khẩu."), 401)
            self.begin(user, remember=request.form.get("remember") == "on")
            return redirect(safe_next(request.form.get("next")))

        @bp.get("/logout")
        def logout() -> Any:
            user = self.session_user()
            if user is not None:
                self.audit("logout", user)
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
                self.audit("login_failed", None, login="sso", reason=str(exc))
                return page(_("Đăng nhập một cửa không thành công: {reason}").format(reason=exc), 403)
            except PermissionError as exc:
                self.audit("login_failed", None, login="sso", reason=str(exc))
                return page(str(exc), 403)
            target = session.pop("next", "/")
            self.begin(user, remember=False)
            return redirect(safe_next(target))

        return bp

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
