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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ioc.config import PROJECT_ROOT
from ioc.redis_server import EmbeddedRedis, free_port
from ioc.schemas import PUBLIC_SERVICES_SCHEMA
from ioc.units import UnitTable

SECRET = "bench-secret"


def redis_server() -> EmbeddedRedis:
    return EmbeddedRedis(Path(tempfile.mkdtemp(prefix="ioc-bench-"))).start()


def units() -> UnitTable:
    """The units the benchmarks' records are coded in (the pre-2025 scheme of the demo)."""
    return UnitTable.load(PROJECT_ROOT / "geodata", "pre2025")


def ioc_process(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    full = {**os.environ, "IOC_SECRET_KEY": SECRET, "IOC_LOG_LEVEL": "WARNING", **env}
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


def dossiers(
    units: UnitTable, count: int, *, start: int = 0, seed: int = 1, unit: str | None = None
) -> pl.DataFrame:
    """Canonical public-services records, as a connector hands them on (times in the last 20 days)."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    communes = units.level_codes("commune")
    received = [now.timestamp() - float(x) for x in rng.uniform(3, 20 * 86400, count)]
    frame = pl.DataFrame(
        {
            "id": [f"B{start + i:09d}" for i in range(count)],
            "procedure_code": "1.004227",
            "sector": "Đất đai",
            "agency_code": "BPMC",
            "unit_code": [unit] * count if unit else list(rng.choice(communes, count)),
            "channel": list(rng.choice(["truc_tuyen", "truc_tiep", "buu_chinh"], count)),
            "received_at": [int(t) for t in received],
            "deadline_at": [int(t) + 5 * 86400 for t in received],
            "returned_at": [None] * count,
            "status": list(rng.choice(["tiep_nhan", "dang_xu_ly", "cho_bo_sung"], count)),
            "fee_due": list(rng.random(count) < 0.4),
            "paid_online": [None] * count,
            "digitised": list(rng.random(count) < 0.8),
            "updated_at": [int(now.timestamp())] * count,
        }
    )
    seconds = [c for c in ("received_at", "deadline_at", "updated_at")]
    return frame.with_columns(
        *[
            pl.from_epoch(pl.col(c), time_unit="s").dt.replace_time_zone("UTC").dt.cast_time_unit("us")
            for c in seconds
        ],
        pl.col("returned_at").cast(pl.Datetime("us", "UTC")),
        pl.col("paid_online").cast(pl.Boolean),
    ).select(list(PUBLIC_SERVICES_SCHEMA))


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def emit(name: str, results: dict[str, Any]) -> None:
    print(json.dumps({"bench": name, **results, "machine": machine()}, ensure_ascii=False))


__all__ = ["emit", "free_port", "percentiles"]
