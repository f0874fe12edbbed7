"""The feeds the IOC knows, each registered once here: the one list every part asks.

A feed's :class:`Feed` names its :class:`ioc.feeds.FeedSpec` (what its records are, how its
contract takes them in, how they are counted and shown; loaded only where records are handled)
and holds what the configuration and the demo need before any record exists: its default alert
rules, the secrets its connectors cannot run without, and the simulated source the demo starts.
This module imports nothing of the IOC, so the configuration (which nearly every module
imports) and the supervisor read it without loading Polars or any feed's code.

Adding a feed: its spec, contract, connector and simulator in files of their own, and one entry
in :data:`FEEDS`; the configuration's defaults, the supervisor, ``ioc simulate``, the
connectors' contracts, the aggregators, the API and the rooms all find it here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Simulator:
    """The demo's simulated source of a feed (``ioc simulate <feed>``), and how the demo points
    the feed's connector (``[connectors.<feed>]``) at it.

    ``source`` ("module:Class", imported only by the simulator's process) is built with keyword
    ``arguments``: argument -> a setting of ``[simulators.<feed>]``, or ``units`` (the units
    counted, ``boundaries``: old Tây Ninh's, coded pre-2025, or today's province's, coded by
    date), ``geodata``, ``anchor`` (when the simulated world began) or ``directory`` (the drop
    folder it writes into).
    """

    source: str
    arguments: Mapping[str, str]
    # serves FEEDS.md's paged listing (or, for an ``ioc.simulators.http.Endpoint``, its own
    # answers) at this path: the demo sets the connector's `url`
    path: str = ""
    folder: str = ""  # or writes files into `<data_dir>/drop/<folder>`: the connector's `drop_dir`
    push_path: str = ""  # and pushes new records, signed, to the connector's webhook at this path
    # Its records carry unit codes (`ma_dvhc`): given the 2025 units it codes them by date
    # (ioc.simulators.coding), and the demo's connector reads them so (:func:`demo_connector`).
    coded: bool = False


@dataclass(frozen=True)
class Feed:
    """A feed as the IOC registers it; see the module's docstring."""

    name: str
    spec: str  # "module:attribute" of its FeedSpec
    simulator: Simulator | None = None
    # Environment variables every connector of the feed needs, and what for (production refuses
    # to start without them; the demo generates them).
    secrets: Mapping[str, str] = field(default_factory=dict)
    # Its default alert rules by name, as `[alerts.<name>]` tables without `feed` (the
    # configuration adds a rule for every feed that stops updating).
    alerts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


# What a simulated source drawn on a timeline (``ioc.simulators.timeline``) is built from.
TIMELINE = {
    "units": "units",
    "anchor": "anchor",
    "seed": "seed",
    "history_days": "history_days",
    "activity": "activity",
    "malformed_rate": "malformed_rate",
}

FEEDS: dict[str, Feed] = {
    feed.name: feed
    for feed in (
        Feed(
            "public_services",
            "ioc.feeds:PUBLIC_SERVICES",
            Simulator(
                "ioc.simulators.public_services:PublicServicesWorld",
                TIMELINE | {"geodata": "geodata", "daily_dossiers": "daily_dossiers"},
                path="/api/v1/hoso",
                coded=True,
            ),
            alerts={
                "dung_han_duoi_90": {
                    "kpi": "on_time_rate",
                    "window": "7d",  # at the level below the province: districts, or areas in 2025
                    "below": 0.90,
                    "title": "đúng hạn 7 ngày",
                    "title_en": "on time, 7 days",
                },
            },
        ),
        Feed(
            "citizen_feedback",
            "ioc.feeds:CITIZEN_FEEDBACK",
            Simulator(
                "ioc.simulators.citizen_feedback:CitizenFeedbackWorld",
                TIMELINE | {"geodata": "geodata", "daily_reports": "daily_reports"},
                path="/api/v1/phan-anh",
                coded=True,
            ),
            alerts={
                "phan_anh_khan_qua_han": {
                    "kind": "cases",
                    "level": "province",
                    "where": {"severity": "khan"},
                    "above": 20,
                    "title": "phản ánh khẩn quá hạn",
                    "title_en": "overdue urgent reports",
                },
            },
        ),
        Feed(
            "mobile_data",
            "ioc.feeds:MOBILE_DATA",
            Simulator(
                "ioc.simulators.mobile_data:MobileOperators",
                {
                    "units": "units",
                    "geodata": "geodata",
                    "directory": "directory",
                    "seed": "seed",
                    "cells": "cells",
                    "history_hours": "file_history_hours",
                    "period_s": "period_s",
                    "malformed_rate": "malformed_rate",
                },
                folder="mobile",
            ),
        ),
        Feed(
            "vaccination",
            "ioc.feeds:VACCINATION",
            Simulator(
                "ioc.simulators.vaccination:VaccinationWorld",
                TIMELINE | {"geodata": "geodata", "daily_series": "daily_vaccinations"},
                path="/api/v1/mui-tiem",
                push_path="/hooks/vaccination",
                coded=True,
            ),
            secrets={"IOC_PSEUDONYM_KEY": "the vaccination pseudonyms"},
        ),
        Feed(
            "national_index",  # SCORECARD.md feed §5: no KPIs, the portal's published index
            "ioc.national_index:NATIONAL_INDEX",
            Simulator(
                "ioc.simulators.national_index:NationalPortal",
                {"seed": "seed", "malformed_rate": "malformed_rate"},
                path="/api/v1/chi-so-766",
            ),
        ),
    )
}


def simulated() -> list[str]:
    """The feeds the demo can simulate, in the registry's order."""
    return [name for name, feed in FEEDS.items() if feed.simulator is not None]


def demo_connector(feed: str, scheme: str) -> dict[str, Any]:
    """What the demo sets in a simulated feed's connector table (a configured value wins): in the
    2025 scheme the simulators code their records by date, so their connectors read them so."""
    simulator = FEEDS[feed].simulator if feed in FEEDS else None
    return {"coding": "by_date"} if scheme == "2025" and simulator is not None and simulator.coded else {}


def load(path: str) -> Any:
    """The object a "module:attribute" path names, its module imported now."""
    module, _colon, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
