"""Who may open what: every route × role, a duty officer's scope where data is read, the audit
log, the embed tokens and the frame headers."""

from __future__ import annotations

import html
import json
import time
from functools import partial
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from dash import page_registry
from werkzeug.security import generate_password_hash

from ioc import embeds
from ioc.access import read_users
from ioc.accounts import demo_users
from ioc.api import outside
from ioc.config import ConfigError
from ioc.units import UnitTable
from ioc.web import create_app
from tests.processes import (
    CHEAP_HASH,
    PASSWORD,
    acting_as,
    app_settings,
    logged_in,
    login_form,
    users_file,
)
from tests.test_kpis import counted_cases

SECRET = "test-secret"  # app_settings'
CLIENT_SECRET = "the-app-backend-secret"
FRAMER = "https://smart.tayninh.gov.vn"
COMMUNE_OF_706 = "25516"  # Thị trấn Tân Châu
COMMUNE_OF_705 = "25486"  # Thị trấn Tân Biên
ROLES = ("anonymous", "lanhdao", "truc-705", "quantri")


@pytest.fixture(scope="module")
def app(redis_server, units, tmp_path_factory):
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    with counted_cases(client, units):
        settings = app_settings(
            redis_server, embed={"clients": {"app": CLIENT_SECRET}, "frame_ancestors": [FRAMER]}
        )
        yield create_app(settings, client)


def as_role(app, role: str):
    return app.server.test_client() if role == "anonymous" else logged_in(app, role)


# ---- the matrix --------------------------------------------------------------------------

