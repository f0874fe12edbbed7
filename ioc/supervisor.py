"""Runs the whole IOC on one machine: Redis (embedded if none is configured), the simulators the
configuration asks for, one process per connector and per aggregator, and the web app.

Each component is its own OS process started as ``python -m ioc.cli <component>``, exactly as
production runs them separately; a component that dies is restarted with backoff.
"""

from __future__ import annotations

import json
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

from ioc.config import ConfigError, Settings, SimulatorSettings
from ioc.connector import configure, connector_names, connector_tables, connector_type, discover
from ioc.redis_server import EmbeddedRedis, free_port
from ioc.registry import FEEDS, simulated
from ioc.signatures import secret_names, webhook_secret

log = logging.getLogger(__name__)

SECRET_KEY = {"IOC_SECRET_KEY": "the screens' relay tokens"}  # the one secret every IOC needs


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
        if self.config_path:
            self._refuse_missing_secrets()
        if not self.settings.redis.url:
            self.redis = EmbeddedRedis(Path(self.settings.data_dir) / "redis").start()
        env = dict(os.environ, IOC_REDIS__URL=self.redis_url or "")
        if self.config_path:
            env["IOC_CONFIG"] = str(Path(self.config_path).resolve())
        else:
            for name, purpose in self._demo_secrets().items():
                if not env.get(name):
                    env[name] = secrets.token_urlsafe(32)
                    log.info("demo: generated %s for %s (set it to keep one across runs)", name, purpose)
            if self.settings.auth.users_file is None and self.settings.auth.oidc is None:
                self._demo_users(env)
        simulators, others = self.plan(env)
        self.children += [*simulators, *others]
        # Simulators first, and listening, so a demo does not open with a "connection refused".
        for child in simulators:
            child.start()
        for child in simulators:
            if "--port" in child.args:
                _wait_listening(int(child.args[child.args.index("--port") + 1]), child)
        for child in others:
            child.start()
        log.info(
            "IOC running: http://%s:%d/  (Ctrl+C to stop)", self.settings.web.host, self.settings.web.port
        )

    def plan(self, env: dict[str, str]) -> tuple[list[Child], list[Child]]:
        """The processes to run, none started: the simulators, then each connector, an aggregator
        per feed, the relay and the web app. Completes ``env`` (the children's) with where the
        simulated feeds' connectors find their simulators. Alert delivery runs when routes are
        configured."""
        simulators = [self._simulator(feed, sim, env) for feed, sim in self.settings.simulators.items()]
        others: list[Child] = []
        for feed, names in sorted(connector_names(self.settings).items()):
            others += [Child(f"connector:{name}", ["connector", name], env) for name in names]
            others.append(Child(f"aggregator:{feed}", ["aggregate", feed], env))
        if self.settings.delivery.routes:  # alerts beyond the screens
            others.append(Child("deliver", ["deliver"], env))
        if self.settings.briefing.enabled:  # the morning briefings, where a Chromium prints them
            try:
                self.settings.briefing.find_chromium()
                others.append(Child("brief", ["brief"], env))
            except ConfigError as exc:
                log.warning("no morning briefings: %s", exc)
        return simulators, [*others, Child("relay", ["relay"], env), Child("web", ["web"], env)]

    def _demo_secrets(self) -> dict[str, str]:
        """What the demo generates when it is not set, and what for: the relay's key, and what each
        simulated feed's connector needs (the feed's secrets; its webhook's when the simulator pushes)."""
        found = dict(SECRET_KEY)
        for name in self.settings.simulators:
            feed = FEEDS.get(name)
            if feed is None:  # not a feed: `plan` says so
                continue
            found |= feed.secrets
            if feed.simulator is not None and feed.simulator.push_path:
                found[secret_names(name, None)[0]] = f"the {name} webhook's signatures"
        return found

    def _demo_users(self, env: dict[str, str]) -> None:
        """The demo's accounts (made once in the data folder), said on the console."""
        from ioc.accounts import demo_users
        from ioc.units import UnitTable

        table = UnitTable.configured(self.settings.boundaries)
        path, text, embed_secret = demo_users(Path(self.settings.data_dir), table)
        env["IOC_AUTH__USERS_FILE"] = str(path)
        env.setdefault("IOC_EMBED__CLIENTS", json.dumps({"demo": embed_secret}))
        log.info("demo: %s (also in %s)", text.replace("\n", "\n    "), path.parent / "demo-logins.txt")

    def _refuse_missing_secrets(self) -> None:
        """Production stops here, with the reason, rather than in a child restarted forever."""
        needed = dict(SECRET_KEY)
        environment = _environment(self.settings)
        registry = discover()
        for name, table in connector_tables(self.settings).items():
            config = configure(name, table, source=self.config_path or "environment", registry=registry)
            feed = FEEDS.get(table.get("feed") or registry[connector_type(name, table)].feed)
            needed |= feed.secrets if feed is not None else {}
            if table.get("webhook") or connector_type(name, table) == "webhook":
                # each webhook its own secret: the message names the variable to set
                secret_env = getattr(config, "webhook_secret_env", None)
                webhook_secret(name, secret_env, environment)
        delivery = self.settings.delivery
        if delivery.routes:
            for point, contact in delivery.contact_points.items():
                if contact.kind == "webhook":
                    needed[delivery.secret_name(point)] = f"signing the alerts sent to {point}"
            if delivery.smtp is not None and delivery.smtp.username:
                needed[delivery.smtp.password_env] = "the mail server's login (alert delivery)"
        for name, purpose in needed.items():
            if not environment.get(name):
                raise ConfigError(f"{name}: not set; production needs it for {purpose}")
        if self.settings.auth.users_file is None and self.settings.auth.oidc is None:
            raise ConfigError(
                f"{self.config_path}: auth: no way to log in; set auth.users_file or [auth.oidc]"
            )

    def _simulator(self, feed: str, sim: SimulatorSettings, env: dict[str, str]) -> Child:
        """The simulator of ``feed``; its connector is pointed at it unless configured otherwise."""
        simulator = FEEDS[feed].simulator if feed in FEEDS else None
        if simulator is None:
            known = ", ".join(simulated())
            raise ConfigError(f"simulators.{feed}: no simulator for feed {feed!r}; simulators: {known}")
        prefix = f"IOC_CONNECTORS__{feed.upper()}__"
        configured = self.settings.connectors.get(feed, {})
        args = ["simulate", feed, "--anchor", self._anchor(feed)]
        if simulator.folder:  # it writes files into its connector's drop folder
            drop = configured.get("drop_dir") or Path(self.settings.data_dir) / "drop" / simulator.folder
            env.setdefault(prefix + "DROP_DIR", str(Path(drop).resolve()))
            env.setdefault(prefix + "INTERVAL_S", "2")
            return Child(f"simulator:{feed}", [*args, "--dir", env[prefix + "DROP_DIR"]], env)
        port = sim.port or free_port()
        args += ["--port", str(port)]
        if "url" not in configured:
            env[prefix + "URL"] = f"http://{sim.host}:{port}"
            env.setdefault(prefix + "INTERVAL_S", "2")
        if simulator.push_path and "webhook" not in configured:
            hook_port = free_port()
            env |= {prefix + "WEBHOOK": "true", prefix + "WEBHOOK_PORT": str(hook_port)}
            args += ["--push-url", f"http://127.0.0.1:{hook_port}{simulator.push_path}"]
        return Child(f"simulator:{feed}", args, env)

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


def _environment(settings: Settings) -> dict[str, str]:
    """The environment, with the secrets as the settings read them (their names in any case)."""
    found = {
        "IOC_SECRET_KEY": settings.secret_key,
        "IOC_PSEUDONYM_KEY": settings.pseudonym_key,
        "IOC_WEBHOOK_SECRET": settings.webhook_secret,
    }
    return dict(os.environ) | {name: v.get_secret_value() for name, v in found.items() if v is not None}


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
