"""The webhook receiver over real sockets: signatures with a replay window, one secret per
connector, malformed headers, slow senders and the cap on connections received at once."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from connectors.vaccination import VaccinationConfig, VaccinationConnector
from connectors.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Receiver,
    WebhookConfig,
    WebhookConnector,
    sign,
    sign_body,
    signed_headers,
)
from ioc.config import ConfigError
from ioc.connector import Batch, Context
from tests import oracle
from tests.test_kpis import dossier

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=oracle.TZ)
A, B = b"a" * 32, b"b" * 32
SECRETS = {"IOC_WEBHOOK_SECRET_REPORTS_A": A.decode(), "IOC_WEBHOOK_SECRET_REPORTS_B": B.decode()}
PATH = "/hooks/dossiers"
BODY = json.dumps(
    [dossier("D1", "25456", "20T08:00:00", "25T08:00:00", "dang_xu_ly", "21T09:00:00")]
).encode()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


Hook = Callable[..., tuple[Receiver, list[Batch]]]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def hook(units, clock) -> Iterator[Hook]:
    """Starts webhook connectors (``name`` picks the secret) and closes them after the test."""
    started: list[Receiver] = []

    def start(name: str = "reports_a", secrets: dict[str, str] = SECRETS, **options: Any):
        config = WebhookConfig(feed="public_services", webhook_port=0, webhook_path=PATH, **options)
        context = Context(units=units, http=httpx.Client(), clock=clock, secrets=secrets, name=name)
        batches: list[Batch] = []
        started.append(WebhookConnector(config, context=context).listen(batches.append))
        return started[-1], batches

    yield start
    for receiver in started:
        receiver.close()


def post(receiver: Receiver, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    return httpx.post(receiver.url, content=body, headers=headers, timeout=10)


def address(receiver: Receiver) -> tuple[str, int]:
    parts = urlsplit(receiver.url)
    return str(parts.hostname), int(parts.port or 80)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def raw(receiver: Receiver, headers: list[tuple[bytes, bytes]], body: bytes = BODY) -> tuple[int, dict]:
    """Send exactly these header bytes (non-ASCII, repeated, ...): the answer's status and JSON."""
    lines = [f"POST {PATH} HTTP/1.1".encode(), b"Host: 127.0.0.1", *(k + b": " + v for k, v in headers)]
    with socket.create_connection(address(receiver), timeout=10) as sock:
        sock.sendall(b"\r\n".join([*lines, b"", b""]) + body)
        answer = read_all(sock)
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(payload)


@pytest.mark.parametrize(
    ("offset_s", "status", "message"),
    [(-301, 401, "301 s behind the receiver's clock"), (301, 401, "301 s ahead of"), (-299, 202, None)],
)
def test_a_timestamp_outside_the_replay_window_is_refused(hook, offset_s, status, message) -> None:
    """Signed correctly but sent (or claiming to be) more than replay_window_s away: 401."""
    receiver, batches = hook()
    reply = post(receiver, signed_headers(A, BODY, NOW + timedelta(seconds=offset_s)))
    assert reply.status_code == status, reply.text
    assert message is None or message in reply.json()["error"]
    assert len(batches) == (status == 202)


def test_a_captured_request_sent_again_later_is_refused(hook, clock) -> None:
    """The very same bytes, accepted now, are refused once the window has passed."""
    receiver, batches = hook()
    headers = signed_headers(A, BODY, NOW)
    assert post(receiver, headers).status_code == 202
    clock.now += timedelta(minutes=10)
    replayed = post(receiver, headers)
    assert replayed.status_code == 401 and "replayed request" in replayed.json()["error"]
    assert len(batches) == 1


def test_each_webhook_accepts_only_its_own_secret(hook) -> None:
    """Signed with another connector's secret: 401; each accepts its own."""
    a, from_a = hook("reports_a")
    b, from_b = hook("reports_b")
    wrong = post(a, signed_headers(B, BODY, NOW))
    assert wrong.status_code == 401 and "does not match" in wrong.json()["error"]
    assert post(a, signed_headers(A, BODY, NOW)).status_code == 202
    assert post(b, signed_headers(B, BODY, NOW)).status_code == 202
    assert (len(from_a), len(from_b)) == (1, 1)


def test_a_webhook_without_its_own_secret_does_not_start(hook, units) -> None:
    """The shared IOC_WEBHOOK_SECRET opens no generic webhook; `webhook_secret_env` names another
    variable; the built-in vaccination table alone falls back to the shared secret."""
    with pytest.raises(ConfigError, match=r"IOC_WEBHOOK_SECRET_REPORTS_C: not set; connectors\.reports_c"):
        hook("reports_c", secrets={"IOC_WEBHOOK_SECRET": "s" * 32})
    receiver, _ = hook("reports_c", secrets={"ZALO_HOOK_KEY": "z" * 32}, webhook_secret_env="ZALO_HOOK_KEY")
    assert post(receiver, signed_headers(b"z" * 32, BODY, NOW)).status_code == 202
    shared = {"IOC_PSEUDONYM_KEY": "k" * 32, "IOC_WEBHOOK_SECRET": "s" * 32}
    context = Context(units=units, http=httpx.Client(), clock=lambda: NOW, secrets=shared, name="vaccination")
    config = VaccinationConfig(webhook=True)  # type: ignore[call-arg]
    assert VaccinationConnector(config, context=context).secret == b"s" * 32
    with pytest.raises(ConfigError, match="IOC_WEBHOOK_SECRET_TIEM_CHUNG_2: not set"):
        VaccinationConnector(config, context=replace(context, name="tiem-chung-2"))


