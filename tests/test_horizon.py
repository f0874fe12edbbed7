"""Mobile data past its re-delivery horizon: rows dropped from the state, their sums kept and
saved, a re-delivery that late a dead letter, never a double count; a restart counts the same."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.drop_folder import MobileDataConfig, MobileDataConnector
from ioc import keys
from ioc.aggregate import Aggregator
from ioc.config import AggregatorSettings, ConfigError
from ioc.connector import Context
from ioc.feeds import FEED_SPECS
from ioc.ledger import FIELD
from tests import oracle
from tests.pipeline import FeedPipeline
from tests.test_mobile_data import FIRST, drop, row

START = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def pipeline(r, units, geodata, tmp_path):
    clock = Clock(START)
    config = MobileDataConfig(drop_dir=tmp_path)
    context = Context(units=units, http=httpx.Client(), clock=clock, geodata=geodata)
    run = FeedPipeline(r, units, MobileDataConnector(config, context=context), clock)
    run.folder, run.clock = tmp_path, clock  # type: ignore[attr-defined]
    return run


def figures(pipeline: Any, window: str = "7d") -> tuple[float, int]:
    kpis = pipeline.kpis("72", window)
    return kpis["traffic_gb"]["value"], kpis["subscribers"]["value"]


def test_past_the_horizon_rows_go_their_sums_stay_and_a_late_row_is_not_counted_twice(
    r, units, pipeline
) -> None:
    spec = FEED_SPECS["mobile_data"]
    drop(pipeline.folder, "viettel_202611220800.csv", FIRST)
    pipeline.sync()
    before = figures(pipeline)
    assert before == (1536 / 1024, 150), "the two valid rows of 08:00 are counted"
    assert pipeline.aggregator.state.frame.height == 2

    pipeline.clock.now = START + timedelta(hours=25)  # the 24-hour horizon has passed 08:00 of the 22nd
    drop(pipeline.folder, "viettel_202611231000.csv", row("A", "5G", "08:00", 10, 0, 7).replace("22T", "23T"))
    pipeline.sync()
    aggregator = pipeline.aggregator
    assert aggregator.folded == 2, "the rows of the 22nd were not dropped past the horizon"
    assert aggregator.state.frame.height == 1, "only the row within the horizon is held"
    assert figures(pipeline) == (1546 / 1024, 157), "the dropped rows' sums are no longer counted"

    # The operator sends the file of the 22nd again: too late to replace anything.
    drop(pipeline.folder, "viettel_202611220800.csv", FIRST.replace("1000,24", "1000,25"))
    pipeline.sync()
    assert figures(pipeline) == (1546 / 1024, 157), "a re-delivery past the horizon was counted again"
    letters = [d for d in pipeline.dead_letters() if "horizon" in d["reason"]]
    assert len(letters) == 1, letters
    assert "2 row(s) with period_start before the re-delivery horizon" in letters[0]["reason"]
    assert letters[0]["source"] == "aggregator"

    # The hourly series still has 08:00 of the 22nd, from the sums.
    series = json.loads(r.hget(keys.series(spec.name), "72"))
    assert sum(v for v in series["traffic_gb"] if v) == pytest.approx(1546 / 1024, abs=0.002)

    # Saved: a new worker restores the sums no record holds and counts the same.
    saved = r.hgetall(keys.checkpoint(spec.name))
    assert any(name.startswith(FIELD) for name in saved), "the sums were not saved with the checkpoint"
    aggregator.release()
    again = Aggregator(r, spec, units, AggregatorSettings(interval_s=0.05), clock=pipeline.clock)  # type: ignore[call-arg]
    assert again.open()
    again.drain()
    assert again.state is not None and again.state.frame.height == 1
    assert figures(pipeline) == (1546 / 1024, 157)
    assert figures(pipeline, "mtd") == (1546 / 1024, 157)


def test_a_horizon_only_for_a_feed_whose_sums_stand_alone(r, units) -> None:
    settings = AggregatorSettings(horizons_h={"public_services": 48})  # type: ignore[call-arg]
    with pytest.raises(
        ConfigError, match=r"horizons_h\.public_services: the public_services feed's KPIs need"
    ):
        Aggregator(r, FEED_SPECS["public_services"], units, settings)
    with pytest.raises(ValueError, match="'nope' is not a feed"):
        AggregatorSettings(horizons_h={"nope": 48})  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="a horizon is at least 1 hour"):
        AggregatorSettings(horizons_h={"mobile_data": 0.5})  # type: ignore[call-arg]


def test_a_worker_whose_clock_lags_refuses_what_another_dropped(r, units, pipeline) -> None:
    """Where rows were dropped is saved with the sums: a worker that takes over with a clock two
    hours behind still refuses a re-delivery of a dropped row (its own clock would take it)."""
    spec = FEED_SPECS["mobile_data"]
    drop(pipeline.folder, "viettel_202611221000.csv", row("A", "5G", "10:00", 100, 0, 20))
    pipeline.sync()
    pipeline.clock.now = START + timedelta(hours=25, minutes=30)  # the 10:00 row is dropped
    pipeline.aggregator.drain()
    assert pipeline.aggregator.state.frame.height == 0 and pipeline.aggregator.folded == 1
    assert figures(pipeline) == (100 / 1024, 20)
    pipeline.aggregator.release()

    lagging = Clock(START + timedelta(hours=23, minutes=30))  # 10:00 of the 22nd within its 24 h
    again = Aggregator(r, spec, units, AggregatorSettings(interval_s=0.05), clock=lagging)  # type: ignore[call-arg]
    assert again.open()
    pipeline.aggregator = again
    drop(
        pipeline.folder,
        "viettel_202611221000.csv",
        row("A", "5G", "10:00", 100, 0, 20).replace(",100,", ",101,"),
    )
    pipeline.sync()
    assert figures(pipeline) == (100 / 1024, 20), "a re-delivery of a dropped row was counted again"
    assert [d for d in pipeline.dead_letters() if "horizon" in d["reason"]], "no dead letter says why"


def test_figures_move_on_with_the_clock_once_every_row_is_dropped(r, units, pipeline) -> None:
    """With no row held (a weekend without files), the sums still answer: a new day's cycle
    publishes a new time of figures and today's window empties."""
    drop(pipeline.folder, "viettel_202611220800.csv", FIRST)
    pipeline.sync()
    pipeline.clock.now = START + timedelta(days=2)
    pipeline.aggregator.drain()
    aggregator = pipeline.aggregator
    assert aggregator.state.frame.height == 0 and aggregator.ledger.rows > 0
    pipeline.clock.now = START + timedelta(days=3)
    aggregator.last_compute = 0.0  # the recompute interval has passed
    aggregator.cycle(entries=[])
    snapshot = json.loads(r.hget(keys.snapshot(FEED_SPECS["mobile_data"].name), keys.META_FIELD))
    assert datetime.fromisoformat(snapshot["as_of"]) == START + timedelta(days=3), (
        "no cycle once the state emptied"
    )
    assert figures(pipeline, "today") == (0.0, 0)
    assert figures(pipeline, "mtd") == (1536 / 1024, 150)
