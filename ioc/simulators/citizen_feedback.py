"""A simulated field-report system ("1022 Tây Ninh", FEEDS.md §2).

Reports are spread over the province by population, a third of them at a dozen recurring spots
(a flooded underpass, a broken street light...), some with only coordinates and no unit code.
Each report moves through its statuses over hours and days; reporters' names and phone numbers
appear in ``nguoi_phan_anh`` and sometimes in ``noi_dung``, as real citizens write them.

Given the 2025 unit table, reports come from the whole province of today, and a report's unit code
is that of its creation time (:mod:`ioc.simulators.coding`): an old commune of its 2025 commune
before 1 July 2025, the commune after. When its history does not reach the switch, the days
around it are drawn too, at a low volume (:meth:`ioc.simulators.coding.SourceCoding.archive`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ioc.simulators.places import Places, full_name, phone
from ioc.simulators.timeline import HOUR, TimelineWorld, iso, office_moment
from ioc.units import UnitTable

SECTORS = {
    "ha_tang_giao_thong": ("Ổ gà lớn trên mặt đường, xe máy dễ té ngã", 26),
    "moi_truong": ("Rác thải đổ bừa bãi, bốc mùi hôi", 20),
    "trat_tu_do_thi": ("Lấn chiếm vỉa hè buôn bán", 14),
    "an_ninh_trat_tu": ("Tụ tập gây mất trật tự vào ban đêm", 6),
    "chieu_sang": ("Đèn đường không sáng nhiều ngày", 12),
    "cay_xanh": ("Cây xanh có nguy cơ gãy đổ", 8),
    "ngap_nuoc": ("Ngập nước sau mưa, cống bị nghẹt", 9),
    "khac": ("Kiến nghị khác", 5),
}
SEVERITY = (("khan", 0.1), ("phuc_tap", 0.15), ("binh_thuong", 0.75))
CHANNELS = (("tay_ninh_smart", 0.45), ("tong_dai_1022", 0.3), ("zalo", 0.15), ("cong_thong_tin", 0.1))
# Wall-clock hours from acceptance to closing, by severity, and each district's speed factor.
HANDLING_H = {"khan": (1.0, 20.0), "binh_thuong": (8.0, 150.0), "phuc_tap": (30.0, 300.0)}
SPEED = {
    "703": 0.7,
    "705": 1.0,
    "706": 1.5,
    "707": 1.0,
    "708": 1.1,
    "709": 0.8,
    "710": 1.0,
    "711": 1.4,
    "712": 0.9,
    "794": 0.8,
    "796": 1.4,
    "797": 1.3,
    "801": 1.2,
    "802": 0.9,
    "803": 0.85,
    "807": 1.1,
}
WEEKDAY_VOLUME = (1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.6)
SPOTS = 12
MALFORMED = ("missing_id", "naive_time", "unknown_sector", "outside", "closed_unaccepted")


class CitizenFeedbackWorld(TimelineWorld):
    def __init__(
        self,
        units: UnitTable,
        geodata: Path,
        *,
        seed: int = 2026,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        history_days: int = 60,
        daily_reports: int = 120,
        activity: float = 1.0,
        malformed_rate: float = 0.0,
        anchor: datetime | None = None,
    ) -> None:
        places = Places.load(geodata, units)
        super().__init__(
            seed=seed,
            clock=clock,
            history_days=history_days,
            anchor=anchor,
            malformed_rate=malformed_rate,
            activity=activity,
            archive=places.coding.archive(),
        )
        self.daily = daily_reports
        self.places = places
        self.personal: set[str] = set()  # every name and phone number made up, for privacy tests
        self.filed_at: dict[str, str] = {}  # report -> the unit of the table it was filed at
        self.spots = [self._spot() for _ in range(SPOTS)]
        self.start()

    def _spot(self) -> tuple[str, float, float, str]:
        district = self.places.district(self.rng)
        lat, lon = self.places.point(self.rng, district)
        return (
            district,
            lat,
            lon,
            self.rng.choice(["ngap_nuoc", "chieu_sang", "ha_tang_giao_thong", "moi_truong"]),
        )

    def draw_day(self, day: date) -> None:
        start, count = self.day_count(day, self.daily * WEEKDAY_VOLUME[day.weekday()])
        times = sorted(start + self.rng.triangular(5, 23, 14) * HOUR for _ in range(count))
        for seq, created in enumerate(times):
            self._report(f"PA.{day:%y%m%d}.{seq:04d}", created)

    def _report(self, report_id: str, created: float) -> None:
        rng = self.rng
        at_spot = rng.random() < 0.33
        if at_spot:
            district, lat, lon, sector = rng.choice(self.spots)
            lat, lon = lat + rng.gauss(0, 0.00025), lon + rng.gauss(0, 0.00025)
        else:
            district = self.places.district(rng)
            lat, lon = self.places.point(rng, district)
            sector = rng.choices(list(SECTORS), weights=[w for _t, w in SECTORS.values()])[0]
        severity = rng.choices([s for s, _ in SEVERITY], weights=[w for _, w in SEVERITY])[0]
        roll = rng.random()
        place = None if roll < 0.3 else self.places.commune(rng, district)
        unit = None if place is None else self.places.coding.code(place, created, rng)
        if place is not None:
            self.filed_at[report_id] = place
        located = roll < 0.9  # the last tenth has a unit code but no coordinates
        name, number = full_name(rng), phone(rng)
        self.personal |= {name, number}
        text = SECTORS[sector][0]
        if rng.random() < 0.4:
            text = f"Tôi là {name}, số điện thoại {number}. {text}, mong cơ quan chức năng xử lý."
        record: dict[str, Any] = {
            "ma_phan_anh": report_id,
            "linh_vuc": sector,
            "muc_do": severity,
            "kenh": rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0],
            "vi_do": round(lat, 6) if located else None,
            "kinh_do": round(lon, 6) if located else None,
            "ma_dvhc": unit,
            "trang_thai": "moi",
            "thoi_diem_tao": iso(created),
            "thoi_diem_tiep_nhan": None,
            "thoi_diem_hoan_thanh": None,
            "danh_gia": None,
            "nguoi_phan_anh": {"ho_ten": name, "so_dien_thoai": number},
            "noi_dung": text,
        }
        self._lifecycle(self.new_item(), record, created, severity, SPEED.get(district, 1.0))

    def _lifecycle(
        self, item: int, record: dict[str, Any], created: float, severity: str, speed: float
    ) -> None:
        rng = self.rng
        self.add(created, item, dict(record))
        accepted = office_moment(created, rng, 6)
        record.update(trang_thai="da_tiep_nhan", thoi_diem_tiep_nhan=iso(accepted))
        self.add(accepted, item, dict(record))
        working = accepted + rng.uniform(0.3, 4) * HOUR
        self.add(working, item, {**record, "trang_thai": "dang_xu_ly"})
        end = rng.random()
        if end < 0.05:
            self.add(working + rng.uniform(1, 24) * HOUR, item, {**record, "trang_thai": "trung_lap"})
            return
        if end < 0.09:
            self.add(working + rng.uniform(2, 48) * HOUR, item, {**record, "trang_thai": "tu_choi"})
            return
        if end > 0.93:
            return  # still open: drifts into overdue
        low, high = HANDLING_H[severity]
        closed = office_moment(working, rng, rng.uniform(low, high) * speed)
        rating = rng.choices([None, 1, 2, 3, 4, 5], weights=[40, 3, 5, 12, 25, 15])[0]
        self.add(
            closed,
            item,
            {**record, "trang_thai": "da_xu_ly", "thoi_diem_hoan_thanh": iso(closed), "danh_gia": rating},
        )

    def malform(self, record: dict[str, Any], kind: int) -> None:
        which = MALFORMED[kind % len(MALFORMED)]
        if which == "missing_id":
            record["ma_phan_anh"] = None
        elif which == "naive_time":
            record["thoi_diem_tao"] = record["thoi_diem_tao"][:19]
        elif which == "unknown_sector":
            record["linh_vuc"] = "giao_duc"
        elif which == "outside":
            record.update(ma_dvhc=None, vi_do=10.03, kinh_do=105.78)  # Cần Thơ
        else:
            record.update(
                trang_thai="da_xu_ly", thoi_diem_tiep_nhan=None, thoi_diem_hoan_thanh=record["thoi_diem_tao"]
            )
