"""An attacker against the public views (FEEDS.md ``public.k``, docs/public-views.md): it opens
every public card, map and series of every unit, window and vaccine, writes down every figure
shown as an equation over the counts behind it, and tries every sum and difference of them
(windows inside windows, a total against its vaccines, a parent against its children, days
against totals). No count of health or location data from 1 to k-1 may come out.

The figures are real snapshots: constructed records with small counts in exactly the dangerous
places, aggregated in-process into a real Redis and read through the app's public endpoints."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from ioc.aggregate import Aggregator
from ioc.config import AggregatorSettings
from ioc.feeds import FEED_SPECS
from ioc.kpis import TZ
from ioc.streams import Publication, publish
from ioc.web import create_app
from tests.processes import app_settings

K = 10
AS_OF = datetime(2026, 11, 22, 10, 42, tzinfo=TZ)
WINDOW_STARTS = {  # README, "The KPI API": each window ends at as_of
    "today": datetime(2026, 11, 22, tzinfo=TZ),
    "7d": AS_OF - timedelta(days=7),
    "30d": AS_OF - timedelta(days=30),
    "mtd": datetime(2026, 11, 1, tzinfo=TZ),
    "ytd": datetime(2026, 1, 1, tzinfo=TZ),
}
SERIES_START = AS_OF.replace(minute=0) - timedelta(hours=167)  # 7 days of hours, the last one now
DAY_STARTS = [SERIES_START + timedelta(days=d) for d in range(7)]  # the series' days, 24 h each
# the periods between every two moments at which a public figure starts: the unknowns' times
BOUNDS = sorted({*WINDOW_STARTS.values(), *DAY_STARTS})
DPT, MR, COVID = "DPT-VGB-Hib", "Sởi-Rubella", "COVID-19"


def at(month: int, day: int, hour: int = 14, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


def atom(moment: datetime) -> int | None:
    """Which period between two boundaries a moment is in (None: before every window)."""
    if moment < BOUNDS[0] or moment > AS_OF:
        return None
    return max(i for i, b in enumerate(BOUNDS) if b <= moment)


def atoms_from(start: datetime, end: datetime | None = None) -> list[int]:
    last = BOUNDS.index(end) if end is not None else len(BOUNDS)
    return list(range(BOUNDS.index(start), last))


WINDOW_ATOMS = {w: atoms_from(s) for w, s in WINDOW_STARTS.items()}
DAY_ATOMS = [atoms_from(s, DAY_STARTS[i + 1] if i < 6 else None) for i, s in enumerate(DAY_STARTS)]
INTERVALS = list(itertools.combinations(range(len(BOUNDS) + 1), 2))  # periods [BOUNDS[i], BOUNDS[j])


class Attacker:
    """What a reader can compute from the figures shown. Each figure is an equation "these
    non-negative unknowns add up to this value" (so a figure of 0 makes each of them 0); a set of
    unknowns is recovered when the sum over it is a linear combination of the equations."""

    def __init__(self) -> None:
        self.equations: list[frozenset[Hashable]] = []
        self.zero: set[Hashable] = set()

    def learn(self, unknowns: Iterable[Hashable], value: float | None) -> None:
        keys = frozenset(unknowns)
        if value is None or not keys:
            return
        if round(value, 9) == 0:
            self.zero |= keys
        else:
            self.equations.append(keys)

    def solve(self) -> None:
        live = sorted({u for keys in self.equations for u in keys} - self.zero, key=repr)
        self.index = {u: i for i, u in enumerate(live)}
        matrix = np.zeros((len(self.equations), len(live)))
        for row, keys in enumerate(self.equations):
            matrix[row, [self.index[u] for u in keys - self.zero]] = 1.0
        _u, sizes, rows = np.linalg.svd(matrix, full_matrices=False)
        self.basis = rows[sizes > 1e-9 * (sizes.max() if sizes.size else 1.0)]

    def recovered(self, targets: list[list[Hashable]]) -> list[bool]:
        """For each set of unknowns, whether its sum can be worked out exactly."""
        found = []
        vectors = np.zeros((len(targets), len(self.index)))
        for row, unknowns in enumerate(targets):
            live = [u for u in unknowns if u not in self.zero]
            if any(u not in self.index for u in live):
                vectors[row, :] = np.nan  # an unknown no figure mentions: never recovered
            else:
                vectors[row, [self.index[u] for u in live]] = 1.0
        residual = vectors - (vectors @ self.basis.T) @ self.basis
        for row in range(len(targets)):
            found.append(bool(np.all(np.isfinite(residual[row])) and np.linalg.norm(residual[row]) < 1e-6))
        return found


def areas(units) -> dict[str, list[str]]:
    """Every set of communes a reader might single out: each unit, and each pair of siblings."""
    communes = {c: [c] for c in units.level_codes("commune")}
    for level in ("district", "province"):
        for code in units.level_codes(level):
            communes[code] = [c for child in units.children(code) for c in communes[child]]
    found = dict(communes)
    for parent in units.codes:
        for a, b in itertools.combinations(units.children(parent), 2):
            found[f"{a}+{b}"] = communes[a] + communes[b]
    return found


def small_periods(counts: np.ndarray) -> list[tuple[int, int, float]]:
    """The periods ``[BOUNDS[i], BOUNDS[j])`` whose count (of periods ``counts``) is from 1 to k-1."""
    running = np.concatenate([[0.0], np.cumsum(counts)])
    return [(i, j, running[j] - running[i]) for i, j in INTERVALS if 0 < running[j] - running[i] < K]


def leaks(attacker: Attacker, small: list[tuple[str, list[Hashable]]]) -> list[str]:
    """The small counts (named, with their unknowns) that the attacker recovers."""
    found = attacker.recovered([keys for _name, keys in small])
    return [name for (name, _keys), hit in zip(small, found, strict=True) if hit]


def period(i: int, j: int) -> str:
    end = f"{BOUNDS[j]:%d/%m %H:%M}" if j < len(BOUNDS) else "now"
    return f"{BOUNDS[i]:%d/%m %H:%M}–{end}"


def aggregate(r, units, feed: str, records: pl.DataFrame) -> None:
    spec = FEED_SPECS[feed]
    publish(
        r,
        Publication(feed, "test", records.select(list(spec.schema)), [], None),
        maxlen=10**6,
        dead_maxlen=10,
    )
    # A year loaded at once, as a backfill: the re-delivery horizon of mobile data opened to the
    # whole year, or its rows older than 48 hours would be refused (tests/test_horizon.py)
    settings = AggregatorSettings(read_count=100, interval_s=0.05, horizons_h={"mobile_data": 400 * 24})  # type: ignore[call-arg]
    worker = Aggregator(r, spec, units, settings, clock=lambda: AS_OF.astimezone(UTC))
    assert worker.open()
    worker.drain()


def card(http, panel: str, **args: Any) -> dict[str, Any] | None:
    query = "&".join(f"{k}={v}" for k, v in args.items() if v is not None)
    reply = http.get(f"/api/v1/cards/{panel}?{query}")
    return reply.get_json() if reply.status_code == 200 else None


def check_hidden_reads_under_k(body: dict[str, Any]) -> None:
    for shown in [body, *body.get("units", [])]:
        if shown.get("hidden") and "text" in shown:
            assert shown["value"] is None and shown["text"] == f"dưới {K}", shown


# ---- vaccination ---------------------------------------------------------------------------


class Doses:
    """Dose records as the connector hands them on, and the truth behind every public figure."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.people = 0

    def give(
        self, unit: str, vaccine: str, when: datetime, count: int = 1, *, numbers: tuple[int, ...] = (1,)
    ) -> None:
        """``count`` people of ``unit`` each get the doses ``numbers`` of ``vaccine``, a month
        apart, the first at ``when``."""
        for _ in range(count):
            self.people += 1
            for step, number in enumerate(numbers):
                given = when + timedelta(days=30 * step)
                self.rows.append(
                    {
                        "id": f"M{len(self.rows):06d}",
                        "person": f"P{self.people:06d}",
                        "age_band": None,
                        "sex": None,
                        "unit_code": unit,
                        "vaccine": vaccine,
                        "dose_number": number,
                        "given_at": given.astimezone(UTC),
                        "site": None,
                        "updated_at": given.astimezone(UTC),
                    }
                )

    def busy(self, unit: str) -> None:
        """Every window, vaccine and day of the series at 10 or more (or 0)."""
        for day in range(15, 22):
            self.give(unit, DPT, at(11, day), 12)
        self.give(unit, DPT, at(11, 22, 8), 12)  # today
        self.give(unit, DPT, at(11, 5), 20)
        self.give(unit, DPT, at(10, 28), 20)
        self.give(unit, DPT, at(1, 10), 30, numbers=(1, 2, 3))
        self.give(unit, DPT, at(3, 2), 15)
        self.give(unit, MR, at(6, 2), 15)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=FEED_SPECS["vaccination"].schema)

    def truth(self) -> Counter:
        found: Counter = Counter()
        people: dict[tuple[str, str], set[str]] = {}
        series: dict[tuple[str, str], set[int]] = {}  # DPT, the three-dose series
        for row in self.rows:
            when = row["given_at"]
            if (index := atom(when)) is not None:
                found["doses", row["unit_code"], row["vaccine"], index] += 1
            people.setdefault((row["unit_code"], row["vaccine"]), set()).add(row["person"])
            if row["vaccine"] == DPT:
                series.setdefault((row["unit_code"], row["person"]), set()).add(row["dose_number"])
        for (unit, vaccine), who in people.items():
            found["people", unit, vaccine] = len(who)
        for (unit, _person), numbers in series.items():
            if 1 in numbers:
                found["dropped" if 3 not in numbers else "completed", unit] += 1
        return found


