"""Configuration of alert delivery (``[delivery]``): where alerts go beyond the screens, and when.

A section of :class:`ioc.config.Settings`; :mod:`ioc.deliver` does the work. Secrets (the SMTP
password, each webhook's signing key) are never in the file: the file names the environment
variable that holds each.
"""

from __future__ import annotations

import re
from collections.abc import Container
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ioc.config_access import _Section

Severity = Literal["info", "warning", "critical"]
Event = Literal["raised", "reminder", "escalated", "cleared"]  # what a message says of its alert
Level = Literal["province", "district", "area", "commune"]
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


class SmtpSettings(_Section):
    """The mail server email contact points send through."""

    host: str = Field(description="The SMTP server's name or address.")
    port: int = Field(587, ge=1, le=65535, description="Its port (587: submission with STARTTLS).")
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS before logging in.")
    username: str = Field("", description="Login; empty: send without logging in.")
    password_env: str = Field(
        "IOC_SMTP_PASSWORD", description="The environment variable holding the login's password."
    )
    sender: str = Field(description="The From address, e.g. `IOC Tây Ninh <ioc@tayninh.gov.vn>`.")
    ca_file: Path | None = Field(
        None, description="A CA certificate (PEM) to trust for the server (a private mail server's)."
    )
    timeout_s: float = Field(20.0, gt=0, description="Seconds before a connection or reply is given up.")


class ContactPoint(_Section):
    """Somewhere messages go: an email list or a webhook (a Zalo OA, SMS gateway or chat bridge)."""

    kind: Literal["email", "webhook"] = Field(description="`email` or `webhook`.")
    to: list[str] = Field(default_factory=list, description="email: the addresses.")
    url: str = Field("", description="webhook: where the signed JSON is POSTed (https in production).")
    secret_env: str = Field(
        "",
        description="webhook: the environment variable holding its signing key; empty: "
        "`IOC_CONTACT_<NAME>_SECRET`.",
    )
    timeout_s: float = Field(10.0, gt=0, description="Seconds before a send is given up (and retried).")

    @model_validator(mode="after")
    def _complete(self) -> ContactPoint:
        if self.kind == "email" and not self.to:
            raise ValueError("an email contact point needs `to`")
        if self.kind == "webhook" and not self.url.startswith(("https://", "http://")):
            raise ValueError("a webhook contact point needs a `url` (https://...)")
        if self.secret_env and not ENV_NAME.fullmatch(self.secret_env):
            raise ValueError("secret_env: an environment variable's name (A-Z, 0-9, _)")
        return self


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPAN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


class MuteTime(_Section):
    """Recurring quiet times of a route (Asia/Ho_Chi_Minh): nights, weekends, public holidays.
    Every given condition must hold (a night of a weekend day, say); none given: never."""

    times: list[str] = Field(
        default_factory=list,
        description="Local spans like `22:00-06:00` (across midnight allowed); empty: all day.",
    )
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=list, description="Only these days; empty: every day."
    )
    holidays: bool = Field(
        False, description="Only on Vietnamese public holidays, Tết included (the SLA's calendar)."
    )

    def holds(self, moment: datetime, public_holidays: Container[date]) -> bool:
        """Whether ``moment`` (local) is in this quiet time."""
        if self.weekdays and WEEKDAYS[moment.weekday()] not in self.weekdays:
            return False
        if self.holidays and moment.date() not in public_holidays:
            return False
        if not self.times:
            return True
        minute = moment.hour * 60 + moment.minute
        for span in self.times:
            h1, m1, h2, m2 = (int(x) for x in SPAN.fullmatch(span).groups())  # type: ignore[union-attr]
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if (start <= minute < end) if start < end else (minute >= start or minute < end):
                return True
        return False

    @model_validator(mode="after")
    def _spans(self) -> MuteTime:
        for span in self.times:
            if not SPAN.fullmatch(span):
                raise ValueError(f"times: {span!r} is not a span like 22:00-06:00")
        if not (self.times or self.weekdays or self.holidays):
            raise ValueError("a mute time names times, weekdays or holidays")
        return self


class Route(_Section):
    """Which alerts go to which contact points; an empty filter matches every alert."""

    contact_points: list[str] = Field(min_length=1, description="Where the matching alerts go.")
    feeds: list[str] = Field(default_factory=list, description="Only these feeds' alerts.")
    units: list[str] = Field(
        default_factory=list,
        description="Only alerts of these units or of units inside them (an area's officer: the area "
        "and its communes); the province-wide ones (a stopped feed) only if the province is listed.",
    )
    levels: list[Level] = Field(default_factory=list, description="Only alerts of units of these levels.")
    severities: list[Severity] = Field(default_factory=list, description="Only rules of these severities.")
    escalate_after_min: float | None = Field(
        None, gt=0, description="An alert still unacknowledged this long after it was raised ..."
    )
    escalate_to: list[str] = Field(default_factory=list, description="... goes to these contact points too.")
    mute_times: list[str] = Field(
        default_factory=list,
        description="Quiet times (names of [delivery.mute_times]): nothing is sent through this route "
        "then; a resolution waits for their end, and an alert still on is said after it.",
    )

    @model_validator(mode="after")
    def _escalation(self) -> Route:
        if (self.escalate_after_min is None) != (not self.escalate_to):
            raise ValueError("give both escalate_after_min and escalate_to, or neither")
        return self


class DeliverySettings(_Section):
    """Alerts beyond the screens: contact points, the routes to them, grouping and retries."""

    link_base: str = Field(
        "http://127.0.0.1:8050",
        description="The web app's address as people reach it: messages link to the alert's room.",
    )
    group_min: float = Field(
        60.0,
        gt=0,
        description="At most one message per alert and contact point in this many minutes: an "
        "alert raised again, or still active and unacknowledged, is said again after it.",
    )
    retry_first_s: float = Field(5.0, gt=0, description="A failed send is retried after this ...")
    retry_max_s: float = Field(600.0, gt=0, description="... doubling each time up to this ...")
    give_up_h: float = Field(24.0, gt=0, description="... until this many hours, then dead-lettered.")
    smtp: SmtpSettings | None = Field(None, description="The mail server (needed by email contact points).")
    contact_points: dict[str, ContactPoint] = Field(default_factory=dict, description="By name.")
    routes: dict[str, Route] = Field(
        default_factory=dict, description="By name; each alert takes every match."
    )
    mute_times: dict[str, MuteTime] = Field(default_factory=dict, description="Quiet times by name.")

    @model_validator(mode="after")
    def _wired(self) -> DeliverySettings:
        for name, route in self.routes.items():
            unknown = [c for c in (*route.contact_points, *route.escalate_to) if c not in self.contact_points]
            if unknown:
                raise ValueError(f"routes.{name}: no contact point {', '.join(map(repr, unknown))}")
            quiet = [m for m in route.mute_times if m not in self.mute_times]
            if quiet:
                raise ValueError(f"routes.{name}: no mute time {', '.join(map(repr, quiet))}")
        if self.smtp is None and any(c.kind == "email" for c in self.contact_points.values()):
            raise ValueError("email contact points need [delivery.smtp]")
        return self

    def secret_name(self, point: str) -> str:
        """The environment variable holding webhook contact point ``point``'s signing key."""
        given = self.contact_points[point].secret_env
        return given or f"IOC_CONTACT_{re.sub(r'[^A-Z0-9]', '_', point.upper())}_SECRET"
