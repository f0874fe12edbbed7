"""Configuration of the two servers screens talk to: the web app (``[web]``) and the websocket
relay (``[realtime]``). Sections of :class:`ioc.config.Settings`.
"""

from __future__ import annotations

from pydantic import Field, IPvAnyNetwork

from ioc.config_access import _Section


class WebSettings(_Section):
    host: str = Field("127.0.0.1", description="Interface the web app listens on.")
    port: int = Field(8050, ge=1, le=65535, description="Port of the web app and KPI API.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Web worker processes. 1: one process with Flask's threaded server (the demo); "
        "more: gunicorn with that many workers, each with `threads` threads.",
    )
    threads: int = Field(8, ge=1, le=64, description="Threads per gunicorn worker.")
    timeout_s: int = Field(
        60, ge=1, description="A gunicorn worker silent this many seconds is killed and replaced."
    )
    max_request_bytes: int = Field(
        1_000_000,
        ge=10_000,
        description="Largest request body accepted (Flask's MAX_CONTENT_LENGTH); a larger one gets 413.",
    )
    trusted_proxies: int = Field(
        0,
        ge=0,
        le=10,
        description="Reverse proxies in front of the app that add to X-Forwarded-For and set "
        "X-Forwarded-Proto: the client's address is read that many hops back. 0: the headers are "
        "ignored and the client is the peer (so no one can choose their own address).",
    )
    proxy_addresses: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Addresses or networks of those proxies (`10.0.0.0/24`): the forwarded headers "
        "are honoured only on requests from them. Empty: from any peer when `trusted_proxies` > 0.",
    )
    compression_cache_bytes: int = Field(
        32_000_000,
        ge=0,
        description="Memory each web process may keep of compressed unchanging files (the pages' "
        "code, fonts, boundaries); past it the least recently used are dropped and compressed again "
        "when asked for. 0: none kept.",
    )


class RealtimeSettings(_Section):
    host: str = Field("127.0.0.1", description="Interface the websocket relay listens on.")
    port: int = Field(8765, ge=1, le=65535, description="Port of the websocket relay.")
    public_url: str | None = Field(
        None,
        description="Websocket URL browsers use to reach the relay (behind a proxy). Empty: "
        "ws://<the page's host>:<port>/.",
    )
    token_ttl_s: float = Field(
        12 * 3600.0, gt=0, description="How long a screen's relay token is accepted, in seconds."
    )
    ping_interval_s: float = Field(
        20.0, gt=0, description="Ping every screen this often; one that does not answer is dropped."
    )
    max_buffer_bytes: int = Field(
        1_000_000,
        ge=10_000,
        description="A screen whose unsent data passes this is disconnected (it reconnects and "
        "gets a fresh snapshot) so it never slows the others.",
    )
    health_interval_s: float = Field(
        2.0, gt=0, description="How often the relay reads the feeds' health to push changes."
    )
    session_check_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="How often the relay checks its screens' sessions: a socket whose session has "
        "ended (logout, removed account, single sign-on re-check due) is closed within this.",
    )
