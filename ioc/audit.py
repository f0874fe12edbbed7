"""The audit log: who opened which case-level or sensitive view, and when.

Each entry goes to the Redis stream ``ioc:audit`` (bounded by ``auth.audit_maxlen``) and to the
log. Entries name the person and the view (a district's case lists, a commune's figures, an
acknowledgement, a login, a minted embed token), never a case's personal data.

What any anonymous client can cause at will (failed and throttled logins, refusals of no one in
particular) goes to a stream of its own instead, ``ioc:audit:failures`` (``auth.failures_maxlen``),
so that a flood of it never pushes the record of who viewed what out of ``ioc:audit``. A failed
login names the account only when one of that name exists, never what was typed (people type
their password into the login field). :func:`read` gives both streams together.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, cast

import redis

from ioc import keys

log = logging.getLogger("ioc.audit")


APART = frozenset({"login_failed", "login_throttled"})


def apart(action: str, who: str) -> bool:
    """Whether an entry goes to ``ioc:audit:failures``: one an anonymous client can cause."""
    return action in APART or (action == "refused" and who == "-")


def record(client: redis.Redis, maxlen: int, action: str, who: str, role: str, **what: str) -> None:
    """Record an entry; ``maxlen`` bounds the stream it goes to (see :func:`apart`)."""
    entry = {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "action": action,
        "who": who,
        "role": role,
    }
    entry |= {k: v for k, v in what.items() if v}
    stream = keys.audit_failures() if apart(action, who) else keys.audit()
    client.xadd(stream, entry, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
    log.info("%s", json.dumps(entry, ensure_ascii=False))


def read(client: redis.Redis, count: int = 200, action: str | None = None) -> list[dict[str, Any]]:
    """The newest entries of both streams first, at most ``count`` (only ``action``'s when given,
    from the newest ``count`` of each stream)."""
    found: list[dict[str, Any]] = []
    for stream in (keys.audit(), keys.audit_failures()):
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrevrange(stream, count=count))
        found += [{"id": i.decode(), **{k.decode(): v.decode() for k, v in f.items()}} for i, f in entries]
    found.sort(key=lambda e: tuple(int(part) for part in e["id"].split("-")), reverse=True)
    return [e for e in found if action is None or e["action"] == action][:count]
