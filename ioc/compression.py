"""Compressed answers (Brotli, else gzip): the page's bundles are most of its weight.

Files that do not change while the app runs (Dash's bundles, our assets with the Plotly bundle,
fonts, boundaries) are compressed once per process and kept: first at Brotli level 6, which takes
a fraction of a second, then, in a background thread, again at level 11 (Plotly's geo bundle:
1.40 MB → 424 kB → 384 kB; a few seconds of a core, the GIL released) which replaces the first. Flask sends
such files as streams, which flask-compress would compress anew on every request and less well
(863 kB), so they are read whole first. Figures, callbacks and the API are compressed on each
answer, never kept.

A file is kept under its path alone: not the query string (``?v=``, ``?m=`` or anything a client
makes up) nor a Dash fingerprint (``.v4_4_1m17.js``), so that asking for one file under many
names neither grows the process nor compresses it again. What is kept is bounded
(``web.compression_cache_bytes``, least recently used dropped first), and a file is recompressed
at level 11 once per process at most, whatever is dropped and taken again.
"""

from __future__ import annotations

import logging
import posixpath
import queue
import threading
from collections import OrderedDict
from functools import partial

import brotli
from dash.fingerprint import check_fingerprint
from flask import Flask, Request, Response, request
from flask_compress import Compress

log = logging.getLogger(__name__)

UNCHANGING = ("/_dash-component-suites/", "/assets/", "/fonts/", "/geo/", "/embed-static/", "/_favicon.ico")
MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "image/svg+xml",
    "image/vnd.microsoft.icon",
    "image/x-icon",
]
QUICK_LEVEL, DENSE_LEVEL = 6, 11
DENSE_FROM = 20_000  # smaller files gain too little from level 11 to be worth a second pass


def unchanging(path: str) -> bool:
    return path.startswith(UNCHANGING)


class UnchangingCache:
    """flask-compress's cache, keeping only the compressed files under :data:`UNCHANGING`, at
    most ``limit_bytes`` of them (least recently used dropped first); a large Brotli entry is
    recompressed at :data:`DENSE_LEVEL` by one background thread, once per file."""

    ENTRY_OVERHEAD = 200  # bytes of a key and its bookkeeping, counted against the limit

    def __init__(self, limit_bytes: int) -> None:
        self.limit = limit_bytes
        self.kept: OrderedDict[str, bytes] = OrderedDict()
        self.size = 0
        self.taken = 0  # files compressed and kept (each once, unless dropped in between)
        self.densified = 0  # of them recompressed at DENSE_LEVEL
        self._dense: set[str] = set()  # keys ever queued for DENSE_LEVEL: at most one pass each
        self._lock = threading.Lock()
        self._work: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self.kept.get(key)
            if found is not None:
                self.kept.move_to_end(key)
            return found

    def set(self, key: str, value: bytes) -> None:
        # flask-compress sets the entry again at every hit: only a new one is taken.
        if not unchanging(key.split(";", 1)[-1]) or self._cost(key, value) > self.limit:
            return
        with self._lock:
            if key in self.kept:
                return
            self.kept[key] = value
            self.size += self._cost(key, value)
            self.taken += 1
            while self.size > self.limit:
                old_key, old = self.kept.popitem(last=False)
                self.size -= self._cost(old_key, old)
            if not key.startswith("br;") or key in self._dense:
                return
            self._dense.add(key)
            if self._worker is None:
                self._worker = threading.Thread(target=self._densify, name="brotli-11", daemon=True)
                self._worker.start()
        self._work.put(key)

    def settle(self) -> None:
        """Wait until every recompression asked for is done (for tests and benchmarks)."""
        self._work.join()

    def _cost(self, key: str, value: bytes) -> int:
        return len(value) + len(key) + self.ENTRY_OVERHEAD

    def _densify(self) -> None:
        while True:
            key = self._work.get()
            try:
                self._densify_one(key)
            finally:
                self._work.task_done()

    def _densify_one(self, key: str) -> None:
        quick = self.get(key)
        if quick is None:  # dropped since
            return
        data = brotli.decompress(quick)
        if len(data) < DENSE_FROM:
            return
        dense = brotli.compress(data, quality=DENSE_LEVEL)
        with self._lock:
            if self.kept.get(key) is quick:  # not dropped (nor dropped and taken again) meanwhile
                self.kept[key] = dense
                self.size += len(dense) - len(quick)
        self.densified += 1
        log.debug("%s: %d bytes at Brotli %d", key, len(dense), DENSE_LEVEL)


def _key(request: Request) -> str:
    """An unchanging file's path without the query string or a Dash fingerprint (every name of
    one file is one key); any other answer's own path, which is never kept."""
    if not unchanging(request.path):
        return request.path
    path, _fingerprinted = check_fingerprint(posixpath.normpath(request.path))  # type: ignore[no-untyped-call]
    return str(path)


def _whole(response: Response) -> Response:
    """An unchanging file sent as a stream is read whole, so that it is compressed once."""
    if response.is_streamed and response.status_code == 200 and unchanging(request.path):
        response.direct_passthrough = False
        response.make_sequence()
    return response


def install(server: Flask, *, cache_bytes: int) -> None:
    server.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_BR_LEVEL=QUICK_LEVEL,
        COMPRESS_MIMETYPES=MIMETYPES,
        COMPRESS_CACHE_BACKEND=partial(UnchangingCache, cache_bytes),
        COMPRESS_CACHE_KEY=_key,
    )
    server.extensions["compress"] = Compress(server)
    server.after_request(_whole)  # after-request functions run last-registered first
