"""A watched folder of CSV or Excel files: operators' 15-minute counters (FEEDS.md §3), or any
feed dropped as files (the generic ``drop_folder`` connector).

A file is taken when it is complete (its ``.done`` twin exists, when required). Its rows go
through the feed's contract; a bad row becomes a dead letter naming the file and line. Files are
moved out of the folder only after the poll that read them was published: the cursor lists them,
and the next poll archives them to ``processed/`` (or ``rejected/``). A crash in between re-reads
the files, and the aggregator counts each row once by its identity; a file delivered again with
the same content is recognised by its hash and archived without being read.

Every file is handled on its own. One that cannot be taken (a corrupt workbook, text that is not
UTF-8, missing columns, a file over ``max_file_bytes``, a workbook unpacking past its limits, a
symbolic link, anything not a regular file) becomes one dead letter with its name and the reason,
moves to ``rejected/`` with the reason beside it in ``<name>.reason.txt`` (a sentence, never the
file's content), and the next file is read. Links are never followed: a link in the folder is
moved itself (a rename does not follow it), never its target; a ``processed/`` or ``rejected/``
that is a link or not a folder stops the poll with a SourceError saying so, and nothing is moved
through it. A file that cannot be moved (say ``rejected/<name>`` is a folder) stays, with a dead
letter saying why, and the others move on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.files import FileLimits, Limits, Refused, WorkbookLimits, identity, read_regular, read_table
from ioc.connector import Batch, Coding, Context, FutureSkew, SourceError
from ioc.contracts import Contract, make_contract, rename
from ioc.feed_contracts import LazyLocator, MobileContract
from ioc.streams import DeadLetter

DONE = ".done"
REASON = ".reason.txt"
ARCHIVES = ("processed", "rejected")
RECENT = 2000  # hashes of files already read, to recognise a re-delivery
RenameRow = Callable[[dict[str, Any]], dict[str, Any]]  # a source's names to FEEDS.md's
MOBILE_NAME = re.compile(r"^[A-Za-z]+_\d{12}\.csv$")
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass
class Reading:
    rows: list[Any] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # "file line n" of each row
    dead: list[DeadLetter] = field(default_factory=list)
    taken: list[list[str]] = field(default_factory=list)  # name, identity, processed|rejected, reason
    duplicates: int = 0


def exists(folder: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def write_reason(folder: int, name: str, reason: str) -> None:
    """``<name>.reason.txt`` in ``folder``; whatever had that name (a link) is replaced, not followed."""
    target = name + REASON
    with suppress(FileNotFoundError):
        os.unlink(target, dir_fd=folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with open(os.open(target, flags, 0o644, dir_fd=folder), "w", encoding="utf-8") as out:
        out.write(f"{name}: {reason}\n")


class DropFolder:
    def __init__(
        self,
        directory: Path,
        *,
        pattern: str,
        require_done: bool,
        max_files: int,
        source: str,
        required_columns: Callable[[], set[str]],
        limits: Limits,
        name_rule: tuple[re.Pattern[str], str] | None = None,
        separator: str = ",",
    ) -> None:
        self.directory = directory
        self.pattern = pattern
        self.require_done = require_done
        self.max_files = max_files
        self.source = source
        self.required_columns = required_columns
        self.limits = limits
        self.name_rule = name_rule
        self.separator = separator

    def check(self) -> str:
        with self._opened() as folder:
            for where in ARCHIVES:  # a link or a file there is said now, not at the first move
                if (fd := self._archive_folder(folder, where, create=False)) >= 0:
                    os.close(fd)
            return f"{self.directory}: {len(self._waiting(folder))} complete files waiting"

    def complete(self) -> list[str]:
        with self._opened() as folder:
            return self._waiting(folder)

    def read(self, cursor: str | None, rename_row: RenameRow) -> tuple[Reading, str]:
        state = json.loads(cursor) if cursor else {"taken": [], "recent": []}
        reading = Reading()
        recent = list(state["recent"])
        with self._opened() as folder:
            reading.dead += self._archive(folder, state["taken"])
            for name in self._waiting(folder)[: self.max_files]:
                self._take(folder, name, recent, reading, rename_row)
        return reading, json.dumps({"taken": reading.taken, "recent": recent[-RECENT:]})

    @contextmanager
    def _opened(self) -> Iterator[int]:
        try:
            folder = os.open(self.directory, DIRECTORY)  # the configured folder itself may be a link
        except OSError as exc:
            raise SourceError(f"{self.directory}: cannot open the folder ({exc.strerror})") from None
        try:
            yield folder
        finally:
            os.close(folder)

    def _waiting(self, folder: int) -> list[str]:
        names = sorted(
            name
            for name in os.listdir(folder)
            if name not in ARCHIVES and not name.endswith(DONE) and fnmatchcase(name, self.pattern)
        )
        return [n for n in names if not self.require_done or exists(folder, n + DONE)]

    def _take(
        self, folder: int, name: str, recent: list[str], reading: Reading, rename_row: RenameRow
    ) -> None:
        """Read one file into ``reading``, or reject it with the reason; never raises for the file."""
        try:
            data = read_regular(folder, name, self.limits.max_file_bytes)
        except Refused as exc:
            with suppress(FileNotFoundError):
                self._reject(reading, name, identity(folder, name), str(exc))
            return
        except FileNotFoundError:  # gone since the folder was listed
            return
        digest = hashlib.sha256(data).hexdigest()
        if digest in recent:
            reading.duplicates += 1
            reading.taken.append([name, digest, "processed", ""])
            return
        try:
            rows = self._rows(name, data, rename_row)
        except Refused as exc:
            self._reject(reading, name, digest, str(exc))
            return
        recent.append(digest)
        reading.rows += rows
        reading.lines += [f"{name} line {i + 2}" for i in range(len(rows))]  # line 1 is the header
        reading.taken.append([name, digest, "processed", ""])

    def _rows(self, name: str, data: bytes, rename_row: RenameRow) -> list[dict[str, Any]]:
        if self.name_rule and not self.name_rule[0].match(name):
            raise Refused(f"file name is not {self.name_rule[1]}")
        rows = [rename_row(r) for r in read_table(data, Path(name).suffix, self.separator, self.limits)]
        header = set(rows[0]) if rows else set()
        if rows and (missing := sorted(self.required_columns() - header)):
            raise Refused(f"missing columns: {', '.join(missing)}")
        return rows

    def _reject(self, reading: Reading, name: str, ident: str, reason: str) -> None:
        reading.dead.append(DeadLetter(f"{name}: {reason}", {"file": name}, self.source))
        reading.taken.append([name, ident, "rejected", reason])

    def _archive(self, folder: int, taken: list[list[str]]) -> list[DeadLetter]:
        """Move the files a published poll read out of the folder (unless replaced meanwhile)."""
        targets: dict[str, int] = {}
        stuck: list[DeadLetter] = []
        try:
            for name, ident, where, *why in taken:
                if self._unchanged(folder, name, ident):
                    if where not in targets:
                        targets[where] = self._archive_folder(folder, where, create=True)
                    try:
                        os.rename(name, name, src_dir_fd=folder, dst_dir_fd=targets[where])
                        if why and why[0]:
                            write_reason(targets[where], name, why[0])
                    except OSError as exc:
                        reason = (
                            f"{name}: cannot be moved to {where}/ ({exc.strerror}); it stays in the folder"
                        )
                        stuck.append(DeadLetter(reason, {"file": name}, self.source))
                if exists(folder, name + DONE) and not exists(folder, name):
                    os.unlink(name + DONE, dir_fd=folder)
        finally:
            for fd in targets.values():
                os.close(fd)
        return stuck

    def _unchanged(self, folder: int, name: str, ident: str) -> bool:
        try:
            if ident.startswith("stat:"):
                return identity(folder, name) == ident
            return hashlib.sha256(read_regular(folder, name, self.limits.max_file_bytes)).hexdigest() == ident
        except (FileNotFoundError, Refused):
            return False

    def _archive_folder(self, folder: int, where: str, *, create: bool) -> int:
        """``processed/`` or ``rejected/``, opened without following a link (-1: absent, not created)."""
        path = self.directory / where
        if where not in ARCHIVES:  # a cursor written by something else
            raise SourceError(f"{path}: not one of the archive folders {', '.join(ARCHIVES)}")
        if create:
            with suppress(FileExistsError):
                os.mkdir(where, dir_fd=folder)
        try:
            return os.open(where, DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
        except FileNotFoundError:
            if create:
                raise SourceError(f"{path}: vanished while files were being moved into it") from None
            return -1
        except OSError as exc:  # O_NOFOLLOW | O_DIRECTORY says ENOTDIR of a link too: look at it
            mode = os.stat(where, dir_fd=folder, follow_symlinks=False).st_mode
            what = f"cannot be opened ({exc.strerror})"
            if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
                what = "is a symbolic link" if stat.S_ISLNK(mode) else "is not a folder"
            raise SourceError(
                f"{path}: {what}; no file is moved through it (make it a plain folder)"
            ) from None


class DropConnector:
    """Shared by the mobile-data connector and the generic drop folder."""

    name: ClassVar[str]
    feed: ClassVar[str]

    def __init__(
        self,
        folder: DropFolder,
        contract: Contract,
        context: Context,
        *,
        future_skew_s: float,
        coding: Coding | None = None,
    ) -> None:
        self.folder = folder
        self.contract = contract
        self.context = context
        self.future_skew_s = future_skew_s
        self.units = context.coding(coding)  # mobile data has no codes: placed by coordinates

    def check(self) -> str:
        return self.folder.check()

    def poll(self, cursor: str | None) -> Batch:
        mapping = self.contract.mapping
        reading, cursor_out = self.folder.read(cursor, lambda row: rename(row, mapping) if mapping else row)
        done = self.contract.transform(
            reading.rows,
            units=self.units,
            source=self.name,
            mapping={},
            where=reading.lines.__getitem__,
            not_after=self.context.not_after(self.future_skew_s),
        )
        stats = {
            "files": len(reading.taken),
            "duplicate_files": reading.duplicates,
            "rows": len(reading.rows),
        }
        more = len(self.folder.complete()) > 0 and len(reading.taken) >= self.folder.max_files
        stats["more"] = int(more)
        return Batch(done.records, cursor_out, [*reading.dead, *done.dead_letters], stats)


def required_sources(contract: Contract) -> Callable[[], set[str]]:
    return lambda: {f.source for f in contract.fields if f.required and f.source not in contract.derived}


class MobileDataConfig(FutureSkew, FileLimits):
    model_config = ConfigDict(extra="forbid")

    drop_dir: Path = Field(
        description="Folder the operators drop `<operator>_<YYYYmmddHHMM>.csv` files into."
    )
    interval_s: float = Field(10.0, gt=0, description="Seconds between looks at the folder.")
    max_files: int = Field(50, ge=1, description="Files read at most per poll.")


class MobileDataConnector(DropConnector):
    """Operators' per-cell counters; each cell is placed in a unit once and cached."""

    name: ClassVar[str] = "mobile_data"
    feed: ClassVar[str] = "mobile_data"
    Config: ClassVar[type[BaseModel]] = MobileDataConfig

    def __init__(self, config: MobileDataConfig, *, context: Context) -> None:
        contract = MobileContract(LazyLocator(context))
        folder = DropFolder(
            Path(config.drop_dir),
            pattern="*.csv",
            require_done=True,
            max_files=config.max_files,
            source=self.name,
            required_columns=required_sources(contract),
            limits=Limits(config.max_file_bytes),
            name_rule=(MOBILE_NAME, "<operator>_<YYYYmmddHHMM>.csv"),
        )
        super().__init__(folder, contract, context, future_skew_s=config.future_skew_s)


