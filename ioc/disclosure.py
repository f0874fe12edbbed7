"""What a public view (the cards and embeds) may show of sensitive data: the one place it is decided.

FEEDS.md: health data (vaccination) in public views suppresses counts 1 to k-1 and shows
percentages rounded to whole numbers; location data of people (mobile data) suppresses any
unit-hour with fewer than ``k`` subscribers. A hidden figure reads "dưới k", never 0.

Deciding one figure at a time is not enough: sums and differences of figures that are each safe
give hidden ones back (a unit's total minus its shown vaccines, a window minus the window inside
it, a parent minus its shown children, a unit's days against its total). So the decision is made
per *family* of figures that sums and differences link, over every unit at once (the design and
the alternatives rejected: ``docs/public-views.md``):

- A unit's figures of a family are shown or hidden together: every window, every vaccine and
  their total, and the days of its series. Within them, whatever a reader can compute (each
  window, the difference of two nested windows, a day, the windows against the days) is a
  *block* of counts; a unit whose block has a count from 1 to k-1 is hidden.
- Across units, what a reader can compute of the hidden ones is a shown unit's *remainder*: its
  block minus the blocks of its nearest shown descendants. Every remainder must be safe too;
  where one is not, the smallest shown descendant that makes it safe is hidden with it (with the
  units between them), else the unit itself, and so on up the tree until nothing changes.

Families: vaccination doses (windows × vaccines and total, and the hourly series); per vaccine,
the people vaccinated (with the coverage, whose denominator is public); per three-dose vaccine,
the dropout (its dropped, its completed and its people without a dose-1 record, shown only where
that vaccine's people are); mobile data's subscribers (windows and the hourly series), which every
mobile figure of the unit follows. A vaccine whose people are its doses of the year in every unit
links its people to the doses: they hide the same units. Each feed's spec says what of it is
sensitive (``ioc.feeds.Sensitive``); feeds without sensitive data are shown as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ioc.documents import series_values
from ioc.feeds import FEED_SPECS, Sensitive
from ioc.kpis import window_start_times
from ioc.snapshots import Cut
from ioc.units import UnitTable

Block = np.ndarray  # one unit's counts of a family, in the same order for every unit


@dataclass(frozen=True)
class Shown:
    """A value as a public view may show it: ``hidden`` means "dưới k", whatever the value was."""

    value: Any
    hidden: bool


@dataclass(frozen=True)
class Tree:
    """The units of a scheme as a tree: each unit's children, and every unit children first."""

    root: str
    children: dict[str, list[str]]
    bottom_up: list[str]

    @classmethod
    def of(cls, units: UnitTable) -> Tree:
        parents = dict(zip(units.frame["code"], units.frame["parent_code"], strict=True))
        children: dict[str, list[str]] = {code: [] for code in parents}
        for code, parent in parents.items():
            if parent is not None:
                children[parent].append(code)
        order: list[str] = []

        def visit(code: str) -> None:
            for child in children[code]:
                visit(child)
            order.append(code)

        visit(units.province)
        return cls(units.province, children, order)


def _unsafe(block: Block, k: int) -> bool:
    size = np.rint(np.abs(block))
    return bool(np.any((size > 0) & (size < k)))


def _shortfall(block: Block, k: int) -> float:
    """How far a block is from safe: the sum of k - c over its counts c from 1 to k-1."""
    size = np.rint(np.abs(block))
    small = (size > 0) & (size < k)
    return float(np.sum(k - size[small]))


def hidden_blocks(blocks: Mapping[str, Block], tree: Tree, k: int, *, also: Iterable[str] = ()) -> set[str]:
    """The units whose block (and every figure it guards) a public view must not show: those with
    a count from 1 to k-1, ``also``, and enough others that no shown unit's remainder has one."""
    width = len(next(iter(blocks.values()))) if blocks else 0
    zero = np.zeros(width)
    hidden = {u for u in tree.bottom_up if _unsafe(blocks.get(u, zero), k)} | set(also)

    def nearest_shown(unit: str) -> Iterable[str]:
        for child in tree.children[unit]:
            if child in hidden:
                yield from nearest_shown(child)
            else:
                yield child

    def remainder(unit: str) -> Block:
        rest = blocks.get(unit, zero).copy()
        for shown in nearest_shown(unit):
            rest -= blocks.get(shown, zero)
        return rest

    def complement(unit: str, rest: Block) -> set[str]:
        """The shown descendants to hide with ``unit``'s remainder (one, with the shown units
        between them): those that make it safe, or failing that bring it closest, showing the
        least (the smallest blocks)."""
        best: tuple[float, float, int, str] | None = None
        chosen: list[str] = []

        def walk(code: str, path: list[str], added: Block, size: float) -> None:
            nonlocal best, chosen
            if code not in hidden:
                path, added = [*path, code], added + remainder(code)
                size += float(np.abs(blocks.get(code, zero)).sum())
                if np.any(np.rint(np.abs(added)) > 0):
                    key = (_shortfall(rest + added, k), size, len(path), code)
                    if best is None or key < best:
                        best, chosen = key, path
            for child in tree.children[code]:
                walk(child, path, added, size)

        for child in tree.children[unit]:
            walk(child, [], zero, 0.0)
        return set(chosen) if best is not None and best[0] < _shortfall(rest, k) else set()

    changed = True
    while changed:
        changed = False
        for unit in tree.bottom_up:
            if unit in hidden:
                continue
            rest = remainder(unit)
            if _unsafe(rest, k):
                hidden |= complement(unit, rest) or {unit}
                changed = True
    return hidden


