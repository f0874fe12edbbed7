"""The morning briefing (bản tin giao ban): one A4 page per unit, for the leaders' morning meeting.

What the page holds, each from where the rooms take it:

- the headline KPIs of every feed over the configured window, beside their value 24 hours earlier
  and their change since a week earlier (the history: ``ioc.history``), coloured as the
  comparison arrows are (``layouts.compare.change``);
- the map of the unit's communes (or of the province's districts or areas) coloured on the first
  feed's main KPI, drawn as SVG from the boundary layer (``layouts.embed``), and the worst units
  on the same KPI;
- the overdue cases counted by who handles them: dossiers by receiving agency, field reports by
  sector (the work lists);
- the alerts of the last 24 hours in the unit (and the province-wide ones), with who acknowledged
  them and what they wrote, and when they ended;
- exactly what it was made for: the unit, the window, the figures' time, when and for whom.

``gather`` reads (Redis and the history, once); ``page_html`` draws, with no further read. The
HTML is self-contained (fonts inline, no script, no request) so a headless Chromium prints it
without the network (``ioc.briefings``).
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, cast

import jinja2
import redis

from ioc import alert_store, keys
from ioc.config import AlertRule
from ioc.feeds import FEED_SPECS, FeedSpec
from ioc.fonts import FONT_DIR
from ioc.kpis import TZ, Kpi
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals
from ioc.tilemap import short_name
from ioc.units import UnitTable
from layouts import figures, theme
from layouts import format as fmt
from layouts.alert_text import condition, titles
from layouts.compare import change
from layouts.embed import EmbedMaps
from layouts.i18n import N_, _, current
from layouts.room_data import DEFAULT_WINDOW, NOT_WINDOWED, FeedView, base_name, entry, fetch_room
from layouts.worklist import CASE_TABLES

TEMPLATES = Path(__file__).parent / "templates"
WORST_SHOWN = 5
GROUPS_SHOWN = 4  # agencies or sectors in each overdue table
ALERTS_SHOWN = 8
HOURS = 24
LEVEL_NAMES = {
    "province": N_("Tỉnh"),
    "district": N_("Huyện"),
    "area": N_("Khu vực"),
    "commune": N_("Xã, phường"),
}
KINDS = {"daily": N_("theo lịch hằng ngày"), "asked": N_("theo yêu cầu")}


@dataclass(frozen=True)
class Sources:
    """Where a briefing's figures come from: what the web app's rooms read, gathered once."""

    reader: SnapshotReader
    units: UnitTable
    specs: Mapping[str, FeedSpec]  # the feeds the rooms show
    goals: Goals
    maps: EmbedMaps
    rules: Callable[[], Mapping[str, AlertRule]]  # the rule book's current rules (saved ones too)
    window: str = DEFAULT_WINDOW
    counted_in: Mapping[str, frozenset[str]] = field(default_factory=dict)  # commune -> its record keys

    @property
    def client(self) -> redis.Redis:
        return self.reader.client


@dataclass(frozen=True)
class Line:
    """One headline KPI: now, 24 hours earlier, and the change since a week earlier."""

    label: str
    now: str
    unit: str
    state: str  # the tile's colour: ok, warn, bad, neutral
    yesterday: str
    week: str
    week_state: str  # better, worse, same, neutral, none


@dataclass(frozen=True)
class FeedLines:
    title: str
    as_of: str
    lines: list[Line]


@dataclass(frozen=True)
class Area:
    code: str
    path: str
    fill: str
    name: str
    text: str
    focus: bool
    label: tuple[float, float] | None = None  # where a tile's name and value are written


LABELLED_TILES = 30  # a tile diagram names its tiles up to this many (its tiles say no place)
NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def middle(path: str) -> tuple[float, float]:
    """The middle of a path's bounding box (a tile's centre)."""
    numbers = [float(n) for n in NUMBER.findall(path)]
    xs, ys = numbers[0::2], numbers[1::2]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


@dataclass(frozen=True)
class MapPart:
    title: str
    width: float
    height: float
    areas: list[Area]
    low: str
    high: str
    gradient: str  # CSS linear-gradient of the colour scale
    note: str


@dataclass(frozen=True)
class Ranked:
    name: str
    value: str
    own: bool  # the briefing's unit itself (a commune among its area's)


@dataclass(frozen=True)
class Overdue:
    title: str
    by: str
    total: int
    rows: list[tuple[str, int, str]]  # who, how many, oldest deadline
    more: int


@dataclass(frozen=True)
class AlertRow:
    raised: str
    place: str
    what: str
    acked: str
    ended: str


@dataclass(frozen=True)
class Briefing:
    unit: str
    name: str
    level: str
    made_at: datetime
    window: str
    kind: str  # daily, asked
    asked_by: str
    feeds: list[FeedLines]
    map: MapPart | None
    ranking_title: str
    ranking: list[Ranked]
    overdue: list[Overdue]
    alerts: list[AlertRow]
    more_alerts: int
    about: list[tuple[str, str]]  # what it was made for, as label and value

    @property
    def window_label(self) -> str:
        return _(theme.WINDOW_LABELS[self.window])

    def meta(self) -> dict[str, str]:
        """What the archive keeps beside the files (``ioc.briefings``)."""
        return {
            "unit": self.unit,
            "name": self.name,
            "made_at": self.made_at.astimezone(UTC).isoformat(timespec="seconds"),
            "window": self.window,
            "kind": self.kind,
            "asked_by": self.asked_by,
        }


def local(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%H:%M %d/%m/%Y")


def gather(
    sources: Sources, unit: str, now: datetime, *, kind: str = "daily", asked_by: str = ""
) -> Briefing:
    """Everything the page of ``unit`` shows, as known at ``now``."""
    units, window = sources.units, sources.window
    feeds = [_feed_lines(sources, spec, unit, now) for spec in sources.specs.values()]
    drawn, ranking_title, ranking = _map_and_ranking(sources, unit)
    alerts = _alerts(sources, unit, now)
    about = [
        (_("Đơn vị"), f"{units.name(unit)} ({unit})"),
        (_("Chỉ số"), _(theme.WINDOW_LABELS[window])),
        (_("So sánh"), _("hôm qua: 24 giờ trước; tuần trước: 7 ngày trước (lịch sử chỉ số)")),
        (_("Lập lúc"), local(now)),
        (_("Lập"), _(KINDS[kind]) + (f" ({asked_by})" if asked_by else "")),
    ]
    return Briefing(
        unit=unit,
        name=units.name(unit),
        level=_(LEVEL_NAMES.get(units.level(unit) or "", "")),
        made_at=now,
        window=window,
        kind=kind,
        asked_by=asked_by,
        feeds=feeds,
        map=drawn,
        ranking_title=ranking_title,
        ranking=ranking,
        overdue=[o for feed in CASE_TABLES if (o := _overdue(sources, feed, unit)) is not None],
        alerts=alerts[:ALERTS_SHOWN],
        more_alerts=max(0, len(alerts) - ALERTS_SHOWN),
        about=about,
    )


def _feed_lines(sources: Sources, spec: FeedSpec, unit: str, now: datetime) -> FeedLines:
    window, reader = sources.window, sources.reader
    province = sources.units.province
    docs = [(unit, window), (province, DEFAULT_WINDOW)]
    data = fetch_room(reader, spec.name, docs=docs)
    view = FeedView.of(spec, data, sources.goals)
    before = {
        when: fetch_room(reader, spec.name, docs=docs, at=now - timedelta(hours=hours))
        for when, hours in (("yesterday", HOURS), ("week", 24 * 7))
    }
    lines = []
    for path, kpi in view.kpis.items():
        if "/" in path:  # a part's (each vaccine's): the room's tiles, not the page's headline
            continue
        raw = entry(data.doc(unit, window), path).get("value")
        then = entry(before["yesterday"].doc(unit, window), path).get("value")
        week_ago = entry(before["week"].doc(unit, window), path).get("value")
        value = figures.scalar(kpi, raw)
        text, state = change(kpi, value, figures.scalar(kpi, week_ago))
        when = _("hiện tại") if base_name(path) in NOT_WINDOWED else ""
        lines.append(
            Line(
                label=f"{kpi.label} ({when})" if when else kpi.label,
                now=figures.value_text(kpi, raw),
                unit="" if kpi.kind == "rate" else kpi.unit,
                state=figures.tile_state(kpi, value, view.goal(path, unit)),
                yesterday=figures.value_text(kpi, then),
                week=text,
                week_state=state,
            )
        )
    as_of = local(datetime.fromisoformat(data.meta["as_of"])) if data.meta else _("chưa có số liệu")
    return FeedLines(_(spec.title), as_of, lines)


def _map_and_ranking(sources: Sources, unit: str) -> tuple[MapPart | None, str, list[Ranked]]:
    """The first feed's main KPI on the unit's map, and its worst units: the unit's children, or
    for a commune its area's communes."""
    units, window = sources.units, sources.window
    spec = next(iter(sources.specs.values()))
    chosen = sources.maps.choose(unit)
    ranked_in = unit if units.children(unit) else (units.parent(unit) or units.province)
    peers = units.children(ranked_in)
    codes = list(dict.fromkeys([*(chosen[0].codes if chosen else []), *peers]))
    data = fetch_room(
        sources.reader,
        spec.name,
        docs=[(units.province, DEFAULT_WINDOW), *((c, window) for c in codes)],
    )
    view = FeedView.of(spec, data, sources.goals)
    path = view.pick(None)
    kpi = view.kpis[path]
    title = f"{_(spec.title)}: {kpi.label}, {_(theme.WINDOW_LABELS[window])}"
    rows = figures.ranked(
        list(zip(peers, data.values(kpi, peers, window), strict=True)), kpi, best_first=False
    )
    # A commune's briefing shows no other commune's figures: its reader may be the commune's
    # duty officer, who does not see its neighbours' (``User.sees_kpis``); it says where it ranks.
    inside = {unit, *units.communes_of(unit)}

    def open_to_reader(code: str) -> bool:
        return code in inside or units.level(code) != "commune"

    ranking = [
        Ranked(units.name(code), figures.value_text(kpi, value), code == unit)
        for code, value in rows[:WORST_SHOWN]
        if value is not None and open_to_reader(code)
    ]
    if unit in peers and all(not r.own for r in ranking):  # the unit itself, where it stands
        place = [code for code, _v in rows].index(unit)
        own = f"{units.name(unit)}: {place + 1}/{len(rows)}"
        ranking.append(Ranked(own, figures.value_text(kpi, rows[place][1]), True))
    drawn = (
        None
        if chosen is None
        else _drawing(sources, chosen[0], chosen[1] or unit, view, kpi, title, open_to_reader)
    )
    return drawn, title, ranking


