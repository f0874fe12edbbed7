"""The province's targets as configuration: mistakes named by key, the projection worked out by
hand, the answer of ``GET /api/v1/targets``, and panels coloured against the configured target."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ioc import scorecard
from ioc.config import ConfigError, load_settings
from ioc.config_scorecard import Target, default_targets
from ioc.feeds import FEED_SPECS
from ioc.index766 import Period, weeks_kept
from ioc.snapshots import SnapshotReader
from ioc.targets import Goals, Projection, project, target_for, targets_answer
from layouts.communes import ranked_communes
from layouts.province import kpi_info, tiles
from layouts.room_data import FeedView, RoomData

MONDAY = date(2026, 9, 7)  # the first of twelve complete ISO weeks
WEEKS = [MONDAY + timedelta(weeks=i) for i in range(12)]
TODAY = date(2026, 12, 4)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ioc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def target_table(**fields: str) -> str:
    given = {"metric": '"3.3"', "goal": "0.9", "deadline": "2026-12-31", "label": '"Nộp trực tuyến"'} | fields
    return "[targets.nop]\n" + "".join(f"{k} = {v}\n" for k, v in given.items())


# ---- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": '"9.9"'}, "targets.nop.metric: Value error, unknown metric '9.9'; metrics: 1.1,"),
        ({"metric": '"public_services.received"'}, "targets.nop.metric: Value error, unknown metric"),
        ({"metric": '"2.2"'}, "targets.nop.metric: Value error, unknown metric '2.2'"),  # days, not a rate
        ({"goal": "95"}, "targets.nop.goal: Input should be less than or equal to 1 (got 95)"),
        ({"goal": "-0.1"}, "targets.nop.goal: Input should be greater than or equal to 0"),
        ({"deadline": '"2026-13-01"'}, "targets.nop.deadline: Input should be a valid date"),
        ({"deadline": '"cuối năm"'}, "targets.nop.deadline: Input should be a valid date"),
        ({"colour": '"red"'}, "targets.nop.colour: Extra inputs are not permitted"),
    ],
)
def test_a_mistake_in_a_target_names_its_key(tmp_path, fields, message) -> None:
    path = write(tmp_path, target_table(**fields))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_files_targets_replace_the_defaults(tmp_path) -> None:
    settings = load_settings(write(tmp_path, target_table(unit='"706"')))
    assert list(settings.targets) == ["nop"]
    assert settings.targets["nop"] == Target(
        metric="3.3", unit="706", goal=0.9, deadline=date(2026, 12, 31), label="Nộp trực tuyến"
    )
    assert "ho_so_truc_tuyen" in load_settings().targets  # no file: the demo's


def test_a_target_for_an_unknown_unit_is_refused_when_the_unit_table_is_read(units) -> None:
    targets = {"nop": Target(metric="3.3", unit="999", goal=0.9, deadline=TODAY, label="x")}
    with pytest.raises(ConfigError, match=r"^targets\.nop\.unit: no unit '999' in scheme pre2025$"):
        Goals(targets, units)


# ---- which target a panel colours against -----------------------------------------------------


def test_a_kpi_finds_its_target_by_name_or_by_its_indicator(units) -> None:
    """The online rate's target may be set on the KPI or on indicator 3.3; the first in the
    configuration wins; a KPI without one has none."""
    on_kpi = Target(metric="public_services.online_rate", goal=0.5, deadline=TODAY, label="a")
    on_indicator = Target(metric="3.3", goal=0.95, deadline=TODAY, label="b")
    both = {"a": on_kpi, "b": on_indicator}
    assert target_for(both, "public_services", "online_rate", "706", units) is on_kpi
    assert (
        target_for({"b": on_indicator, "a": on_kpi}, "public_services", "online_rate", "72", units)
        is on_indicator
    )
    assert target_for(both, "public_services", "received", "72", units) is None
    assert target_for(both, "citizen_feedback", "online_rate", "72", units) is None


def test_a_units_own_target_comes_before_its_districts_and_the_provinces(units) -> None:
    province = Target(metric="public_services.on_time_rate", goal=0.95, deadline=TODAY, label="p")
    district = province.model_copy(update={"unit": "706", "goal": 0.90})
    commune = units.children("706")[0]
    own = province.model_copy(update={"unit": commune, "goal": 0.80})
    targets = {"own": own, "district": district, "province": province}
    assert target_for(targets, "public_services", "on_time_rate", commune, units) is own
    assert target_for(targets, "public_services", "on_time_rate", units.children("706")[1], units) is district
    assert target_for(targets, "public_services", "on_time_rate", "706", units) is district
    assert target_for(targets, "public_services", "on_time_rate", "703", units) is province
    only_district = {"district": district}
    assert target_for(only_district, "public_services", "on_time_rate", "72", units) is None


# ---- panels ------------------------------------------------------------------------------------


def view_of(goals: Goals, rates: dict[str, float]) -> FeedView:
    spec = FEED_SPECS["public_services"]
    docs = {(u, "7d"): {"on_time_rate": {"value": v}} for u, v in rates.items()}
    data = RoomData(feed=spec.name, meta=None, docs=docs, series={}, extras={})
    return FeedView.of(spec, data, goals)


def tile_class(view: FeedView, unit: str) -> str:
    tile = next(t for t in tiles(view, unit, "7d") if getattr(t, "data-kpi") == "on_time_rate")
    return str(tile.className)


def test_a_tiles_colour_follows_the_configured_target(tmp_path, units) -> None:
    """92% on time: amber against the demo's 95%, calm against a file's 90%, red against 99%."""
    rates = {"72": 0.92}
    assert tile_class(view_of(Goals(load_settings().targets, units), rates), "72") == "tile warn"
    for goal, state in (("0.90", "ok"), ("0.99", "bad")):
        text = target_table(metric='"public_services.on_time_rate"', goal=goal)
        settings = load_settings(write(tmp_path, text))
        assert tile_class(view_of(Goals(settings.targets, units), rates), "72") == f"tile {state}"
    assert tile_class(view_of(Goals({}, units), rates), "72") == "tile neutral"


def test_a_districts_own_target_colours_its_room_its_communes_and_the_ranking(units) -> None:
    """Tân Châu (706) set itself 99%: its tile is red at 92% where the province's is calm against
    90%; its communes are ranked against 99%, and the live ranking gets 706's own target."""
    province = Target(metric="public_services.on_time_rate", goal=0.90, deadline=TODAY, label="p")
    goals = Goals({"p": province, "d": province.model_copy(update={"unit": "706", "goal": 0.99})}, units)
    communes = units.children("706")
    view = view_of(goals, dict.fromkeys(["72", "706", *communes], 0.92))
    assert (tile_class(view, "72"), tile_class(view, "706")) == ("tile ok", "tile bad")
    spec = FEED_SPECS["public_services"]
    kpi = view.kpis["on_time_rate"]
    table = ranked_communes(view.data, units, spec, "706", kpi, "7d", "", "best", goals=goals)
    first = table.children[1].children[0].children
    assert (first[2].className, first[3].children) == ("num bad", "≥\u00a099%")
    info = kpi_info(view, ["703", "706"])["on_time_rate"]
    assert (info["target"], info["unit_targets"]) == (0.90, {"706": 0.99})


