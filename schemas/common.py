"""Field types shared by every event model."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

#: A pseudonymous patient reference issued by the enrolling service.
#: Letters, digits and ``-_.:`` only, so a name with a space or a birth date such as
#: ``1970/01/01`` cannot pass; the pipeline never sees who the patient is.
PatientId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,63}$"),
    Field(
        description="Pseudonymous patient reference (no names, no birth dates).",
        examples=["pt-7f3a9c"],
    ),
]

#: Identifier of the device or app that took the reading.
DeviceId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$"),
    Field(description="Device or app instance that sent the message.", examples=["bm-ward3-07"]),
]

#: Pseudonymous staff identifier (a badge or roster id, never a name).
StaffId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{1,63}$"),
    Field(description="Pseudonymous staff id (badge or roster id).", examples=["rn-4411"]),
]

#: Ward or programme identifier (a low-cardinality tag, never free text).
WardId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"),
    Field(description="Ward or programme code.", examples=["ward-3"]),
]

SCHEMA_VERSION = 1

#: Who or what sent a message.
Source = Literal[
    "bedside_monitor",
    "telehealth_app",
    "manual_entry",
    "ehr",
    "fhir_gateway",
    "hl7v2_gateway",
    "simulator",
]


#: Fields only the pipeline may set; a sender that sets them is refused.
RESERVED_FIELDS: tuple[str, ...] = ("received_at", "late")


class EventBase(BaseModel):
    """Fields every inbound event carries.

    ``received_at`` and ``late`` are set by the pipeline when it accepts the event; a sender
    that sets them is refused, so a gateway cannot make an old reading look current.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(default=1, description="Contract version.")
    event_id: UUID = Field(description="Unique per message; redelivery keeps it (idempotency).")
    patient_id: PatientId
    device_id: DeviceId
    ward: WardId | None = Field(default=None, description="Ward or programme, when known.")
    source: Source = Field(description="Kind of sender.")
    observed_at: AwareDatetime = Field(
        description="When it happened or was measured (event time), with a time-zone offset."
    )
    received_at: AwareDatetime | None = Field(
        default=None, description="Set by the pipeline: when it accepted the event."
    )
    late: bool = Field(
        default=False,
        description="Set by the pipeline: observed long before it was received.",
    )
