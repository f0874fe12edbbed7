"""A simulated immunisation system (FEEDS.md §4): dose records, pulled and pushed.

Infants start the three-dose DPT-VGB-Hib series at two months (a few drop out before dose 3),
children get Sởi-Rubella, adults COVID-19 boosters. Every record carries a 12-digit citizen id,
a name and a birth date, as the real system sends them. :class:`Pusher` POSTs new records to the
IOC's webhook signed with the time of sending (``X-IOC-Timestamp``, ``X-IOC-Signature``), as the
immunisation system does.

Given the 2025 unit table, the people live in the whole province of today, and a dose's unit code
is that of its time (:mod:`ioc.simulators.coding`): an old commune of the person's 2025 commune
before 1 July 2025, the commune after (a series may cross the switch).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ioc.signatures import signed_headers
from ioc.simulators.places import Places, citizen_id, full_name
from ioc.simulators.timeline import DAY, HOUR, TZ, TimelineWorld, iso
from ioc.units import UnitTable

log = logging.getLogger(__name__)

# vaccine, doses in the series, days between doses, age at dose 1 (days), share of new series
VACCINES = (
    ("DPT-VGB-Hib", 3, 30, (60, 90), 0.4),
    ("Sởi-Rubella", 1, 0, (270, 540), 0.25),
    ("Bại liệt (OPV)", 2, 30, (60, 120), 0.15),
    ("COVID-19", 1, 0, (18 * 365, 80 * 365), 0.2),
)
DROPOUT = {"706": 0.12, "711": 0.1}  # districts where more families miss later doses
MALFORMED = ("missing_id", "bad_id", "unknown_unit", "naive_time", "bad_birth")


class VaccinationWorld(TimelineWorld):
    def __init__(
        self,
        units: UnitTable,
        geodata: Path,
        *,
        seed: int = 2026,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        history_days: int = 60,
        daily_series: int = 150,
        activity: float = 1.0,
        malformed_rate: float = 0.0,
        anchor: datetime | None = None,
    ) -> None:
        # Series run for months (DPT dose 3 comes two months after dose 1): draw at least half a
        # year, or nearly every series would look dropped out.
        history = max(history_days, 180)
        super().__init__(
            seed=seed,
            clock=clock,
            history_days=history,
            anchor=anchor,
            malformed_rate=malformed_rate,
            activity=activity,
        )
        self.daily = daily_series
        self.places = Places.load(geodata, units)
        self.personal: set[str] = set()  # every id and name made up, for privacy tests
        self.filed_at: dict[str, str] = {}  # dose -> the unit of the table its person lives in
        self.doses = 0
        self.start()

    def draw_day(self, day: date) -> None:
        start, count = self.day_count(day, self.daily * (0.3 if day.weekday() >= 5 else 1.0))
        for _ in range(count):
            self._series(start + self.rng.uniform(7, 16.5) * HOUR)

    def _series(self, first: float) -> None:
        rng = self.rng
        vaccine, doses, gap, ages, _share = rng.choices(VACCINES, weights=[v[4] for v in VACCINES])[0]
        district = self.places.district(rng)
        commune = self.places.commune(rng, district)
        born = datetime.fromtimestamp(first, TZ).date() - timedelta(days=rng.randint(*ages))
        province = self.places.coding.province(commune)
        person = {
            "so_dinh_danh": citizen_id(rng, "0" + province),
            "ho_ten": full_name(rng),
            "ngay_sinh": born.isoformat(),
            "gioi_tinh": rng.choice(["nam", "nu"]),
            "ma_dvhc": commune,
        }
        self.personal |= {person["so_dinh_danh"], person["ho_ten"]}
        dropout = DROPOUT.get(district, 0.05)
        for dose in range(1, doses + 1):
            when = first + (dose - 1) * gap * DAY + rng.uniform(-2, 6) * DAY * (dose > 1)
            if dose > 1 and rng.random() < dropout:
                break
            self.doses += 1
            dose_id = f"MT.{self.doses:07d}"
            code = self.places.coding.code(commune, when, rng)
            record = {
                "ma_mui_tiem": dose_id,
                **person,
                "ma_dvhc": code,
                "vac_xin": vaccine,
                "mui_thu": dose,
                "thoi_diem_tiem": iso(when),
                "ma_co_so_tiem": f"TYT-{code}",
            }
            self.filed_at[dose_id] = commune
            item = self.new_item()
            self.add(when + rng.uniform(60, 3 * HOUR), item, record)
            if rng.random() < 0.03:  # corrected a day later: a new version of the same record
                self.add(when + DAY, item, {**record, "ma_co_so_tiem": f"TTYT-{district}"})

    def malform(self, record: dict[str, Any], kind: int) -> None:
        which = MALFORMED[kind % len(MALFORMED)]
        if which == "missing_id":
            record.pop("so_dinh_danh")
        elif which == "bad_id":
            record["so_dinh_danh"] = record["so_dinh_danh"][:9]
        elif which == "unknown_unit":
            record["ma_dvhc"] = "99999"
        elif which == "naive_time":
            record["thoi_diem_tiem"] = record["thoi_diem_tiem"][:19]
        else:
            record["ngay_sinh"] = "31/02/2026"


class Pusher:
    """POSTs the records that changed since the last push, signed, every ``interval_s``."""

    def __init__(self, world: TimelineWorld, url: str, secret: bytes, *, interval_s: float = 5.0) -> None:
        self.world = world
        self.url = url
        self.secret = secret
        self.interval_s = interval_s
        self.since: datetime | None = world.clock()
        self.stopping = threading.Event()
        self.pushed = 0
        self.http = httpx.Client(timeout=30)

    def push_once(self) -> int:
        _total, rows = self.world.page(self.since, 1, 10**6)
        fresh = [r for r in rows if self.since is None or r["cap_nhat_luc"] != self.since.isoformat()]
        if not fresh:
            return 0
        body = json.dumps(fresh, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"} | signed_headers(self.secret, body, self.world.clock())
        reply = self.http.post(self.url, content=body, headers=headers)
        if reply.status_code >= 300:
            raise httpx.HTTPStatusError(
                f"{reply.status_code}: {reply.text[:200]}", request=reply.request, response=reply
            )
        self.since = max(datetime.fromisoformat(r["cap_nhat_luc"]) for r in rows)
        self.pushed += len(fresh)
        return len(fresh)

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            try:
                self.push_once()
            except httpx.HTTPError as exc:
                log.warning("push to %s failed: %s (will retry)", self.url, exc)

    def start(self) -> Pusher:
        threading.Thread(target=self.run, name="pusher", daemon=True).start()
        return self

    def close(self) -> None:
        self.stopping.set()