K = "/api/v1/kpis?feed=public_services&window=7d&unit="
C = "/api/v1/cases?feed=public_services&unit="
IX = "/api/v1/index766?period=2026-11&unit="
DRILL = "/api/v1/index766/units?indicator=2.1&period=2026-11&unit="
CARD = "/api/v1/cards/public_services.received?unit=705"
# route -> expected status for anonymous, leader, officer of 705, administrator
# (302: to the login page; 401: login required; 403: not for this role or outside its scope)
MATRIX = {
    "/": (302, 200, 200, 200),
    "/district/705": (302, 200, 200, 200),
    "/area/705": (302, 200, 200, 200),  # the 2025 scheme's address: says so (its test)
    "/commune/" + COMMUNE_OF_706: (302, 200, 200, 200),  # outside the scope: refused in the page
    "/wall": (302, 200, 200, 200),
    "/health-board": (302, 200, 200, 200),
    "/scorecard": (302, 200, 200, 200),  # another district's: refused in the page (its test)
    "/scorecard/2.1": (302, 200, 200, 200),
    "/embeds": (302, 403, 403, 200),
    K + "72": (401, 200, 200, 200),
    K + "706": (401, 200, 200, 200),  # a district's figures: every role
    K + COMMUNE_OF_706: (401, 200, 403, 200),  # a commune: only inside the scope
    C + "705": (401, 200, 200, 200),
    C + "706": (401, 200, 403, 200),  # another district's cases
    C + "72": (401, 200, 403, 200),  # the province's cases name every district's
    C + COMMUNE_OF_705: (401, 200, 200, 200),  # a commune's: its district's list, its own cases
    C + COMMUNE_OF_706: (401, 200, 403, 200),
    IX + "72": (401, 200, 200, 200),  # the scorecard: the KPI API's rules
    IX + "706": (401, 200, 200, 200),
    IX + COMMUNE_OF_706: (401, 200, 403, 200),
    DRILL + "705": (401, 200, 200, 200),  # a drill-down shows the units below: inside the scope
    DRILL + "706": (401, 200, 403, 200),
    "/api/v1/targets": (401, 200, 200, 200),
    "/api/v1/alerts": (401, 200, 200, 200),
    "/api/v1/audit": (401, 403, 403, 200),
    "/admin/audit": (302, 403, 403, 200),  # the audit log's page (tests/test_admin.py)
    "/admin/audit.csv": (302, 403, 403, 200),
    "/admin/accounts": (302, 403, 403, 200),  # the accounts page (tests/test_accounts.py)
    "/admin/accounts/truc-705": (302, 403, 403, 200),
    "/admin/alert-rules": (302, 403, 403, 200),  # the alert rules page (tests/test_alert_rules_page.py)
    "/admin/alert-rules/new": (302, 403, 403, 200),
    "/silences": (302, 200, 200, 200),  # every role silences within its scope (tests/test_silences.py)
    "/api/v1/silences": (401, 200, 200, 200),
    "/alerts/history?feed=public_services&id=qua_han|705": (
        302,
        200,
        200,
        200,
    ),  # tests/test_alert_history.py
    "/api/v1/alerts/history?feed=public_services&id=qua_han|706": (401, 200, 403, 200),
    "/alerts/history.csv?feed=public_services&id=qua_han|706": (302, 200, 403, 200),
    # downloads of the rooms' tables: the room's and the API's rules (tests/test_exports.py)
    "/export/cases.csv?feed=public_services&unit=705": (302, 200, 200, 200),
    "/export/cases.xlsx?feed=public_services&unit=706": (302, 200, 403, 200),
    "/export/ranking.csv?feed=public_services": (302, 200, 200, 200),
    "/export/ranking.xlsx?feed=public_services&unit=706": (302, 200, 403, 200),
    "/export/alerts.csv": (302, 200, 200, 200),
    "/api/v1/annotations": (401, 200, 200, 200),
    "/briefings": (
        302,
        200,
        200,
        200,
    ),  # each lists only what the person may see (tests/test_briefings.py)  # adding and removing: tests/test_annotations.py
    "/realtime/token": (401, 200, 200, 200),
    "/geo/pre2025-district.geojson": (401, 200, 200, 200),
    "/_dash-layout": (401, 200, 200, 200),
    "/_dash-dependencies": (401, 200, 200, 200),
    # public: the cards, the health check, the login, static code and fonts (no data)
    CARD: (200, 200, 200, 200),
    "/healthz": (200, 200, 200, 200),
    "/login": (200, 200, 200, 200),
    "/assets/style.css": (200, 200, 200, 200),
    "/fonts/BeVietnamPro-Regular.vietnamese.woff2": (200, 200, 200, 200),
    "/embed-static/embed.js": (200, 200, 200, 200),
    "/embed/public_services.received?unit=705": (403, 403, 403, 403),  # no token
}


def test_every_route_and_role_is_allowed_or_refused_as_designed(app) -> None:
    rules = {r.rule for r in app.server.url_map.iter_rules()}
    covered = {urlsplit(url).path for url in MATRIX}
    for rule in rules:  # no route of the app left out of the matrix
        assert any(_matches(rule, path) for path in covered) or rule in UNLISTED, (
            f"{rule} is not in the matrix"
        )
    clients = {role: as_role(app, role) for role in ROLES}
    for url, expected in MATRIX.items():
        got = tuple(clients[role].get(url).status_code for role in ROLES)
        assert got == expected, f"{url}: {dict(zip(ROLES, got, strict=True))}"
    anonymous = clients["anonymous"].get("/district/705")
    assert anonymous.headers["Location"] == "/login?next=/district/705"


# Routes reached other than by a plain GET (posts, Dash's own), checked in the tests below or
# by Dash; the matrix test fails on any route in neither list.
UNLISTED = {
    "/login",
    "/logout",
    "/auth/sso",
    "/auth/callback",
    "/api/v1/alerts/ack",
    "/api/v1/embed-tokens",
    "/silences/<silence_id>/end",  # POSTs: tests/test_silences.py
    "/api/v1/silences/<silence_id>/end",
    "/api/v1/annotations/<annotation_id>",  # DELETE: tests/test_annotations.py
    "/briefings/<day>/<name>.<fmt>",  # an archived briefing's files: tests/test_briefings.py
    "/_dash-update-component",
    "/_reload-hash",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "/_favicon.ico",
    "/assets/<path:path>",
    "/_alive_<token>",
    "/<path:path>",
    "/static/<path:filename>",
    "/fonts/<name>",
    "/embed-static/<path:name>",
    "/embed/<panel>",
    "/api/v1/cards/<panel>",
    "/geo/<name>.geojson",
}


