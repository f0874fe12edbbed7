"""The administrator's accounts page and the rules under it (``ioc.accounts``): the command line's
checks, a locked and atomic write of the user file, changes that take effect at the account's next
request, sessions ended where the rights shrink, refusals for other roles and forged forms."""

from __future__ import annotations

import fcntl
import os
import re
import threading
from contextlib import ExitStack

import pytest

from ioc import accounts, audit, keys
from ioc.access import UserFile, read_users
from ioc.accounts import AccountError
from tests.processes import PASSWORD, logged_in, login_form, web_alone
from tests.relays import relay_in_process
from tests.test_access import COMMUNE_OF_705
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)
from tests.test_sessions import CHECK_S, closed_with, screen

CASES_706 = "/api/v1/cases?feed=public_services&unit=706"


@pytest.fixture
def path(users_copy):
    return users_copy


@pytest.fixture
def app(own_app):
    return own_app


def token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found[1]


def post(client, url: str, **fields: str):
    """Submit the form of the page at ``url`` (its token, and ``fields``)."""
    return client.post(url, data={"csrf_token": token(client.get(url).text), **fields})


def shown_password(page: str) -> str:
    found = re.search(r'<code class="password">([^<]+)</code>', page)
    assert found, "no password shown"
    return found[1]


def can_log_in(app, login: str, password: str) -> bool:
    client = app.server.test_client()
    return (
        client.post("/login", data=login_form(client.get("/login").text, login, password)).status_code == 302
    )


# ---- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "role", "given", "field", "message"),
    [
        ("Truc 1", "officer", ["705"], "login", "lower-case letters"),
        ("x", "leader", [], "login", "2 to 63 characters"),
        ("truc-1", "officer", [], "units", "a duty officer needs at least one unit"),
        ("lanhdao-2", "leader", ["705"], "units", "only a duty officer"),
        ("truc-1", "officer", ["999"], "units", "'999' is not a district or commune of scheme pre2025"),
        ("truc-1", "officer", ["72"], "units", "'72' is not a district"),
        ("truc-1", "chief", [], "role", "'chief' is not one of"),
    ],
)
def test_an_account_breaking_a_rule_is_refused_with_the_field(
    path, units, login, role, given, field, message
) -> None:
    before = path.read_bytes()
    with pytest.raises(AccountError, match=re.escape(message)) as info:
        accounts.create(path, units, login, role=role, units=given, name="")
    assert info.value.field == field
    assert path.read_bytes() == before, "a refused change touched the file"


def test_concurrent_changes_all_land(path, units) -> None:
    """Web workers and the command line write one file: each change is whole, none lost."""
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            accounts.add_user(path, f"khach-{i}", role="leader", password=PASSWORD, table=units)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    found = read_users(path, units)
    assert {f"khach-{i}" for i in range(12)} <= set(found) and "truc-705" in found


def test_a_disabled_account_cannot_log_in_and_the_app_sees_the_change_at_once(path, units) -> None:
    users = UserFile(path, units)
    assert users.authenticate("truc-705", PASSWORD) is not None
    accounts.update(path, units, "truc-705", disabled=True)
    assert users.user("truc-705") is None and users.authenticate("truc-705", PASSWORD) is None
    accounts.update(path, units, "truc-705", disabled=False)
    assert users.authenticate("truc-705", PASSWORD) is not None


def test_narrower_is_a_lower_role_or_fewer_units(units) -> None:
    officer = accounts.Account("t", "", "officer", ("705",), False).user()
    commune = accounts.Account("t", "", "officer", (COMMUNE_OF_705,), False).user()
    two = accounts.Account("t", "", "officer", ("705", "706"), False).user()
    leader = accounts.Account("t", "", "leader", (), False).user()
    admin = accounts.Account("t", "", "admin", (), False).user()
    assert accounts.narrower(officer, commune, units) and accounts.narrower(two, officer, units)
    assert accounts.narrower(admin, leader, units) and accounts.narrower(leader, officer, units)
    assert not accounts.narrower(officer, two, units) and not accounts.narrower(commune, officer, units)
    assert not accounts.narrower(officer, leader, units) and not accounts.narrower(leader, admin, units)


# ---- the page -------------------------------------------------------------------------------


def test_only_an_administrator_opens_or_changes_accounts(app, path) -> None:
    before = path.read_bytes()
    for url in ("/admin/accounts", "/admin/accounts/truc-705"):
        assert app.server.test_client().get(url).status_code == 302
        for login in ("lanhdao", "truc-705"):
            client = logged_in(app, login)
            assert client.get(url).status_code == 403, (url, login)
            page = client.get("/login").text  # a token of this session: still not an administrator
            refused = client.post(url, data={"csrf_token": token(page), "action": "disable"})
            assert refused.status_code == 403, (url, login)
    assert app.server.test_client().post("/admin/accounts", data={"login": "x"}).status_code == 401
    assert path.read_bytes() == before