# ---- the projection, by hand --------------------------------------------------------------------


def weekly(values: list[float | None]) -> list[tuple[date, float | None]]:
    return list(zip(WEEKS, values, strict=True))


def test_a_rising_trend_reaches_the_goal_before_the_deadline() -> None:
    """+1 point a week from 50% on 7 Sep: 70% twenty weeks later, on 25 Jan 2027."""
    seen = project(weekly([0.50 + 0.01 * i for i in range(12)]), 0.70, date(2027, 6, 30), TODAY)
    assert seen.current == pytest.approx(0.61)
    assert seen.slope_per_week == pytest.approx(0.01)
    assert (seen.reaches_on, seen.status, seen.missed_on) == (date(2027, 1, 25), "on_track", None)
    late = project(weekly([0.50 + 0.01 * i for i in range(12)]), 0.70, date(2027, 1, 24), TODAY)
    assert (late.reaches_on, late.status) == (date(2027, 1, 25), "off_track")


def test_a_falling_trend_never_reaches_the_goal() -> None:
    seen = project(weekly([0.80 - 0.01 * i for i in range(12)]), 0.90, date(2027, 6, 30), TODAY)
    assert seen.current == pytest.approx(0.69)
    assert seen.slope_per_week == pytest.approx(-0.01)
    assert (seen.reaches_on, seen.status) == (None, "off_track")


def test_a_flat_trend_never_reaches_the_goal() -> None:
    seen = project(weekly([0.6] * 12), 0.9, date(2027, 6, 30), TODAY)
    assert seen == Projection(0.6, 0.0, None, "off_track")


def test_a_goal_already_reached_is_met_even_past_its_deadline() -> None:
    """61% against 60%: met, and no date projected for what is reached."""
    seen = project(weekly([0.50 + 0.01 * i for i in range(12)]), 0.60, date(2026, 1, 1), TODAY)
    assert (seen.status, seen.reaches_on, seen.missed_on) == ("met", None, None)


def test_a_deadline_passed_without_the_goal_is_missed_on_that_day() -> None:
    seen = project(weekly([0.50 + 0.01 * i for i in range(12)]), 0.95, date(2025, 12, 31), TODAY)
    assert (seen.status, seen.missed_on) == ("missed", date(2025, 12, 31))
    assert seen.reaches_on == date(2027, 7, 19)  # 45 weeks after 7 Sep: said, not hidden


