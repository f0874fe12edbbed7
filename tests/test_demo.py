"""The two ways to run the product, as a user runs them: the demo, and production with a file."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import psutil
import pytest
import redis

from ioc import keys
from ioc.privacy import CITIZEN_ID, PHONE
from ioc.redis_server import free_port
from ioc.registry import FEEDS
from ioc.simulators.http import RecordListing, SimulatorServer
from tests.processes import (
    API,
    child_port,
    demo_env,
    demo_password,
    descendants,
    get,
    start_app,
    stop,
    wait_for,
)
from tests.redis_text import everything
from tests.test_kpis import A1, B, C, D
from tests.wait import wait_until

SIMULATOR_PATHS = {name: feed.simulator.path for name, feed in FEEDS.items() if feed.simulator}


def test_demo_serves_kpis_for_every_level(demo) -> None:
    port, _process, _data = demo
    for unit in ("72", "706", "25486"):
        body = get(API.format(port=port, unit=unit, window="30d")).json()
        assert body["unit"] == unit and body["kpis"]["received"]["value"] > 0


def test_demo_numbers_change_while_you_watch(demo) -> None:
    """New dossiers arrive and the province's count for today grows within a minute."""
    port, _process, _data = demo
    url = API.format(port=port, unit="72", window="today")
    first = get(url).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = get(url).json()
        if now["kpis"]["received"]["value"] > first["kpis"]["received"]["value"]:
            assert now["as_of"] >= first["as_of"]
            return
        time.sleep(1)
    pytest.fail("the demo's numbers did not change in 60 s")


def test_production_mode_polls_the_configured_source_only(tmp_path, r, redis_server) -> None:
    """`app.py --config` with a source URL: no simulator starts; the connector reads that source."""
    listing = RecordListing("ma_ho_so", [A1, B, C, D])
    source = SimulatorServer({"/api/v1/hoso": listing}).start()
    port = free_port()
    config = tmp_path / "ioc.toml"
    config.write_text(
        f'[redis]\nurl = "{redis_server.url}"\n[web]\nport = {port}\n[realtime]\nport = {free_port()}\n'
        f'[connectors.public_services]\nurl = "{source.url}"\ninterval_s = 0.5\n',
        encoding="utf-8",
    )
    process = start_app(["--config", str(config)], {"IOC_SECRET_KEY": "test-secret"}, tmp_path / "app.log")
    try:
        body = wait_for(API.format(port=port, unit="72", window="ytd"), process=process).json()
        assert body["kpis"]["received"]["value"] == 4
        names = [command for _child, command in descendants(process.pid)]
        assert not any("simulate" in n for n in names)
        assert any("connector public_services" in n for n in names)
        assert not any("redis-server" in n for n in names)  # the configured Redis, no embedded one
    finally:
        stop(process)
        source.close()


def test_demo_stops_everything_keeps_its_data_and_continues_the_same_world(tmp_path) -> None:
    """SIGTERM stops every component and the embedded redis-server, whose AOF stays in the data
    folder; a second run on the same folder draws the same simulated province as the first."""
    # Small worlds: what is under test is the stop and the second start, not the history.
    port, env = demo_env(
        tmp_path,
        history_days=3,
        simulators__citizen_feedback__history_days="3",
        simulators__vaccination__daily_vaccinations="20",
        simulators__mobile_data__file_history_hours="1",
    )
    env["IOC_AUTH__USERS_FILE"] = ""  # the demo's own accounts, as a newcomer gets them
    url = API.format(port=port, unit="72", window="30d")
    counts, anchors, passwords = [], [], []
    for _run in range(2):
        process = start_app([], env, tmp_path / "app.log")
        try:
            passwords.append(demo_password(tmp_path))
            wait_for(url, process=process, auth=("lanhdao", passwords[-1]))
            children = psutil.Process(process.pid).children(recursive=True)
            assert len(children) >= 5  # redis, simulators, connectors, aggregators, relay, web
            caught_up(process)
            counts.append(get(url, password=passwords[-1]).json()["kpis"]["received"]["value"])
            officer = get(
                f"http://127.0.0.1:{port}/api/v1/cases?feed=public_services&unit=706",
                user="truc-705",
                password=passwords[-1],
            )
            assert officer.status_code == 403  # the demo's duty officer of Tân Biên
        finally:
            assert stop(process) == 0
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == []
        assert list((tmp_path / "redis").glob("appendonly*")), "no AOF in the data folder"
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0
        anchors.append({p.stem: p.read_text() for p in (tmp_path / "simulators").glob("*.anchor")})
    assert set(anchors[0]) == {
        "public_services",
        "citizen_feedback",
        "mobile_data",
        "vaccination",
        "national_index",
    }
    assert anchors[1] == anchors[0]  # each feed's world began once, and the second run kept it
    assert abs(counts[1] - counts[0]) <= 0.02 * counts[0]  # only the dossiers that arrived meanwhile
    assert passwords[1] == passwords[0]  # the accounts were made once


