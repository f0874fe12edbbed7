"""The morning briefings: made by the ``brief`` process and archived (the web app lists and serves
them: ``ioc.briefing_pages``).

The ``brief`` process (``ioc brief``, started by ``ioc run``) makes each configured unit's briefing
(``layouts.briefing``) once a day at ``briefing.at``, local time, and any unit's when someone asks
for it on ``/briefings``. Each is printed by headless Chromium, the engine the rooms are tested in,
from a self-contained page (fonts inline, no script, no request: its Content-Security-Policy
forbids every fetch), to a one-page A4 PDF and a PNG of the same page.

The archive is a folder (``briefing.directory``): one folder a day, three files a briefing,
``<unit>-<HHMMSS>-<daily|asked>.pdf|png|json``, the JSON (what it was made for) written last, so
a briefing is listed only once whole. Days older than ``briefing.keep_days`` are removed.

Requests go through Redis (``keys.briefings``): a stream read by a consumer group, acknowledged
once the files are there (a process killed mid-way leaves the request pending, and the next one
makes it), a hash of those not yet made for the page, and a list of the newest failures.

Who may see a briefing: whoever may see its unit's cases (``User.sees_cases``: a duty officer
their own units and those inside them; the others every unit), since a briefing names alerts and
counts overdue cases of the unit; every download is audited (``ioc.briefing_pages``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast

import redis

from ioc import keys
from ioc.alert_rules import RuleBook
from ioc.config import BriefingSettings, Settings
from ioc.connector import shown_specs
from ioc.feeds import room_specs
from ioc.geo import room_layers
from ioc.history import History
from ioc.kpis import TZ
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts.briefing import Briefing, Sources, gather, page_html
from layouts.embed import EmbedMaps
from layouts.geography import record_keys

log = logging.getLogger(__name__)

GROUP = "brief"
NAME = re.compile(r"^(?P<unit>[0-9A-Za-z]{1,12})-(?P<time>[0-9]{6})-(?P<kind>daily|asked)$")
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
FORMATS = {"pdf": "application/pdf", "png": "image/png"}
PAGE_PX = (794, 1123)  # A4 at 96 px an inch: the PNG's page, drawn at twice that
PRINT_TIMEOUT_S = 90
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RETRY_AFTER = timedelta(minutes=10)  # the day's briefings after a failure
ASKED_PER_HOUR = 10  # briefings one person may ask for in an hour
STALE_REQUEST = timedelta(hours=1)  # a request not made by then is dropped from the waiting list
PENDING_MAX = 20  # requests waiting at once, all units
FAILURES_KEPT = 50
HEARTBEAT_S = 120


@dataclass(frozen=True)
class Archived:
    """One briefing of the archive: its day's folder and name, and what it was made for."""

    day: str
    name: str
    unit: str
    unit_name: str
    made_at: datetime
    kind: str
    asked_by: str
    window: str

    @property
    def href(self) -> str:
        return f"/briefings/{self.day}/{self.name}"


