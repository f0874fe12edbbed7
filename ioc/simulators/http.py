"""A real HTTP server for the simulated sources, serving FEEDS.md's paged listing format.

``GET <path>?cap_nhat_tu=<time>&trang=<n>&so_ban_ghi=<k>`` answers
``{"tong_so": <int>, "trang": <n>, "du_lieu": [...]}`` from a :class:`Listing`; a route that is
an :class:`Endpoint` (a source of another shape, such as the national portal's index by period)
answers every GET itself.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 5000


class Listing(Protocol):
    def page(self, since: datetime | None, page: int, size: int) -> tuple[int, list[dict[str, Any]]]:
        """Total matching records and one page of them, ordered by ``cap_nhat_luc``."""
        ...


@runtime_checkable
class Endpoint(Protocol):
    def answer(self, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        """The HTTP status and JSON body of a GET with ``query`` (parsed, every value a list)."""
        ...


class BadRequest(Exception):
    pass


def _int(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[0]
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def _since(query: dict[str, list[str]]) -> datetime | None:
    raw = query.get("cap_nhat_tu", [None])[0]
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"cap_nhat_tu is not an ISO 8601 time: {raw!r}") from None
    if value.tzinfo is None:
        raise BadRequest(f"cap_nhat_tu has no offset: {raw!r}")
    return value


class SimulatorServer:
    """Serves one or more listings on a port of 127.0.0.1 (0 picks a free one)."""

    def __init__(
        self, routes: Mapping[str, Listing | Endpoint], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.routes = routes
        self.fault: Callable[[str], tuple[int, bytes] | None] | None = None
        handler = self._handler()
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SimulatorServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="simulator", daemon=True)
        self.thread.start()
        return self

    def run(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                injected = server.fault(parts.path) if server.fault else None
                if injected is not None:
                    self._send(injected[0], injected[1])
                    return
                if parts.path == "/healthz":
                    self._json(200, {"status": "ok"})
                    return
                listing = server.routes.get(parts.path)
                if listing is None:
                    self._json(404, {"error": f"no such path {parts.path}"})
                    return
                query = parse_qs(parts.query)
                if isinstance(listing, Endpoint):
                    self._json(*listing.answer(query))
                    return
                try:
                    page = _int(query, "trang", 1, 1, 10_000_000)
                    size = _int(query, "so_ban_ghi", 100, 1, MAX_PAGE_SIZE)
                    total, rows = listing.page(_since(query), page, size)
                except BadRequest as exc:
                    self._json(400, {"error": str(exc)})
                    return
                self._json(200, {"tong_so": total, "trang": page, "du_lieu": rows})

            def _json(self, status: int, body: Any) -> None:
                self._send(status, json.dumps(body, ensure_ascii=False).encode())

            def _send(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("simulator: " + format, *args)

        return Handler


def _listed_time(record: dict[str, Any]) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(record.get("cap_nhat_luc")))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


class RecordListing:
    """A source holding given records; ``put`` re-sends a record in a new version.

    A record whose ``cap_nhat_luc`` is not a time with an offset (a malformed one, in tests) is
    listed only in a listing from the beginning, as a real source could not order it either.
    """

    def __init__(self, id_field: str, records: list[dict[str, Any]] | None = None) -> None:
        self.id_field = id_field
        self._latest: dict[Any, dict[str, Any]] = {}
        self._order: dict[Any, int] = {}
        self._lock = threading.Lock()
        for record in records or []:
            self.put(record)

    def put(self, record: dict[str, Any]) -> None:
        key = record.get(self.id_field, f"_anon{len(self._order)}")
        with self._lock:
            self._latest[key] = record
            self._order[key] = len(self._order) + len(self._latest)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._latest.values())

    def page(self, since: datetime | None, page: int, size: int) -> tuple[int, list[dict[str, Any]]]:
        with self._lock:
            items = list(self._latest.items())
        keyed = []
        for key, record in items:
            when = _listed_time(record)
            if (when is None and since is None) or (when is not None and (since is None or when >= since)):
                keyed.append(((when.timestamp() if when else float("-inf")), self._order[key], record))
        keyed.sort(key=lambda item: (item[0], item[1]))
        start = (page - 1) * size
        return len(keyed), [record for _t, _o, record in keyed[start : start + size]]
