"""Helpers shared by the benchmarks: a private Redis, IOC processes, percentiles, the JSON line."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ioc.config import PROJECT_ROOT
from ioc.redis_server import EmbeddedRedis, free_port
from ioc.units import UnitTable
from tests.records import dossiers

SECRET = "bench-secret"


def redis_server() -> EmbeddedRedis:
    return EmbeddedRedis(Path(tempfile.mkdtemp(prefix="ioc-bench-"))).start()


def units() -> UnitTable:
    """The units the benchmarks' records are coded in (the pre-2025 scheme of the demo)."""
    return UnitTable.load(PROJECT_ROOT / "geodata", "pre2025")


def ioc_process(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # the scheme the benchmarks' records are coded in (:func:`units`), not the demo's default
    scheme = {"IOC_BOUNDARIES__SCHEME": "pre2025"}
    full = {**os.environ, "IOC_SECRET_KEY": SECRET, "IOC_LOG_LEVEL": "WARNING", **scheme, **env}
    full.pop("IOC_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "ioc.cli", *command], env=full, cwd=PROJECT_ROOT)


def wait_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan"), "n": 0}
    arr = np.asarray(values_ms)
    p50, p95, p99 = (float(round(np.percentile(arr, q), 1)) for q in (50, 95, 99))
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "n": len(values_ms)}


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def emit(name: str, results: dict[str, Any]) -> None:
    print(json.dumps({"bench": name, **results, "machine": machine()}, ensure_ascii=False))


__all__ = ["dossiers", "emit", "free_port", "percentiles"]
