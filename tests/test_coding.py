"""Records coded in either scheme (docs/coding.md): a connector's ``coding`` says in which scheme
its source's unit codes are; each record is checked in its own scheme, kept under its record key
and counted in the configured units. Through the real pipeline: an HTTP source, the connector and
its runner, Redis, the aggregator, the API."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from connectors.public_services import PublicServicesConfig, PublicServicesConnector
from ioc.config import ConfigError
from ioc.connector import Context, configure, discover
from ioc.contracts import make_contract
from ioc.crosswalk import FORMER_DISTRICTS_FILE
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable, record_key
from ioc.web import create_app
from layouts.worklist import unit_name
from tests import oracle
from tests.pipeline import FeedPipeline
from tests.processes import app_settings, logged_in

AS_OF = datetime(2025, 7, 5, 12, 0, tzinfo=oracle.TZ)
SWITCH_DAY = "2025-07-01"
BEFORE = "coding by_date: ngay_tiep_nhan {day} is before the switch 2025-07-01"
AFTER = "coding by_date: ngay_tiep_nhan {day} is after the switch 2025-07-01"


def dossier(ma: str, unit: str, received: str, *, overdue: bool = False) -> dict[str, Any]:
    """A dossier received at ``received`` (ISO with offset); an overdue one is still being
    processed past its deadline on 2025-07-03."""
    return {
        "ma_ho_so": ma,
        "ma_tthc": "1.004227",
        "linh_vuc": "Đất đai",
        "ma_don_vi": "BPMC",
        "ma_dvhc": unit,
        "kenh_nop": "truc_tuyen",
        "ngay_tiep_nhan": received,
        "han_xu_ly": "2025-07-03T17:00:00+07:00" if overdue else "2025-07-20T17:00:00+07:00",
        "trang_thai": "dang_xu_ly",
        "co_nghia_vu_tai_chinh": False,
        "so_hoa": True,
        "cap_nhat_luc": received,
    }


# The source switched to 2025 codes on 1 July 2025 (00:00 Asia/Ho_Chi_Minh); codes are reused.
RECORDS = [
    dossier("P1", "25459", "2025-06-30T10:00:00+07:00", overdue=True),  # old Phường 3
    dossier("P2", "25456", "2025-06-29T09:00:00+07:00"),  # old Phường 1: merged into 25459
    dossier("P3", "27949", "2025-06-30T15:00:00+07:00"),  # old Xã Tân Mỹ (Long An): into 27931
    dossier("P4", "25459", "2025-06-30T23:59:59+07:00"),  # the last second before the switch
    dossier("P5", "703", "2025-06-30T08:00:00+07:00"),  # a district-level dossier (old TP Tây Ninh)
    dossier("N1", "25459", "2025-07-01T00:00:00+07:00", overdue=True),  # the switch: Phường Tân Ninh
    dossier("N2", "25459", "2025-06-30T17:30:00Z"),  # 00:30 local on 1 July: a 2025 code
    dossier("N3", "27931", "2025-07-02T09:00:00+07:00"),  # Xã Hậu Nghĩa
    dossier("N4", "80", "2025-07-02T10:00:00+07:00"),  # the province of today
    dossier("U1", "99999", "2025-06-30T09:00:00+07:00"),
    dossier("U2", "99999", "2025-07-02T11:00:00+07:00"),
    dossier("U3", "25456", "2025-07-03T09:00:00+07:00"),  # old Phường 1 is no 2025 unit
    dossier("U4", "703", "2025-07-03T10:00:00+07:00"),  # an area is no unit a dossier is filed at
    dossier("U5", "99999", "2025-07-01T08:00:00+07:00"),
]

# Where each dossier counts in the 2025 scheme: its 2025 unit (the area and province above it).
# P5, filed at old Thành phố Tây Ninh, counts in its area (Khu vực thành phố Tây Ninh cũ, 703).
IN_2025 = {"P1": "25459", "P2": "25459", "P3": "27931", "P4": "25459", "P5": "703"}
IN_2025 |= {"N1": "25459", "N2": "25459", "N3": "27931", "N4": "80"}
# ... and in the pre-2025 scheme: the finest unit of old Tây Ninh it counts in (a 2025 commune
# counts in its former district: it is several old communes); old Long An's are outside.
IN_PRE2025 = {"P1": "25459", "P2": "25456", "P4": "25459", "P5": "703", "N1": "703", "N2": "703"}


def unknown(code: str, scheme: str, why: str) -> str:
    return f"ma_dvhc: unknown unit code '{code}' in scheme {scheme} ({why})"


UNKNOWN = {
    "U1": unknown("99999", "pre2025", BEFORE.format(day="2025-06-30")),
    "U2": unknown("99999", "2025", AFTER.format(day="2025-07-02")),
    "U3": unknown("25456", "2025", AFTER.format(day="2025-07-03")),
    "U4": unknown("703", "2025", AFTER.format(day="2025-07-03")),
    "U5": unknown("99999", "2025", "coding by_date: ngay_tiep_nhan 2025-07-01 is on the switch 2025-07-01"),
}


@pytest.fixture(scope="module")
def new(geodata) -> UnitTable:
    return UnitTable.load(geodata, "2025")


@pytest.fixture
def source() -> Iterator[str]:
    """A one-stop system listing ``RECORDS``: its URL."""
    listing = RecordListing("ma_ho_so")
    server = SimulatorServer({"/api/v1/hoso": listing}).start()
    for record in RECORDS:
        listing.put(record)
    yield server.url
    server.close()


@contextmanager
def counted(r, units: UnitTable, url: str, **config: Any) -> Iterator[FeedPipeline]:
    """The source through a public_services connector with ``config``, counted in ``units``."""
    with httpx.Client() as http:
        settings = PublicServicesConfig(url=url, page_size=4, max_pages=5, **config)  # type: ignore[arg-type]
        context = Context(units=units, http=http, clock=lambda: AS_OF)
        pipe = FeedPipeline(r, units, PublicServicesConnector(settings, context=context), lambda: AS_OF)
        pipe.sync()
        try:
            yield pipe
        finally:
            pipe.aggregator.release()


@pytest.fixture
def by_date_2025(r, new, source) -> Iterator[FeedPipeline]:
    with counted(r, new, source, coding="by_date") as pipe:
        yield pipe


def direct_count(units: UnitTable, finest: dict[str, str]) -> Counter[str]:
    """Records per unit counted by hand: each in its finest unit and every unit above it."""
    out: Counter[str] = Counter()
    for unit in finest.values():
        at: str | None = unit
        while at is not None:
            out[at] += 1
            at = units.parent(at)
    return out


def received(pipe: FeedPipeline, units: UnitTable) -> dict[str, int]:
    return {code: pipe.kpis(code, "30d")["received"]["value"] for code in units.codes}


def reasons(pipe: FeedPipeline) -> dict[str, str]:
    return {d["record"]["ma_ho_so"]: d["reason"] for d in pipe.dead_letters()}


def test_a_source_coded_by_date_counts_every_record_in_its_2025_unit(by_date_2025, new) -> None:
    """Before the switch 25459 is old Phường 3 (counted in Phường Tân Ninh through the crosswalk),
    after it Phường Tân Ninh itself; old Long An's Xã Tân Mỹ and today's Xã Hậu Nghĩa both count
    in Hậu Nghĩa; every unit, area and the province equal the direct count."""
    pipe = by_date_2025
    expected = direct_count(new, IN_2025)
    assert (expected["25459"], expected["703"], expected["27931"], expected["802"], expected["80"]) == (
        5,
        6,
        2,
        2,
        9,
    ), "the hand count itself"
    assert new.parent("25459") == "703" and new.parent("27931") == "802"
    got = received(pipe, new)
    assert got == {code: expected.get(code, 0) for code in new.codes}, "received per unit of the 2025 scheme"
    assert reasons(pipe) == UNKNOWN


def test_records_are_kept_under_their_record_keys(by_date_2025) -> None:
    """The raw stream keeps each record's code with its scheme: 25459 before the switch and
    2025:25459 after it are different units."""
    state = pipe_records(by_date_2025)
    assert state == {
        "P1": "25459",
        "P2": "25456",
        "P3": "27949",
        "P4": "25459",
        "P5": "703",
        "N1": "2025:25459",
        "N2": "2025:25459",
        "N3": "2025:27931",
        "N4": "2025:80",
    }


def pipe_records(pipe: FeedPipeline) -> dict[str, str]:
    from ioc import keys
    from ioc.streams import FIELD_BATCH, decode_frame

    frames = [decode_frame(f[FIELD_BATCH]) for _id, f in pipe.client.xrange(keys.raw_stream(pipe.feed))]
    frame = pl.concat(frames)
    return dict(zip(frame["id"], frame["unit_code"], strict=True))


def test_the_same_source_counted_in_the_pre2025_scheme(r, units, source) -> None:
    """Counted in old Tây Ninh: its pre-2025 records in their communes and districts, its 2025
    records in their former district (a 2025 commune is several old ones); old Long An's and the
    new province's records lie outside the province counted, and say so."""
    assert units.scheme == "pre2025"
    with counted(r, units, source, coding="by_date") as pipe:
        expected = direct_count(units, IN_PRE2025)
        assert (expected["25459"], expected["25456"], expected["703"], expected["72"]) == (2, 1, 6, 6)
        assert received(pipe, units) == {code: expected.get(code, 0) for code in units.codes}
        outside = "lies outside the province counted (boundaries.scheme = pre2025 counts Tỉnh Tây Ninh before 2025, 72"
        assert reasons(pipe) == UNKNOWN | {
            "P3": f"ma_dvhc: unit code '27949' of scheme pre2025 {outside}; "
            f"{BEFORE.format(day='2025-06-30')})",
            "N3": f"ma_dvhc: unit code '27931' of scheme 2025 {outside}; {AFTER.format(day='2025-07-02')})",
            "N4": f"ma_dvhc: unit code '80' of scheme 2025 {outside}; {AFTER.format(day='2025-07-02')})",
        }


