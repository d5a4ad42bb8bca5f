"""Vital-signs observation: one set of vitals taken together by one device.

Values are in one canonical UCUM unit per vital. Plausibility limits are the cleaning limits
used across ICU databases (ricu concept dictionary, ETH Zurich; see
``shared/reference/clinical.md`` section 10): a value outside them is an artefact and the
message is rejected, never stored as a reading.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.common import DeviceId, PatientId, WardId

SCHEMA_VERSION = 1

Source = Literal["bedside_monitor", "telehealth_app", "manual_entry", "simulator"]

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

#: Names of the vital-sign fields, in display order.
VITAL_FIELDS: tuple[str, ...] = (
    "heart_rate",
    "systolic_bp",
    "diastolic_bp",
    "temperature",
    "spo2",
    "respiratory_rate",
)


class VitalSignsObservation(BaseModel):
    """A set of vital signs taken together, as a bedside monitor or telehealth app sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="VitalSignsObservation")

    kind: Literal["vital_signs"] = Field(
        default="vital_signs", description="Message type discriminator."
    )
    schema_version: Literal[1] = Field(default=1, description="Contract version.")
    event_id: UUID = Field(description="Unique per message; redelivery keeps it (idempotency).")
    patient_id: PatientId
    device_id: DeviceId
    ward: WardId | None = Field(default=None, description="Ward or programme, when known.")
    source: Source = Field(description="Kind of sender.")
    observed_at: AwareDatetime = Field(
        description="When the vitals were taken (event time), with a time-zone offset."
    )
    heart_rate: HeartRate | None = None
    systolic_bp: SystolicBP | None = None
    diastolic_bp: DiastolicBP | None = None
    temperature: Temperature | None = None
    spo2: SpO2 | None = None
    respiratory_rate: RespiratoryRate | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if all(getattr(self, name) is None for name in VITAL_FIELDS):
            raise ValueError(
                f"at least one vital sign is required (one of {', '.join(VITAL_FIELDS)})"
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
        """The vital signs present in this observation, by field name."""
        values = {name: getattr(self, name) for name in VITAL_FIELDS}
        return {name: value for name, value in values.items() if value is not None}