def _drawing(
    sources: Sources,
    layer: Any,
    focus: str,
    view: FeedView,
    kpi: Kpi,
    title: str,
    shown: Callable[[str], bool],
) -> MapPart:
    """The layer coloured on ``kpi``; the units not ``shown`` grey, without their figure."""
    window = sources.window
    drawing = sources.maps.drawing(layer)
    raws = [
        v if shown(c) else None
        for c, v in zip(layer.codes, view.data.values(kpi, layer.codes, window), strict=True)
    ]
    values = [figures.display_value(kpi, v) for v in raws]
    scale = figures.map_scale(kpi, values, view.goal(kpi.name, sources.units.province))
    names = sources.units.names()
    areas = [
        Area(
            code=code,
            path=drawing.paths.get(code, ""),
            fill=figures.scale_colour(scale, value),
            name=names.get(code) or layer.names.get(code, code),
            text=figures.value_text(kpi, raw) if shown(code) else "",
            focus=code == focus,
        )
        for code, value, raw in zip(layer.codes, values, raws, strict=True)
    ]
    if layer.schematic and len(areas) <= LABELLED_TILES:
        areas = [replace(a, label=middle(a.path), name=short_name(a.name)) if a.path else a for a in areas]
    stops = ", ".join(f"{colour} {float(at) * 100:.0f}%" for at, colour in scale.colorscale)
    unit_text = "%" if kpi.kind == "rate" else kpi.unit
    return MapPart(
        title=title,
        width=drawing.width,
        height=drawing.height,
        areas=[a for a in areas if a.path],
        low=f"{fmt.number(scale.zmin)} {unit_text}".strip(),
        high=f"{fmt.number(scale.zmax)} {unit_text}".strip(),
        gradient=f"linear-gradient(to right, {stops})",
        note=_("Sơ đồ ô: mỗi ô một xã, phường (chưa có ranh giới 2025)") if layer.schematic else "",
    )


