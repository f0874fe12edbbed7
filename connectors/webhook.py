"""Records pushed to us: ``POST <path>`` with a JSON array, signed with a shared-secret HMAC.

The sender signs the raw body: ``X-IOC-Signature: sha256=<hex HMAC-SHA256(secret, body)>``. A
request is answered only after its records (and dead letters) are in Redis, so a 2xx means stored
and anything else means "send again"; re-sent records are counted once by the aggregator. What is
refused is refused whole, before anything is stored:

- 401: no signature, or one that does not match the body;
- 411 / 413: no Content-Length, or a body over ``max_body_bytes`` (not even read);
- 400: a body that is not JSON, or not an array;
- 503: Redis could not take the records (the sender retries later).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from ioc.connector import Batch, Context
from ioc.contracts import Contract, make_contract

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-IOC-Signature"
WEBHOOK_SECRET = "IOC_WEBHOOK_SECRET"
Accept = Callable[[Batch], None]


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Receiver:
    """An HTTP server that turns signed POSTs into batches handed to ``accept``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        path: str,
        secret: bytes,
        max_body_bytes: int,
        to_batch: Callable[[list[Any]], Batch],
        accept: Accept,
    ) -> None:
        self.path = path
        self.secret = secret
        self.max_body_bytes = max_body_bytes
        self.to_batch = to_batch
        self.accept = accept
        self.lock = threading.Lock()  # one batch at a time: the publication order is the arrival order
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
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

    def receive(self, headers: Any, read: Callable[[int], bytes]) -> dict[str, int]:
        """Check and store one request; raises Refused with the status to answer."""
        length_text = headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            raise Refused(411, "Content-Length is required")
        length = int(length_text)
        if length > self.max_body_bytes:
            raise Refused(413, f"body of {length} bytes is over the limit of {self.max_body_bytes}")
        body = read(length)
        signature = headers.get(SIGNATURE_HEADER)
        if not signature:
            raise Refused(401, f"missing {SIGNATURE_HEADER} header (sha256=<hex HMAC of the body>)")
        if not hmac.compare_digest(signature.strip(), sign(self.secret, body)):
            raise Refused(401, f"{SIGNATURE_HEADER} does not match the body")
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

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.split("?")[0] != receiver.path:
                    self._json(404, {"error": f"no webhook at {self.path}; POST to {receiver.path}"})
                    return
                try:
                    counts = receiver.receive(self.headers, self.rfile.read)
                except Refused as exc:
                    self.close_connection = True  # an unread body must not be taken as the next request
                    self._json(exc.status, {"error": str(exc)})
                    return
                self._json(202, counts)

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


class WebhookOptions(BaseModel):
    """Where a connector listens for pushed records."""

    model_config = ConfigDict(extra="forbid")

    webhook_host: str = Field("127.0.0.1", description="Interface the webhook listens on.")
    webhook_port: int = Field(8081, ge=0, le=65535, description="Port of the webhook (0: a free port).")
    webhook_path: str = Field("/hooks/vaccination", description="Path the source POSTs to.")
    max_body_bytes: int = Field(
        5_000_000, ge=1_000, description="Largest request body accepted; larger ones get 413."
    )


def receiver_for(
    options: WebhookOptions, context: Context, contract: Contract, source: str, accept: Accept
) -> Receiver:
    secret = context.secret(
        WEBHOOK_SECRET, "the webhook checks each request's HMAC signature with this shared secret"
    )
    units = frozenset(context.units.codes)

    def to_batch(rows: list[Any]) -> Batch:
        done = contract.transform(rows, units=units, source=source)
        return Batch(done.records, None, done.dead_letters, {"rows": len(rows)})

    return Receiver(
        host=options.webhook_host,
        port=options.webhook_port,
        path=options.webhook_path,
        secret=secret,
        max_body_bytes=options.max_body_bytes,
        to_batch=to_batch,
        accept=accept,
    )


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

    def check(self) -> str:
        config = self.config
        return f"webhook for {self.feed} at http://{config.webhook_host}:{config.webhook_port}{config.webhook_path}"

    def poll(self, cursor: str | None) -> Batch:
        """Nothing to fetch: records arrive through ``listen``; this only says the receiver is alive."""
        return Batch(pl.DataFrame(schema=self.contract.schema), cursor, reached_source=False)

    def listen(self, accept: Accept) -> Receiver:
        return receiver_for(self.config, self.context, self.contract, self.name, accept).start()
