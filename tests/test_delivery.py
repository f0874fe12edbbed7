"""Alert delivery against real servers: an SMTP server requiring STARTTLS and a login (aiosmtpd), an
HTTP receiver checking the webhook's signature; routing by unit, grouping, escalation, resolution,
a receiver that is down, and a delivery process killed mid-queue."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ioc import alert_store, keys
from ioc.alert_rules import RuleBook
from ioc.config import PROJECT_ROOT, default_alert_rules
from ioc.config_delivery import DeliverySettings
from ioc.deliver import Delivery
from ioc.delivery_log import point_health
from ioc.senders import DELIVERY, senders_of, verify
from layouts.alert_messages import compose
from layouts.health import HealthBoard
from tests.delivery_servers import SMTP_LOGIN, http_receiver, smtp_server
from tests.wait import wait_until

FEED = "public_services"
AT = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 08:00 in Tây Ninh
KEY = "khoa-ky-thu-nghiem-0123456789"
ON_TIME = "dung_han_duoi_90"  # a default rule: on time over 7 days below 90 %, the districts
URGENT = "phan_anh_khan_qua_han"  # a default rule: urgent field reports overdue, the province


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


def condition(unit: str, value: float, rule: str = ON_TIME, feed: str = FEED) -> dict[str, Any]:
    kind, kpi = ("cases", None) if rule == URGENT else ("kpi", "on_time_rate")
    threshold, comparison = (20.0, "above") if rule == URGENT else (0.9, "below")
    return {
        "id": f"{rule}|{unit}",
        "rule": rule,
        "feed": feed,
        "unit": unit,
        "unit_name": unit,
        "kind": kind,
        "kpi": kpi,
        "window": "7d" if kind == "kpi" else None,
        "comparison": comparison,
        "value": value,
        "threshold": threshold,
    }


def set_alerts(r, at: datetime, *conditions: dict[str, Any], feed: str = FEED) -> None:
    """The feed's active alerts become exactly ``conditions``, as an aggregator's commit writes them."""
    previous = alert_store.read_active(r, feed)
    changes = alert_store.reconcile(previous, {c["id"]: c for c in conditions}, at)  # type: ignore[misc]
    pipe = r.pipeline(transaction=True)
    alert_store.write(pipe, feed, changes, previous, at)
    pipe.execute()


def deliveries(r, units, clock, points: dict[str, Any], routes: dict[str, Any], **options: Any) -> Delivery:
    settings = DeliverySettings(
        link_base="https://ioc.tayninh.gov.vn", contact_points=points, routes=routes, **options
    )
    secrets = {settings.secret_name(n): KEY for n in points} | {"IOC_SMTP_PASSWORD": SMTP_LOGIN[1]}
    worker = Delivery(
        r,
        settings,
        units,
        RuleBook(r, default_alert_rules(), units, check_s=0),
        senders_of(settings, secrets),
        feeds=[FEED, "citizen_feedback"],
        k=10,
        compose=compose,
        clock=clock,
    )
    worker.ensure_groups()
    return worker


def run(worker: Delivery, rounds: int = 3) -> None:
    for _ in range(rounds):
        worker.step(block_ms=5)


def hook(receiver, **more: Any) -> dict[str, Any]:
    return {"kind": "webhook", "url": receiver.url, **more}


def events(receiver) -> list[tuple[str, str]]:
    return [(b["event"], b["alert"]["id"]) for b in receiver.bodies()]


def test_an_alert_reaches_the_mailbox_and_the_webhook_in_both_languages(r, units, tmp_path) -> None:
    clock = Clock(AT)
    with smtp_server(tmp_path) as (port, cert, box), http_receiver() as receiver:
        smtp = {
            "host": "localhost",
            "port": port,
            "username": SMTP_LOGIN[0],
            "sender": "IOC Tây Ninh <ioc@tayninh.gov.vn>",
        }
        worker = deliveries(
            r,
            units,
            clock,
            {"lanhdao": {"kind": "email", "to": ["lanhdao@tayninh.gov.vn"]}, "zalo": hook(receiver)},
            {"tat_ca": {"contact_points": ["lanhdao", "zalo"]}},
            smtp=smtp | {"ca_file": cert},
        )
        set_alerts(r, AT, condition("705", 0.865))
        run(worker)
        assert worker.sent == 2 and worker.failed == 0
    ((mail, over_tls, login),) = box.mails
    assert over_tls and login == SMTP_LOGIN[0], "sent without STARTTLS or without logging in"
    assert mail["Subject"] == "[IOC Tây Ninh] CẢNH BÁO: Huyện Tân Biên · đúng hạn 7 ngày"
    body = mail.get_content()
    assert "CẢNH BÁO · Huyện Tân Biên: đúng hạn 7 ngày 86,5% < 90%" in body
    assert "ALERT · Huyện Tân Biên: on time, 7 days 86.5% < 90%" in body
    assert (
        "Từ Thứ Bảy 05/12/2026 08:00" in body
        and "Since Saturday 05/12/2026 08:00" in body
        and "https://ioc.tayninh.gov.vn/district/705" in body
    )
    assert mail["Auto-Submitted"] == "auto-generated" and mail["To"] == "lanhdao@tayninh.gov.vn"
    ((headers, raw),) = receiver.got
    assert verify(KEY.encode(), headers, raw), "the webhook's signature does not verify"
    assert not verify(b"another key", headers, raw) and not verify(KEY.encode(), headers, raw + b" ")
    sent = json.loads(raw)
    assert sent["event"] == "raised" and sent["link"] == "https://ioc.tayninh.gov.vn/district/705"
    assert sent["alert"] | {"since": None} == sent["alert"] | {
        "id": f"{ON_TIME}|705",
        "unit": "705",
        "level": "district",
        "value": 0.865,
        "threshold": 0.9,
        "severity": "warning",
        "since": None,
    }
    assert sent["text"]["vi"].startswith("CẢNH BÁO · Huyện Tân Biên") and headers[DELIVERY]


def test_a_route_by_unit_reaches_that_units_officer_only(r, units) -> None:
    clock = Clock(AT)
    commune_of_705 = units.children("705")[0]
    with http_receiver() as a, http_receiver() as b, http_receiver() as province:
        worker = deliveries(
            r,
            units,
            clock,
            {"truc_705": hook(a), "truc_706": hook(b), "tinh": hook(province)},
            {
                "huyen_705": {"contact_points": ["truc_705"], "units": ["705"]},
                "huyen_706": {"contact_points": ["truc_706"], "units": ["706"]},
                "tinh": {"contact_points": ["tinh"], "units": ["72"], "levels": ["province"]},
            },
        )
        set_alerts(r, AT, condition(commune_of_705, 0.5), condition("705", 0.5))
        set_alerts(r, AT, condition("72", 25, rule=URGENT), feed="citizen_feedback")
        run(worker)
        assert sorted(events(a)) == [("raised", f"{ON_TIME}|{commune_of_705}"), ("raised", f"{ON_TIME}|705")]
        assert events(b) == []
        assert events(province) == [("raised", f"{URGENT}|72")]


def test_repeats_are_grouped_a_resolution_follows_a_raise_and_reminders_wait_the_interval(r, units) -> None:
    clock = Clock(AT)
    with http_receiver() as receiver:
        worker = deliveries(
            r, units, clock, {"zalo": hook(receiver)}, {"tat_ca": {"contact_points": ["zalo"]}}
        )
        alert = f"{ON_TIME}|705"
        set_alerts(r, AT, condition("705", 0.5))  # raised
        set_alerts(r, AT + timedelta(minutes=1), condition("705", 0.6))  # a later commit: no message
        run(worker)
        set_alerts(r, AT + timedelta(minutes=5))  # cleared: the raise was sent, so is this
        set_alerts(r, AT + timedelta(minutes=6), condition("705", 0.5))  # flapping: within the hour
        run(worker)
        assert events(receiver) == [("raised", alert), ("cleared", alert)]
        clock.advance(59)
        run(worker)
        assert len(events(receiver)) == 2, "said again before the interval"
        clock.advance(10)  # 69 minutes: the interval has passed, the alert is still on
        worker.scanned = -1e18
        run(worker)
        assert events(receiver)[-1] == ("reminder", alert)
        assert receiver.bodies()[-1]["text"]["vi"].startswith("VẪN CÒN CẢNH BÁO")
        set_alerts(r, AT + timedelta(minutes=70))
        run(worker)
        assert events(receiver)[-1] == ("cleared", alert) and len(events(receiver)) == 4


def test_an_unacknowledged_alert_escalates_after_the_delay_an_acknowledged_one_does_not(r, units) -> None:
    clock = Clock(AT)
    with http_receiver() as officer, http_receiver() as leader:
        worker = deliveries(
            r,
            units,
            clock,
            {"truc": hook(officer), "lanhdao": hook(leader)},
            {"huyen": {"contact_points": ["truc"], "escalate_after_min": 30, "escalate_to": ["lanhdao"]}},
        )
        set_alerts(r, AT, condition("705", 0.5), condition("706", 0.5))
        run(worker)
        alert_store.acknowledge(r, FEED, f"{ON_TIME}|706", "Trực ban 706", AT + timedelta(minutes=10))
        clock.advance(29)
        worker.scanned = -1e18
        run(worker)
        assert events(leader) == []
        clock.advance(2)
        worker.scanned = -1e18
        run(worker)
        worker.scanned = -1e18
        run(worker)  # once per occurrence
        assert events(leader) == [("escalated", f"{ON_TIME}|705")]
        assert leader.bodies()[0]["text"]["en"].startswith("ESCALATED")
        set_alerts(r, AT + timedelta(minutes=40))
        run(worker)
        assert events(leader)[-1] == ("cleared", f"{ON_TIME}|705"), (
            "the escalated leader never heard it ended"
        )


def test_a_small_count_is_said_as_below_the_public_threshold(r, units) -> None:
    clock = Clock(AT)
    with http_receiver() as receiver:
        worker = deliveries(
            r, units, clock, {"zalo": hook(receiver)}, {"tat_ca": {"contact_points": ["zalo"]}}
        )
        set_alerts(r, AT, {**condition("72", 3, rule=URGENT), "threshold": 2.0}, feed="citizen_feedback")
        run(worker)
    (sent,) = receiver.bodies()
    assert sent["alert"]["value"] is None and sent["alert"]["value_hidden_below"] == 10
    assert "dưới 10" in sent["text"]["vi"] and "3" not in sent["text"]["vi"].split(":")[-1]


def test_a_receiver_that_is_down_gets_the_message_when_it_is_back_once(r, units) -> None:
    clock = Clock(AT)
    with http_receiver(failing=2) as receiver:
        worker = deliveries(
            r,
            units,
            clock,
            {"zalo": hook(receiver)},
            {"tat_ca": {"contact_points": ["zalo"]}},
            retry_first_s=60,
        )
        set_alerts(r, AT, condition("705", 0.5))
        run(worker)
        health = point_health(r, ["zalo"])["zalo"]
        assert health["last_error"] == "webhook 127.0.0.1: HTTP 503" and health["waiting"] == 1
        assert receiver.got == []
        clock.advance(1.1)  # the first retry, after 60 s: down again
        run(worker)
        clock.advance(1.1)  # 120 s later, not yet
        run(worker)
        assert receiver.got == []
        clock.advance(1.1)
        run(worker)
        clock.advance(10)
        run(worker)
        assert events(receiver) == [("raised", f"{ON_TIME}|705")]
        assert point_health(r, ["zalo"])["zalo"]["waiting"] == 0
        assert point_health(r, ["zalo"])["zalo"]["last_success_at"] is not None


def test_a_message_given_up_goes_to_the_dead_letters_with_the_reason(r, units) -> None:
    clock = Clock(AT)
    with http_receiver(failing=100) as receiver:
        worker = deliveries(
            r,
            units,
            clock,
            {"zalo": hook(receiver)},
            {"tat_ca": {"contact_points": ["zalo"]}},
            give_up_h=0.01,
        )
        set_alerts(r, AT, condition("705", 0.5))
        for _ in range(8):
            run(worker, 1)
            clock.advance(1)
    ((_, dead),) = r.xrange(keys.delivery("dead"))
    message = json.loads(dead[b"m"])
    assert message["error"] == "webhook 127.0.0.1: HTTP 503" and message["point"] == "zalo"
    assert r.zcard(keys.delivery("retry")) == 0


# ---- the process ----------------------------------------------------------------------------


def test_killing_the_delivery_process_mid_queue_loses_nothing(r, redis_server, units, tmp_path) -> None:
    """Thirty alerts to a slow receiver; the process is killed with messages still queued, started
    again, and every alert arrives: at least once, and only the one in flight at the kill twice."""
    with http_receiver(delay_s=0.1) as receiver:
        config = tmp_path / "ioc.toml"
        config.write_text(
            f'[redis]\nurl = "{redis_server.url}"\n\n[delivery]\nlink_base = "https://ioc.example"\n'
            f'[delivery.contact_points.zalo]\nkind = "webhook"\nurl = "{receiver.url}"\n'
            '[delivery.routes.tat_ca]\ncontact_points = ["zalo"]\n',
            encoding="utf-8",
        )
        env = {"IOC_CONFIG": str(config), "IOC_CONTACT_ZALO_SECRET": KEY, "PATH": "/usr/bin:/bin"}
        env["IOC_BOUNDARIES__SCHEME"] = units.scheme
        log = tmp_path / "deliver.log"

        def start() -> subprocess.Popen[bytes]:
            with log.open("ab") as out:
                return subprocess.Popen(
                    [sys.executable, "-m", "ioc.cli", "deliver"],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=out,
                    stderr=out,
                )

        process = start()
        wait_until(lambda: _groups_ready(r), 60, f"delivery did not start: {log.read_text()[-2000:]}")
        communes = units.level_codes("commune")[:30]
        set_alerts(r, AT, *(condition(c, 0.5) for c in communes))
        wait_until(
            lambda: len(receiver.got) >= 5, 60, lambda: f"nothing was delivered: {log.read_text()[-3000:]}"
        )
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        got = len(receiver.got)
        assert got < 30, "everything was sent before the kill: nothing was tested"
        process = start()
        try:
            wait_until(lambda: {b["alert"]["unit"] for b in receiver.bodies()} == set(communes), 60, "lost")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(20)
        ids = [h[DELIVERY] for h, _b in receiver.got]
        assert len(ids) - len(set(ids)) <= 1, "more than the message in flight was sent twice"


def _groups_ready(r) -> bool:
    try:
        return any(g["name"] == b"senders" for g in r.xinfo_groups(keys.delivery("outbox")))
    except Exception:
        return False


def test_a_malformed_log_entry_is_logged_and_skipped_not_a_crash_loop(r, units, caplog) -> None:
    clock = Clock(AT)
    with http_receiver() as receiver:
        worker = deliveries(
            r, units, clock, {"zalo": hook(receiver)}, {"tat_ca": {"contact_points": ["zalo"]}}
        )
        r.xadd(keys.alert_log(FEED), {"event": "raised", "id": "x", "rule": ON_TIME, "unit": "705"})
        set_alerts(r, AT, condition("705", 0.5))
        run(worker)
        assert events(receiver) == [("raised", f"{ON_TIME}|705")]
    assert "not routed" in caplog.text
    assert r.xpending(keys.alert_log(FEED), "delivery")["pending"] == 0


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        ({"routes": {"a": {"contact_points": ["nobody"]}}}, "routes.a: no contact point 'nobody'"),
        (
            {"contact_points": {"m": {"kind": "email", "to": ["a@b.vn"]}}},
            "email contact points need [delivery.smtp]",
        ),
        ({"contact_points": {"w": {"kind": "webhook"}}}, "a webhook contact point needs a `url`"),
        ({"contact_points": {"m": {"kind": "email"}}}, "an email contact point needs `to`"),
        (
            {
                "contact_points": {"w": {"kind": "webhook", "url": "https://x"}},
                "routes": {"a": {"contact_points": ["w"], "mute_times": ["dem"]}},
            },
            "routes.a: no mute time 'dem'",
        ),
        (
            {
                "contact_points": {"w": {"kind": "webhook", "url": "https://x"}},
                "routes": {"a": {"contact_points": ["w"], "escalate_to": ["w"]}},
            },
            "give both escalate_after_min and escalate_to",
        ),
    ],
)
def test_a_wrong_delivery_configuration_says_what_is_wrong(delivery, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        DeliverySettings(**delivery)


def test_the_health_board_shows_a_contact_point_that_is_down(r, units) -> None:
    clock = Clock(AT)
    with http_receiver(failing=5) as receiver, http_receiver() as other:
        worker = deliveries(
            r,
            units,
            clock,
            {"zalo": hook(receiver), "sms": hook(other)},
            {"tat_ca": {"contact_points": ["zalo", "sms"]}},
        )
        set_alerts(r, AT, condition("705", 0.5))
        run(worker)
    board = HealthBoard(
        read=list,
        feeds=[],
        live=None,  # type: ignore[arg-type]  # the table needs no relay
        points={"zalo": "webhook", "sms": "webhook"},
        read_points=lambda: point_health(r, ["zalo", "sms"]),
    )
    rows = {
        row.to_plotly_json()["props"]["data-point"]: row
        for row in board.table().children[1].children[1].children
    }
    assert rows["zalo"].className == "point-failing" and rows["sms"].className == "point-ok"
    cells = rows["zalo"].children
    assert "HTTP 503" in cells[2].children.children and cells[3].children == "1"


def test_a_public_holiday_mutes_a_route_and_an_alert_still_on_is_said_the_day_after(r, units) -> None:
    national_day = datetime(2026, 9, 2, 2, 0, tzinfo=UTC)  # Quốc khánh, 09:00 in Tây Ninh
    clock = Clock(national_day)
    with http_receiver() as receiver:
        worker = deliveries(
            r,
            units,
            clock,
            {"zalo": hook(receiver)},
            {"tat_ca": {"contact_points": ["zalo"], "mute_times": ["ngay_le"]}},
            mute_times={"ngay_le": {"holidays": True}},
        )
        set_alerts(r, national_day, condition("705", 0.5))
        run(worker)
        worker.scanned = -1e18
        clock.advance(120)
        run(worker)
        assert events(receiver) == [], "sent on a public holiday"
        clock.advance(24 * 60)  # the day after
        worker.scanned = -1e18
        run(worker)
        assert events(receiver) == [("reminder", f"{ON_TIME}|705")]


def test_a_resolution_in_the_night_waits_for_the_morning(r, units) -> None:
    evening = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # 21:00 in Tây Ninh
    clock = Clock(evening)
    with http_receiver() as receiver:
        worker = deliveries(
            r,
            units,
            clock,
            {"sms": hook(receiver)},
            {"tat_ca": {"contact_points": ["sms"], "mute_times": ["dem"]}},
            mute_times={"dem": {"times": ["22:00-06:00"]}},
        )
        set_alerts(r, evening, condition("705", 0.5))
        run(worker)
        assert events(receiver) == [("raised", f"{ON_TIME}|705")]
        clock.advance(120)  # 23:00
        set_alerts(r, evening + timedelta(minutes=120))
        run(worker)
        clock.advance(6 * 60 + 50)  # 05:50: still night
        run(worker)
        assert len(events(receiver)) == 1, "a resolution woke someone at night"
        clock.advance(15)  # 06:05
        run(worker)
        assert events(receiver)[-1] == ("cleared", f"{ON_TIME}|705")
        assert receiver.bodies()[-1]["event"] == "cleared"


def test_a_mute_time_holds_its_spans_days_and_holidays() -> None:
    import holidays

    from ioc.config_delivery import MuteTime

    vn = holidays.country_holidays("VN")
    local = ZoneInfo("Asia/Ho_Chi_Minh")
    night = MuteTime(times=["22:00-06:00"])
    assert night.holds(datetime(2026, 12, 5, 23, 30, tzinfo=local), vn)
    assert night.holds(datetime(2026, 12, 6, 5, 59, tzinfo=local), vn)
    assert not night.holds(datetime(2026, 12, 6, 6, 0, tzinfo=local), vn)
    weekend = MuteTime(weekdays=["sat", "sun"])
    assert weekend.holds(datetime(2026, 12, 5, 12, 0, tzinfo=local), vn)  # a Saturday
    assert not weekend.holds(datetime(2026, 12, 7, 12, 0, tzinfo=local), vn)
    tet = MuteTime(holidays=True)
    assert tet.holds(datetime(2027, 2, 6, 10, 0, tzinfo=local), vn)  # Tết Đinh Mùi
    with pytest.raises(ValueError, match="not a span like 22:00-06:00"):
        MuteTime(times=["22h-6h"])