def vaccination_records(units) -> Doses:
    """Small counts where they hurt. In Thành phố Tây Ninh (703): a commune with 3 COVID-19 doses
    beside hundreds of others (its total minus its shown vaccines); one with 5 measles doses in
    the week, whose smallest sister would be hidden only to protect it (and show its days); one
    with 60 today, 3 more in the week and 2 more in the year (nested windows); one with 1 of 12
    children not finishing DPT (8%); one with a day of 2. Measles and COVID-19 are one dose each
    and all this year, so their people are their doses of the year. Elsewhere, a district whose
    one commune has 4 doses, and another whose one commune has 40 (the parent/child neighbour)."""
    city = units.children("703")
    doses = Doses()
    doses.busy(city[0])  # stays visible
    doses.busy(city[1])
    doses.give(city[1], COVID, at(11, 5), 3)
    for day in range(15, 20):
        doses.give(city[2], DPT, at(11, day), 10)
    doses.give(city[3], MR, at(11, 18), 5)
    doses.give(city[4], DPT, at(11, 22, 8), 60)
    doses.give(city[4], DPT, at(11, 18, 9), 3)
    doses.give(city[4], DPT, at(6, 1), 2)
    doses.give(city[5], DPT, at(3, 1), 11, numbers=(1, 2, 3))
    doses.give(city[5], DPT, at(3, 1), 1)
    for day in range(15, 21):
        doses.give(city[6], DPT, at(11, day), 12)
    doses.give(city[6], DPT, at(11, 21, 15), 2)
    doses.give(city[7], COVID, at(11, 6), 15)
    doses.give(city[8], MR, at(11, 17), 10)  # measles this week beside the 5 (one dose each)
    doses.give(units.children("709")[0], DPT, at(6, 3), 4)
    doses.give(units.children("711")[0], DPT, at(6, 4), 40)
    return doses


