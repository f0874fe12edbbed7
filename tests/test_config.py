"""Configuration: TOML plus IOC_ environment overrides, and one clear message per mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ioc.config import PROJECT_ROOT, ConfigError, load_settings
from ioc.connector import configure, discover


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ioc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_without_file_runs_every_simulator(monkeypatch) -> None:
    """No file: the demo, with the simulators of all five feeds and default ports."""
    monkeypatch.delenv("IOC_CONFIG", raising=False)
    monkeypatch.delenv("IOC_BOUNDARIES__SCHEME", raising=False)  # tests/conftest.py pins pre2025
    settings = load_settings()
    assert list(settings.simulators) == [
        "public_services",
        "citizen_feedback",
        "mobile_data",
        "vaccination",
        "national_index",
    ]
    assert settings.web.port == 8050 and settings.redis.url is None
    assert settings.boundaries.scheme == "2025"  # the province of today


def test_tuning_one_demo_simulator_keeps_the_others(monkeypatch) -> None:
    """An environment variable for one simulator tunes it; the demo still runs all five."""
    monkeypatch.delenv("IOC_CONFIG", raising=False)
    monkeypatch.setenv("IOC_SIMULATORS__PUBLIC_SERVICES__ACTIVITY", "200")
    settings = load_settings()
    assert set(settings.simulators) == {
        "public_services",
        "citizen_feedback",
        "mobile_data",
        "vaccination",
        "national_index",
    }
    assert settings.simulators["public_services"].activity == 200
    assert settings.simulators["vaccination"].activity == 10


def test_file_runs_only_what_it_configures(tmp_path) -> None:
    """With a file, no simulator starts unless the file asks for one."""
    path = write(
        tmp_path,
        '[redis]\nurl = "redis://10.0.0.5:6379/0"\n[connectors.public_services]\nurl = "http://dvc:8080"\n',
    )
    settings = load_settings(path)
    assert settings.simulators == {}
    assert settings.connectors == {"public_services": {"url": "http://dvc:8080"}}


def test_environment_overrides_file(tmp_path, monkeypatch) -> None:
    """IOC_WEB__PORT and IOC_CONNECTORS__<FEED>__<KEY> override the file."""
    path = write(
        tmp_path, '[web]\nport = 9000\n[connectors.public_services]\nurl = "http://a"\ninterval_s = 5\n'
    )
    monkeypatch.setenv("IOC_WEB__PORT", "9100")
    monkeypatch.setenv("IOC_CONNECTORS__PUBLIC_SERVICES__URL", "http://b")
    settings = load_settings(path)
    assert settings.web.port == 9100
    assert settings.connectors["public_services"] == {"url": "http://b", "interval_s": 5}


def test_config_file_from_environment(tmp_path, monkeypatch) -> None:
    """IOC_CONFIG names the file when --config is not given."""
    monkeypatch.setenv("IOC_CONFIG", str(write(tmp_path, "[web]\nport = 8123\n")))
    assert load_settings().web.port == 8123


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[web]\nport = "abc"\n', "web.port: Input should be a valid integer"),
        ("[web]\nport = 70000\n", "web.port: Input should be less than or equal to 65535 (got 70000)"),
        (
            "[aggregator]\nread_count = 0\n",
            "aggregator.read_count: Input should be greater than or equal to 1",
        ),
        ('[boundaries]\nscheme = "2030"\n', "boundaries.scheme: Input should be 'pre2025' or '2025'"),
        ('[redis]\nurll = "x"\n', "redis.urll: Extra inputs are not permitted"),
        ("[web\nport = 1\n", "not valid TOML"),
    ],
)
def test_bad_file_names_key_and_problem(tmp_path, text, message, monkeypatch) -> None:
    """Each mistake gives a message with the file, the key and the problem."""
    monkeypatch.delenv("IOC_BOUNDARIES__SCHEME", raising=False)  # the file's value is under test
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "nope.toml")


def test_connector_table_validated_by_its_own_config() -> None:
    """A connector's table is checked by that connector's Config, with the key as written."""
    registry = discover()
    with pytest.raises(ConfigError, match=r"ioc\.toml: connectors\.public_services\.url: .*URL"):
        configure("public_services", {"url": "not a url"}, source="ioc.toml", registry=registry)
    with pytest.raises(ConfigError, match=r"connectors\.nope: no such connector"):
        configure("nope", {}, source="ioc.toml", registry=registry)


def test_cli_prints_one_message_and_exits_2(tmp_path) -> None:
    """`app.py --config bad.toml` prints the problem, not a traceback."""
    path = write(tmp_path, '[web]\nport = "abc"\n')
    done = subprocess.run(
        [sys.executable, "app.py", "--config", str(path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "web.port" in done.stderr and "Traceback" not in done.stderr
