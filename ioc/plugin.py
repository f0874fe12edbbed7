"""The one public API of the IOC for a connector plugin: import from here, nothing else.

A plugin is a class with ``name``, ``feed``, a pydantic ``Config``, ``check()`` and
``poll(cursor)`` returning a :class:`Batch` (see the README's "Connector plugins"), registered in
its package's ``[project.entry-points."ioc.connectors"]``. It takes records in through its feed's
:func:`make_contract`, which validates them against FEEDS.md, maps them to the canonical schema,
strips personal data and turns every refused record into a :class:`DeadLetter`. Its tests inherit
:class:`ioc.testing.ConnectorConformance`.

Everything else in ``ioc`` may change between versions; these names will not without notice.
"""

from __future__ import annotations

from ioc.config import ConfigError
from ioc.connector import Batch, Connector, Context, FutureSkew, SourceError
from ioc.contracts import Contract, Transformed, make_contract
from ioc.streams import DeadLetter

__all__ = [
    "Batch",
    "ConfigError",
    "Connector",
    "Context",
    "Contract",
    "DeadLetter",
    "FutureSkew",
    "SourceError",
    "Transformed",
    "make_contract",
]
