"""Compressed answers (Brotli, else gzip): the page's bundles are most of its weight.

Files that do not change while the app runs (Dash's bundles, our assets with the Plotly bundle,
fonts, boundaries) are compressed once per process and kept: first at Brotli level 6, which takes
a fraction of a second, then, in a background thread, again at level 11 (Plotly's map bundle:
2.96 MB → 753 kB → 662 kB; 5 s of a core, the GIL released) which replaces the first. Flask sends
such files as streams, which flask-compress would compress anew on every request and less well
(863 kB), so they are read whole first. Figures, callbacks and the API are compressed on each
answer, never kept.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import brotli
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
    """flask-compress's cache, keeping only the compressed files under :data:`UNCHANGING`; a
    large Brotli entry is recompressed at :data:`DENSE_LEVEL` by one background thread."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}
        self._work: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def get(self, key: str) -> Any:
        return self.kept.get(key)

    def set(self, key: str, value: bytes) -> None:
        # flask-compress sets the entry again at every hit: only a new one is taken.
        if key in self.kept or not unchanging(key.split(";", 1)[-1]):
            return
        self.kept[key] = value
        if key.startswith("br;"):
            if self._worker is None:
                self._worker = threading.Thread(target=self._densify, name="brotli-11", daemon=True)
                self._worker.start()
            self._work.put(key)

    def _densify(self) -> None:
        while True:
            key = self._work.get()
            data = brotli.decompress(self.kept[key])
            if len(data) < DENSE_FROM:
                continue
            self.kept[key] = brotli.compress(data, quality=DENSE_LEVEL)
            log.debug("%s: %d bytes at Brotli %d", key, len(self.kept[key]), DENSE_LEVEL)


def _key(request: Request) -> str:
    return request.full_path


def _whole(response: Response) -> Response:
    """An unchanging file sent as a stream is read whole, so that it is compressed once."""
    if response.is_streamed and response.status_code == 200 and unchanging(request.path):
        response.direct_passthrough = False
        response.make_sequence()
    return response


def install(server: Flask) -> None:
    server.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_BR_LEVEL=QUICK_LEVEL,
        COMPRESS_MIMETYPES=MIMETYPES,
        COMPRESS_CACHE_BACKEND=UnchangingCache,
        COMPRESS_CACHE_KEY=_key,
    )
    server.extensions["compress"] = Compress(server)
    server.after_request(_whole)  # after-request functions run last-registered first
