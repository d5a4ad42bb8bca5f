"""Line protocol for InfluxDB: measurement, tags, typed fields and event-time timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agents.engine import evaluate_thresholds
from agents.influx.points import alert_point, observation_point
from schemas import VitalSignsObservation

OBS = VitalSignsObservation(
    event_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
    patient_id="pt-0001",
    device_id="bm-1",
    source="bedside_monitor",
    observed_at=datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=UTC),
    heart_rate=121,
    temperature=37.5,
)


def test_an_observation_becomes_one_vitals_point_at_event_time() -> None:
    line = observation_point(OBS)
    head, fields, timestamp = line.rsplit(" ", 2)[0], line.rsplit(" ", 2)[1], line.rsplit(" ", 1)[1]
    assert line.startswith("vitals,")
    assert "device_id=bm-1" in head
    assert "patient_id=pt-0001" in head
    assert "ward=unknown" in head
    assert 'event_id="00000000-0000-4000-8000-000000000001"' in line
    assert "heart_rate=121" in fields
    assert "temperature=37.5" in fields
    assert "spo2" not in line  # absent vitals are not written
    assert timestamp == str(int(OBS.observed_at.timestamp()) * 10**9 + 123456000)


def test_an_alert_becomes_one_alerts_point_at_transition_time() -> None:
    _, (alert,) = evaluate_thresholds({}, OBS)
    line = alert_point(alert)
    assert line.startswith("alerts,")
    for tag in ("patient_id=pt-0001", "rule_id=pulse_high", "priority=medium", "state=firing"):
        assert tag in line
    assert "threshold=120" in line
    assert "value=121" in line
    assert line.endswith(str(int(OBS.observed_at.timestamp()) * 10**9 + 123456000))
