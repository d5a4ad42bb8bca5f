"""Events to InfluxDB line protocol, through influxdb-client's ``Point``.

The schema (measurements, tags, field types and units, timestamps, retention) is documented in
``docs/storage.md``; keep the two in step. Rules every measurement follows:

- tags are low-cardinality and pseudonymous (patient id, ward, device, codes), never a value
  that grows with the number of events (event ids and offsets are fields or timestamp parts);
- a field is always written with the same type (floats are floats even when whole, counters are
  integers), because InfluxDB refuses a field whose type changes;
- timestamps are event time, so a redelivered event overwrites its own point (same measurement,
  tags and timestamp) instead of adding another: the writes are idempotent.

To add a measurement for a new event kind on the observations topic, write a function from the
decoded JSON object to one line here and register it in :data:`POINTS_BY_KIND`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from agents.influx.event_points import (
    assessment_point,
    clinical_event_point,
    dose_point,
    enrolment_point,
)
from schemas import (
    Alert,
    CheckIn,
    CiwaBAssessment,
    ClinicalEvent,
    DeadLetter,
    Discharge,
    DoseAdministration,
    Enrolment,
    VitalSignsObservation,
)

UNKNOWN_WARD = "unknown"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch, exactly (no float rounding)."""
    return (moment - _EPOCH) // _MICROSECOND * 1000


def observation_point(observation: VitalSignsObservation) -> str:
    """``vitals``: one vital-signs observation."""
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
    """``alerts``: one alert transition."""
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
    if alert.ack_latency_s is not None:
        point.field("ack_latency_s", float(alert.ack_latency_s))
    return str(point.to_line_protocol())


def deadletter_point(
    *, reason: str, path: str, received_at: datetime, partition: int, offset: int
) -> str:
    """``deadletters``: one dead-lettered message, counted.

    ``received_at`` has microsecond resolution; the dead letter's offset modulo 1000 fills the
    nanoseconds, and its partition is a tag, so two letters with the same reason and path in
    the same microsecond stay two points, while a redelivered letter (same partition and
    offset) overwrites itself. Two letters collide only if, in one partition, they carry the
    same microsecond and offsets a multiple of 1000 apart.
    """
    point = (
        Point("deadletters")
        .tag("reason", reason)
        .tag("path", path)
        .tag("partition", str(partition))
        .field("count", 1)
        .time(epoch_ns(received_at) + offset % 1000, WritePrecision.NS)
    )
    return str(point.to_line_protocol())


def dead_letter_record_point(letter: DeadLetter, *, partition: int, offset: int) -> str:
    """``deadletters`` point of a record on the dead-letter topic."""
    return deadletter_point(
        reason=letter.reason,
        path=letter.path,
        received_at=letter.received_at,
        partition=partition,
        offset=offset,
    )


@dataclass(frozen=True)
class HealthSnapshot:
    """What a worker reports in one heartbeat."""

    worker: str
    at: datetime
    points_written_total: int
    consumer_lag: int | None = None
    sink_latency_ms: float | None = None
    sink_latency_max_ms: float | None = None
    messages_in_total: Mapping[str, int] = field(default_factory=dict)


def health_points(snapshot: HealthSnapshot) -> list[str]:
    """``pipeline_health``: the worker's heartbeat point, and one point per consumed topic.

    The heartbeat point has only the ``worker`` tag; the per-topic points add ``topic`` and
    carry only ``messages_in_total``, so no field is ever summed twice. Fields without a value
    this interval (no event written, lag unknown) are left out rather than written as zero.
    """
    at = epoch_ns(snapshot.at)
    beat = (
        Point("pipeline_health")
        .tag("worker", snapshot.worker)
        .field("heartbeat", 1)
        .field("points_written_total", int(snapshot.points_written_total))
        .time(at, WritePrecision.NS)
    )
    if snapshot.consumer_lag is not None:
        beat.field("consumer_lag", int(snapshot.consumer_lag))
    if snapshot.sink_latency_ms is not None:
        beat.field("sink_latency_ms", float(snapshot.sink_latency_ms))
    if snapshot.sink_latency_max_ms is not None:
        beat.field("sink_latency_max_ms", float(snapshot.sink_latency_max_ms))
    lines = [str(beat.to_line_protocol())]
    for topic, count in sorted(snapshot.messages_in_total.items()):
        per_topic = (
            Point("pipeline_health")
            .tag("worker", snapshot.worker)
            .tag("topic", topic)
            .field("messages_in_total", int(count))
            .time(at, WritePrecision.NS)
        )
        lines.append(str(per_topic.to_line_protocol()))
    return lines


def _vital_signs(data: Mapping[str, object]) -> str:
    return observation_point(VitalSignsObservation.model_validate(data))


#: Line-protocol encoders for the event kinds on the observations topic, by ``kind``. A kind
#: missing here is not stored (yet); see the module docstring.
POINTS_BY_KIND: dict[str, Callable[[Mapping[str, object]], str]] = {
    "vital_signs": _vital_signs,
    "dose": lambda data: dose_point(DoseAdministration.model_validate(data)),
    "clinical_event": lambda data: clinical_event_point(ClinicalEvent.model_validate(data)),
    "ciwa_b": lambda data: assessment_point(CiwaBAssessment.model_validate(data)),
    "check_in": lambda data: assessment_point(CheckIn.model_validate(data)),
    "enrolment": lambda data: enrolment_point(Enrolment.model_validate(data)),
    "discharge": lambda data: enrolment_point(Discharge.model_validate(data)),
}
