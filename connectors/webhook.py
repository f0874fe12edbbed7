"""Records pushed to us: ``POST <path>`` with a JSON array, signed with the connector's own secret.

The sender signs the moment of sending and the raw body (``X-IOC-Timestamp``, ``X-IOC-Signature``;
see :mod:`ioc.signatures`). A request whose timestamp is further than ``replay_window_s``
from our clock is refused, so a captured request cannot be sent again later; within the window a
replay adds nothing (records are counted once, latest version wins). The old signature of the
body alone, without a timestamp, is accepted only with ``legacy_signature = true``.

Each webhook connector has its own secret, from the environment variable its
``webhook_secret_env`` names, else ``IOC_WEBHOOK_SECRET_<NAME>`` (its name in the configuration,
upper-cased, other characters as ``_``); the built-in ``vaccination`` connector alone falls back to
``IOC_WEBHOOK_SECRET``. A sender holding one connector's secret cannot push to another.

A request is answered only after its records (and dead letters) are in Redis, so a 2xx means
stored and anything else means "send again"; re-sent records are counted once by the aggregator.
What is refused is refused whole, before anything is stored:

- 401: a signature or timestamp missing, malformed or sent twice, a timestamp outside the
  window, or a signature that does not match;
- 408: the request did not arrive whole within ``webhook_timeout_s`` (a slow sender is cut off
  then, however it trickles its bytes);
- 411 / 413: no Content-Length, or a body over ``max_body_bytes`` (not even read);
- 400: a body that is not JSON, or not an array;
- 503: Redis could not take the records, or ``webhook_max_connections`` requests are being
  received already (answered at once; the sender retries later).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import polars as pl
from pydantic import BaseModel, Field

from ioc.connector import Batch, Coding, Context, FutureSkew
from ioc.contracts import Contract, make_contract
from ioc.signatures import SIGNATURE_HEADER as SIGNATURE_HEADER  # the sender's API, re-exported
from ioc.signatures import TIMESTAMP_HEADER as TIMESTAMP_HEADER
from ioc.signatures import Refused, claim, one_header, webhook_secret
from ioc.signatures import sign as sign
from ioc.signatures import sign_body as sign_body
from ioc.signatures import signed_headers as signed_headers

log = logging.getLogger(__name__)

BYTE_COUNT = re.compile(r"[0-9]{1,15}")
CHUNK = 65_536
LINGER_S = 1.0  # a refused connection is closed this long after its 503, so the 503 is not reset
MAX_LINGERING = 256
Accept = Callable[[Batch], None]


def content_length(headers: Message, limit: int) -> int:
    text = one_header(headers, "Content-Length", 400)
    if text is None:
        raise Refused(411, "Content-Length is required")
    if not BYTE_COUNT.fullmatch(text):
        raise Refused(411, f"Content-Length is not a number of bytes ({text[:40]!r})")
    length = int(text)
    if length > limit:
        raise Refused(413, f"body of {length} bytes is over the limit of {limit}")
    return length


class WebhookOptions(FutureSkew, Coding):
    """Where a connector listens for pushed records, and how it guards the door."""

    webhook_host: str = Field("127.0.0.1", description="Interface the webhook listens on.")
    webhook_port: int = Field(8081, ge=0, le=65535, description="Port of the webhook (0: a free port).")
    webhook_path: str = Field("/hooks/vaccination", description="Path the source POSTs to.")
    max_body_bytes: int = Field(
        5_000_000, ge=1_000, description="Largest request body accepted; larger ones get 413."
    )
    webhook_secret_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding this connector's signing secret (default: "
        "IOC_WEBHOOK_SECRET_<NAME>, the connector's name in capitals); the secret never goes in the file.",
    )
    webhook_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="A request must arrive whole (headers and body) within this many seconds, and "
        "each write of the answer finish within as long; a slower sender is cut off (408).",
    )
    webhook_max_connections: int = Field(
        16, ge=1, le=1024, description="Requests received at once; one more is answered 503 at once."
    )
    replay_window_s: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="A request whose X-IOC-Timestamp is further than this many seconds from our clock "
        "is refused (401): a replayed request, or a sender whose clock is wrong.",
    )
    legacy_signature: bool = Field(
        False,
        description="Also accept the old signature of the body alone, without X-IOC-Timestamp (no "
        "protection against replays): only while a sender is not yet updated.",
    )


class LimitedServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` at once; one more gets 503 at once,
    from the accepting thread, without a thread of its own."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, max_connections: int
    ) -> None:
        self.slots = threading.BoundedSemaphore(max_connections)
        self.lingering: deque[tuple[float, socket.socket]] = deque()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self._busy(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def _busy(self, request: socket.socket) -> None:
        body = b'{"error": "too many requests at once; send again later"}'
        head = "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        head += f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        try:
            request.setblocking(False)  # the accepting thread never waits on a sender
            request.send(head.encode() + body)
            request.shutdown(socket.SHUT_WR)
        except OSError:
            request.close()
            return
        # Closed with its request unread, the socket would be reset and the 503 lost: closed later.
        self.lingering.append((time.monotonic() + LINGER_S, request))
        self._reap(len(self.lingering) - MAX_LINGERING)

    def service_actions(self) -> None:
        self._reap(0)

    def _reap(self, extra: int) -> None:
        """Close the refused connections whose time is up (and ``extra`` more of the oldest)."""
        now = time.monotonic()
        while self.lingering and (extra > 0 or self.lingering[0][0] <= now):
            _until, sock = self.lingering.popleft()
            with suppress(OSError):
                for _ in range(16):  # drop what the sender sent, without waiting for more
                    if not sock.recv(CHUNK):
                        break
            sock.close()
            extra -= 1

    def server_close(self) -> None:
        super().server_close()
        self._reap(len(self.lingering))

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("webhook: connection from %s ended: %r", client_address, sys.exc_info()[1])


class Receiver:
    """An HTTP server that turns signed POSTs into batches handed to ``accept``."""

    def __init__(
        self,
        options: WebhookOptions,
        *,
        secret: bytes,
        to_batch: Callable[[list[Any]], Batch],
        accept: Accept,
        clock: Callable[[], datetime],
    ) -> None:
        self.options = options
        self.path = options.webhook_path
        self.secret = secret
        self.to_batch = to_batch
        self.accept = accept
        self.clock = clock
        self.lock = threading.Lock()  # one batch at a time: the publication order is the arrival order
        self.httpd = LimitedServer(
            (options.webhook_host, options.webhook_port),
            self._handler(),
            max_connections=options.webhook_max_connections,
        )
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def start(self) -> Receiver:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="webhook", daemon=True)
        self.thread.start()
        log.info("webhook listening on %s", self.url)
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def receive(self, headers: Message, read: Callable[[int], bytes]) -> dict[str, int]:
        """Check and store one request; raises Refused with the status to answer."""
        options = self.options
        length = content_length(headers, options.max_body_bytes)
        claimed = claim(  # refused on its headers alone, before the body is read
            headers, now=self.clock(), window_s=options.replay_window_s, legacy=options.legacy_signature
        )
        body = read(length)
        claimed.check(self.secret, body)
        try:
            rows = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Refused(400, f"body is not JSON: {exc}") from None
        if not isinstance(rows, list):
            raise Refused(400, f"body must be a JSON array of records, not {type(rows).__name__}")
        with self.lock:
            batch = self.to_batch(rows)
            try:
                self.accept(batch)
            except Exception as exc:  # Redis down or similar: tell the sender to retry
                log.warning("webhook: could not store %d records: %s", len(rows), exc)
                raise Refused(503, "could not store the records now; send them again later") from None
        return {"received": len(rows), "accepted": batch.records.height, "rejected": len(batch.dead_letters)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self
        timeout_s = self.options.webhook_timeout_s

        class Handler(BaseHTTPRequestHandler):
            timeout = timeout_s  # each read and write of the socket; the watchdog bounds the whole

            def setup(self) -> None:
                super().setup()
                self.expired = False
                self.watchdog = threading.Timer(timeout_s, self._expire)
                self.watchdog.daemon = True
                self.watchdog.start()

            def _expire(self) -> None:
                """The request is not in after ``timeout_s``: stop reading it (the answer still goes out)."""
                self.expired = True
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RD)

            def finish(self) -> None:
                self.watchdog.cancel()
                super().finish()

            def do_POST(self) -> None:
                if self.path.split("?")[0] != receiver.path:
                    self._json(404, {"error": f"no webhook at {self.path}; POST to {receiver.path}"})
                    return
                try:
                    if self.expired:
                        raise self._late()
                    counts = receiver.receive(self.headers, self._body)
                except Refused as exc:
                    self.close_connection = True  # an unread body must not be taken as the next request
                    self._json(exc.status, {"error": str(exc)})
                    return
                self._json(202, counts)

            def _body(self, length: int) -> bytes:
                parts, left = [], length
                try:
                    while left and (chunk := self.rfile.read(min(left, CHUNK))):
                        parts.append(chunk)
                        left -= len(chunk)
                except TimeoutError:
                    raise self._late() from None
                if left:
                    raise self._late() if self.expired else Refused(400, f"body ended {left} bytes short")
                self.watchdog.cancel()  # all in: storing it may take its time
                return b"".join(parts)

            def _late(self) -> Refused:
                return Refused(408, f"the request did not arrive whole within {timeout_s:g} s")

            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._json(200, {"status": "ok"})
                else:
                    self._json(405, {"error": f"POST a JSON array to {receiver.path}"})

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("webhook: " + format, *args)

        return Handler


def receiver_for(
    options: WebhookOptions, context: Context, contract: Contract, source: str, secret: bytes, accept: Accept
) -> Receiver:
    units = context.coding(options)

    def to_batch(rows: list[Any]) -> Batch:
        not_after = context.not_after(options.future_skew_s)
        done = contract.transform(rows, units=units, source=source, not_after=not_after)
        return Batch(done.records, None, done.dead_letters, {"rows": len(rows)})

    return Receiver(options, secret=secret, to_batch=to_batch, accept=accept, clock=context.clock)


class WebhookConfig(WebhookOptions):
    feed: str = Field(description="The feed the pushed records belong to (FEEDS.md name).")
    interval_s: float = Field(30.0, gt=0, description="How often the connector reports it is alive.")
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="FEEDS.md field name -> the name the source uses, for fields named differently.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="The feed's own options (e.g. the SLA matrix of field reports)."
    )


class WebhookConnector:
    """Generic: any feed, pushed as JSON arrays in the source's own field names."""

    name: ClassVar[str] = "webhook"
    feed: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = WebhookConfig

    def __init__(self, config: WebhookConfig, *, context: Context) -> None:
        self.config = config
        self.context = context
        self.feed = config.feed  # type: ignore[misc]
        self.contract = make_contract(config.feed, config.options, context, mapping=config.mapping)
        self.secret = webhook_secret(context.name or self.name, config.webhook_secret_env, context.secrets)

    def check(self) -> str:
        config = self.config
        return f"webhook for {self.feed} at http://{config.webhook_host}:{config.webhook_port}{config.webhook_path}"

    def poll(self, cursor: str | None) -> Batch:
        """Nothing to fetch: records arrive through ``listen``; this only says the receiver is alive."""
        return Batch(pl.DataFrame(schema=self.contract.schema), cursor, reached_source=False)

    def listen(self, accept: Accept) -> Receiver:
        receiver = receiver_for(self.config, self.context, self.contract, self.name, self.secret, accept)
        return receiver.start()
