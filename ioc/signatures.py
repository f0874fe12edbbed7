"""Webhook signatures, without I/O: how a sender signs, how a request's headers are checked, and
where each webhook connector's secret comes from.

The sender signs the moment of sending and the raw body::

    X-IOC-Timestamp: <unix seconds>
    X-IOC-Signature: sha256=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>

A timestamp further than the replay window from the receiver's clock is refused, so a captured
request cannot be sent again later. Header values are checked for their exact shape first, and
the signatures compared as bytes (``hmac.compare_digest`` raises on non-ASCII text), so a
malformed header is a 401 with a reason, never a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from ioc.config import ConfigError

SIGNATURE_HEADER = "X-IOC-Signature"
TIMESTAMP_HEADER = "X-IOC-Timestamp"
SECRET_PREFIX = "IOC_WEBHOOK_SECRET_"  # + the connector's name: each webhook its own secret
SHARED_SECRET = "IOC_WEBHOOK_SECRET"  # the fallback of the built-in vaccination connector only
SHARED_SECRET_USER = "vaccination"
SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
SIGNED_FORM = (
    f"sha256=<hex HMAC-SHA256 of '<{TIMESTAMP_HEADER}>.' + body>, {TIMESTAMP_HEADER}: <unix seconds>"
)


class Refused(Exception):
    """A request refused whole, with the HTTP status to answer and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """``X-IOC-Signature`` of ``body`` sent at ``timestamp`` (unix seconds)."""
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_body(secret: bytes, body: bytes) -> str:
    """The legacy signature of the body alone (no replay protection; see ``legacy_signature``)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signed_headers(secret: bytes, body: bytes, now: datetime) -> dict[str, str]:
    """The two headers a sender adds to POST ``body`` at ``now``."""
    timestamp = int(now.timestamp())
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, body, timestamp)}


def one_header(headers: Message, name: str, status: int) -> str | None:
    """A header that may be sent once: sent twice, which one would count? Refused with ``status``."""
    values = headers.get_all(name) or []
    if len(values) > 1:
        raise Refused(status, f"several {name} headers; send exactly one")
    return str(values[0]).strip() if values else None


@dataclass(frozen=True)
class Claim:
    """What a request's headers say: the signature (bytes) and what it signs before the body."""

    digest: bytes
    prefix: bytes

    def check(self, secret: bytes, body: bytes) -> None:
        actual = hmac.new(secret, self.prefix + body, hashlib.sha256).digest()
        if not hmac.compare_digest(actual, self.digest):
            what = f"{TIMESTAMP_HEADER} and the body" if self.prefix else "the body"
            raise Refused(401, f"{SIGNATURE_HEADER} does not match {what}")


def claim(headers: Message, *, now: datetime, window_s: float, legacy: bool) -> Claim:
    """The signature a request claims, refused (401, with the reason) before its body is read
    when a header is missing, malformed, repeated or outside the replay window."""
    signature = one_header(headers, SIGNATURE_HEADER, 401)
    if not signature:
        raise Refused(401, f"missing {SIGNATURE_HEADER} header ({SIGNED_FORM})")
    match = SIGNATURE.fullmatch(signature)
    if match is None:
        raise Refused(401, f"{SIGNATURE_HEADER} is not sha256=<64 hex digits> ({SIGNED_FORM})")
    stamp = one_header(headers, TIMESTAMP_HEADER, 401)
    if stamp is None and legacy:
        return Claim(bytes.fromhex(match[1]), b"")
    if stamp is None:
        raise Refused(401, f"missing {TIMESTAMP_HEADER} header ({SIGNED_FORM})")
    if not UNIX_SECONDS.fullmatch(stamp):
        raise Refused(401, f"{TIMESTAMP_HEADER} is not a time in unix seconds (digits only)")
    ahead = int(stamp) - now.timestamp()
    if abs(ahead) > window_s:
        where = "ahead of" if ahead > 0 else "behind"
        raise Refused(
            401,
            f"{TIMESTAMP_HEADER} is {abs(ahead):.0f} s {where} the receiver's clock, beyond "
            f"replay_window_s ({window_s:g} s): a replayed request, or a sender whose clock is wrong",
        )
    return Claim(bytes.fromhex(match[1]), f"{stamp}.".encode())


def secret_names(instance: str, secret_env: str | None) -> list[str]:
    """The environment variables a webhook connector's secret is read from, first found wins."""
    if secret_env:
        return [secret_env]
    names = [SECRET_PREFIX + re.sub(r"[^A-Z0-9]", "_", instance.upper())]
    return [*names, SHARED_SECRET] if instance == SHARED_SECRET_USER else names


def webhook_secret(instance: str, secret_env: str | None, secrets: Mapping[str, str]) -> bytes:
    """The signing secret of the webhook connector ``instance``, or a ConfigError naming where to put it."""
    names = secret_names(instance, secret_env)
    for name in names:
        if secrets.get(name):
            return secrets[name].encode()
    either = " or ".join(names)
    raise ConfigError(
        f"{names[0]}: not set; connectors.{instance} checks each webhook request's HMAC signature with "
        f"its own secret ({either}; `webhook_secret_env` may name another variable)"
    )
