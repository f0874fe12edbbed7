"""The administrator's pages: the audit log, filtered, paged and exported as CSV.

``/admin/audit`` shows the entries of both audit streams newest first, filtered by who, action,
unit and a time range (Asia/Ho_Chi_Minh dates or times), a page at a time (``before`` is the id
of the last entry shown: the next page starts after it). ``/admin/audit.csv`` streams every
matching entry. Both are for administrators only (others get a 403, audited) and are themselves
audited with their filter. A value that a spreadsheet would read as a formula (``=``, ``+``,
``-``, ``@``, tab, carriage return first) is written with a leading apostrophe: a refused path is
chosen by whoever sent the request.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Flask, Response, render_template, request, stream_with_context

from ioc import audit, csrf
from ioc.login import TEMPLATES, audit_view, current_user
from ioc.login import refused as refuse
from layouts import i18n
from layouts.i18n import _

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PAGE = 50
SCAN_LIMIT = 20_000  # entries a page request examines at most (a filter that matches few)
FIELDS = ("who", "action", "unit", "since", "until")
COLUMNS = ("at", "action", "who", "role", "unit", "feed", "path", "reason")
ENTRY_ID = re.compile(r"\d{1,20}-\d{1,20}(/[01])?")
FORMULA = ("=", "+", "-", "@", "\t", "\r")
SHORT = 200  # a filter value longer than this is no login, action or unit code


class BadFilter(ValueError):
    pass


@dataclass(frozen=True)
class Asked:
    """An administrator's request of the log: the filter, where the page starts, the arguments."""

    wanted: audit.Filter
    before: str | None
    given: dict[str, str]


def parse_filter(args: Any) -> tuple[audit.Filter, str | None]:
    """The filter and the page's ``before`` from a request's arguments; BadFilter saying which
    argument is wrong and why."""
    for name in ("who", "action", "unit"):
        if len(args.get(name, "")) > SHORT:
            raise BadFilter(f"{name}: longer than {SHORT} characters")
    before = args.get("before") or None
    if before is not None and not _entry_id(before):
        raise BadFilter(f"before: {before[:40]!r} is not an audit entry id (like 1764900000000-0)")
    since = _instant("since", args.get("since", ""), end=False)
    until = _instant("until", args.get("until", ""), end=True)
    if since is not None and until is not None and since >= until:
        raise BadFilter("since: must be before until")
    found = audit.Filter(
        who=args.get("who", "").strip(),
        action=args.get("action", "").strip(),
        unit=args.get("unit", "").strip(),
        since_ms=since,
        until_ms=until,
    )
    return found, before


def _entry_id(text: str) -> bool:
    """Whether ``text`` is a cursor ``walk`` continues after: a stream id Redis accepts (each part
    below 2**64) other than 0-0, which has nothing before it, and an optional ``/rank``."""
    if not ENTRY_ID.fullmatch(text):
        return False
    ms, seq = (int(part) for part in text.partition("/")[0].split("-"))
    return max(ms, seq) < 2**64 and (ms, seq) != (0, 0)


def _instant(name: str, text: str, *, end: bool) -> int | None:
    """A date (``2026-12-05``: its start, or for ``until`` the end of that day) or a time
    (``2026-12-05T08:00``, local unless it has an offset), as epoch milliseconds."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(), TZ)
            if end:
                moment = datetime.combine(date.fromordinal(day.toordinal() + 1), time(), TZ)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=TZ)
    except ValueError:
        raise BadFilter(
            f"{name}: {text[:40]!r} is not a date (2026-12-05) or a time (2026-12-05T08:00)"
        ) from None
    if not 2000 <= moment.year <= 2200:
        raise BadFilter(f"{name}: {text[:40]!r} is outside the years 2000 to 2200")
    return int(moment.timestamp() * 1000)


def row(entry: dict[str, Any]) -> dict[str, str]:
    """An entry as the page and the CSV show it: its time local, the usual columns, and every other
    field in ``detail``."""
    at = entry.get("at", "")
    with contextlib.suppress(ValueError):
        at = datetime.fromisoformat(at).astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")
    shown = {c: str(entry.get(c, "")) for c in COLUMNS} | {"at": at}
    rest = {k: v for k, v in entry.items() if k not in COLUMNS and k not in ("id", "cursor")}
    shown["detail"] = " ".join(f"{k}={v}" for k, v in sorted(rest.items()))
    return shown


def _as_audited(given: dict[str, str]) -> dict[str, str]:
    """A filter as its own audit entry's fields, each ``of_``: the entry's own ``who`` and
    ``action`` are the administrator's, and an ``unit`` would make the read match the filter."""
    return {f"of_{k}": v for k, v in given.items()}


def cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value.startswith(FORMULA) else value


def gate(what: str) -> Any:
    """None for an administrator (on a POST, with this session's form token); else the refusal,
    saying ``what`` is for administrators."""
    person = current_user()
    if person is None or person.role != "admin":
        return refuse(403, f"{what} is for administrators")
    if request.method == "POST" and (wrong := csrf.problem(request.form.get(csrf.FIELD))):
        return refuse(400, f"the form's token is {wrong}: open the page again")
    return None


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int, dict[str, str]]:
    """An administrator's page: never cached, with the session's form token."""
    text = render_template(
        template, _=_, lang=i18n.current(), csrf_field=csrf.FIELD, csrf_token=csrf.form_token(), **context
    )
    return text, status, {"Cache-Control": "no-store"}


def install(server: Flask, client: redis.Redis) -> None:
    bp = Blueprint("admin", __name__, template_folder=str(TEMPLATES))

    def asked(action: str) -> Asked | Any:
        """The request's filter, audited as ``action``; or its refusal (not an administrator, or
        a wrong filter)."""
        person = current_user()
        if person is None or person.role != "admin":
            return refuse(403, "the audit log is for administrators")
        try:
            wanted, before = parse_filter(request.args)
        except BadFilter as exc:
            return refuse(400, str(exc))
        given = {k: request.args.get(k, "") for k in FIELDS if request.args.get(k)}
        audit_view(action, **_as_audited(given))
        return Asked(wanted, before, given)

    @bp.get("/admin/audit")
    def audit_page() -> Any:
        found = asked("audit_read")
        if not isinstance(found, Asked):
            return found
        shown, after, searched_to = found.wanted.page(client, found.before, PAGE, SCAN_LIMIT)
        given = found.given
        return render_template(
            "audit.html",
            _=_,
            lang=i18n.current(),
            rows=[row(e) for e in shown],
            given=given,
            next_page=f"?{urlencode(given | {'before': after})}" if after else None,
            searched_to=row({"at": searched_to})["at"] if searched_to else None,
            first_page=f"?{urlencode(given)}" if found.before else None,
            csv_link=f"/admin/audit.csv?{urlencode(given)}",
            columns=(*COLUMNS, "detail"),
        )

    @bp.get("/admin/audit.csv")
    def audit_csv() -> Any:
        found = asked("audit_export")
        if not isinstance(found, Asked):
            return found
        wanted, before = found.wanted, found.before

        def lines() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow((*COLUMNS, "detail"))
            for entry in wanted.entries(client, before):
                writer.writerow([cell(v) for v in row(entry).values()])
                if out.tell() > 64_000:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
            yield out.getvalue()

        stamp = datetime.now(UTC).astimezone(TZ).strftime("%Y%m%d-%H%M")
        return Response(
            stream_with_context(lines()),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
                "Cache-Control": "no-store",
            },
        )

    server.register_blueprint(bp)
