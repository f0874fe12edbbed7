"""One registry per feed: every part of the IOC asks ``ioc.registry`` (and the specs it names),
so a fifth feed is its own files plus one entry, and no module tells feeds apart by name."""

from __future__ import annotations

import ast
import os
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask

from ioc import cli
from ioc.api import kpi_blueprint
from ioc.config import PROJECT_ROOT, ConfigError, SimulatorSettings, default_alert_rules, load_settings
from ioc.connector import Context, connector_names
from ioc.contracts import contract_class, make_contract
from ioc.feeds import FEED_SPECS
from ioc.registry import FEEDS, Feed, Simulator, load
from ioc.supervisor import Supervisor
from ioc.units import UnitTable

BUILT_IN = ["public_services", "citizen_feedback", "mobile_data", "vaccination", "national_index"]
GIVEN = {"units", "geodata", "anchor", "directory"}  # what `ioc simulate` hands a simulated source

TOY = {
    "__init__.py": """
        from ioc.feeds import FeedSpec
        from ioc.kpis import Kpi
        from ioc.schemas import schema_of
        from ioc.validate import Field

        FIELDS = (Field("ma", "id"), Field("ma_dvhc", "unit_code", "unit"), Field("cap_nhat_luc", "updated_at", "time"))

        SPEC = FeedSpec(
            name="toy",
            title="Đồ chơi",
            schema=schema_of(FIELDS),
            key="id",
            version="updated_at",
            kpis=(Kpi("records", "count", "Bản ghi", "bản ghi", "higher"),),
            compute=lambda records, rollup, as_of: records,
            series=lambda *args, **kwargs: None,
            measures=("records",),
            contract="ioc_toy.contract:ToyContract",
            default_kpi="records",
        )


        class ToyWorld:
            def __init__(self, units, *, seed):
                self.units, self.seed = units, seed
    """,
    "contract.py": """
        from pydantic import BaseModel, ConfigDict

        from ioc.contracts import Contract
        from ioc_toy import FIELDS, SPEC


        class ToyOptions(BaseModel):
            model_config = ConfigDict(extra="forbid")
            level: int = 1


        class ToyContract(Contract):
            fields = FIELDS
            schema = SPEC.schema
            Options = ToyOptions

            def __init__(self, options):
                self.options = options

            @classmethod
            def build(cls, options, context):
                return cls(options)
    """,
    "connector.py": """
        from typing import ClassVar

        import polars as pl
        from pydantic import BaseModel, ConfigDict

        from ioc.connector import Batch


        class ToyConnector:
            name: ClassVar[str] = "toy"
            feed: ClassVar[str] = "toy"

            class Config(BaseModel):
                model_config = ConfigDict(extra="forbid")
                url: str = "http://127.0.0.1:9"
                interval_s: float = 30.0

            def __init__(self, config, *, context):
                self.config = config

            def check(self):
                return "toy"

            def poll(self, cursor):
                return Batch(pl.DataFrame(), cursor)
    """,
}
TOY_FEED = Feed(
    "toy",
    "ioc_toy:SPEC",
    Simulator("ioc_toy:ToyWorld", {"units": "units", "seed": "seed"}, path="/api/v1/do-choi"),
    secrets={"IOC_TOY_KEY": "the toy's keys"},
    alerts={"toy_it": {"kpi": "records", "level": "province", "below": 1, "title": "ít bản ghi"}},
)


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fifth feed installed beside the project as a package of its own (spec, contract,
    connector with its entry point, simulated source), and its one entry in the registry."""
    site = tmp_path / "site"
    (site / "ioc_toy").mkdir(parents=True)
    for name, text in TOY.items():
        (site / "ioc_toy" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    info = site / "ioc_toy-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ioc-toy\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[ioc.connectors]\ntoy = ioc_toy.connector:ToyConnector\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(FEEDS, "toy", TOY_FEED)
    for name in [k for k in os.environ if k.startswith("IOC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("IOC_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path
    for module in [m for m in sys.modules if m == "ioc_toy" or m.startswith("ioc_toy.")]:
        del sys.modules[module]


def context() -> Context:
    return Context(units=UnitTable.load(PROJECT_ROOT / "geodata", "pre2025"), http=httpx.Client())


def test_every_built_in_feed_is_registered_once_with_its_spec_contract_and_simulator() -> None:
    """The registry lists the built-in feeds; each one's spec, contract class and simulated source
    are where its entry says, and its simulator asks only for settings that exist."""
    assert list(FEEDS) == BUILT_IN and list(FEED_SPECS) == BUILT_IN
    settings = set(SimulatorSettings.model_fields)
    for name, feed in FEEDS.items():
        assert FEED_SPECS[name].name == name
        assert contract_class(name).schema == FEED_SPECS[name].schema
        assert feed.simulator is not None and callable(load(feed.simulator.source))
        assert set(feed.simulator.arguments.values()) <= settings | GIVEN, name
        assert bool(feed.simulator.path) != bool(feed.simulator.folder), name
    assert {f"{name}_ngung" for name in FEEDS} <= set(default_alert_rules())


def test_a_fifth_feed_is_its_own_files_and_one_registry_entry(toy: Path) -> None:
    """Registered once, a fifth feed gets the demo's simulator and alert rules, the supervisor's
    processes and secrets, its contract with its own options, `ioc simulate` and the API."""
    settings = load_settings()
    assert list(settings.simulators) == [*BUILT_IN, "toy"]
    assert settings.alerts["toy_ngung"].kind == "stale" and settings.alerts["toy_it"].kpi == "records"
    assert FEED_SPECS["toy"].kpi("records").better == "higher"

    supervisor = Supervisor(settings, config_path=None)
    assert supervisor._demo_secrets()["IOC_TOY_KEY"] == "the toy's keys"
    env: dict[str, str] = {}
    simulators, others = supervisor.plan(env)
    names = {c.name for c in [*simulators, *others]}
    assert {"simulator:toy", "connector:toy", "aggregator:toy"} <= names
    assert env["IOC_CONNECTORS__TOY__URL"].startswith("http://127.0.0.1:")
    assert connector_names(settings)["toy"] == ["toy"]

    world = cli._simulated_source(settings, settings.simulators["toy"], TOY_FEED.simulator)
    assert world.seed == 2026 and "706" in world.units.codes

    assert make_contract("toy", {"level": 3}, context()).options.level == 3
    with pytest.raises(ConfigError, match=r"options\.nope: Extra inputs"):
        make_contract("toy", {"nope": 1}, context())
    with pytest.raises(ConfigError, match=f"feeds: {', '.join(BUILT_IN)}, toy$"):
        make_contract("nope", None, context())


def test_the_api_knows_a_registered_fifth_feed(toy: Path) -> None:
    """`/api/v1/kpis` lists the fifth feed among the known ones and takes it as a feed."""
    app = Flask(__name__)
    app.register_blueprint(kpi_blueprint(None, UnitTable.load(PROJECT_ROOT / "geodata", "pre2025"), {}))
    client = app.test_client()
    unknown = client.get("/api/v1/kpis?feed=nope&window=7d")
    assert unknown.status_code == 400 and unknown.json["error"].endswith("vaccination, toy")
    known = client.get("/api/v1/kpis?feed=toy&window=nope")
    assert known.status_code == 400 and "unknown feed" not in known.json["error"]


def test_production_needs_the_secrets_a_registered_feed_names(toy: Path, monkeypatch) -> None:
    """A configured connector of a feed whose entry names a secret stops production without it."""
    path = toy / "ioc.toml"
    path.write_text(f'[auth]\nusers_file = "{toy / "users.toml"}"\n[connectors.toy]\n', encoding="utf-8")
    monkeypatch.setenv("IOC_SECRET_KEY", "k" * 32)
    with pytest.raises(ConfigError, match="IOC_TOY_KEY: not set; production needs it for the toy's keys"):
        Supervisor(load_settings(path), config_path=str(path))._refuse_missing_secrets()
    monkeypatch.setenv("IOC_TOY_KEY", "t" * 32)
    Supervisor(load_settings(path), config_path=str(path))._refuse_missing_secrets()


def feed_comparisons(paths: Iterable[Path]) -> list[str]:
    """Every comparison of something with a registered feed's name (``feed == "vaccination"``,
    ``feed in ("a", "b")``) in the Python files ``paths``."""

    def names(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value} & set(FEEDS)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return set().union(*(names(e) for e in node.elts))
        return set()

    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(names(n) for n in [node.left, *node.comparators]):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_tells_feeds_apart_by_name() -> None:
    """What differs between feeds is a property of their spec or registry entry, never a branch
    on a feed's name."""
    roots = [PROJECT_ROOT / root for root in ("ioc", "connectors", "layouts")]
    assert feed_comparisons(path for root in roots for path in sorted(root.rglob("*.py"))) == []


def test_the_check_finds_a_branch_on_a_feed_name(tmp_path: Path) -> None:
    """The check above finds an equality and a membership test against feed names."""
    code = tmp_path / "branchy.py"
    code.write_text('if feed == "vaccination":\n    pass\nok = "x" not in ("mobile_data", "y")\n')
    assert feed_comparisons([code]) == [
        "branchy.py:1: feed == 'vaccination'",
        "branchy.py:3: 'x' not in ('mobile_data', 'y')",
    ]
