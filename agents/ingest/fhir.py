"""FHIR R4 vital-signs ``Observation`` resources, alone or in a ``Bundle``, into the contract.

Library: ``fhir.resources`` 8.x with its R4B models (``fhir.resources.R4B``). R4B (4.3.0) left
``Observation`` and ``Bundle`` as they were in R4 (4.0.1), so R4 messages validate unchanged;
the 6.x line, the last with plain R4 models, is written against pydantic v1 and fails to import
beside the project's pydantic v2 (tried: ``ImportError`` on ``ROOT_VALIDATOR_CONFIG_KEY``).
The models refuse unknown elements, which is what tells an R5 or STU3 resource apart: the
offending element names are looked up in the library's R5 and STU3 models to say which
version a resource came from.

Why observations are grouped: the contract's unit is one *set* of vitals taken together
(NEWS2 scores a set, and a systolic is meaningless without its diastolic), while FHIR sends one
resource per measure. Observations in one message with the same subject, device and effective
time are therefore merged into one :class:`~schemas.VitalSignsObservation`. Each resource is
judged on its own first, so one unusable entry never takes its neighbours down with it.

The code tables, unit conversions and observation-set assembly live in
:mod:`agents.ingest.vitalsets`, shared with :mod:`agents.ingest.hl7v2`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.quantity import Quantity
from pydantic import ValidationError

from agents.contract import ContractError, decode_object, describe
from agents.ingest.formats import Conversion, Rejection
from agents.ingest.vitalsets import (
    LOINC_BP_PANEL,
    LOINC_MEASURES,
    LOINC_SYSTEM,
    MDC_BP_PANEL,
    MDC_MEASURES,
    MDC_SYSTEM,
    UCUM_SYSTEM,
    GroupKey,
    Measure,
    ObservationSet,
    Reading,
    Vital,
    build_observation,
    canonical_value,
    event_id_for,
    is_device_id,
    is_patient_id,
    mdc_unit,
    shown,
    ucum_unit,
)
from schemas import InboundEvent
from schemas.common import Source

# --------------------------------------------------------------------------------------------
# FHIR
# --------------------------------------------------------------------------------------------

#: Statuses whose values are results; the others are not (yet, or any longer) readings.
READING_STATUSES: Final = frozenset({"final", "amended", "corrected"})
BUNDLE_TYPES: Final = frozenset({"transaction", "collection", "batch"})
#: FHIR releases whose Observation and Bundle are the R4 ones.
R4_VERSIONS: Final = ("4.0", "4.3")

SOURCE: Final[Source] = "fhir_gateway"

_REFERENCE = re.compile(r"(?:.*/)?(?P<type>[A-Za-z]+)/(?P<id>[^/]+)(?:/_history/[^/]+)?")
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?", re.ASCII)
_DATE_ONLY = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?", re.ASCII)
_PROFILE_VERSION = re.compile(r"\|(?P<version>\d+(?:\.\d+)*)\Z", re.ASCII)
_PROFILE_RELEASE = re.compile(r"hl7\.org/fhir/(?P<release>STU3|DSTU2|R5|R6|[0-35-9]\.\d+)/")


@dataclass
class _Candidate:
    """One Observation that passed its own checks, waiting to join an observation set."""

    patient_id: str
    device_id: str
    observed_at: datetime
    identity: str
    readings: list[Reading]
    #: Unusable components of a blood-pressure panel whose other components are kept.
    problems: list[Rejection] = field(default_factory=list)


def convert_fhir(raw: bytes) -> Conversion:
    """Convert a FHIR R4 ``Observation`` or ``Bundle`` (JSON) into vital-signs events.

    Never raises for bad input: what cannot be used comes back as a :class:`Rejection`.

    Example:
        >>> conversion = convert_fhir(path.read_bytes())
        >>> [event.heart_rate for event in conversion.events]
    """
    try:
        data = decode_object(raw)
    except ContractError as error:
        return Conversion(rejections=[Rejection.of(error)])
    except RecursionError:
        return Conversion(rejections=[Rejection("invalid_json", "JSON nested too deeply")])
    resource_type = data.get("resourceType")
    if resource_type == "Bundle":
        return _convert_bundle(data)
    if resource_type == "Observation":
        outcome = _observation(data, "Observation")
        if isinstance(outcome, Rejection):
            return Conversion(rejections=[outcome])
        return _assemble([outcome], list(outcome.problems))
    return Conversion(rejections=[_unsupported_type(resource_type, None)])


def _convert_bundle(data: dict[str, object]) -> Conversion:
    problem = _version_problem(data)
    if problem:
        return Conversion(rejections=[Rejection("unsupported_fhir_version", problem, "Bundle")])
    entries = data.get("entry")
    shell = dict(data)
    if isinstance(entries, list):
        # The entries' resources are judged one by one below, so that one bad entry does not
        # fail the Bundle: only the Bundle's own structure is validated here.
        shell["entry"] = [
            {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
            for e in entries
        ]
    try:
        bundle = Bundle.model_validate(shell)
    except ValidationError as error:
        return Conversion(rejections=[_invalid(error, "Bundle", data)])
    except (ValueError, TypeError, RecursionError) as error:
        return Conversion(rejections=[Rejection("invalid_resource", _short(error), "Bundle")])
    if bundle.type not in BUNDLE_TYPES:
        return Conversion(
            rejections=[
                Rejection(
                    "unsupported_bundle_type",
                    f"Bundle.type {shown(bundle.type)} is not one of {sorted(BUNDLE_TYPES)}",
                    "Bundle",
                )
            ]
        )
    candidates: list[_Candidate] = []
    rejections: list[Rejection] = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        location = f"Bundle.entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            rejections.append(
                Rejection("missing_resource", "the entry carries no resource", location)
            )
            continue
        if resource.get("resourceType") != "Observation":
            rejections.append(_unsupported_type(resource.get("resourceType"), location))
            continue
        outcome = _observation(resource, location)
        if isinstance(outcome, Rejection):
            rejections.append(outcome)
        else:
            candidates.append(outcome)
            rejections.extend(outcome.problems)
    if not candidates and not rejections:
        rejections.append(Rejection("empty_bundle", "the Bundle has no entries", "Bundle"))
    return _assemble(candidates, rejections)


def _assemble(candidates: Sequence[_Candidate], rejections: list[Rejection]) -> Conversion:
    groups: dict[GroupKey, ObservationSet] = {}
    for candidate in candidates:
        if not candidate.readings:
            continue  # a panel none of whose components could be read: its problems say why
        key = (candidate.patient_id, candidate.device_id, candidate.observed_at)
        group = groups.setdefault(
            key,
            ObservationSet(candidate.patient_id, candidate.device_id, candidate.observed_at),
        )
        group.readings.extend(candidate.readings)
        group.identity.append(candidate.identity)
    events: list[InboundEvent] = []
    for group in groups.values():
        event_id = event_id_for("fhir", group.patient_id, *sorted(group.identity))
        event, problems = build_observation(group, event_id=event_id, source=SOURCE)
        rejections.extend(problems)
        if event is not None:
            events.append(event)
    return Conversion(events=events, rejections=rejections)


def _unsupported_type(resource_type: object, location: str | None) -> Rejection:
    what = shown(resource_type) if isinstance(resource_type, str) else "missing"
    return Rejection(
        "unsupported_resource_type",
        f"resourceType {what}: send an Observation or a Bundle of Observations",
        location,
    )


def _observation(resource: dict[str, object], location: str) -> _Candidate | Rejection:
    """Check one Observation on its own; its readings, or why it cannot be used."""
    problem = _version_problem(resource)
    if problem:
        return Rejection("unsupported_fhir_version", problem, location)
    time_problem = _time_problem(resource)
    if time_problem:
        return Rejection(*time_problem, location)
    try:
        observation = Observation.model_validate(resource)
    except ValidationError as error:
        return _invalid(error, location, resource)
    except (ValueError, TypeError, RecursionError) as error:
        return Rejection("invalid_resource", _short(error), location)
    try:
        return _candidate(observation, location, resource)
    except ContractError as error:
        return Rejection.of(error, location)


def _candidate(observation: Observation, location: str, resource: dict[str, object]) -> _Candidate:
    status = observation.status
    if status == "entered-in-error":
        raise ContractError(
            "entered_in_error",
            "status 'entered-in-error': the observation was withdrawn; it is not a reading",
        )
    if status not in READING_STATUSES:
        raise ContractError(
            "non_final_status",
            f"status {shown(status)} is not a result; only {sorted(READING_STATUSES)} are read",
        )
    measure = _measure(observation.code.coding or [], "code")
    patient_id = _patient_id(observation)
    device_id = _device_id(observation)
    observed_at = _observed_at(observation)
    problems: list[Rejection] = []
    if measure is None:
        readings, problems = _panel_readings(observation.component or [], location)
    else:
        readings = [_reading(measure, observation, "", location)]
    return _Candidate(
        patient_id=patient_id,
        device_id=device_id,
        observed_at=observed_at,
        identity=_identity(observation, resource),
        readings=readings,
        problems=problems,
    )


def _measure(codings: Iterable[Any], where: str) -> Measure | None:
    """The measure a CodeableConcept's codings name, or None for a blood-pressure panel.

    Raises:
        ContractError: ``unknown_code`` when no coding is a vital sign read here,
            ``ambiguous_code`` when codings name different vitals.
    """
    found: dict[Vital, Measure] = {}
    panel = False
    seen: list[str] = []
    for coding in codings:
        system, code = coding.system or "", coding.code or ""
        seen.append(f"{system}|{code}")
        if (system, code) in ((LOINC_SYSTEM, LOINC_BP_PANEL), (MDC_SYSTEM, MDC_BP_PANEL)):
            panel = True
            continue
        table = LOINC_MEASURES if system == LOINC_SYSTEM else MDC_MEASURES
        measure = table.get(code) if system in (LOINC_SYSTEM, MDC_SYSTEM) else None
        if measure is not None:
            best = found.get(measure.vital)
            found[measure.vital] = measure if best is None or measure.rank < best.rank else best
    if panel and not found:
        return None
    if len(found) == 1 and not panel:
        return next(iter(found.values()))
    if found or panel:
        raise ContractError(
            "ambiguous_code", f"{where} codings name different measures: {', '.join(seen[:4])}"
        )
    named = ", ".join(shown(s, 60) for s in seen[:3]) or "no coding"
    raise ContractError(
        "unknown_code",
        f"{where} {named} is not a vital sign read here (LOINC "
        f"{', '.join(LOINC_MEASURES)} or {LOINC_BP_PANEL}; MDC {', '.join(MDC_MEASURES)})",
    )


def _panel_readings(
    components: Sequence[ObservationComponent], location: str
) -> tuple[list[Reading], list[Rejection]]:
    """Readings of a blood-pressure panel's components; a rejection per unusable component."""
    readings: list[Reading] = []
    problems: list[Rejection] = []
    for index, component in enumerate(components):
        where = f"{location}.component[{index}]"
        try:
            measure = _measure(component.code.coding or [], "component.code")
            if measure is None:
                raise ContractError("unknown_code", "a panel code cannot be a component")
            readings.append(_reading(measure, component, "component.", where))
        except ContractError as error:
            problems.append(Rejection.of(error, where))
    if not components:
        problems.append(
            Rejection("value_missing", "blood-pressure panel without components", location)
        )
    return readings, problems


