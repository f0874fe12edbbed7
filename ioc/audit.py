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
from collections.abc import Iterator
from dataclasses import dataclass
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


CHUNK = 500


def _id(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def walk(
    client: redis.Redis, before: str | None = None, since_ms: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every entry of both streams, newest first, older than the cursor ``before`` (exclusive)
    and not older than ``since_ms``; read in chunks, so a page of a filter costs what it reads.

    Both streams may hold the same id (two entries of one millisecond), so entries are ordered by
    (id, stream) and each carries its ``cursor``, ``<id>/<stream>``: given as ``before`` it
    continues exactly after that entry. A bare id continues after every entry of that id."""
    streams = [keys.audit(), keys.audit_failures()]
    bound = dict.fromkeys(streams, "+")
    if before:
        at, _, of = before.partition("/")
        for i, stream in enumerate(streams):
            # the same id in a stream ordered after the cursor's (a lower rank) is still to come
            bound[stream] = at if of and i < int(of) else f"({at}"
    floor = f"{since_ms}-0" if since_ms is not None else "-"
    # the oldest entry read so far of each stream not read to its end (None: not read yet)
    low: dict[str, tuple[int, int, int] | None] = dict.fromkeys(streams)
    held: list[tuple[tuple[int, int, int], str, dict[str, Any]]] = []
    while low:
        # Read only the streams that set the edge: those not read yet, else the one whose oldest
        # read entry is the newest; the others' next chunks are older than what it may hold, so
        # at most about a chunk of each stream is held at any time.
        unread = [s for s, at in low.items() if at is None]
        for stream in unread or [max(low, key=lambda s: cast(tuple[int, int, int], low[s]))]:
            rank = streams.index(stream)
            raw = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                client.xrevrange(stream, max=bound[stream], min=floor, count=CHUNK),
            )
            held += [
                ((*_id(i.decode()), rank), i.decode(), {k.decode(): v.decode() for k, v in f.items()})
                for i, f in raw
            ]
            if len(raw) < CHUNK:
                del low[stream]
            else:
                last = raw[-1][0].decode()
                bound[stream] = f"({last}"
                low[stream] = (*_id(last), -1)
        # What is not older than every unfinished stream's oldest read entry is complete: what
        # such a stream has not read is older than its oldest read id.
        edge = max(cast(list[tuple[int, int, int]], list(low.values())), default=(-1, -1, -1))
        held.sort(key=lambda item: item[0], reverse=True)
        ready = [item for item in held if item[0] >= edge]
        held = held[len(ready) :]
        for (_ms, _seq, rank), entry_id, fields in ready:
            yield {"id": entry_id, "cursor": f"{entry_id}/{rank}", **fields}


@dataclass(frozen=True)
class Filter:
    """What an administrator looks for in the audit log: each given field must equal the entry's
    (``who``, ``action``, ``unit``), within [``since_ms``, ``until_ms``)."""

    who: str = ""
    action: str = ""
    unit: str = ""
    since_ms: int | None = None
    until_ms: int | None = None

    def keeps(self, entry: dict[str, Any]) -> bool:
        return all(
            not wanted or entry.get(name) == wanted
            for name, wanted in (("who", self.who), ("action", self.action), ("unit", self.unit))
        )

    def entries(self, client: redis.Redis, before: str | None = None) -> Iterator[dict[str, Any]]:
        """The matching entries, newest first, older than the cursor ``before``."""
        return (e for e in walk(client, self._before(before), self.since_ms) if self.keeps(e))

    def page(
        self, client: redis.Redis, before: str | None, size: int, limit: int
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """Up to ``size`` matching entries older than ``before``, examining at most ``limit``
        entries: (the entries, the cursor the next page starts from or None at the end, and when
        the limit stopped the search, the time of the last entry examined)."""
        found: list[dict[str, Any]] = []
        source = walk(client, self._before(before), self.since_ms)
        for examined, entry in enumerate(source, 1):
            if self.keeps(entry):
                if len(found) == size:
                    return found, found[-1]["cursor"], None
                found.append(entry)
            if examined >= limit:
                more = next(source, None) is not None
                return found, entry["cursor"] if more else None, str(entry.get("at", "")) if more else None
        return found, None, None

    def _before(self, before: str | None) -> str | None:
        if self.until_ms is not None:
            until = f"{self.until_ms}-0"
            if before is None or _id(before.partition("/")[0]) >= _id(until):
                return until
        return before
