"""The page a browser asked for, already in the app's first answer.

Dash's pages start empty: the browser loads the scripts, asks for the layout (the page
container), and only then does the container's ``dcc.Location`` report the address, which fires
the routing callback that builds the page: a third round trip, in series, before anything is
drawn (some 100 to 400 ms on a loaded server). Here the layout already holds the page of the
address the browser is on, read from the layout request's ``Referer`` (always sent to the same
origin: ``Referrer-Policy: same-origin``), with the ``Location`` given that same path and query,
so it reports nothing new and the routing callback does not run. Later moves within the app go
through the routing callback as before. Without a usable ``Referer`` (a browser told not to send
one, an address with no page) the container is Dash's own, empty: the routing callback fills it,
exactly as without this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import dash
from dash import Dash, dcc, html
from dash._pages import _parse_query_string, _path_to_page
from dash.dash import _ID_CONTENT, _ID_DUMMY, _ID_LOCATION, _ID_STORE
from flask import has_request_context, request

log = logging.getLogger(__name__)


def first_page_layout(app: Dash) -> Callable[[], Any]:
    """The app's layout: Dash's page container, holding the page of the browser's address."""

    def layout() -> Any:
        container = dash.page_container
        referer = request.headers.get("Referer", "") if has_request_context() else ""
        address = urlsplit(referer)
        if not referer or address.netloc != request.host:
            return container
        page, variables = _path_to_page(app.strip_relative_path(address.path))  # type: ignore[no-untyped-call]
        if not page:  # no such page: the routing callback says so, as it always did
            return container
        search = f"?{address.query}" if address.query else ""
        arguments = {**(variables or {}), **_parse_query_string(search)}  # type: ignore[no-untyped-call]
        try:
            content = page["layout"](**arguments) if callable(page["layout"]) else page["layout"]
            title = page["title"](**(variables or {})) if callable(page["title"]) else page["title"]
        except Exception:  # today's way: the routing callback builds it (and reports the error)
            log.exception("the page of %s was left to the routing callback", address.path)
            return container
        # Dash's page container (``dash.page_container``), its parts given what they will hold
        return html.Div(
            [
                dcc.Location(id=_ID_LOCATION, refresh="callback-nav", pathname=address.path, search=search),
                html.Div(content, id=_ID_CONTENT, disable_n_clicks=True),
                dcc.Store(id=_ID_STORE, data={"title": title}),
                html.Div(id=_ID_DUMMY, disable_n_clicks=True),
            ]
        )

    return layout
