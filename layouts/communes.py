"""The district or area room's communes: ranked best to worst on a KPI (or by name), searchable
without diacritics, each with its target, the last 24 hours against the 24 before, and a 7-day
trend; each name opens the commune's room."""

from __future__ import annotations

from dash import dcc, html

from ioc.feeds import FeedSpec
from ioc.kpis import Kpi
from ioc.targets import Goals
from ioc.units import UnitTable
from layouts import figures, ids
from layouts import format as fmt
from layouts.compare import Comparison
from layouts.i18n import N_, _
from layouts.room_data import RoomData, base_name, feed_query

SORTS = {"best": N_("Tốt nhất trước"), "worst": N_("Kém nhất trước"), "name": N_("Theo tên")}


def ranking_rows(
    data: RoomData, units: UnitTable, parent: str, kpi: Kpi, window: str, search: str = "", sort: str = "best"
) -> list[tuple[str, float | None]]:
    """The children of ``parent`` and their values of ``kpi`` over ``window``, as a ranking shows
    them (and downloads them): those whose name holds ``search`` (without diacritics), best first,
    worst first or by name."""
    names = units.names()
    children = units.children(parent)
    rows = list(zip(children, data.values(kpi, children, window), strict=True))
    wanted = fmt.fold(search.strip())
    rows = [r for r in rows if wanted in fmt.fold(names[r[0]])]
    if sort == "name":
        return sorted(rows, key=lambda r: fmt.fold(names[r[0]]))
    return figures.ranked(rows, kpi, best_first=sort != "worst")


def ranked_communes(
    data: RoomData,
    units: UnitTable,
    spec: FeedSpec,
    district: str,
    kpi: Kpi,
    window: str,
    search: str,
    sort: str,
    *,
    goals: Goals,
    comparison: Comparison | None = None,
) -> html.Table:
    """The communes of ``district`` ranked on ``kpi`` (its name is its path), filtered by
    ``search``, from ``data``: their documents over ``window`` and their series; each beside its
    target (its own, its district's or the province's: ``goals``)."""
    names = units.names()
    rows = ranking_rows(data, units, district, kpi, window, search, sort)
    measure = spec.measures[0]
    legends = {m: legend for m, legend, _role in spec.series_panel.measures} if spec.series_panel else {}
    label = _(legends.get(measure, measure))
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
        hourly = [float(v or 0) for v in (data.series.get(code) or {}).get(measure, [])]
        daily, change = figures.daily_trend(hourly, spec.series_decimals)
        goal = goals.goal(spec.name, base_name(kpi.name), code)
        body.append(
            html.Tr(
                [
                    html.Td(str(i), className="rank"),
                    html.Td(
                        dcc.Link(names[code], href=f"/commune/{code}{feed_query(spec.name)}", refresh=True)
                    ),
                    html.Td(
                        [
                            figures.value_text(kpi, value),
                            comparison.delta(kpi, value, code, window, kpi.name, short=True),
                        ]
                        if comparison
                        else figures.value_text(kpi, value),
                        className=f"num {figures.tile_state(kpi, value, goal)}",
                    ),
                    html.Td(figures.target_text(kpi, goal), className="num muted"),
                    html.Td(change, className="num"),
                    html.Td(
                        html.Img(
                            src=figures.sparkline_svg(daily),
                            className="trend",
                            alt=_("{label} 7 ngày").format(label=label),
                        )
                    ),
                ],
                **ids.DataAttrs({"data-code": code}),
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
