"""The vital-signs contract and its parser: what is accepted, what is refused and why."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.contract import ContractError, parse_event
from schemas import VitalSignsObservation

NOW = datetime(2026, 11, 20, 8, 5, tzinfo=UTC)


def parse_observation(raw: bytes) -> VitalSignsObservation:
    event = parse_event(raw, received_at=NOW)
    assert isinstance(event, VitalSignsObservation)
    return event


def message(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "vital_signs",
        "event_id": str(uuid.uuid4()),
        "patient_id": "pt-7f3a9c",
        "device_id": "bm-ward3-07",
        "ward": "ward-3",
        "source": "bedside_monitor",
        "observed_at": "2026-11-20T09:00:00+01:00",
        "heart_rate": 88,
    }
    base.update(overrides)
    return base


def reason_for(data: Any) -> str:
    with pytest.raises(ContractError) as caught:
        parse_observation(json.dumps(data).encode())
    return caught.value.reason


def test_a_minimal_observation_is_accepted_with_its_time_zone() -> None:
    observation = parse_observation(json.dumps(message()).encode())
    assert observation.heart_rate == 88
    assert observation.observed_at.utcoffset() is not None
    assert observation.vitals() == {"heart_rate": 88}


def test_an_observation_without_any_vital_sign_is_refused() -> None:
    with pytest.raises(ContractError, match="at least one vital sign"):
        parse_observation(json.dumps(message(heart_rate=None)).encode())


def test_a_time_without_a_time_zone_is_refused() -> None:
    assert reason_for(message(observed_at="2026-11-20T08:00:00")) == "schema_violation"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("heart_rate", 301),
        ("heart_rate", -1),
        ("temperature", 29.9),
        ("temperature", 44.1),
        ("spo2", 100.5),
        ("spo2", 49),
        ("respiratory_rate", 121),
    ],
)
def test_physiologically_impossible_values_are_refused_as_artefacts(
    field: str, value: float
) -> None:
    assert reason_for(message(**{field: value})) == "schema_violation"


@pytest.mark.parametrize(
    ("field", "value"),
    [("heart_rate", 300), ("temperature", 30), ("temperature", 44), ("spo2", 100)],
)
def test_plausibility_limits_are_inclusive(field: str, value: float) -> None:
    assert (
        parse_observation(json.dumps(message(**{field: value})).encode()).vitals()[field] == value
    )


def test_diastolic_at_or_above_systolic_is_refused() -> None:
    with pytest.raises(ContractError, match="not below systolic_bp"):
        parse_observation(json.dumps(message(systolic_bp=90, diastolic_bp=90)).encode())


def test_blood_pressure_must_come_as_a_pair() -> None:
    with pytest.raises(ContractError, match="together"):
        parse_observation(json.dumps(message(systolic_bp=120)).encode())


@pytest.mark.parametrize("patient_id", ["Jane Doe", "1970/01/01", "ab", "x" * 65, ""])
def test_patient_ids_that_could_identify_someone_are_refused(patient_id: str) -> None:
    assert reason_for(message(patient_id=patient_id)) == "schema_violation"


def test_unknown_fields_are_refused_so_no_stray_data_is_stored() -> None:
    with pytest.raises(ContractError, match="name: Extra inputs are not permitted"):
        parse_observation(json.dumps(message(name="Jane Doe")).encode())


def test_rejection_detail_never_echoes_the_input_value() -> None:
    with pytest.raises(ContractError) as caught:
        parse_observation(json.dumps(message(patient_id="Jane Doe")).encode())
    assert "Jane" not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not_utf8"),
        (b"{", "invalid_json"),
        (b"[]", "not_an_object"),
        (b'"text"', "not_an_object"),
        (json.dumps(message(kind="blood_gas")).encode(), "unknown_kind"),
        (json.dumps({k: v for k, v in message().items() if k != "kind"}).encode(), "missing_kind"),
        (json.dumps(message(late=False)).encode(), "reserved_field"),
        (json.dumps(message(observed_at="2026-11-20T08:11:00+00:00")).encode(), "future_time"),
    ],
)
def test_each_kind_of_bad_input_has_its_own_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_observation(raw)
    assert caught.value.reason == reason


@given(st.binary(max_size=512))
def test_arbitrary_bytes_either_parse_or_raise_a_contract_error(raw: bytes) -> None:
    try:
        parse_observation(raw)
    except ContractError as error:
        assert error.reason
        assert error.detail


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_arbitrary_json_either_parses_or_raises_a_contract_error(value: Any) -> None:
    try:
        parse_observation(json.dumps(value).encode())
    except ContractError as error:
        assert error.reason in {"not_an_object", "missing_kind", "unknown_kind", "schema_violation"}


@given(st.dictionaries(st.sampled_from(sorted(message())), json_values))
def test_arbitrary_field_values_either_parse_or_raise_a_contract_error(
    fields: dict[str, Any],
) -> None:
    try:
        observation = parse_observation(json.dumps(message(**fields)).encode())
    except ContractError as error:
        assert error.reason in {"schema_violation", "missing_kind", "unknown_kind", "future_time"}
    else:
        assert isinstance(observation, VitalSignsObservation)


def test_an_accepted_observation_is_stamped_and_round_trips_through_json() -> None:
    observation = parse_observation(json.dumps(message(temperature=37.4)).encode())
    assert observation.received_at == NOW
    assert observation.late is False
    assert VitalSignsObservation.model_validate_json(observation.model_dump_json()) == observation


def test_a_reading_a_little_in_the_future_is_accepted_within_the_clock_tolerance() -> None:
    observation = parse_observation(
        json.dumps(message(observed_at="2026-11-20T08:09:00Z")).encode()
    )
    assert observation.late is False


def test_an_old_reading_is_accepted_and_marked_late() -> None:
    observation = parse_observation(
        json.dumps(message(observed_at="2026-11-20T07:00:00Z")).encode()
    )
    assert observation.late is True


def test_deeply_nested_json_is_refused_not_crashed_on() -> None:
    with pytest.raises(ContractError) as caught:
        parse_observation(b"[" * 100_000)
    assert caught.value.reason == "invalid_json"
