"""The scorecard's targets panel: each of the province's own targets (``[targets.<name>]``,
``ioc.targets``) with its progress to the goal and the date its 12-week trend reaches it, against
the deadline."""

from __future__ import annotations

from typing import Any

from dash import html

from ioc.documents import TargetsAnswer, TargetState
from layouts import format as fmt
from layouts import ids
from layouts.i18n import N_, _, current
from layouts.scorecard_panels import day, month_year

TARGET_STATUS = {
    "met": N_("Đã đạt"),
    "on_track": N_("Đúng hướng"),
    "off_track": N_("Chậm so với hạn"),
    "missed": N_("Trễ hạn"),
}


# ---- targets --------------------------------------------------------------------------------


def target_row(target: TargetState) -> html.Div:
    """A target: its progress to the goal, and when the 12-week trend reaches it against the
    deadline ("đạt vào 03/2027 theo xu hướng — hạn 12/2026", in red when late)."""
    goal, now, status = target["goal"], target["current"], target["status"]
    share = 0.0 if not goal or now is None else max(0.0, min(1.0, now / goal))
    label = target["label_en"] if current() == "en" and target["label_en"] else target["label"]
    return html.Div(
        className=f"sc-target {status}",
        children=[
            html.Div(
                [
                    html.Span(label, className="sc-target-name"),
                    html.Span(_(TARGET_STATUS.get(status, status)), className="sc-target-status"),
                ],
                className="sc-target-head",
            ),
            html.Div(
                html.Div(className="sc-bar-fill", style={"width": f"{share * 100:.1f}%"}), className="sc-bar"
            ),
            html.Div(
                _("Hiện {now} · mục tiêu {goal} · hạn {deadline}").format(
                    now=fmt.percent(now), goal=fmt.percent(goal, 0), deadline=day(target["deadline"])
                ),
                className="small muted",
            ),
            html.Div(projection(target), className="sc-target-when"),
        ],
        **ids.DataAttrs({"data-target": target["name"]}),
    )


def projection(target: TargetState) -> str:
    status, deadline = target["status"], month_year(target["deadline"])
    if status == "met":
        return _("Đã đạt mục tiêu")
    if status == "missed":
        return _("Không đạt khi hết hạn {deadline} (ngày {day})").format(
            deadline=deadline, day=day(target["missed_on"] or target["deadline"])
        )
    if target["reaches_on"]:
        return _("Đạt vào {when} theo xu hướng 12 tuần — hạn {deadline}").format(
            when=month_year(target["reaches_on"]), deadline=deadline
        )
    return _("Xu hướng 12 tuần không đi lên: không đạt trước hạn {deadline}").format(deadline=deadline)


def targets_panel(found: TargetsAnswer, unit: str) -> html.Section:
    """The targets set for this unit (the province's, on its scorecard)."""
    rows: list[Any] = [target_row(t) for t in found["targets"] if t["unit"] == unit] or [
        html.P(_("Không có mục tiêu cho đơn vị này."), className="muted")
    ]
    return html.Section([html.H2(_("Mục tiêu đề ra")), *rows], className="sc-panel sc-targets")
