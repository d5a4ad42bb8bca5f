"""Withdrawal phase and peak-risk window: they move with doses, drug class and taper steps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.engine.phase import peak_intervals, phase_at
from tests.unit.test_engine_builders import RULES, T0, Run, dose, enrol, full_set

CONFIG = RULES.phase


@pytest.mark.parametrize(
    ("half_life_class", "hours", "phase", "in_peak"),
    [
        ("short", 0, "early", False),
        ("short", 23.9, "early", False),
        ("short", 24, "acute", True),
        ("short", 72, "acute", True),
        ("short", 95.9, "acute", True),
        ("short", 96, "acute", False),
        ("intermediate", 30, "acute", True),
        ("long", 48, "early", False),
        ("long", 72, "acute", True),
        ("long", 239, "acute", True),
        ("long", 240, "acute", False),
        ("unknown", 24, "acute", True),
        ("unknown", 200, "acute", True),
        ("short", 30 * 24, "protracted", False),
        ("long", 45 * 24, "protracted", False),
    ],
)
def test_phase_and_peak_window_by_hours_since_the_last_dose_and_class(
    half_life_class: str, hours: float, phase: str, in_peak: bool
) -> None:
    last_dose = T0
    intervals = peak_intervals(
        CONFIG,
        last_dose_at=last_dose,
        half_life_class=half_life_class,
        taper_step_at=None,  # type: ignore[arg-type]
    )
    info = phase_at(
        CONFIG,
        T0 + timedelta(hours=hours),
        last_dose_at=last_dose,
        half_life_class=half_life_class,  # type: ignore[arg-type]
        intervals=intervals,
    )
    assert (info.phase, info.in_peak_window, info.hours_since_last_dose) == (phase, in_peak, hours)


def test_without_a_recorded_dose_the_phase_is_unknown() -> None:
    info = phase_at(CONFIG, T0, last_dose_at=None, half_life_class="short", intervals=[])
    assert (info.phase, info.in_peak_window, info.hours_since_last_dose) == ("unknown", False, None)


def test_the_snapshot_shows_the_window_of_the_enrolled_drug() -> None:
    run = Run().feed(enrol(0, last_dose_h=-30), full_set(0))
    snapshot = run.last.snapshot  # type: ignore[union-attr]
    assert (snapshot.phase, snapshot.in_peak_window, snapshot.hours_since_last_dose) == (
        "acute",
        True,
        30,
    )
    assert (snapshot.peak_window_start_h, snapshot.peak_window_end_h) == (24, 96)
    assert snapshot.half_life_class == "short"


def test_a_dose_restarts_the_clock_and_closes_the_window() -> None:
    run = Run().feed(enrol(0, last_dose_h=-30), dose(60, "alprazolam", 0.5), full_set(61))
    snapshot = run.last.snapshot  # type: ignore[union-attr]
    assert (snapshot.phase, snapshot.in_peak_window) == ("early", False)
    assert snapshot.hours_since_last_dose == pytest.approx(1 / 60, abs=0.01)


def test_a_dose_of_a_long_acting_drug_moves_the_window_to_day_3() -> None:
    run = Run().feed(enrol(0, last_dose_h=-30), dose(0, "diazepam", 10), full_set(24 * 60))
    snapshot = run.last.snapshot  # type: ignore[union-attr]
    assert (snapshot.half_life_class, snapshot.in_peak_window) == ("long", False)
    assert (snapshot.peak_window_start_h, snapshot.peak_window_end_h) == (72, 240)
    run.feed(full_set(72 * 60))
    assert run.last.snapshot.in_peak_window  # type: ignore[union-attr]


def test_a_clinician_set_unknown_class_gets_the_union_of_windows() -> None:
    run = Run().feed(enrol(0, last_dose_h=-30, drug="unknown"), full_set(0))
    snapshot = run.last.snapshot  # type: ignore[union-attr]
    assert (snapshot.half_life_class, snapshot.peak_window_start_h, snapshot.peak_window_end_h) == (
        "unknown",
        24,
        240,
    )


def test_a_taper_step_opens_a_seven_day_rebound_watch() -> None:
    run = Run().feed(
        enrol(0, last_dose_h=-1, drug="diazepam"),
        dose(0, "diazepam", 20, taper_step=1),
        dose(24 * 60, "diazepam", 18, taper_step=2),
        full_set(24 * 60 + 1),
    )
    snapshot = run.last.snapshot  # type: ignore[union-attr]
    assert (snapshot.taper_step, snapshot.in_peak_window, snapshot.phase) == (2, True, "early")
    run.feed(full_set(24 * 60 + 7 * 24 * 60 - 1))
    assert run.last.snapshot.in_peak_window  # type: ignore[union-attr]
    run.feed(dose(8 * 24 * 60 + 1, "diazepam", 18, taper_step=2), full_set(8 * 24 * 60 + 2))
    assert not run.last.snapshot.in_peak_window  # type: ignore[union-attr]


def test_the_first_taper_step_recorded_is_not_a_reduction() -> None:
    run = Run().feed(enrol(0, drug="diazepam", last_dose_h=-1), dose(0, taper_step=3), full_set(1))
    assert not run.last.snapshot.in_peak_window  # type: ignore[union-attr]


def test_the_peak_window_tightens_the_observation_cadence() -> None:
    before = Run().feed(enrol(0, last_dose_h=-2), full_set(0)).until(16 * 60)
    inside = Run().feed(enrol(0, last_dose_h=-30), full_set(0)).until(16 * 60)
    assert before.rows("observations_overdue")[0] == (
        "observations_overdue",
        "firing",
        "low",
        15 * 60,
    )
    assert inside.rows("observations_overdue")[0] == (
        "observations_overdue",
        "firing",
        "low",
        5 * 60,
    )
