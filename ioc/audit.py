"""The audit log: who opened which case-level or sensitive view, and when.

Each entry goes to the Redis stream ``ioc:audit`` (bounded by ``auth.audit_maxlen``) and to the
log. Entries name the person and the view (a district's case lists, a commune's figures, an
acknowledgement, a login, a minted embed token), never a case's personal data.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, cast

import redis

from ioc import keys

log = logging.getLogger("ioc.audit")


def record(client: redis.Redis, maxlen: int, action: str, who: str, role: str, **what: str) -> None:
    entry = {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "action": action,
        "who": who,
        "role": role,
    }
    entry |= {k: v for k, v in what.items() if v}
    client.xadd(keys.audit(), entry, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
    log.info("%s", json.dumps(entry, ensure_ascii=False))


def read(client: redis.Redis, count: int = 200, action: str | None = None) -> list[dict[str, Any]]:
    """The newest entries first (only ``action``'s when given)."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrevrange(keys.audit(), count=count))
    found = [{"id": i.decode(), **{k.decode(): v.decode() for k, v in f.items()}} for i, f in entries]
    return [e for e in found if action is None or e["action"] == action]
