"""The capacity search's logic on synthetic steps: the knee, the capacity, the plan's loads
and bounds, the exit code, the report; and bad input refused before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import exit_codes
from harness.capacity.knee import LoadPoint, find_knee, last_held
from harness.capacity.plan import CapacityPlan, PlanError, parse_step, validate_plan
from harness.capacity.report import CHART, JSON, MARKDOWN, headline, write_report
from harness.capacity.search import step_profiles
from harness.capacity.steps import CapacityResult, Ending, StepResult
from harness.cli import capacity_exit_code, main
from harness.run.profile import ProfileError, load_profile


def points(*rows: tuple[float, float, float | None]) -> list[LoadPoint]:
    return [LoadPoint(load, throughput, p99) for load, throughput, p99 in rows]


def test_no_knee_while_throughput_follows_the_load_and_latency_stays() -> None:
    assert find_knee(points((10, 100, 20), (20, 199, 22), (30, 290, 25), (40, 380, 30))) is None
    assert find_knee([]) is None
    assert find_knee(points((10, 100, 20))) is None


def test_the_knee_is_where_throughput_stops_growing_in_proportion() -> None:
    knee = find_knee(points((10, 100, 20), (20, 200, 21), (30, 240, 23), (40, 245, 30)))
    # 20 -> 30 is +50 % load for +20 % throughput: less than half of proportional.
    assert knee is not None and knee.load == 20 and knee.index == 1
    assert "throughput" in knee.reason


def test_the_knee_is_where_p99_more_than_doubles_the_first_steps() -> None:
    knee = find_knee(points((10, 100, 20), (20, 200, 30), (30, 300, 38), (40, 400, 90)))
    assert knee is not None and knee.load == 30 and "p99" in knee.reason


def test_a_small_absolute_rise_of_a_fast_server_is_no_knee() -> None:
    # 1 ms -> 5 ms is 5x, but under KNEE_LATENCY_MS above the first step.
    assert find_knee(points((10, 100, 1.0), (20, 200, 5.0), (30, 300, 9.0))) is None


def test_a_step_where_nothing_completed_is_past_the_knee() -> None:
    knee = find_knee(points((10, 100, 20), (20, 0, None)))
    assert knee is not None and knee.load == 10


def test_the_capacity_is_the_last_of_the_leading_steps_that_held() -> None:
    assert last_held([True, True, False, True]) == 1
    assert last_held([False, True]) is None
    assert last_held([True, True]) == 1
    assert last_held([]) is None


def test_plan_loads_are_bounded_by_steps_and_max_load() -> None:
    assert CapacityPlan("users", 10, "10", max_steps=4).loads() == [10, 20, 30, 40]
    assert CapacityPlan("users", 1, "x2", max_load=20).loads() == [1, 2, 4, 8, 16]
    assert CapacityPlan("users", 3, "x1.1", max_steps=4).loads() == [3, 4, 5, 6]
    assert CapacityPlan("rate", 2.5, "2.5", max_steps=3).loads() == [2.5, 5.0, 7.5]
    assert parse_step("x2") == (0.0, 2.0) and parse_step("5") == (5.0, 1.0)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (CapacityPlan("users", 10, "x1"), "a factor"),
        (CapacityPlan("users", 10, "-5"), "step must be"),
        (CapacityPlan("users", 10, "ten"), "step must be"),
        (CapacityPlan("users", 2.5, "1"), "whole number"),
        (CapacityPlan("users", 10, "10", max_steps=0), "max-steps"),
        (CapacityPlan("users", 10, "10", max_steps=51), "max-steps"),
        (CapacityPlan("users", 10, "10", max_load=5), "max-load"),
        (CapacityPlan("rate", 10, "10", step_duration=1), "step-duration"),
        (CapacityPlan("users", 90_000, "90000", max_steps=3), "above 100000"),
        (CapacityPlan("rate", 10, "10", min_capacity=-1), "min-capacity"),
    ],
)
def test_plans_out_of_bounds_are_refused(plan: CapacityPlan, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        validate_plan(plan)


def step(index: int, load: float, throughput: float, p99: float, held: bool) -> StepResult:
    gate = {"text": "latency.tools_call.p99 < 100ms", "passed": held, "reason": "r"}
    return StepResult(
        index=index,
        load=load,
        throughput=throughput,
        sent=round(load * 30),
        due=round(load * 30),
        p50_ms=p99 / 2,
        p99_ms=p99,
        error_rate=0.0,
        held=held,
        thresholds=[gate],
        run_dir=f"steps/{index + 1:02d}",
    )


def result(
    held: list[bool], ending: Ending = "threshold", minimum: float | None = None
) -> CapacityResult:
    plan = CapacityPlan("rate", 10, "10", min_capacity=minimum)
    steps = [
        step(i, 10.0 * (i + 1), min(22.0, 10.0 * (i + 1)), 20.0 + 5 * i, ok)
        for i, ok in enumerate(held)
    ]
    thresholds = ["latency.tools_call.p99 < 100ms"]
    return CapacityResult(plan, steps, ending, thresholds, "arrivals", "the reference server")


def test_exit_codes_a_ci_gate_reads() -> None:
    assert capacity_exit_code(result([True, True, False])) == exit_codes.PASS
    assert capacity_exit_code(result([True, True], "plan-done")) == exit_codes.PASS
    assert capacity_exit_code(result([False])) == exit_codes.NO_CAPACITY
    assert capacity_exit_code(result([True, True, False], minimum=30)) == exit_codes.FAIL
    assert capacity_exit_code(result([True, True, False], minimum=20)) == exit_codes.PASS
    assert capacity_exit_code(result([True], "interrupted")) == exit_codes.COULD_NOT_RUN
    assert capacity_exit_code(result([True], "could-not-run")) == exit_codes.COULD_NOT_RUN


def test_headlines_say_capacity_bound_and_knee() -> None:
    assert headline(result([True, True, False])).startswith("capacity 20 calls/s (it broke at 30)")
    assert "at least 20" in headline(result([True, True], "plan-done"))
    assert "first step (10 calls/s) broke" in headline(result([False]))
    assert "knee at 20 calls/s" in headline(result([True, True, False]))


def test_the_report_is_plain_data_markdown_and_a_chart(tmp_path: Path) -> None:
    notes = write_report(result([True, True, False]), tmp_path)
    assert notes == []
    data = json.loads((tmp_path / JSON).read_text())
    assert data["format"] == "mcp-scale-capacity/1"
    assert (data["capacity"], data["broke_at"], data["knee"]["load"]) == (20.0, 30.0, 20.0)
    assert "intended start" in data["latency"]
    text = (tmp_path / MARKDOWN).read_text()
    assert "| 3 | 30 | 900 / 900 |" in text and f"]({CHART})" in text
    assert (tmp_path / CHART).read_bytes()[:4] == b"\x89PNG"
    assert write_report(result([], "interrupted"), tmp_path) == [
        "no chart: no step of the search ran"
    ]
    assert not (tmp_path / CHART).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "--scenario", "standard"], "drop --scenario"),
        (["--users", "10"], "use --start and --step"),
        (["--step", "x0.5"], "a factor"),
        (["--step-duration", "soon"], "step-duration"),
        (["--threshold", "latency.tools_call.p99 < fast"], "cannot read threshold"),
        (["--nodes", "0"], "nodes must be between"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["capacity", *args]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert err.startswith("mcp-scale capacity: error:") and message in err


def test_a_profile_with_faults_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("chaos: kill-node:n1@5s\n")
    assert main(["capacity", str(profile)]) == exit_codes.USAGE
    assert "without faults" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"scenario": "arrivals"}, "go together"),
        ({"scenario": "standard", "arrival_rate": 5}, "go together"),
        ({"scenario": "arrivals", "arrival_rate": -5}, "arrival-rate must be above 0"),
        ({"scenario": "arrivals", "arrival_rate": 5, "processes": 2}, "one Locust process"),
    ],
)
def test_the_arrivals_scenario_needs_its_rate(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_profile(None, dict(settings))
    assert load_profile(None, {"scenario": "arrivals", "arrival_rate": "50"}).arrival_rate == 50.0


def test_each_step_is_a_run_profile_at_its_load() -> None:
    base = load_profile(None, {"nodes": 1, "store": "memory", "scenario": "standard"})
    users = step_profiles(base, CapacityPlan("users", 10, "x2", max_steps=3, step_duration=5))
    assert [(p.users, p.spawn_rate, p.duration) for p in users] == [
        (10, 20.0, 5.0),
        (20, 20.0, 5.0),
        (40, 40.0, 5.0),
    ]
    assert {p.scenario for p in users} == {"standard"}
    rate = load_profile(None, {"scenario": "arrivals", "arrival_rate": 5, "users": 30})
    steps = step_profiles(rate, CapacityPlan("rate", 5, "5", max_steps=2))
    assert [(p.scenario, p.arrival_rate, p.users) for p in steps] == [
        ("arrivals", 5, 30),
        ("arrivals", 10, 30),
    ]
