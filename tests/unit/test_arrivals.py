"""The open model's clock: intended starts at the rate, none after the duration."""

from __future__ import annotations

import pytest

from harness.client.arrivals import ArrivalSchedule


def test_intended_starts_are_evenly_spaced_from_the_beginning_and_end_with_the_duration() -> None:
    schedule = ArrivalSchedule(rate=4.0, duration=1.0)
    schedule.begin(at=100.0)
    schedule.begin(at=200.0)  # once only
    due = [schedule.next() for _ in range(6)]
    assert due == [100.0, 100.25, 100.5, 100.75, None, None]


def test_the_clock_starts_with_the_first_request_when_not_begun() -> None:
    schedule = ArrivalSchedule(rate=10.0, duration=60.0)
    first, second = schedule.next(), schedule.next()
    assert first is not None and second is not None
    assert second - first == pytest.approx(0.1)


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan")])
def test_a_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ArrivalSchedule(rate, 1.0)
