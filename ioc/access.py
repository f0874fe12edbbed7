"""Who may see what: the three roles, a duty officer's scope, and the local user file.

Roles (DESIGN.md): a *leader* and an *administrator* see the whole province; a *duty officer*
works for one or more units below it: districts or communes before 2025, areas (khu vực) or
communes in the 2025 scheme. Every logged-in person sees the province's and its children's own
figures (the provincial room ranks the districts, or the areas), but the figures of a commune and
every case list (dossiers and reports, case by case) only inside their scope: a unit is inside it
when it is one of the officer's units or lies below one (commune → area → province). An
administrator alone reads the audit log. The rule is applied where data is read: the KPI and case
API, the district, area and commune rooms and their callbacks, and the relay (a screen's token
carries the units it may subscribe to).

The user file is TOML, one table per login, passwords as werkzeug hashes (scrypt)::

    [users.lanhdao]
    name = "Lãnh đạo UBND tỉnh"
    role = "leader"
    password = "scrypt:32768:8:1$..."

    [users.truc-703]
    role = "officer"
    units = ["703"]
    password = "scrypt:..."
"""

from __future__ import annotations

import secrets
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from werkzeug.security import check_password_hash, generate_password_hash

from ioc.config import ConfigError
from ioc.config_access import ROLES, Role
from ioc.units import UnitTable

HASH_METHODS = ("scrypt:", "pbkdf2:")


@dataclass(frozen=True)
class User:
    """A logged-in person, as the session and the relay's tokens carry them."""

    login: str
    name: str
    role: Role
    units: tuple[str, ...] = ()  # a duty officer's units (districts, areas, communes); empty for the others
    via: str = "local"  # or "oidc"

    def as_dict(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "name": self.name,
            "role": self.role,
            "units": list(self.units),
            "via": self.via,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> User:
        return cls(
            data["login"],
            data["name"],
            data["role"],
            tuple(data.get("units") or ()),
            data.get("via", "local"),
        )

    @property
    def scoped(self) -> bool:
        return self.role == "officer"

    def within(self, unit: str, table: UnitTable) -> bool:
        """``unit`` is one of the officer's units or lies inside one (always true for the others)."""
        if not self.scoped:
            return True
        current: str | None = unit
        while current is not None:
            if current in self.units:
                return True
            current = table.parent(current)
        return False

    def sees_kpis(self, unit: str, table: UnitTable) -> bool:
        """The province and its children (districts, areas) are open to every role; a commune only
        inside the scope."""
        return unit == table.province or table.parent(unit) == table.province or self.within(unit, table)

    def sees_cases(self, unit: str, table: UnitTable) -> bool:
        """Case lists name cases one by one: only inside the scope (so never the province's)."""
        return self.within(unit, table)

    def visible_units(self, table: UnitTable) -> list[str] | None:
        """Every unit whose figures this person may subscribe to (None: all of them)."""
        if not self.scoped:
            return None
        return [u for u in table.codes if self.sees_kpis(u, table)]

    def units_within(self, table: UnitTable) -> set[str] | None:
        """The officer's units and every unit inside them (None: the whole province)."""
        if not self.scoped:
            return None
        found, todo = set(), list(self.units)
        while todo:
            unit = todo.pop()
            if unit not in found:
                found.add(unit)
                todo += table.children(unit)
        return found

    def sees_alert(self, unit: str, table: UnitTable) -> bool:
        """An alert names a unit and its value: an officer's own units' and the province-wide ones
        (a stopped feed) only; the same alerts they may acknowledge."""
        return unit == table.province or self.within(unit, table)

    def alert_units(self, table: UnitTable) -> list[str] | None:
        """The units whose alerts this person's screens get (None: every alert)."""
        inside = self.units_within(table)
        return None if inside is None else sorted(inside | {table.province})


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    role: Role
    units: list[str] = Field(default_factory=list)
    password: str

    @field_validator("password")
    @classmethod
    def _hashed(cls, value: str) -> str:
        if not value.startswith(HASH_METHODS):
            raise ValueError("not a password hash (scrypt:/pbkdf2:); make one with `ioc user add`")
        return value


class UserFile:
    """The local accounts; re-read when the file changes, so a removed account stops at once."""

    def __init__(self, path: Path, table: UnitTable) -> None:
        self.path = path
        self.table = table
        self._mtime = -1.0
        self._entries: dict[str, _Entry] = {}
        self.entries()  # a broken file stops the start, with the reason

    def entries(self) -> dict[str, _Entry]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            raise ConfigError(f"{self.path}: no such user file (auth.users_file)") from None
        if mtime != self._mtime:
            self._entries = read_users(self.path, self.table)
            self._mtime = mtime
        return self._entries

    def user(self, login: str) -> User | None:
        entry = self.entries().get(login)
        if entry is None:
            return None
        return User(login, entry.name or login, entry.role, tuple(entry.units))

    def authenticate(self, login: str, password: str) -> User | None:
        entry = self.entries().get(login)
        if entry is None:
            check_password_hash(_dummy_hash(), password)  # the same time as a wrong password
            return None
        return self.user(login) if check_password_hash(entry.password, password) else None


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8))


