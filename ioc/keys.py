"""Every Redis key and stream name of the IOC, and nowhere else.

Each feed's keys share the hash tag ``{<feed>}`` so that on a Redis Cluster they live in one slot
and a transaction can touch the stream, the checkpoint and the snapshot of one feed together.
"""

from __future__ import annotations

PREFIX = "ioc"
AGGREGATOR_GROUP = "aggregator"


def _feed(feed: str, suffix: str) -> str:
    return f"{PREFIX}:{{{feed}}}:{suffix}"


def raw_stream(feed: str) -> str:
    """Micro-batches of validated records from the feed's connectors (Arrow IPC)."""
    return _feed(feed, "raw")


def dead_letters(feed: str) -> str:
    """Records and stream entries that failed, each with its reason."""
    return _feed(feed, "dead")


def dead_seen(feed: str) -> str:
    """Sorted set of dead-letter fingerprints already written (score: when), for a week."""
    return _feed(feed, "dead:seen")


def cursor(feed: str, connector: str) -> str:
    """A connector's resume point in its source."""
    return _feed(feed, f"cursor:{connector}")


def connector_health(feed: str, connector: str) -> str:
    """Hash of a connector's counters: last poll, last success, records, errors."""
    return _feed(feed, f"health:{connector}")


def checkpoint(feed: str) -> str:
    """Hash of the aggregator's durable state: buckets of the latest record versions (Arrow)."""
    return _feed(feed, "state")


def snapshot(feed: str) -> str:
    """Hash of KPI documents, one field per ``<unit>|<window>``, plus ``_meta``."""
    return _feed(feed, "kpis")


def case_list(feed: str, unit: str) -> str:
    """Hash of ``unit``'s work list: one field per overdue case (its JSON), and a field with an
    empty name, the mark that the list is there (``ioc.cases``)."""
    return _feed(feed, f"cases:{unit}")


def case_index(feed: str) -> str:
    """Hash of what the work lists are: ``units`` (JSON: the units that have one) and
    ``generation`` (counted up by every commit that writes them; ``ioc.cases.CaseBook``)."""
    return _feed(feed, "case-index")


def series(feed: str) -> str:
    """Hash of hourly history documents, one field per unit."""
    return _feed(feed, "series")


def series_week_before(feed: str) -> str:
    """Hash of each unit's hourly series over the same hours a week earlier (the rooms' overlay
    when they compare with last week), rewritten once an hour."""
    return _feed(feed, "series:week_before")


def deltas(feed: str) -> str:
    """What each aggregator commit changed, for the realtime relay (bounded)."""
    return _feed(feed, "deltas")


def lease(feed: str) -> str:
    """Which aggregator worker currently owns the feed's state."""
    return _feed(feed, "lease")


def snapshot_field(unit: str, window: str) -> str:
    return f"{unit}|{window}"


META_FIELD = "_meta"


def alerts(feed: str) -> str:
    """Hash of the feed's active alerts, one field per ``<rule>|<unit>`` (JSON)."""
    return _feed(feed, "alerts")


def alert_log(feed: str) -> str:
    """Every alert raised, cleared and acknowledged (bounded)."""
    return _feed(feed, "alerts:log")


def alert_acks(feed: str) -> str:
    """Hash of acknowledgements, one field per ``<rule>|<unit>|<since>``: who and when (JSON)."""
    return _feed(feed, "alerts:acks")


def alert_rules() -> str:
    """Hash of the alert rules saved on the administrator's page, one field per rule name (JSON),
    over the configuration's; the field ``_version`` counts the changes."""
    return f"{PREFIX}:alert-rules"


def silences() -> str:
    """Hash of the silences, one field per silence (JSON); ``_version`` counts the changes."""
    return f"{PREFIX}:silences"


def delivery(part: str) -> str:
    """Alert delivery's keys, in one slot (the hash tag ``{delivery}``) so that a gate and the
    message it lets through are one transaction: ``outbox`` (a stream of messages to send),
    ``retry`` (a sorted set of failed ones by when to try again), ``dead`` (a stream of those
    given up), ``health`` (a hash by contact point), and the gates ``group:<point>:<alert>``,
    ``notified:<point>:<alert>``, ``escalated:<point>:<alert>|<since>``, ``done:<message>``."""
    return f"{PREFIX}:{{delivery}}:{part}"


def annotation_events() -> str:
    """Hash of the events people added to the time series, one field per event (JSON)."""
    return f"{PREFIX}:annotations"


def briefings(part: str) -> str:
    """The morning briefings' keys, in one slot (``{briefings}``): ``requests`` (a stream of the
    briefings people asked for, read by the ``brief`` process's group), ``pending`` (a hash of
    those not yet made, by request), ``failed`` (a list of the newest failures), ``worker``
    (the process's heartbeat, expiring) and ``asked:<login>:<hour>`` (a person's requests in an
    hour, expiring)."""
    return f"{PREFIX}:{{briefings}}:{part}"


def audit() -> str:
    """Who opened which case-level or sensitive view, and when (bounded, oldest dropped)."""
    return f"{PREFIX}:audit"


def embed_used(jti: str) -> str:
    """A one-time embed token already used (expires with the token)."""
    return f"{PREFIX}:embed:used:{jti}"


def sessions(login: str) -> str:
    """Hash of an account's live sessions, one field per session id (JSON: until when, how it
    logged in, when a single sign-on role is next re-checked). A field gone: that session is
    over (logged out); the hash gone: every session of the account is (removed or changed)."""
    return f"{PREFIX}:sessions:{login}"


def session_recheck(sid: str) -> str:
    """Held (briefly) by the one request that re-checks a single sign-on session at the provider."""
    return f"{PREFIX}:recheck:{sid}"


def audit_repeat(*parts: str) -> str:
    """A read repeated by a live page, already in the audit log (expires: the next is recorded)."""
    return f"{PREFIX}:audit:repeat:{'|'.join(parts)}"


def audit_failures() -> str:
    """What anonymous requests can make the audit log record (failed and throttled logins,
    refusals of no one in particular), kept apart from ``audit()`` and bounded on its own, so
    that a flood of them never pushes out the record of who viewed what."""
    return f"{PREFIX}:audit:failures"


def login_attempts(kind: str, who: str, window: int) -> str:
    """Counter of login attempts of one client address or one account (``kind``) in one fixed
    window (its number since the epoch); expires with the window."""
    return f"{PREFIX}:throttle:{kind}:{who}:{window}"
