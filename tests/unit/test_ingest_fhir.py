"""FHIR R4 vital-signs Observations and Bundles into the contract: mappings, units, grouping,
deterministic ids, and every reason a resource is refused."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.ingest.fhir import convert_fhir
from agents.ingest.formats import Conversion
from agents.ingest.vitalsets import LOINC_MEASURES, MDC_MEASURES
from schemas import VitalSignsObservation

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "fhir"
LOINC = "http://loinc.org"
MDC = "urn:iso:std:iso:11073:10101"
UCUM = "http://unitsofmeasure.org"
WHEN = "2025-11-20T08:15:00+00:00"

#: A LOINC code per vital (the first listed, for SpO2 2708-6).
LOINC_CODE = {m.vital: c for c, m in reversed(list(LOINC_MEASURES.items()))}

#: A plausible value and its UCUM unit per vital.
SAMPLES: dict[str, tuple[float, str]] = {
    "heart_rate": (88, "/min"),
    "systolic_bp": (128, "mm[Hg]"),
    "diastolic_bp": (82, "mm[Hg]"),
    "temperature": (37.1, "Cel"),
    "spo2": (97, "%"),
    "respiratory_rate": (16, "/min"),
}


def observation(
    code: str = "8867-4",
    value: float | None = 88,
    unit: str = "/min",
    *,
    system: str = LOINC,
    **overrides: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{code}",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/pt-7f3a9c"},
        "device": {"reference": "Device/bm-ward3-07"},
        "effectiveDateTime": WHEN,
    }
    if value is not None:
        resource["valueQuantity"] = {"value": value, "system": UCUM, "code": unit}
    resource.update(overrides)
    return {k: v for k, v in resource.items() if v is not None}


def bp_panel(systolic: float, diastolic: float, unit: str = "mm[Hg]", **overrides: Any) -> Any:
    def component(code: str, value: float) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": value, "system": UCUM, "code": unit},
        }

    return observation(
        "85354-9",
        None,
        component=[component("8480-6", systolic), component("8462-4", diastolic)],
        **overrides,
    )


def bundle(*resources: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in resources
        ],
    }


def run(resource: dict[str, Any]) -> Conversion:
    return convert_fhir(json.dumps(resource).encode())


def only_event(conversion: Conversion) -> VitalSignsObservation:
    assert conversion.rejections == []
    assert len(conversion.events) == 1
    event = conversion.events[0]
    assert isinstance(event, VitalSignsObservation)
    return event


def reasons(conversion: Conversion) -> list[str]:
    return [r.reason for r in conversion.rejections]


# --- the committed examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "vitals", "rejected"),
    [
        ("heart-rate.json", {"heart_rate": 124}, []),
        ("blood-pressure-panel.json", {"systolic_bp": 152, "diastolic_bp": 94}, []),
        ("body-temperature-fahrenheit.json", {"temperature": 37.0}, []),
        (
            "bundle-transaction.json",
            {
                "heart_rate": 118,
                "spo2": 96,
                "respiratory_rate": 20,
                "temperature": 37.4,
                "systolic_bp": 148,
                "diastolic_bp": 92,
            },
            [],
        ),
        ("entered-in-error.json", None, ["entered_in_error"]),
        ("data-absent-reason.json", None, ["value_missing"]),
    ],
)
def test_example_files_convert_to_the_documented_vitals(
    name: str, vitals: dict[str, float] | None, rejected: list[str]
) -> None:
    conversion = convert_fhir((EXAMPLES / name).read_bytes())
    assert reasons(conversion) == rejected
    if vitals is None:
        assert conversion.events == []
    else:
        event = only_event(conversion)
        assert event.vitals() == pytest.approx(vitals)
        assert event.source == "fhir_gateway"
        assert event.patient_id == "pt-7f3a9c"


# --- codes and units -----------------------------------------------------------------------


@pytest.mark.parametrize(("code", "vital"), [(c, m.vital) for c, m in LOINC_MEASURES.items()])
def test_each_loinc_code_maps_to_its_vital(code: str, vital: str) -> None:
    value, unit = SAMPLES[vital]
    if vital in ("systolic_bp", "diastolic_bp"):
        partner = "8462-4" if vital == "systolic_bp" else "8480-6"
        other = "diastolic_bp" if vital == "systolic_bp" else "systolic_bp"
        conversion = run(
            bundle(
                observation(code, value, unit, id="a"),
                observation(partner, SAMPLES[other][0], "mm[Hg]", id="b"),
            )
        )
    else:
        conversion = run(observation(code, value, unit))
    assert getattr(only_event(conversion), vital) == pytest.approx(value)


@pytest.mark.parametrize(("code", "vital"), [(c, m.vital) for c, m in MDC_MEASURES.items()])
def test_each_mdc_code_maps_to_its_vital(code: str, vital: str) -> None:
    value, unit = SAMPLES[vital]
    resources = [observation(code, value, unit, system=MDC, id="a")]
    if vital in ("systolic_bp", "diastolic_bp"):
        other = "diastolic_bp" if vital == "systolic_bp" else "systolic_bp"
        resources.append(observation(LOINC_CODE[other], SAMPLES[other][0], "mm[Hg]", id="b"))
    event = only_event(run(bundle(*resources)))
    assert getattr(event, vital) == pytest.approx(value)


@pytest.mark.parametrize(
    ("code", "value", "unit", "vital", "expected"),
    [
        ("8310-5", 98.6, "[degF]", "temperature", 37.0),
        ("8310-5", 100.4, "[degF]", "temperature", 38.0),
        ("8310-5", 37.2, "Cel", "temperature", 37.2),
        ("8867-4", 72, "{beats}/min", "heart_rate", 72),
        ("9279-1", 14, "{breaths}/min", "respiratory_rate", 14),
        ("8867-4", 72, "1/min", "heart_rate", 72),
        ("2708-6", 95, "%", "spo2", 95),
    ],
)
def test_units_are_read_from_the_ucum_code_and_converted(
    code: str, value: float, unit: str, vital: str, expected: float
) -> None:
    event = only_event(run(observation(code, value, unit)))
    assert getattr(event, vital) == pytest.approx(expected)


def test_fahrenheit_98_6_is_exactly_37_celsius() -> None:
    event = only_event(run(observation("8310-5", 98.6, "[degF]")))
    assert event.temperature == 37.0


def test_kilopascal_blood_pressure_is_converted_to_mm_hg() -> None:
    event = only_event(run(bp_panel(16, 10, unit="kPa")))
    assert event.systolic_bp == pytest.approx(16 * 7.50062)
    assert event.diastolic_bp == pytest.approx(10 * 7.50062)


def test_an_mdc_unit_code_in_value_quantity_is_read() -> None:
    resource = observation("8867-4", 70, "/min")
    resource["valueQuantity"] = {"value": 70, "system": MDC, "code": "264864"}
    assert only_event(run(resource)).heart_rate == 70


def test_the_display_unit_text_is_never_read() -> None:
    resource = observation("8867-4", 70, "/min")
    resource["valueQuantity"] = {"value": 70, "unit": "/min"}
    conversion = run(resource)
    assert reasons(conversion) == ["unknown_unit"]
    assert "display" in conversion.rejections[0].detail


@pytest.mark.parametrize(
    ("code", "unit"),
    [("2708-6", "mm[Hg]"), ("8867-4", "%"), ("8310-5", "K"), ("8867-4", "beats")],
)
def test_a_unit_that_does_not_measure_the_vital_is_refused(code: str, unit: str) -> None:
    assert reasons(run(observation(code, 50, unit))) == ["unknown_unit"]


def test_a_coding_besides_the_loinc_one_is_ignored_but_conflicting_codings_are_refused() -> None:
    resource = observation("8867-4", 70, "/min")
    resource["code"]["coding"].append({"system": "http://snomed.info/sct", "code": "364075005"})
    assert only_event(run(resource)).heart_rate == 70
    resource["code"]["coding"].append({"system": LOINC, "code": "9279-1"})
    assert reasons(run(resource)) == ["ambiguous_code"]


def test_an_unknown_code_is_refused_naming_the_code() -> None:
    conversion = run(observation("8302-2", 175, "cm"))
    assert reasons(conversion) == ["unknown_code"]
    assert "8302-2" in conversion.rejections[0].detail


# --- plausibility limits (the contract's own) -----------------------------------------------


@pytest.mark.parametrize(
    ("code", "unit", "low", "high"),
    [
        ("8867-4", "/min", 0, 300),
        ("8310-5", "Cel", 30, 44),
        ("2708-6", "%", 50, 100),
        ("9279-1", "/min", 0, 120),
    ],
)
def test_values_at_the_plausibility_limits_pass_and_beyond_them_are_artefacts(
    code: str, unit: str, low: float, high: float
) -> None:
    for value in (low, high):
        assert only_event(run(observation(code, value, unit))).vitals()
    for value in (low - 0.1, high + 0.1):
        conversion = run(observation(code, value, unit))
        assert conversion.events == []
        assert reasons(conversion) == ["schema_violation"]
        assert "artefact" in conversion.rejections[0].detail


def test_blood_pressure_at_its_limits_passes_and_beyond_is_refused() -> None:
    assert only_event(run(bp_panel(300, 200))).systolic_bp == 300
    assert reasons(run(bp_panel(300.5, 90))) == ["schema_violation", "schema_violation"]
    assert reasons(run(bp_panel(120, 200.5))) == ["schema_violation", "schema_violation"]


def test_a_diastolic_at_or_above_the_systolic_drops_both_but_keeps_the_other_vitals() -> None:
    conversion = run(bundle(bp_panel(90, 90, id="bp"), observation("8867-4", 80, "/min")))
    assert [e.vitals() for e in conversion.events] == [{"heart_rate": 80}]
    assert reasons(conversion) == ["schema_violation", "schema_violation"]
    assert [r.location for r in conversion.rejections] == [
        "Bundle.entry[0].component[0]",
        "Bundle.entry[0].component[1]",
    ]


def test_an_artefact_in_one_entry_does_not_discard_the_readings_taken_with_it() -> None:
    conversion = run(
        bundle(observation("2708-6", 20, "%", id="a"), observation("8867-4", 90, "/min", id="b"))
    )
    assert [e.vitals() for e in conversion.events] == [{"heart_rate": 90}]
    assert [(r.reason, r.location) for r in conversion.rejections] == [
        ("schema_violation", "Bundle.entry[0]")
    ]


# --- statuses, time, references -------------------------------------------------------------


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_result_statuses_become_readings(status: str) -> None:
    assert only_event(run(observation(status=status))).heart_rate == 88


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("entered-in-error", "entered_in_error"),
        ("cancelled", "non_final_status"),
        ("preliminary", "non_final_status"),
        ("registered", "non_final_status"),
        ("unknown", "non_final_status"),
    ],
)
def test_other_statuses_are_refused_with_a_reason(status: str, reason: str) -> None:
    conversion = run(observation(status=status))
    assert conversion.events == []
    assert reasons(conversion) == [reason]


@pytest.mark.parametrize(
    "overrides",
    [
        {"effectiveDateTime": None, "effectiveInstant": "2025-11-20T08:15:00.250Z"},
        {"effectiveDateTime": None, "effectivePeriod": {"start": "2025-11-20T09:15:00+01:00"}},
    ],
)
def test_an_instant_or_a_period_start_is_the_observation_time(overrides: dict[str, Any]) -> None:
    event = only_event(run(observation(**overrides)))
    assert event.observed_at.replace(microsecond=0) == datetime(2025, 11, 20, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"effectiveDateTime": "2025-11-20T08:15:00"}, "time_without_zone"),
        (
            {"effectiveDateTime": None, "effectiveInstant": "2025-11-20T08:15:00"},
            "time_without_zone",
        ),
        ({"effectiveDateTime": "2025-11-20"}, "imprecise_time"),
        ({"effectiveDateTime": None}, "missing_time"),
        ({"effectiveDateTime": None, "effectiveTiming": {"event": [WHEN]}}, "invalid_time"),
        ({"subject": {"reference": "Patient/John Smith 1970-01-01"}}, "invalid_patient_reference"),
        ({"subject": {"reference": "Group/ward-3"}}, "invalid_patient_reference"),
        ({"subject": None}, "invalid_patient_reference"),
        ({"device": None}, "missing_device"),
        ({"device": {"display": "bedside monitor"}}, "missing_device"),
        ({"device": {"reference": "DeviceMetric/hr"}}, "invalid_device_reference"),
        ({"device": {"reference": "#contained-monitor"}}, "invalid_device_reference"),
        ({"valueQuantity": None}, "value_missing"),
        ({"valueQuantity": None, "valueString": "88"}, "unsupported_value_type"),
        (
            {"valueQuantity": {"value": 88, "comparator": ">", "system": UCUM, "code": "/min"}},
            "inexact_value",
        ),
        (
            {"dataAbsentReason": {"coding": [{"code": "asked-declined"}]}, "valueQuantity": None},
            "value_missing",
        ),
        ({"status": None}, "invalid_resource"),
        (
            {"valueQuantity": {"value": "eighty", "system": UCUM, "code": "/min"}},
            "invalid_resource",
        ),
    ],
)
def test_each_unusable_observation_is_refused_with_its_reason(
    overrides: dict[str, Any], reason: str
) -> None:
    resource = observation()
    for key, value in overrides.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    conversion = run(resource)
    assert conversion.events == []
    assert reasons(conversion) == [reason]


def test_a_subject_reference_never_appears_in_the_detail() -> None:
    conversion = run(observation(subject={"reference": "Patient/John Smith 1970-01-01"}))
    detail = conversion.rejections[0].detail
    assert "John" not in detail
    assert "1970" not in detail


def test_absolute_and_versioned_references_name_the_patient_and_device() -> None:
    event = only_event(
        run(
            observation(
                subject={"reference": "https://fhir.example.org/r4/Patient/pt-7f3a9c"},
                device={"reference": "Device/bm-ward3-07/_history/2"},
            )
        )
    )
    assert (event.patient_id, event.device_id) == ("pt-7f3a9c", "bm-ward3-07")


def test_a_bp_panel_component_without_a_value_is_refused_and_the_partner_cannot_stand_alone() -> (
    None
):
    panel = bp_panel(130, 85)
    panel["component"][1] = {
        "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
        "dataAbsentReason": {"coding": [{"code": "error"}]},
    }
    conversion = run(panel)
    assert conversion.events == []
    assert [(r.reason, r.location) for r in conversion.rejections] == [
        ("value_missing", "Observation.component[1]"),
        ("schema_violation", "Observation.component[0]"),
    ]


def test_a_mean_pressure_component_is_refused_while_systolic_and_diastolic_are_kept() -> None:
    panel = bp_panel(130, 85)
    panel["component"].append(
        {
            "code": {"coding": [{"system": LOINC, "code": "8478-0"}]},
            "valueQuantity": {"value": 100, "system": UCUM, "code": "mm[Hg]"},
        }
    )
    conversion = run(panel)
    assert [e.vitals() for e in conversion.events] == [{"systolic_bp": 130, "diastolic_bp": 85}]
    assert [(r.reason, r.location) for r in conversion.rejections] == [
        ("unknown_code", "Observation.component[2]")
    ]


# --- other releases, resource types, bundle types ------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns|5.0.0"]}},
        {"meta": {"profile": ["http://hl7.org/fhir/STU3/StructureDefinition/vitalsigns"]}},
        {"triggeredBy": [{"observation": {"reference": "Observation/x"}, "type": "reflex"}]},
        {"context": {"reference": "Encounter/e1"}},
        {"fhirVersion": "5.0.0"},
    ],
)
def test_resources_of_other_fhir_releases_are_refused(overrides: dict[str, Any]) -> None:
    conversion = run(observation(**overrides))
    assert reasons(conversion) == ["unsupported_fhir_version"]


def test_an_r4_versioned_profile_is_accepted() -> None:
    meta = {"profile": ["http://hl7.org/fhir/StructureDefinition/heartrate|4.0.1"]}
    assert only_event(run(observation(meta=meta))).heart_rate == 88


def test_an_unknown_element_not_from_another_release_is_an_invalid_resource() -> None:
    assert reasons(run(observation(colour="blue"))) == ["invalid_resource"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", "not_utf8"),
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"resourceType": "Patient", "name": [{"family": "TEST"}]}', "unsupported_resource_type"),
        (b'{"status": "final"}', "unsupported_resource_type"),
        (b"[" * 100_000, "invalid_json"),
    ],
)
def test_messages_that_are_not_observations_are_refused(raw: bytes, reason: str) -> None:
    assert reasons(convert_fhir(raw)) == [reason]


def test_other_bundle_types_are_refused() -> None:
    assert reasons(run(bundle(observation(), kind="searchset"))) == ["unsupported_bundle_type"]
    assert reasons(run(bundle(observation(), kind="document"))) == ["unsupported_bundle_type"]


@pytest.mark.parametrize("kind", ["transaction", "collection", "batch"])
def test_transaction_collection_and_batch_bundles_are_read(kind: str) -> None:
    assert only_event(run(bundle(observation(), kind=kind))).heart_rate == 88


def test_each_bundle_entry_is_judged_on_its_own_and_located() -> None:
    patient = {"resourceType": "Patient", "name": [{"family": "TEST", "given": ["PATIENT"]}]}
    conversion = run(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": observation("8867-4", 88, "/min", id="a")},
                {"resource": patient},
                {"request": {"method": "DELETE", "url": "Observation/old"}},
                {"resource": observation("8867-4", 90, "/min", id="b", status="preliminary")},
                {"resource": observation("2708-6", 97, "%", id="c")},
            ],
        }
    )
    assert [e.vitals() for e in conversion.events] == [{"heart_rate": 88, "spo2": 97}]
    assert [(r.reason, r.location) for r in conversion.rejections] == [
        ("unsupported_resource_type", "Bundle.entry[1]"),
        ("missing_resource", "Bundle.entry[2]"),
        ("non_final_status", "Bundle.entry[3]"),
    ]
    assert "TEST" not in repr(conversion.rejections)


def test_an_empty_bundle_is_refused() -> None:
    assert reasons(run(bundle())) == ["empty_bundle"]


# --- grouping into observation sets ---------------------------------------------------------


def test_observations_with_the_same_subject_device_and_time_form_one_set() -> None:
    conversion = run(
        bundle(
            observation("8867-4", 118, "/min", id="a"),
            observation("9279-1", 22, "/min", id="b"),
            observation("2708-6", 95, "%", id="c", effectiveDateTime="2025-11-20T09:15:00+01:00"),
        )
    )
    assert only_event(conversion).vitals() == {
        "heart_rate": 118,
        "respiratory_rate": 22,
        "spo2": 95,
    }


@pytest.mark.parametrize(
    "difference",
    [
        {"device": {"reference": "Device/bm-ward3-08"}},
        {"subject": {"reference": "Patient/pt-0b1d2e"}},
        {"effectiveDateTime": "2025-11-20T08:16:00+00:00"},
    ],
)
def test_a_different_device_patient_or_time_makes_another_set(difference: dict[str, Any]) -> None:
    conversion = run(
        bundle(
            observation("8867-4", 118, "/min", id="a"),
            observation("9279-1", 22, "/min", id="b", **difference),
        )
    )
    assert conversion.rejections == []
    assert [e.vitals() for e in conversion.events] == [
        {"heart_rate": 118},
        {"respiratory_rate": 22},
    ]


def test_two_readings_of_one_vital_in_a_set_keep_the_first_and_refuse_the_second() -> None:
    conversion = run(
        bundle(
            observation("8867-4", 118, "/min", id="a"), observation("8867-4", 64, "/min", id="b")
        )
    )
    assert [e.heart_rate for e in conversion.events] == [118]
    assert [(r.reason, r.location) for r in conversion.rejections] == [
        ("duplicate_measure", "Bundle.entry[1]")
    ]


def test_the_ecg_heart_rate_outranks_the_oximeter_pulse_rate() -> None:
    conversion = run(
        bundle(
            observation("149530", 80, "/min", system=MDC, id="pulse"),
            observation("147842", 82, "/min", system=MDC, id="ecg"),
        )
    )
    assert [e.heart_rate for e in conversion.events] == [82]
    assert reasons(conversion) == ["duplicate_measure"]


# --- deterministic event ids ----------------------------------------------------------------


def test_the_same_message_sent_twice_gets_the_same_event_id() -> None:
    raw = (EXAMPLES / "bundle-transaction.json").read_bytes()
    assert convert_fhir(raw).events[0].event_id == convert_fhir(raw).events[0].event_id


def test_a_resent_resource_keeps_its_event_id_whatever_else_changes_around_it() -> None:
    first = only_event(run(observation()))
    resent = copy.deepcopy(observation())
    resent["meta"] = {"lastUpdated": "2025-11-20T08:20:00+00:00"}
    assert only_event(run(resent)).event_id == first.event_id


@pytest.mark.parametrize(
    "change",
    [
        {"id": "another"},
        {"subject": {"reference": "Patient/pt-0b1d2e"}},
        {"identifier": [{"system": "urn:example:gw", "value": "obs-1"}]},
    ],
)
def test_a_different_resource_or_patient_gets_a_different_event_id(change: dict[str, Any]) -> None:
    assert (
        only_event(run(observation(**change))).event_id != only_event(run(observation())).event_id
    )


def test_the_identifier_outranks_the_server_assigned_id() -> None:
    identifier = [{"system": "urn:example:gw", "value": "obs-1"}]
    a = only_event(run(observation(id="server-1", identifier=identifier)))
    b = only_event(run(observation(id="server-2", identifier=identifier)))
    assert a.event_id == b.event_id


def test_a_resource_without_any_id_still_gets_a_stable_event_id() -> None:
    resource = observation()
    del resource["id"]
    assert only_event(run(resource)).event_id == only_event(run(resource)).event_id


def test_a_resend_with_fresh_bundle_full_urls_keeps_the_event_id() -> None:
    resource = observation()
    del resource["id"]

    def sent_as(full_url: str) -> Any:
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"fullUrl": full_url, "resource": resource}],
        }

    first = only_event(run(sent_as("urn:uuid:6a1d3f0e-2b7c-4e55-9c1a-0d8e4b7f2a01")))
    again = only_event(run(sent_as("urn:uuid:0f6b0c5e-9d1e-4c86-a6f4-2f1c9b9d3e77")))
    assert first.event_id == again.event_id
