"""Alert lifecycle: one alert per rule, timers per priority, acknowledgement, evidence, ids."""

from __future__ import annotations

import uuid
from datetime import timedelta

from agents.engine import alert_id_for, evaluate, new_state, transition_id_for
from tests.unit.test_engine_builders import (
    PATIENT,
    RULES,
    T0,
    Run,
    ack,
    at,
    clinical,
    enrol,
    full_set,
    vitals,
)


def test_one_alert_per_patient_and_rule_however_many_readings_cross() -> None:
    run = Run().feed(vitals(0, heart_rate=80), *(vitals(m, heart_rate=130) for m in range(30, 40)))
    assert [row[1] for row in run.rows("pulse_high")] == ["firing"]
    assert len({alert.alert_id for alert in run.transitions}) == 1


def test_a_high_alert_escalates_along_the_chain_every_5_min_then_repeats_at_the_top() -> None:
    run = Run().feed(clinical(0, "seizure")).until(20)
    assert [
        (a.state, a.escalation_level, a.escalate_to, (a.at - T0).seconds // 60)
        for a in run.transitions
    ] == [
        ("firing", 0, "bedside_nurse", 0),
        ("escalated", 1, "charge_nurse", 5),
        ("escalated", 2, "on_call_physician", 10),
        ("renotified", 2, "on_call_physician", 15),
        ("renotified", 2, "on_call_physician", 20),
    ]


def test_a_medium_alert_escalates_every_30_min() -> None:
    run = Run().feed(vitals(0, heart_rate=80), vitals(30, heart_rate=125)).until(125)
    assert run.rows("pulse_high") == [
        ("pulse_high", "firing", "medium", 30),
        ("pulse_high", "escalated", "medium", 60),
        ("pulse_high", "escalated", "medium", 90),
        ("pulse_high", "renotified", "medium", 120),
    ]


def test_a_low_alert_is_never_repeated_or_escalated() -> None:
    run = (
        Run()
        .feed(enrol(0, last_dose_h=-30), vitals(0, heart_rate=80), vitals(30, heart_rate=105))
        .until(600)
    )
    assert run.rows("pulse_elevated_peak") == [("pulse_elevated_peak", "firing", "low", 30)]


def test_acknowledgement_stops_escalation_and_renotification() -> None:
    run = Run().feed(clinical(0, "seizure")).until(7).ack(8, "seizure").until(59)
    assert [row[1] for row in run.rows()] == ["firing", "escalated", "acknowledged"]
    acknowledged = run.transitions[-1]
    assert (acknowledged.acknowledged_by, acknowledged.escalation_level) == ("rn-0001", 1)


def test_a_second_acknowledgement_and_an_unknown_alert_id_change_nothing() -> None:
    run = Run().feed(clinical(0, "seizure")).ack(1, "seizure")
    before = len(run.transitions)
    run.feed(ack(2, run.state.alerts["seizure"].alert_id), ack(3, uuid.uuid4()))
    assert len(run.transitions) == before


def test_every_transition_carries_its_evidence_and_source() -> None:
    run = Run().feed(enrol(0, last_dose_h=-30), full_set(0), full_set(60, heart_rate=125))
    (alert,) = [a for a in run.transitions if a.rule_id == "pulse_high"]
    evidence = alert.evidence
    assert (evidence.measure, evidence.value, evidence.unit, evidence.threshold) == (
        "heart_rate",
        125,
        "/min",
        120,
    )
    assert evidence.observed_at == at(60)
    assert evidence.values["heart_rate"] == 125
    assert evidence.values["spo2"] == 97
    assert (evidence.news2, evidence.news2_stale) == (2, False)
    assert (evidence.phase, evidence.in_peak_window, evidence.hours_since_last_dose) == (
        "acute",
        True,
        31,
    )
    assert "CAMH" in alert.source
    assert "[R21]" in alert.source
    assert alert.summary == "Pulse 125/min, at or above 120/min"


def test_ids_are_uuid5_of_alert_and_sequence_so_replays_repeat_them() -> None:
    run = Run().feed(clinical(0, "seizure")).until(10)
    first = run.transitions[0]
    assert first.alert_id == alert_id_for(PATIENT, "seizure", at(0))
    assert [a.transition_id for a in run.transitions] == [
        transition_id_for(first.alert_id, n) for n in range(len(run.transitions))
    ]
    assert [a.sequence for a in run.transitions] == list(range(len(run.transitions)))


def test_a_redelivered_event_is_dropped_without_counting_as_a_reading() -> None:
    state = new_state(PATIENT)
    first = vitals(0, heart_rate=80)
    streaming = vitals(1, heart_rate=125)
    for event in (first, streaming):
        state = evaluate(state, event, RULES, now=event.observed_at).state
    again = evaluate(state, streaming, RULES, now=streaming.observed_at)
    assert (again.changed, again.transitions, again.state) == (False, (), state)
    assert "pulse_high" not in again.state.alerts


def test_the_engine_does_not_modify_the_state_it_is_given() -> None:
    state = Run().feed(vitals(0, heart_rate=80)).state
    copy = state.model_copy(deep=True)
    evaluate(state, vitals(30, heart_rate=140), RULES, now=at(30))
    assert state == copy


def test_a_worse_finding_repages_an_acknowledged_alert_at_the_higher_priority() -> None:
    run = (
        Run()
        .feed(vitals(0, temperature=36.8), vitals(30, temperature=38.5))
        .ack(31, "temperature_high")
    )
    run.feed(vitals(40, temperature=39.5)).until(45)
    assert run.rows("temperature_high")[2:] == [
        ("temperature_high", "renotified", "high", 40),
        ("temperature_high", "escalated", "high", 45),
    ]
    assert run.transitions[2].summary.startswith("Worse: ")


def test_a_low_alert_overnight_waits_for_the_morning_and_then_pages() -> None:
    night = 15 * 60 + 30  # 23:30
    run = Run().feed(
        enrol(0, last_dose_h=-30), vitals(night - 60, heart_rate=80), vitals(night, heart_rate=105)
    )
    assert run.rows("pulse_elevated_peak") == []
    assert not run.state.alerts["pulse_elevated_peak"].notified
    run.until(24 * 60)
    assert run.rows("pulse_elevated_peak") == [("pulse_elevated_peak", "firing", "low", 23 * 60)]


def test_medium_and_high_alerts_page_at_night() -> None:
    night = 16 * 60  # midnight
    run = Run().feed(vitals(night - 60, heart_rate=80), vitals(night, heart_rate=125))
    assert run.rows("pulse_high") == [("pulse_high", "firing", "medium", night)]


def test_a_late_event_never_moves_the_alert_clock_back() -> None:
    run = Run().feed(clinical(0, "seizure")).until(60)
    run.feed(vitals(30, heart_rate=80))
    assert run.state.clock == at(60)
    assert all(b.at >= a.at for a, b in zip(run.transitions, run.transitions[1:], strict=False))


def test_evaluating_another_patients_event_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="event for 'pt-0001' given the state of 'pt-9999'"):
        evaluate(new_state("pt-9999"), vitals(0, heart_rate=80), RULES, now=T0)


