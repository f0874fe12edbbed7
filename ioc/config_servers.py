"""Configuration of the two servers screens talk to: the web app (``[web]``) and the websocket
relay (``[realtime]``). Sections of :class:`ioc.config.Settings`.
"""

from __future__ import annotations

from pydantic import Field

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
