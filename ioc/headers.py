"""What every answer of the web app says to the browser, and whom a request comes from.

Headers: a Content-Security-Policy for every page but the embeds (which set their own, with the
framing origins they are allowed, see :mod:`ioc.embeds`): scripts from this host only, plus
Dash's few inline scripts by their hashes; styles from this host and inline (Plotly writes
``<style>`` rules and ``style`` attributes as it draws); fonts, images, GeoJSON and the relay's
websocket from this host; no workers; framed by this host alone. And on every answer
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (an embed's address
carries its token) and, when the cookies are HTTPS-only (``auth.secure_cookies``),
``Strict-Transport-Security``.

The client's address (the audit log, the login throttle) is the peer's unless the app is told
how many reverse proxies stand in front (``web.trusted_proxies``, and optionally which:
``web.proxy_addresses``): then werkzeug's ProxyFix reads it from ``X-Forwarded-For`` that many
hops back. Untold, the header is ignored, so no one can choose the address they are counted as.
Request bodies are bounded (``web.max_request_bytes``: 413 past it).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from ioc.config import Settings
from ioc.embeds import relay_origin

HSTS = "max-age=31536000"
WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def rooms_policy(script_hashes: Sequence[str], relay: str) -> str:
    """The Content-Security-Policy of the rooms, the login and every answer but an embed."""
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *script_hashes]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {relay}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


class ForwardedFrom:
    """ProxyFix (``X-Forwarded-For`` and ``-Proto``, ``hops`` back) for requests whose peer is
    one of ``proxies``, or any peer when none is given; other requests are left as they came."""

    def __init__(self, app: WsgiApp, hops: int, proxies: list[Any]) -> None:
        self.direct = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
        self.proxies = proxies

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return (self.fixed if self.from_proxy(environ.get("REMOTE_ADDR")) else self.direct)(
            environ, start_response
        )

    def from_proxy(self, peer: str | None) -> bool:
        if not self.proxies:
            return True
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:  # a Unix socket, or no peer at all
            return False
        return any(address in network for network in self.proxies)


def install(server: Flask, settings: Settings, script_hashes: Callable[[], Sequence[str]]) -> None:
    """``script_hashes`` gives the CSP hashes of Dash's inline scripts; it is asked once, at the
    first answer: Dash sets itself up at the first request and adds the pages' title script then."""
    web = settings.web
    server.config["MAX_CONTENT_LENGTH"] = web.max_request_bytes

    @server.before_request
    def bounded_body() -> None:
        # A declared length past the limit is refused before any view reads it: a view reading
        # JSON with ``silent=True`` would otherwise swallow werkzeug's 413 and answer 400.
        if (request.content_length or 0) > web.max_request_bytes:
            raise RequestEntityTooLarge(f"a body of at most {web.max_request_bytes} bytes is accepted")

    if web.trusted_proxies:
        server.wsgi_app = ForwardedFrom(server.wsgi_app, web.trusted_proxies, web.proxy_addresses)  # type: ignore[method-assign]
    secure = settings.auth.secure_cookies
    hashes: list[str] = []
    asking = threading.Lock()

    @server.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        if not hashes:
            with asking:
                hashes[:] = hashes or script_hashes()
        if not request.path.startswith("/embed/"):  # an embed's own policy names its framers
            headers["Content-Security-Policy"] = rooms_policy(hashes, relay_origin(settings))
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        if secure:
            headers["Strict-Transport-Security"] = HSTS
        return response
