"""Compressed answers (Brotli, else gzip): the page's bundles are most of its weight.

Plotly's bundle alone is 4.8 MB as sent uncompressed and 1.2 MB in Brotli. Files that do not
change while the app runs (Dash's bundles, our assets, fonts, boundaries) are compressed once per
process and kept; figures, callbacks and the API are compressed on each answer, never cached.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask_compress import Compress

UNCHANGING = ("/_dash-component-suites/", "/assets/", "/fonts/", "/geo/", "/embed-static/")
MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "image/svg+xml",
    "font/ttf",
]


class UnchangingCache:
    """flask-compress's cache, keeping only the compressed files under :data:`UNCHANGING`."""

    def __init__(self) -> None:
        self.kept: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.kept.get(key)

    def set(self, key: str, value: Any) -> None:
        if key.split(";", 1)[-1].startswith(UNCHANGING):
            self.kept[key] = value


def _key(request: Request) -> str:
    return request.full_path


def install(server: Flask) -> None:
    server.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_BR_LEVEL=6,  # Plotly's bundle: 1.2 MB in 0.2 s, once per process (level 11: 11 s)
        COMPRESS_MIMETYPES=MIMETYPES,
        COMPRESS_CACHE_BACKEND=UnchangingCache,
        COMPRESS_CACHE_KEY=_key,
    )
    Compress(server)
