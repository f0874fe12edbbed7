"""The district room's communes: ranked best to worst on a KPI (or by name), searchable without
diacritics, each with its target, the last 24 hours against the 24 before, and a 7-day trend."""

from __future__ import annotations

from dash import html

from ioc.feeds import FeedSpec
from ioc.kpis import Kpi
from ioc.snapshots import SnapshotReader
from ioc.units import UnitTable
from layouts import figures, theme
from layouts import format as fmt
from layouts.i18n import N_, _
from layouts.province import base_name, entry, tile_state

SORTS = {"best": N_("Tốt nhất trước"), "worst": N_("Kém nhất trước"), "name": N_("Theo tên")}


def ranked_communes(
    reader: SnapshotReader,
    units: UnitTable,
    spec: FeedSpec,
    district: str,
    kpi: Kpi,
    window: str,
    search: str,
    sort: str,
) -> html.Table:
    """The communes of ``district`` ranked on ``kpi`` (its name is its path), filtered by ``search``."""
    kpi_name = kpi.name
    names = units.names()
    communes = units.children(district)
    found = reader.many(spec.name, communes, window)
    target = theme.TARGETS.get(base_name(kpi_name))
    higher = target.higher_is_better if target else base_name(kpi_name) not in theme.LOWER_IS_BETTER
    rows = [(c, figures.scalar(kpi, entry(found.get(c), kpi_name).get("value"))) for c in communes]
    wanted = fmt.fold(search.strip())
    rows = [r for r in rows if wanted in fmt.fold(names[r[0]])]
    if sort == "name":
        rows.sort(key=lambda r: fmt.fold(names[r[0]]))
    else:
        best_first = higher == (sort == "best")
        rows.sort(key=lambda r: (r[1] is None, -(r[1] or 0) if best_first else (r[1] or 0)))
    measure = spec.measures[0]
    label = _(theme.SERIES[spec.name][2][measure][0])
    head = html.Thead(
        html.Tr(
            [
                html.Th("#"),
                html.Th(_("Đơn vị")),
                html.Th(kpi.label, className="num"),
                html.Th(_("Mục tiêu"), className="num"),
                html.Th(
                    _("{label}: 24 giờ qua").format(label=label),
                    className="num",
                    title=_("so với 24 giờ trước đó"),
                ),
                html.Th(_("7 ngày")),
            ]
        )
    )
    body = []
    for i, (code, value) in enumerate(rows, start=1):
        daily, change = _trend(reader, spec.name, code, measure)
        body.append(
            html.Tr(
                [
                    html.Td(str(i), className="rank"),
                    html.Td(names[code]),
                    html.Td(figures.value_text(kpi, value), className=f"num {tile_state(kpi, value)}"),
                    html.Td(
                        target_text(target),
                        className="num muted",
                    ),
                    html.Td(change, className="num"),
                    html.Td(
                        html.Img(
                            src=figures.sparkline_svg(daily),
                            className="trend",
                            alt=_("{label} 7 ngày").format(label=label),
                        )
                    ),
                ],
                **{"data-code": code},
            )
        )
    if not body:
        body = [
            html.Tr(
                html.Td(
                    _("Không có đơn vị nào khớp “{search}”.").format(search=search),
                    colSpan=6,
                    className="muted",
                )
            )
        ]
    return html.Table([head, html.Tbody(body)], className="ranking communes")


def _trend(reader: SnapshotReader, feed: str, code: str, measure: str) -> tuple[list[float], str]:
    doc = reader.series(feed, code) or {}
    hourly = [float(v or 0) for v in doc.get(measure, [])]
    return figures.daily_trend(hourly, 1 if feed == "mobile_data" else 0)


def target_text(target: theme.Target | None) -> str:
    """ "≥ 95%" (the sign kept with its number)."""
    return (
        "–"
        if target is None
        else f"{'≥' if target.higher_is_better else '≤'}\u00a0{fmt.percent(target.value, 0)}"
    )