def _reading(
    measure: Measure, element: Observation | ObservationComponent, prefix: str, location: str
) -> Reading:
    """The value of an Observation or component, converted to the canonical unit.

    Raises:
        ContractError: ``value_missing``, ``unsupported_value_type``, ``inexact_value`` or
            ``unknown_unit``.
    """
    absent = element.dataAbsentReason
    if absent is not None:
        codes = ", ".join(shown(c.code) for c in absent.coding or [] if c.code) or "given"
        raise ContractError(
            "value_missing", f"{prefix}dataAbsentReason {codes}: no value to read ({measure.name})"
        )
    quantity = element.valueQuantity
    if quantity is None:
        others = [
            name
            for name in type(element).model_fields
            if name.startswith("value") and getattr(element, name) is not None
        ]
        if others:
            raise ContractError(
                "unsupported_value_type",
                f"{prefix}{others[0]} is not a valueQuantity ({measure.name})",
            )
        raise ContractError(
            "value_missing", f"{prefix}valueQuantity and dataAbsentReason are both absent"
        )
    return Reading(
        vital=measure.vital,
        value=_quantity_value(measure, quantity, prefix),
        rank=measure.rank,
        code=measure.name,
        location=location,
    )


def _quantity_value(measure: Measure, quantity: Quantity, prefix: str) -> float:
    if quantity.value is None:
        raise ContractError("value_missing", f"{prefix}valueQuantity has no value")
    if quantity.comparator is not None:
        raise ContractError(
            "inexact_value",
            f"{prefix}valueQuantity.comparator {shown(quantity.comparator)}: "
            "a bound is not a measurement",
        )
    system, code = quantity.system or "", quantity.code or ""
    if system == UCUM_SYSTEM:
        unit = ucum_unit(code)
    elif system == MDC_SYSTEM:
        unit = mdc_unit(code, "")
    else:
        raise ContractError(
            "unknown_unit",
            f"{prefix}valueQuantity needs system {UCUM_SYSTEM} and a UCUM code "
            "(the display text in 'unit' is not read)",
        )
    if unit is None:
        raise ContractError(
            "unknown_unit", f"{prefix}valueQuantity code {shown(code)} is not a unit read here"
        )
    return canonical_value(measure.vital, Decimal(quantity.value), unit)


