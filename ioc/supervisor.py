"""Runs the whole IOC on one machine: Redis (embedded if none is configured), the simulators the
configuration asks for, one process per connector and per aggregator, and the web app.

Each component is its own OS process started as ``python -m ioc.cli <component>``, exactly as
production runs them separately; a component that dies is restarted with backoff.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ioc.config import ConfigError, Settings
from ioc.redis_server import EmbeddedRedis, free_port

log = logging.getLogger(__name__)

SIMULATOR_PATHS = {"public_services": "/api/v1/hoso"}


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = field(default=0.0)

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "ioc.cli", *self.args], env=self.env)
        self.started = time.monotonic()
        log.info("started %s (pid %d)", self.name, self.process.pid)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def wait(self, timeout: float) -> None:
        if not self.process:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Supervisor:
    """``run()`` until SIGINT/SIGTERM, then stop every child and the embedded Redis."""

    def __init__(self, settings: Settings, *, config_path: str | None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.redis: EmbeddedRedis | None = None
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def __repr__(self) -> str:
        alive = sum(1 for c in self.children if c.process and c.process.poll() is None)
        return f"<Supervisor children={len(self.children)} alive={alive} redis={self.redis_url}>"

    @property
    def redis_url(self) -> str | None:
        return self.settings.redis.url or (self.redis.url if self.redis else None)

    def start(self) -> None:
        if self.settings.secret_key is None and self.config_path:
            raise ConfigError("IOC_SECRET_KEY: not set; production needs a secret for the relay's tokens")
        if not self.settings.redis.url:
            self.redis = EmbeddedRedis(Path(self.settings.data_dir) / "redis").start()
        env = dict(os.environ, IOC_REDIS__URL=self.redis_url or "")
        if self.settings.secret_key is None:
            env["IOC_SECRET_KEY"] = secrets.token_urlsafe(32)
            log.info(
                "demo: generated a secret key for this run's relay tokens (set IOC_SECRET_KEY to keep one)"
            )
        if self.config_path:
            env["IOC_CONFIG"] = str(Path(self.config_path).resolve())
        feeds: set[str] = set(self.settings.connectors)
        for feed, sim in self.settings.simulators.items():
            port = sim.port or free_port()
            args = ["simulate", feed, "--port", str(port), "--anchor", self._anchor(feed)]
            self.children.append(Child(f"simulator:{feed}", args, env))
            key = f"IOC_CONNECTORS__{feed.upper()}__URL"
            if feed not in self.settings.connectors or "url" not in self.settings.connectors[feed]:
                env[key] = f"http://{sim.host}:{port}"
                env.setdefault(f"IOC_CONNECTORS__{feed.upper()}__INTERVAL_S", "2")
            feeds.add(feed)
        for name in sorted(feeds):
            self.children.append(Child(f"connector:{name}", ["connector", name], env))
            self.children.append(Child(f"aggregator:{name}", ["aggregate", name], env))
        self.children.append(Child("relay", ["relay"], env))
        self.children.append(Child("web", ["web"], env))
        # Simulators first, and listening, so a demo does not open with a "connection refused".
        simulators = [c for c in self.children if c.name.startswith("simulator:")]
        for child in simulators:
            child.start()
        for child in simulators:
            _wait_listening(int(child.args[child.args.index("--port") + 1]), child)
        for child in self.children:
            if child not in simulators:
                child.start()
        log.info(
            "IOC running: http://%s:%d/  (Ctrl+C to stop)", self.settings.web.host, self.settings.web.port
        )

    def _anchor(self, feed: str) -> str:
        """When the demo's simulated world began, kept beside the Redis data it produced."""
        path = Path(self.settings.data_dir) / "simulators" / f"{feed}.anchor"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(datetime.now(UTC).isoformat(timespec="seconds"), encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()

    def run(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        try:
            while not self.stopping.wait(1.0):
                self._revive()
        finally:
            self.close()

    def _revive(self) -> None:
        for child in self.children:
            if child.process and child.process.poll() is not None:
                delay = min(30.0, 2.0**child.restarts)
                if time.monotonic() - child.started > delay:
                    log.warning("%s exited with %s; restarting", child.name, child.process.returncode)
                    child.restarts += 1
                    child.start()

    def close(self) -> None:
        for child in self.children:
            child.stop()
        for child in self.children:
            child.wait(10)
        if self.redis:
            self.redis.close()
        log.info("stopped: %r", self)


def _wait_listening(port: int, child: Child, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.process and child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode} while starting")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    log.warning(
        "%s is not listening on %d after %.0f s; starting the rest anyway", child.name, port, timeout_s
    )
