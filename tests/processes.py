"""Start the app as a user does (a subprocess of app.py) and wait until it answers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, partial
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import psutil
from werkzeug.security import generate_password_hash

from ioc.accounts import add_user
from ioc.config import PROJECT_ROOT
from ioc.config_access import Role
from ioc.redis_server import free_port
from tests.wait import wait_until

API = "http://127.0.0.1:{port}/api/v1/kpis?feed=public_services&unit={unit}&window={window}"
PASSWORD = "mat-khau-thu-nghiem"
# The accounts of the tests: a leader, an administrator, duty officers of two districts (in the
# 2025 scheme the areas with the same codes: Khu vực Tân Biên cũ, Khu vực Tân Châu cũ) and one of
# a commune of 706 (Thị trấn Tân Châu before 2025, Xã Tân Châu after: the code is in both).
ACCOUNTS: dict[str, tuple[Role, list[str]]] = {
    "lanhdao": ("leader", []),
    "quantri": ("admin", []),
    "truc-705": ("officer", ["705"]),
    "truc-706": ("officer", ["706"]),
    "truc-25516": ("officer", ["25516"]),
}
LEADER = ("lanhdao", PASSWORD)
CHEAP_HASH = "pbkdf2:sha256:1000"


def users_file(scheme: str = "pre2025") -> Path:
    """The tests' user file (hashed passwords), written once per test session (one per scheme:
    an account's units must be units of the scheme)."""
    return _users_file(scheme)


@cache
def _users_file(scheme: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="ioc-users-")) / "users.toml"
    # The tests' passwords hashed cheaply: every login and every HTTP Basic request checks one,
    # and scrypt's (what `ioc user add` writes) costs 0.1 s on an idle core, over a second on two
    # loaded ones. The demo's own accounts keep scrypt (tests/test_demo.py logs in with them).
    cheap = partial(generate_password_hash, method=CHEAP_HASH)
    with mock.patch("ioc.accounts.generate_password_hash", cheap):
        for login, (role, units) in ACCOUNTS.items():
            add_user(path, login, role=role, password=PASSWORD, name=f"{login} (test)", units=units)
    return path


def get(url: str, *, user: str = "lanhdao", password: str = PASSWORD, **kwargs: Any) -> httpx.Response:
    """GET from the app as one of the tests' accounts (HTTP Basic, as scripts do)."""
    return httpx.get(url, auth=(user, password), **kwargs)


def demo_password(data: Path, timeout_s: float = 60) -> str:
    """The password the demo generated for its accounts (``demo-logins.txt``)."""
    logins = data / "demo-logins.txt"
    wait_until(logins.exists, timeout_s, f"the demo wrote no {logins}", interval=0.2)
    first = logins.read_text(encoding="utf-8").splitlines()[0]
    return first.split("password for all: ", 1)[1].rstrip(")")


def demo_env(data: Path, *, history_days: int, **settings: str) -> tuple[int, dict[str, str]]:
    """Environment for a private demo: free web and relay ports, its own data folder."""
    port = free_port()
    env = {
        "IOC_WEB__PORT": str(port),
        "IOC_REALTIME__PORT": str(free_port()),
        "IOC_DATA_DIR": str(data),
        "IOC_SIMULATORS__PUBLIC_SERVICES__HISTORY_DAYS": str(history_days),
        **{f"IOC_{key.upper()}": value for key, value in settings.items()},
    }
    return port, env


def descendants(pid: int) -> list[tuple[psutil.Process, str]]:
    """``pid``'s running descendants with their command lines (a child that has just ended, a
    zombie or gone by the time it is asked, is not running)."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            found.append((child, " ".join(child.cmdline())))
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return found


def child_port(process: subprocess.Popen[bytes], needle: str) -> int:
    """The port a child of the app listens on, found by its command line."""
    for child, command in descendants(process.pid):
        if needle in command:
            return next(c.laddr.port for c in child.net_connections("tcp") if c.status == psutil.CONN_LISTEN)
    raise AssertionError(f"no child process running {needle!r}")


@contextmanager
def running_demo(
    data: Path, *, history_days: int, unit: str = "72", window: str = "7d", **settings: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`app.py` with no configuration file, on free ports, in ``data``: ready once its KPI API
    answers for ``unit``, stopped afterwards."""
    port, env = demo_env(data, history_days=history_days, **settings)
    process = start_app([], env, data / "app.log")
    try:
        wait_for(API.format(port=port, unit=unit, window=window), process=process)
        yield port, process
    finally:
        if process.poll() is None:
            stop(process)


def start_app(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    scheme = env.get("IOC_BOUNDARIES__SCHEME", "pre2025")
    full = {**os.environ, "IOC_AUTH__USERS_FILE": str(users_file(scheme)), **env}
    full.pop("IOC_CONFIG", None)
    if not full["IOC_AUTH__USERS_FILE"]:  # the demo's own accounts
        del full["IOC_AUTH__USERS_FILE"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "app.py", *args],
            cwd=PROJECT_ROOT,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(
    url: str,
    *,
    timeout_s: float = 180,
    process: subprocess.Popen[bytes] | None = None,
    auth: tuple[str, str] = LEADER,
) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the app exited with {process.returncode} before {url} answered")
        try:
            reply = httpx.get(url, auth=auth, timeout=5)
            if reply.status_code == 200:
                return reply
            last = f"HTTP {reply.status_code}: {reply.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer 200 within {timeout_s} s ({last})")


def stop(process: subprocess.Popen[bytes], timeout_s: float = 30) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout_s)


def app_settings(redis_server: Any, **settings: Any) -> Any:
    """Settings for an app built in the test (``create_app``): the tests' accounts, a secret."""
    from ioc.config import Settings

    scheme = (settings.get("boundaries") or {}).get("scheme", "pre2025")
    auth = {"users_file": users_file(scheme), **settings.pop("auth", {})}
    return Settings(redis={"url": redis_server.url}, secret_key="test-secret", auth=auth, **settings)


def logged_in(app: Any, login: str) -> Any:
    """A Flask test client of ``app`` with ``login``'s session (through the login form)."""
    client = app.server.test_client()
    reply = client.post("/login", data=login_form(client.get("/login").text, login))
    assert reply.status_code == 302, f"login as {login}: HTTP {reply.status_code}"
    return client


def login_form(page: str, login: str, password: str = PASSWORD, **fields: str) -> dict[str, str]:
    """What the login form ``page`` posts for ``login``: its CSRF token with the credentials (the
    token belongs to the session cookie that came with the page)."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the login page has no CSRF token"
    return {"csrf_token": token[1], "login": login, "password": password, **fields}


@contextmanager
def acting_as(app: Any, login: str, path: str = "/", **request: Any) -> Iterator[None]:
    """A request of ``login`` to ``app``, for rendering a page's layout directly."""
    from flask import g

    from ioc.access import User

    role, units = ACCOUNTS[login]
    with app.server.test_request_context(path, **request):
        g.user = User(login, f"{login} (test)", role, tuple(units))
        yield


@contextmanager
def web_alone(data: Path, redis_url: str, secret: str, users: Path | None = None) -> Iterator[int]:
    """The web app alone (``app.py web``) on the tests' Redis, with the tests' accounts (or the
    user file ``users``), its data in ``data``: its port once the login page answers."""
    port, env = demo_env(data, history_days=1, redis__url=redis_url, secret_key=secret)
    if users is not None:
        env["IOC_AUTH__USERS_FILE"] = str(users)
    process = start_app(["web"], env, data / "web.log")
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/login"), 60, "the web app did not start")
        yield port
    finally:
        stop(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
