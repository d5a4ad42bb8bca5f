"""Overdue observations and silent devices, judged on event time, re-notified, and recovered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.engine.rules import Cadence
from agents.engine.timers import first_due
from tests.unit.test_engine_builders import Run, ciwa_b, discharge, enrol, full_set, vitals


def test_silence_between_two_events_raises_the_alert_at_the_moment_it_became_overdue() -> None:
    run = Run().feed(enrol(0), full_set(0), full_set(20 * 60))
    assert run.rows("observations_overdue") == [
        ("observations_overdue", "firing", "low", 15 * 60),
        ("observations_overdue", "renotified", "low", 16 * 60),
        ("observations_overdue", "renotified", "low", 17 * 60),
        ("observations_overdue", "renotified", "low", 18 * 60),
        ("observations_overdue", "renotified", "low", 19 * 60),
        ("observations_overdue", "resolved", "low", 20 * 60),
    ]
    resolved = run.transitions[-1]
    assert (resolved.evidence.measure, resolved.evidence.value) == ("observation_gap", 1200)
    assert (
        resolved.summary == "Resolved: No observations for 1200 min (due every 900 min or sooner)"
    )


def test_events_that_keep_to_the_cadence_raise_nothing() -> None:
    run = Run().feed(enrol(0))
    for hours in range(0, 72, 4):  # the window opens at 22 h: 4-hourly observations and scores
        run.feed(full_set(hours * 60), ciwa_b(hours * 60 + 1, 3))
    assert run.rows("observations_overdue", "ciwa_b_overdue", "device_silent") == []


def test_the_gap_follows_the_latest_news2_band() -> None:
    run = Run().feed(enrol(0), full_set(0, respiratory_rate=22, spo2=95, heart_rate=115)).until(80)
    assert run.rows("observations_overdue") == [("observations_overdue", "firing", "medium", 75)]


def test_a_window_opening_during_the_silence_shortens_the_allowed_gap_from_then() -> None:
    since = datetime(2026, 1, 5, 8, tzinfo=UTC)
    window = [(since + timedelta(hours=10), since + timedelta(hours=90))]
    cadence = Cadence(minutes=720, peak_minutes=240)
    assert first_due(since, factor=1.25, cadence=cadence, intervals=window) == since + timedelta(
        hours=10
    )
    assert first_due(since, factor=1.25, cadence=cadence, intervals=[]) == since + timedelta(
        hours=15
    )
    late_window = [(since + timedelta(hours=2), since + timedelta(hours=3))]
    assert first_due(
        since, factor=1.25, cadence=cadence, intervals=late_window
    ) == since + timedelta(hours=15)


def test_the_timer_sees_silence_even_when_no_further_event_comes() -> None:
    run = Run().feed(enrol(0, last_dose_h=-30), full_set(0))
    assert run.until(5 * 60 - 1).rows("observations_overdue") == []
    assert run.until(5 * 60).rows("observations_overdue") == [
        ("observations_overdue", "firing", "low", 300)
    ]


def test_a_silent_streaming_monitor_raises_one_notice_and_recovers() -> None:
    run = Run().feed(
        enrol(0), vitals(0, heart_rate=80), vitals(5, heart_rate=80), vitals(10, heart_rate=81)
    )
    run.until(39)
    assert run.rows("device_silent") == []
    run.until(75).feed(vitals(80, heart_rate=80))
    assert run.rows("device_silent", "observations_overdue") == [
        ("device_silent", "firing", "low", 40),
        ("device_silent", "renotified", "low", 70),
        ("device_silent", "resolved", "low", 80),
    ]


def test_missed_ciwa_b_scores_follow_the_band_cadence() -> None:
    run = Run().feed(enrol(0, last_dose_h=-30), ciwa_b(0, 25)).until(5 * 60)
    assert run.rows("ciwa_b_overdue") == [("ciwa_b_overdue", "firing", "low", 240)]


def test_no_data_gap_notices_before_enrolment_or_after_discharge() -> None:
    unenrolled = Run().feed(full_set(0)).until(3 * 24 * 60)
    discharged = Run().feed(enrol(0), full_set(0), discharge(60)).until(3 * 24 * 60)
    assert unenrolled.rows() == []
    assert discharged.rows() == []
    assert discharged.state.discharged_at is not None


def test_readings_after_discharge_page_nobody_until_a_new_enrolment() -> None:
    run = Run().feed(enrol(0), discharge(10), vitals(20, heart_rate=150))
    assert run.rows() == []
    run.feed(enrol(30), vitals(40, heart_rate=150))
    assert run.rows("pulse_high") == [("pulse_high", "firing", "medium", 40)]
