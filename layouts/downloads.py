"""The links that download a room's table (``ioc.export_pages``: CSV and XLSX)."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import html

from layouts import ids
from layouts.i18n import _


def export_links(table: str, **query: str) -> html.Div:
    """ "Tải về: CSV · XLSX": the table with the screen's choices (``query``; empty ones left out)."""
    asked = urlencode({k: v for k, v in query.items() if v})
    links = [
        html.A(
            label,
            href=f"/export/{table}.{fmt}{'?' + asked if asked else ''}",
            # a download, not a navigation: the room stays as it is (the server names the file)
            download="",
            className="export-link",
        )
        for fmt, label in (("csv", "CSV"), ("xlsx", "XLSX"))
    ]
    return html.Div(
        [_("Tải về:"), " ", links[0], " · ", links[1]],
        className="export-links",
        **ids.DataAttrs({"data-table": table}),
    )
