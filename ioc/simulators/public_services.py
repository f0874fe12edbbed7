"""A simulated one-stop system: dossiers of the province's communes (and, before 2025, districts).

The world is a timeline fixed by its seed: every dossier is drawn once, with every status it
will pass through, and the listing shows each dossier as it stands at the clock's ``now``. Days
are drawn ahead of the clock as it advances, so a long-running demo never runs out.

Given the pre-2025 unit table, it is old Tây Ninh's 9 districts and 94 communes. Given the 2025
table, it is the 96 communes of today's province, old Long An's included, each with dossiers in
proportion to its population, coded by date (:mod:`ioc.simulators.coding`): a dossier received
before 1 July 2025 at an old commune of its commune or, for a district's procedure, at that old
commune's district; a later one at the commune. When its history does not reach the switch, the
days around it are drawn too, at a low volume (:meth:`ioc.simulators.coding.SourceCoding.archive`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ioc.simulators.coding import GEODATA, SourceCoding
from ioc.simulators.timeline import DAY, HOUR, TZ, TimelineWorld, iso, malformed, next_versions
from ioc.units import UnitTable


@dataclass(frozen=True)
class Procedure:
    code: str
    sector: str
    working_days: int
    fee_share: float
    weight: float
    level: str  # where it is filed: "commune" or "district"


PROCEDURES = (
    Procedure("1.001193", "Hộ tịch", 1, 0.0, 20, "commune"),
    Procedure("1.000894", "Hộ tịch", 3, 0.0, 7, "commune"),
    Procedure("2.000815", "Chứng thực", 1, 0.9, 24, "commune"),
    Procedure("1.001776", "Bảo trợ xã hội", 10, 0.0, 5, "commune"),
    Procedure("1.004227", "Đất đai", 10, 0.9, 12, "district"),
    Procedure("1.003010", "Đất đai", 30, 0.95, 5, "district"),
    Procedure("1.009994", "Hoạt động xây dựng", 15, 0.7, 4, "district"),
    Procedure("2.000720", "Thành lập và hoạt động của hộ kinh doanh", 3, 0.5, 6, "district"),
    Procedure("2.000908", "Lý lịch tư pháp", 10, 0.5, 3, "district"),
    Procedure("1.005092", "Giáo dục và Đào tạo", 5, 0.0, 2, "district"),
)

# District profiles: share of dossiers resolved on time, digitised at reception, filed online.
PROFILES = {
    "703": (0.975, 0.92, 0.62),
    "705": (0.93, 0.76, 0.45),
    "706": (0.86, 0.70, 0.41),
    "707": (0.94, 0.81, 0.50),
    "708": (0.92, 0.78, 0.47),
    "709": (0.965, 0.89, 0.58),
    "710": (0.935, 0.83, 0.52),
    "711": (0.89, 0.72, 0.43),
    "712": (0.955, 0.86, 0.55),
    # old Long An's, by the former district a 2025 commune mostly comes from
    "794": (0.97, 0.9, 0.6),
    "795": (0.91, 0.74, 0.42),
    "796": (0.88, 0.7, 0.38),
    "797": (0.9, 0.72, 0.4),
    "798": (0.92, 0.75, 0.41),
    "799": (0.94, 0.8, 0.46),
    "800": (0.93, 0.78, 0.44),
    "801": (0.87, 0.71, 0.39),
    "802": (0.95, 0.85, 0.57),
    "803": (0.96, 0.87, 0.56),
    "804": (0.93, 0.79, 0.47),
    "805": (0.92, 0.77, 0.45),
    "806": (0.94, 0.82, 0.5),
    "807": (0.95, 0.84, 0.53),
    "808": (0.9, 0.76, 0.44),
}
DEFAULT_PROFILE = (0.93, 0.8, 0.51)
WEEKDAY_VOLUME = (1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.06)

STATUS = ("tiep_nhan", "dang_xu_ly", "cho_bo_sung", "da_tra_ket_qua", "tu_choi", "rut_ho_so")
S_RECEIVED, S_PROCESSING, S_WAITING, S_RETURNED, S_REFUSED, S_WITHDRAWN = range(6)
MALFORMED_KINDS = ("missing_id", "naive_time", "unknown_status", "unknown_channel", "unknown_unit")


def office_time(moment: float, rng: random.Random, not_after: float = math.inf) -> float:
    """Move a moment into office hours (Mon–Fri 7:00–11:30, 13:00–17:00), where results are returned."""
    local = datetime.fromtimestamp(moment, TZ)
    minutes = local.hour * 60 + local.minute
    if local.weekday() < 5 and (420 <= minutes < 690 or 780 <= minutes < 1020):
        return moment
    day = local.replace(hour=7, minute=30, second=0, microsecond=0)
    if minutes >= 420:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    into = rng.uniform(0, 7.5 * HOUR)  # 3.5 h of morning, then the afternoon from 13:00
    moved = day.timestamp() + (into if into < 3.5 * HOUR else into + 2.0 * HOUR)
    return moved if moved <= not_after else moment


def add_working_days(start: float, days: int) -> float:
    moment = datetime.fromtimestamp(start, TZ)
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment.timestamp()


@dataclass
class Dossier:
    id: str
    procedure: Procedure
    unit: str  # its code (ma_dvhc), in the scheme of its reception time (SourceCoding)
    agency: str
    channel: str
    received: float
    fee_due: bool
    paid_online: bool | None
    digitised: bool
    place: str = ""  # the unit of the world's table it belongs to (2025: its commune)


class PublicServicesWorld(TimelineWorld):
    """The simulated source. ``page()`` is the listing; ``latest()`` is the ground truth.

    Hundreds of thousands of versions: each is kept as a row of numbers and rendered to a record
    only when listed, rather than as a dict per version like the smaller worlds.
    """

    def __init__(
        self,
        units: UnitTable,
        *,
        seed: int = 2026,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        history_days: int = 60,
        daily_dossiers: int = 1400,
        activity: float = 1.0,
        malformed_rate: float = 0.0,
        anchor: datetime | None = None,
        geodata: Path = GEODATA,
    ) -> None:
        # The world is drawn from the anchor: the same seed and anchor give the same province, so a
        # restarted demo continues the world its persisted Redis state came from.
        self.coding = SourceCoding.of(units, geodata)
        super().__init__(
            seed=seed,
            clock=clock,
            history_days=history_days,
            anchor=anchor,
            malformed_rate=malformed_rate,
            activity=activity,
            archive=self.coding.archive(),
        )
        self.daily = daily_dossiers
        self._places = self._weights(units)
        self.dossiers: list[Dossier] = []
        self._pending: list[tuple[float, int, int, float, float]] = []
        self.start()

    # ---- drawing the world -------------------------------------------------------------

    def _weights(self, units: UnitTable) -> dict[str, tuple[list[str], list[float]]]:
        """Where each level's procedures are drawn (in proportion to population), and each
        commune's district (2025: its former district), whose profile it shares."""
        frame = units.frame
        pops = dict(zip(frame["code"], frame["pop_2019"].fill_null(0), strict=True))
        communes = units.level_codes("commune")
        by_population = (communes, [float(pops[c]) for c in communes])
        if units.scheme == "2025":  # no districts: a district's procedure is drawn at a commune
            parents = self.coding.former_district
            return {"commune": by_population, "district": by_population, "parent": (parents, [])}  # type: ignore[dict-item]
        districts = units.level_codes("district")
        return {
            "commune": by_population,
            "district": (districts, [float(pops[d]) for d in districts]),
            "parent": ({c: units.parent(c) for c in communes}, []),  # type: ignore[dict-item]
        }

    def _profile(self, unit: str) -> tuple[float, float, float]:
        parents: dict[str, str] = self._places["parent"][0]  # type: ignore[assignment]
        return PROFILES.get(parents.get(unit, unit), DEFAULT_PROFILE)

    def draw_day(self, day: date) -> None:
        start = datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()
        rate = self.daily * WEEKDAY_VOLUME[day.weekday()] * self.volume(day)
        count = self._poisson(rate)
        arrivals = [self._arrival_time(start, day) for _ in range(count)]
        live_start = max(start, self.live_from)
        if self.activity > 1 and live_start < start + DAY:
            extra = self._poisson(self.daily * (self.activity - 1) * (start + DAY - live_start) / DAY)
            arrivals += [self.rng.uniform(live_start, start + DAY) for _ in range(extra)]
        for seq, received in enumerate(sorted(arrivals)):
            self._draw_dossier(day, seq, received)

    def _poisson(self, lam: float) -> int:
        return max(0, round(self.rng.gauss(lam, math.sqrt(lam)))) if lam > 0 else 0

    def _arrival_time(self, start: float, day: date) -> float:
        online_hours = self.rng.random() < 0.3 or day.weekday() >= 5
        if online_hours:
            return start + self.rng.triangular(6, 23.5, 15) * HOUR
        morning = self.rng.random() < 0.6
        hours = self.rng.uniform(7.5, 11.3) if morning else self.rng.uniform(13.5, 16.8)
        return start + hours * HOUR

    def _draw_dossier(self, day: date, seq: int, received: float) -> None:
        rng = self.rng
        received = math.floor(received)  # whole seconds, as the listing shows them
        proc = rng.choices(PROCEDURES, weights=[p.weight for p in PROCEDURES])[0]
        codes, weights = self._places[proc.level]
        place = rng.choices(codes, weights=weights)[0]
        on_time, digitised, online = self._profile(place)
        unit = self.coding.code(place, received, rng, district=proc.level == "district")
        # before 2025 a district's procedure goes to its one-stop unit (BPMC), else the commune's
        at_district = proc.level == "district" and self.coding.scheme_at(received) == "pre2025"
        roll = rng.random()
        channel = "truc_tuyen" if roll < online else ("buu_chinh" if roll > 0.965 else "truc_tiep")
        fee_due = rng.random() < proc.fee_share
        paid_online = None if not fee_due else rng.random() < (0.72 if channel == "truc_tuyen" else 0.12)
        index = len(self.dossiers)
        self.dossiers.append(
            Dossier(
                id=f"H56.{unit}.{day:%y%m%d}.{seq:05d}",
                procedure=proc,
                unit=unit,
                agency=f"BPMC-{unit}" if at_district else f"UBND-{unit}",
                channel=channel,
                received=received,
                fee_due=fee_due,
                paid_online=paid_online,
                digitised=rng.random() < digitised,
                place=place,
            )
        )
        for t, status, deadline, returned in self._timeline(proc, received, on_time):
            done = returned if math.isnan(returned) else math.floor(returned)
            self._pending.append((math.floor(t), index, status, math.floor(deadline), done))

    def _timeline(
        self, proc: Procedure, received: float, on_time: float
    ) -> list[tuple[float, int, float, float]]:
        rng = self.rng
        deadline = add_working_days(received, proc.working_days)
        events = [(received, S_RECEIVED, deadline, math.nan)]
        t = received + min(rng.expovariate(1 / (2 * HOUR)), 0.3 * (deadline - received))
        events.append((t, S_PROCESSING, deadline, math.nan))
        if proc.working_days > 1 and rng.random() < 0.08:
            waits = t + rng.uniform(0.1, 0.5) * (deadline - t)
            back = waits + rng.uniform(1, 6) * DAY
            deadline += back - waits
            events += [
                (waits, S_WAITING, deadline - (back - waits), math.nan),
                (back, S_PROCESSING, deadline, math.nan),
            ]
            t = back
        end = rng.random()
        if end < 0.02:
            events.append((t + rng.uniform(0.2, 0.8) * (deadline - t), S_REFUSED, deadline, math.nan))
        elif end < 0.03:
            events.append((t + rng.uniform(0.1, 0.6) * (deadline - t), S_WITHDRAWN, deadline, math.nan))
        elif rng.random() < on_time:
            done = office_time(t + rng.uniform(0.1, 0.97) * (deadline - t), rng, not_after=deadline - 60)
            events.append((done, S_RETURNED, deadline, done))
        elif rng.random() > 0.1:
            done = office_time(deadline + rng.expovariate(1 / (2.5 * DAY)) + 60, rng)
            events.append((done, S_RETURNED, deadline, done))
        return events  # the rest stay open and drift into overdue

    def _index(self) -> None:
        self._pending.sort(key=lambda e: (e[0], e[1]))
        ev = np.array([(t, i, s, d, r) for t, i, s, d, r in self._pending], dtype=float).reshape(-1, 5)
        self._t, self._ev_dossier = ev[:, 0], ev[:, 1].astype(np.int64)
        self._ev_status, self._ev_deadline, self._ev_returned = ev[:, 2].astype(np.int8), ev[:, 3], ev[:, 4]
        self._next_t = next_versions(self._t, self._ev_dossier)

    # ---- the listing -------------------------------------------------------------------

    def _render(self, pos: int) -> dict[str, Any]:
        d = self.dossiers[int(self._ev_dossier[pos])]
        returned = self._ev_returned[pos]
        record: dict[str, Any] = {
            "ma_ho_so": d.id,
            "ma_tthc": d.procedure.code,
            "linh_vuc": d.procedure.sector,
            "ma_don_vi": d.agency,
            "ma_dvhc": d.unit,
            "kenh_nop": d.channel,
            "ngay_tiep_nhan": iso(d.received),
            "han_xu_ly": iso(self._ev_deadline[pos]),
            "ngay_tra_ket_qua": None if math.isnan(returned) else iso(returned),
            "trang_thai": STATUS[self._ev_status[pos]],
            "co_nghia_vu_tai_chinh": d.fee_due,
            "thanh_toan_truc_tuyen": d.paid_online,
            "so_hoa": d.digitised,
            "cap_nhat_luc": iso(self._t[pos]),
        }
        if malformed(pos, self.malformed_rate):
            self.malform(record, pos)
        return record

    def malform(self, record: dict[str, Any], kind: int) -> None:
        _break(record, MALFORMED_KINDS[kind % len(MALFORMED_KINDS)])


def _break(record: dict[str, Any], kind: str) -> None:
    """Turn a record into one of the malformed kinds a real source sends now and then."""
    if kind == "missing_id":
        del record["ma_ho_so"]
    elif kind == "naive_time":
        record["ngay_tiep_nhan"] = record["ngay_tiep_nhan"][:19]
    elif kind == "unknown_status":
        record["trang_thai"] = "dang_tham_dinh"
    elif kind == "unknown_channel":
        record["kenh_nop"] = "fax"
    else:
        record["ma_dvhc"] = "99999"