@dataclass(frozen=True)
class Archive:
    directory: Path
    keep_days: int

    @classmethod
    def configured(cls, settings: BriefingSettings, data_dir: Path) -> Archive:
        return cls(settings.folder(data_dir), settings.keep_days)

    def save(self, briefing: Briefing, pdf: bytes, png: bytes) -> Archived:
        made = briefing.made_at.astimezone(TZ)
        day = made.date().isoformat()
        name = f"{briefing.unit}-{made:%H%M%S}-{briefing.kind}"
        if not NAME.fullmatch(name):
            raise ValueError(f"unit {briefing.unit!r}: not a name the archive can hold")
        folder = self.directory / day
        folder.mkdir(parents=True, exist_ok=True)
        for ext, body in (("pdf", pdf), ("png", png), ("json", json.dumps(briefing.meta()).encode())):
            part = folder / f".{name}.{ext}.part"
            part.write_bytes(body)
            os.replace(part, folder / f"{name}.{ext}")  # the JSON last: listed once whole
        found = self.find(day, name)
        assert found is not None
        return found

    def days(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(
            (p.name for p in self.directory.iterdir() if is_day(p.name) and p.is_dir()), reverse=True
        )

    def listed(self, day: str) -> list[Archived]:
        if not is_day(day) or not (self.directory / day).is_dir():
            return []
        found = [self.find(day, p.stem) for p in (self.directory / day).glob("*.json")]
        return sorted((a for a in found if a is not None), key=lambda a: a.made_at, reverse=True)

    def find(self, day: str, name: str) -> Archived | None:
        """The briefing ``name`` of ``day``, if both are well formed and it is whole."""
        matched = NAME.fullmatch(name)
        if not is_day(day) or matched is None:
            return None
        try:
            meta = json.loads((self.directory / day / f"{name}.json").read_text(encoding="utf-8"))
            return Archived(
                day=day,
                name=name,
                unit=matched["unit"],
                unit_name=str(meta.get("name", matched["unit"])),
                made_at=datetime.fromisoformat(meta["made_at"]),
                kind=matched["kind"],
                asked_by=str(meta.get("asked_by", "")),
                window=str(meta.get("window", "")),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # gone, or not ours
            return None

    def file(self, found: Archived, fmt: str) -> Path:
        return self.directory / found.day / f"{found.name}.{fmt}"

    def made(self, day: str, unit: str, kind: str) -> bool:
        folder = self.directory / day
        return folder.is_dir() and any(folder.glob(f"{unit}-[0-9]*-{kind}.json"))

    def expire(self, today: date) -> list[str]:
        """Remove the days older than the retention; the days removed."""
        oldest = today - timedelta(days=self.keep_days - 1)
        gone = [d for d in self.days() if date.fromisoformat(d) < oldest]
        for day in gone:
            shutil.rmtree(self.directory / day, ignore_errors=True)
        return gone


def is_day(text: str) -> bool:
    """A day's folder name: a real date, ``YYYY-MM-DD``."""
    if not DAY.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def describe(exc: Exception) -> str:
    """A failure in one line for the page: its kind and message, cut short."""
    text = str(exc) if isinstance(exc, PrintError) else f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0][:300] if text else type(exc).__name__


class PrintError(RuntimeError):
    pass


@dataclass(frozen=True)
class Printer:
    """Headless Chromium: a page to a one-page A4 PDF, and to a PNG of the same page."""

    chromium: str

    def print(self, html: str) -> tuple[bytes, bytes]:
        with tempfile.TemporaryDirectory(prefix="ioc-briefing-") as tmp:
            folder = Path(tmp)
            page = folder / "briefing.html"
            page.write_text(html, encoding="utf-8")
            pdf, png = folder / "briefing.pdf", folder / "briefing.png"
            self._run(folder, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page)
            self._run(
                folder,
                f"--screenshot={png}",
                f"--window-size={PAGE_PX[0]},{PAGE_PX[1]}",
                "--force-device-scale-factor=2",
                "--hide-scrollbars",
                page,
            )
            for out in (pdf, png):
                if not out.is_file() or out.stat().st_size == 0:
                    raise PrintError(f"{self.chromium} wrote no {out.suffix[1:].upper()}")
            return pdf.read_bytes(), png.read_bytes()

    def _run(self, folder: Path, *args: str | Path) -> None:
        command = [
            self.chromium,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--mute-audio",
            f"--user-data-dir={folder / 'profile'}",
            *(["--no-sandbox"] if os.geteuid() == 0 else []),  # Chromium's sandbox refuses root
            *(str(a) if isinstance(a, str) else a.as_uri() for a in args),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=PRINT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrintError(f"{self.chromium}: {exc}") from None
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise PrintError(f"{self.chromium} exited with {done.returncode}: {tail[0][:300]}")


@dataclass
class Briefer:
    """The ``brief`` process: the day's briefings at the configured time, and those asked for."""

    client: redis.Redis
    sources: Sources
    archive: Archive
    printer: Printer
    settings: BriefingSettings
    consumer: str = "brief-1"
    resume_at: datetime = EPOCH  # after a failure, the day's briefings wait until then
    expired: str = ""  # the day the archive was last cut to its retention

    def due_units(self) -> list[str]:
        units = self.sources.units
        return [u for level in self.settings.levels for u in units.level_codes(level)]

    def make(self, unit: str, now: datetime, kind: str, asked_by: str = "") -> Archived:
        briefing = gather(self.sources, unit, now, kind=kind, asked_by=asked_by)
        pdf, png = self.printer.print(page_html(briefing))
        made = self.archive.save(briefing, pdf, png)
        log.info("briefing of %s (%s) archived", unit, kind)
        return made

    def daily(self, now: datetime) -> int:
        """The day's briefings not yet made, once the configured time has passed (those asked for
        in the meantime between them); old days removed; how many were made."""
        moment = now.astimezone(TZ)
        if moment.time() < self.settings.at or now < self.resume_at:
            return 0
        day, made = moment.date().isoformat(), 0
        if self.expired != day:
            self.archive.expire(moment.date())
            self.expired = day
        for unit in self.due_units():
            if self.archive.made(day, unit, "daily"):
                continue
            try:
                self.make(unit, now, "daily")
                made += 1
            except Exception as exc:  # any unit's failure is said, and the rest go on later
                self.failed(unit, "", describe(exc), now)
                self.resume_at = now + RETRY_AFTER  # a broken printer: not 25 failures a second
                return made
            self.asked(None)  # a person's request does not wait for the whole morning
        return made

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(keys.briefings("requests"), GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def asked(self, block_ms: int | None) -> int:
        """Make the briefings asked for: those this consumer left pending first (a process that
        died mid-way), then new ones, waiting up to ``block_ms`` for one; how many were made."""
        made = 0
        for start in ("0", ">"):
            found = cast(
                list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                self.client.xreadgroup(
                    GROUP,
                    self.consumer,
                    {keys.briefings("requests"): start},
                    count=10,
                    block=block_ms if start == ">" else None,
                ),
            )
            for _stream, entries in found or []:
                for entry, fields in entries:
                    asked = {k.decode(): v.decode() for k, v in fields.items()}
                    now = datetime.now(UTC)
                    try:
                        self.make(asked["unit"], now, "asked", asked.get("by", ""))
                        made += 1
                    except Exception as exc:  # said on the page; the request is done with
                        self.failed(asked.get("unit", "?"), asked.get("by", ""), describe(exc), now)
                    pipe = self.client.pipeline(transaction=True)
                    pipe.xack(keys.briefings("requests"), GROUP, entry)
                    pipe.hdel(keys.briefings("pending"), entry)
                    pipe.execute()
        return made

    def failed(self, unit: str, by: str, error: str, now: datetime) -> None:
        log.error("briefing of %s not made: %s", unit, error)
        pipe = self.client.pipeline(transaction=True)
        note = {
            "unit": unit,
            "by": by,
            "error": error,
            "at": now.astimezone(UTC).isoformat(timespec="seconds"),
        }
        pipe.lpush(keys.briefings("failed"), json.dumps(note, ensure_ascii=False))
        pipe.ltrim(keys.briefings("failed"), 0, FAILURES_KEPT - 1)
        pipe.execute()

    def beat(self, now: datetime) -> None:
        status = {"at": now.astimezone(UTC).isoformat(timespec="seconds"), "chromium": self.printer.chromium}
        self.client.set(keys.briefings("worker"), json.dumps(status), ex=HEARTBEAT_S)

    def run(self, stop: threading.Event, block_ms: int = 1_000) -> None:
        self.ensure_group()
        while not stop.is_set():
            now = datetime.now(UTC)
            self.beat(now)
            self.daily(now)
            self.asked(block_ms)


def ask(client: redis.Redis, unit: str, by: str) -> str:
    """Queue a briefing of ``unit`` for ``by``; the request's id."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entry = client.xadd(keys.briefings("requests"), {"unit": unit, "by": by, "at": now}, maxlen=1000)
    request_id = entry.decode() if isinstance(entry, bytes) else str(entry)
    client.hset(keys.briefings("pending"), request_id, json.dumps({"unit": unit, "by": by, "at": now}))
    return request_id


def briefer(settings: Settings, client: redis.Redis) -> Briefer:
    """The ``brief`` process's worker: what the rooms read, from the same settings."""
    units = UnitTable.configured(settings.boundaries)
    layer, communes = room_layers(settings.boundaries.directory, settings.boundaries.scheme, units)
    wanted = settings.briefing
    sources = Sources(
        reader=SnapshotReader(client, History.configured(settings)),
        units=units,
        specs=room_specs(shown_specs(settings)),
        goals=Goals(settings.targets, units),
        maps=EmbedMaps(units, layer if settings.boundaries.scheme == "pre2025" else None, communes),
        rules=RuleBook(client, settings.alerts, units).current,
        window=wanted.window,
        counted_in=record_keys(units),
    )
    return Briefer(
        client,
        sources,
        Archive.configured(wanted, Path(settings.data_dir)),
        Printer(wanted.find_chromium()),
        wanted,
    )
