"""What every live page carries: the relay's address and token for realtime.js, the store that
receives pushed messages, and freshness badges."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dash import dcc, html

from ioc import login
from ioc.config import AlertRule
from layouts import alert_text, ids, past
from layouts.i18n import DEFAULT, LANGS, N_, _, current, script_translations

REFRESH_MS = 5000
# Pushes -> at most one refresh every REFRESH_MS, the last push never lost (a trailing refresh).
# The first snapshot after the page loads is what the page was drawn from: no refresh for it.
THROTTLE_JS = """function (message) {
    const dc = window.dash_clientside;
    if (!message) return dc.no_update;
    const all = window.ioc_scorecard || (window.ioc_scorecard = {});
    const s = all["STORE"] || (all["STORE"] = { last: Date.now(), timer: null, seen: false, refreshes: 0 });
    if (message.type === "snapshot" && !s.seen) { s.seen = true; return dc.no_update; }
    const fire = () => {
        s.timer = null; s.last = Date.now(); s.refreshes += 1;
        dc.set_props("STORE", { data: s.refreshes });
    };
    const wait = s.last + REFRESH_MS - Date.now();
    if (wait <= 0) fire();
    else if (!s.timer) s.timer = setTimeout(fire, wait);
    return dc.no_update;
}"""


def throttle_js(store: str) -> str:
    return THROTTLE_JS.replace("STORE", store).replace("REFRESH_MS", str(REFRESH_MS))


@dataclass(frozen=True)
class Live:
    """How a page reaches the relay; ``token`` mints a fresh signed token per page load."""

    port: int
    url: str | None
    token: Callable[[], str]
    amber_s: float
    red_s: float
    alert_rules: Mapping[str, AlertRule] = field(default_factory=dict)  # their titles, for the ticker
    # Feeds no room shows (no KPIs: the national portal's index) whose alerts every page still gets.
    alert_feeds: tuple[str, ...] = ()

    def elements(
        self,
        *,
        feeds: list[str],
        units: list[str],
        series: list[str],
        store: str = ids.RT_MESSAGE,
        **extra: Any,
    ) -> list[Any]:
        """The relay's config and the store messages land in: each page its own store id, so a
        page's callbacks never fire on another page's components."""
        config = {
            "store": store,
            "port": self.port,
            "url": self.url,
            "token": self.token(),
            "amber_s": self.amber_s,
            "red_s": self.red_s,
            "feeds": [*feeds, *(f for f in self.alert_feeds if f not in feeds)],
            "units": units,
            "series": series,
            "lang": current(),
            # duty officers and administrators acknowledge alerts; a leader reads them
            "can_ack": (user := login.current_user()) is not None and user.role != "leader",
            "strings": script_translations(current()),
            "alert_titles": alert_text.titles(self.alert_rules, current()),
            **extra,
        }
        return [
            html.Div(
                id=ids.RT_CONFIG,
                hidden=True,
                **ids.DataAttrs({"data-config": json.dumps(config, ensure_ascii=False)}),
            ),
            dcc.Store(id=store),
        ]


def fresh_badge(feed: str) -> html.Span:
    """'Số liệu lúc HH:MM', amber then red as the feed ages; realtime.js keeps it current. A room
    in the past: the time of its figures, "not live", still."""
    if (seen := past.viewed(feed)) is not None:
        return past.badge(feed, *seen)
    return html.Span(_("Đang kết nối…"), className="fresh-badge", **ids.DataAttrs({"data-feed": feed}))


def header_tools() -> html.Div:
    """Top right of a room: who is logged in, the administrator's pages (for an administrator),
    the way out,
    and the other language."""
    user = login.current_user()
    who = [html.Span(user.name, className="account", title=_(ROLE_NAMES[user.role]))] if user else []
    log = (
        [
            html.A(
                _("Trang quản trị"),
                href="/admin/accounts",
                className="logout",
                title=_("Tài khoản, quy tắc cảnh báo, nhật ký"),
            )
        ]
        if user and user.role == "admin"
        else []
    )
    quiet = [html.A(_("Tạm tắt thông báo"), href="/silences", className="logout")] if user else []
    brief = (
        [html.A(_("Bản tin"), href="/briefings", className="logout", title=_("Bản tin giao ban"))]
        if user
        else []
    )
    out = [html.A(_("Đăng xuất"), href="/logout", className="logout")] if user else []
    return html.Div([*who, *log, *brief, *quiet, *out, lang_toggle()], className="header-tools")


ROLE_NAMES = {"leader": N_("Lãnh đạo"), "officer": N_("Trực ban"), "admin": N_("Quản trị")}


def scorecard_link() -> dcc.Link:
    """From a room's header to where the province stands on the national 766 index."""
    return dcc.Link(_("Chỉ số 766 ›"), href="/scorecard", className="feed-tab scorecard-tab", refresh=True)


def lang_toggle() -> html.A:
    """The other language, for this same page and its state (the script keeps the address's other
    parameters when it is followed)."""
    other = "en" if current() == DEFAULT else DEFAULT
    return html.A(
        LANGS[other],
        href=f"?lang={other}",
        lang=other,
        className="lang-toggle",
        **ids.DataAttrs({"data-lang": other}),
    )