def _matches(rule: str, path: str) -> bool:
    head = rule.split("<", 1)[0]
    return rule == path or ("<" in rule and path.startswith(head) and head != "/")


def test_an_officer_of_one_district_is_refused_another_in_the_room(app) -> None:
    with acting_as(app, "truc-705"):
        text = str(page_registry["district"]["layout"](code="706").to_plotly_json())
        assert "NGOÀI PHẠM VI ĐƯỢC GIAO" in text and "Huyện Tân Biên" in text and "case-table" not in text
        own = str(page_registry["district"]["layout"](code="705").to_plotly_json())
        assert "NGOÀI PHẠM VI" not in own and "cases-lists" in own


def test_a_commune_room_is_its_districts_officers_and_shows_its_own_cases(app) -> None:
    """Before 2025 too, a commune has its room: the overdue dossier B of Phường 3 (25459, in
    Thành phố Tây Ninh, 703) is in Phường 3's work list and no other commune's; an officer of
    705 is refused it, with a link to their own district's room."""
    with acting_as(app, "lanhdao"):
        own = text_of(page_registry["commune"]["layout"](code="25459"))
        other = text_of(page_registry["commune"]["layout"](code="25456"))
        area = text_of(page_registry["area"]["layout"](code="705"))
    assert '"children": "B"' in own and "case-table" in own and '"children": "B"' not in other
    assert "Khu vực chỉ có ở bảng đơn vị 2025" in area and "/district/705" in area
    with acting_as(app, "truc-705"):
        refused = text_of(page_registry["commune"]["layout"](code="25459"))
    assert "NGOÀI PHẠM VI ĐƯỢC GIAO" in refused and "/district/705" in refused and "case-table" not in refused
    officer = logged_in(app, "truc-705")
    assert room_callback(officer, "25459", "commune").status_code == 204
    assert room_callback(officer, COMMUNE_OF_705, "commune").status_code == 200


def text_of(component) -> str:
    """A Dash layout as JSON text (plain characters), for what it says and links to."""
    return json.dumps(
        component.to_plotly_json(),
        default=lambda c: c.to_plotly_json() if hasattr(c, "to_plotly_json") else str(c),
        ensure_ascii=False,
    )


