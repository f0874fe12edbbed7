"""Changing the local accounts: what the administrator's page and ``ioc user`` do to the user file.

Every change is one read-modify-write of the file under an exclusive lock (``<file>.lock``, so
the web app's workers and the command line never interleave), checked as the app reads the file
(:func:`ioc.access.read_users`: a change that would make it unreadable is refused, and the file
is left as it was) and written to a new file that replaces the old one at once: a reader sees the
old accounts or the new ones, never half a file. The web app re-reads the file at the account's
next request (:class:`ioc.access.UserFile`), so a change takes effect there; where the rights
shrink (a role below the old one, fewer units, disabled, a new password) the caller also ends the
account's sessions (:func:`ioc.sessions.end_all`), which closes its screens on the relay too.

Passwords given here are generated (:func:`new_password`) and shown once to the administrator,
who hands them over; they are stored only as hashes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import tempfile
import time
import tomllib
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from werkzeug.security import generate_password_hash

from ioc.access import User, read_users, scope_error
from ioc.config_access import ROLES, Role
from ioc.units import UnitTable

LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")
MIN_PASSWORD = 10
MAX_UNITS = 50
NAME_MAX = 120
RANK = {"officer": 0, "leader": 1, "admin": 2}  # what each role sees includes what the one below sees


class AccountError(ValueError):
    """A change refused, saying which field was wrong and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def login_error(login: str) -> str | None:
    if not LOGIN.fullmatch(login):
        return (
            "2 to 63 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return None


def new_password() -> str:
    """A password to hand over: 4 groups of 4 letters and digits (about 80 bits), easy to read
    out (no 0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def parse_units(text: str) -> list[str]:
    """Unit codes as typed: separated by commas or spaces, each once, in the order given."""
    return list(dict.fromkeys(u for u in re.split(r"[\s,;]+", text.strip()) if u))


@dataclass(frozen=True)
class Account:
    """One local account as the administrator's page lists it (never its password hash)."""

    login: str
    name: str
    role: str
    units: tuple[str, ...]
    disabled: bool

    def user(self) -> User:
        return User(self.login, self.name or self.login, self.role, self.units)  # type: ignore[arg-type]


def accounts(path: Path, table: UnitTable) -> list[Account]:
    """Every account of the file, by login."""
    return [
        Account(login, e.name, e.role, tuple(e.units), e.disabled)
        for login, e in sorted(read_users(path, table).items())
    ]


def exists(path: Path, login: str) -> bool:
    return path.exists() and login in (tomllib.loads(path.read_text(encoding="utf-8")).get("users") or {})


def narrower(before: User, after: User, table: UnitTable) -> bool:
    """Whether ``after`` may see less than ``before``: a lower role, or fewer units inside its
    scope (a wider scope or a higher role keeps the sessions)."""
    if RANK[after.role] != RANK[before.role]:
        return RANK[after.role] < RANK[before.role]
    was, now = before.units_within(table), after.units_within(table)
    return was is not None and now is not None and not was <= now


LOCK_WAIT_S = 5.0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The file's lock (``<file>.lock``, readable by its owner only, owned as the file is), held
    exclusively; AccountError after ``LOCK_WAIT_S`` (a request never hangs on it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        _same_owner(fd, path)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AccountError(
                        "file", f"{path.name} is being changed by someone else; try again"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _same_owner(fd: int, path: Path) -> None:
    """A file made by root for the app's file (``ioc user`` run as root) gets the file's owner
    and mode, so the web app can still read and lock it."""
    if not path.exists():
        return
    found = path.stat()
    if os.geteuid() == 0:
        os.fchown(fd, found.st_uid, found.st_gid)
    os.fchmod(fd, found.st_mode & 0o660 or 0o600)


def change(path: Path, table: UnitTable | None, edit: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``edit`` to the file's ``users`` table under the lock; write the result only if the
    app can read it (with ``table``: its units checked too), replacing the file at once with one
    of the same owner and mode."""
    with _locked(path):
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        users = data.setdefault("users", {})
        edit(users)
        text = tomli_w.dumps(data)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fchmod(out.fileno(), 0o600)
                _same_owner(out.fileno(), path)
                os.fsync(out.fileno())
            if table is not None:
                read_users(Path(name), table)  # what the app will read, or ConfigError
            os.replace(name, path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename survives a crash
        finally:
            os.close(folder)


def check(login: str, role: str, units: list[str], name: str, table: UnitTable, *, new: bool = True) -> None:
    """The rules every account follows (the page's and the command line's), AccountError else.
    The login's own rule binds new accounts only (older files may hold other logins)."""
    if new and (wrong := login_error(login)):
        raise AccountError("login", wrong)
    if len(units) > MAX_UNITS:
        raise AccountError("units", f"at most {MAX_UNITS} units")
    if role not in ROLES:
        raise AccountError("role", f"{role!r} is not one of {', '.join(ROLES)}")
    if wrong := scope_error(role, units, table):
        raise AccountError("units", wrong)
    if len(name) > NAME_MAX or any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise AccountError("name", f"at most {NAME_MAX} characters, on one line, no control characters")


def add(
    path: Path, table: UnitTable, login: str, *, role: str, units: list[str], name: str, password: str
) -> bool:
    """Add the account, or replace it whole (the command line's ``user add``), after checking it
    as the page does; True if it existed."""
    check(login, role, units, name, table, new=not exists(path, login))
    if len(password) < MIN_PASSWORD:
        raise AccountError("password", f"at least {MIN_PASSWORD} characters")
    return add_user(path, login, role=role, password=password, name=name, units=units, table=table)


def add_user(
    path: Path,
    login: str,
    *,
    role: str,
    password: str,
    name: str = "",
    units: list[str] | None = None,
    table: UnitTable | None = None,
) -> bool:
    """Add (or replace) one account in the file, keeping the others; True if it existed. Without
    ``table`` its units are not checked (the demo's and the tests' own accounts)."""
    existed = False

    def edit(users: dict[str, Any]) -> None:
        nonlocal existed
        existed = login in users
        entry: dict[str, Any] = {"name": name, "role": role, "password": generate_password_hash(password)}
        if units:
            entry["units"] = units
        if existed and users[login].get("disabled"):
            entry["disabled"] = True  # replacing an account does not enable it
        users[login] = entry

    change(path, table, edit)
    return existed


def create(path: Path, table: UnitTable, login: str, *, role: str, units: list[str], name: str) -> str:
    """A new account (AccountError if the login is taken) with a generated password, returned."""
    check(login, role, units, name, table)
    password = new_password()

    def edit(users: dict[str, Any]) -> None:
        if login in users:
            raise AccountError("login", f"{login!r} already exists")
        users[login] = {"name": name, "role": role, "password": generate_password_hash(password)}
        if units:
            users[login]["units"] = units

    change(path, table, edit)
    return password


def update(
    path: Path,
    table: UnitTable,
    login: str,
    *,
    role: str | None = None,
    units: list[str] | None = None,
    name: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> tuple[Account, Account]:
    """Change what is given of an existing account; the account before and after."""
    found: list[Account] = []

    def edit(users: dict[str, Any]) -> None:
        entry = users.get(login)
        if entry is None:
            raise AccountError("login", f"no account {login!r}")
        before = _account(login, entry)
        new_role = before.role if role is None else role
        new_units = list(before.units) if units is None else units
        if role is not None and role != "officer" and units is None:
            new_units = []  # a leader or an administrator has no units
        new_name = before.name if name is None else name
        check(login, new_role, new_units, new_name, table, new=False)
        entry |= {"role": new_role, "name": new_name}
        entry.pop("units", None)
        if new_units:
            entry["units"] = new_units
        if disabled is not None:
            entry.pop("disabled", None)
            if disabled:
                entry["disabled"] = True
        if password is not None:
            entry["password"] = generate_password_hash(password)
        found[:] = [before, _account(login, entry)]
        if before.role == "admin" and not before.disabled and not _enabled_admins(users):
            raise AccountError("role", "the province would be left without an enabled administrator")

    change(path, table, edit)
    return found[0], found[1]


def remove(path: Path, login: str) -> bool:
    """Take the account out of the file; False if it was not there."""
    gone = False

    def edit(users: dict[str, Any]) -> None:
        nonlocal gone
        gone = users.pop(login, None) is not None

    change(path, None, edit)
    return gone


def _enabled_admins(users: dict[str, Any]) -> list[str]:
    return [login for login, e in users.items() if e.get("role") == "admin" and not e.get("disabled")]


def _account(login: str, entry: dict[str, Any]) -> Account:
    return Account(
        login,
        str(entry.get("name", "")),
        str(entry["role"]),
        tuple(entry.get("units") or ()),
        bool(entry.get("disabled", False)),
    )


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
