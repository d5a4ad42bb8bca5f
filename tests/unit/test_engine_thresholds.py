"""Threshold and baseline rules: edges, levels, hysteresis, persistence, peak window, overrides."""

from __future__ import annotations

from typing import Any

import pytest

from agents.engine import RuleSet
from schemas import ThresholdOverride
from tests.unit.test_engine_builders import RULES, Run, ciwa_b, enrol, full_set, vitals


def variant(
    rule_id: str | None = None, *, overrides: dict[str, Any] | None = None, **changes: Any
) -> RuleSet:
    """The default rules with one rule changed and/or other overrides."""
    data = RULES.model_dump()
    if rule_id is not None:
        for rule in data["rules"]:
            if rule["id"] == rule_id:
                rule.update(changes)
    if overrides is not None:
        data["overrides"] = overrides
    return RuleSet.model_validate(data)


EDGES = [
    ("respiratory_rate_low", {"respiratory_rate": 8}, {"respiratory_rate": 9}, "high"),
    ("respiratory_rate_high", {"respiratory_rate": 25}, {"respiratory_rate": 24}, "medium"),
    ("spo2_low", {"spo2": 91}, {"spo2": 92}, "medium"),
    ("pulse_high", {"heart_rate": 120}, {"heart_rate": 119}, "medium"),
    ("pulse_low", {"heart_rate": 40}, {"heart_rate": 41}, "medium"),
    (
        "systolic_high",
        {"systolic_bp": 181, "diastolic_bp": 90},
        {"systolic_bp": 180, "diastolic_bp": 90},
        "medium",
    ),
    (
        "diastolic_high",
        {"systolic_bp": 170, "diastolic_bp": 121},
        {"systolic_bp": 170, "diastolic_bp": 120},
        "medium",
    ),
    (
        "systolic_low",
        {"systolic_bp": 90, "diastolic_bp": 60},
        {"systolic_bp": 91, "diastolic_bp": 60},
        "medium",
    ),
    ("temperature_high", {"temperature": 38.1}, {"temperature": 38.0}, "medium"),
    ("temperature_high", {"temperature": 39.1}, {"temperature": 39.0}, "high"),
    ("temperature_low", {"temperature": 35.0}, {"temperature": 35.1}, "medium"),
    # NEWS2 5 (RR 22: 2, SpO2 95: 1, pulse 115: 2) against 4 (pulse 100: 1)
    (
        "news2_aggregate",
        {"respiratory_rate": 22, "spo2": 95, "heart_rate": 115},
        {"respiratory_rate": 22, "spo2": 95, "heart_rate": 100},
        "medium",
    ),
    # NEWS2 7 (clinical.md 11.4 vector (a)) against 6
    (
        "news2_aggregate",
        {
            "respiratory_rate": 22,
            "spo2": 95,
            "systolic_bp": 105,
            "diastolic_bp": 70,
            "heart_rate": 115,
            "temperature": 38.3,
        },
        {
            "respiratory_rate": 22,
            "spo2": 95,
            "systolic_bp": 105,
            "diastolic_bp": 70,
            "heart_rate": 115,
            "temperature": 37.3,
        },
        "high",
    ),
]


def highest(run: Run, rule_id: str) -> str | None:
    record = run.state.alerts.get(rule_id)
    return record.priority if record else None


@pytest.mark.parametrize(("rule_id", "firing", "quiet", "priority"), EDGES)
def test_each_threshold_fires_at_its_edge_and_not_one_step_inside(
    rule_id: str, firing: dict[str, Any], quiet: dict[str, Any], priority: str
) -> None:
    assert highest(Run().feed(full_set(0), full_set(60, **firing)), rule_id) == priority
    assert highest(Run().feed(full_set(0), full_set(60, **quiet)), rule_id) != priority


@pytest.mark.parametrize(
    ("total", "priority"), [(20, None), (21, "medium"), (40, "medium"), (41, "high"), (80, "high")]
)
def test_ciwa_b_bands_page_moderate_as_medium_and_severe_as_high(
    total: int, priority: str | None
) -> None:
    assert highest(Run().feed(ciwa_b(0, total)), "ciwa_b_severity") == priority


def test_an_alert_stays_inside_the_hysteresis_band_and_resolves_past_it() -> None:
    run = Run().feed(vitals(0, heart_rate=80), vitals(30, heart_rate=125))
    for minutes, pulse in ((40, 119), (50, 110)):
        run.feed(vitals(minutes, heart_rate=pulse))
        assert "pulse_high" in run.state.alerts
    run.feed(vitals(60, heart_rate=109.4))  # rounds to 109
    assert run.rows("pulse_high")[-1] == ("pulse_high", "resolved", "medium", 60)


def test_a_pulse_hovering_at_the_threshold_pages_once() -> None:
    run = Run().feed(vitals(0, heart_rate=80))
    for minutes in range(30, 300, 20):
        run.feed(vitals(minutes, heart_rate=121 if minutes % 40 else 117))
    assert [row[1] for row in run.rows("pulse_high") if row[1] == "firing"] == ["firing"]


