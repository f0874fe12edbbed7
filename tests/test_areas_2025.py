"""Areas and communes of the 2025 scheme through the real pipeline: dossiers coded in 2025 in three
areas, counted by the public_services aggregator in the province of today (80 → 24 areas → 96
communes). The records and the pipeline serve the 2025 tests of the alerts, the wall, the
scorecard and the cards (``tests/test_alerts.py`` ...); what is checked here is that the areas get
their indicator documents from the rollup like any unit.

as_of is Sunday 22/11/2026 10:00 (+07), as in ``tests/test_kpis.py``. By hand, with every dossier
submitted online and digitised, none with a fee:

    unit                         resolved 7 days   on time   open overdue   2.1 (November)
    25486 (Khu vực Tân Biên cũ)  T1 on time, T2 late  50%     T3             1 / 3
    25516 (Khu vực Tân Châu cũ)  U1 U2 late          0%                     0 / 2
    25522 (Khu vực Tân Châu cũ)  V1..V8 on time      100%                   8 / 8
    27931 (Khu vực Đức Hòa cũ)   W1..W3 on time      100%     W4 W5         3 / 5

so the areas: 705 50% (1 / 3 in 2.1), 706 80% (8 / 10), 802 100% (3 / 5), the others nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import redis

from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from ioc import keys
from ioc.alerts import Alerts
from ioc.connector import Context
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.units import UnitTable
from tests.pipeline import FeedPipeline
from tests.test_kpis import AS_OF, dossier

TAN_BIEN, TAN_CHAU, DUC_HOA = "705", "706", "802"  # areas (the former districts' codes)
MONTH = "2026-11"


def resolved(ma: str, unit: str, received: str, deadline: str, returned: str) -> dict[str, Any]:
    return dossier(
        ma,
        unit,
        received,
        deadline,
        "da_tra_ket_qua",
        returned,
        ngay_tra_ket_qua=f"2026-11-{returned}+07:00",
        kenh_nop="truc_tuyen",
    )


def still_open(ma: str, unit: str, received: str, deadline: str) -> dict[str, Any]:
    return dossier(ma, unit, received, deadline, "dang_xu_ly", received, kenh_nop="truc_tuyen")


RECORDS = [
    resolved("T1", "25486", "18T08:00:00", "21T08:00:00", "20T16:00:00"),  # on time
    resolved("T2", "25486", "10T08:00:00", "14T08:00:00", "16T08:00:00"),  # late
    still_open("T3", "25486", "10T08:00:00", "12T08:00:00"),  # overdue
    *(resolved(f"U{i}", "25516", "17T08:00:00", "18T08:00:00", "19T08:00:00") for i in (1, 2)),  # late
    *(resolved(f"V{i}", "25522", "19T08:00:00", "21T08:00:00", "20T08:00:00") for i in range(1, 9)),
    *(resolved(f"W{i}", "27931", "19T08:00:00", "21T08:00:00", "20T08:00:00") for i in (1, 2, 3)),
    *(still_open(f"W{i}", "27931", "05T08:00:00", "12T08:00:00") for i in (4, 5)),  # overdue
]
ON_TIME_7D = {TAN_BIEN: 1 / 2, TAN_CHAU: 8 / 10, DUC_HOA: 1.0, "25486": 1 / 2, "25516": 0.0, "25522": 1.0}
INDEX_21 = {TAN_BIEN: (1, 3), TAN_CHAU: (8, 10), DUC_HOA: (3, 5)}


@pytest.fixture(scope="session")
def new(geodata) -> UnitTable:
    return UnitTable.load(geodata, "2025")


@contextmanager
def counted_2025(
    client: redis.Redis, units: UnitTable, alerts: Alerts | None = None
) -> Iterator[FeedPipeline]:
    """``RECORDS`` from a one-stop system coded in 2025, through the connector, Redis and the
    aggregator of the 2025 scheme (with ``alerts``, if given)."""
    assert units.scheme == "2025"
    listing = RecordListing("ma_ho_so", RECORDS)
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    http = httpx.Client()
    config = PublicServicesConfig(url=server.url, page_size=5, max_pages=5, coding="2025")  # type: ignore[arg-type]
    context = Context(units=units, http=http, clock=lambda: AS_OF)
    pipe = FeedPipeline(client, units, PublicServicesConnector(config, context=context), lambda: AS_OF)
    if alerts is not None:
        pipe.aggregator.alerts = alerts
    try:
        pipe.sync()
        assert pipe.dead_letters() == [], "every record is a 2025 unit's"
        yield pipe
    finally:
        pipe.aggregator.release()
        http.close()
        server.close()


def test_the_records_lie_in_the_areas_the_table_says(new) -> None:
    """The hand count's premises: the communes' areas and names."""
    assert new.middle == "area" and len(new.level_codes("area")) == 24
    assert {c: new.parent(c) for c in ("25486", "25516", "25522", "27931")} == {
        "25486": TAN_BIEN,
        "25516": TAN_CHAU,
        "25522": TAN_CHAU,
        "27931": DUC_HOA,
    }
    assert new.name(TAN_BIEN) == "Khu vực Tân Biên cũ" and new.parent(TAN_BIEN) == "80"


def test_the_areas_get_their_kpis_and_indicator_documents_from_the_rollup(r, new) -> None:
    """Each area's 7-day on-time rate and its November 2.1 counts are its communes' (by hand);
    every area's indicator document adds up its communes', and the province's its areas'."""
    with counted_2025(r, new) as pipe:
        for unit, rate in ON_TIME_7D.items():
            got = pipe.kpis(unit, "7d")["on_time_rate"]["value"]
            assert got == pytest.approx(rate), f"{unit}: on time {got}, by hand {rate}"
        stored = r.hgetall(keys.snapshot("public_services"))

        def counts(unit: str) -> tuple[int, int]:
            raw = stored.get(f"_index766|{unit}|{MONTH}".encode())
            if raw is None:
                return (0, 0)
            entry = json.loads(raw).get("2.1") or {"numerator": 0, "denominator": 0}
            return (entry["numerator"], entry["denominator"])

        for area, hand in INDEX_21.items():
            assert counts(area) == hand, f"area {area}: 2.1 {counts(area)}, by hand {hand}"
        for area in new.level_codes("area"):
            communes = [counts(c) for c in new.children(area)]
            assert counts(area) == tuple(map(sum, zip(*communes, strict=True))), area
        areas = [counts(a) for a in new.level_codes("area")]
        assert counts("80") == tuple(map(sum, zip(*areas, strict=True))) == (12, 18)