def test_a_form_without_this_sessions_token_changes_nothing(app, path) -> None:
    admin = logged_in(app, "quantri")
    other = logged_in(app, "quantri")
    before = path.read_bytes()
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": token(other.get("/admin/accounts").text)}):
        reply = admin.post("/admin/accounts/truc-705", data={**data, "action": "disable"})
        assert reply.status_code == 400, data
    assert path.read_bytes() == before


def test_an_administrator_adds_an_officer_who_logs_in_with_the_password_shown_once(app, path, r) -> None:
    admin = logged_in(app, "quantri")
    listed = admin.get("/admin/accounts")
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    assert "truc-706" in listed.text and "Tân Châu" in listed.text  # units with their names
    added = post(admin, "/admin/accounts", login="truc-moi", name="Nguyễn Văn A", role="officer", units="705")
    assert added.status_code == 200 and added.headers["Cache-Control"] == "no-store"
    password = shown_password(added.text)
    assert can_log_in(app, "truc-moi", password)
    assert password not in path.read_text(encoding="utf-8")
    entry = audit.read(r, 20, "account_added")[0]
    assert (entry["who"], entry["account"], entry["of_units"]) == ("quantri", "truc-moi", "705")
    assert password not in str(audit.read(r, 200))
    again = post(admin, "/admin/accounts", login="truc-moi", role="leader")
    assert again.status_code == 400 and "&#39;truc-moi&#39; already exists" in again.text
    wrong = post(admin, "/admin/accounts", login="truc-2", role="officer", units="705, 999")
    assert wrong.status_code == 400 and "Đơn vị: &#39;999&#39; is not a district" in wrong.text
    assert 'value="705, 999"' in wrong.text, "the form lost what was typed"


def test_narrowing_an_officer_ends_their_sessions_and_screens_widening_keeps_them(
    app, r, redis_server, units
) -> None:
    admin = logged_in(app, "quantri")
    with (
        relay_in_process(redis_server.url, "test-secret", set(units.codes), session_check_s=CHECK_S) as relay,
        ExitStack() as sockets,
    ):
        officer, _token, ws = screen(app, relay, "truc-705", sockets)
        assert officer.get(CASES_706).status_code == 403
        wider = post(
            admin, "/admin/accounts/truc-705", action="save", name="T", role="officer", units="705, 706"
        )
        assert wider.status_code == 302 and wider.headers["Location"].endswith("?saved=save")
        # no feed loaded here: 503, "no data yet", where the narrower scope said 403
        assert officer.get(CASES_706).status_code == 503, "the wider scope did not apply"
        assert r.exists(keys.sessions("truc-705"))
        narrower = post(
            admin, "/admin/accounts/truc-705", action="save", name="T", role="officer", units=COMMUNE_OF_705
        )
        assert narrower.status_code == 302
        assert closed_with(ws, within_s=5)[0] == 4401
        assert officer.get("/").headers["Location"].startswith("/login")
    assert can_log_in(app, "truc-705", PASSWORD)
    entry = audit.read(r, 20, "account_changed")[0]
    assert (entry["from_units"], entry["to_units"], entry["sessions"]) == ("705,706", COMMUNE_OF_705, "1")


def test_reset_and_disable_end_the_sessions(app, path, r) -> None:
    admin = logged_in(app, "quantri")
    officer = logged_in(app, "truc-706")
    reset = post(admin, "/admin/accounts/truc-706", action="reset")
    assert reset.status_code == 200
    password = shown_password(reset.text)
    assert officer.get("/api/v1/alerts").status_code == 401
    assert not can_log_in(app, "truc-706", PASSWORD) and can_log_in(app, "truc-706", password)
    assert post(admin, "/admin/accounts/truc-706", action="disable").status_code == 302
    assert "Đã khoá" in admin.get("/admin/accounts/truc-706").text
    assert not can_log_in(app, "truc-706", password) and not r.exists(keys.sessions("truc-706"))
    assert post(admin, "/admin/accounts/truc-706", action="enable").status_code == 302
    assert can_log_in(app, "truc-706", password)
    actions = [
        e["action"] for e in audit.read(r, 50) if e.get("account") == "truc-706" and "read" not in e["action"]
    ]
    assert actions[:3] == ["account_enabled", "account_disabled", "password_reset"]


def test_an_administrator_cannot_lock_themselves_out(app, path) -> None:
    admin = logged_in(app, "quantri")
    before = path.read_bytes()
    for fields in ({"action": "disable"}, {"action": "save", "role": "leader", "name": "Q"}):
        reply = post(admin, "/admin/accounts/quantri", **fields)
        assert reply.status_code == 400 and "chính tài khoản đang dùng" in reply.text, fields
    assert path.read_bytes() == before
    assert (
        post(admin, "/admin/accounts/quantri", action="save", role="admin", name="Quản trị").status_code
        == 302
    )
    assert read_users(path, app_units(app))["quantri"].name == "Quản trị"


def app_units(app):
    return app.server.extensions["ioc.login"].table


