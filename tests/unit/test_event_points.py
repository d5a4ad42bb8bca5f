"""Line protocol for doses, clinical events, assessments, enrolments and patient snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agents.influx.event_points import (
    assessment_point,
    clinical_event_point,
    dose_point,
    enrolment_point,
    snapshot_points,
)
from schemas import (
    INBOUND_EVENT,
    CheckIn,
    CiwaBAssessment,
    CiwaBItems,
    ClinicalEvent,
    DoseAdministration,
    Enrolment,
    PatientSnapshot,
)

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NS = str(int(AT.timestamp()) * 10**9)
ENVELOPE: dict[str, Any] = {
    "event_id": "00000000-0000-4000-8000-000000000001",
    "patient_id": "pt-0001",
    "device_id": "app-1",
    "ward": "ward-3",
    "source": "telehealth_app",
    "observed_at": AT.isoformat(),
}


def test_a_dose_is_written_with_its_diazepam_equivalent_and_integer_step() -> None:
    dose = INBOUND_EVENT.validate_python(
        {**ENVELOPE, "kind": "dose", "drug": "lorazepam", "dose_mg": 2, "taper_step": 4}
    )
    assert isinstance(dose, DoseAdministration)
    line = dose_point(dose)
    assert line.startswith("doses,drug=lorazepam,patient_id=pt-0001,route=oral,ward=ward-3 ")
    assert "dose_mg=2," in line or "dose_mg=2 " in line
    assert "diazepam_equivalent_mg=20" in line
    assert "taper_step=4i" in line
    assert "as_needed=false" in line
    assert line.endswith(NS)


def test_a_clinical_event_counts_one_and_leaves_absent_values_out() -> None:
    event = ClinicalEvent.model_validate(
        {**ENVELOPE, "kind": "clinical_event", "event_type": "seizure", "duration_s": 45}
    )
    line = clinical_event_point(event)
    assert line.startswith("clinical_events,event_type=seizure,patient_id=pt-0001,ward=ward-3 ")
    assert "count=1i" in line
    assert "duration_s=45" in line
    assert "severity" not in line
    assert "sedation_score" not in line


def test_ciwa_b_and_check_in_share_the_assessments_measurement() -> None:
    items = dict.fromkeys(CiwaBItems.model_fields, 1)
    ciwa = CiwaBAssessment.model_validate({**ENVELOPE, "kind": "ciwa_b", "items": items})
    line = assessment_point(ciwa)
    assert "instrument=ciwa_b" in line
    assert "total=20i" in line
    assert 'band="mild"' in line
    check_in = CheckIn.model_validate(
        {**ENVELOPE, "kind": "check_in", "anxiety": 6, "tremor": True, "sleep_hours": 4}
    )
    line = assessment_point(check_in)
    assert "instrument=check_in" in line
    assert "anxiety=6i" in line
    assert "tremor=true" in line
    assert "sleep_hours=4" in line
    assert "sweating" not in line


def test_an_enrolment_is_tagged_with_programme_and_drug() -> None:
    enrolment = Enrolment.model_validate(
        {
            **ENVELOPE,
            "kind": "enrolment",
            "programme": "inpatient",
            "drug": "alprazolam",
            "last_dose_at": "2026-11-19T20:00:00Z",
        }
    )
    line = enrolment_point(enrolment)
    assert "programme=inpatient" in line
    assert "drug=alprazolam" in line
    assert 'half_life_class="short"' in line


def test_a_snapshot_becomes_a_scores_and_a_patient_state_point() -> None:
    snapshot = PatientSnapshot(
        patient_id="pt-0001",
        ward="ward-3",
        at=AT,
        news2=7,
        news2_band="high",
        ciwa_b=22,
        ciwa_b_band="moderate",
        phase="acute",
        hours_since_last_dose=71.5,
        in_peak_window=True,
        peak_window_start_h=24,
        peak_window_end_h=96,
        taper_step=None,
        half_life_class="short",
        programme="inpatient",
        active_alerts=2,
        highest_priority="high",
    )
    scores, state = snapshot_points(snapshot)
    assert scores.startswith("scores,patient_id=pt-0001,ward=ward-3 ")
    assert "news2=7i" in scores
    assert 'news2_band="high"' in scores
    assert "news2_stale=false" in scores
    assert "ciwa_b=22i" in scores
    assert state.startswith("patient_state,patient_id=pt-0001,programme=inpatient,ward=ward-3 ")
    assert 'phase="acute"' in state
    assert "hours_since_last_dose=71.5" in state
    assert "in_peak_window=true" in state
    assert "active_alerts=2i" in state
    assert "taper_step" not in state
    assert scores.endswith(NS)
    assert state.endswith(NS)
