"""Start the app as a user does (a subprocess of app.py) and wait until it answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ioc.config import PROJECT_ROOT
from ioc.redis_server import free_port

API = "http://127.0.0.1:{port}/api/v1/kpis?feed=public_services&unit={unit}&window={window}"


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
    full = {**os.environ, **env}
    full.pop("IOC_CONFIG", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "app.py", *args],
            cwd=PROJECT_ROOT,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(
    url: str, *, timeout_s: float = 180, process: subprocess.Popen[bytes] | None = None
) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the app exited with {process.returncode} before {url} answered")
        try:
            reply = httpx.get(url, timeout=5)
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
