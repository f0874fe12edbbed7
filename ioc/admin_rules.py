"""The administrator's alert rules page: the rules in force, each editable in a form, and new ones.

A rule is validated exactly as the configuration's ``[alerts.<name>]`` table (the same pydantic
model, then the feed's and the scheme's checks: :func:`ioc.alert_rules.parse_rule`); a wrong field
is a ``400`` naming it, with the form as typed. A saved rule goes to Redis over the
configuration's (:class:`ioc.alert_rules.RuleBook`): the aggregators apply it at their next cycle
and the pages say its title at their next request, no restart. "Back to the configuration" drops
what was saved (a rule added on the page is then gone, and its alerts clear at the next cycle).
Every change is audited with the rule before and after (JSON).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, redirect, request

from ioc import admin
from ioc.alert_rules import RuleBook, RuleError, parse_rule
from ioc.config import AlertRule
from ioc.documents import WINDOWS
from ioc.feeds import FEED_SPECS
from ioc.login import TEMPLATES, audit_view
from ioc.login import refused as refuse
from layouts.i18n import N_, _

FIELDS = (
    "feed",
    "kind",
    "kpi",
    "window",
    "level",
    "comparison",
    "threshold",
    "where",
    "minutes",
    "title",
    "title_en",
)
KINDS = {"kpi": N_("Chỉ số vượt ngưỡng"), "cases": N_("Số việc quá hạn"), "stale": N_("Nguồn ngừng cập nhật")}
ORIGINS = {"file": N_("Tệp cấu hình"), "changed": N_("Đã sửa trên trang"), "added": N_("Thêm trên trang")}
FIELD_NAMES = {
    "name": N_("Tên quy tắc"),
    "feed": N_("Nguồn"),
    "kind": N_("Loại"),
    "kpi": N_("Chỉ số"),
    "window": N_("Khoảng thời gian"),
    "level": N_("Cấp"),
    "below": N_("Ngưỡng"),
    "above": N_("Ngưỡng"),
    "where": N_("Chỉ các việc"),
    "minutes": N_("Số phút"),
    "title": N_("Tiêu đề"),
    "title_en": N_("Tiêu đề tiếng Anh"),
    "severity": N_("Mức độ"),
}
SEVERITIES = {"info": N_("thông tin"), "warning": N_("cảnh báo"), "critical": N_("nghiêm trọng")}
MAX_FIELD = 200


def form_fields(form: dict[str, str]) -> dict[str, Any]:
    """What the form says, as the configuration's table would (only the fields of its kind)."""
    kind = form.get("kind", "kpi")
    fields: dict[str, Any] = {"feed": form.get("feed", ""), "kind": kind, "title": form.get("title", "")}
    fields["severity"] = form.get("severity") or "warning"
    if form.get("title_en"):
        fields["title_en"] = form["title_en"]
    if kind == "kpi":
        fields |= {"kpi": form.get("kpi") or None, "window": form.get("window") or "7d"}
    if kind != "stale":
        if form.get("level"):
            fields["level"] = form["level"]
        comparison = "above" if form.get("comparison") == "above" else "below"
        fields[comparison] = form.get("threshold") or None
    if kind == "cases" and form.get("where"):
        pairs = [p.partition("=") for p in re.split(r"\s*,\s*", form["where"].strip()) if p]
        fields["where"] = {k.strip(): v.strip() for k, _sep, v in pairs}
    if kind == "stale":
        fields["minutes"] = form.get("minutes") or 15
    return fields


def as_form(rule: AlertRule) -> dict[str, str]:
    """A rule as its form shows it."""
    above = rule.above is not None
    threshold = rule.above if above else rule.below
    return {
        "feed": rule.feed,
        "kind": rule.kind,
        "kpi": rule.kpi or "",
        "window": rule.window,
        "level": rule.level or "",
        "comparison": "above" if above else "below",
        "threshold": "" if threshold is None else f"{threshold:g}",
        "where": ", ".join(f"{k}={v}" for k, v in rule.where.items()),
        "minutes": f"{rule.minutes:g}",
        "title": rule.title,
        "title_en": rule.title_en,
        "severity": rule.severity,
    }


