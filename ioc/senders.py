"""Contact points that send: email over SMTP (STARTTLS, login) and a signed webhook.

A webhook's body is the message's JSON (UTF-8); its signature is HMAC-SHA256 over
``<timestamp>.<body>`` with the contact point's key, sent as ``X-IOC-Signature: sha256=<hex>``
beside ``X-IOC-Timestamp`` (Unix seconds) and ``X-IOC-Delivery`` (the message's id, the same on
every retry: a receiver that saw it already can drop it). :func:`verify` is what a receiver does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import httpx

from ioc.config_delivery import ContactPoint, DeliverySettings, SmtpSettings

SIGNATURE = "X-IOC-Signature"
TIMESTAMP = "X-IOC-Timestamp"
DELIVERY = "X-IOC-Delivery"
MAX_SKEW_S = 300


class SendError(Exception):
    """A send that failed; retried later. The message says why (never a secret)."""


class Sender(Protocol):
    def send(self, message_id: str, subject: str, text: str, payload: dict[str, Any]) -> None: ...


@dataclass
class EmailSender:
    smtp: SmtpSettings
    password: str
    to: list[str]

    def send(self, message_id: str, subject: str, text: str, payload: dict[str, Any]) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.smtp.sender, ", ".join(self.to), subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=message_id.replace("-", "")[:16], domain="ioc.local")
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
        mail["X-IOC-Delivery"] = message_id
        mail.set_content(text)
        try:
            with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout_s) as server:
                server.ehlo()
                if self.smtp.starttls:
                    context = ssl.create_default_context(
                        cafile=str(self.smtp.ca_file) if self.smtp.ca_file else None
                    )
                    server.starttls(context=context)
                    server.ehlo()
                if self.smtp.username:
                    server.login(self.smtp.username, self.password)
                server.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"smtp {self.smtp.host}:{self.smtp.port}: {type(exc).__name__}: {exc}") from None


@dataclass
class WebhookSender:
    url: str
    key: bytes
    timeout_s: float

    def send(self, message_id: str, subject: str, text: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP: stamp,
            SIGNATURE: "sha256=" + signature(self.key, stamp, body),
            DELIVERY: message_id,
            "User-Agent": "tayninh-ioc-delivery/1",
        }
        try:
            reply = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise SendError(f"webhook {_host(self.url)}: {type(exc).__name__}: {exc}") from None
        if not reply.is_success:
            raise SendError(f"webhook {_host(self.url)}: HTTP {reply.status_code}")


def signature(key: bytes, stamp: str, body: bytes) -> str:
    return hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(key: bytes, headers: Any, body: bytes, now: float | None = None) -> bool:
    """What a receiver checks: the signature over the timestamp and body, and a timestamp within
    five minutes (a captured request replayed later is refused)."""
    stamp, given = headers.get(TIMESTAMP, ""), headers.get(SIGNATURE, "")
    if not stamp.isdigit() or abs((now or time.time()) - int(stamp)) > MAX_SKEW_S:
        return False
    return hmac.compare_digest(given, "sha256=" + signature(key, stamp, body))


def _host(url: str) -> str:
    return httpx.URL(url).host  # never the path or query: a token may ride in them


def sender(point: ContactPoint, smtp: SmtpSettings | None, secrets: dict[str, str], key_name: str) -> Sender:
    """The sender of a configured contact point, with its secret from ``secrets`` (the environment)."""
    if point.kind == "email":
        assert smtp is not None  # DeliverySettings refuses email without [delivery.smtp]
        return EmailSender(smtp, secrets.get(smtp.password_env, ""), point.to)
    return WebhookSender(point.url, secrets[key_name].encode(), point.timeout_s)


def senders_of(settings: DeliverySettings, secrets: dict[str, str]) -> dict[str, Sender]:
    """A sender for every configured contact point, by name."""
    return {
        name: sender(point, settings.smtp, secrets, settings.secret_name(name))
        for name, point in settings.contact_points.items()
    }
