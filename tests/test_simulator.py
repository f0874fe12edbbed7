"""The simulated one-stop system: plausible, deterministic, and served as FEEDS.md §1 says."""

from __future__ import annotations

import collections
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ioc.simulators.http import SimulatorServer
from ioc.simulators.public_services import PublicServicesWorld

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(units) -> PublicServicesWorld:
    return PublicServicesWorld(units, seed=1, clock=lambda: NOW, history_days=30)


def test_same_seed_and_anchor_draw_the_same_world_a_day_later(units) -> None:
    """A restarted demo (same anchor, clock a day later) continues the same province."""
    first = PublicServicesWorld(units, seed=3, clock=lambda: NOW, history_days=5, anchor=NOW)
    later = PublicServicesWorld(
        units, seed=3, clock=lambda: NOW + timedelta(days=1), history_days=5, anchor=NOW
    )
    assert later.dossiers[: len(first.dossiers)] == first.dossiers
    unanchored = PublicServicesWorld(units, seed=3, clock=lambda: NOW + timedelta(days=1), history_days=5)
    assert unanchored.dossiers[:100] != first.dossiers[:100]


def test_every_district_and_most_communes_file_dossiers(world, units) -> None:
    latest = world.latest()
    places = {r["ma_dvhc"] for r in latest}
    assert set(units.level_codes("district")) <= places
    assert len(places & set(units.level_codes("commune"))) >= 90


def test_plausible_mix(world) -> None:
    """About half arrive online (51% in 2020), most are returned, some are late, some wait."""
    latest = world.latest()
    online = sum(r["kenh_nop"] == "truc_tuyen" for r in latest) / len(latest)
    assert 0.45 < online < 0.6
    statuses = collections.Counter(r["trang_thai"] for r in latest)
    assert set(statuses) == {
        "tiep_nhan",
        "dang_xu_ly",
        "cho_bo_sung",
        "da_tra_ket_qua",
        "tu_choi",
        "rut_ho_so",
    }
    returned = [r for r in latest if r["trang_thai"] == "da_tra_ket_qua"]
    late = sum(r["ngay_tra_ket_qua"] > r["han_xu_ly"] for r in returned) / len(returned)
    assert 0.02 < late < 0.15


def test_listing_pages_in_update_order_from_the_cursor(world) -> None:
    server = SimulatorServer({"/api/v1/hoso": world}).start()
    try:
        url = server.url + "/api/v1/hoso"
        since = "2026-11-19T00:00:00+07:00"
        one = httpx.get(url, params={"cap_nhat_tu": since, "trang": 1, "so_ban_ghi": 50}).json()
        two = httpx.get(url, params={"cap_nhat_tu": since, "trang": 2, "so_ban_ghi": 50}).json()
        times = [datetime.fromisoformat(r["cap_nhat_luc"]) for r in one["du_lieu"] + two["du_lieu"]]
        assert times == sorted(times) and times[0] >= datetime.fromisoformat(since)
        assert one["tong_so"] == two["tong_so"] > 100 and one["trang"] == 1
        past = httpx.get(url, params={"cap_nhat_tu": since, "trang": 10_000, "so_ban_ghi": 50}).json()
        assert past["du_lieu"] == []
        bad = httpx.get(url, params={"cap_nhat_tu": "2026-11-19T00:00:00"})
        assert bad.status_code == 400 and "no offset" in bad.json()["error"]
    finally:
        server.close()
