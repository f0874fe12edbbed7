"""Simulated operators (Viettel, VNPT, MobiFone) dropping per-cell 15-minute counters as files.

Cells are placed inside the province by population: old Tây Ninh's districts with the pre-2025
unit table, the 24 former districts of today's province with the 2025 one. The simulator starts
``history_hours`` back and writes one period every ``period_s`` seconds until its files reach the
present (time compressed, so a demo fills in while you watch), then each period when it ends.
Each file is written under a temporary name, renamed, then its ``.done`` twin is created, as
operators do. Now and then a file is delivered twice, and a few rows are malformed.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ioc.simulators.places import Places
from ioc.simulators.timeline import TZ
from ioc.units import UnitTable

log = logging.getLogger(__name__)

PERIOD = timedelta(minutes=15)
OPERATORS = (("Viettel", 0.5), ("VNPT", 0.22), ("MobiFone", 0.28))
COLUMNS = (
    "nha_mang", "ma_tram", "cong_nghe", "vi_do", "kinh_do", "thoi_diem_bat_dau", "so_phut",
    "tai_xuong_mb", "tai_len_mb", "so_thue_bao",
)  # fmt: skip
# Tây Ninh city, Hòa Thành, Trảng Bàng; Tân An city, Đức Hòa, Bến Lức: denser, more 5G
URBAN = {"703", "709", "712", "794", "802", "803"}
# Share of a day's traffic in each hour (people sleep, then evening peak).
HOURLY = [0.2, 0.12, 0.08, 0.06, 0.07, 0.15, 0.35, 0.6, 0.75, 0.8, 0.85, 0.9,
          0.95, 0.85, 0.8, 0.8, 0.85, 0.95, 1.1, 1.25, 1.3, 1.2, 0.9, 0.5]  # fmt: skip


@dataclass(frozen=True)
class Cell:
    operator: str
    id: str
    technology: str
    lat: float
    lon: float
    load: float  # subscribers at the busiest hour


class MobileOperators:
    def __init__(
        self,
        units: UnitTable,
        geodata: Path,
        directory: Path,
        *,
        seed: int = 2026,
        cells: int = 2400,
        history_hours: float = 12.0,
        period_s: float = 3.0,
        malformed_rate: float = 0.0,
        redelivery_rate: float = 0.03,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.rng = random.Random(seed)
        self.directory = directory
        self.period_s = period_s
        self.malformed_rate = malformed_rate
        self.redelivery_rate = redelivery_rate
        self.clock = clock
        places = Places.load(geodata, units)
        self.cells = [self._cell(places, n) for n in range(cells)]
        start = clock() - timedelta(hours=history_hours)
        self.next_period = start.replace(minute=start.minute // 15 * 15, second=0, microsecond=0)
        self.written: list[Path] = []
        self._contents: dict[str, str] = {}  # of the recent files, to deliver one again
        self.rows = self.redelivered = 0
        self.stopping = threading.Event()

    def _cell(self, places: Places, n: int) -> Cell:
        rng = self.rng
        operator = rng.choices([o for o, _ in OPERATORS], weights=[w for _, w in OPERATORS])[0]
        district = places.district(rng)
        lat, lon = places.point(rng, district)
        share_5g = 0.35 if district in URBAN else 0.1
        return Cell(
            operator=operator,
            id=f"{operator[:2].upper()}{n:05d}",
            technology="5G" if rng.random() < share_5g else "4G",
            lat=lat,
            lon=lon,
            load=rng.lognormvariate(math.log(180 if district in URBAN else 90), 0.5),
        )

    def due(self) -> bool:
        return self.next_period + PERIOD <= self.clock()

    def write_period(self) -> list[Path]:
        """The files of the next period, one per operator; returns their paths."""
        start = self.next_period
        self.next_period += PERIOD
        paths = []
        for operator, _ in OPERATORS:
            cells = [c for c in self.cells if c.operator == operator]
            paths.append(self._write(operator, start, cells))
        if self.written and self.rng.random() < self.redelivery_rate:
            # an operator's system sends a recent file again
            again = self.rng.choice([p for p in self.written[-30:] if p.name in self._contents])
            self._deliver(again.name, self._contents[again.name])
            self.redelivered += 1
        self.written = [*self.written[-60:], *paths]
        return paths

    def _write(self, operator: str, start: datetime, cells: list[Cell]) -> Path:
        local = start.astimezone(TZ)
        factor = HOURLY[local.hour]
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        out.writerow(COLUMNS)
        for cell in cells:
            subscribers = max(0, round(cell.load * factor * self.rng.uniform(0.8, 1.2)))
            per_user = 3.5 if cell.technology == "5G" else 1.6  # MB per subscriber per 15 minutes
            down = round(subscribers * per_user * self.rng.uniform(0.7, 1.3), 2)
            row = [operator, cell.id, cell.technology, cell.lat, cell.lon, local.isoformat(), 15, down,
                   round(down * self.rng.uniform(0.08, 0.15), 2), subscribers]  # fmt: skip
            if self.malformed_rate and self.rng.random() < self.malformed_rate:
                row[self.rng.choice([5, 7, 9])] = self.rng.choice(["", "n/a", "-5"])
            out.writerow(row)
            self.rows += 1
        name = f"{operator.lower()}_{local:%Y%m%d%H%M}.csv"
        self._contents[name] = buffer.getvalue()
        while len(self._contents) > 90:  # dicts keep insertion order: drop the oldest
            del self._contents[next(iter(self._contents))]
        return self._deliver(name, buffer.getvalue())

    def _deliver(self, name: str, content: str) -> Path:
        """Write under a temporary name, rename, then the ``.done`` twin: never a half file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        temporary = self.directory / f".{name}.part"
        temporary.write_text(content, encoding="utf-8")
        temporary.replace(path)
        path.with_name(name + ".done").touch()
        return path

    def catch_up(self) -> int:
        """Write every period already over, without pausing (tests, and the demo's start)."""
        count = 0
        while self.due():
            self.write_period()
            count += 1
        return count

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.due():
                self.write_period()
                self.stopping.wait(self.period_s)
            else:
                self.stopping.wait(5.0)

    def close(self) -> None:
        self.stopping.set()