def _overdue(sources: Sources, feed: str, unit: str) -> Overdue | None:
    """A work list's cases counted by agency (dossiers) or sector (reports), most first."""
    if feed not in sources.specs:
        return None
    units = sources.units
    commune = units.level(unit) == "commune"
    found = sources.reader.cases(feed, (units.parent(unit) or unit) if commune else unit)
    if found is None:
        return None
    if commune:
        found = [c for c in found if c["unit_code"] in sources.counted_in.get(unit, ())]
    cases = cast(list[dict[str, Any]], found)
    group, head = CASE_TABLES[feed].counted_by
    counts = Counter(str(c.get(group) or "–") for c in cases)
    oldest: dict[str, str] = {}
    for c in cases:
        who = str(c.get(group) or "–")
        oldest[who] = min(oldest.get(who, c["deadline_at"]), c["deadline_at"])
    rows = [
        (_(theme.REPORT_SECTOR_LABELS.get(who, who)), n, local(datetime.fromisoformat(oldest[who])))
        for who, n in counts.most_common(GROUPS_SHOWN)
    ]
    return Overdue(
        title=_(CASE_TABLES[feed].title),
        by=_(head),
        total=len(cases),
        rows=rows,
        more=max(0, len(counts) - GROUPS_SHOWN),
    )