def test_a_source_coded_in_one_scheme_knows_only_its_codes(r, new, source) -> None:
    """``coding = "2025"``: every code is a 2025 one, whatever the date (old Phường 1 and a
    district are no 2025 units); ``pre2025`` (the default): every code an old one, 2025:… never."""
    with counted(r, new, source, coding="2025") as pipe:
        said = reasons(pipe)
        assert said["P2"] == "ma_dvhc: unknown unit code '25456' in scheme 2025 (coding 2025)"
        assert said["P3"] == "ma_dvhc: unknown unit code '27949' in scheme 2025 (coding 2025)"
        assert said["P5"] == "ma_dvhc: unknown unit code '703' in scheme 2025 (coding 2025)"
        assert pipe_records(pipe)["P1"] == "2025:25459"
        assert pipe.kpis("25459", "30d")["received"]["value"] == 4  # P1, P4, N1, N2
    r.flushdb()
    with counted(r, new, source) as pipe:
        assert "U2" in reasons(pipe) and "N3" not in reasons(pipe)  # 27931 was Thị trấn Hậu Nghĩa
        assert pipe_records(pipe)["N1"] == "25459"
        assert pipe.kpis("80", "30d")["received"]["value"] == 11  # all but the three 99999s


def test_cases_say_their_code_and_scheme(by_date_2025, new, r, redis_server) -> None:
    """The work lists keep record keys and name each unit in its own scheme; the API says the
    plain code and its scheme beside it."""
    api = logged_in(create_app(app_settings(redis_server, boundaries={"scheme": "2025"}), r), "lanhdao")
    body = api.get("/api/v1/cases?feed=public_services&unit=703").get_json()
    said = {c["id"]: (c["unit_code"], c["unit_scheme"]) for c in body["cases"]}
    assert said == {"P1": ("25459", "pre2025"), "N1": ("25459", "2025")}
    kept = SnapshotReader(r).cases("public_services", "703")
    assert kept is not None
    names = {c["id"]: (c["unit_code"], unit_name(dict(c), new.key_names)) for c in kept}
    assert names == {"P1": ("25459", "Phường 3"), "N1": ("2025:25459", "Phường Tân Ninh")}


