"""The scorecard's panels: pure builders from the server's answers (``ioc.scorecard``,
``ioc.targets``) to components, shared by the room, the drill-down and the wall's scene.

Nothing here computes a score: every total, rank and what-if is the answer's. Feed-computed
figures say "ước tính" (an estimate until the national portal publishes), the portal's say when
they were published.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import format_date
from dash import dcc, html

from ioc.documents import (
    GroupScore,
    IndicatorScore,
    ScorecardAnswer,
)
from ioc.index766 import INDICATORS, parse_period
from layouts import format as fmt
from layouts import ids
from layouts.i18n import N_, _, current
from layouts.scorecard_data import WHAT_IF_INDICATORS

PORTAL = N_("Cổng DVCQG")
# What a what-if adds, by indicator: "N more ... this period".
WHAT_IF_TEXT = {
    "2.1": N_("{n} hồ sơ nữa giải quyết đúng hạn"),
    "3.3": N_("{n} hồ sơ nữa nộp trực tuyến"),
    "3.6": N_("{n} hồ sơ nữa thanh toán trực tuyến"),
    "4.2": N_("{n} hồ sơ nữa được số hóa"),
    "5.1": N_("{n} phản ánh nữa xử lý đúng hạn"),
    "5.2": N_("{n} phản ánh nữa được hài lòng"),
}
# What the units of a level are called after "hạng 3/9".
LEVEL_NOUNS = {
    "province": N_("tỉnh, thành phố"),
    "district": N_("huyện, thị xã, thành phố"),
    "area": N_("khu vực"),
    "commune": N_("xã, phường"),
}


# ---- words and numbers -------------------------------------------------------------------


def said(label: str) -> str:
    """A label of the index's tables (``ioc.index766``: the catalog lists them) in the reader's
    language."""
    return _(label)


def points(value: float | None) -> str:
    return fmt.number(value, 1)


def day(iso: str | None) -> str:
    """22/11/2026 from an ISO date or time (local)."""
    if not iso:
        return "–"
    moment = datetime.fromisoformat(iso)
    return f"{moment.astimezone(fmt.TZ):%d/%m/%Y}" if moment.tzinfo else f"{moment:%d/%m/%Y}"


def month_year(iso: str | None) -> str:
    return "–" if not iso else f"{date.fromisoformat(iso[:10]):%m/%Y}"


def period_label(name: str, *, in_sentence: bool = False) -> str:
    """ "Tháng 12/2026", "Tuần 49/2026 (30/11–06/12)"; in a sentence: "tháng 12/2026"."""
    period = parse_period(name)
    if period.kind == "month":
        if current() == "en":  # "December 2026"
            return format_date(period.start.date(), "MMMM yyyy", locale="en")
        text = f"{period.start:%m/%Y}"
        return (_("tháng {month}") if in_sentence else _("Tháng {month}")).format(month=text)
    year, week = name.split("-W")
    text = f"{week}/{year}"
    if in_sentence:
        return _("tuần {week}").format(week=text)
    last = period.end.date().toordinal() - 1
    days = f"{period.start:%d/%m}–{date.fromordinal(last):%d/%m}"
    return _("Tuần {week} ({days})").format(week=text, days=days)


def band_of(answer: ScorecardAnswer) -> str:
    return (answer["band_en"] if current() == "en" else answer["band"]) or "–"


def level_noun(level: str) -> str:
    return _(LEVEL_NOUNS.get(level, LEVEL_NOUNS["commune"]))


def rank_change(change: int | None) -> html.Span | None:
    """ "▲ 2" in green (up is better), "▼ 1" in red, "=" when it held; nothing to compare: None."""
    if change is None:
        return None
    if change == 0:
        return html.Span(_("= giữ hạng"), className="sc-change same")
    arrow, state = ("▲", "better") if change > 0 else ("▼", "worse")
    return html.Span(_("{arrow} {n} bậc").format(arrow=arrow, n=abs(change)), className=f"sc-change {state}")


def total_change(change: float | None) -> html.Span | None:
    if change is None:
        return None
    state = "better" if change > 0 else "worse" if change < 0 else "same"
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    return html.Span(
        _("{sign}{n} điểm").format(sign=sign, n=points(abs(change))), className=f"sc-change {state}"
    )


# ---- the headline: total, band, rank, neighbours ---------------------------------------------


def headline(answer: ScorecardAnswer, level: str, badges: Any = None) -> html.Section:
    """The total as one big number with its band, the rank and its change, the gap to the unit
    above and the lead over the one below, and the portal's latest official figures."""
    previous = answer["previous"]
    since = period_label(previous["period"], in_sentence=True) if previous else ""
    rank = answer["rank"]
    changes = [
        c for c in (rank_change(answer["change"]["rank"]), total_change(answer["change"]["total"])) if c
    ]
    return html.Section(
        className="sc-panel sc-headline",
        children=[
            html.H2(_("Tổng điểm (ước tính)")),
            html.Div(
                [
                    html.Span(points(answer["total"]), className="sc-total"),
                    html.Span(_("/100 điểm"), className="sc-total-max"),
                    html.Span(band_of(answer), className="sc-band"),
                ],
                className="sc-total-line",
            ),
            html.Div(
                [
                    html.Span(
                        _("Hạng {rank}/{of}").format(rank=rank, of=answer["of"])
                        if rank
                        else _("Chưa xếp hạng"),
                        className="sc-rank",
                    ),
                    html.Span(level_noun(level), className="sc-rank-noun") if rank else None,
                ],
                className="sc-rank-line",
            ),
            html.Div(
                [*changes, html.Span(_("so với {period}").format(period=since), className="muted")]
                if changes
                else [],
                className="sc-changes",
            ),
            neighbours(answer),
            official(answer),
            badges,
        ],
    )