def test_streaming_readings_need_the_persistence_before_paging() -> None:
    run = Run().feed(vitals(0, heart_rate=80), vitals(1, heart_rate=125))
    assert "pulse_high" not in run.state.alerts
    assert "pulse_high" in run.state.pending
    run.feed(vitals(2, heart_rate=126))
    assert run.rows("pulse_high") == [("pulse_high", "firing", "medium", 2)]


def test_a_normal_streaming_reading_cancels_a_pending_condition() -> None:
    run = Run().feed(vitals(0, heart_rate=80), vitals(1, heart_rate=125), vitals(2, heart_rate=90))
    run.feed(vitals(3, heart_rate=125)).until(7)
    assert run.rows("pulse_high") == []
    run.until(9)
    assert run.rows("pulse_high") == [("pulse_high", "firing", "medium", 8)]


def test_a_spot_check_and_a_reading_entered_by_staff_fire_at_once() -> None:
    spot = Run().feed(vitals(0, heart_rate=80), vitals(30, heart_rate=125))
    manual = Run().feed(vitals(0, heart_rate=80), vitals(1, heart_rate=125, source="manual_entry"))
    assert spot.rows("pulse_high") == [("pulse_high", "firing", "medium", 30)]
    assert manual.rows("pulse_high") == [("pulse_high", "firing", "medium", 1)]


def test_a_rule_can_be_tighter_inside_the_peak_window() -> None:
    rules = variant("pulse_high", peak_window_threshold=110)
    inside = Run(rules=rules).feed(
        enrol(0, last_dose_h=-30), vitals(0, heart_rate=80), vitals(30, heart_rate=112)
    )
    before = Run(rules=rules).feed(
        enrol(0, last_dose_h=-2), vitals(0, heart_rate=80), vitals(30, heart_rate=112)
    )
    assert inside.rows("pulse_high") == [("pulse_high", "firing", "medium", 30)]
    assert before.rows("pulse_high") == []
    assert inside.transitions[0].evidence.threshold == 110


def test_a_ward_override_moves_a_threshold() -> None:
    rules = variant(overrides={"wards": {"ward-3": {"pulse_high": {"threshold": 130}}}})
    run = Run(rules=rules).feed(enrol(0), vitals(0, heart_rate=80), vitals(30, heart_rate=125))
    assert run.rows("pulse_high") == []
    run.feed(vitals(60, heart_rate=130))
    assert run.transitions[-1].evidence.threshold == 130


def test_a_risk_tier_override_switches_a_rule_on() -> None:
    high = Run().feed(enrol(0, risk_tier="high"), full_set(0, heart_rate=95))
    standard = Run().feed(enrol(0), full_set(0, heart_rate=95))
    assert "news2_low_band" in high.fired()
    assert "news2_low_band" not in standard.fired()


def test_a_patient_override_moves_a_threshold_and_can_switch_a_rule_off() -> None:
    moved = ThresholdOverride(rule_id="pulse_high", threshold=135)
    off = ThresholdOverride(rule_id="systolic_high", enabled=False)
    run = Run().feed(
        enrol(0, threshold_overrides=[moved, off]),
        vitals(0, heart_rate=80, systolic_bp=120, diastolic_bp=80),
    )
    run.feed(vitals(30, heart_rate=130, systolic_bp=200, diastolic_bp=90))
    assert {"pulse_high", "systolic_high"}.isdisjoint(run.fired())


def test_a_patient_override_that_would_break_a_rule_leaves_the_default_in_force() -> None:
    silly = ThresholdOverride(rule_id="temperature_high", threshold=40.0)  # past its own 39.1 level
    run = Run().feed(
        enrol(0, threshold_overrides=[silly]),
        vitals(0, temperature=36.8),
        vitals(30, temperature=38.5),
    )
    assert run.rows("temperature_high") == [("temperature_high", "firing", "medium", 30)]


def test_switching_a_rule_off_for_a_patient_resolves_its_active_alert() -> None:
    run = Run().feed(enrol(0), vitals(0, heart_rate=80), vitals(30, heart_rate=125))
    run.feed(
        enrol(40, threshold_overrides=[ThresholdOverride(rule_id="pulse_high", enabled=False)])
    )
    assert run.rows("pulse_high")[-1] == ("pulse_high", "resolved", "medium", 40)


def test_the_baseline_is_the_median_of_the_first_three_readings() -> None:
    run = Run().feed(
        *(vitals(minutes, heart_rate=pulse) for minutes, pulse in ((0, 90), (60, 70), (120, 72)))
    )
    assert run.state.baseline["heart_rate"] == 72
    run.feed(vitals(180, heart_rate=96))
    assert "pulse_above_baseline" not in run.fired()
    run.feed(vitals(240, heart_rate=97))
    assert run.transitions[-1].evidence.threshold == 97


def test_an_older_reading_arriving_late_is_not_judged() -> None:
    run = Run().feed(
        vitals(0, heart_rate=80), vitals(60, heart_rate=90), vitals(30, heart_rate=140)
    )
    assert run.rows("pulse_high") == []
    assert run.state.latest["heart_rate"].value == 90
