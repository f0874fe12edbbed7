"""Distinct people per unit and vaccine, changed by what a cycle changed (issue 19).

``people_first_dose`` and dropout count people, not dose records, over all time (FEEDS.md §4):
a count of distinct pseudonyms does not add up over records. But a person's place in those
counts depends on that person's records only. So a cycle that changed some dose records looks
at the people (vaccine and pseudonym) those records are of: their records in the state now
(found by one semi-join of the state with those people, the only pass over the state), and the
same records as they were before the cycle (now's, without the versions the cycle put in, with
the versions it replaced). The counts of those people before are taken out of the kept totals
and their counts now put in (:func:`~ioc.doses.people_by_unit` on a few rows each time), so
the totals stay exactly the whole state's. The book is not saved: it is built from the state
when first asked for figures (after a restore, a lease taken over).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from ioc.doses import PEOPLE, people_by_unit, with_people

WHO = ["vaccine", "person"]


class PeopleBook:
    """Per unit and vaccine, the distinct people with a dose, a first dose and a third."""

    def __init__(self, key: str = "id") -> None:
        self.key = key  # the records' id: a version put in replaces the one with its id
        self.version = 0
        self.people: pl.DataFrame | None = None  # None: not built yet
        self.pending: tuple[pl.DataFrame, pl.DataFrame] | None = None  # (added, removed) not counted yet

    def apply(self, added: pl.DataFrame, removed: pl.DataFrame) -> None:
        """Noted, counted at the next figures (which see the state these changes made)."""
        self.version += 1
        if self.people is None:
            return
        if self.pending is not None:  # twice without figures between: counted again from the state
            self.people, self.pending = None, None
            return
        self.pending = (added, removed)

    def advance(self, records: pl.LazyFrame, rollup: pl.LazyFrame, as_of: datetime) -> None:
        if self.people is None:
            self.people, self.pending = people_by_unit(records, rollup).collect(), None
            return
        if self.pending is None:
            return
        added, removed = self.pending
        people, self.people, self.pending = self.people, None, None  # an error half-way: rebuilt
        touched = pl.concat([added.select(WHO), removed.select(WHO)]).unique()
        if touched.height == 0:
            self.people = people
            return
        now = records.lazy().join(touched.lazy(), on=WHO, how="semi", nulls_equal=True).collect()
        before = pl.concat(
            [
                now.join(added.select(self.key), on=self.key, how="anti", nulls_equal=True),
                removed.select(now.columns),
            ]
        )
        delta = pl.concat(
            [
                people_by_unit(now.lazy(), rollup),
                people_by_unit(before.lazy(), rollup).with_columns(-pl.col(PEOPLE)),
                people.lazy(),
            ]
        )
        self.people = (
            delta.group_by("unit", "vaccine")
            .agg(pl.col(PEOPLE).sum())
            .filter(pl.col("people_first_dose") != 0)  # nobody left: no row, as from the state
            .collect()
        )

    def attach(self, summed: pl.LazyFrame) -> pl.LazyFrame:
        assert self.people is not None, "the book is built by advance() before its figures are asked"
        return with_people(summed, self.people.lazy())