def former_district_points(geodata: Path) -> dict[str, tuple[float, float]]:
    """A point inside each former district (lon, lat), from the boundary file itself."""
    import geopandas as gpd

    frame = gpd.read_file(geodata / FORMER_DISTRICTS_FILE)
    return {
        str(code): (float(p.x), float(p.y))
        for code, p in zip(frame["code"], frame.geometry.representative_point(), strict=True)
    }


def test_reports_placed_by_coordinates_in_2025_count_in_the_former_districts_area(
    geodata, new, units
) -> None:
    """Without 2025 commune polygons a report without ``ma_dvhc`` is placed in a former district
    (old Tây Ninh's or old Long An's): its key is the bare pre-2025 district code, which counts in
    the area of that district and today's province; a report with a code is checked by its
    creation time."""
    points = former_district_points(geodata)

    def report(ma: str, where: str | None, unit: str | None, created: str) -> dict[str, Any]:
        lon, lat = points[where] if where else (None, None)
        return {
            "ma_phan_anh": ma,
            "linh_vuc": "moi_truong",
            "muc_do": "binh_thuong",
            "kenh": "zalo",
            "vi_do": lat,
            "kinh_do": lon,
            "ma_dvhc": unit,
            "trang_thai": "moi",
            "thoi_diem_tao": created,
            "cap_nhat_luc": created,
        }

    rows = [
        report("R1", "703", None, "2025-07-02T08:00:00+07:00"),
        report("R2", "794", None, "2025-07-02T08:00:00+07:00"),
        report("R3", None, "25459", "2025-07-02T08:00:00+07:00"),
        report("R4", None, "25459", "2025-06-02T08:00:00+07:00"),
    ]
    coding = Context(units=new, http=httpx.Client()).coding(
        configure(
            "citizen_feedback", {"url": "http://x", "coding": "by_date"}, source="t", registry=discover()
        )
    )
    contract = make_contract(
        "citizen_feedback", None, Context(units=new, http=httpx.Client(), geodata=geodata)
    )
    done = contract.transform(rows, units=coding, source="test")
    assert done.dead_letters == []
    keys = dict(zip(done.records["id"], done.records["unit_code"], strict=True))
    assert keys == {"R1": "703", "R2": "794", "R3": "2025:25459", "R4": "25459"}
    rollup = new.rollup()
    for key in ("703", "794"):
        assert set(rollup.filter(pl.col("code") == key)["unit"]) == {key, "80"}, key
    # counted in the pre-2025 scheme, the same point is in its district, a key of that scheme
    old = make_contract("citizen_feedback", None, Context(units=units, http=httpx.Client(), geodata=geodata))
    placed = old.transform(rows[:1], units=Context(units=units, http=httpx.Client()).coding(), source="test")
    assert placed.records["unit_code"].to_list() == ["703"]


