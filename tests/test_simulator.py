"""The simulated sources: plausible, deterministic, served as FEEDS.md says, and, given the units
of today's province, spread over all its communes and coded by date."""

from __future__ import annotations

import collections
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import httpx
import numpy as np
import polars as pl
import pytest
import shapely

from ioc.config import load_settings
from ioc.connector import configure, connector_tables, discover
from ioc.crosswalk import Crosswalk
from ioc.simulators.citizen_feedback import CitizenFeedbackWorld
from ioc.simulators.coding import code_scheme
from ioc.simulators.http import SimulatorServer
from ioc.simulators.mobile_data import MobileOperators
from ioc.simulators.public_services import PublicServicesWorld
from ioc.simulators.timeline import DAY, TZ
from ioc.simulators.vaccination import VaccinationWorld
from ioc.units import UnitTable

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


# ---- the province of today (the 2025 units): every commune, coded by date -------------------

SWITCH = datetime(2025, 7, 1, tzinfo=TZ)  # 00:00 local: the 2025 codes from then on
FINAL = {"da_tra_ket_qua", "tu_choi", "rut_ho_so"}


@pytest.fixture(scope="module")
def new(geodata) -> UnitTable:
    return UnitTable.load(geodata, "2025")


@pytest.fixture(scope="module")
def crosswalk(new, geodata) -> Crosswalk:
    return Crosswalk.load(geodata, None, set(new.level_codes("commune")))


@pytest.fixture(scope="module")
def world_2025(new) -> PublicServicesWorld:
    """Today's province late in 2026: 30 days of full history, and an archive before the switch."""
    return PublicServicesWorld(new, seed=1, clock=lambda: NOW, history_days=30)


def old_long_an(new: UnitTable, crosswalk: Crosswalk) -> set[str]:
    """The 2025 communes made of old Long An's communes."""
    return {
        c for c in new.level_codes("commune") if crosswalk.old_province[crosswalk.old_units[c][0]] == "80"
    }


def spearman(counts: dict[str, int], units: UnitTable, codes: list[str]) -> float:
    pops = dict(zip(units.frame["code"], units.frame["pop_2019"], strict=True))
    frame = pl.DataFrame({"n": [counts.get(c, 0) for c in codes], "pop": [pops[c] for c in codes]})
    return float(frame.select(pl.corr("n", "pop", method="spearman")).item())


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def check_code(
    code: str, commune: str, at: datetime, crosswalk: Crosswalk, *, district: bool = False
) -> None:
    """``code`` is what a record of the 2025 ``commune`` with event time ``at`` must carry: before the
    switch a pre-2025 commune whose records count in ``commune`` (or, ``district``, its district),
    after it the commune's own 2025 code."""
    scheme = code_scheme("2025", at.timestamp())
    assert scheme == ("pre2025" if at < SWITCH else "2025")
    if scheme == "2025":
        assert code == commune, f"{at}: {code} is not the 2025 commune {commune}"
        return
    olds = [o for o in crosswalk.old_units[commune] if crosswalk.target[o] == commune]
    if district:
        assert code in {crosswalk.old_district[o] for o in olds}, (
            f"{at}: {code} is no old district of {commune}"
        )
    else:
        assert code in olds, f"{at}: {code} is no old commune counted in {commune} ({olds})"


def test_every_commune_of_todays_province_files_dossiers_in_a_day(world_2025, new, crosswalk) -> None:
    """With the 2025 units, a working day's dossiers come from all 96 communes, old Long An's 60
    included, each at its 2025 code, in proportion to population."""
    day = [r for r in world_2025.latest() if r["ngay_tiep_nhan"].startswith("2026-11-19")]  # a Thursday
    communes = new.level_codes("commune")
    filed = collections.Counter(r["ma_dvhc"] for r in day)
    assert len(communes) == 96 and len(old_long_an(new, crosswalk)) == 60
    assert set(filed) == set(communes), f"no dossier from {sorted(set(communes) - set(filed))}"
    assert all(r["ma_don_vi"] == f"UBND-{r['ma_dvhc']}" for r in day)  # no districts since July 2025
    month = collections.Counter(
        d.place for d in world_2025.dossiers if d.received >= NOW.timestamp() - 30 * DAY
    )
    assert spearman(month, new, communes) > 0.9
    long_an = sum(month[c] for c in old_long_an(new, crosswalk)) / sum(month.values())
    assert 0.5 < long_an < 0.7, f"old Long An filed {long_an:.0%} of the month's dossiers (59% of the people)"


