"""Line protocol for the inbound event kinds other than vitals, and for patient snapshots.

Measurements (timestamps are event time; tags are low-cardinality and pseudonymous):

- ``doses``: tags ``patient_id``, ``ward``, ``drug``, ``route``; fields ``dose_mg``,
  ``diazepam_equivalent_mg`` (float), ``taper_step`` (integer), ``as_needed`` (boolean),
  ``event_id`` (string).
- ``clinical_events``: tags ``patient_id``, ``ward``, ``event_type``; fields ``severity``
  (string), ``sedation_score`` (integer), ``duration_s`` (float), ``count`` (integer 1),
  ``event_id`` (string).
- ``assessments``: tags ``patient_id``, ``ward``, ``instrument`` (``ciwa_b`` or ``check_in``);
  CIWA-B fields ``total`` (integer), ``band`` (string); check-in fields ``anxiety``
  (integer), ``sleep_hours`` (float) and each yes/no answer (boolean); ``event_id``.
- ``enrolments``: tags ``patient_id``, ``ward``, ``programme``, ``drug``; fields
  ``half_life_class``, ``risk_tier`` (string), ``kind`` (``enrolment``/``discharge``).
- ``scores``: tags ``patient_id``, ``ward``; fields ``news2`` (integer), ``news2_band``
  (string), ``news2_stale`` (boolean), ``ciwa_b`` (integer), ``ciwa_b_band`` (string).
- ``patient_state``: tags ``patient_id``, ``ward``, ``programme``; fields ``phase``,
  ``half_life_class``, ``highest_priority`` (string), ``hours_since_last_dose``,
  ``peak_window_start_h``, ``peak_window_end_h`` (float), ``in_peak_window`` (boolean),
  ``taper_step``, ``active_alerts`` (integer).

Absent values are left out, never written as zero.
"""

from __future__ import annotations

from typing import Any

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from schemas import (
    CheckIn,
    CiwaBAssessment,
    ClinicalEvent,
    Discharge,
    DoseAdministration,
    Enrolment,
    PatientSnapshot,
)
from schemas.assessments import CHECK_IN_QUESTIONS

UNKNOWN = "unknown"


def _fields(point: Point, values: dict[str, Any]) -> Point:
    for name, value in values.items():
        if value is not None:
            point.field(name, value)
    return point


def dose_point(dose: DoseAdministration) -> str:
    """One ``doses`` point."""
    point = (
        Point("doses")
        .tag("patient_id", dose.patient_id)
        .tag("ward", dose.ward or UNKNOWN)
        .tag("drug", dose.drug)
        .tag("route", dose.route)
        .time(dose.observed_at, WritePrecision.NS)
    )
    _fields(
        point,
        {
            "dose_mg": float(dose.dose_mg),
            "diazepam_equivalent_mg": (
                float(dose.diazepam_equivalent_mg)
                if dose.diazepam_equivalent_mg is not None
                else None
            ),
            "taper_step": dose.taper_step,
            "as_needed": dose.as_needed,
            "event_id": str(dose.event_id),
        },
    )
    return str(point.to_line_protocol())


def clinical_event_point(event: ClinicalEvent) -> str:
    """One ``clinical_events`` point."""
    point = (
        Point("clinical_events")
        .tag("patient_id", event.patient_id)
        .tag("ward", event.ward or UNKNOWN)
        .tag("event_type", event.event_type)
        .time(event.observed_at, WritePrecision.NS)
    )
    _fields(
        point,
        {
            "severity": event.severity,
            "sedation_score": event.sedation_score,
            "duration_s": float(event.duration_s) if event.duration_s is not None else None,
            "count": 1,
            "event_id": str(event.event_id),
        },
    )
    return str(point.to_line_protocol())


def assessment_point(assessment: CiwaBAssessment | CheckIn) -> str:
    """One ``assessments`` point for a CIWA-B form or a telehealth check-in."""
    point = (
        Point("assessments")
        .tag("patient_id", assessment.patient_id)
        .tag("ward", assessment.ward or UNKNOWN)
        .tag("instrument", assessment.kind)
        .time(assessment.observed_at, WritePrecision.NS)
        .field("event_id", str(assessment.event_id))
    )
    if isinstance(assessment, CiwaBAssessment):
        _fields(point, {"total": assessment.total, "band": assessment.band})
    else:
        questions = set(CHECK_IN_QUESTIONS) - {"sleep_hours"} | {"wants_callback"}
        answers = assessment.model_dump(include=questions)
        sleep = float(assessment.sleep_hours) if assessment.sleep_hours is not None else None
        _fields(point, {**answers, "sleep_hours": sleep})
    return str(point.to_line_protocol())


def enrolment_point(event: Enrolment | Discharge) -> str:
    """One ``enrolments`` point for an admission or a discharge."""
    point = (
        Point("enrolments")
        .tag("patient_id", event.patient_id)
        .tag("ward", event.ward or UNKNOWN)
        .time(event.observed_at, WritePrecision.NS)
        .field("kind", event.kind)
        .field("event_id", str(event.event_id))
    )
    if isinstance(event, Enrolment):
        point.tag("programme", event.programme).tag("drug", event.drug)
        point.field("half_life_class", event.half_life_class).field("risk_tier", event.risk_tier)
    else:
        point.field("reason", event.reason)
    return str(point.to_line_protocol())


def snapshot_points(snapshot: PatientSnapshot) -> list[str]:
    """A ``scores`` and a ``patient_state`` point for one snapshot."""
    ward = snapshot.ward or UNKNOWN
    scores = (
        Point("scores")
        .tag("patient_id", snapshot.patient_id)
        .tag("ward", ward)
        .time(snapshot.at, WritePrecision.NS)
        .field("news2_stale", snapshot.news2_stale)
    )
    _fields(
        scores,
        {
            "news2": snapshot.news2,
            "news2_band": snapshot.news2_band,
            "ciwa_b": snapshot.ciwa_b,
            "ciwa_b_band": snapshot.ciwa_b_band,
        },
    )
    state = (
        Point("patient_state")
        .tag("patient_id", snapshot.patient_id)
        .tag("ward", ward)
        .tag("programme", snapshot.programme or UNKNOWN)
        .time(snapshot.at, WritePrecision.NS)
    )
    _fields(
        state,
        {
            "phase": snapshot.phase,
            "half_life_class": snapshot.half_life_class,
            "highest_priority": snapshot.highest_priority,
            "hours_since_last_dose": _float(snapshot.hours_since_last_dose),
            "peak_window_start_h": _float(snapshot.peak_window_start_h),
            "peak_window_end_h": _float(snapshot.peak_window_end_h),
            "in_peak_window": snapshot.in_peak_window,
            "taper_step": snapshot.taper_step,
            "active_alerts": snapshot.active_alerts,
        },
    )
    return [str(scores.to_line_protocol()), str(state.to_line_protocol())]


def _float(value: float | None) -> float | None:
    return float(value) if value is not None else None
