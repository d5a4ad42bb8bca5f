"""Events to InfluxDB line protocol, through influxdb-client's ``Point``.

Measurements (tags are low-cardinality and pseudonymous; timestamps are event time, so a
redelivered event overwrites its own point instead of adding another):

- ``vitals``: tags ``patient_id``, ``ward``, ``device_id``, ``source``; float fields per vital
  (``heart_rate`` /min, ``systolic_bp`` and ``diastolic_bp`` mm[Hg], ``temperature`` Cel,
  ``spo2`` %, ``respiratory_rate`` /min) and string field ``event_id``.
- ``alerts``: tags ``patient_id``, ``ward``, ``rule_id``, ``priority``, ``state``; fields
  ``alert_id``, ``transition_id``, ``summary`` (strings), ``value``, ``threshold`` (floats).
"""

from __future__ import annotations

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from schemas import Alert, VitalSignsObservation

UNKNOWN_WARD = "unknown"


def observation_point(observation: VitalSignsObservation) -> str:
    """Line protocol for one vital-signs observation."""
    point = (
        Point("vitals")
        .tag("patient_id", observation.patient_id)
        .tag("ward", observation.ward or UNKNOWN_WARD)
        .tag("device_id", observation.device_id)
        .tag("source", observation.source)
        .field("event_id", str(observation.event_id))
        .time(observation.observed_at, WritePrecision.NS)
    )
    for name, value in observation.vitals().items():
        point.field(name, float(value))
    return str(point.to_line_protocol())


def alert_point(alert: Alert) -> str:
    """Line protocol for one alert transition."""
    point = (
        Point("alerts")
        .tag("patient_id", alert.patient_id)
        .tag("ward", alert.ward or UNKNOWN_WARD)
        .tag("rule_id", alert.rule_id)
        .tag("priority", alert.priority)
        .tag("state", alert.state)
        .field("alert_id", str(alert.alert_id))
        .field("transition_id", str(alert.transition_id))
        .field("summary", alert.summary)
        .field("escalation_level", alert.escalation_level)
        .time(alert.at, WritePrecision.NS)
    )
    if alert.evidence.value is not None:
        point.field("value", float(alert.evidence.value))
    if alert.evidence.threshold is not None:
        point.field("threshold", float(alert.evidence.threshold))
    return str(point.to_line_protocol())
