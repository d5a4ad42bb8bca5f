"""Scoring alerts against ground truth: sensitivity, time to alert, burden outside episodes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas import Alert, AlertEvidence
from streams.ward.detection import score
from streams.ward.episodes import Episode

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def firing(patient: str, minutes: float, state: str = "firing") -> Alert:
    at = T0 + timedelta(minutes=minutes)
    return Alert(
        alert_id=uuid.uuid4(),
        transition_id=uuid.uuid4(),
        patient_id=patient,
        rule_id="r",
        priority="medium",
        state=state,
        at=at,
        summary="s",
        source="src",  # type: ignore[arg-type]
        evidence=AlertEvidence(measure="heart_rate", observed_at=at),
    )


EPISODES = [
    Episode("pt-0001", "fever", T0, T0 + timedelta(hours=3)),
    Episode("pt-0002", "fever", T0, T0 + timedelta(hours=3)),
    Episode("pt-0003", "seizure", T0, T0 + timedelta(minutes=30)),
]


def test_an_alert_inside_the_window_detects_the_episode_and_times_it() -> None:
    report = score(EPISODES, [firing("pt-0001", 45), firing("pt-0001", 90)], patient_days=3)
    fever = next(k for k in report.by_kind if k.kind == "fever")
    assert (fever.episodes, fever.detected, fever.sensitivity) == (2, 1, 0.5)
    assert fever.median_minutes_to_alert == 45


def test_the_grace_period_counts_but_later_alerts_do_not() -> None:
    report = score(
        EPISODES, [firing("pt-0003", 30 + 119), firing("pt-0002", 180 + 121)], patient_days=3
    )
    seizure = next(k for k in report.by_kind if k.kind == "seizure")
    assert seizure.detected == 1
    assert report.alerts_outside_episodes == 1


def test_resolutions_are_not_firings_and_other_patients_do_not_count() -> None:
    report = score(
        EPISODES, [firing("pt-0001", 10, "resolved"), firing("pt-0009", 10)], patient_days=2
    )
    assert report.overall_sensitivity() == 0
    assert report.alerts_outside_episodes == 1
    assert report.alerts_per_patient_day == 0.5
