"""The web app for a WSGI server of your own, in production: several workers behind one address.
(``uv run app.py web`` with ``web.workers`` > 1 runs gunicorn itself, see ioc/webserver.py.)

    IOC_CONFIG=ioc.toml IOC_SECRET_KEY=... uv run gunicorn --workers 4 --bind 0.0.0.0:8050 ioc.wsgi:server

Every worker is stateless: sessions are signed cookies, one-time embed tokens, the audit log and
all figures live in Redis, and the user file is re-read when it changes. Each worker builds its
own app from the same configuration. Behind a reverse proxy, say how many stand in front
(``web.trusted_proxies``): the app reads the client's address from ``X-Forwarded-For`` itself
(:mod:`ioc.headers`), so give gunicorn ``--forwarded-allow-ips=""`` to leave the scheme to it too.
"""

from __future__ import annotations

from ioc.config import load_settings
from ioc.store import connect
from ioc.web import create_app

settings = load_settings()
app = create_app(settings, connect(settings.redis))
server = app.server