@pytest.fixture
def vaccination(r, redis_server, units):
    doses = vaccination_records(units)
    aggregate(r, units, "vaccination", doses.frame())
    app = create_app(app_settings(redis_server), r)
    return app.server.test_client(), doses  # no login: cards are public


def leaves_of(units) -> dict[str, list[str]]:
    return {name: keys for name, keys in areas(units).items() if "+" not in name}


def test_no_small_vaccination_count_comes_out_of_every_public_figure(vaccination, units) -> None:
    """Every card, map and series of every unit, window and vaccine, and every sum and difference
    of them: no count of doses, people, dropped-out or completed children from 1 to 9."""
    http, doses = vaccination
    truth = doses.truth()
    leaves = leaves_of(units)
    vaccines = [COVID, DPT, MR]
    attacker = Attacker()
    shown_values: dict[tuple[str, str, str | None], Any] = {}

    def doses_of(unit: str, vaccine: str | None, atoms: list[int]) -> list[Hashable]:
        return [
            ("doses", c, v, a)
            for c in leaves[unit]
            for v in ([vaccine] if vaccine else vaccines)
            for a in atoms
        ]

    def learn_days(unit: str, days: list[float | None]) -> None:
        for index, value in zip(range(7 - len(days), 7), days, strict=True):
            attacker.learn(doses_of(unit, None, DAY_ATOMS[index]), value)

    for unit in units.codes:
        for window in WINDOW_STARTS:
            for vaccine in [None, *vaccines]:
                body = card(http, "vaccination.doses", unit=unit, window=window, vaccine=vaccine)
                assert body is not None
                check_hidden_reads_under_k(body)
                shown_values[unit, window, vaccine] = body["value"]
                attacker.learn(doses_of(unit, vaccine, WINDOW_ATOMS[window]), body["value"])
                if body.get("trend"):
                    learn_days(unit, body["trend"]["daily"])
                if vaccine is None:
                    continue
                people = card(
                    http, "vaccination.people_first_dose", unit=unit, window=window, vaccine=vaccine
                )
                assert people is not None
                check_hidden_reads_under_k(people)
                if vaccine in (MR, COVID):  # one dose each, all this year: people are the year's doses
                    attacker.learn(doses_of(unit, vaccine, WINDOW_ATOMS["ytd"]), people["value"])
                attacker.learn([("people", c, vaccine) for c in leaves[unit]], people["value"])
                for rate in ("coverage_first_dose", "dropout_rate"):
                    body = card(http, f"vaccination.{rate}", unit=unit, window=window, vaccine=vaccine)
                    assert body is not None
                    check_hidden_reads_under_k(body)
                    if body["value"] is not None:  # whole percent (FEEDS.md §4)
                        assert abs(body["value"] * 100 - round(body["value"] * 100)) < 1e-9, body
                    if rate == "dropout_rate" and body["value"] is not None:
                        # worst case: the reader knows how many children started the series
                        started = sum(truth["dropped", c] + truth["completed", c] for c in leaves[unit])
                        fits = [
                            n for n in range(started + 1) if abs(n / started - body["value"]) <= 0.005 + 1e-9
                        ]
                        if len(fits) == 1:
                            attacker.learn([("dropped", c) for c in leaves[unit]], fits[0])
                            attacker.learn([("completed", c) for c in leaves[unit]], started - fits[0])
        series = card(http, "vaccination.doses.series", unit=unit, days=7)
        assert series is not None
        learn_days(unit, [d["value"] for d in series["days"]])
    for window in WINDOW_STARTS:
        for vaccine in [None, *vaccines]:
            body = card(http, "vaccination.doses.map", unit="72", window=window, vaccine=vaccine)
            assert body is not None
            check_hidden_reads_under_k(body)
            for shown in body["units"]:
                attacker.learn(doses_of(shown["code"], vaccine, WINDOW_ATOMS[window]), shown["value"])
    attacker.solve()

    small: list[tuple[str, list[Hashable]]] = []
    for name, communes in areas(units).items():
        for vaccine in [None, *vaccines]:
            picked = [vaccine] if vaccine else vaccines
            per_period = [
                sum(truth["doses", c, v, a] for c in communes for v in picked) for a in range(len(BOUNDS))
            ]
            for i, j, count in small_periods(np.array(per_period)):
                keys = [("doses", c, v, a) for c in communes for v in picked for a in range(i, j)]
                small.append((f"doses of {name} ({vaccine or 'all'}), {period(i, j)}: {count:.0f}", keys))
        for key in [*(("people", v) for v in vaccines), ("dropped",), ("completed",)]:
            keys = [(key[0], c, *key[1:]) for c in communes]
            if 0 < (count := sum(truth[u] for u in keys)) < K:
                small.append((f"{' '.join(key)} of {name}: {count}", keys))
    city, elsewhere = units.children("703"), units.children("709")[0]
    dangerous = [f"doses of {c} " for c in (city[1], city[3], city[4], city[6], elsewhere)]
    for place in [*dangerous, f"dropped of {city[5]}:"]:  # the data has its small counts
        assert any(name.startswith(place) for name, _keys in small), place
    assert leaks(attacker, small) == []

    # what is safe stays visible: the busy commune, its city and the province, every window
    busy = units.children("703")[0]
    for unit in (busy, "703", "72"):
        for window in WINDOW_STARTS:
            assert (
                shown_values[unit, window, None] is not None and shown_values[unit, window, DPT] is not None
            )
    assert shown_values[busy, "today", DPT] == 12 and shown_values["72", "ytd", None] == len(doses.rows)
    series = card(http, "vaccination.doses.series", unit=busy, days=7)
    assert (
        series is not None
        and not series["hidden"]
        and [d["value"] for d in series["days"]] == [12.0] * 6 + [24.0]
    )
    dropout = card(http, "vaccination.dropout_rate", unit=busy, vaccine=DPT)
    assert dropout is not None and dropout["text"] == "83%"  # 151 of 181 children: whole percent


