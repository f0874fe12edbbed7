"""The administrator's accounts page: list the local accounts, add one, change its name, role and
units, reset its password, disable or enable it.

The rules are the command line's (:mod:`ioc.accounts`: the same checks, the same locked, atomic
write of ``auth.users_file``). A change takes effect at the account's next request (the web app
re-reads the file); where it narrows what the account sees (a lower role, fewer units), disables
it or resets its password, every session of the account ends at once, its screens on the relay
included. A password is generated, shown once to the administrator and stored only as a hash.
An administrator cannot disable their own account nor change its role (another one must: the
province is never left without one by a slip). Every change is audited with what it was; forms
carry the session's token against cross-site requests (:mod:`ioc.csrf`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis
from flask import Blueprint, Flask, redirect, request

from ioc import accounts, admin, keys, sessions
from ioc.accounts import Account, AccountError
from ioc.login import TEMPLATES, audit_view, current_user
from ioc.login import refused as refuse
from ioc.units import UnitTable
from layouts.i18n import N_, _
from layouts.live import ROLE_NAMES

ACTIONS = ("save", "reset", "disable", "enable")
FIELD_NAMES = {
    "login": N_("Tên đăng nhập"),
    "name": N_("Họ tên"),
    "role": N_("Vai trò"),
    "units": N_("Đơn vị"),
}


def install(server: Flask, client: redis.Redis, path: Path | None, table: UnitTable) -> None:
    bp = Blueprint("admin_accounts", __name__, template_folder=str(TEMPLATES))

    def gate() -> Any:
        """None for an administrator on a server with local accounts; else the refusal."""
        if (refused := admin.gate("the accounts page")) is not None:
            return refused
        if path is None:
            return refuse(404, "local accounts are not configured (auth.users_file)")
        return None

    def render(template: str, status: int = 200, **context: Any) -> Any:
        return admin.page(
            template,
            status,
            roles={role: _(name) for role, name in ROLE_NAMES.items()},
            middle=table.middle,
            unit_names=lambda units: ", ".join(f"{u} {table.name(u)}" for u in units),
            **context,
        )

    def listing(status: int = 200, **context: Any) -> Any:
        assert path is not None
        found = accounts.accounts(path, table)
        pipe = client.pipeline(transaction=False)
        for account in found:
            pipe.hlen(keys.sessions(account.login))
        return render(
            "accounts.html",
            status,
            rows=list(zip(found, pipe.execute(), strict=True)),
            middles=[(c, table.name(c)) for c in table.level_codes(table.middle)],
            form=context.pop("form", {}),
            **context,
        )

    def refusal(exc: AccountError) -> str:
        return f"{_(FIELD_NAMES.get(exc.field, exc.field))}: {str(exc).partition(': ')[2]}"

    @bp.get("/admin/accounts")
    def accounts_page() -> Any:
        if (refused := gate()) is not None:
            return refused
        audit_view("accounts_read")
        return listing()

    @bp.post("/admin/accounts")
    def add_account() -> Any:
        if (refused := gate()) is not None:
            return refused
        assert path is not None
        form = {k: request.form.get(k, "").strip() for k in ("login", "name", "role", "units")}
        units = accounts.parse_units(form["units"])
        try:
            password = accounts.create(
                path, table, form["login"], role=form["role"], units=units, name=form["name"]
            )
        except AccountError as exc:
            return listing(400, error=refusal(exc), form=form)
        audit_view("account_added", account=form["login"], of_role=form["role"], of_units=",".join(units))
        return render("password.html", login=form["login"], password=password, added=True)

    @bp.get("/admin/accounts/<login>")
    def account_page(login: str) -> Any:
        if (refused := gate()) is not None:
            return refused
        found = _find(login)
        if found is None:
            return refuse(404, f"no account {login[:64]!r}")
        audit_view("account_read", account=login)
        return render("account.html", account=found, saved=request.args.get("saved"), form={})

    @bp.post("/admin/accounts/<login>")
    def change_account(login: str) -> Any:
        if (refused := gate()) is not None:
            return refused
        assert path is not None
        found, me = _find(login), current_user()
        action = request.form.get("action", "")
        if found is None:
            return refuse(404, f"no account {login[:64]!r}")
        if action not in ACTIONS:
            return refuse(400, f"action: one of {', '.join(ACTIONS)}")
        form = {k: request.form.get(k, "").strip() for k in ("name", "role", "units")}
        own = me is not None and me.login == login
        if own and (action == "disable" or (action == "save" and form["role"] != found.role)):
            error = _("Không thể khoá hay đổi vai trò của chính tài khoản đang dùng; nhờ quản trị khác.")
            return render("account.html", 400, account=found, error=error, form=form)
        password = accounts.new_password() if action == "reset" else None
        try:
            if action == "save":
                units = accounts.parse_units(form["units"]) if form["role"] == "officer" else []
                before, after = accounts.update(
                    path, table, login, role=form["role"], units=units, name=form["name"]
                )
            else:
                disabled = {"disable": True, "enable": False}.get(action)
                before, after = accounts.update(path, table, login, disabled=disabled, password=password)
        except AccountError as exc:
            return render("account.html", 400, account=found, error=refusal(exc), form=form)
        ends = action in ("reset", "disable") or accounts.narrower(before.user(), after.user(), table)
        ended = sessions.end_all(client, login) if ends else 0
        audit_view(_ACTION_AUDITED[action], account=login, sessions=str(ended), **_difference(before, after))
        if password is not None:
            return render("password.html", login=login, password=password, added=False, ended=ended)
        return redirect(f"/admin/accounts/{login}?saved={action}")

    def _find(login: str) -> Account | None:
        assert path is not None
        return next((a for a in accounts.accounts(path, table) if a.login == login), None)

    server.register_blueprint(bp)


_ACTION_AUDITED = {
    "save": "account_changed",
    "reset": "password_reset",
    "disable": "account_disabled",
    "enable": "account_enabled",
}


def _difference(before: Account, after: Account) -> dict[str, str]:
    """What a change did, as audit fields (never a password)."""
    found = {}
    for field in ("name", "role", "units"):
        was, now = getattr(before, field), getattr(after, field)
        if was != now:
            shown = (lambda v: ",".join(v)) if field == "units" else str
            found[f"from_{field}"], found[f"to_{field}"] = shown(was), shown(now)
    return found
