"""A watched folder of CSV or Excel files: operators' 15-minute counters (FEEDS.md §3), or any
feed dropped as files (the generic ``drop_folder`` connector).

A file is taken when it is complete (its ``.done`` twin exists, when required). Its rows go
through the feed's contract; a bad row becomes a dead letter naming the file and line, a file
that cannot be read (or misses columns) one naming the file. Files are moved out of the folder
only after the poll that read them was published: the cursor lists them, and the next poll
archives them to ``processed/`` (or ``rejected/``). A crash in between re-reads the files, and
the aggregator counts each row once by its identity; a file delivered again with the same
content is recognised by its hash and archived without being read.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from ioc.connector import Batch, Context, SourceError
from ioc.contracts import Contract, LazyLocator, MobileContract, make_contract, rename
from ioc.streams import DeadLetter

DONE = ".done"
RECENT = 2000  # hashes of files already read, to recognise a re-delivery
RenameRow = Callable[[dict[str, Any]], dict[str, Any]]  # a source's names to FEEDS.md's
MOBILE_NAME = re.compile(r"^[A-Za-z]+_\d{12}\.csv$")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_table(path: Path, separator: str = ",") -> list[dict[str, Any]]:
    """Every cell as text (the contract parses it), one dict per data row."""
    if path.suffix.lower() in (".xlsx", ".xls", ".xlsm", ".ods"):
        frame = pl.read_excel(path, infer_schema_length=0)
    else:
        frame = pl.read_csv(path, infer_schema=False, separator=separator, encoding="utf8")
    return frame.to_dicts()


@dataclass
class Reading:
    rows: list[Any] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # "file line n" of each row
    dead: list[DeadLetter] = field(default_factory=list)
    taken: list[tuple[str, str, str]] = field(default_factory=list)  # name, hash, processed|rejected
    duplicates: int = 0


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
        name_rule: tuple[re.Pattern[str], str] | None = None,
        separator: str = ",",
    ) -> None:
        self.directory = directory
        self.pattern = pattern
        self.require_done = require_done
        self.max_files = max_files
        self.source = source
        self.required_columns = required_columns
        self.name_rule = name_rule
        self.separator = separator

    def check(self) -> str:
        if not self.directory.is_dir():
            raise SourceError(f"{self.directory}: no such folder")
        return f"{self.directory}: {len(self.complete())} complete files waiting"

    def complete(self) -> list[Path]:
        files = sorted(p for p in self.directory.glob(self.pattern) if p.is_file() and p.suffix != DONE)
        return [p for p in files if not self.require_done or p.with_name(p.name + DONE).exists()]

    def read(self, cursor: str | None, rename_row: RenameRow) -> tuple[Reading, str]:
        state = json.loads(cursor) if cursor else {"taken": [], "recent": []}
        self._archive(state["taken"])
        if not self.directory.is_dir():
            raise SourceError(f"{self.directory}: no such folder")
        recent = list(state["recent"])
        reading = Reading()
        for path in self.complete()[: self.max_files]:
            digest = sha256(path)
            if digest in recent:
                reading.duplicates += 1
                reading.taken.append((path.name, digest, "processed"))
                continue
            recent.append(digest)
            self._read_file(path, digest, reading, rename_row)
        cursor_out = json.dumps({"taken": reading.taken, "recent": recent[-RECENT:]})
        return reading, cursor_out

    def _read_file(
        self,
        path: Path,
        digest: str,
        reading: Reading,
        rename_row: RenameRow,
    ) -> None:
        problem = None
        rows: list[dict[str, Any]] = []
        if self.name_rule and not self.name_rule[0].match(path.name):
            problem = f"file name is not {self.name_rule[1]}"
        else:
            try:
                rows = [rename_row(r) for r in read_table(path, self.separator)]
            except (OSError, pl.exceptions.PolarsError, ValueError) as exc:
                problem = f"cannot read: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            else:
                header = set(rows[0]) if rows else set()
                if rows and (missing := sorted(self.required_columns() - header)):
                    problem = f"missing columns: {', '.join(missing)}"
        if problem:
            reading.dead.append(DeadLetter(f"{path.name}: {problem}", {"file": path.name}, self.source))
            reading.taken.append((path.name, digest, "rejected"))
            return
        reading.rows += rows
        reading.lines += [f"{path.name} line {i + 2}" for i in range(len(rows))]  # line 1 is the header
        reading.taken.append((path.name, digest, "processed"))

    def _archive(self, taken: list[list[str]]) -> None:
        """Move the files a published poll read out of the folder (unless replaced meanwhile)."""
        for name, digest, where in taken:
            path = self.directory / name
            if path.exists() and sha256(path) == digest:
                target = self.directory / where
                target.mkdir(exist_ok=True)
                shutil.move(path, target / name)
            done = self.directory / (name + DONE)
            if done.exists() and not path.exists():
                done.unlink()


class DropConnector:
    """Shared by the mobile-data connector and the generic drop folder."""

    name: ClassVar[str]
    feed: ClassVar[str]

    def __init__(self, folder: DropFolder, contract: Contract, context: Context) -> None:
        self.folder = folder
        self.contract = contract
        self.units = frozenset(context.units.codes)

    def check(self) -> str:
        return self.folder.check()

    def poll(self, cursor: str | None) -> Batch:
        mapping = self.contract.mapping
        reading, cursor_out = self.folder.read(cursor, lambda row: rename(row, mapping) if mapping else row)
        done = self.contract.transform(
            reading.rows, units=self.units, source=self.name, mapping={}, where=reading.lines.__getitem__
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


class MobileDataConfig(BaseModel):
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
            name_rule=(MOBILE_NAME, "<operator>_<YYYYmmddHHMM>.csv"),
        )
        super().__init__(folder, contract, context)


class DropFolderConfig(BaseModel):
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
            separator=config.separator,
        )
        super().__init__(folder, contract, context)
