"""Dependencies point one way: the pipeline and the relay never load the web app, layouts or
scikit-learn (import-linter's contracts in pyproject.toml, and what each process really imports)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ioc.config import PROJECT_ROOT

# What a pipeline process or the relay must not load: the web app and its libraries, the pages,
# and the heavy libraries only one computation needs (scikit-learn, for the hotspots).
FORBIDDEN = (
    "layouts",
    "ioc.web",
    "ioc.api",
    "ioc.admin",
    "ioc.admin_accounts",
    "ioc.admin_rules",
    "ioc.alert_history",
    "ioc.silence_pages",
    "ioc.export_pages",
    "ioc.annotation_pages",
    "ioc.briefing_pages",
    "ioc.briefings",
    "jinja2",
    "xlsxwriter",
    "ioc.cards",
    "ioc.embeds",
    "ioc.login",
    "dash",
    "flask",
    "flask_babel",
    "babel",
    "plotly",
    "sklearn",
    "scipy",
)
CONNECTORS = sorted(f"connectors.{p.stem}" for p in (PROJECT_ROOT / "connectors").glob("[!_]*.py"))
SIMULATORS = sorted(f"ioc.simulators.{p.stem}" for p in (PROJECT_ROOT / "ioc/simulators").glob("[!_]*.py"))
# Every process the supervisor starts is ``python -m ioc.cli <component>``, which imports these.
ENTRIES = {
    "cli": ["ioc.cli"],
    "aggregator": ["ioc.aggregate", "ioc.alerts"],
    "relay": ["ioc.realtime"],
    "connector runner": ["ioc.runner"],
    "supervisor": ["ioc.supervisor"],
    "connectors": CONNECTORS,
    "simulators": SIMULATORS,
}
LINE = re.compile(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)")


def forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def import_chains(modules: list[str]) -> list[list[str]]:
    """The import chain (top-level module first) of every module a fresh interpreter loads while
    importing ``modules``, from ``-X importtime``: each module is printed after the modules it
    imported, one level of indentation deeper."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "; ".join(f"import {m}" for m in modules)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [(len(m.group(1)) // 2, m.group(2)) for m in map(LINE.match, run.stderr.splitlines()) if m]
    chains = []
    for i, (depth, name) in enumerate(rows):
        chain, level = [name], depth
        for parent_depth, parent in rows[i + 1 :]:
            if level == 0:
                break
            if parent_depth < level:
                chain.insert(0, parent)
                level = parent_depth
        chains.append(chain)
    return chains


def test_import_linter_contracts_are_kept() -> None:
    """`lint-imports` (the contracts in pyproject.toml's [tool.importlinter]) passes."""
    run = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("process", list(ENTRIES))
def test_pipeline_processes_load_nothing_of_the_web_app(process: str) -> None:
    """A fresh interpreter importing the process's modules loads no web module, no layouts, no
    scikit-learn; an offender is named with the chain that brought it in."""
    offenders = sorted((c for c in import_chains(ENTRIES[process]) if forbidden(c[-1])), key=len)
    shortest: dict[str, str] = {}  # one chain per offending package: how it first came in
    for chain in offenders:
        shortest.setdefault(chain[-1].split(".")[0], " -> ".join(chain))
    assert not shortest, f"{process} loads:\n" + "\n".join(shortest.values())


def test_alert_delivery_loads_no_page() -> None:
    """``ioc deliver`` writes messages in both languages (babel, the catalog) but never loads the
    pages' libraries."""
    chains = import_chains(["ioc.deliver", "ioc.cli"])
    loaded = {c[-1].split(".")[0] for c in chains} | {c[-1] for c in chains}
    assert not loaded & {"dash", "plotly", "sklearn", "ioc.web", "layouts.live"}, sorted(loaded)


def test_the_chain_names_the_offender() -> None:
    """The test above would say how a forbidden module came in (here, on purpose, Flask)."""
    chains = import_chains(["json", "layouts.i18n"])
    assert next(c for c in chains if c[-1] == "flask") == ["layouts.i18n", "flask"]


# Modules that belong to neither side: what the relay and the web app share (tokens, sessions,
# who may see what), the command line that starts every program, and the plugins' test kit.
SHARED = {
    "ioc.access",
    "ioc.audit",
    "ioc.auth",
    "ioc.disclosure",
    "ioc.fonts",
    "ioc.sessions",
    "ioc.throttle",
}
ROOTS = {"ioc.cli", "ioc.testing"}


def test_every_module_is_on_one_side_of_the_rule() -> None:
    """A new module of ``ioc`` is named in the contracts (pipeline, relay or web) or above as
    shared; otherwise the rule would silently not cover it."""
    import tomllib

    contracts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    pipeline, relay = contracts["contracts"][0], contracts["contracts"][1]
    sides = {
        "pipeline": set(pipeline["source_modules"]),
        "web": {m for m in pipeline["forbidden_modules"] if m.startswith("ioc.")},
        "relay": set(relay["source_modules"]),
        "shared": SHARED,
        "roots": ROOTS,
    }
    modules = [
        *sorted("ioc." + p.stem for p in (PROJECT_ROOT / "ioc").glob("*.py") if p.stem != "__init__"),
        "ioc.simulators",
    ]
    problems = []
    for module in modules:
        found = [side for side, names in sides.items() if module in names]
        if len(found) != 1:
            where = ", ".join(found) or "no side"
            problems.append(f"{module}: {where} (name it in pyproject.toml's contracts or in SHARED)")
    assert not problems, "\n".join(problems)
