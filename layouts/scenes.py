"""What the wall shows, scene by scene: the exceptions first (the worst KPI against its target,
the districts with the most overdue cases), then one scene per feed, then a tour of the districts.
In the 2025 scheme the areas take the districts' place (``area:<code>`` scenes; the districts'
before 2025 stay ``district:<code>``), and the exceptions name the worst commune beside the worst
area: an area groups communes, each of which has its own figures and room.

Pure reading of the snapshot: a scene is data (numbers, the map's KPI and focus); ``layouts/wall.py``
draws it. The list of scene keys depends only on the configuration, so a screen's rotation is
stable; what each scene shows is read when it comes up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ioc.alert_store import read_active
from ioc.documents import ScorecardAnswer
from ioc.feeds import FEED_SPECS, FeedSpec
from ioc.geo import Layer
from ioc.kpis import Kpi, KpiKind
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import figures, theme
from layouts.i18n import _
from layouts.room_data import NOT_WINDOWED, base_name, display_kpis, entry, fetch_room
from layouts.scorecard_panels import period_label

MAX_NUMBERS = 6
EXCEPTION_WINDOW = "7d"
TOUR_KINDS = ("district", "area")  # a tour's scene: "district:<code>" before 2025, "area:<code>" in 2025


@dataclass(frozen=True)
class Number:
    """One big number: whose, which KPI over which window, its value and how it stands."""

    label: str
    feed: str
    unit: str
    kpi: str  # path, as in the snapshot
    kind: KpiKind
    window: str
    value: Any
    state: str  # ok, warn, bad, neutral (as the tiles)
    suffix: str = ""  # the unit after the number ("hồ sơ"); rates carry their "%"
    note: str = ""  # the target, when the KPI has one

    @property
    def text(self) -> str:
        return figures.value_text(Kpi(self.kpi, self.kind, self.label, ""), self.value, compact=True)


@dataclass(frozen=True)
class Scene:
    key: str  # "exceptions", "feed:<feed>", "district:<code>" (2025: "area:<code>"), "scorecard"
    title: str
    feed: str  # the feed of the map (and of the scene's freshness badge)
    map_kpi: str
    window: str
    focus: str | None = None  # the district or area outlined (and zoomed to, in the tour)
    zoom: bool = False
    numbers: list[Number] = field(default_factory=list)
    scorecard: ScorecardAnswer | None = None  # the scorecard scene's (the province's 766 index)


@dataclass
class WallPlan:
    reader: SnapshotReader
    units: UnitTable
    layer: Layer
    specs: dict[str, FeedSpec]
    goals: Goals
    scorecard: Callable[[], ScorecardAnswer | None] | None = None  # the province's, when asked
    at: datetime | None = None  # an instant in the past: the figures the history kept then
    _docs: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    _meta: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def meta(self, feed: str) -> dict[str, Any] | None:
        """The meta of the figures of ``feed`` (their time), read once."""
        if feed not in self._meta:
            self._meta[feed] = fetch_room(self.reader, feed, at=self.at).meta
        return self._meta[feed]

    @property
    def areas(self) -> list[str]:
        """The units below the province the exceptions compare and the tour visits: the districts
        before 2025, the areas in 2025."""
        return self.units.level_codes(self.units.middle)

    @property
    def communes(self) -> list[str]:
        """The communes the exceptions compare as well, in the 2025 scheme (none before 2025: the
        districts' own scenes are as they were)."""
        return self.units.level_codes("commune") if self.units.middle == "area" else []

    @property
    def read_units(self) -> list[str]:
        """Whose documents a scene's read holds: the province, the areas (or districts), the 2025
        communes, and whatever units the wall's map colours."""
        shown = [self.units.province, *self.areas, *self.communes]
        known = set(self.units.codes) - set(shown)
        return shown + [c for c in self.layer.codes if c in known]

    def keys(self, groups: list[str]) -> list[str]:
        out: list[str] = []
        for group in groups:
            if group == "exceptions":
                out.append("exceptions")
            elif group == "feeds":
                out += [f"feed:{feed}" for feed in self.specs]
            elif group == "scorecard":
                out.append("scorecard")
            else:  # "districts": the tour of the units below the province
                out += [f"{self.units.middle}:{code}" for code in self.areas]
        return out

    def scene(self, key: str) -> Scene:
        """The scene ``key``, built from one read of what it shows (``needs``); the plan keeps
        what it read for the scene's map."""
        self.read(self.needs(key))
        kind, _, rest = key.partition(":")
        if kind == "feed":
            return self.feed_scene(rest)
        if kind in TOUR_KINDS:
            return self.district_scene(rest)
        if kind == "scorecard":
            return self.scorecard_scene()
        return self.exceptions()

    # ---- reading ------------------------------------------------------------------------

    def needs(self, key: str) -> set[tuple[str, str]]:
        """The (feed, window) documents the scene ``key`` shows, its KPIs' and its map's."""
        kind, _, rest = key.partition(":")
        if kind == "feed":
            return {(rest, EXCEPTION_WINDOW), *((rest, w) for _path, w in self.specs[rest].wall_numbers)}
        if kind in TOUR_KINDS:
            shown = [(f, w) for f, _path, w in theme.WALL_DISTRICT_NUMBERS if f in self.specs]
            kpis = {(f, EXCEPTION_WINDOW) for f, _w in shown}
            return {(next(iter(self.specs)), EXCEPTION_WINDOW), *shown, *kpis}
        if kind == "scorecard":
            return set()  # the index is read by its own module
        return {(f, EXCEPTION_WINDOW) for f in self.specs}

    def read(self, pairs: set[tuple[str, str]]) -> None:
        """The documents (:attr:`read_units`) of each (feed, window) not read yet: one read of each
        feed's snapshot."""
        windows: dict[str, list[str]] = {}
        for feed, window in sorted(pairs - set(self._docs)):
            windows.setdefault(feed, []).append(window)
        units = self.read_units
        for feed, wanted in windows.items():
            data = fetch_room(self.reader, feed, docs=[(u, w) for w in wanted for u in units], at=self.at)
            self._meta[feed] = data.meta
            for w in wanted:
                self._docs[(feed, w)] = {u: doc for u in units if (doc := data.doc(u, w)) is not None}

    def docs(self, feed: str, window: str) -> dict[str, dict[str, Any]]:
        """The units' documents of one feed and window, as read for the scene."""
        self.read({(feed, window)})  # nothing when the scene's read has them
        return self._docs[(feed, window)]

    def kpi(self, feed: str, path: str) -> Kpi | None:
        if feed not in self.specs:
            return None
        province = self.docs(feed, EXCEPTION_WINDOW).get(self.units.province)
        return {k.name: k for k in display_kpis(self.specs[feed], province)}.get(path)

    def number(self, feed: str, unit: str, path: str, window: str, label: str | None = None) -> Number | None:
        kpi = self.kpi(feed, path)
        if kpi is None:
            return None
        value = entry(self.docs(feed, window).get(unit), path).get("value")
        when = _("hiện tại") if base_name(path) in NOT_WINDOWED else _(theme.WINDOW_LABELS[window])
        goal = self.goals.goal(feed, base_name(path), unit)
        return Number(
            label=label or f"{kpi.label} · {when}",
            feed=feed,
            unit=unit,
            kpi=path,
            kind=kpi.kind,
            window=window,
            value=value,
            state=figures.tile_state(kpi, figures.scalar(kpi, value), goal),
            suffix="" if kpi.kind == "rate" else kpi.unit,
            note=figures.target_label(kpi, goal),
        )

    # ---- scenes -------------------------------------------------------------------------

    def worst_breach(self, codes: list[str] | None = None) -> tuple[str, str, str, float] | None:
        """(feed, KPI, unit, relative gap) of the unit of ``codes`` (default: the districts, or
        the areas in 2025) furthest below a target, or None when none has a value for a KPI with
        a target."""
        worst: tuple[str, str, str, float] | None = None
        for feed, spec in self.specs.items():
            docs = self.docs(feed, EXCEPTION_WINDOW)
            for kpi in spec.kpis:
                for code in self.areas if codes is None else codes:
                    goal = self.goals.goal(feed, kpi.name, code)
                    value = entry(docs.get(code), kpi.name).get("value")
                    if not goal or value is None:  # no target (or 0: no gap to weigh)
                        continue
                    gap = (goal - value) if kpi.lower_is_better else (value - goal)
                    gap /= goal
                    if worst is None or gap < worst[3]:
                        worst = (feed, kpi.name, code, gap)
        return worst

    def most(self, feed: str, path: str) -> str | None:
        """The district (or area) with the largest value of a count (overdue cases), or None."""
        docs = self.docs(feed, EXCEPTION_WINDOW)
        valued = [(entry(docs.get(c), path).get("value"), c) for c in self.areas]
        present = [(v, c) for v, c in valued if v]
        return max(present)[1] if present else None

    def breach_number(self, breach: tuple[str, str, str, float]) -> Number | None:
        """The value of a unit's worst breach, named: "Huyện Tân Biên · Giải quyết đúng hạn · 7 ngày"."""
        feed, path, code, _gap = breach
        kpi = self.kpi(feed, path)
        assert kpi is not None
        label = f"{self.units.name(code)} · {kpi.label} · {_(theme.WINDOW_LABELS[EXCEPTION_WINDOW])}"
        return self.number(feed, code, path, EXCEPTION_WINDOW, label)

    def exceptions(self) -> Scene:
        """The worst breach of a district (2025: of an area, and then of a commune), the districts'
        (areas') most overdue cases beside the province's, and the alerts no one has acknowledged
        (always shown: the others are cut to make room for it)."""
        names = self.units.names()
        numbers: list[Number | None] = []
        worst = self.worst_breach()
        commune = self.worst_breach(self.communes) if self.communes else None
        if worst:
            feed, path, code, _gap = worst
            numbers.append(self.breach_number(worst))
            map_feed, map_kpi, focus = feed, path, code
        else:
            map_feed = next(iter(self.specs))
            map_kpi, focus = self.specs[map_feed].default_kpi or self.specs[map_feed].kpis[0].name, None
        if commune:
            numbers.append(self.breach_number(commune))
        for feed, path in (("public_services", "overdue_open"), ("citizen_feedback", "overdue")):
            if feed not in self.specs:
                continue
            kpi = self.kpi(feed, path)
            if (busiest := self.most(feed, path)) is not None and kpi is not None:
                numbers.append(
                    self.number(
                        feed,
                        busiest,
                        path,
                        EXCEPTION_WINDOW,
                        _("{name} · {kpi} (nhiều nhất)").format(name=names[busiest], kpi=kpi.label),
                    )
                )
            numbers.append(
                self.number(
                    feed,
                    self.units.province,
                    path,
                    EXCEPTION_WINDOW,
                    _("Toàn tỉnh · {kpi}").format(kpi=kpi.label if kpi else path),
                )
            )
        open_alerts = (
            [
                a
                for feed in self.specs
                for a in read_active(self.reader.client, feed).values()
                if not a.get("acked_by")
            ]
            if self.at is None
            else None  # the alerts of an instant in the past are in their history, not here
        )
        unacknowledged = Number(
            _("Cảnh báo chưa xác nhận"),
            "",
            "",
            "alerts",
            "count",
            EXCEPTION_WINDOW,
            None if open_alerts is None else len(open_alerts),
            "neutral" if open_alerts is None else "bad" if open_alerts else "ok",
            _("cảnh báo"),
        )
        breach = any(b is not None and b[3] < 0 for b in (worst, commune))
        return Scene(
            key="exceptions",
            title=_("Cần chú ý") if breach else _("Không có chỉ số dưới mục tiêu"),
            feed=map_feed,
            map_kpi=map_kpi,
            window=EXCEPTION_WINDOW,
            focus=focus,
            numbers=[*[n for n in numbers if n is not None][: MAX_NUMBERS - 1], unacknowledged],
        )

    def feed_scene(self, feed: str) -> Scene:
        province = self.units.province
        spec = self.specs[feed]
        wanted = list(spec.wall_numbers)
        if spec.parts is not None:  # each part's (vaccine's) own, after the feed's
            doc = self.docs(feed, EXCEPTION_WINDOW).get(province)
            wanted += [
                (k.name, EXCEPTION_WINDOW)
                for k in display_kpis(spec, doc)
                if k.name != base_name(k.name) and base_name(k.name) in spec.parts.wall
            ]
        numbers = [self.number(feed, province, path, window) for path, window in wanted]
        return Scene(
            key=f"feed:{feed}",
            title=_(spec.title),
            feed=feed,
            map_kpi=spec.default_kpi,
            window=EXCEPTION_WINDOW,
            numbers=[n for n in numbers if n is not None][:MAX_NUMBERS],
        )

    def district_scene(self, code: str) -> Scene:
        """A district's scene (an area's in 2025): its own numbers, the map zoomed to it."""
        numbers = [
            self.number(feed, code, path, window, f"{_(FEED_SPECS[feed].title)} · {label}")
            for feed, path, window in theme.WALL_DISTRICT_NUMBERS
            if (label := self._short_label(feed, path, window))
        ]
        feed = next(iter(self.specs))
        return Scene(
            key=f"{self.units.level(code) or self.units.middle}:{code}",
            title=self.units.name(code),
            feed=feed,
            map_kpi=self.specs[feed].default_kpi,
            window=EXCEPTION_WINDOW,
            focus=code,
            zoom=True,
            numbers=[n for n in numbers if n is not None][:MAX_NUMBERS],
        )

    def scorecard_scene(self) -> Scene:
        """The province on the national 766 index: no map, no KPI numbers (``layouts/wall.py``
        draws the answer in their place)."""
        feed = next(iter(self.specs))
        answer = self.scorecard() if self.scorecard else None
        title = _("Chỉ số 766")  # short: the wall's title is one line at 5 m
        return Scene(
            key="scorecard",
            title=f"{title} · {period_label(answer['period'])}" if answer else title,
            feed=feed,
            map_kpi=self.specs[feed].default_kpi,
            window=EXCEPTION_WINDOW,
            scorecard=answer,
        )

    def _short_label(self, feed: str, path: str, window: str) -> str:
        kpi = self.kpi(feed, path)
        if kpi is None:
            return ""
        return (
            kpi.label if base_name(path) in NOT_WINDOWED else f"{kpi.label} {_(theme.WINDOW_LABELS[window])}"
        )