def hidden_units(counts: Mapping[str, float | None], units: UnitTable, k: int) -> set[str]:
    """:func:`hidden_blocks` of one count per unit (a unit without one counts as 0)."""
    blocks = {u: np.array([c or 0.0]) for u, c in counts.items()}
    return hidden_blocks(blocks, Tree.of(units), k)


# ---- the families ------------------------------------------------------------------------


def _value(entry: Any) -> float:
    value = entry.get("value") if isinstance(entry, dict) else None
    return float(value) if isinstance(value, int | float) else 0.0


def _chain(points: list[tuple[datetime, float]]) -> list[float]:
    """Counts of nested periods that all end now, as a reader can take them apart: the shortest,
    then what each longer one adds to the one inside it (a window minus the window inside it, a
    day of the series, the 7 days minus the series' days)."""
    parts, inner = [], 0.0
    for _start, count in sorted(points, key=lambda p: p[0], reverse=True):
        parts.append(count - inner)
        inner = count
    return parts


def _part_of(field: str, part: str, kpi: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda doc: ((doc.get(field) or {}).get(part) or {}).get(kpi)


@dataclass(frozen=True)
class Family:
    """Figures that sums and differences link, decided together over every unit: ``block`` gives
    a unit's counts; ``after`` is a family whose hidden units this one hides too; a ``closed``
    family shows nothing (a protected figure without a rule)."""

    name: str
    block: Callable[[str], list[float]]
    after: Family | None = None
    closed: bool = False


CLOSED = Family("closed", lambda unit: [], closed=True)


class PublicView:
    """What public views of one feed may show as of one commit (a :class:`Cut`): each family's
    hidden units are decided once, over every unit, and every card, map and series asks here."""

    def __init__(self, feed: str, cut: Cut, tree: Tree, k: int) -> None:
        self.feed, self.cut, self.tree, self.k = feed, cut, tree, k
        spec = FEED_SPECS[feed]
        self.sensitive: Sensitive | None = spec.sensitive
        self.whole_percent = spec.whole_percent
        self.parts_field = spec.parts.field if spec.parts is not None else ""  # vaccination: by_vaccine
        self.starts = window_start_times(datetime.fromisoformat(cut.meta["as_of"]))
        parts = self._doc(tree.root, "ytd").get(self.parts_field) if self.parts_field else None
        self.vaccines = sorted(parts or {})
        self._hidden: dict[str, set[str]] = {}

    def _doc(self, unit: str, window: str) -> Mapping[str, Any]:
        """The unit's KPIs in ``window``, read by path (``by_vaccine/<vaccine>/<kpi>``)."""
        return self.cut.docs.get(window, {}).get(unit) or {}

    def family(self, kpi: str, vaccine: str | None) -> Family | None:
        """The family that guards ``kpi`` (of ``vaccine``); None where nothing is protected."""
        if self.sensitive is None:
            return None
        if self.sensitive.figures is None or kpi in self.sensitive.figures:
            return Family(self.sensitive.guard, self._guarded)
        if vaccine is not None and kpi in ("people_first_dose", "coverage_first_dose"):
            return Family(f"people:{vaccine}", lambda unit: self._people(unit, vaccine))
        if vaccine is not None and kpi == "dropout_rate":
            people = self.family("people_first_dose", vaccine)
            return Family(f"dropout:{vaccine}", lambda unit: self._dropout(unit, vaccine), after=people)
        return CLOSED

    # -- each family's block of one unit --

    def _windows(self, unit: str, pick: Callable[[Mapping[str, Any]], Any]) -> list[tuple[datetime, float]]:
        return [(start, _value(pick(self._doc(unit, w)))) for w, start in self.starts.items()]

    def _days(self, unit: str, measure: str) -> list[tuple[datetime, float]]:
        """The unit's series as the public sees it, days of 24 hours ending now
        (``figures.daily_trend``), each as the period from its first hour to now; a unit without
        a series has zeros, and every unit's days are the same periods (one commit's series)."""
        shape = next((d for d in self.cut.series.values() if measure in series_values(d)), None)
        if shape is None:
            return []
        length = len(series_values(shape)[measure])
        doc = self.cut.series.get(unit)
        hours = [float(v or 0) for v in self.cut.measures(unit).get(measure) or [0] * length]
        if doc and (doc["start"] != shape["start"] or len(hours) != length):
            raise ValueError(f"the {measure} series of {unit!r} is not of the same commit as the others")
        first, step = datetime.fromisoformat(shape["start"]), timedelta(seconds=shape["step_s"])
        begins = [max(0, end - 24) for end in range(len(hours), 0, -24)]
        return [(first + step * begin, sum(hours[begin:])) for begin in begins]

    def _guarded(self, unit: str) -> list[float]:
        """The guard count of every part (vaccine) and of the whole, each window, and its days."""
        assert self.sensitive is not None
        guard, counts = self.sensitive.guard, list[float]()
        for vaccine in self.vaccines:
            counts += _chain(self._windows(unit, _part_of(self.parts_field, vaccine, guard)))
        return counts + _chain(self._windows(unit, lambda d: d.get(guard)) + self._days(unit, guard))

    def _entries(self, unit: str, vaccine: str) -> dict[str, Any]:
        found: dict[str, Any] = (self._doc(unit, "ytd").get(self.parts_field) or {}).get(vaccine) or {}
        return found

    def _people(self, unit: str, vaccine: str) -> list[float]:
        entries = self._entries(unit, vaccine)
        people = _value(entries.get("people_first_dose"))
        population = (entries.get("coverage_first_dose") or {}).get("denominator")
        # the population is public: the coverage gives the people not vaccinated away as well
        return [people, float(population) - people if population else 0.0]

    def _dropout(self, unit: str, vaccine: str) -> list[float]:
        entries = self._entries(unit, vaccine)
        rate = entries.get("dropout_rate") or {}
        dropped, first = float(rate.get("numerator") or 0), float(rate.get("denominator") or 0)
        # a whole percent of a denominator a reader can know gives the numerator back (1 of 12
        # is 8%), and the people of the vaccine minus those with dose 1 follow
        return [dropped, first - dropped, _value(entries.get("people_first_dose")) - first]

    def _same_as_doses(self, vaccine: str) -> bool:
        """Whether the vaccine's people are its doses of the year in every unit (one dose each,
        none before the year, as in a young system): a reader then reads either off the other."""
        return all(
            _value(entries.get("people_first_dose")) == _value(entries.get("doses"))
            for entries in (self._entries(u, vaccine) for u in self.tree.bottom_up)
        )

    def _linked(self, family: Family) -> list[Family]:
        """The families decided together with ``family``: the doses and the people of every
        vaccine whose people are its doses of the year; otherwise the family alone."""
        guard = self.sensitive.guard if self.sensitive is not None else ""
        if not self.vaccines or not (family.name == guard or family.name.startswith("people:")):
            return [family]
        people = [self.family("people_first_dose", v) for v in self.vaccines if self._same_as_doses(v)]
        group = [f for f in (self.family(guard, None), *people) if f is not None]
        return group if family.name in {f.name for f in group} else [family]

    def hidden(self, family: Family) -> set[str]:
        """The units whose figures of ``family`` a public view must not show (and of the families
        linked to it, which hide the same units)."""
        if family.name not in self._hidden:
            group = self._linked(family)
            found: set[str] = set()
            for linked in group:
                if linked.after is not None:
                    found |= self.hidden(linked.after)
            blocks = [{u: np.array(f.block(u), dtype=float) for u in self.tree.bottom_up} for f in group]
            changed = True
            while changed:  # each family in turn sees what the others already hide
                changed = False
                for block in blocks:
                    grown = hidden_blocks(block, self.tree, self.k, also=found)
                    changed, found = changed or grown != found, grown
            for linked in group:
                self._hidden[linked.name] = found
        return self._hidden[family.name]

    # -- what the cards ask --

    def value(self, kpi: str, unit: str, window: str, vaccine: str | None = None) -> Shown:
        return self.values(kpi, [unit], window, vaccine)[unit]

    def values(self, kpi: str, codes: list[str], window: str, vaccine: str | None = None) -> dict[str, Shown]:
        """``kpi`` of each unit of ``codes`` in ``window`` (of ``vaccine``) as a public view shows it."""
        family = self.family(kpi, vaccine)
        hidden = set() if family is None or family.closed else self.hidden(family)
        whole = self.whole_percent and kpi.endswith(("_rate", "coverage_first_dose"))
        found = {}
        for unit in codes:
            doc = self._doc(unit, window)
            if vaccine is not None:
                doc = (doc.get(self.parts_field) or {}).get(vaccine) or {}
            value = (doc.get(kpi) or {}).get("value")
            if value is not None and (unit in hidden or (family is not None and family.closed)):
                found[unit] = Shown(None, True)
            elif whole and isinstance(value, float):
                found[unit] = Shown(round(value, 2), False)  # a fraction: whole percent
            else:
                found[unit] = Shown(value, False)
        return found

    def series_hidden(self, unit: str) -> bool:
        """Whether the unit's series (its days and its trend) must not be shown."""
        family = self.family(self.sensitive.guard, None) if self.sensitive is not None else None
        return family is not None and unit in self.hidden(family)