def test_the_snapshot_counts_the_alerts_staff_have_been_told_about() -> None:
    run = Run().feed(
        vitals(0, heart_rate=80), vitals(30, heart_rate=125, systolic_bp=200, diastolic_bp=100)
    )
    snapshot = run.last.snapshot  # type: ignore[union-attr]
    assert (snapshot.active_alerts, snapshot.highest_priority, snapshot.at) == (2, "medium", at(30))


def test_news2_older_than_the_cadence_is_marked_stale() -> None:
    run = Run().feed(
        enrol(0), full_set(0, heart_rate=115, respiratory_rate=22, spo2=95)
    )  # NEWS2 5: hourly
    run.feed(vitals(59, heart_rate=110))
    assert run.last.snapshot.news2 == 5
    assert not run.last.snapshot.news2_stale
    run.feed(vitals(61, heart_rate=110))
    assert run.last.snapshot.news2_stale  # type: ignore[union-attr]
    assert run.state.clock is not None
    assert run.state.clock - T0 == timedelta(minutes=61)


def test_a_rule_that_fires_resolves_and_fires_again_at_one_instant_gets_a_new_alert_id() -> None:
    run = Run().feed(
        vitals(0, heart_rate=38, source="manual_entry"),
        vitals(0, heart_rate=60, source="manual_entry"),
        vitals(0, heart_rate=38, source="manual_entry"),
    )
    assert [row[1] for row in run.rows("pulse_low")] == ["firing", "resolved", "firing"]
    first, _, again = [a for a in run.transitions if a.rule_id == "pulse_low"]
    assert first.alert_id == alert_id_for(PATIENT, "pulse_low", at(0))
    assert again.alert_id == alert_id_for(PATIENT, "pulse_low", at(0), 1)
    assert len({a.transition_id for a in run.transitions}) == len(run.transitions)
