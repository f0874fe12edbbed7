"""Aggregator worker processes and how far they are, for the tests that kill them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from ioc import keys
from ioc.config import PROJECT_ROOT
from ioc.streams import stream_progress
from tests import oracle
from tests.wait import wait_until

FEED = "public_services"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def start_aggregator(redis_url: str, feed: str = FEED) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        IOC_REDIS__URL=redis_url,
        IOC_AGGREGATOR__READ_COUNT="1",
        IOC_AGGREGATOR__INTERVAL_S="0.05",
        IOC_AGGREGATOR__CLAIM_IDLE_S="0.5",
        IOC_AGGREGATOR__LEASE_TTL_S="1",
        IOC_AGGREGATOR__STATE_BUCKETS="16",
        IOC_AGGREGATOR__CHECKPOINT_S="0.3",
        IOC_LOG_LEVEL="WARNING",
    )
    env.pop("IOC_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "ioc.cli", "aggregate", feed], env=env, cwd=PROJECT_ROOT)


def progress(r, feed: str = FEED) -> dict[str, int]:
    return stream_progress(r, feed)


def settled(r, feed: str = FEED) -> bool:
    now = progress(r, feed)
    return now["length"] > 0 and now["pending"] == 0 and now["undelivered"] == 0


@contextmanager
def killed_three_times(r, redis_url: str, runner: Any, clock: Clock, feed: str = FEED) -> Iterator[int]:
    """Three of the source's days, each polled to its end, the aggregator SIGKILLed once it has
    acknowledged some entries of the round but not all, and started again; yields the kills once
    the last worker has settled the stream (every entry acknowledged, with the snapshot of its
    cycle), and stops that worker on leaving."""
    worker = start_aggregator(redis_url, feed)
    kills = 0
    try:
        for day in range(3):
            clock.now += timedelta(days=1) if day else timedelta(0)  # the source's records change
            while runner.run_once():
                pass
            base = progress(r, feed)["done"]
            wait_until(
                lambda base=base: progress(r, feed)["done"] >= base + 3,
                60,
                "the worker acknowledged nothing",
                interval=0.02,
            )
            assert not settled(r, feed), "the worker finished before it could be killed mid-run"
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = start_aggregator(redis_url, feed)
        wait_until(
            lambda: settled(r, feed), 120, "the restarted worker did not finish the stream", interval=0.1
        )
        yield kills
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)


def matches_truth(snapshot: dict[str, bytes], truth: list[dict], units) -> None:
    """The snapshot's KPIs are the oracle's over the source's records, for the province, every
    district and a tenth of the communes, in every window."""
    meta = json.loads(snapshot[keys.META_FIELD])
    assert meta["records"] == len(truth), f"{meta['records']} records counted, the source has {len(truth)}"
    as_of = datetime.fromisoformat(meta["as_of"])
    parents = dict(zip(units.frame["code"], units.frame["parent_code"], strict=True))
    checked = ["72", *units.level_codes("district"), *units.level_codes("commune")[::10]]
    for unit in checked:
        mine = oracle.counts_for(truth, unit, parents)
        for window in ("today", "7d", "30d", "mtd", "ytd"):
            got = json.loads(snapshot[f"{unit}|{window}"])["kpis"]
            assert oracle.same(got, oracle.public_services(mine, as_of, window)), (unit, window, got)
