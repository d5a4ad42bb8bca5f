"""Vocabulary and observation sets shared by the FHIR R4 and HL7 v2 converters.

HL7 v2 OBX segments carry the same LOINC and IEEE 11073 (MDC) codes as FHIR's vital-signs
profile, so both formats map codes and units here (shared/reference/clinical.md sections 8 and
10) and assemble readings into one contract observation set per patient, device and time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

from pydantic import TypeAdapter, ValidationError

from agents.contract import ContractError, validate_event
from agents.ingest.formats import Rejection
from schemas import InboundEvent
from schemas.common import DeviceId, PatientId, Source

# --------------------------------------------------------------------------------------------
# Vocabulary shared with HL7 v2: codes, units, conversions (shared/reference/clinical.md §8, §10)
# --------------------------------------------------------------------------------------------

Vital = Literal[
    "heart_rate", "systolic_bp", "diastolic_bp", "temperature", "spo2", "respiratory_rate"
]

LOINC_SYSTEM: Final = "http://loinc.org"
MDC_SYSTEM: Final = "urn:iso:std:iso:11073:10101"
UCUM_SYSTEM: Final = "http://unitsofmeasure.org"

#: Namespace of the deterministic event ids (uuid5) minted for FHIR and HL7 v2 messages.
INGEST_NAMESPACE: Final = uuid.UUID("7f6567e4-64e2-45fc-9f93-b64539d28d2a")


@dataclass(frozen=True)
class Measure:
    """What a code measures; ``rank`` orders codes that give the same vital (lower wins)."""

    vital: Vital
    rank: int
    name: str


#: LOINC codes of the FHIR vital-signs profile.
LOINC_MEASURES: Final[Mapping[str, Measure]] = {
    "8867-4": Measure("heart_rate", 0, "LOINC 8867-4 (heart rate)"),
    "8480-6": Measure("systolic_bp", 0, "LOINC 8480-6 (systolic blood pressure)"),
    "8462-4": Measure("diastolic_bp", 0, "LOINC 8462-4 (diastolic blood pressure)"),
    "8310-5": Measure("temperature", 0, "LOINC 8310-5 (body temperature)"),
    "2708-6": Measure("spo2", 0, "LOINC 2708-6 (oxygen saturation)"),
    "59408-5": Measure("spo2", 0, "LOINC 59408-5 (oxygen saturation by pulse oximetry)"),
    "9279-1": Measure("respiratory_rate", 0, "LOINC 9279-1 (respiratory rate)"),
}

#: IEEE 11073-10101 codes (partition 2) and their reference ids. The ECG heart rate outranks
#: the pulse rates: when a monitor sends both, the ECG value is the heart rate.
MDC_MEASURES: Final[Mapping[str, Measure]] = {
    "147842": Measure("heart_rate", 0, "MDC_ECG_HEART_RATE"),
    "149530": Measure("heart_rate", 1, "MDC_PULS_OXIM_PULS_RATE"),
    "149546": Measure("heart_rate", 2, "MDC_PULS_RATE_NON_INV"),
    "150021": Measure("systolic_bp", 0, "MDC_PRESS_BLD_NONINV_SYS"),
    "150022": Measure("diastolic_bp", 0, "MDC_PRESS_BLD_NONINV_DIA"),
    "150301": Measure("systolic_bp", 0, "MDC_PRESS_CUFF_SYS"),
    "150302": Measure("diastolic_bp", 0, "MDC_PRESS_CUFF_DIA"),
    "150364": Measure("temperature", 0, "MDC_TEMP_BODY"),
    "150344": Measure("temperature", 1, "MDC_TEMP"),
    "150456": Measure("spo2", 0, "MDC_PULS_OXIM_SAT_O2"),
    "151562": Measure("respiratory_rate", 0, "MDC_RESP_RATE"),
}

#: Reference id (e.g. ``MDC_ECG_HEART_RATE``) to code.
MDC_REFIDS: Final[Mapping[str, str]] = {m.name: code for code, m in MDC_MEASURES.items()}

#: Blood-pressure panels: the values are in their systolic and diastolic components.
LOINC_BP_PANEL: Final = "85354-9"
MDC_BP_PANEL: Final = "150020"  # MDC_PRESS_BLD_NONINV, the compound NIBP measurement

Dimension = Literal["rate", "pressure", "temperature", "fraction"]

#: The kind of unit each vital is measured in; its canonical unit is schemas.VITAL_UNITS.
VITAL_DIMENSIONS: Final[Mapping[Vital, Dimension]] = {
    "heart_rate": "rate",
    "respiratory_rate": "rate",
    "systolic_bp": "pressure",
    "diastolic_bp": "pressure",
    "temperature": "temperature",
    "spo2": "fraction",
}

#: 1 kPa in mm[Hg] (1 mm[Hg] = 133.322 Pa).
MMHG_PER_KPA: Final = Decimal("7.50062")


def _same(value: Decimal) -> Decimal:
    return value


def _kpa_to_mmhg(value: Decimal) -> Decimal:
    return value * MMHG_PER_KPA


def _fahrenheit_to_celsius(value: Decimal) -> Decimal:
    # Decimal arithmetic, so 98.6 [degF] is exactly 37 Cel rather than 36.99999999999999.
    return (value - 32) * 5 / 9


@dataclass(frozen=True)
class Unit:
    """A unit a device may send and how to bring a value into the canonical unit."""

    name: str
    dimension: Dimension
    to_canonical: Callable[[Decimal], Decimal]


MIN = Unit("/min", "rate", _same)
MMHG = Unit("mm[Hg]", "pressure", _same)
KPA = Unit("kPa", "pressure", _kpa_to_mmhg)
CEL = Unit("Cel", "temperature", _same)
DEGF = Unit("[degF]", "temperature", _fahrenheit_to_celsius)
PERCENT = Unit("%", "fraction", _same)

#: UCUM codes accepted (after dropping ``{annotations}``, which carry no meaning in UCUM).
UCUM_UNITS: Final[Mapping[str, Unit]] = {
    "/min": MIN,
    "1/min": MIN,
    "mm[Hg]": MMHG,
    "kPa": KPA,
    "Cel": CEL,
    "[degF]": DEGF,
    "%": PERCENT,
}

#: IEEE 11073-10101 unit codes (partition 4: 4 x 65536 + term code) by reference id.
MDC_UNIT_CODES: Final[Mapping[str, tuple[str, Unit]]] = {
    "264864": ("MDC_DIM_BEAT_PER_MIN", MIN),
    "264928": ("MDC_DIM_RESP_PER_MIN", MIN),
    "266016": ("MDC_DIM_MMHG", MMHG),
    "265987": ("MDC_DIM_KILO_PASCAL", KPA),
    "262688": ("MDC_DIM_PERCENT", PERCENT),
    "268192": ("MDC_DIM_DEGC", CEL),
    "266560": ("MDC_DIM_FAHR", DEGF),
}
#: Reference id to unit.
MDC_UNIT_REFIDS: Final[Mapping[str, Unit]] = {refid: u for refid, u in MDC_UNIT_CODES.values()}
#: Codes accepted only together with their reference id. Public monitor samples send
#: Fahrenheit as 268224 as well as the 11073 table's 266560 (unverified, clinical.md §12).
MDC_UNIT_CODE_ALIASES: Final[Mapping[str, frozenset[str]]] = {
    "MDC_DIM_FAHR": frozenset({"268224"}),
}


def ucum_unit(code: str) -> Unit | None:
    """The unit a UCUM code names, or None when it is not one a vital sign comes in."""
    return UCUM_UNITS.get(re.sub(r"\{[^{}]*\}", "", code.strip()))


def mdc_unit(code: str, refid: str) -> Unit | None:
    """The unit an 11073 code and/or reference id name; None when unknown or they disagree."""
    by_code = MDC_UNIT_CODES.get(code)
    if refid:
        unit = MDC_UNIT_REFIDS.get(refid)
        if unit is None:
            return None
        if not code or (by_code is not None and by_code[0] == refid):
            return unit
        return unit if code in MDC_UNIT_CODE_ALIASES.get(refid, frozenset()) else None
    return by_code[1] if by_code else None


def canonical_value(vital: Vital, value: Decimal, unit: Unit) -> float:
    """``value`` in ``unit`` as the vital's canonical UCUM unit.

    Raises:
        ContractError: ``unknown_unit`` when the unit does not measure this vital,
            ``invalid_value`` when the value cannot be converted at all.
    """
    if unit.dimension != VITAL_DIMENSIONS[vital]:
        expected = ", ".join(
            sorted(u.name for u in UCUM_UNITS.values() if u.dimension == VITAL_DIMENSIONS[vital])
        )
        raise ContractError("unknown_unit", f"{unit.name} is not a unit of {vital} ({expected})")
    try:
        return float(unit.to_canonical(value))
    except ArithmeticError:  # decimal.Overflow and friends, e.g. 1e999999999 [degF]
        raise ContractError("invalid_value", "the value is out of any numeric range") from None


_PATIENT_ID: Final[TypeAdapter[str]] = TypeAdapter(PatientId)
_DEVICE_ID: Final[TypeAdapter[str]] = TypeAdapter(DeviceId)


def is_patient_id(value: str) -> bool:
    """Whether ``value`` is a pseudonymous patient id as the contract defines it."""
    try:
        _PATIENT_ID.validate_python(value)
    except ValidationError:
        return False
    return True


def is_device_id(value: str) -> bool:
    """Whether ``value`` is a device id as the contract defines it."""
    try:
        _DEVICE_ID.validate_python(value)
    except ValidationError:
        return False
    return True


def shown(value: object, limit: int = 40) -> str:
    """A code or status for an error detail: quoted and cut short (never a patient field)."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --------------------------------------------------------------------------------------------
