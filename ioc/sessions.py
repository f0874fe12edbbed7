"""Live sessions in Redis: what makes a logout, a removed account or a role the province's single
sign-on no longer grants take effect at once, in the web app and on the relay.

A session cookie is signed, but it lives in the browser: on its own it would stay good until it
expires (up to ``auth.remember_days``). So each login also writes a record in Redis
(``ioc:sessions:<login>``, one field per session id) and the cookie and every relay token of the
screen carry that id. The web app reads the record at each request, the relay every
``realtime.session_check_s`` for its open sockets. Logging out deletes the field; removing or
changing an account deletes the whole hash. A single sign-on session also carries the moment its
role must be re-read from the provider (``auth.oidc.recheck_s``): past it, the relay closes the
screen's socket and the web app re-reads the claims at the next request (the page's reconnect
asks for a fresh token, which is one).

Records are JSON: ``{"exp": <epoch s>, "via": "local" | "oidc", "recheck_by": <epoch s>?,
"tokens": {...}?}`` (``tokens``: the provider's refresh and access tokens, for the re-check).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, cast

import redis

from ioc import keys

ENDED = "logged out, or the account was removed or changed"
EXPIRED = "expired"
RECHECK = "its single sign-on role is due to be re-checked"


def verdict(raw: bytes | str | None, now: float, *, recheck: bool = True) -> str | None:
    """Why the session of this record is no longer good, or None while it is."""
    if raw is None:
        return ENDED
    record = json.loads(raw)
    if float(record.get("exp", 0)) < now:
        return EXPIRED
    if recheck and record.get("recheck_by") is not None and float(record["recheck_by"]) < now:
        return RECHECK
    return None


def start(
    client: redis.Redis,
    login: str,
    *,
    lasting_s: float,
    via: str,
    recheck_s: float | None = None,
    tokens: dict[str, Any] | None = None,
) -> str:
    """A new session of ``login``; returns its id. Sessions of the account that have run out are
    dropped on the way, and the hash lives as long as its longest session."""
    now = time.time()
    sid = secrets.token_urlsafe(24)
    record: dict[str, Any] = {"exp": now + lasting_s, "via": via}
    if recheck_s is not None:
        record["recheck_by"] = now + recheck_s
    if tokens:
        record["tokens"] = tokens
    key = keys.sessions(login)
    held = cast(dict[bytes, bytes], client.hgetall(key))
    gone = [f for f, v in held.items() if verdict(v, now, recheck=False) is not None]
    until = max([record["exp"], *(json.loads(v)["exp"] for f, v in held.items() if f not in gone)])
    pipe = client.pipeline(transaction=True)
    if gone:
        pipe.hdel(key, *gone)
    pipe.hset(key, sid, json.dumps(record))
    pipe.expireat(key, int(until) + 1)
    pipe.execute()
    return sid


def read(client: redis.Redis, login: str, sid: str) -> dict[str, Any] | None:
    """The record of a session still going (its re-check may be due), or None."""
    raw = cast(bytes | None, client.hget(keys.sessions(login), sid))
    if verdict(raw, time.time(), recheck=False) is not None:
        return None
    return cast(dict[str, Any], json.loads(cast(bytes, raw)))


# Only if the field is still there: a logout between the read and the write must stay a logout.
_SAVE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return -1
"""


def save(client: redis.Redis, login: str, sid: str, record: dict[str, Any]) -> bool:
    """Write back a session's record (after a re-check); False if the session has ended meanwhile."""
    written = client.eval(_SAVE, 1, keys.sessions(login), sid, json.dumps(record))
    return bool(written != -1)


def end(client: redis.Redis, login: str, sid: str) -> None:
    """This one session is over (a logout)."""
    client.hdel(keys.sessions(login), sid)


def end_all(client: redis.Redis, login: str) -> int:
    """Every session of the account is over (removed or changed); how many there were."""
    key = keys.sessions(login)
    pipe = client.pipeline(transaction=True)
    pipe.hlen(key)
    pipe.delete(key)
    count, _deleted = pipe.execute()
    return int(count)