class DropFolderConfig(FutureSkew, Coding, WorkbookLimits):
    model_config = ConfigDict(extra="forbid")

    feed: str = Field(description="The feed the files' rows belong to (FEEDS.md name).")
    drop_dir: Path = Field(description="The watched folder.")
    pattern: str = Field("*.csv", description="Which files to read: `*.csv`, `*.xlsx`, ...")
    require_done: bool = Field(
        False, description="Read a file only once its `<name>.done` twin exists (it is complete)."
    )
    separator: str = Field(",", min_length=1, max_length=1, description="CSV column separator.")
    interval_s: float = Field(30.0, gt=0, description="Seconds between looks at the folder.")
    max_files: int = Field(50, ge=1, description="Files read at most per poll.")
    mapping: dict[str, str] = Field(
        default_factory=dict, description="FEEDS.md field name -> the file's column name, where they differ."
    )
    options: dict[str, Any] = Field(default_factory=dict, description="The feed's own options.")

    @field_validator("pattern")
    @classmethod
    def _a_name_pattern(cls, value: str) -> str:
        if "/" in value or value in ARCHIVES or not value.strip():
            raise ValueError(
                f"a pattern of file names in drop_dir, without folders (e.g. *.xlsx), not {value!r}"
            )
        return value


class DropFolderConnector(DropConnector):
    """Generic: any feed as CSV or Excel files with the columns named in `mapping`."""

    name: ClassVar[str] = "drop_folder"
    feed: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = DropFolderConfig

    def __init__(self, config: DropFolderConfig, *, context: Context) -> None:
        contract = make_contract(config.feed, config.options, context, mapping=config.mapping)
        self.feed = config.feed  # type: ignore[misc]
        folder = DropFolder(
            Path(config.drop_dir),
            pattern=config.pattern,
            require_done=config.require_done,
            max_files=config.max_files,
            source=self.name,
            required_columns=required_sources(contract),
            limits=Limits(
                config.max_file_bytes, config.max_unpacked_bytes, config.max_zip_members, config.max_zip_ratio
            ),
            separator=config.separator,
        )
        super().__init__(folder, contract, context, future_skew_s=config.future_skew_s, coding=config)
