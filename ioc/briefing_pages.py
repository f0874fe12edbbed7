"""The briefings' pages: ``/briefings`` (a day's list, what is being made and what failed, the form
that asks for one) and ``/briefings/<day>/<name>.<pdf|png>``; the archive and the queue they read
are ``ioc.briefings``'. Whoever may see a unit's cases may see, ask for and download its briefing
(``User.sees_cases``); each request and download is audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

import redis
from flask import Blueprint, Flask, redirect, request, send_file

from ioc import admin, csrf, keys
from ioc.access import User
from ioc.briefings import (
    ASKED_PER_HOUR,
    FORMATS,
    PENDING_MAX,
    STALE_REQUEST,
    Archive,
    ask,
    is_day,
)
from ioc.kpis import TZ
from ioc.login import audit_view, current_user
from ioc.login import refused as refuse
from ioc.units import UnitTable


def readable(text: bytes | str) -> dict[str, Any] | None:
    """A JSON object from Redis, or None for anything else (never a page's crash)."""
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def outside(unit: str) -> str:
    return f"unit {unit!r} is outside your scope: a duty officer gets their own units' briefings"


def install(server: Flask, client: redis.Redis, archive: Archive, units: UnitTable) -> None:
    bp = Blueprint("briefings", __name__)
    known = frozenset(units.codes)

    def may_see(person: User, unit: str) -> bool:
        """A unit of this scheme (an archive kept across a change of scheme holds others) that
        ``person`` may see the cases of."""
        return unit in known and person.sees_cases(unit, units)

    def signed_in() -> User | Any:
        person = current_user()
        return refuse(401, "login required") if person is None else person

    def waiting() -> list[dict[str, str]]:
        """The requests not yet made; those older than an hour (no ``brief`` process took them)
        are dropped, so a stopped process cannot fill the list for good."""
        raw = cast(dict[bytes, bytes], client.hgetall(keys.briefings("pending")))
        oldest = (datetime.now(UTC) - STALE_REQUEST).isoformat(timespec="seconds")
        found, stale = [], []
        for request_id, text in raw.items():
            entry = readable(text)
            if entry is None or str(entry.get("at", "")) < oldest:
                stale.append(request_id)
            else:
                found.append(entry)
        if stale:
            client.hdel(keys.briefings("pending"), *stale)
        return found

    def pending(person: User) -> list[dict[str, str]]:
        return sorted((p for p in waiting() if may_see(person, str(p.get("unit")))), key=lambda p: p["at"])

    def failures(person: User) -> list[dict[str, str]]:
        raw = cast(list[bytes], client.lrange(keys.briefings("failed"), 0, 9))
        found = [f for f in map(readable, raw) if f is not None]
        return [f for f in found if may_see(person, str(f.get("unit")))]

    @bp.get("/briefings")
    def page() -> Any:
        person = signed_in()
        if not isinstance(person, User):
            return person
        days = archive.days()
        today = datetime.now(TZ).date().isoformat()
        day = request.args.get("day", days[0] if days else today)
        if not is_day(day):
            return refuse(400, f"day: {day[:20]!r} is not a date (YYYY-MM-DD)")
        shown = [a for a in archive.listed(day) if may_see(person, a.unit)]
        worker = client.get(keys.briefings("worker"))
        return admin.page(
            "briefings.html",
            day=day,
            days=days[:60],
            shown=shown,
            choices=[(u, units.name(u)) for u in units.codes if may_see(person, u)],
            pending=pending(person),
            failures=failures(person),
            worker=readable(worker) if worker else None,
            names=units.names(),
            asked=request.args.get("asked", ""),
            local=lambda t: (
                datetime.fromisoformat(t).astimezone(TZ).strftime("%H:%M %d/%m/%Y")
                if isinstance(t, str)
                else t.astimezone(TZ).strftime("%H:%M %d/%m/%Y")
            ),
        )

    @bp.post("/briefings")
    def ask_one() -> Any:
        person = signed_in()
        if not isinstance(person, User):
            return person
        if wrong := csrf.problem(request.form.get(csrf.FIELD)):
            return refuse(400, f"the form's token is {wrong}: open the page again")
        unit = request.form.get("unit", "")
        if unit not in known:
            return refuse(400, f"unit: unknown unit {unit[:20]!r} in scheme {units.scheme}")
        if not may_see(person, unit):
            return refuse(403, outside(unit))
        queued = waiting()
        if not any(w.get("unit") == unit for w in queued):
            if len(queued) >= PENDING_MAX:
                return refuse(
                    503, f"{len(queued)} briefings are waiting to be made: ask again in a few minutes"
                )
            hour = keys.briefings(f"asked:{person.login}:{datetime.now(UTC):%Y%m%d%H}")
            pipe = client.pipeline(transaction=True)
            pipe.incr(hour)
            pipe.expire(hour, 3600)
            if int(pipe.execute()[0]) > ASKED_PER_HOUR:
                return refuse(429, f"at most {ASKED_PER_HOUR} briefings an hour each: ask again later")
            ask(client, unit, person.login)
        audit_view("briefing_asked", unit=unit)
        return redirect(f"/briefings?asked={unit}")

    @bp.get("/briefings/<day>/<name>.<fmt>")
    def download(day: str, name: str, fmt: str) -> Any:
        person = signed_in()
        if not isinstance(person, User):
            return person
        if fmt not in FORMATS:
            return refuse(404, f"no format {fmt[:10]!r}; formats: {', '.join(FORMATS)}")
        found = archive.find(day, name)
        if found is None:
            return refuse(404, f"no briefing {name[:40]!r} on {day[:12]!r}")
        if not may_see(person, found.unit):
            return refuse(403, outside(found.unit))
        audit_view("briefing", unit=found.unit, briefing=f"{day}/{name}", format=fmt)
        if not archive.file(found, fmt).is_file():  # removed by the retention since it was listed
            return refuse(404, f"no briefing {name[:40]!r} on {day[:12]!r}")
        response = send_file(
            archive.file(found, fmt),
            mimetype=FORMATS[fmt],
            download_name=f"ban-tin-{found.unit}-{day}.{fmt}",
            as_attachment=request.args.get("download") == "1",
            max_age=0,
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response

    server.register_blueprint(bp)
