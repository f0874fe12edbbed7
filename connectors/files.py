"""Files of a watched folder read as hostile input: no link followed, sizes capped, a workbook's
archive checked before any parser unpacks it, and every failure said in a plain sentence that
holds no byte of the file (a reason may be stored, logged and written beside the file).

A workbook (xlsx, xlsm, xlsb, ods) is a zip archive. The sizes an archive declares may lie, so
each part is unpacked once here, counting, never further than the limits, before the parser is
given the file: a part that unpacks to more than it declares is refused, as are more parts than
``max_zip_members``, more unpacked bytes than ``max_unpacked_bytes`` and an archive that unpacks
to more than ``max_zip_ratio`` times its own size.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
from pydantic import BaseModel, Field

EXCEL = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
ZIPPED = (".xlsx", ".xlsm", ".xlsb", ".ods")
CHUNK = 1 << 20
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO must not hang us
END_OF_DIRECTORY = b"PK\x05\x06"
DIRECTORY_ENTRY = b"PK\x01\x02"
LOCAL_HEADER = b"PK\x03\x04"


class Refused(Exception):
    """A file that is not read, and why, in a sentence without its content."""


class FileLimits(BaseModel):
    """How big a dropped file may be."""

    max_file_bytes: int = Field(
        50_000_000, ge=1, description="A larger file is not read: it moves to `rejected/` with its reason."
    )


class WorkbookLimits(FileLimits):
    """... and what a workbook (a zip archive) may unpack to."""

    max_unpacked_bytes: int = Field(
        200_000_000, ge=1, description="A workbook whose parts unpack to more bytes than this is refused."
    )
    max_zip_members: int = Field(10_000, ge=1, description="A workbook of more parts than this is refused.")
    max_zip_ratio: float = Field(
        100.0, gt=1, description="A workbook that unpacks to more than this many times its size is refused."
    )


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_unpacked_bytes: int = 0
    max_zip_members: int = 0
    max_zip_ratio: float = 0.0


LINK = "is a symbolic link; links are not followed (the link itself is moved, never its target)"


def kind_of(mode: int) -> str | None:
    """Why an entry of this mode is not read, or None for a regular file."""
    if stat.S_ISLNK(mode):
        return LINK
    return None if stat.S_ISREG(mode) else "is not a regular file"


def read_regular(folder: int, name: str, limit: int) -> bytes:
    """The bytes of the regular file ``name`` in the open folder ``folder``, never through a link.
    FileNotFoundError when it has gone meanwhile."""
    if (problem := kind_of(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)) is not None:
        raise Refused(problem)
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=folder)  # O_NOFOLLOW: a link swapped in since is not opened
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(LINK) from None
        raise Refused(f"cannot be opened ({exc.strerror})") from None
    with open(fd, "rb", closefd=True) as file:
        info = os.fstat(file.fileno())
        if (problem := kind_of(info.st_mode)) is not None:
            raise Refused(problem)
        if info.st_size > limit:
            raise Refused(f"is {info.st_size} bytes, over the limit of {limit} (max_file_bytes)")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"grew past the limit of {limit} bytes while being read (max_file_bytes)")
    return data


def identity(folder: int, name: str) -> str:
    """What a file is without reading it (device, inode, size, time): to move it only if unchanged."""
    info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    return f"stat:{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def read_table(data: bytes, suffix: str, separator: str, limits: Limits) -> list[dict[str, Any]]:
    """Every cell as text (the contract parses it), one dict per data row; Refused says why not."""
    excel = suffix.lower() in EXCEL
    if suffix.lower() in ZIPPED:
        check_archive(data, limits)
    try:
        if excel:
            frame = pl.read_excel(io.BytesIO(data), infer_schema_length=0)
        else:
            frame = pl.read_csv(io.BytesIO(data), infer_schema=False, separator=separator, encoding="utf8")
    # Parsers fail on hostile input in their own ways (fastexcel's CalamineError is no PolarsError):
    # any failure costs this file only. Its message may quote the file's content, so it is not kept.
    except Exception as exc:
        raise Refused(unreadable(exc, excel)) from None
    return frame.to_dicts()


def unreadable(exc: Exception, excel: bool) -> str:
    if not excel and "utf-8" in str(exc).lower():
        return "is not UTF-8 text"
    return f"cannot be read as {'an Excel workbook' if excel else 'CSV'} ({type(exc).__name__})"


def check_archive(data: bytes, limits: Limits) -> None:
    """Refused unless the zip archive ``data`` unpacks within the limits (checked by unpacking)."""
    count = len(list(directory_entries(data, limits.max_zip_members)))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise Refused("is not a valid workbook (a broken zip archive)") from None
    if len(members) != count:
        raise Refused("is not a valid workbook (a broken zip archive)")
    declared = sum(m.file_size for m in members)
    if declared > limits.max_unpacked_bytes:
        raise Refused(
            f"unpacks to {declared} bytes, over the limit of {limits.max_unpacked_bytes} (max_unpacked_bytes)"
        )
    if declared > (ratio := limits.max_zip_ratio) * len(data):
        raise Refused(f"unpacks to {declared / len(data):.0f} times its size, over max_zip_ratio ({ratio:g})")
    for member in members:
        if unpacked_size(data, member) != member.file_size:
            raise Refused("is not a valid workbook: a part unpacks to another size than it declares")


def directory_entries(data: bytes, limit: int) -> Iterator[int]:
    """The offsets of the archive's directory entries, walked without building them, up to ``limit``."""
    end = data.rfind(END_OF_DIRECTORY, max(0, len(data) - 22 - 65_535))
    if end < 0 or end + 22 > len(data):
        raise Refused("is not a valid workbook (not a zip archive)")
    entries, size, start = struct.unpack_from("<HII", data, end + 10)
    if entries == 0xFFFF or size == 0xFFFFFFFF or start == 0xFFFFFFFF:
        raise Refused("is a ZIP64 archive, which no workbook of this size needs")
    at, seen = start, 0
    while at < start + size:
        if data[at : at + 4] != DIRECTORY_ENTRY or at + 46 > len(data):
            raise Refused("is not a valid workbook (a broken zip archive)")
        seen += 1
        if seen > limit:
            raise Refused(f"holds more than {limit} parts (max_zip_members)")
        yield at
        name, extra, comment = struct.unpack_from("<HHH", data, at + 28)
        at += 46 + name + extra + comment