def test_the_body_only_signature_needs_legacy_signature(hook) -> None:
    """The old signature of the body alone: refused by default, accepted behind the setting."""
    strict, _ = hook()
    refused = post(strict, {SIGNATURE_HEADER: sign_body(A, BODY)})
    assert refused.status_code == 401 and f"missing {TIMESTAMP_HEADER}" in refused.json()["error"]
    legacy, batches = hook(legacy_signature=True)
    assert post(legacy, {SIGNATURE_HEADER: sign_body(A, BODY)}).status_code == 202
    late = signed_headers(A, BODY, NOW - timedelta(hours=1))  # with a timestamp, the window holds
    assert post(legacy, late).status_code == 401 and len(batches) == 1


STAMP = str(int(NOW.timestamp())).encode()
GOOD = sign(A, BODY, int(NOW.timestamp())).encode()
LENGTH = (b"Content-Length", str(len(BODY)).encode())


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ([LENGTH, (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", b"sha256=" + "é".encode("latin-1") * 64)], 401, "is not sha256=<64 hex digits>"),
        ([LENGTH, (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", "sha256=ếếế".encode())], 401, "is not sha256="),
        ([LENGTH, (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", b"sha1=" + b"0" * 40)], 401, "is not sha256="),
        ([LENGTH, (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", b"sha256=" + b"g" * 64)], 401, "is not sha256="),
        ([LENGTH, (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", GOOD), (b"X-IOC-Signature", GOOD)], 401, "several X-IOC-Signature"),
        ([LENGTH, (b"X-IOC-Timestamp", "١٧٩٥٠٠".encode()), (b"X-IOC-Signature", GOOD)], 401, "is not a time in unix seconds"),
        ([LENGTH, (b"X-IOC-Timestamp", b"1.7e9"), (b"X-IOC-Signature", GOOD)], 401, "is not a time in unix seconds"),
        ([LENGTH, (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", GOOD)], 401, "several X-IOC-Timestamp"),
        ([(b"Content-Length", b"\xb2"), (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", GOOD)], 411, "not a number of bytes"),
        ([LENGTH, LENGTH, (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", GOOD)], 400, "several Content-Length"),
    ],
)  # fmt: skip
def test_malformed_headers_are_answered_with_a_message(hook, headers, status, message) -> None:
    """Non-ASCII, mis-shaped or repeated signature headers get their status and a reason, never a crash."""
    receiver, batches = hook()
    answered, answer = raw(receiver, headers)
    assert answered == status and message in answer["error"], answer
    assert batches == []
    assert raw(receiver, [LENGTH, (b"X-IOC-Timestamp", STAMP), (b"X-IOC-Signature", GOOD)])[0] == 202


def open_request(receiver: Receiver, *, length: int = 100) -> socket.socket:
    """A sender that sends its headers, promising a body, and then nothing."""
    sock = socket.create_connection(address(receiver), timeout=10)
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
    sock.sendall(head.encode() + b"X-IOC-Timestamp: " + STAMP + b"\r\nX-IOC-Signature: " + GOOD + b"\r\n\r\n")
    return sock


def test_a_slow_sender_is_dropped_after_the_timeout_while_others_are_served(hook) -> None:
    """Headers then silence: 408 and the connection closed after webhook_timeout_s; meanwhile
    another sender is answered at once."""
    receiver, batches = hook(webhook_timeout_s=1.0)
    started = time.monotonic()
    slow = open_request(receiver)
    assert post(receiver, signed_headers(A, BODY, NOW)).status_code == 202
    assert time.monotonic() - started < 0.9 and len(batches) == 1  # served while the slow one waits
    with slow:
        answer = read_all(slow)
    assert answer.startswith(b"HTTP/1.0 408 ") and b"did not arrive whole within 1 s" in answer
    assert 0.9 < time.monotonic() - started < 3


def test_a_sender_trickling_its_headers_is_cut_off_after_the_timeout_in_all(hook) -> None:
    """A byte every 0.2 s (each well within the timeout) still gets 408 once the whole request is late."""
    receiver, _ = hook(webhook_timeout_s=1.0)
    with socket.create_connection(address(receiver)) as sock:
        started = time.monotonic()
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
        sock.settimeout(0.2)  # the pace of the trickle: it waits for an answer between two bytes
        answer = b""
        while not answer and time.monotonic() - started < 5:
            sock.sendall(b"a")
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
    assert answer.startswith(b"HTTP/1.0 408 ")
    assert time.monotonic() - started < 2.5


def test_more_connections_than_the_cap_get_503_at_once(hook) -> None:
    """With webhook_max_connections held, one more request is answered 503 (Retry-After) at once,
    and requests are served again once the holders are gone."""
    receiver, batches = hook(webhook_max_connections=2)
    holders = [open_request(receiver) for _ in range(2)]
    started = time.monotonic()
    busy = post(receiver, signed_headers(A, BODY, NOW))
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert "too many requests at once" in busy.json()["error"] and time.monotonic() - started < 1
    for sock in holders:
        sock.close()
    deadline = time.monotonic() + 10
    while (status := post(receiver, signed_headers(A, BODY, NOW)).status_code) == 503:
        assert time.monotonic() < deadline, "the holders' slots never came back"
    assert status == 202 and len(batches) == 1