def _patient_id(observation: Observation) -> str:
    reference = observation.subject.reference if observation.subject else None
    match = _REFERENCE.fullmatch(reference or "")
    if match and match["type"] == "Patient" and is_patient_id(match["id"]):
        return match["id"]
    raise ContractError(
        "invalid_patient_reference",
        "subject.reference must be Patient/<id> with a pseudonymous id (3-64 letters, digits "
        "or -_.:, no names or birth dates)",
    )


def _device_id(observation: Observation) -> str:
    if observation.device is None or not observation.device.reference:
        raise ContractError(
            "missing_device", "device.reference (Device/<id>) is required to tell monitors apart"
        )
    match = _REFERENCE.fullmatch(observation.device.reference)
    if match and match["type"] == "Device" and is_device_id(match["id"]):
        return match["id"]
    raise ContractError(
        "invalid_device_reference",
        "device.reference must be Device/<id> (a DeviceMetric or contained device is not a "
        "device id)",
    )


def _observed_at(observation: Observation) -> datetime:
    period = observation.effectivePeriod
    for name, value in (
        ("effectiveDateTime", observation.effectiveDateTime),
        ("effectiveInstant", observation.effectiveInstant),
        ("effectivePeriod.start", period.start if period else None),
    ):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ContractError("time_without_zone", f"{name} has no time-zone offset")
            return value
        if isinstance(value, date):
            raise ContractError("imprecise_time", f"{name} is a date without a time of day")
    if observation.effectiveTiming is not None:
        raise ContractError(
            "invalid_time", "effectiveTiming is not read: send effectiveDateTime or an instant"
        )
    raise ContractError(
        "missing_time", "effectiveDateTime, effectiveInstant or effectivePeriod.start is required"
    )


