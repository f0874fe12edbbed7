"""Vietnamese first, English as a toggle.

Every label is written in Vietnamese in the code and shown through ``_()``, which looks it up in
the English catalog (``layouts/locale/en.po``, GNU gettext's format, read with Babel) when the
person chose English. The choice is ``?lang=en`` on any page address, remembered in a cookie so
the rooms, their callbacks and the next pages follow it; a wall screen keeps it in its address.
Outside a request (tests, the command line) the language is Vietnamese unless ``using`` says
otherwise. Only the web side imports this module: the pipeline stores data, never words (see
``[tool.importlinter]`` in pyproject.toml). Strings shown by the browser's scripts are ``t("...")``
calls in ``assets/*.js``; each page hands them their translations in its realtime config.

``python -m layouts.i18n`` re-extracts every message into the catalog, keeping the translations
already there; ``tests/test_i18n.py`` fails while any message has no English.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po
from flask import Flask, Response, has_request_context, request

LANGS = {"vi": "Tiếng Việt", "en": "English"}
DEFAULT = "vi"
COOKIE = "ioc_lang"
ROOT = Path(__file__).resolve().parent.parent
LOCALE = Path(__file__).resolve().parent / "locale"
# Where messages are written: ``_``/``N_`` in Python, ``t`` in the browser's scripts.
SOURCES = ("layouts", "ioc")
METHODS = [  # the first pattern a file matches decides
    ("**/assets/vendor/**", "ignore"),  # third-party bundles (Plotly's own t() is not ours)
    ("**/assets/**.js", "javascript"),
    ("**/embed_static/**.js", "javascript"),
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
KEYWORDS = {"_": None, "N_": None, "t": None}
# the location given to messages from data tables (line 0: babel writes no line number)
DATA_TABLES = ("python -m layouts.i18n", 0)

_forced: ContextVar[str | None] = ContextVar("ioc_lang", default=None)


def current() -> str:
    """The language of what is being rendered now."""
    forced = _forced.get()
    if forced:
        return forced
    if has_request_context():
        asked = request.args.get("lang") or request.cookies.get(COOKIE)
        if asked in LANGS:
            return asked
    return DEFAULT


@contextmanager
def using(lang: str) -> Iterator[None]:
    """Render in ``lang`` whatever the request says (the API's alerts in both languages, tests)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGS)}")
    token = _forced.set(lang)
    try:
        yield
    finally:
        _forced.reset(token)


def N_(text: str) -> str:  # gettext's name for "mark only"
    """Marks a message for the catalog where it is defined; ``_()`` translates it where shown."""
    return text


def _(text: str) -> str:
    lang = current()
    return text if lang == DEFAULT else translations(lang).get(text, text)


@cache
def _catalog(lang: str) -> Catalog:
    with (LOCALE / f"{lang}.po").open("rb") as handle:
        return read_po(handle, locale=lang)


@cache
def translations(lang: str) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in _catalog(lang) if m.id and m.string and not m.fuzzy}


@cache
def script_translations(lang: str) -> dict[str, str]:
    """Only the messages the browser's scripts show (their catalog location is a ``.js`` file)."""
    if lang == DEFAULT:
        return {}
    found = {}
    for message in _catalog(lang):
        if message.id and message.string and any(path.endswith(".js") for path, _l in message.locations):
            found[str(message.id)] = str(message.string)
    return found


def install(server: Flask) -> None:
    """``?lang=`` on a page is remembered for a year, for the callbacks and the next pages."""

    @server.after_request
    def remember(response: Response) -> Response:
        asked = request.args.get("lang")
        page = request.method == "GET" and not request.path.startswith("/api/")  # cards say lang= per call
        if page and asked in LANGS and request.cookies.get(COOKIE) != asked:
            response.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax")
        return response


# ---- the catalog: extraction and update (python -m layouts.i18n) ----


def data_messages() -> Iterable[str]:
    """Messages held in tables rather than written as ``_("...")``: KPI labels and units, the
    feeds' titles and series panels, the theme's labels, the 766 index's groups and indicators."""
    from ioc.feeds import FEED_SPECS
    from ioc.index766 import GROUPS, INDICATORS
    from layouts import theme

    for spec in FEED_SPECS.values():
        yield spec.title
        for kpi in spec.kpis:
            yield kpi.label
            yield kpi.unit
        if spec.series_panel is not None:
            yield spec.series_panel.title
            yield spec.series_panel.unit
            yield from (legend for _measure, legend, _role in spec.series_panel.measures)
    yield from theme.messages()
    yield from (label for label, _points in GROUPS.values())
    yield from (indicator.label for indicator in INDICATORS.values())


def extract() -> Catalog:
    catalog = Catalog(locale="en", project="IOC Tây Ninh", fuzzy=False)
    for source in SOURCES:
        for path, line, message, comments, _context in extract_from_dir(
            ROOT / source, METHODS, keywords=KEYWORDS, comment_tags=("i18n:",)
        ):
            catalog.add(message, locations=[(f"{source}/{path}", line)], auto_comments=comments)
    for message in data_messages():
        if message and message not in catalog:
            catalog.add(message, locations=[DATA_TABLES])
    return catalog


def update(lang: str = "en") -> list[str]:
    """Rewrites the catalog from the code, keeping known translations; returns untranslated ids."""
    known = translations(lang) if (LOCALE / f"{lang}.po").exists() else {}
    fresh = extract()
    for message in fresh:
        if message.id:
            message.string = known.get(str(message.id), "")
    LOCALE.mkdir(exist_ok=True)
    with (LOCALE / f"{lang}.po").open("wb") as handle:
        write_po(handle, fresh, width=100, omit_header=True, include_lineno=False)
    return [str(m.id) for m in fresh if m.id and not m.string]


if __name__ == "__main__":
    missing = update()
    for text in missing:
        print(f"untranslated: {text}")
    sys.exit(1 if missing else 0)