@pytest.mark.parametrize(
    ("scheme", "unit", "message"),
    [
        ("pre2025", "794", "'794' is not a district or commune of scheme pre2025"),
        ("2025", "25456", "'25456' is not an area or commune of scheme 2025"),
        ("2025", "80", "'80' is not an area or commune of scheme 2025"),
    ],
)
def test_a_duty_officers_units_are_units_below_the_province_of_the_scheme(
    tmp_path, geodata, scheme, unit, message
) -> None:
    """An account file naming a unit the scheme does not have below its province is refused,
    with the account and what the units may be."""
    table = UnitTable.load(geodata, scheme)
    path = tmp_path / "users.toml"
    path.write_text(
        f'[users.truc]\nrole = "officer"\nunits = ["{unit}"]\npassword = "pbkdf2:x"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        read_users(path, table)
    assert str(caught.value) == f"{path}: users.truc.units: {message}"
    path.write_text(path.read_text(encoding="utf-8").replace(unit, "705"), encoding="utf-8")
    assert read_users(path, table)["truc"].units == ["705"]  # a district, or an area


def test_the_demos_officers_are_the_areas_in_the_2025_scheme(tmp_path, geodata) -> None:
    """The demo makes a duty officer per area in the 2025 scheme (per district before), and makes
    its accounts again when its folder's are the other scheme's."""
    cheap = partial(generate_password_hash, method=CHEAP_HASH)
    with mock.patch("ioc.accounts.generate_password_hash", cheap):
        path, text, _secret = demo_users(tmp_path, UnitTable.load(geodata, "pre2025"))
        assert "truc-794" not in text and len(read_users(path, UnitTable.load(geodata, "pre2025"))) == 11
        new = UnitTable.load(geodata, "2025")
        path, text, _secret = demo_users(tmp_path, new)
    accounts = read_users(path, new)
    officers = {login: entry.units for login, entry in accounts.items() if entry.role == "officer"}
    assert officers == {f"truc-{code}": [code] for code in new.level_codes("area")}
    assert accounts["truc-705"].name == "Trực ban Khu vực Tân Biên cũ (demo)"
    assert "truc-808   officer  Trực ban Khu vực Châu Thành cũ (Long An cũ) (demo)" in text
    assert demo_users(tmp_path, new)[1] == text  # made once for a scheme


def test_the_audit_log_records_who_opened_what(app) -> None:
    officer = logged_in(app, "truc-705")
    officer.get(C + "705")
    officer.get(C + "706")  # refused: not a view, not recorded as one
    admin = logged_in(app, "quantri")
    entries = admin.get("/api/v1/audit?count=50").get_json()["entries"]
    cases = [e for e in entries if e["action"] == "cases" and e["who"] == "truc-705"]
    assert cases and cases[0]["unit"] == "705" and cases[0]["role"] == "officer" and cases[0]["ip"]
    assert not [
        e for e in entries if e["action"] == "cases" and e.get("unit") == "706" and e["who"] == "truc-705"
    ]
    assert any(e["action"] == "login" and e["who"] == "quantri" for e in entries)
    assert admin.get("/api/v1/audit?count=0").status_code == 400


def test_a_wrong_password_is_refused_and_recorded(app) -> None:
    client = app.server.test_client()
    reply = client.post("/login", data=login_form(client.get("/login").text, "lanhdao", "wrong"))
    assert reply.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in reply.text
    assert client.get("/api/v1/alerts").status_code == 401
    entries = logged_in(app, "quantri").get("/api/v1/audit?action=login_failed").get_json()["entries"]
    assert entries[0]["who"] == "lanhdao"
    assert client.get("/login?next=https://evil.example/").text.count('value="/"') == 1  # no open redirect


def test_a_removed_account_is_out_at_its_next_request(app, tmp_path) -> None:
    client = logged_in(app, "truc-706")
    assert client.get(K + "72").status_code == 200
    path = users_file()
    kept = path.read_text(encoding="utf-8")
    try:
        path.write_text(kept.replace("[users.truc-706]", "[users.truc-706-old]"), encoding="utf-8")
        time.sleep(0.01)
        path.touch()
        assert client.get(K + "72").status_code == 401
    finally:
        path.write_text(kept, encoding="utf-8")


# ---- embed tokens ------------------------------------------------------------------------


def mint(app, body, secret: str = CLIENT_SECRET):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return app.server.test_client().post("/api/v1/embed-tokens", json=body, headers=headers)


def test_an_embed_opens_with_its_token_once_and_refuses_every_other(app) -> None:
    reply = mint(app, {"panel": "public_services.on_time_rate", "unit": "705"})
    assert reply.status_code == 200
    body = reply.get_json()
    http = app.server.test_client()
    page = http.get(body["url"])
    assert page.status_code == 200 and "Huyện Tân Biên" in page.text and "Giải quyết đúng hạn" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {FRAMER}" in csp and "worker-src" not in csp
    assert "X-Frame-Options" not in page.headers
    assert http.get("/").headers["X-Frame-Options"] == "SAMEORIGIN"

    def refused(url: str) -> str:
        answer = http.get(url)
        assert answer.status_code == 403, url
        return html.unescape(answer.text)

    assert "token already used" in refused(body["url"])  # replayed
    token = parse_qs(urlsplit(body["url"]).query)["token"][0]
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(
        claims | {"exp": int(time.time()) + 60, "jti": "new"},
        "another key of 32 bytes or more.",
        algorithm="HS256",
    )
    assert "signature is not valid" in refused(f"/embed/public_services.on_time_rate?unit=705&token={forged}")
    other, _exp = embeds.mint(
        SECRET, panel="public_services.on_time_rate", unit="705", ttl_s=60, once=False, client="t"
    )
    assert "for panel 'public_services.on_time_rate', not 'public_services.received'" in refused(
        f"/embed/public_services.received?unit=705&token={other}"
    )
    assert "for unit '705', not '706'" in refused(
        f"/embed/public_services.on_time_rate?unit=706&token={other}"
    )
    old = jwt.encode(
        claims | {"iat": int(time.time()) - 120, "exp": int(time.time()) - 60, "jti": "old"},
        embeds.signing_key(SECRET),
        algorithm="HS256",
    )
    assert "token expired" in refused(f"/embed/public_services.on_time_rate?unit=705&token={old}")
    reusable = mint(app, {"panel": "public_services.received.map", "unit": "72", "once": False}).get_json()
    assert http.get(reusable["url"]).status_code == 200 and http.get(reusable["url"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "secret", "status", "said"),
    [
        ({"panel": "public_services.received", "unit": "705"}, "", 401, "Authorization: Bearer"),
        ({"panel": "public_services.received", "unit": "705"}, "guessed", 401, "Authorization: Bearer"),
        ({"panel": "public_services.nope", "unit": "705"}, CLIENT_SECRET, 400, "unknown panel"),
        ({"panel": "public_services.received", "unit": "999"}, CLIENT_SECRET, 400, "unknown unit '999'"),
        (
            {"panel": "public_services.received", "unit": "705", "ttl_s": 3600},
            CLIENT_SECRET,
            400,
            "ttl_s: 3600",
        ),
        (
            {"panel": "public_services.received", "unit": "705", "once": "yes"},
            CLIENT_SECRET,
            400,
            "once: 'yes'",
        ),
    ],
)
def test_a_bad_mint_request_says_what_is_wrong(app, body, secret, status, said) -> None:
    reply = mint(app, body, secret)
    assert reply.status_code == status and said in reply.get_json()["error"]


def test_an_administrator_lists_the_embeds_with_fresh_tokens(app) -> None:
    admin = logged_in(app, "quantri")
    page = admin.get("/embeds?unit=706")
    assert page.status_code == 200 and "/embed/vaccination.doses.series?unit=706&amp;token=" in page.text
    assert PASSWORD not in page.text


def room_callback(client, code: str, room: str = "district", changed: str = ""):
    """A room's refresh callback (``room``: "district" for a district's or an area's, or
    "commune"), called as the page calls it, for the room of ``code``."""
    found = client.get("/_dash-dependencies").get_json()
    refresh = next(c for c in found if f"{room}-tiles.children" in c["output"])
    values = {f"{room}-kpi": "on_time_rate", f"{room}-window": "7d", f"{room}-sort": "best"}
    inputs = [{**i, "value": values.get(i["id"], "")} for i in refresh["inputs"]]
    state = [{**s, "value": {"feed": "public_services", "code": code}} for s in refresh["state"]]
    body = {
        "output": refresh["output"],
        "outputs": [
            {"id": o.split(".")[0], "property": o.split(".")[1]}
            for o in refresh["output"].strip(".").split("...")
        ],
        "inputs": inputs,
        "state": state,
        "changedPropIds": [changed or f"{room}-window.value"],
    }
    return client.post("/_dash-update-component", json=body)


def district_callback(client, code: str, changed: str = "district-window.value"):
    """The district room's refresh callback, called as the page calls it, for room ``code``."""
    return room_callback(client, code, "district", changed)


def test_the_district_rooms_callback_reads_only_within_the_scope(app) -> None:
    """The room's state lives in the browser: an officer who edits it to another district's code
    and calls the room's callback gets nothing back (204), their own district its cases."""
    officer = logged_in(app, "truc-705")
    assert district_callback(officer, "706").status_code == 204
    own = district_callback(officer, "705")
    assert own.status_code == 200 and '"className":"cases"' in own.text  # its work lists


@pytest.mark.parametrize("code", ["25459", "99999", "", "72", ["705"], None])
def test_the_district_rooms_callback_refuses_a_made_up_room_without_failing(app, code) -> None:
    """A page state naming a commune, an unknown code or the province gets nothing (204), not a
    server error: the state is the browser's to forge."""
    leader = logged_in(app, "lanhdao")
    assert district_callback(leader, code).status_code == 204


# ---- the audit log: what the API records, the other ways in record too ---------------------


def audit_entries(app, action: str) -> list[dict]:
    return logged_in(app, "quantri").get(f"/api/v1/audit?count=500&action={action}").get_json()["entries"]


def test_the_district_rooms_callback_records_the_case_lists_it_reads(app) -> None:
    """The room's callback reads the work lists as the case API does, and is audited as it is
    ("cases", the unit and feed); the re-reads a live page makes at every pushed change are
    recorded once per period, not once a second."""
    officer = logged_in(app, "truc-706")
    assert district_callback(officer, "706").status_code == 200
    assert district_callback(officer, "706", changed="rt-district-message.data").status_code == 200
    mine = [e for e in audit_entries(app, "cases") if e["who"] == "truc-706"]
    assert [(e["unit"], e["feed"], e["view"], e["role"]) for e in mine] == [
        ("706", "public_services", "room", "officer")
    ]


def test_an_administrators_embed_list_records_the_reusable_tokens_it_mints(app) -> None:
    """`/embeds` mints a reusable token for every panel of a unit: one audit entry says who, for
    which unit, how many and that they are reusable, as the API's mint is recorded."""
    assert logged_in(app, "quantri").get("/embeds?unit=706").status_code == 200
    entry = next(e for e in audit_entries(app, "embed_token") if e.get("backend") == "admin:quantri")
    assert entry["unit"] == "706" and entry["once"] == "false" and int(entry["count"]) > 10
    assert mint(app, {"panel": "public_services.received", "unit": "705"}).status_code == 200
    newest = audit_entries(app, "embed_token")[0]  # the API's mint says whether its token is reusable too
    assert (newest["backend"], newest["panel"], newest["unit"], newest["once"]) == (
        "app",
        "public_services.received",
        "705",
        "true",
    )


def test_every_refusal_is_recorded(app) -> None:
    """A 403 (the API's scope, a role's, an embed's token) and the district room's refusals are
    in the audit log: who, which path, why; never the query string (it may carry a token)."""
    officer = logged_in(app, "truc-705")
    assert officer.get(C + "706").status_code == 403
    assert officer.get("/embeds").status_code == 403
    assert (
        app.server.test_client().get("/embed/public_services.received?unit=705&token=x.y.z").status_code
        == 403
    )
    assert district_callback(officer, "706").status_code == 204
    with acting_as(app, "truc-705"):
        page_registry["district"]["layout"](code="706")
    refused = audit_entries(app, "refused")
    said = {(e["who"], e.get("path") or e.get("unit"), e["reason"]) for e in refused}
    assert ("truc-705", "/api/v1/cases", outside("706")) in said
    assert ("truc-705", "/embeds", "the list of embeds is for administrators") in said
    assert any(
        who == "-" and path.startswith("/embed/") and why.startswith("token is not valid")
        for who, path, why in said
    )
    assert ("truc-705", "706", "district room callback outside the scope") in said
    assert ("truc-705", "/district/706", "district room outside the scope") in said
    assert not [e for e in refused if "token=" in json.dumps(e)]