def test_dossiers_carry_the_code_of_the_day_they_were_received(new, crosswalk) -> None:
    """Received before 1 July 2025 (local): a pre-2025 code, an old commune of its 2025 commune
    (old Long An's too) or, for a district's procedure, that old commune's district; from then on the
    2025 commune's code. A dossier keeps its code in every version, after the switch too."""
    now = [datetime(2025, 7, 15, 3, 0, tzinfo=UTC)]  # a full history from two weeks before the switch
    world = PublicServicesWorld(new, seed=4, clock=lambda: now[0], history_days=28, daily_dossiers=500)
    first = {r["ma_ho_so"]: r for r in world.latest()}
    by_id = {d.id: d for d in world.dossiers}
    schemes = collections.Counter()
    for record in first.values():
        dossier = by_id[record["ma_ho_so"]]
        received = local(record["ngay_tiep_nhan"])
        check_code(
            record["ma_dvhc"],
            dossier.place,
            received,
            crosswalk,
            district=dossier.procedure.level == "district",
        )
        assert world.coding.scheme_at(received.timestamp()) == code_scheme("2025", received.timestamp())
        schemes[(code_scheme("2025", received.timestamp()), dossier.procedure.level)] += 1
        assert record["ma_don_vi"].startswith(
            "BPMC-" if received < SWITCH and dossier.procedure.level == "district" else "UBND-"
        )
    assert min(schemes.values()) > 100, schemes  # both schemes, both levels
    pre = [r for r in first.values() if local(r["ngay_tiep_nhan"]) < SWITCH]
    assert {crosswalk.old_province[r["ma_dvhc"]] for r in pre} == {"72", "80"}
    assert any(local(r["cap_nhat_luc"]) >= SWITCH for r in pre)  # listed after the switch, coded before
    now[0] += timedelta(days=6)
    later = {r["ma_ho_so"]: r for r in world.latest()}
    changed = [i for i in first if later[i]["cap_nhat_luc"] != first[i]["cap_nhat_luc"]]
    assert len(changed) > 100
    assert all(later[i]["ma_dvhc"] == first[i]["ma_dvhc"] for i in changed)


def test_the_switch_is_midnight_in_ho_chi_minh_city() -> None:
    last = datetime(2025, 6, 30, 23, 59, 59, tzinfo=TZ).timestamp()
    assert code_scheme("2025", last) == "pre2025"
    assert code_scheme("2025", last + 1) == "2025"  # 2025-06-30T17:00:00Z
    assert code_scheme("pre2025", last + 10 * DAY) == "pre2025"  # the old units: old codes always


def test_the_history_crosses_the_switch_at_a_low_volume(world_2025, new, crosswalk) -> None:
    """Late in 2026 the longest window (ytd) does not reach July 2025: the world's archive does, a
    fiftieth of the volume in June and July 2025, so the demo's records carry codes of both schemes
    (some dossiers received before the switch still open) and it starts about as fast."""
    start = world_2025.history_from  # the first day of its full history, local
    full_from = datetime(start.year, start.month, start.day, tzinfo=TZ).timestamp()
    archive = [d for d in world_2025.dossiers if d.received < full_from]
    assert SWITCH.timestamp() - 30 * DAY <= min(d.received for d in archive) < SWITCH.timestamp() - 25 * DAY
    assert max(d.received for d in archive) < SWITCH.timestamp() + 30 * DAY
    assert len(archive) / 60 < 0.03 * world_2025.daily, "the archive is a trickle"
    latest = {r["ma_ho_so"]: r for r in world_2025.latest()}
    before = [d for d in archive if d.received < SWITCH.timestamp()]
    assert len(before) > 100
    for d in before:
        check_code(
            latest[d.id]["ma_dvhc"],
            d.place,
            SWITCH - timedelta(seconds=1),
            crosswalk,
            district=d.procedure.level == "district",
        )
    assert any(latest[d.id]["trang_thai"] not in FINAL for d in before), "no old dossier still open"


def test_same_anchor_draws_the_same_province_of_today(new) -> None:
    first = PublicServicesWorld(new, seed=3, clock=lambda: NOW, history_days=2, anchor=NOW)
    later = PublicServicesWorld(
        new, seed=3, clock=lambda: NOW + timedelta(days=1), history_days=2, anchor=NOW
    )
    assert later.dossiers[: len(first.dossiers)] == first.dossiers


def test_the_old_units_give_old_tay_ninh_codes_only(world, units) -> None:
    """With the pre-2025 units the world is as it was: old Tây Ninh's codes, no archive."""
    codes = {r["ma_dvhc"] for r in world.latest()}
    assert codes <= units.record_codes["pre2025"] and "80" not in codes
    assert min(d.received for d in world.dossiers) >= (NOW - timedelta(days=31)).timestamp()
    assert world.coding.scheme == "pre2025"


