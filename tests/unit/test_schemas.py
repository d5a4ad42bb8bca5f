"""Every inbound event model: derived values, cross-field checks, and the committed JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    INBOUND_EVENT,
    CheckIn,
    CiwaBAssessment,
    CiwaBItems,
    ClinicalEvent,
    DoseAdministration,
    Enrolment,
    ciwa_b_band,
)
from schemas.drugs import EQUIVALENT_TO_10MG_DIAZEPAM, HALF_LIFE_CLASS, diazepam_equivalent_mg
from schemas.jsonschema import SCHEMA_DIR, render

ENVELOPE: dict[str, Any] = {
    "event_id": "00000000-0000-4000-8000-000000000001",
    "patient_id": "pt-0001",
    "device_id": "app-1",
    "source": "telehealth_app",
    "observed_at": "2026-11-20T08:00:00Z",
}
ITEMS = list(CiwaBItems.model_fields)


def ciwa(scores: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    items = dict.fromkeys(ITEMS, 0) | (scores or {})
    return {**ENVELOPE, "kind": "ciwa_b", "items": items, **extra}


def test_committed_json_schemas_match_the_models() -> None:
    committed = {path.name: path.read_text() for path in SCHEMA_DIR.glob("*.schema.json")}
    assert committed == render(), "run `detoxmon schemas export` and commit schemas/jsonschema/"


def test_every_json_schema_forbids_unknown_fields() -> None:
    for text in render().values():
        assert json.loads(text)["additionalProperties"] is False


def test_ciwa_b_has_twenty_items_and_the_total_is_computed() -> None:
    assert len(ITEMS) == 20
    assessment = INBOUND_EVENT.validate_python(ciwa({"tremor": 4, "sweating": 3, "upset": 2}))
    assert isinstance(assessment, CiwaBAssessment)
    assert assessment.total == 9
    assert assessment.band == "mild"


def test_ciwa_b_total_sent_by_the_gateway_must_match_the_items() -> None:
    with pytest.raises(ValidationError, match="does not match the items, which sum to 9"):
        INBOUND_EVENT.validate_python(ciwa({"tremor": 4, "sweating": 3, "upset": 2}, total=10))
    assert INBOUND_EVENT.validate_python(ciwa({"tremor": 4}, total=4, band="mild"))


def test_ciwa_b_band_sent_by_the_gateway_must_match_the_total() -> None:
    with pytest.raises(ValidationError, match="band 'severe' does not match total 4"):
        INBOUND_EVENT.validate_python(ciwa({"tremor": 4}, band="severe"))


@pytest.mark.parametrize("score", [-1, 5])
def test_ciwa_b_items_outside_zero_to_four_are_refused(score: int) -> None:
    with pytest.raises(ValidationError, match=r"items\.tremor"):
        INBOUND_EVENT.validate_python(ciwa({"tremor": score}))


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none"),
        (1, "mild"),
        (20, "mild"),
        (21, "moderate"),
        (40, "moderate"),
        (41, "severe"),
        (60, "severe"),
        (61, "very_severe"),
        (80, "very_severe"),
    ],
)
def test_ciwa_b_bands_follow_the_published_form(total: int, band: str) -> None:
    assert ciwa_b_band(total) == band


def test_all_items_at_four_make_eighty() -> None:
    assessment = INBOUND_EVENT.validate_python(ciwa(dict.fromkeys(ITEMS, 4)))
    assert isinstance(assessment, CiwaBAssessment)
    assert (assessment.total, assessment.band) == (80, "very_severe")


def test_assessment_round_trips_through_json() -> None:
    assessment = INBOUND_EVENT.validate_python(ciwa({"tremor": 2}))
    assert INBOUND_EVENT.validate_json(assessment.model_dump_json()) == assessment


def test_dose_carries_its_diazepam_equivalent_from_the_ashton_table() -> None:
    dose = INBOUND_EVENT.validate_python(
        {**ENVELOPE, "kind": "dose", "drug": "alprazolam", "dose_mg": 1.5, "taper_step": 3}
    )
    assert isinstance(dose, DoseAdministration)
    assert dose.diazepam_equivalent_mg == 30.0  # 0.5 mg alprazolam ~ 10 mg diazepam (Ashton)


def test_dose_with_an_unknown_equivalent_says_so() -> None:
    dose = INBOUND_EVENT.validate_python(
        {**ENVELOPE, "kind": "dose", "drug": "zaleplon", "dose_mg": 10}
    )
    assert isinstance(dose, DoseAdministration)
    assert dose.diazepam_equivalent_mg is None


def test_dose_equivalent_sent_by_the_gateway_must_match_the_table() -> None:
    with pytest.raises(ValidationError, match=r"does not match the table.s 10\.0"):
        INBOUND_EVENT.validate_python(
            {
                **ENVELOPE,
                "kind": "dose",
                "drug": "lorazepam",
                "dose_mg": 1,
                "diazepam_equivalent_mg": 20,
            }
        )


def test_every_drug_with_an_equivalent_has_a_half_life_class() -> None:
    assert set(EQUIVALENT_TO_10MG_DIAZEPAM) <= set(HALF_LIFE_CLASS)
    assert diazepam_equivalent_mg("diazepam", 10) == 10


def test_enrolment_defaults_the_half_life_class_from_the_drug() -> None:
    enrolment = INBOUND_EVENT.validate_python(
        {
            **ENVELOPE,
            "kind": "enrolment",
            "ward": "ward-3",
            "programme": "inpatient",
            "drug": "alprazolam",
            "last_dose_at": "2026-11-19T20:00:00Z",
            "risk_factors": ["seizure_history"],
        }
    )
    assert isinstance(enrolment, Enrolment)
    assert enrolment.half_life_class == "short"
    assert enrolment.spo2_scale == 1


def test_enrolment_with_a_last_dose_after_admission_is_refused() -> None:
    with pytest.raises(ValidationError, match="last_dose_at is after the enrolment time"):
        INBOUND_EVENT.validate_python(
            {
                **ENVELOPE,
                "kind": "enrolment",
                "ward": "ward-3",
                "programme": "telehealth",
                "drug": "diazepam",
                "last_dose_at": "2026-11-20T09:00:00Z",
            }
        )


def test_enrolment_requires_a_ward() -> None:
    with pytest.raises(ValidationError, match="ward"):
        Enrolment.model_validate(
            {
                **ENVELOPE,
                "kind": "enrolment",
                "programme": "inpatient",
                "drug": "diazepam",
                "last_dose_at": "2026-11-19T20:00:00Z",
            }
        )


def test_an_empty_check_in_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least one question"):
        CheckIn.model_validate({**ENVELOPE, "kind": "check_in"})
    assert CheckIn.model_validate({**ENVELOPE, "kind": "check_in", "wants_callback": True})


def test_sedation_score_belongs_to_over_sedation_only() -> None:
    with pytest.raises(ValidationError, match="sedation_score"):
        ClinicalEvent.model_validate(
            {**ENVELOPE, "kind": "clinical_event", "event_type": "fall", "sedation_score": 2}
        )
    event = ClinicalEvent.model_validate(
        {**ENVELOPE, "kind": "clinical_event", "event_type": "over_sedation", "sedation_score": 2}
    )
    assert event.sedation_score == 2


def test_schema_dir_is_inside_the_package() -> None:
    assert Path(__file__).parents[2] / "schemas" / "jsonschema" == SCHEMA_DIR


EXAMPLES = Path(__file__).parents[2] / "schemas" / "examples" / "json"


def test_there_is_a_committed_example_of_every_inbound_kind_and_each_validates() -> None:
    from schemas import EVENT_MODELS

    examples = {path.stem: path for path in EXAMPLES.glob("*.json")}
    assert set(examples) == set(EVENT_MODELS)
    for kind, path in examples.items():
        event = INBOUND_EVENT.validate_json(path.read_bytes())
        assert event.kind == kind
