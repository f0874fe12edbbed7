"""Production start-up: a webhook connector without its own signing secret stops it, saying which."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ioc.config import PROJECT_ROOT, ConfigError, load_settings
from ioc.supervisor import Supervisor

CONFIG = """
data_dir = "{data}"

[redis]
url = "{redis}"

[auth]
users_file = "{users}"

[connectors.bao_cao_hien_truong]
type = "webhook"
feed = "public_services"
webhook_port = 0
"""


def config(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "ioc.toml"
    path.write_text(
        CONFIG.format(data=tmp_path / "data", redis=redis_url, users=tmp_path / "users.toml"),
        encoding="utf-8",
    )
    return path


def test_production_refuses_to_start_without_the_webhooks_own_secret(tmp_path, redis_server) -> None:
    """`app.py --config` exits 2 naming IOC_WEBHOOK_SECRET_<NAME>: the shared secret does not do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env |= {"IOC_SECRET_KEY": "k" * 32, "IOC_WEBHOOK_SECRET": "s" * 32}
    command = [sys.executable, "-m", "ioc.cli", "--config", str(config(tmp_path, redis_server.url)), "run"]
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # it started after all: SIGTERM stops it and all it started
            process.terminate()
            process.communicate(timeout=60)
    assert process.returncode == 2, err
    assert "IOC_WEBHOOK_SECRET_BAO_CAO_HIEN_TRUONG: not set; connectors.bao_cao_hien_truong" in err


def test_production_starts_with_the_webhooks_own_secret(tmp_path, monkeypatch, redis_server) -> None:
    """With IOC_WEBHOOK_SECRET_BAO_CAO_HIEN_TRUONG set, the secrets check passes."""
    for name in [k for k in os.environ if k.startswith("IOC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("IOC_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("IOC_WEBHOOK_SECRET_BAO_CAO_HIEN_TRUONG", "w" * 32)
    path = config(tmp_path, redis_server.url)
    Supervisor(load_settings(path), config_path=str(path))._refuse_missing_secrets()
    monkeypatch.delenv("IOC_WEBHOOK_SECRET_BAO_CAO_HIEN_TRUONG")
    with pytest.raises(ConfigError, match="IOC_WEBHOOK_SECRET_BAO_CAO_HIEN_TRUONG: not set"):
        Supervisor(load_settings(path), config_path=str(path))._refuse_missing_secrets()