def test_field_reports_of_todays_province_are_coded_by_date(new, crosswalk, geodata, units) -> None:
    """Reports from every commune (old Long An's too), in proportion to population, each at the
    code of its creation time; with the old units, old Tây Ninh's codes only."""
    now = datetime(2025, 7, 20, 3, 0, tzinfo=UTC)
    world = CitizenFeedbackWorld(new, geodata, seed=2, clock=lambda: now, history_days=45)
    coded = [r for r in world.latest() if r["ma_dvhc"] is not None]
    for r in coded:
        check_code(r["ma_dvhc"], world.filed_at[r["ma_phan_anh"]], local(r["thoi_diem_tao"]), crosswalk)
    at = collections.Counter(world.filed_at[r["ma_phan_anh"]] for r in coded)
    communes = new.level_codes("commune")
    assert set(at) == set(communes), f"no report from {sorted(set(communes) - set(at))}"
    assert spearman(at, new, communes) > 0.6
    assert {code_scheme("2025", local(r["thoi_diem_tao"]).timestamp()) for r in coded} == {"pre2025", "2025"}
    old = CitizenFeedbackWorld(units, geodata, seed=2, clock=lambda: NOW, history_days=5)
    assert {r["ma_dvhc"] for r in old.latest()} - {None} <= set(units.level_codes("commune"))


def test_late_2026_field_reports_reach_back_before_the_switch(new, crosswalk, geodata) -> None:
    """Reports of June 2025 (the archive) are there, at pre-2025 codes counted in their commune."""
    world = CitizenFeedbackWorld(new, geodata, seed=2, clock=lambda: NOW, history_days=10)
    old = [r for r in world.latest() if local(r["thoi_diem_tao"]) < SWITCH and r["ma_dvhc"]]
    assert len(old) > 20
    for r in old:
        check_code(r["ma_dvhc"], world.filed_at[r["ma_phan_anh"]], local(r["thoi_diem_tao"]), crosswalk)


def test_doses_of_todays_province_are_coded_by_the_time_of_the_dose(new, crosswalk, geodata) -> None:
    now = datetime(2025, 7, 20, 3, 0, tzinfo=UTC)
    world = VaccinationWorld(new, geodata, seed=2, clock=lambda: now, history_days=30, daily_series=40)
    doses = world.latest()
    for r in doses:
        check_code(r["ma_dvhc"], world.filed_at[r["ma_mui_tiem"]], local(r["thoi_diem_tiem"]), crosswalk)
        assert r["ma_co_so_tiem"] == f"TYT-{r['ma_dvhc']}" or r["ma_co_so_tiem"].startswith("TTYT-")
    assert {code_scheme("2025", local(r["thoi_diem_tiem"]).timestamp()) for r in doses} == {"pre2025", "2025"}
    long_an = old_long_an(new, crosswalk)
    born = {r["so_dinh_danh"][:3] for r in doses if world.filed_at[r["ma_mui_tiem"]] in long_an}
    assert born == {"080"}  # old Long An's people, born there


def test_mobile_cells_cover_todays_province(new, geodata, tmp_path) -> None:
    """Cells stand in all 24 former districts (15 of old Long An), by population."""
    operators = MobileOperators(new, geodata, tmp_path, seed=3, clock=lambda: NOW)
    districts = gpd.read_file(geodata / "tayninh2025_former_districts.geojson").to_crs(4326)
    xs = np.array([c.lon for c in operators.cells])
    ys = np.array([c.lat for c in operators.cells])
    cells = collections.Counter()
    for code, polygon in zip(districts["code"], districts.geometry, strict=True):
        cells[str(code)] = int(shapely.contains_xy(polygon, xs, ys).sum())
    assert sum(cells.values()) == len(operators.cells), "a cell outside the former districts"
    assert all(cells[str(c)] > 0 for c in districts["code"]), cells
    pops = dict(zip(districts["code"].astype(str), districts["pop_2019"], strict=True))
    frame = pl.DataFrame({"n": [cells[c] for c in pops], "pop": list(pops.values())})
    assert frame.select(pl.corr("n", "pop", method="spearman")).item() > 0.8


def test_the_demo_reads_its_simulators_by_date_in_the_2025_scheme(monkeypatch) -> None:
    """The demo's connectors of feeds with unit codes read them by date when the rooms count in the
    2025 units (the simulators code so); with the old units they read pre-2025 codes as FEEDS.md says."""
    monkeypatch.delenv("IOC_CONFIG", raising=False)
    registry = discover()
    for scheme, coded in (
        ("2025", {"public_services", "citizen_feedback", "vaccination"}),
        ("pre2025", set()),
    ):
        monkeypatch.setenv("IOC_BOUNDARIES__SCHEME", scheme)
        settings = load_settings()
        tables = connector_tables(settings)
        assert {n for n, t in tables.items() if t.get("coding") == "by_date"} == coded
        for name in coded:  # the supervisor points each at its simulator
            table = tables[name] | {"url": "http://127.0.0.1:9"}
            config = configure(name, table, source="demo", registry=registry)
            assert config.coding == "by_date" and config.coding_switch == SWITCH.date()