def _alerts(sources: Sources, unit: str, now: datetime) -> list[AlertRow]:
    """Every alert of the unit (or of a unit within it, or province-wide) raised in the last 24
    hours or still on, newest first, from the feeds' alert logs and active alerts."""
    units, client = sources.units, sources.client
    inside = {unit, units.province, *units.children(unit), *units.communes_of(unit), ""}
    rules = sources.rules()
    said = titles(rules, current())
    start, end = alert_store.stamp(now - timedelta(hours=HOURS)), alert_store.stamp(now)
    occurrences: dict[tuple[str, str], dict[str, str]] = {}
    for feed in FEED_SPECS:
        for alert in alert_store.read_active(client, feed).values():
            if alert["since"] <= end:
                said = {k: str(v) for k, v in alert.items() if v is not None}
                occurrences[(alert["id"], alert["since"])] = said
        raw = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            client.xrevrange(keys.alert_log(feed), count=alert_store.LOG_MAXLEN),
        )
        events = [{k.decode(): v.decode() for k, v in fields.items()} for _entry, fields in reversed(raw)]
        # the occurrences on during the day: those still on, and those with an event in it ...
        shown = set(occurrences) | {(e["id"], e["since"]) for e in events if start <= e["at"] <= end}
        for event in events:  # ... with every event of theirs up to now (an earlier acknowledgement)
            if (event["id"], event["since"]) not in shown or event["at"] > end:
                continue
            seen = occurrences.setdefault((event["id"], event["since"]), {})
            for name in ("rule", "unit", "value", "threshold", "since"):
                seen.setdefault(name, event[name])
            if event["event"] == "acknowledged":
                seen["acked_by"] = event.get("by", "")
                seen["ack_comment"] = event.get("comment", "")
            elif event["event"] == "cleared":
                seen["cleared_at"] = event["at"]
    rows = []
    for (_alert, since), seen in sorted(occurrences.items(), key=lambda kv: kv[0][1], reverse=True):
        if seen.get("unit", "") not in inside or "rule" not in seen:
            continue
        rule = rules.get(seen["rule"])
        described = {
            **seen,
            "kind": rule.kind if rule else "",
            "kpi": (rule.kpi or "") if rule else "",
            "comparison": "below" if rule and rule.below is not None else "above",
        }
        acked = seen.get("acked_by", "")
        if acked and seen.get("ack_comment"):
            acked = f"{acked}: {seen['ack_comment']}"
        rows.append(
            AlertRow(
                raised=local(datetime.fromisoformat(since)),
                place=units.name(seen["unit"]) if seen["unit"] else units.name(units.province),
                what=f"{said.get(seen['rule'], seen['rule'])} {condition(described)}",
                acked=acked or _("chưa ai xác nhận"),
                ended=local(datetime.fromisoformat(seen["cleared_at"]))
                if "cleared_at" in seen
                else _("đang diễn ra"),
            )
        )
    return rows


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["local"] = local
    env.filters["number"] = fmt.number
    return env


@cache
def font_faces() -> str:
    """Be Vietnam Pro, regular and bold, inline: the page needs nothing from outside."""
    faces = []
    for weight, style in ((400, "Regular"), (700, "Bold")):
        data = base64.b64encode((FONT_DIR / f"BeVietnamPro-{style}.ttf").read_bytes()).decode()
        faces.append(
            f"@font-face{{font-family:'Be Vietnam Pro';font-weight:{weight};"
            f"src:url(data:font/ttf;base64,{data}) format('truetype')}}"
        )
    return "\n".join(faces)


def page_html(briefing: Briefing) -> str:
    """The page, printable on one A4 sheet."""
    return (
        _environment()
        .get_template("briefing.html")
        .render(
            b=briefing,
            _=_,
            lang=current(),
            fonts=font_faces(),
            day=briefing.made_at.astimezone(TZ).strftime("%d/%m/%Y"),
            meta=json.dumps(briefing.meta(), ensure_ascii=False),
        )
    )