def install(server: Flask, book: RuleBook) -> None:
    bp = Blueprint("admin_rules", __name__, template_folder=str(TEMPLATES))
    units = book.units
    levels = {"": N_("Cấp dưới tỉnh (mặc định)"), "province": N_("Tỉnh"), units.middle: N_("Huyện / khu vực")}
    levels["commune"] = N_("Xã")

    def render(template: str, status: int = 200, **context: Any) -> Any:
        return admin.page(
            template,
            status,
            feeds={name: _(spec.title) for name, spec in FEED_SPECS.items()},
            kpis=[(feed, k.name, _(k.label)) for feed, spec in FEED_SPECS.items() for k in spec.kpis],
            windows=WINDOWS,
            kinds={k: _(v) for k, v in KINDS.items()},
            levels={k: _(v) for k, v in levels.items()},
            severities={k: _(v) for k, v in SEVERITIES.items()},
            **context,
        )

    def refusal(exc: RuleError) -> str:
        return f"{_(FIELD_NAMES.get(exc.field, exc.field))}: {str(exc).partition(': ')[2]}"

    def submitted() -> dict[str, str] | Any:
        form = {k: request.form.get(k, "").strip() for k in ("name", *FIELDS)}
        if any(len(v) > MAX_FIELD for v in form.values()):
            return refuse(400, f"a field is longer than {MAX_FIELD} characters")
        return form

    @bp.get("/admin/alert-rules")
    def rules_page() -> Any:
        if (refused := admin.gate("the alert rules page")) is not None:
            return refused
        audit_view("alert_rules_read")
        shown = [(name, rule, book.origin(name)) for name, rule in sorted(book.current().items())]
        origins = {k: _(v) for k, v in ORIGINS.items()}
        return render("alert_rules.html", rows=shown, broken=book.broken, origins=origins)

    @bp.get("/admin/alert-rules/<name>")
    def rule_page(name: str) -> Any:
        if (refused := admin.gate("the alert rules page")) is not None:
            return refused
        if name == "new":
            return render("alert_rule.html", name="", form={"kind": "kpi", "window": "7d"}, origin="")
        rule = book.current().get(name)
        if rule is None:
            return refuse(404, f"no alert rule {name[:64]!r}")
        return render("alert_rule.html", name=name, form=as_form(rule), origin=book.origin(name))

    @bp.post("/admin/alert-rules/<name>")
    def save_rule(name: str) -> Any:
        if (refused := admin.gate("the alert rules page")) is not None:
            return refused
        form = submitted()
        if not isinstance(form, dict):
            return form
        before = book.current().get(name)
        if request.form.get("action") == "revert":
            if book.origin(name) == "file":
                return refuse(400, f"alert rule {name[:64]!r} is the configuration's already")
            book.revert(name)
            after = book.current().get(name)
            audit_view("alert_rule_reverted", rule=name, **_json("from", before), **_json("to", after))
            return redirect(f"/admin/alert-rules/{name}?saved=revert" if after else "/admin/alert-rules")
        target = form["name"] if name == "new" else name
        if name == "new" and (target in book.current() or target == "new"):
            return render(
                "alert_rule.html", 400, name="", form=form, origin="", error=_("Tên quy tắc đã có.")
            )
        try:
            rule = parse_rule(target, form_fields(form), units)
            book.save(target, rule)
        except RuleError as exc:
            origin = "" if name == "new" else book.origin(name)
            shown = "" if name == "new" else name
            return render("alert_rule.html", 400, name=shown, form=form, origin=origin, error=refusal(exc))
        audit_view("alert_rule_saved", rule=target, **_json("from", before), **_json("to", rule))
        return redirect(f"/admin/alert-rules/{target}?saved=save")

    server.register_blueprint(bp)


def _json(prefix: str, rule: AlertRule | None) -> dict[str, str]:
    return {} if rule is None else {f"{prefix}_rule": rule.model_dump_json(exclude_defaults=True)}