def test_mobile_cells_in_2025_are_placed_in_former_districts(geodata, new) -> None:
    points = former_district_points(geodata)
    lon, lat = points["802"]
    row = {
        "nha_mang": "viettel",
        "ma_tram": "C1",
        "cong_nghe": "4G",
        "vi_do": lat,
        "kinh_do": lon,
        "thoi_diem_bat_dau": "2025-07-02T08:00:00+07:00",
        "so_phut": 15,
        "tai_xuong_mb": 1.0,
        "tai_len_mb": 1.0,
        "so_thue_bao": 3,
    }
    context = Context(units=new, http=httpx.Client(), geodata=geodata)
    done = make_contract("mobile_data", None, context).transform([row], units=context.coding(), source="t")
    assert done.dead_letters == [] and done.records["unit_code"].to_list() == [record_key("pre2025", "802")]


def test_a_dose_is_coded_by_the_time_it_was_given(new) -> None:
    """Vaccination's event time is ``thoi_diem_tiem``: 25456 (old Phường 1) is known before the
    switch and unknown after it."""
    context = Context(units=new, http=httpx.Client(), secrets={"IOC_PSEUDONYM_KEY": "k" * 32})
    table = {"url": "http://x", "coding": "by_date"}
    coding = context.coding(configure("vaccination", table, source="t", registry=discover()))
    dose = {
        "ma_mui_tiem": "V1",
        "so_dinh_danh": "072090000001",
        "ma_dvhc": "25456",
        "vac_xin": "Sởi-Rubella",
        "mui_thu": 1,
        "thoi_diem_tiem": "2025-06-20T08:00:00+07:00",
        "cap_nhat_luc": "2025-07-04T08:00:00+07:00",
    }
    later = dose | {"ma_mui_tiem": "V2", "thoi_diem_tiem": "2025-07-04T08:00:00+07:00"}
    done = make_contract("vaccination", None, context).transform([dose, later], units=coding, source="t")
    assert done.records["unit_code"].to_list() == ["25456"]
    assert [d.reason for d in done.dead_letters] == [
        "ma_dvhc: unknown unit code '25456' in scheme 2025 "
        "(coding by_date: thoi_diem_tiem 2025-07-04 is after the switch 2025-07-01)"
    ]


