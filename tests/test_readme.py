"""The README stays true: every setting is documented, and the quick start has two commands."""

from __future__ import annotations

import re

from pydantic import BaseModel

from ioc.config import PROJECT_ROOT, Settings, SimulatorSettings
from ioc.connector import discover

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def keys_of(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out += keys_of(field.annotation, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def test_every_setting_is_in_the_configuration_reference() -> None:
    missing = [k for k in keys_of(Settings) if f"| `{k}`" not in README and f"| `{k}.<" not in README]
    assert missing == []


def test_every_connector_and_simulator_key_is_documented() -> None:
    for name, connector in discover().items():
        section = README.split(f"`connectors.{name}`", 1)[1]
        assert all(f"| `{key}` |" in section for key in connector.Config.model_fields), name
    section = README.split("`simulators.public_services` (", 1)[1]
    assert all(f"| `{key}` |" in section for key in SimulatorSettings.model_fields)


def test_quick_start_has_exactly_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["uv run app.py", "uv run pytest"]