def neighbours(answer: ScorecardAnswer) -> html.Ul:
    above, below, rows = answer["above"], answer["below"], []
    if above:
        text = _("Kém {name} {gap} điểm").format(name=above.get("name"), gap=points(above.get("gap")))
        rows.append(html.Li(["↑ ", text], className="sc-above"))
    elif answer["rank"] == 1:
        rows.append(html.Li(_("Dẫn đầu"), className="sc-above"))
    if below:
        text = _("Hơn {name} {lead} điểm").format(name=below.get("name"), lead=points(below.get("lead")))
        rows.append(html.Li(["↓ ", text], className="sc-below"))
    elif answer["rank"] and answer["rank"] == answer["of"]:
        rows.append(html.Li(_("Xếp cuối"), className="sc-below"))
    return html.Ul(rows, className="sc-neighbours")


def official(answer: ScorecardAnswer) -> html.Div:
    """The province's latest figures as the portal published them: total, rank, date."""
    portal = answer["portal"]
    if not portal:
        return html.Div(_("Cổng DVCQG chưa công bố số liệu chính thức."), className="sc-official muted")
    return html.Div(
        [
            html.Span(_("chính thức"), className="sc-source portal"),
            " ",
            _("{portal}, {period}, công bố {date}: {total} điểm, hạng {rank}/{of}").format(
                portal=_(PORTAL),
                period=period_label(str(portal.get("period")), in_sentence=True),
                date=day(portal.get("published_at")),
                total=points(portal.get("total")),
                rank=portal.get("rank") or "–",
                of=portal.get("of") or "–",
            ),
        ],
        className="sc-official",
    )


# ---- groups ---------------------------------------------------------------------------------


def groups(answer: ScorecardAnswer, *, wall: bool = False) -> html.Section:
    """Each group's points out of its maximum: the points as a bar, the points lost beside it."""
    rows = [group_row(key, group) for key, group in sorted(answer["groups"].items())]
    return html.Section(
        [html.H2(_("Điểm theo nhóm chỉ số")), html.Div(rows, className="sc-groups")],
        className="sc-panel sc-groups-panel" + (" wall" if wall else ""),
    )