# Observation sets, shared with HL7 v2
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One vital-sign value in its canonical unit, and where in the message it came from."""

    vital: Vital
    value: float
    rank: int
    code: str
    location: str


@dataclass
class ObservationSet:
    """Readings of one patient by one device at one time, to become one contract event."""

    patient_id: str
    device_id: str
    observed_at: datetime
    readings: list[Reading] = field(default_factory=list)
    identity: list[str] = field(default_factory=list)


#: Key of an observation set. Aware datetimes compare and hash as instants, so 09:15+01:00
#: and 08:15Z fall in one set.
GroupKey = tuple[str, str, datetime]


def build_observation(
    group: ObservationSet, *, event_id: uuid.UUID, source: Source
) -> tuple[InboundEvent | None, list[Rejection]]:
    """The contract event for ``group``, and a rejection for each reading that could not go in.

    When several readings give the same vital, the best-ranked (then the first) is used and
    the others are rejected as ``duplicate_measure``. A value outside the plausibility limits
    is rejected with the contract's own ``schema_violation`` (the limits live in the model
    only), and the rest of the set is validated again without it, so one artefact does not
    discard the readings taken with it.
    """
    rejections: list[Rejection] = []
    chosen: dict[Vital, Reading] = {}
    for reading in sorted(group.readings, key=lambda r: r.rank):
        best = chosen.get(reading.vital)
        if best is None:
            chosen[reading.vital] = reading
            continue
        rejections.append(
            Rejection(
                "duplicate_measure",
                f"{reading.vital} is already given by {best.code} at {best.location}; "
                f"this {reading.code} was not used",
                reading.location,
            )
        )
    while chosen:
        data: dict[str, object] = {
            "kind": "vital_signs",
            "event_id": str(event_id),
            "patient_id": group.patient_id,
            "device_id": group.device_id,
            "source": source,
            "observed_at": group.observed_at,
            **{vital: reading.value for vital, reading in chosen.items()},
        }
        try:
            return validate_event(data), rejections
        except ContractError as error:
            cause = error.__cause__
            if not isinstance(cause, ValidationError):
                locations = ", ".join(r.location for r in chosen.values())
                return None, [*rejections, Rejection.of(error, locations)]
            dropped = _drop_invalid(cause, chosen)
            if not dropped:
                locations = ", ".join(r.location for r in chosen.values())
                return None, [*rejections, Rejection.of(error, locations)]
            rejections.extend(dropped)
    return None, rejections


def _drop_invalid(error: ValidationError, chosen: dict[Vital, Reading]) -> list[Rejection]:
    """Remove the readings ``error`` blames from ``chosen``; a rejection for each."""
    by_vital: dict[Vital, list[str]] = {}
    whole: list[str] = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in item["loc"] if part != "vital_signs"]
        name = loc[0] if loc else ""
        vital = next((v for v in chosen if v == name), None)
        if vital is not None:
            by_vital.setdefault(vital, []).append(f"{vital}: {item['msg']}")
        elif not loc:
            whole.append(item["msg"])
        else:
            return []  # a fault outside the vitals: the whole set is unusable
    blamed: dict[Vital, str] = {
        vital: "; ".join(messages) + " (outside the plausibility limits: an artefact)"
        for vital, messages in by_vital.items()
    }
    if not blamed and whole:
        pair: tuple[Vital, ...] = ("systolic_bp", "diastolic_bp")
        if any(v in chosen for v in pair):
            blamed = {v: "; ".join(whole) for v in pair if v in chosen}
    rejections = []
    for vital, detail in blamed.items():
        reading = chosen.pop(vital)
        rejections.append(Rejection("schema_violation", detail, reading.location))
    return rejections


def event_id_for(*parts: str) -> uuid.UUID:
    """A deterministic event id: the same message sent again gets the same id."""
    return uuid.uuid5(INGEST_NAMESPACE, "\x1f".join(parts))
