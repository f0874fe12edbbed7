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
    disabled = true          # optional: the account cannot log in

The file is changed by ``ioc user`` and the administrator's accounts page (:mod:`ioc.accounts`).
"""

from __future__ import annotations

import hashlib
import secrets
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from werkzeug.security import check_password_hash, generate_password_hash

from ioc.config import ConfigError
from ioc.config_access import Role
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
    disabled: bool = False

    @field_validator("password")
    @classmethod
    def _hashed(cls, value: str) -> str:
        if not value.startswith(HASH_METHODS):
            raise ValueError("not a password hash (scrypt:/pbkdf2:); make one with `ioc user add`")
        return value


class UserFile:
    """The local accounts; re-read when the file changes (a new file replaces it at each change
    the app or ``ioc user`` makes), so a removed or disabled account stops at once."""

    def __init__(self, path: Path, table: UnitTable) -> None:
        self.path = path
        self.table = table
        self._seen: tuple[int, int, int] | None = None
        self._entries: dict[str, _Entry] = {}
        self.entries()  # a broken file stops the start, with the reason

    def entries(self) -> dict[str, _Entry]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise ConfigError(f"{self.path}: no such user file (auth.users_file)") from None
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            self._entries = read_users(self.path, self.table)
            self._seen = seen
        return self._entries

    def user(self, login: str) -> User | None:
        """The account's person; None if there is no such account or it is disabled."""
        entry = self.entries().get(login)
        if entry is None or entry.disabled:
            return None
        return User(login, entry.name or login, entry.role, tuple(entry.units))

    def stamp(self, login: str) -> str | None:
        """A digest of the account's password hash: a session begun with another password (one
        reset since) is over."""
        entry = self.entries().get(login)
        if entry is None:
            return None
        return hashlib.blake2b(entry.password.encode(), digest_size=8).hexdigest()

    def authenticate(self, login: str, password: str) -> User | None:
        entry = self.entries().get(login)
        if entry is None or entry.disabled:
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