def _time_problem(resource: Mapping[str, object]) -> tuple[str, str] | None:
    """Catch a time without offset before the model does, to say so rather than 'bad format'.

    FHIR requires the offset whenever a time is given; guessing the zone could shift a
    reading by hours, so such a resource is refused.
    """
    period = resource.get("effectivePeriod")
    values = {
        "effectiveDateTime": resource.get("effectiveDateTime"),
        "effectiveInstant": resource.get("effectiveInstant"),
        "effectivePeriod.start": period.get("start") if isinstance(period, dict) else None,
    }
    for name, value in values.items():
        if isinstance(value, str) and _LOCAL_TIME.fullmatch(value):
            return (
                "time_without_zone",
                f"{name} has no time-zone offset: guessing one could shift the reading by hours",
            )
        if isinstance(value, str) and _DATE_ONLY.fullmatch(value) and name != "effectiveInstant":
            return "imprecise_time", f"{name} is a date without a time of day"
    return None


def _identity(observation: Observation, resource: object) -> str:
    """What identifies a resource across resends: its identifier, else its id, else its content.

    Not the Bundle entry's fullUrl: gateways mint a fresh ``urn:uuid`` for each transaction,
    so a resend would get a new event id.
    """
    for identifier in observation.identifier or []:
        if identifier.value:
            return f"identifier:{identifier.system or ''}|{identifier.value}"
    if observation.id:
        return f"id:{observation.id}"
    canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _version_problem(resource: Mapping[str, object]) -> str | None:
    """Why a resource looks like another FHIR release than R4, from its own hints."""
    version = resource.get("fhirVersion")
    if version is not None and not str(version).startswith(R4_VERSIONS):
        return f"fhirVersion {shown(version)} is not R4 (4.0.x or 4.3.x)"
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    for profile in profiles if isinstance(profiles, list) else []:
        if not isinstance(profile, str):
            continue
        pinned = _PROFILE_VERSION.search(profile)
        if pinned and not pinned["version"].startswith(R4_VERSIONS):
            return f"meta.profile {shown(profile, 100)} is for FHIR {pinned['version']}, not R4"
        release = _PROFILE_RELEASE.search(profile)
        if release:
            return f"meta.profile {shown(profile, 100)} is for FHIR {release['release']}, not R4"
    return None


