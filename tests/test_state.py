"""The aggregator's state keeps exactly the latest version of every record, whatever the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.state import Bucketing, State, in_version_order, latest_versions, with_arrival

SCHEMA = pl.Schema({"id": pl.String(), "updated_at": pl.Datetime("us", "UTC"), "value": pl.Int64()})
T0 = datetime(2026, 11, 23, tzinfo=UTC)

rows = st.lists(
    st.tuples(st.sampled_from("abcde"), st.one_of(st.none(), st.integers(0, 4))),
    min_size=1,
    max_size=6,
)
# A cycle is a few stream entries; their ids may come out of order (entries a dead worker left
# pending are reclaimed after newer ones were merged).
cycles = st.lists(st.lists(rows, min_size=1, max_size=4), min_size=1, max_size=5)


def frame(batch: list[tuple[str, int | None]], first_value: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [k for k, _ in batch],
            "updated_at": [None if v is None else T0 + timedelta(minutes=v) for k, v in batch],
            "value": list(range(first_value, first_value + len(batch))),
        },
        schema=SCHEMA,
    )


def expected(tagged: list[tuple[str, datetime | None, tuple[int, int], int]]) -> dict[str, int]:
    """Per key, the value of the greatest (version, arrival), a null version below every other."""
    best: dict[str, tuple[tuple[int, datetime, tuple[int, int]], int]] = {}
    for key, version, arrival, value in tagged:
        rank = (0, T0, arrival) if version is None else (1, version, arrival)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, value)
    return {k: v for k, (_rank, v) in best.items()}


@settings(max_examples=300, deadline=None)
@given(cycles=cycles, order=st.randoms(use_true_random=False))
def test_merging_cycle_by_cycle_keeps_the_latest_version_of_every_key(cycles, order) -> None:
    ids = [f"{1_000 + n}-{n % 2}".encode() for n in range(sum(len(c) for c in cycles))]
    order.shuffle(ids)
    state = State.empty(SCHEMA, "id", "updated_at", Bucketing("id", 4))
    tagged = []
    value = 0
    for cycle in cycles:
        frames, entry_ids = [], []
        for batch in cycle:
            entry = ids.pop()
            frames.append(frame(batch, value))
            entry_ids.append(entry)
            ms, seq = (int(p) for p in entry.split(b"-"))
            for row, (key, minutes) in enumerate(batch):
                version = None if minutes is None else T0 + timedelta(minutes=minutes)
                tagged.append((key, version, (ms, seq * 1_000_000 + row), value + row))
            value += len(batch)
        state = state.merge(with_arrival(frames, entry_ids))
    got = dict(state.records().select("id", "value").collect().iter_rows())
    assert got == expected(tagged)
    assert state.frame.height == len(got)
    restored = State.restore(state.checkpoint_fields(), SCHEMA, "id", "updated_at", Bucketing("id", 4))
    assert dict(restored.records().select("id", "value").collect().iter_rows()) == got


def test_rows_already_in_order_need_no_sort_and_others_are_sorted() -> None:
    ordered = with_arrival([frame([("a", 1), ("b", 1), ("a", 2)], 0), frame([("b", 3)], 3)], [b"1-0", b"2-0"])
    assert in_version_order(ordered, "updated_at")
    assert dict(latest_versions(ordered, "id", "updated_at").select("id", "value").iter_rows()) == {
        "a": 2,
        "b": 3,
    }
    late = with_arrival([frame([("a", 2), ("a", 1)], 0)], [b"1-0"])  # an older version after a newer
    assert not in_version_order(late, "updated_at")
    assert dict(latest_versions(late, "id", "updated_at").select("id", "value").iter_rows()) == {"a": 0}
    nulls = with_arrival([frame([("a", None), ("a", None)], 0)], [b"1-0"])
    assert not in_version_order(nulls, "updated_at")  # a null version is sorted, not trusted
    assert latest_versions(nulls, "id", "updated_at")["value"].to_list() == [1]