def read_users(path: Path, table: UnitTable) -> dict[str, _Entry]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    extra = set(data) - {"users"}
    if extra:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(sorted(extra))}; accounts go under [users.<login>]"
        )
    found: dict[str, _Entry] = {}
    for login, raw in (data.get("users") or {}).items():
        try:
            entry = _Entry.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"{path}: users.{login}.{where}: {err['msg']}") from None
        if wrong := scope_error(entry.role, entry.units, table):
            raise ConfigError(f"{path}: users.{login}.units: {wrong}")
        found[login] = entry
    return found


def scope_error(role: str, units: list[str], table: UnitTable) -> str | None:
    """What is wrong with an account's units for its role, if anything."""
    if role == "officer" and not units:
        return "a duty officer needs at least one unit"
    if role != "officer" and units:
        return "only a duty officer (role officer) has units"
    unknown = [u for u in units if u not in set(table.codes) or u == table.province]
    if unknown:
        kind = "an area" if table.middle == "area" else f"a {table.middle}"
        return f"{', '.join(map(repr, unknown))} is not {kind} or commune of scheme {table.scheme}"
    return None


def add_user(
    path: Path, login: str, *, role: Role, password: str, name: str = "", units: list[str] | None = None
) -> None:
    """Add (or replace) one account in the file, keeping the others."""
    if role not in ROLES:
        raise ConfigError(f"role {role!r}: one of {', '.join(ROLES)}")
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    entry: dict[str, Any] = {"name": name, "role": role, "password": generate_password_hash(password)}
    if units:
        entry["units"] = units
    data.setdefault("users", {})[login] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    path.chmod(0o600)


def remove_user(path: Path, login: str) -> bool:
    """Take one account out of the file; False if it was not there. (Its sessions are ended by
    the caller, which has Redis: :func:`ioc.sessions.end_all`.)"""
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if login not in (data.get("users") or {}):
        return False
    del data["users"][login]
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return True


def demo_users(directory: Path, table: UnitTable) -> tuple[Path, str, str]:
    """The demo's accounts, made once in its data folder: a leader, an administrator and a duty
    officer per district (per area in the 2025 scheme), all with one generated password, and the
    secret of a demo backend that mints embed tokens, written for the person running the demo
    (``demo-logins.txt``); made again when the folder's accounts are another scheme's.
    Returns the user file, that text and the embed client's secret."""
    path = directory / "users.toml"
    logins = directory / "demo-logins.txt"
    client = directory / "demo-embed-client"
    accounts: list[tuple[str, Role, str, list[str]]] = [
        ("lanhdao", "leader", "Lãnh đạo tỉnh (demo)", []),
        ("quantri", "admin", "Quản trị (demo)", []),
    ]
    accounts += [
        (f"truc-{code}", "officer", f"Trực ban {table.name(code)} (demo)", [code])
        for code in table.level_codes(table.middle)
    ]
    if path.exists() and logins.exists() and client.exists():
        made = tomllib.loads(path.read_text(encoding="utf-8")).get("users") or {}
        if {login: entry.get("units", []) for login, entry in made.items()} == {
            login: units for login, _role, _name, units in accounts
        }:
            return (
                path,
                logins.read_text(encoding="utf-8").strip(),
                client.read_text(encoding="utf-8").strip(),
            )
    password = "-".join(secrets.token_hex(2) for _ in range(3))
    embed_secret = secrets.token_urlsafe(24)
    path.unlink(missing_ok=True)
    for login, role, name, units in accounts:
        add_user(path, login, role=role, password=password, name=name, units=units)
    text = "\n".join(
        [f"Demo logins (password for all: {password})"]
        + [f"  {login:<10} {role:<8} {name}" for login, role, name, _units in accounts]
        + [f"Embed tokens: POST /api/v1/embed-tokens with 'Authorization: Bearer {embed_secret}'"]
    )
    for file, content in ((logins, text), (client, embed_secret)):
        file.write_text(content + "\n", encoding="utf-8")
        file.chmod(0o600)
    return path, text, embed_secret
