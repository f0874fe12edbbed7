"""How many wrong passwords a client address and an account may be tried with.

Every login attempt (the form, HTTP Basic) first takes a place in two counters in Redis, one for
the client's address (an IPv6 address with its /64, which one subscriber holds whole) and one for
the account named, each in a fixed window (``INCR`` and ``EXPIRE`` in one transaction; the window
is in the key, so a counter never outlives it). An attempt over either limit is refused before
its password is hashed (a scrypt hash is the expensive part of a guess), with the seconds until
that window ends. A successful login gives its place back, so only failures count, and several
workers sharing one Redis count together.

The account's counter is named by a keyed hash of what was typed, never the text: people type
their password into the login field.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from ioc import keys
from ioc.config_access import AuthSettings


@dataclass(frozen=True)
class Throttled:
    """An attempt refused: which limit it hit and when to try again."""

    limit: str  # "address" or "account"
    retry_after_s: int


@dataclass
class Attempt:
    """The places an attempt took in the counters, given back if it succeeds."""

    client: redis.Redis
    places: list[tuple[str, int]] = field(default_factory=list)  # (key, expires at, epoch s)

    def succeeded(self) -> None:
        for key, until in self.places:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.decr(key)
                pipe.expireat(key, until)  # DECR would make a gone key again, without a TTL
                pipe.execute()
        self.places.clear()


class LoginThrottle:
    """Counts login attempts per client address and per account, in Redis."""

    def __init__(
        self,
        client: redis.Redis,
        auth: AuthSettings,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.clock = client, clock
        self.limits = {
            "address": (auth.attempts_per_address, auth.address_window_s),
            "account": (auth.attempts_per_account, auth.account_window_s),
        }
        self._key = hmac.new(secret.encode(), b"ioc-login-throttle", hashlib.sha256).digest()

    def attempt(self, address: str, login: str) -> Attempt | Throttled:
        """Take a place for an attempt of ``login`` from ``address``, or say why not."""
        taken = Attempt(self.client)
        refused: list[Throttled] = []
        for kind, who in (("address", network(address)), ("account", self.account(login))):
            limit, window_s = self.limits[kind]
            now = self.clock()
            window = int(now // window_s)
            until = (window + 1) * window_s
            key = keys.login_attempts(kind, who, window)
            with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expireat(key, until + 1)
                count = int(pipe.execute()[0])
            taken.places.append((key, until + 1))
            if count > limit:
                refused.append(Throttled(kind, max(1, math.ceil(until - now))))
        if refused:
            return max(refused, key=lambda t: t.retry_after_s)
        return taken

    def account(self, login: str) -> str:
        return hmac.new(self._key, login.encode(), hashlib.sha256).hexdigest()[:32]


def network(address: str) -> str:
    """Whose attempts count together: an IPv4 address, or an IPv6 address's /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "-"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)