def group_row(key: str, group: GroupScore) -> html.Div:
    got, top = group["points"], group["max"]
    share = 0.0 if got is None or not top else max(0.0, min(1.0, got / top))
    missing = group["missing"]
    return html.Div(
        className="sc-group",
        children=[
            html.Div(
                [
                    html.Span(f"{key}. {said(group['label'])}", className="sc-group-name"),
                    html.Span(f"{points(got)} / {points(top)}", className="sc-group-points"),
                ],
                className="sc-group-head",
            ),
            html.Div(
                html.Div(className="sc-bar-fill", style={"width": f"{share * 100:.1f}%"}),
                className="sc-bar" + (" empty" if got is None else ""),
                title=_("{got} trên {top} điểm").format(got=points(got), top=points(top)),
            ),
            html.Div(
                _("Thiếu số liệu: {ids}").format(ids=", ".join(missing)) if missing else "",
                className="sc-missing",
            ),
        ],
    )


# ---- indicators -----------------------------------------------------------------------------


def ordered(answer: ScorecardAnswer) -> list[str]:
    """The indicators by points lost (the answer's order), then those without a loss."""
    rest = [k for k in answer["indicators"] if k not in answer["lost"]]
    return [*answer["lost"], *rest]


def lost_text(lost: float | None) -> str:
    """ "−2,0" points lost; "0" for none (a rounding's "−0,0" would read as a loss)."""
    if lost is None:
        return "–"
    return "0" if lost < 0.05 else f"−{points(lost)}"


def loss_state(lost: float | None, top: float) -> str:
    """How a loss stands: none (ok), up to a tenth of the maximum (warn), more (bad)."""
    if lost is None or not top:
        return "neutral"
    return "ok" if lost < 0.05 else "bad" if lost / top > 0.1 else "warn"


def indicators_table(answer: ScorecardAnswer, query: str, *, province: bool) -> html.Table:
    """One row per indicator, the most points lost first: rate (or days), the rate for full
    points, points of the maximum, points lost, and where the figure comes from."""
    head = [_("Chỉ số"), _("Tỷ lệ"), _("Đủ điểm từ"), _("Điểm"), _("Mất"), _("Nguồn")]
    rows = [indicator_row(key, answer["indicators"][key], query, province) for key in ordered(answer)]
    return html.Table(
        [
            html.Thead(
                html.Tr([html.Th(h, className="num" if 0 < i < 5 else None) for i, h in enumerate(head)])
            ),
            html.Tbody(rows),
        ],
        className="ranking sc-indicators",
    )


def indicator_row(key: str, entry: IndicatorScore, query: str, province: bool) -> html.Tr:
    scored = INDICATORS[key].scored if key in INDICATORS else True
    name: list[Any] = [html.B(key), " ", said(entry["label"])]
    if entry["source"] == "feed":
        name += [" ", dcc.Link(_("theo đơn vị ›"), href=f"/scorecard/{key}{query}", className="sc-drill")]
    if scored:
        rate = fmt.percent(entry["rate"])
        full = f"≥\u00a0{fmt.percent(entry['full_at'], 0)}" if entry["full_at"] else "–"
        score = f"{points(entry['points'])} / {points(entry['max'])}"
        lost = lost_text(entry["lost"])
    else:  # 2.2: days, shown for what it says of 2.1, not scored
        rate = _("{n} ngày").format(n=fmt.number(entry.get("value"), 1))
        full, score, lost = "–", _("không tính điểm"), ""
    return html.Tr(
        [
            html.Td(name, className="sc-ind-name"),
            html.Td([rate, counts(entry)], className="num"),
            html.Td(full, className="num muted"),
            html.Td(score, className="num"),
            html.Td(lost, className=f"num {loss_state(entry['lost'], entry['max'])}"),
            html.Td(source(entry, province), className="sc-ind-source"),
        ],
        **ids.DataAttrs({"data-indicator": key}),
    )


