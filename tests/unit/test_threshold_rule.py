"""The pulse rule as other components see it (``PULSE_HIGH``, read from the default rules file)
and the single-reading threshold check: fire once on crossing, stay quiet while active,
resolve with hysteresis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from agents.engine import PULSE_HIGH, ActiveAlert, default_rules, evaluate_thresholds
from agents.engine.rules import ThresholdRule
from schemas import Alert, VitalSignsObservation

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def obs(
    minute: int, heart_rate: float | None, *, patient: str = "pt-0001"
) -> VitalSignsObservation:
    return VitalSignsObservation(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{patient}/{minute}"),
        patient_id=patient,
        device_id="bm-1",
        source="bedside_monitor",
        observed_at=START + timedelta(minutes=minute),
        heart_rate=heart_rate,
        spo2=97 if heart_rate is None else None,
    )


def run(pulses: list[float | None]) -> list[Alert]:
    active: dict[str, ActiveAlert] = {}
    out: list[Alert] = []
    for minute, pulse in enumerate(pulses):
        active, transitions = evaluate_thresholds(active, obs(minute, pulse))
        out.extend(transitions)
    return out


def test_the_threshold_and_its_source_are_the_documented_ones() -> None:
    assert PULSE_HIGH.threshold == 120
    assert PULSE_HIGH.direction == "above"
    assert "CAMH" in PULSE_HIGH.source


def test_pulse_high_is_read_from_the_default_rules_file() -> None:
    rule = default_rules().rule("pulse_high")
    assert isinstance(rule, ThresholdRule)
    assert (PULSE_HIGH.rule_id, PULSE_HIGH.vital, PULSE_HIGH.unit) == (
        "pulse_high",
        rule.measure,
        "/min",
    )
    assert (PULSE_HIGH.threshold, PULSE_HIGH.hysteresis, PULSE_HIGH.priority) == (
        rule.threshold,
        rule.hysteresis,
        rule.priority,
    )


def test_below_the_threshold_nothing_fires() -> None:
    assert run([80, 100, 119]) == []


def test_at_the_threshold_it_fires_once_and_stays_quiet_while_active() -> None:
    alerts = run([100, 120, 135, 128, 121])
    assert [(a.state, a.evidence.value) for a in alerts] == [("firing", 120)]
    assert alerts[0].priority == "medium"
    assert alerts[0].at == START + timedelta(minutes=1)


def test_it_resolves_only_below_the_hysteresis_band() -> None:
    alerts = run([125, 115, 111, 110, 109.9])
    assert [(a.state, a.evidence.value) for a in alerts] == [("firing", 125), ("resolved", 109.9)]
    assert alerts[0].alert_id == alerts[1].alert_id
    assert alerts[0].transition_id != alerts[1].transition_id


def test_a_reading_without_pulse_changes_nothing() -> None:
    assert [a.state for a in run([125, None, None])] == ["firing"]


def test_a_new_episode_after_resolution_is_a_new_alert() -> None:
    alerts = run([125, 100, 130])
    assert [a.state for a in alerts] == ["firing", "resolved", "firing"]
    assert alerts[0].alert_id != alerts[2].alert_id


def test_the_alert_carries_its_evidence() -> None:
    (alert,) = run([100, 126])
    assert alert.evidence.measure == "heart_rate"
    assert alert.evidence.unit == "/min"
    assert alert.evidence.threshold == 120
    assert alert.evidence.reading_event_id == obs(1, 126).event_id
    assert alert.source == PULSE_HIGH.source


pulses = st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=300)), max_size=30)


@given(pulses)
def test_replaying_the_same_readings_gives_the_same_alerts(values: list[float | None]) -> None:
    assert run(values) == run(values)


@given(pulses)
def test_transitions_alternate_firing_and_resolved(values: list[float | None]) -> None:
    states = [a.state for a in run(values)]
    assert states == ["firing", "resolved"] * (len(states) // 2) + ["firing"] * (len(states) % 2)


@given(st.floats(min_value=0, max_value=300), st.floats(min_value=0, max_value=300))
def test_a_higher_pulse_never_fires_less(low: float, high: float) -> None:
    low, high = sorted((low, high))
    assert len(run([high])) >= len(run([low]))