def test_weeks_without_a_value_are_left_out_of_the_trend() -> None:
    """Values in weeks 0 and 2 only: 2 points a week, placed at their Mondays; the latest known
    value is the current one."""
    values: list[float | None] = [0.50, None, 0.54, *[None] * 9]
    seen = project(weekly(values), 0.60, date(2027, 6, 30), TODAY)
    assert seen.current == 0.54
    assert seen.slope_per_week == pytest.approx(0.02)
    assert (seen.reaches_on, seen.status) == (MONDAY + timedelta(weeks=5), "on_track")


@pytest.mark.parametrize(
    ("values", "deadline", "expected"),
    [
        ([None] * 11 + [0.7], date(2027, 1, 1), Projection(0.7, None, None, "off_track")),
        ([None] * 11 + [0.95], date(2027, 1, 1), Projection(0.95, None, None, "met")),
        ([None] * 12, date(2027, 1, 1), Projection(None, None, None, "off_track")),
        ([None] * 12, date(2026, 1, 1), Projection(None, None, None, "missed", date(2026, 1, 1))),
    ],
)
def test_too_short_a_history_has_no_trend(values, deadline, expected) -> None:
    assert project(weekly(values), 0.9, deadline, TODAY) == expected
    assert project([], 0.9, deadline, TODAY).slope_per_week is None


# ---- the answer --------------------------------------------------------------------------------


def test_the_answer_projects_every_target_from_its_complete_weeks(r, units, monkeypatch) -> None:
    """Twelve complete weeks (the running one left out), for the province unless the target
    names a unit; the national programme's 95% online by 2025 is missed on its deadline."""
    asked = []

    def weekly_rates(reader, units_, metric, unit, as_of, *, portal_code):
        asked.append((metric, unit, as_of, portal_code))
        weeks = weeks_kept(as_of)
        return [(w, 0.40 + 0.01 * i) for i, w in enumerate(weeks)]

    monkeypatch.setattr(scorecard, "weekly_rates", weekly_rates)
    settings = load_settings()
    now = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    answer = targets_answer(SnapshotReader(r), units, settings, TODAY, now=now)
    assert answer["as_of"] == "2026-12-04T10:00:00+07:00"
    assert [t["name"] for t in answer["targets"]] == list(default_targets())
    assert {(m, u, p) for m, u, _a, p in asked} == {
        (t.metric, "72", "80") for t in default_targets().values()
    }
    online = next(t for t in answer["targets"] if t["name"] == "ho_so_truc_tuyen")
    assert [w["period"] for w in online["weeks"]] == [f"2026-W{n}" for n in range(37, 49)]
    assert online["weeks"][0] == {"period": "2026-W37", "start": "2026-09-07", "value": pytest.approx(0.53)}
    assert online["current"] == pytest.approx(0.64)  # W48; W49 (0.65) is still running
    assert online["slope_per_week"] == pytest.approx(0.01)
    assert (online["status"], online["missed_on"], online["deadline"]) == (
        "missed",
        "2025-12-31",
        "2025-12-31",
    )
    assert online["label_en"] == "Dossiers submitted online 95% (end of 2025)"
    assert online["reaches_on"] == (date(2026, 9, 7) + timedelta(weeks=42)).isoformat()  # 53% + 42 points


def test_the_answer_of_an_empty_store_has_weeks_without_values(r, units) -> None:
    """The scorecard's own weekly rates over an empty Redis: every week null, nothing projected."""
    answer = targets_answer(
        SnapshotReader(r), units, load_settings(), TODAY, now=datetime(2026, 12, 4, tzinfo=UTC)
    )
    for target in answer["targets"]:
        assert len(target["weeks"]) == 12 and all(w["value"] is None for w in target["weeks"])
        assert (target["current"], target["slope_per_week"], target["reaches_on"]) == (None, None, None)
        assert target["status"] == ("missed" if target["deadline"] < TODAY.isoformat() else "off_track")


def test_a_past_day_is_projected_as_of_its_end(r, units, monkeypatch) -> None:
    seen: list[datetime] = []

    def weekly_rates(reader, units_, metric, unit, as_of, *, portal_code):
        seen.append(as_of)
        return [(Period(as_of, as_of, "2026-W01"), None)]

    monkeypatch.setattr(scorecard, "weekly_rates", weekly_rates)
    answer = targets_answer(SnapshotReader(r), units, load_settings(), date(2026, 11, 20))
    assert answer["as_of"] == "2026-11-21T00:00:00+07:00"
    assert {a.isoformat() for a in seen} == {"2026-11-21T00:00:00+07:00"}