def counts(entry: IndicatorScore) -> html.Div | str:
    if entry["numerator"] is None or entry["denominator"] is None:
        return ""
    return html.Div(
        f"{fmt.number(entry['numerator'])} / {fmt.number(entry['denominator'])}", className="small muted"
    )


def source(entry: IndicatorScore, province: bool = True) -> list[Any]:
    """ "ước tính" for the feeds' live figure, "chính thức" for the portal's, and the portal's
    own figure with its date wherever it published one (below the province, the portal-only
    figures are the province's)."""
    portal = entry["portal"]
    out: list[Any] = []
    if entry["source"] == "feed":
        out.append(html.Span(_("ước tính"), className="sc-source feed"))
    elif entry["rate"] is not None:
        out.append(html.Span(_("chính thức"), className="sc-source portal"))
    if portal:
        period = period_label(str(portal.get("period")), in_sentence=True)
        date = day(portal.get("published_at"))
        if entry["source"] == "portal":  # the row's figures are the portal's: when, from where
            text = _("{portal} {period}, công bố {date}").format(portal=_(PORTAL), period=period, date=date)
        else:  # beside our estimate, the portal's own figure
            figures = fmt.percent(portal.get("rate"))
            if portal.get("points") is not None:
                figures += " · " + _("{n} đ").format(n=points(portal.get("points")))
            text = _("{portal} {period}: {figures} (công bố {date})").format(
                portal=_(PORTAL), period=period, figures=figures, date=date
            )
        out.append(html.Div(text, className="small muted"))
    elif entry["source"] == "portal":
        text = _("chưa công bố") if province or entry["rate"] is None else _("số liệu của tỉnh")
        out.append(html.Div(text, className="small muted"))
    return out


# ---- what-if --------------------------------------------------------------------------------


def what_if_options() -> list[dict[str, str]]:
    return [
        {"label": f"{k} · {_(INDICATORS[k].label)}", "value": k}
        for k in WHAT_IF_INDICATORS
        if k in INDICATORS
    ]


def what_if_result(
    before: ScorecardAnswer, after: ScorecardAnswer, indicator: str, n: int, level: str
) -> html.Div:
    """ "+120 hồ sơ đúng hạn → 79,5 điểm, hạng 10" as the server computed it, beside today's."""
    old, new = before["indicators"][indicator], after["indicators"][indicator]
    rank = (
        _("hạng {old} → {new}/{of} {noun}").format(
            old=before["rank"] or "–", new=after["rank"] or "–", of=after["of"], noun=level_noun(level)
        )
        if after["rank"]
        else ""
    )
    return html.Div(
        className="sc-whatif-answer",
        children=[
            html.Div(
                _("Nếu thêm {what} trong {period}:").format(
                    what=_(WHAT_IF_TEXT[indicator]).format(n=fmt.number(n)),
                    period=period_label(after["period"], in_sentence=True),
                ),
                className="sc-whatif-if",
            ),
            html.Div(
                _("Chỉ số {id}: {old} → {new} ({rate}), {p_old} → {p_new} / {top} điểm").format(
                    id=indicator,
                    old=fmt.percent(old["rate"]),
                    new=fmt.percent(new["rate"]),
                    rate=f"{fmt.number(new['numerator'])} / {fmt.number(new['denominator'])}",
                    p_old=points(old["points"]),
                    p_new=points(new["points"]),
                    top=points(new["max"]),
                )
            ),
            html.Div(
                [
                    html.Span(
                        _("Tổng {old} → {new} điểm").format(
                            old=points(before["total"]), new=points(after["total"])
                        ),
                        className="sc-whatif-total",
                    ),
                    html.Span(
                        rank,
                        className="sc-whatif-rank",
                        **ids.DataAttrs({"data-rank": str(after["rank"] or "")}),
                    ),
                ],
            ),
        ],
    )
