"""Screenshots of every screen, as a user sees them, for the README.

    uv run python -m tests.screenshots                  # writes tests/screenshots/*.png
    uv run python -m tests.screenshots --scheme 2025    # ... and province-2025.png

Starts the demo on free ports in a temporary folder, waits until every feed has numbers, and
opens each screen at its intended size in Debian's headless Chromium. Fails (exit 1) if a page
logs a console error or requests anything outside 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ioc.config import PROJECT_ROOT
from tests.processes import API, PASSWORD, demo_env, get, start_app, stop, wait_for
from tests.test_browser import CHROMIUM, FLAGS, new_page

SCREENS = (  # name, path, viewport
    ("province", "/", (1600, 1000)),
    ("province-reports", "/?feed=citizen_feedback", (1600, 1000)),
    ("district", "/district/706", (1600, 1000)),
    ("health", "/health-board", (1600, 700)),
    ("wall", "/wall?interval=600&dim=off", (1920, 1080)),  # the exception scene, held still, by day
    ("wall-4k", "/wall?interval=600&offset=6&dim=off", (3840, 2160)),  # a district of the tour
    ("province-en", "/?lang=en", (1600, 1000)),  # the English toggle
    ("wall-en", "/wall?lang=en&interval=600&offset=1&dim=off", (1920, 1080)),  # a feed's scene
    ("scorecard", "/scorecard", (1600, 1000)),  # the national 766 index
    ("scorecard-en", "/scorecard?lang=en", (1600, 1000)),
    ("scorecard-drill", "/scorecard/2.1", (1600, 1000)),  # an indicator by district
    ("scorecard-district", "/scorecard?unit=705", (1600, 1000)),
    ("wall-scorecard", "/wall?interval=600&scenes=scorecard&dim=off", (1920, 1080)),
    ("wall-scorecard-4k", "/wall?interval=600&scenes=scorecard&dim=off", (3840, 2160)),
)
SCREENS_2025 = (
    ("province-2025", "/", (1600, 1000)),
    ("area-2025", "/area/705", (1600, 1000)),  # Khu vực Tân Biên cũ
    ("commune-2025", "/commune/25486", (1600, 1000)),  # Xã Tân Biên
    ("wall-2025", "/wall?interval=600&dim=off", (1920, 1080)),  # the exception scene
    ("wall-area-2025", "/wall?interval=600&scenes=districts&offset=1&dim=off", (1920, 1080)),  # an area
    ("scorecard-2025", "/scorecard", (1600, 1000)),
    ("scorecard-drill-2025", "/scorecard/5.1", (1600, 1000)),  # an indicator by area
)
ADMIN = (  # as the administrator
    ("admin-audit", "/admin/audit", (1600, 900)),
    ("admin-accounts", "/admin/accounts", (1600, 900)),
    ("admin-alert-rules", "/admin/alert-rules", (1600, 900)),
    ("admin-alert-rule", "/admin/alert-rules/dung_han_duoi_90", (1600, 700)),
    ("silences", "/silences", (1600, 800)),
)
EMBEDS = (  # name, panel, unit, viewport: phones in Tây Ninh Smart
    ("embed-tile", "public_services.received", "706", (360, 300)),
    ("embed-map", "vaccination.doses.map", "72", (360, 300)),
    ("embed-series", "public_services.received.series", "706", (360, 300)),
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "tests" / "screenshots")
    parser.add_argument("--settle-s", type=float, default=60, help="demo time before the first shot")
    parser.add_argument("--scheme", choices=("pre2025", "2025"), default="pre2025")
    parser.add_argument("--only", nargs="*", help="take only these shots (names, e.g. admin-audit)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        port, env = demo_env(Path(folder), history_days=60, boundaries__scheme=args.scheme)
        unit = "72" if args.scheme == "pre2025" else "80"
        process = start_app([], env, Path(folder) / "app.log")
        try:
            wait_for(API.format(port=port, unit=unit, window="7d"), process=process)
            for feed in ("citizen_feedback", "mobile_data", "vaccination"):
                wait_for(API.format(port=port, unit=unit, window="7d").replace("public_services", feed))
            time.sleep(args.settle_s)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                screens = [
                    (*shot, "lanhdao") for shot in (SCREENS if args.scheme == "pre2025" else SCREENS_2025)
                ]
                screens += [(*shot, "quantri") for shot in ADMIN if args.scheme == "pre2025"]
                _activity(port, unit)  # something for the audit log's shot to show
                for name, path, (width, height), user in screens:
                    if args.only and name not in args.only:
                        continue
                    page = _watched(
                        new_page(browser, port, user, viewport={"width": width, "height": height}),
                        name,
                        problems,
                    )
                    page.goto(f"http://127.0.0.1:{port}{path}")
                    page.wait_for_selector(
                        "main.admin" if user == "quantri" else ".fresh-badge.fresh-ok", timeout=30_000
                    )
                    page.wait_for_timeout(3000)
                    page.screenshot(path=str(args.out / f"{name}.png"))
                    print(f"{args.out / f'{name}.png'}  ({width}×{height})")
                for name, panel, unit_code, (width, height) in EMBEDS if args.scheme == "pre2025" else ():
                    if args.only and name not in args.only:
                        continue
                    page = _watched(
                        browser.new_page(viewport={"width": width, "height": height}), name, problems
                    )
                    minted = httpx.post(
                        f"http://127.0.0.1:{port}/api/v1/embed-tokens",
                        json={"panel": panel, "unit": unit_code},
                        auth=("quantri", PASSWORD),
                    )
                    page.goto(f"http://127.0.0.1:{port}{minted.json()['url']}")
                    page.wait_for_function("() => window.ioc_embed && window.ioc_embed.mode === 'live'")
                    page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
                    print(f"{args.out / f'{name}.png'}  ({width}×{height})")
                if (
                    args.scheme == "pre2025" and not args.only
                ):  # the three phones side by side, for the README
                    _side_by_side(
                        browser, [args.out / f"{e[0]}.png" for e in EMBEDS], args.out / "embeds.png"
                    )
                browser.close()
            print(get(API.format(port=port, unit=unit, window="7d")).json()["as_of"])
        finally:
            stop(process)
    for problem in problems:
        print("problem:", problem, file=sys.stderr)
    return 1 if problems else 0


def _activity(port: int, province: str) -> None:
    """What a morning of a duty room leaves in the audit log: case lists opened, a refusal."""
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, auth=("lanhdao", PASSWORD)) as leader:
        leader.get(f"/api/v1/cases?feed=public_services&unit={province}")
        leader.get("/api/v1/cases?feed=citizen_feedback&unit=706")
    with httpx.Client(base_url=base, auth=("truc-705", PASSWORD)) as officer:
        officer.get("/api/v1/cases?feed=public_services&unit=705")
        officer.get("/api/v1/cases?feed=public_services&unit=706")  # refused: outside the scope
        reason = "Mất điện có kế hoạch ở Tân Biên, 8:00-12:00"
        officer.post("/api/v1/silences", json={"unit": "705", "hours": 4, "reason": reason})
    with httpx.Client(base_url=base, auth=("lanhdao", PASSWORD)) as leader:
        reason = "Nhà mạng bảo trì hệ thống đếm lưu lượng"
        leader.post("/api/v1/silences", json={"feed": "mobile_data", "hours": 2, "reason": reason})


def _side_by_side(browser, shots: list[Path], out: Path) -> None:
    images = "".join(
        f'<img src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">' for p in shots
    )
    page = browser.new_page(viewport={"width": 1140, "height": 800})
    page.set_content(
        f'<body style="margin:0;background:#d9dee3;display:flex;gap:24px;align-items:flex-start;padding:16px">{images}</body>'
    )
    page.locator("body").screenshot(path=str(out))
    for shot in shots:
        shot.unlink()
    print(out)


def _watched(page, name: str, problems: list[str]):
    """Every console error, page error and request outside this host becomes a problem."""
    page.on("console", lambda m: problems.append(f"{name}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"{name}: {e}"))
    page.on("request", lambda q: _local(q.url) or problems.append(f"{name}: {q.url}"))
    return page


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1"


if __name__ == "__main__":
    sys.exit(main())