def _foreign_release(resource_type: str, names: Sequence[str]) -> str | None:
    """Which other FHIR release defines all of ``names`` that R4 lacks, if one does."""
    # Imported only when a resource fails validation: two more model trees.
    from fhir.resources import get_fhir_model_class as r5_model
    from fhir.resources.STU3 import get_fhir_model_class as stu3_model

    for release, lookup in (("R5", r5_model), ("STU3", stu3_model)):
        try:
            model = lookup(resource_type)
        except (KeyError, ValueError, LookupError):
            continue
        known = {f.alias or n for n, f in model.model_fields.items()}
        if all(name in known for name in names):
            return release
    return None


def _invalid(error: ValidationError, location: str, resource: Mapping[str, object]) -> Rejection:
    """A model-validation failure, named as a version mismatch when that is what it is."""
    unknown = [
        str(item["loc"][0])
        for item in error.errors(include_url=False, include_input=False, include_context=False)
        if item["type"] == "extra_forbidden" and len(item["loc"]) == 1
    ]
    resource_type = resource.get("resourceType")
    if unknown and isinstance(resource_type, str):
        release = _foreign_release(resource_type, unknown)
        if release:
            return Rejection(
                "unsupported_fhir_version",
                f"{', '.join(unknown[:5])} exist in FHIR {release}, not R4: send R4 resources",
                location,
            )
    return Rejection("invalid_resource", _short_detail(describe(error)), location)


def _short_detail(text: str, limit: int = 500) -> str:
    # fhir.resources' messages span lines; a rejection is one line.
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _short(error: BaseException) -> str:
    return _short_detail(f"{type(error).__name__} while validating the resource")