def caught_up(process) -> None:
    """Wait until the demo's public-services aggregator has counted (or dead-lettered) every
    dossier its simulator held when asked: the first snapshot may hold only the first pages."""
    client = redis.Redis(port=child_port(process, "redis-server"))
    source = f"http://127.0.0.1:{child_port(process, 'simulate public_services')}"
    held = httpx.get(source + SIMULATOR_PATHS["public_services"], params={"trang": 1, "so_ban_ghi": 1}).json()
    held = held["tong_so"]

    def counted() -> int:
        meta = client.hget(keys.snapshot("public_services"), keys.META_FIELD)
        records = json.loads(meta)["records"] if meta else 0
        return records + client.xlen(keys.dead_letters("public_services"))

    try:
        wait_until(
            lambda: counted() >= held, 90, lambda: f"{counted()} of the source's {held} dossiers counted"
        )
    finally:
        client.close()


def _listing(port: int, path: str) -> list[dict]:
    """Every record a simulator serves, all pages: the personal data the connectors were sent."""
    records: list[dict] = []
    page = 1
    while True:
        body = httpx.get(f"http://127.0.0.1:{port}{path}", params={"trang": page, "so_ban_ghi": 5000}).json()
        records += body["du_lieu"]
        if len(records) >= body["tong_so"] or not body["du_lieu"]:
            return records
        page += 1


def any_of(words: set[str]) -> re.Pattern[str]:
    """A pattern matching any of ``words``, factored as a trie, longest first. A plain alternation
    of thousands of names tries each one wherever a capital letter starts: a minute over the
    demo's 100 MB of Redis text, where this takes under a second."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = "(?:" + "|".join(branches) + ")" if len(branches) > 1 or ends else branches[0]
        return body + "?" if ends else body

    return re.compile(pattern(trie))


def test_demo_keeps_no_personal_data_anywhere(demo, units) -> None:
    """After the demo has run every feed (pulls, pushes, malformed records), no citizen id, phone
    number or name the simulators sent is in any Redis key or stream (dead letters included,
    compressed blobs decoded), in the log, or in any file of the data folder."""
    _port, process, data = demo
    client = redis.Redis(port=child_port(process, "redis-server"))
    deadline = time.monotonic() + 90
    feeds = ("public_services", "citizen_feedback", "vaccination", "mobile_data")
    while time.monotonic() < deadline:  # every feed has records, and dead letters where it sends them
        lengths = {f: client.xlen(keys.raw_stream(f)) for f in feeds}
        dead = {f: client.xlen(keys.dead_letters(f)) for f in ("citizen_feedback", "vaccination")}
        if all(lengths.values()) and all(dead.values()):
            break
        time.sleep(2)
    else:
        pytest.fail(f"the demo did not fill every feed in time: {lengths}, dead letters {dead}")

    reports = _listing(child_port(process, "simulate citizen_feedback"), SIMULATOR_PATHS["citizen_feedback"])
    doses = _listing(child_port(process, "simulate vaccination"), SIMULATOR_PATHS["vaccination"])
    names = {r["nguoi_phan_anh"]["ho_ten"] for r in reports} | {d["ho_ten"] for d in doses if "ho_ten" in d}
    # A drawn name can also be a place ("Dương Minh Châu" is a district): the unit's name is public.
    places = " ".join(units.names().values())
    names = {n for n in names if n not in places}
    numbers = {r["nguoi_phan_anh"]["so_dien_thoai"] for r in reports}
    numbers |= {d["so_dinh_danh"] for d in doses if d.get("so_dinh_danh")}
    assert len(names) > 100 and len(numbers) > 1000, "too few personal values to make the scan mean much"
    assert any(n in r["noi_dung"] for r in reports for n in names), "no report text carried a name"

    any_name = any_of(names)
    texts = {"redis": everything(client), "log": (data / "app.log").read_text(encoding="utf-8")}
    for path in data.rglob("*"):
        if (
            path.is_file()
            and "redis" not in path.parts
            and path.suffix in {".log", ".csv", ".json", ".jsonl"}
        ):
            texts[str(path.relative_to(data))] = path.read_text(encoding="utf-8", errors="replace")
    for where, text in texts.items():
        digit_runs = set(re.findall(r"\d+", text))  # whole numbers: a phone is never part of a timestamp
        assert not digit_runs & numbers, f"{where}: ids or phones {sorted(digit_runs & numbers)[:5]}"
        found = any_name.findall(text)
        assert not found, f"{where}: names {found[:5]}"
        if where != "redis":  # pseudonyms (hex) and measures hold digit runs of any length there
            assert not PHONE.findall(text) and not CITIZEN_ID.findall(text), where
        for field in (
            "so_dinh_danh",
            "ho_ten",
            "ngay_sinh",
            "nguoi_phan_anh",
        ):  # named in reasons, never kept
            kept = re.search(rf'"{field}":|{field}=|^(?:.*,)?{field}(?:,.*)?$', text, re.MULTILINE)
            assert kept is None, f"{where}: {field} kept ({kept and kept.group()[:80]})"
