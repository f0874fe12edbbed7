"""Field reports (FEEDS.md §2) on hand-computed cases, through HTTP, the connector, Redis and Polars.

as_of is Sunday 22/11/2026 10:00 (+07); the working week before it is Mon 16 – Fri 20.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from connectors.citizen_feedback import CitizenFeedbackConfig, CitizenFeedbackConnector
from ioc import keys
from ioc.connector import Context
from ioc.simulators.http import RecordListing, SimulatorServer
from ioc.streams import decode_frame
from tests import oracle
from tests.pipeline import FeedPipeline
from tests.redis_text import everything

AS_OF = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
SPOT = (11.3100, 106.0980)  # in Thành phố Tây Ninh (703)


def report(ma: str, created: str, status: str, **extra) -> dict:
    record = {
        "ma_phan_anh": ma,
        "linh_vuc": "chieu_sang",
        "muc_do": "khan",
        "kenh": "tong_dai_1022",
        "vi_do": None,
        "kinh_do": None,
        "ma_dvhc": "25459",
        "trang_thai": status,
        "thoi_diem_tao": f"2026-11-{created}+07:00",
        "thoi_diem_tiep_nhan": None,
        "thoi_diem_hoan_thanh": None,
        "danh_gia": None,
        "nguoi_phan_anh": {"ho_ten": "Trần Thị Bích", "so_dien_thoai": "0912345678"},
        "noi_dung": "Tôi là Trần Thị Bích, SĐT 0912 345 678. Đèn đường hỏng trên đường Trần Hưng Đạo.",
        "cap_nhat_luc": f"2026-11-{created}+07:00",
    }
    return record | {
        k: (f"2026-11-{v}+07:00" if k.startswith("thoi_diem") and v else v) for k, v in extra.items()
    }


REPORTS = [
    # khan, accepted Fri 16:30: 4 working hours end Mon 23/11 10:30, so not overdue on Sunday
    report("R1", "20T16:00:00", "dang_xu_ly", thoi_diem_tiep_nhan="20T16:30:00"),
    # khan, accepted Thu 09:30: due Thu 15:30 (1.5 h before lunch, 2.5 h after): overdue
    report("R2", "19T09:00:00", "da_tiep_nhan", thoi_diem_tiep_nhan="19T09:30:00"),
    # binh_thuong (40 h), accepted Mon 07:00, closed Thu 15:00 after 8+8+8+6 = 30 working hours
    report(
        "R3",
        "16T06:30:00",
        "da_xu_ly",
        muc_do="binh_thuong",
        thoi_diem_tiep_nhan="16T07:00:00",
        thoi_diem_hoan_thanh="19T15:00:00",
        danh_gia=4,
    ),
    # khan, accepted Wed 13:00 (due Wed 17:00), closed Thu 08:00: late, 4 + 1 = 5 working hours
    report(
        "R4",
        "18T12:00:00",
        "da_xu_ly",
        thoi_diem_tiep_nhan="18T13:00:00",
        thoi_diem_hoan_thanh="19T08:00:00",
        danh_gia=2,
    ),
    # waiting for the citizen: the clock is paused, so not overdue though long past 4 h
    report("R5", "16T07:30:00", "cho_bo_sung", thoi_diem_tiep_nhan="16T08:00:00"),
    # only coordinates: placed in 703 by point-in-polygon
    report("R6", "21T10:00:00", "moi", ma_dvhc=None, vi_do=SPOT[0], kinh_do=SPOT[1]),
    # outside the province (Cần Thơ): dead letter
    report("R7", "21T10:30:00", "moi", ma_dvhc=None, vi_do=10.03, kinh_do=105.78),
    # closed without having been accepted: dead letter
    report("R8", "20T08:00:00", "da_xu_ly", thoi_diem_hoan_thanh="20T09:00:00"),
    # a duplicate created this morning: new today, not open
    report("R9", "22T08:00:00", "trung_lap"),
    # two more within 30 m of R6: with it, a hotspot of three
    report("R10", "21T11:00:00", "moi", vi_do=SPOT[0] + 0.0002, kinh_do=SPOT[1]),
    report("R11", "21T12:00:00", "moi", vi_do=SPOT[0], kinh_do=SPOT[1] + 0.0002),
]


@pytest.fixture
def pipeline(r, units, geodata):
    listing = RecordListing("ma_phan_anh", REPORTS)
    server = SimulatorServer({"/api/v1/phan-anh": listing}).start()
    http = httpx.Client()
    config = CitizenFeedbackConfig(url=server.url, page_size=4)  # type: ignore[arg-type]
    context = Context(units=units, http=http, clock=lambda: AS_OF, geodata=geodata)
    yield FeedPipeline(r, units, CitizenFeedbackConnector(config, context=context), lambda: AS_OF)
    http.close()
    server.close()


def test_kpis_of_the_week(pipeline) -> None:
    pipeline.sync()
    kpis = pipeline.kpis("72", "7d")
    assert kpis["new"] == {"value": 9}  # R1–R6, R9–R11
    assert kpis["open"] == {"value": 6}  # R1, R2, R5, R6, R10, R11
    assert kpis["overdue"] == {"value": 1}  # R2
    assert kpis["on_time_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}  # R3 of R3, R4
    assert kpis["median_handling_hours"] == {"value": 17.5}  # (30 + 5) / 2
    assert kpis["satisfaction"] == {"value": 3.0}  # (4 + 2) / 2


def test_today_and_empty_windows(pipeline) -> None:
    pipeline.sync()
    today = pipeline.kpis("72", "today")
    assert today["new"] == {"value": 1}  # R9
    assert today["on_time_rate"]["value"] is None and today["median_handling_hours"]["value"] is None
    assert today["satisfaction"]["value"] is None
    assert pipeline.kpis("705", "7d")["new"] == {"value": 0}


def test_coordinates_place_reports_and_hotspots_cluster_them(pipeline) -> None:
    pipeline.sync()
    assert pipeline.kpis("703", "7d")["new"] == {"value": 9}  # every counted report is in 703
    (spot,) = pipeline.kpis("72", "7d")["hotspots"]["value"]
    assert spot["count"] == 3 and spot["unit"] == "25459"  # two of three were coded 25459
    assert spot["lat"] == pytest.approx(SPOT[0] + 0.0002 / 3, abs=1e-6)
    assert pipeline.kpis("703", "today")["hotspots"]["value"] == [spot]  # W ignored: 30 days
    assert pipeline.kpis("705", "7d")["hotspots"]["value"] == []


def test_outside_and_unaccepted_closed_reports_are_dead_letters(pipeline) -> None:
    pipeline.sync()
    reasons = {d["record"]["ma_phan_anh"]: d["reason"] for d in pipeline.dead_letters()}
    assert set(reasons) == {"R7", "R8"}
    assert "outside the province" in reasons["R7"]
    assert "thoi_diem_tiep_nhan: missing on a closed report" in reasons["R8"]


def test_reporter_is_dropped_and_text_redacted_before_redis(pipeline, r) -> None:
    pipeline.sync()
    frames = [decode_frame(f[b"b"]) for _id, f in r.xrange(keys.raw_stream("citizen_feedback"))]
    texts = {t for frame in frames for t in frame["text"].to_list()}
    assert texts == {"Tôi là [họ tên], SĐT [số điện thoại]. Đèn đường hỏng trên đường Trần Hưng Đạo."}
    stored = everything(r)
    assert "Đèn đường hỏng" in stored  # the scan does see inside the compressed batches
    for personal in ("Trần Thị Bích", "0912345678", "0912 345 678", "nguoi_phan_anh"):
        assert personal not in stored
    assert all(d["record"].get("nguoi_phan_anh") is None for d in pipeline.dead_letters())


def test_case_list_is_exactly_the_overdue_reports(pipeline) -> None:
    """R2 alone is overdue: the district's and the province's work lists hold it, redacted."""
    pipeline.sync()
    (case,) = pipeline.reader.extra("citizen_feedback", "_cases|703")
    assert case["id"] == "R2" and case["severity"] == "khan" and case["unit_code"] == "25459"
    assert case["deadline_at"] == "2026-11-19T08:30:00Z"  # Thu 15:30 local
    assert "Trần Thị Bích" not in case["text"] and "0912" not in case["text"]
    assert pipeline.reader.extra("citizen_feedback", "_cases|72") == [case]
    assert len([case]) == pipeline.kpis("703", "7d")["overdue"]["value"]