def test_no_such_account_is_a_404(app) -> None:
    admin = logged_in(app, "quantri")
    assert admin.get("/admin/accounts/nobody").status_code == 404
    assert post(admin, "/admin/accounts", login="ok-1", role="leader").status_code == 200
    reply = admin.post(
        "/admin/accounts/nobody",
        data={"csrf_token": token(admin.get("/admin/accounts").text), "action": "disable"},
    )
    assert reply.status_code == 404


# ---- in Chromium ----------------------------------------------------------------------------


@pytest.fixture
def web(redis_server, tmp_path, path):
    with web_alone(tmp_path, redis_server.url, "accounts-test-secret", path) as port:
        yield port


@pytest.mark.browser
def test_an_administrator_adds_and_disables_an_account_in_the_browser(browser, web) -> None:  # noqa: F811
    base = f"http://127.0.0.1:{web}"
    admin = new_page(browser, web, "quantri", viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    admin.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    admin.goto(base + "/admin/accounts")
    assert "truc-705" in admin.locator("td.account-login").all_inner_texts()
    admin.fill("input[name=login]", "truc-moi")
    admin.fill("input[name=name]", "Trần Thị Bình")
    admin.select_option("select[name=role]", "officer")
    admin.fill("input[name=units]", "706")
    admin.click("form.account-form button[type=submit]")
    password = admin.locator("code.password").inner_text()
    assert len(password) == 19

    person = browser.new_context().new_page()
    person.goto(base + "/login")
    person.fill("input[name=login]", "truc-moi")
    person.fill("input[name=password]", password)
    person.click("button[type=submit]")
    person.wait_for_url(base + "/")
    assert person.goto(base + "/admin/accounts").status == 403

    admin.goto(base + "/admin/accounts/truc-moi")
    assert admin.input_value("input[name=units]") == "706"
    admin.click("button.danger")
    admin.wait_for_url("**/admin/accounts/truc-moi?saved=disable")
    assert admin.locator("h1 .tag").inner_text() == "Đã khoá"
    person.goto(base + "/")
    assert person.url.startswith(base + "/login"), "a disabled account's session went on"
    assert errors == []


# ---- what an outside review found -----------------------------------------------------------


def test_the_province_is_never_left_without_an_enabled_administrator(path, units) -> None:
    with pytest.raises(AccountError, match="without an enabled administrator"):
        accounts.update(path, units, "quantri", role="leader")
    with pytest.raises(AccountError, match="without an enabled administrator"):
        accounts.update(path, units, "quantri", disabled=True)
    accounts.add_user(path, "quantri-2", role="admin", password=PASSWORD, table=units)
    accounts.update(path, units, "quantri", disabled=True)  # another one is left
    assert read_users(path, units)["quantri"].disabled


def test_a_new_password_ends_the_sessions_even_without_redis_at_hand(app, path, units) -> None:
    officer = logged_in(app, "truc-706")
    assert officer.get("/api/v1/alerts").status_code == 200
    accounts.update(path, units, "truc-706", password="mat-khau-moi-0123")  # as the CLI would, no Redis
    assert officer.get("/api/v1/alerts").status_code == 401


def test_replacing_a_disabled_account_keeps_it_disabled(path, units) -> None:
    accounts.update(path, units, "truc-705", disabled=True)
    accounts.add(path, units, "truc-705", role="officer", units=["705"], name="", password="mot-mat-khau-dai")
    assert read_users(path, units)["truc-705"].disabled


def test_an_older_login_can_still_be_disabled(path, units) -> None:
    accounts.add_user(path, "Nguyen", role="leader", password=PASSWORD)  # before logins had a rule
    accounts.update(path, units, "Nguyen", disabled=True)
    assert read_users(path, units)["Nguyen"].disabled


@pytest.mark.parametrize("name", ["Quản trị\u202e", "a\x7fb", "x" * 121])
def test_a_name_that_would_spoof_the_listing_is_refused(path, units, name) -> None:
    with pytest.raises(AccountError, match="name: at most 120 characters"):
        accounts.update(path, units, "truc-705", name=name)


def test_a_held_lock_makes_a_change_fail_quickly_not_hang(path, units, monkeypatch) -> None:
    monkeypatch.setattr(accounts, "LOCK_WAIT_S", 0.2)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(AccountError, match="being changed by someone else"):
            accounts.update(path, units, "truc-705", disabled=True)
    finally:
        os.close(fd)
    accounts.update(path, units, "truc-705", disabled=True)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changes owners: root only")
def test_a_change_made_as_root_keeps_the_files_owner_and_mode(path, units) -> None:
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o640)
    accounts.update(path, units, "truc-705", disabled=True)
    found = path.stat()
    assert (found.st_uid, found.st_gid, found.st_mode & 0o777) == (65534, 65534, 0o640)
    lock = path.with_name(path.name + ".lock").stat()
    assert lock.st_uid == 65534 and lock.st_mode & 0o007 == 0, "the lock is open to every local user"
