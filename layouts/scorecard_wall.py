"""The wall's scorecard scene: the province's 766 total, band and rank large enough for 6 m, the
five groups, the three indicators losing the most points and the 26-week trend, dark and still
(no controls, no hover). Drawn from the server's answer, like the room."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from ioc.documents import ScorecardAnswer
from layouts import format as fmt
from layouts import scorecard_panels as panels
from layouts.i18n import _
from layouts.scorecard_figures import trend_figure

LOSING = 3  # the indicators the scene names


def wall_panel(answer: ScorecardAnswer | None, height_px: float) -> list[Any]:
    """The scene's children; without an answer, one line saying there are no figures yet."""
    if answer is None or answer["total"] is None:
        return [html.Div(_("Chưa có số liệu chỉ số 766."), className="wall-sc-empty")]
    rank = answer["rank"]
    change = panels.rank_change(answer["change"]["rank"])
    above, below = answer["above"], answer["below"]
    return [
        html.Div(
            className="wall-sc-head",
            children=[
                html.Div(
                    _("Chỉ số phục vụ người dân, doanh nghiệp · tổng điểm (ước tính)"),
                    className="wall-number-label",
                ),
                html.Div(
                    [
                        html.Span(panels.points(answer["total"]), className="wall-sc-total"),
                        html.Span(_("/100 điểm"), className="wall-number-unit"),
                        html.Span(panels.band_of(answer), className="wall-sc-band"),
                    ],
                    className="wall-sc-line",
                ),
                html.Div(
                    [
                        html.Span(
                            _("Hạng {rank}/{of}").format(rank=rank, of=answer["of"]) if rank else "–",
                            className="wall-sc-rank",
                        ),
                        change,
                    ],
                    className="wall-sc-line",
                ),
                html.Div(
                    [
                        html.Div(
                            "↑ "
                            + _("Kém {name} {gap} điểm").format(
                                name=above.get("name"), gap=panels.points(above.get("gap"))
                            )
                        )
                        if above
                        else None,
                        html.Div(
                            "↓ "
                            + _("Hơn {name} {lead} điểm").format(
                                name=below.get("name"), lead=panels.points(below.get("lead"))
                            )
                        )
                        if below
                        else None,
                    ],
                    className="wall-sc-neighbours",
                ),
            ],
        ),
        html.Div(
            [panels.group_row(k, g) for k, g in sorted(answer["groups"].items())],
            className="wall-sc-groups",
        ),
        html.Div(
            [html.Div(_("Mất nhiều điểm nhất"), className="wall-number-label"), *losing(answer)],
            className="wall-sc-lost",
        ),
        dcc.Graph(
            figure=trend_figure(answer["trend"], name=answer["unit_name"], wall_height=height_px),
            config={"displayModeBar": False, "staticPlot": True},
            className="wall-sc-trend",
        ),
    ]


def losing(answer: ScorecardAnswer) -> list[html.Div]:
    """The indicators losing the most points, each with its rate and points lost."""
    rows = []
    for key in answer["lost"][:LOSING]:
        entry = answer["indicators"][key]
        if not entry["lost"]:
            continue
        rows.append(
            html.Div(
                [
                    html.Span(f"{key} {panels.said(entry['label'])}", className="wall-sc-ind"),
                    html.Span(fmt.percent(entry["rate"]), className="wall-sc-rate"),
                    html.Span(f"−{panels.points(entry['lost'])}", className="wall-sc-minus"),
                ],
                className="wall-sc-row",
            )
        )
    return rows or [html.Div(_("Không chỉ số nào mất điểm."), className="wall-sc-row")]