# ---- mobile data ---------------------------------------------------------------------------


class Periods:
    """Operators' 15-minute counters of cells, as the connector hands them on."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def count(self, unit: str, start: datetime, subscribers: int) -> None:
        cell = f"C{unit}"
        self.rows.append(
            {
                "operator": "Viettel",
                "cell": cell,
                "technology": "4G",
                "lat": 11.31,
                "lon": 106.098,
                "period_start": start.astimezone(UTC),
                "minutes": 15,
                "down_mb": 30.0 * subscribers,
                "up_mb": 2.0 * subscribers,
                "subscribers": subscribers,
                "key": f"Viettel|{cell}|{start.isoformat()}",
                "unit_code": unit,
            }
        )

    def busy(self, unit: str, *, edge: int = 50) -> None:
        for day in range(15, 22):
            self.count(unit, at(11, day), 50)
        self.count(unit, at(11, 15, 10, 45), edge)  # in the 7 days, before the series' first hour
        for moment in (at(11, 22, 8), at(11, 5), at(10, 28), at(6, 1)):
            self.count(unit, moment, 50)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=FEED_SPECS["mobile_data"].schema)

    def truth(self) -> Counter:
        found: Counter = Counter()
        for row in self.rows:
            if (index := atom(row["period_start"])) is not None:
                found["subscribers", row["unit_code"], index] += row["subscribers"]
                found["traffic", row["unit_code"], index] += row["down_mb"] + row["up_mb"]
        return found


def mobile_records(units) -> Periods:
    """One commune with 50 subscribers today and a unit-hour of 3 earlier in the week (nested
    windows, a day of the series); one with a unit-hour of 4 in the quarter hour that the 7 days
    hold and the series' days do not; two busy communes beside them."""
    city = units.children("703")
    periods = Periods()
    periods.busy(city[0])
    periods.busy(city[1])
    periods.count(city[2], at(11, 22, 8), 50)
    periods.count(city[2], at(11, 18, 9), 3)
    periods.busy(city[3], edge=4)
    periods.busy(city[4])
    periods.count(city[4], at(6, 2), 50)  # the largest: never the complement
    return periods


