"""Silences on a page (``/silences``) and in the API (``/api/v1/silences``): create one, list
them, end one early. See :mod:`ioc.silences` for what a silence does.

An administrator or a leader may silence anything; a duty officer only a unit inside their scope
(the unit is then required) and end only such silences. A silence lasts at most 90 days. Its
reason is free text a person typed: names, phone numbers and ids are redacted before it is
stored. Creating and ending are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Flask, jsonify, redirect, request
from pydantic import ValidationError

from ioc import admin, csrf, silences
from ioc.access import User
from ioc.alert_rules import RuleBook
from ioc.feeds import FEED_SPECS
from ioc.login import TEMPLATES, audit_view, current_user
from ioc.login import refused as refuse
from ioc.privacy import redact
from ioc.silences import Silence
from ioc.units import UnitTable
from layouts.i18n import _

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Refused(ValueError):
    """A silence refused: the status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def install(server: Flask, client: redis.Redis, units: UnitTable, rules: RuleBook) -> None:
    bp = Blueprint("silences", __name__, template_folder=str(TEMPLATES))

    def may_touch(person: User, silence: Silence) -> bool:
        return not person.scoped or (bool(silence.unit) and person.within(silence.unit, units))

    def create(person: User, given: dict[str, Any]) -> Silence:
        unit = str(given.get("unit") or "").strip()
        if unit and unit not in set(units.codes):
            raise Refused(400, f"unit: {unit[:20]!r} is not a unit of scheme {units.scheme}")
        if person.scoped and not (unit and person.within(unit, units)):
            raise Refused(403, "unit: a duty officer silences a unit of their own scope only")
        feed, rule = str(given.get("feed") or ""), str(given.get("rule") or "")
        if feed and feed not in FEED_SPECS:
            raise Refused(400, f"feed: {feed[:40]!r} is not a feed")
        if rule and rule not in rules.current():
            raise Refused(400, f"rule: {rule[:64]!r} is not an alert rule")
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            silence = Silence(
                feed=feed,
                unit=unit,
                rule=rule,
                ends_at=_ends_at(given, now),
                reason=redact(str(given.get("reason") or "").strip())[:300],
                created_by=person.login,
                created_at=now,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "silence"
            raise Refused(400, f"{where}: {str(err['msg']).removeprefix('Value error, ')}") from None
        silences.save(client, silence)
        audit_view("silence_created", silence=silence.id, **_fields(silence))
        return silence

    def finish(person: User, silence_id: str) -> Silence:
        found = next((s for s in silences.read_all(client) if s.id == silence_id), None)
        if found is None:
            raise Refused(404, f"no silence {silence_id[:20]!r}")
        if not may_touch(person, found):
            raise Refused(403, "a duty officer ends the silences of their own scope only")
        ended = silences.end(client, found, person.login, datetime.now(UTC))
        audit_view("silence_ended", silence=found.id, **_fields(found))
        return ended

    def listed(person: User) -> list[Silence]:
        every = silences.read_all(client)
        return [s for s in every if not person.scoped or may_touch(person, s) or not s.unit]

    @bp.get("/silences")
    def page() -> Any:
        person = current_user()
        if person is None:
            return refuse(401, "login required")
        now = datetime.now(UTC)
        rows = [(s, s.active(now), may_touch(person, s)) for s in listed(person)]
        return admin.page(
            "silences.html",
            rows=rows,
            feeds={name: _(spec.title) for name, spec in FEED_SPECS.items()},
            rules=sorted(rules.current()),
            names=units.names(),
            local=lambda t: t.astimezone(TZ).strftime("%H:%M %d/%m/%Y"),
            saved=request.args.get("saved"),
            error="",
            form={},
        )

    def submitted(action: Callable[[User], Silence], saved: str) -> Any:
        """A form of the page: this session's token, then ``action`` as the person, then the list."""
        person = current_user()
        if person is None:
            return refuse(401, "login required")
        if wrong := csrf.problem(request.form.get(csrf.FIELD)):
            return refuse(400, f"the form's token is {wrong}: open the page again")
        try:
            action(person)
        except Refused as exc:
            return refuse(exc.status, str(exc))
        return redirect(f"/silences?saved={saved}")

    @bp.post("/silences")
    def add() -> Any:
        return submitted(lambda person: create(person, request.form.to_dict()), "1")

    @bp.post("/silences/<silence_id>/end")
    def end_early(silence_id: str) -> Any:
        return submitted(lambda person: finish(person, silence_id), "ended")

    @bp.get("/api/v1/silences")
    def api_list() -> Any:
        person = current_user()
        if person is None:
            return refuse(401, "login required")
        return jsonify({"silences": [s.model_dump(mode="json") for s in listed(person)]})

    @bp.post("/api/v1/silences")
    def api_add() -> Any:
        person, body = current_user(), request.get_json(silent=True)
        if person is None:
            return refuse(401, "login required")
        if not isinstance(body, dict):
            return refuse(400, "the body must be a JSON object: {feed, unit, rule, hours | ends_at, reason}")
        try:
            return jsonify(create(person, body).model_dump(mode="json")), 201
        except Refused as exc:
            return refuse(exc.status, str(exc))

    @bp.post("/api/v1/silences/<silence_id>/end")
    def api_end(silence_id: str) -> Any:
        person = current_user()
        if person is None:
            return refuse(401, "login required")
        try:
            return jsonify(finish(person, silence_id).model_dump(mode="json"))
        except Refused as exc:
            return refuse(exc.status, str(exc))

    server.register_blueprint(bp)


def _ends_at(given: dict[str, Any], now: datetime) -> datetime:
    """``hours`` from now, or ``ends_at`` (ISO; a local time without a zone)."""
    if given.get("hours") not in (None, ""):
        try:
            hours = float(given["hours"])
        except (TypeError, ValueError):
            raise Refused(400, f"hours: {str(given['hours'])[:20]!r} is not a number") from None
        if not 0 < hours <= 90 * 24:
            raise Refused(400, "hours: more than 0 and at most 2160 (90 days)")
        return now + timedelta(hours=hours)
    try:
        moment = datetime.fromisoformat(str(given.get("ends_at") or ""))
    except ValueError:
        raise Refused(400, "ends_at: a time like 2026-12-05T18:00 (local), or give hours") from None
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment


def _fields(silence: Silence) -> dict[str, str]:
    shown = {"of_feed": silence.feed, "unit": silence.unit, "of_rule": silence.rule}
    return {k: v for k, v in shown.items() if v} | {"ends_at": silence.ends_at.isoformat()}