def unpacked_size(data: bytes, member: zipfile.ZipInfo) -> int:
    """What a part really unpacks to, counted no further than one byte past what it declares."""
    if member.flag_bits & 0x1:
        raise Refused("is an encrypted workbook")
    at = member.header_offset
    if data[at : at + 4] != LOCAL_HEADER:
        raise Refused("is not a valid workbook (a broken zip archive)")
    name, extra = struct.unpack_from("<HH", data, at + 26)
    start = at + 30 + name + extra
    raw = memoryview(data)[start : start + member.compress_size]
    if member.compress_type == zipfile.ZIP_STORED:
        return len(raw)
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise Refused(f"uses compression method {member.compress_type}; workbooks use deflate")
    return inflated_size(raw, member.file_size + 1)


def inflated_size(raw: memoryview, limit: int) -> int:
    """Bytes a raw deflate stream unpacks to, counting no further than ``limit``."""
    inflater, size = zlib.decompressobj(-zlib.MAX_WBITS), 0
    try:
        for offset in range(0, len(raw), CHUNK):
            pending = bytes(raw[offset : offset + CHUNK])
            while pending and size < limit:
                size += len(inflater.decompress(pending, CHUNK))
                pending = inflater.unconsumed_tail
            if size >= limit:
                return size
        return size + len(inflater.flush())  # at most what is left of one match (zlib's window)
    except zlib.error:
        raise Refused("is not a valid workbook (a part does not unpack)") from None
