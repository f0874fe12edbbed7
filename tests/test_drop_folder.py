"""Drop folders with broken and hostile files: each file is handled on its own (a bad one moves to
``rejected/`` with its reason, the next is read), sizes and workbooks are capped before parsing,
and no link pulls another file in or sends files elsewhere."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import polars as pl
import pytest
from pydantic import ValidationError

from connectors.drop_folder import DropFolderConfig, DropFolderConnector
from ioc.connector import Context, SourceError
from tests import oracle
from tests.pipeline import FeedPipeline
from tests.redis_text import everything
from tests.test_kpis import dossier

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
ROWS = [
    dossier(f"D{n}", "25456", "20T08:00:00", "25T08:00:00", "dang_xu_ly", "21T09:00:00") for n in range(3)
]
CITIZEN = "079188776655"


def workbook(rows: list[dict] = ROWS) -> bytes:
    out = io.BytesIO()
    pl.DataFrame(rows).cast(pl.String).write_excel(out)
    return out.getvalue()


def csv(rows: list[dict] = ROWS) -> bytes:
    return pl.DataFrame(rows).cast(pl.String).write_csv().encode()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def lying(declared: int) -> bytes:
    """A workbook whose sheet says it unpacks to ``declared`` bytes, and unpacks to more."""
    data = bytearray(workbook())
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    sheet = next(m for m in archive.infolist() if m.filename.startswith("xl/worksheets/sheet"))
    struct.pack_into("<I", data, sheet.header_offset + 22, declared)  # local header
    entries = [at for at in range(len(data) - 46) if data[at : at + 4] == b"PK\x01\x02"]
    entry = next(at for at in entries if struct.unpack_from("<I", data, at + 42)[0] == sheet.header_offset)
    struct.pack_into("<I", data, entry + 24, declared)  # central directory
    return bytes(data)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "drop").mkdir()
    return tmp_path / "drop"


@pytest.fixture
def start(r, units, folder) -> Callable[..., FeedPipeline]:
    def make(pattern: str = "*.csv", **options) -> FeedPipeline:
        config = DropFolderConfig(feed="public_services", drop_dir=folder, pattern=pattern, **options)
        context = Context(units=units, http=httpx.Client(), clock=lambda: NOW)
        return FeedPipeline(r, units, DropFolderConnector(config, context=context), lambda: NOW)

    return make


def published(pipe: FeedPipeline) -> int:
    return pipe.runner.records


def reasons(pipe: FeedPipeline) -> list[str]:
    return sorted(d["reason"] for d in pipe.dead_letters())


def test_a_corrupt_workbook_is_rejected_and_the_next_file_is_read(start, folder) -> None:
    """A workbook the parser fails on (CalamineError) or a truncated one costs that file only: a dead
    letter, `rejected/` with its reason (at the poll after), and the good file is read."""
    (folder / "a_not_a_sheet.xlsx").write_bytes(zipped({"hello.txt": b"xin chao"}))
    (folder / "b_truncated.xlsx").write_bytes(workbook()[:2000])
    (folder / "c_good.xlsx").write_bytes(workbook())
    pipe = start("*.xlsx")
    pipe.sync()
    assert published(pipe) == 3
    assert reasons(pipe) == [
        "a_not_a_sheet.xlsx: cannot be read as an Excel workbook (CalamineError)",
        "b_truncated.xlsx: is not a valid workbook (not a zip archive)",
    ]
    assert (folder / "a_not_a_sheet.xlsx").exists()  # moved only once that poll is published
    pipe.sync()
    assert sorted(p.name for p in (folder / "rejected").iterdir()) == [
        "a_not_a_sheet.xlsx",
        "a_not_a_sheet.xlsx.reason.txt",
        "b_truncated.xlsx",
        "b_truncated.xlsx.reason.txt",
    ]
    assert (folder / "rejected" / "b_truncated.xlsx.reason.txt").read_text(encoding="utf-8") == (
        "b_truncated.xlsx: is not a valid workbook (not a zip archive)\n"
    )
    assert [p.name for p in (folder / "processed").iterdir()] == ["c_good.xlsx"]
    assert [p.name for p in folder.iterdir() if p.is_file()] == []


def test_text_that_is_not_utf8_is_rejected_and_its_content_kept_nowhere(start, folder, r) -> None:
    """The reason names the file and the fault, never a byte of it: not in Redis, not beside it."""
    (folder / "a.csv").write_bytes(b"ma_ho_so,ghi_chu\nD1,CCCD " + CITIZEN.encode() + b" \xff\xfe\n")
    (folder / "b.csv").write_bytes(csv())
    pipe = start()
    pipe.sync()
    pipe.sync()
    assert published(pipe) == 3 and reasons(pipe) == ["a.csv: is not UTF-8 text"]
    reason = (folder / "rejected" / "a.csv.reason.txt").read_text(encoding="utf-8")
    assert reason == "a.csv: is not UTF-8 text\n"
    assert CITIZEN not in everything(r)


def test_a_file_over_max_file_bytes_is_rejected_unread(start, folder) -> None:
    """Bigger than the limit: refused from its size alone, and the next file is read."""
    (folder / "a_big.csv").write_bytes(csv(ROWS * 20))
    (folder / "b.csv").write_bytes(csv())
    size = (folder / "a_big.csv").stat().st_size
    pipe = start(max_file_bytes=size - 1)
    pipe.sync()
    assert published(pipe) == 3
    assert reasons(pipe) == [f"a_big.csv: is {size} bytes, over the limit of {size - 1} (max_file_bytes)"]


@pytest.mark.parametrize(
    ("content", "options", "reason"),
    [
        (lambda: zipped({"xl/a.xml": b"<a/>" * 300_000}), {"max_unpacked_bytes": 1_000_000}, "unpacks to 1200000 bytes, over the limit of 1000000 (max_unpacked_bytes)"),
        (lambda: zipped({"xl/a.xml": b"\0" * 5_000_000}), {}, "times its size, over max_zip_ratio (100)"),
        (lambda: zipped({f"xl/{n}.xml": b"<a/>" for n in range(30)}), {"max_zip_members": 20}, "holds more than 20 parts (max_zip_members)"),
        (lambda: lying(100), {}, "is not a valid workbook: a part unpacks to another size than it declares"),
    ],
)  # fmt: skip
def test_a_workbook_unpacking_past_its_limits_is_refused_before_parsing(
    start, folder, content, options, reason
) -> None:
    """Declared sizes, member count, ratio and the real unpacked size are checked before the parser runs."""
    (folder / "a.xlsx").write_bytes(content())
    (folder / "b.xlsx").write_bytes(workbook())
    pipe = start("*.xlsx", **options)
    pipe.sync()
    (letter,) = reasons(pipe)
    assert letter.startswith("a.xlsx: ") and reason in letter
    assert published(pipe) == 3


def test_a_link_in_the_folder_is_moved_itself_and_never_followed(start, folder, tmp_path) -> None:
    """A link to a file elsewhere brings none of its rows in; the link (not its target) goes to rejected/."""
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(csv())
    (folder / "a.csv").symlink_to(outside)
    pipe = start()
    pipe.sync()
    pipe.sync()
    assert published(pipe) == 0
    assert reasons(pipe) == [
        "a.csv: is a symbolic link; links are not followed (the link itself is moved, never its target)"
    ]
    assert (folder / "rejected" / "a.csv").is_symlink() and outside.read_bytes() == csv()


def test_a_fifo_is_rejected_without_hanging_the_poll(start, folder) -> None:
    """Anything but a regular file (here a FIFO no one writes to) is refused without being opened for reading."""
    os.mkfifo(folder / "a.csv")
    (folder / "b.csv").write_bytes(csv())
    pipe = start()
    pipe.sync()
    pipe.sync()
    assert published(pipe) == 3 and reasons(pipe) == ["a.csv: is not a regular file"]
    assert (folder / "rejected" / "a.csv").is_fifo()


@pytest.mark.parametrize(("make", "what"), [("link", "is a symbolic link"), ("file", "is not a folder")])
def test_an_archive_folder_that_is_a_link_or_a_file_moves_nothing(
    start, folder, tmp_path, make, what
) -> None:
    """`processed/` as a link elsewhere (or a file): the poll stops with a SourceError naming it, no
    file goes through it, and `check()` says the same."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if make == "link":
        (folder / "processed").symlink_to(elsewhere)
    else:
        (folder / "processed").write_text("", encoding="utf-8")
    (folder / "a.csv").write_bytes(csv())
    pipe = start()
    pipe.sync()  # read and published; moved at the next poll
    message = f"{folder / 'processed'}: {what}; no file is moved through it (make it a plain folder)"
    with pytest.raises(SourceError) as raised:
        pipe.runner.run_once()
    assert str(raised.value) == message
    with pytest.raises(SourceError, match="no file is moved through it"):
        pipe.connector.check()
    assert list(elsewhere.iterdir()) == [] and (folder / "a.csv").exists()


def test_a_link_planted_as_the_reason_file_is_replaced_not_written_through(start, folder, tmp_path) -> None:
    """`rejected/<name>.reason.txt` linking elsewhere: the link is replaced by the reason, the target untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched", encoding="utf-8")
    (folder / "rejected").mkdir()
    (folder / "rejected" / "a.csv.reason.txt").symlink_to(victim)
    (folder / "a.csv").write_bytes(b"ma_ho_so\nD1 \xff\xfe\n")
    pipe = start()
    pipe.sync()
    pipe.sync()
    reason = folder / "rejected" / "a.csv.reason.txt"
    assert not reason.is_symlink() and reason.read_text(encoding="utf-8") == "a.csv: is not UTF-8 text\n"
    assert victim.read_text(encoding="utf-8") == "untouched"


def test_a_pattern_reaching_out_of_the_folder_is_refused() -> None:
    """`pattern` names files in `drop_dir` only: a path in it is a configuration error saying so."""
    with pytest.raises(ValidationError, match="without folders"):
        DropFolderConfig(feed="public_services", drop_dir=Path("/srv/drop"), pattern="../*.csv")
