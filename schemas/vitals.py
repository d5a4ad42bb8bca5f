"""Vital-signs observation: one set of vitals taken together by one device.

Values are in one canonical UCUM unit per vital (adapters convert FHIR and HL7 v2 units before
they get here). Plausibility limits are the cleaning limits used across ICU databases (ricu
concept dictionary, ETH Zurich [R38]; ``shared/reference/clinical.md`` section 10): a value
outside them is an artefact and the message is rejected, never stored as a reading.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from schemas.common import EventBase

HeartRate = Annotated[
    float,
    Field(ge=0, le=300, description="Heart or pulse rate, /min (UCUM '/min').", examples=[88]),
]
SystolicBP = Annotated[
    float,
    Field(ge=0, le=300, description="Systolic blood pressure, mm[Hg].", examples=[128]),
]
DiastolicBP = Annotated[
    float,
    Field(ge=0, le=200, description="Diastolic blood pressure, mm[Hg].", examples=[82]),
]
Temperature = Annotated[
    float,
    Field(ge=30, le=44, description="Body temperature, Cel.", examples=[37.1]),
]
SpO2 = Annotated[
    float,
    Field(ge=50, le=100, description="Peripheral oxygen saturation, % (UCUM '%').", examples=[97]),
]
RespiratoryRate = Annotated[
    float,
    Field(ge=0, le=120, description="Respiratory rate, /min.", examples=[16]),
]

#: ACVPU level of consciousness for NEWS2 (RCP 2017 [R1]): Alert, new Confusion, responds to
#: Voice, to Pain, Unresponsive.
Consciousness = Literal["A", "C", "V", "P", "U"]

#: Names of the numeric vital-sign fields, in display order.
VITAL_FIELDS: tuple[str, ...] = (
    "heart_rate",
    "systolic_bp",
    "diastolic_bp",
    "temperature",
    "spo2",
    "respiratory_rate",
)

#: UCUM unit of each numeric vital.
VITAL_UNITS: dict[str, str] = {
    "heart_rate": "/min",
    "systolic_bp": "mm[Hg]",
    "diastolic_bp": "mm[Hg]",
    "temperature": "Cel",
    "spo2": "%",
    "respiratory_rate": "/min",
}


class VitalSignsObservation(EventBase):
    """A set of vital signs taken together, as a bedside monitor or telehealth app sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="VitalSignsObservation")

    kind: Literal["vital_signs"] = Field(
        default="vital_signs", description="Message type discriminator."
    )
    heart_rate: HeartRate | None = None
    systolic_bp: SystolicBP | None = None
    diastolic_bp: DiastolicBP | None = None
    temperature: Temperature | None = None
    spo2: SpO2 | None = None
    respiratory_rate: RespiratoryRate | None = None
    consciousness: Consciousness | None = Field(
        default=None, description="ACVPU level of consciousness (NEWS2)."
    )
    supplemental_oxygen: bool | None = Field(
        default=None, description="Whether the patient is on supplemental oxygen (NEWS2)."
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if all(getattr(self, name) is None for name in VITAL_FIELDS) and self.consciousness is None:
            raise ValueError(
                "at least one vital sign is required (one of "
                f"{', '.join(VITAL_FIELDS)}, consciousness)"
            )
        if (self.systolic_bp is None) != (self.diastolic_bp is None):
            raise ValueError("systolic_bp and diastolic_bp must be sent together")
        if (
            self.systolic_bp is not None
            and self.diastolic_bp is not None
            and self.diastolic_bp >= self.systolic_bp
        ):
            raise ValueError(
                f"diastolic_bp {self.diastolic_bp} is not below systolic_bp {self.systolic_bp}: "
                "not physiological, likely a cuff artefact or swapped fields"
            )
        return self

    def vitals(self) -> dict[str, float]:
        """The numeric vital signs present in this observation, by field name."""
        values = {name: getattr(self, name) for name in VITAL_FIELDS}
        return {name: value for name, value in values.items() if value is not None}
