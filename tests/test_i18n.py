"""Vietnamese first, English as a toggle: the catalog is complete, formats follow the language,
the choice is remembered, and in Chromium every room, its live updates and the wall read in English
after one click (and in Vietnamese again after another)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from dash import page_registry

from ioc.web import create_app
from layouts import format as fmt
from layouts import i18n
from tests.processes import acting_as, app_settings, logged_in
from tests.test_browser import browser, new_page  # noqa: F401  (the fixture)

# Letters only Vietnamese writes (and the accented vowels it shares with French): none may be left
# on an English page once the units' own names are taken out.
VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.I)
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_every_message_has_its_english_with_the_same_placeholders() -> None:
    wanted = {str(m.id) for m in i18n.extract() if m.id}
    known = i18n.translations("en")
    assert sorted(wanted - set(known)) == [], "run: uv run python -m layouts.i18n, then translate"
    assert sorted(set(known) - wanted) == [], "messages no longer in the code: run python -m layouts.i18n"
    for vietnamese, english in known.items():
        assert set(PLACEHOLDER.findall(vietnamese)) == set(PLACEHOLDER.findall(english)), vietnamese
        assert not VIETNAMESE.search(english) or "Tây Ninh" in english.replace("TÂY NINH", "Tây Ninh"), (
            english
        )
    # the scripts receive only their own messages
    scripts = i18n.script_translations("en")
    assert scripts["Số liệu lúc {time}"] == "Data as of {time}" and "Đơn vị" not in scripts


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "vi",
            [
                "1.234,5",
                "92,4%",
                "2,3 triệu",
                "3,4 tỷ",
                "987.654",
                "Thứ Hai 23/11/2026 10:42",
                "trễ 3 ngày 4 giờ",
            ],
        ),
        (
            "en",
            [
                "1,234.5",
                "92.4%",
                "2.3 million",
                "3.4 billion",
                "987,654",
                "Monday 23/11/2026 10:42",
                "3 d 4 h late",
            ],
        ),
    ],
)
def test_formats_follow_the_language(lang, expected) -> None:
    with i18n.using(lang):
        written = [
            fmt.number(1234.5, 1),
            fmt.percent(0.924),
            fmt.compact(2_345_678),
            fmt.compact(3_400_000_000.0, 1),
            fmt.compact(987_654),  # below a million: every digit
            fmt.date_time(datetime(2026, 11, 23, 3, 42, tzinfo=UTC)),
            fmt.late_by(3 * 86400 + 4 * 3600 + 59),
        ]
    assert written == expected
    assert i18n.current() == "vi"  # outside ``using``: Vietnamese again


def test_the_choice_is_remembered_and_every_page_says_its_language(r, redis_server) -> None:
    app = create_app(app_settings(redis_server), r)
    client = logged_in(app, "lanhdao")
    first = client.get("/?lang=en")
    assert '<html lang="en">' in first.text and "ioc_lang=en" in first.headers["Set-Cookie"]
    assert '<html lang="en">' in client.get("/health-board").text  # the cookie carries it
    assert '<html lang="vi">' in client.get("/?lang=vi").text
    assert '<html lang="vi">' in client.get("/wall?lang=fr").text  # not a language: Vietnamese
    with acting_as(app, "lanhdao", headers={"Cookie": "ioc_lang=en"}):
        text = str(page_registry["province"]["layout"]().to_plotly_json())
        assert "Alerts" in text and "Resolved on time (7 days)" in text and "Cảnh báo" not in text
        wall = str(page_registry["wall"]["layout"](lang="fr").to_plotly_json())
        assert "Invalid screen address" in wall and "lang='fr': use vi / en" in wall


def visible_text(page, names: list[str]) -> str:
    """What a person reads on the page, without the units' names, the case lists' own words (the
    records' procedure names and citizens' reports are data), the names of officers who
    acknowledged an alert and their notes, and the toggle to Vietnamese."""
    text = page.evaluate(
        """() => {
            const copy = document.body.cloneNode(true);
            copy.querySelectorAll('.lang-toggle, .case-table, script, .offline-note').forEach((e) => e.remove());
            document.body.append(copy); copy.style.display = 'block';
            const text = copy.innerText; copy.remove(); return text;
        }"""
    )
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "")
    text = re.sub(r"acknowledged: [^,\n]+,", "acknowledged: ,", text)  # the officer's own name
    text = re.sub(r"“[^”\n]*”", "“”", text)  # and the note they wrote, in their language
    return text.replace("TÂY NINH", "").replace("Tây Ninh", "")


@pytest.mark.browser
def test_one_click_turns_every_room_to_english_and_back(browser, demo, units) -> None:  # noqa: F811
    port = demo[0]
    base = f"http://127.0.0.1:{port}"
    names = list(units.names().values())
    page = new_page(browser, port, viewport={"width": 1600, "height": 1000})
    context = page.context
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + "/")
    page.wait_for_selector(".fresh-badge.fresh-ok", timeout=30_000)
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert page.locator(".room-header h1").inner_text().startswith("TRUNG TÂM GIÁM SÁT")

    page.click(".lang-toggle")  # "English"
    page.wait_for_url("**/?lang=en")
    page.wait_for_selector(".fresh-badge.fresh-ok", timeout=30_000)
    page.wait_for_function("() => window.ioc_rt && window.ioc_rt.state.snapshots > 0", timeout=20_000)
    page.wait_for_timeout(2_500)  # pushes applied, the clock ticked
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title() == "IOC Tây Ninh"
    assert page.locator(".room-header h1").inner_text() == "TÂY NINH PROVINCE INTELLIGENT OPERATIONS CENTRE"
    assert (
        page.locator(".tile[data-kpi='on_time_rate'] .tile-label").inner_text() == "Resolved on time (7 days)"
    )
    assert re.fullmatch(
        r"\d{1,3}(,\d{3})*", page.locator(".tile[data-kpi='received'] .tile-value").inner_text()
    )
    assert re.fullmatch(
        r"\d{1,3}\.\d%", page.locator(".tile[data-kpi='on_time_rate'] .tile-value").inner_text()
    )
    assert page.locator(".fresh-badge").first.inner_text().startswith("Data as of ")
    assert re.match(
        r"(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day \d\d/\d\d/\d{4} \d\d:\d\d$", page.inner_text("#clock")
    )
    assert page.locator(".alert-when").first.inner_text().startswith("since ")
    left = visible_text(page, names)
    assert not VIETNAMESE.search(left), VIETNAMESE.findall(left)

    # the KPI choice is answered by the server in English too (the cookie, not the address)
    page.locator("#window-pick label", has_text="30 days").click()
    page.wait_for_function(
        "() => document.querySelector(\".tile[data-kpi='on_time_rate'] .tile-label\").innerText.includes('30 days')",
        timeout=10_000,
    )

    # next page: the district room, in English without asking again
    page.locator(".ranking a").first.click()
    page.wait_for_url("**/district/*")
    page.wait_for_selector(".cases-panel h2", timeout=30_000)
    page.wait_for_selector(".fresh-badge.fresh-ok", timeout=30_000)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.inner_text(".cases-panel h2") == "To act on: overdue dossiers and field reports"
    assert page.title() == "District room · IOC Tây Ninh"
    late = page.locator(".case-table .late").first.inner_text()
    assert re.fullmatch(r"(\d+ d )?(\d+ h )?(\d+ min )?late", late), late
    page.locator("#district-window label", has_text="30 days").click()
    page.wait_for_url("**window=30d*")
    left = visible_text(page, names)
    assert not VIETNAMESE.search(left), VIETNAMESE.findall(left)

    # and back to Vietnamese, on the same district with the same state
    page.click(".lang-toggle")
    page.wait_for_url(re.compile(r".*/district/\d+\?.*window=30d.*lang=vi"))
    page.wait_for_selector(".cases-panel h2", timeout=30_000)
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert page.inner_text(".cases-panel h2") == "Việc cần xử lý: hồ sơ và phản ánh quá hạn"
    assert page.locator("#district-window input:checked").get_attribute("value") == "30d"

    # a wall screen keeps its own language in its address, scene after scene
    page.goto(base + "/wall?lang=en&interval=1&dim=off")
    page.wait_for_selector(".wall-number", timeout=30_000)
    titles = set()
    for _i in range(6):
        page.wait_for_timeout(1_000)
        titles.add(page.inner_text("#wall-title"))
        left = visible_text(page, names)
        assert not VIETNAMESE.search(left), VIETNAMESE.findall(left)
    feeds = {"Public services", "Field reports", "Mobile data", "Vaccination"}
    assert titles & feeds and len(titles) >= 4, titles  # sampled once a second: any of them
    assert errors == []
    context.close()
