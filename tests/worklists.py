"""Work lists written into Redis as the aggregator leaves them (``ioc.cases``), for tests that
fill a snapshot by hand."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ioc import keys
from ioc.cases import MARK


def put_lists(client: Any, feed: str, lists: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Each unit's list of cases (its hash: the mark, and one field per case)."""
    for unit, cases in lists.items():
        client.delete(keys.case_list(feed, unit))
        client.hset(keys.case_list(feed, unit), mapping={MARK: "", **{c["id"]: json.dumps(c) for c in cases}})