@pytest.fixture
def mobile(r, redis_server, units):
    periods = mobile_records(units)
    aggregate(r, units, "mobile_data", periods.frame())
    app = create_app(app_settings(redis_server), r)
    return app.server.test_client(), periods


def test_no_unit_hour_under_k_subscribers_comes_out_of_every_public_figure(mobile, units) -> None:
    """Subscribers and traffic of every unit and window, their days and trends: neither the
    subscriber count of a period with 1 to 9 nor its traffic can be worked out."""
    http, periods = mobile
    truth = periods.truth()
    leaves = leaves_of(units)
    subscribers, traffic = Attacker(), Attacker()

    def keys(measure: str, unit: str, atoms: list[int]) -> list[Hashable]:
        return [(measure, c, a) for c in leaves[unit] for a in atoms]

    for unit in units.codes:
        for measure, attacker in (("subscribers", subscribers), ("traffic_gb", traffic)):
            name = "subscribers" if measure == "subscribers" else "traffic"
            for window in WINDOW_STARTS:
                body = card(http, f"mobile_data.{measure}", unit=unit, window=window)
                assert body is not None
                check_hidden_reads_under_k(body)
                attacker.learn(keys(name, unit, WINDOW_ATOMS[window]), body["value"])
                daily = (body.get("trend") or {}).get("daily", [])
                for index, value in zip(range(7 - len(daily), 7), daily, strict=True):
                    attacker.learn(keys(name, unit, DAY_ATOMS[index]), value)
            series = card(http, f"mobile_data.{measure}.series", unit=unit, days=7)
            days = [d["value"] for d in series["days"]] if series else []
            for index, value in zip(range(7 - len(days), 7), days, strict=True):
                attacker.learn(keys(name, unit, DAY_ATOMS[index]), value)
    for measure, attacker in (("subscribers", subscribers), ("traffic_gb", traffic)):
        for window in WINDOW_STARTS:
            body = card(http, f"mobile_data.{measure}.map", unit="72", window=window)
            assert body is not None
            check_hidden_reads_under_k(body)
            for shown in body["units"]:
                name = "subscribers" if measure == "subscribers" else "traffic"
                attacker.learn(keys(name, shown["code"], WINDOW_ATOMS[window]), shown["value"])
    traffic.zero |= {("traffic", *key[1:]) for key in subscribers.zero}  # no subscribers, no traffic
    subscribers.solve()
    traffic.solve()

    small: dict[str, list[tuple[str, list[Hashable]]]] = {"subscribers": [], "traffic": []}
    for name, communes in areas(units).items():
        per_period = [sum(truth["subscribers", c, a] for c in communes) for a in range(len(BOUNDS))]
        for i, j, count in small_periods(np.array(per_period)):
            for measure in small:
                unknowns = [(measure, c, a) for c in communes for a in range(i, j)]
                small[measure].append(
                    (f"{measure} of {name}, {period(i, j)} ({count:.0f} subscribers)", unknowns)
                )
    city = units.children("703")
    for place in (f"subscribers of {city[2]}, ", f"subscribers of {city[3]}, "):
        assert any(name.startswith(place) for name, _keys in small["subscribers"]), place
    assert leaks(subscribers, small["subscribers"]) + leaks(traffic, small["traffic"]) == []

    # what is safe stays visible: the province, the city, and all busy communes but a complement
    for window in WINDOW_STARTS:
        for unit in ("72", "703"):
            body = card(http, "mobile_data.subscribers", unit=unit, window=window)
            assert body is not None and body["value"] is not None and not body["hidden"]
        busy = [
            card(http, "mobile_data.subscribers", unit=c, window=window) for c in (city[0], city[1], city[4])
        ]
        assert sum(not b["hidden"] for b in busy if b is not None) == 2
    days = card(http, "mobile_data.traffic_gb.series", unit=city[4], days=7)
    assert days is not None and not days["hidden"] and days["days"][0]["value"] == 1.562  # 50 × 32 MB in GB