# ---- the settings --------------------------------------------------------------------------

TABLES = {
    "public_services": {"url": "http://127.0.0.1:9"},
    "citizen_feedback": {"url": "http://127.0.0.1:9"},
    "vaccination": {"url": "http://127.0.0.1:9"},
    "http_json": {"feed": "public_services", "url": "http://127.0.0.1:9"},
    "drop_folder": {"feed": "vaccination", "drop_dir": "/srv/drop"},
    "webhook": {"feed": "citizen_feedback"},
}


@pytest.mark.parametrize("name", sorted(TABLES))
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"coding": "2024"}, "coding: Input should be 'pre2025', '2025' or 'by_date' (got '2024')"),
        ({"coding": "by_date", "coding_switch": "2025-07-32"}, "coding_switch: Input should be a valid date"),
        (
            {"coding": "by_date", "coding_switch": "2015-07-01"},
            "coding_switch: Input should be greater than or equal to 2025-01-01",
        ),
        (
            {"coding": "2025", "coding_switch": "2025-08-01"},
            'coding_switch: Value error, applies only with coding = "by_date" (coding is "2025")',
        ),
        ({"coding_switch": "2025-08-01"}, 'applies only with coding = "by_date" (coding is "pre2025")'),
    ],
)
def test_a_bad_coding_is_refused_naming_the_connector_and_field(name, setting, message) -> None:
    with pytest.raises(ConfigError) as caught:
        configure(name, {**TABLES[name], **setting}, source="ioc.toml", registry=discover())
    assert str(caught.value).startswith(f"ioc.toml: connectors.{name}.coding"), str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_coding_settings_from_a_file_or_the_environment(name) -> None:
    """TOML gives a date literal (``coding_switch = 2025-08-15``), the environment a string."""
    for switch in (date(2025, 8, 15), "2025-08-15"):
        config = configure(
            name,
            {**TABLES[name], "coding": "by_date", "coding_switch": switch},
            source="t",
            registry=discover(),
        )
        assert (config.coding, config.coding_switch) == ("by_date", date(2025, 8, 15))
    default = configure(name, TABLES[name], source="t", registry=discover())
    assert (default.coding, default.coding_switch) == ("pre2025", date(2025, 7, 1))


def test_the_switch_is_local_midnight(new) -> None:
    """A switch day starts at 00:00 in Asia/Ho_Chi_Minh: 17:00 UTC the day before."""
    config = configure(
        "public_services", {"url": "http://x", "coding": "by_date"}, source="t", registry=discover()
    )
    coding = Context(units=new, http=httpx.Client()).coding(config)
    assert coding.switch == datetime(2025, 7, 1, tzinfo=oracle.TZ)
    assert coding.switch.isoformat() == "2025-06-30T17:00:00+00:00"
