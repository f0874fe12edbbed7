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


# ---- cards and embeds of areas and communes -------------------------------------------------------

SMALL, SISTER = "25486", "25489"  # two communes of Khu vực Tân Biên cũ: 7 doses (hidden) and 20
LONELY = "798"  # Khu vực Mộc Hóa cũ: two communes, 4 doses in all (hidden, and a sister area with it)


@pytest.fixture
def cards_2025(r, redis_server, new):
    """The dossiers counted, and vaccination doses written as the aggregator writes them: 150 in
    every commune but three (7, 20, and 4 with 0 beside it), each unit's the sum of its communes'."""
    from ioc.web import create_app
    from tests.processes import app_settings

    with counted_2025(r, new):
        doses = {c: 150 for c in new.level_codes("commune")} | {SMALL: 7, SISTER: 20}
        first, *rest = new.children(LONELY)
        doses |= {first: 4} | dict.fromkeys(rest, 0)
        for level in ("area", "province"):
            for code in new.level_codes(level):
                doses[code] = sum(doses[c] for c in new.communes_of(code))
        r.hset(keys.snapshot("vaccination"), keys.META_FIELD, json.dumps({"as_of": AS_OF.isoformat()}))
        for code, n in doses.items():
            doc = json.dumps({"kpis": {"doses": {"value": n}}})
            r.hset(keys.snapshot("vaccination"), keys.snapshot_field(code, "7d"), doc)
        app = create_app(app_settings(redis_server, boundaries={"scheme": "2025"}), r)
        yield app, doses


def test_a_card_of_an_area_and_of_a_commune_names_it(cards_2025, new) -> None:
    app, _doses = cards_2025
    http = app.server.test_client()
    area = http.get(f"/api/v1/cards/public_services.on_time_rate?unit={TAN_BIEN}").get_json()
    assert (area["unit"], area["unit_name"], area["text"]) == (TAN_BIEN, "Khu vực Tân Biên cũ", "50,0%")
    assert area["approximate"] == (TAN_BIEN in new.approximate)
    commune = http.get("/api/v1/cards/public_services.received?unit=25486").get_json()
    assert (commune["unit_name"], commune["value"], commune["text"]) == (new.name("25486"), 1, "1 hồ sơ")
    wrong = http.get("/api/v1/cards/public_services.received?unit=25456")  # old Phường 1: no 2025 unit
    assert wrong.status_code == 400 and "unknown unit '25456' in scheme 2025" in wrong.get_json()["error"]


def test_small_counts_are_hidden_at_areas_and_communes_as_everywhere(cards_2025, new) -> None:
    """k = 10: a commune's 7 doses and the 20 of its sister (which with the area's total would
    give the 7 back) read "dưới 10"; an area of 4 doses too, and another area with it, since the
    province's total is shown; the rest as counted. The area's map card hides the same communes."""
    app, doses = cards_2025
    http = app.server.test_client()

    def card(unit: str) -> dict[str, Any]:
        return http.get(f"/api/v1/cards/vaccination.doses?unit={unit}").get_json()

    for unit in (SMALL, SISTER, LONELY):
        shown = card(unit)
        assert shown["hidden"] and shown["value"] is None and shown["text"] == "dưới 10", unit
    area = card(TAN_BIEN)
    assert not area["hidden"] and area["value"] == doses[TAN_BIEN] == 7 + 20 + 150 * 3
    assert card("80")["value"] == doses["80"]
    hidden_areas = [a for a in new.level_codes("area") if card(a)["hidden"]]
    assert LONELY in hidden_areas and len(hidden_areas) >= 2, hidden_areas
    mapped = http.get(f"/api/v1/cards/vaccination.doses.map?unit={TAN_BIEN}").get_json()
    assert {u["code"] for u in mapped["units"]} == set(new.children(TAN_BIEN))
    assert {u["code"] for u in mapped["units"] if u["hidden"]} == {SMALL, SISTER}
    of_commune = http.get(f"/api/v1/cards/vaccination.doses.map?unit={SISTER}")
    assert of_commune.status_code == 200, of_commune.get_data(as_text=True)
    assert of_commune.get_json()["units"] == mapped["units"]  # its area's communes, itself outlined
    assert of_commune.get_json()["focus"] == SISTER


def test_an_embed_of_an_area_opens_with_its_token(cards_2025) -> None:
    from tests.processes import logged_in

    app, _doses = cards_2025
    admin = logged_in(app, "quantri")
    minted = admin.post(
        "/api/v1/embed-tokens", json={"panel": "public_services.on_time_rate", "unit": TAN_BIEN}
    )
    assert minted.status_code == 200, minted.get_data(as_text=True)
    page = app.server.test_client().get(minted.get_json()["url"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Khu vực Tân Biên cũ" in text and "50,0%" in text
