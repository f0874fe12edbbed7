"""The web app's server: Flask's threaded one in a single process (the demo's default), or
gunicorn with ``web.workers`` processes of ``web.threads`` threads each (production).

gunicorn's workers each build their own app after the fork, with their own Redis connections.
Every worker is stateless (signed session cookies; tokens, audit and figures in Redis), so a
login made by one is honoured by all. A worker that stays silent ``web.timeout_s`` is replaced. SIGTERM from
the supervisor stops the workers gracefully.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import Dash
from gunicorn.app.base import BaseApplication

from ioc.config import Settings


class Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, make_app: Callable[[], Dash]) -> None:
        self.settings, self.make_app = settings, make_app
        super().__init__()

    def load_config(self) -> None:
        web = self.settings.web
        options: dict[str, Any] = {
            "bind": f"{web.host}:{web.port}",
            "workers": web.workers,
            "worker_class": "gthread",
            "threads": web.threads,
            "timeout": web.timeout_s,
            "graceful_timeout": 10,
            "errorlog": "-",
            "loglevel": self.settings.log_level.lower(),
            "proc_name": "ioc-web",
            "control_socket_disable": True,  # several instances on one host would share its path
            # The app alone decides whom to believe about the client (web.trusted_proxies, see
            # ioc/headers.py): gunicorn would otherwise take X-Forwarded-Proto from any local peer.
            "forwarded_allow_ips": "",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.make_app().server


def serve(settings: Settings, make_app: Callable[[], Dash]) -> None:
    if settings.web.workers == 1:
        make_app().run(host=settings.web.host, port=settings.web.port, debug=False)
        return
    # The master must not build the app: Polars' thread pool, once started, does not survive a
    # fork (a worker's first query would wait for ever). So what create_app would refuse in
    # every worker is checked here, once.
    settings.secret()
    Gunicorn(settings, make_app).run()
