"""Every inbound event kind, as one discriminated union on ``kind``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from schemas.assessments import CheckIn, CiwaBAssessment
from schemas.clinical_events import ClinicalEvent
from schemas.common import EventBase
from schemas.doses import DoseAdministration
from schemas.enrolment import Discharge, Enrolment
from schemas.vitals import VitalSignsObservation

InboundEvent = Annotated[
    VitalSignsObservation
    | CiwaBAssessment
    | CheckIn
    | DoseAdministration
    | ClinicalEvent
    | Enrolment
    | Discharge,
    Field(discriminator="kind"),
]

#: Validates any inbound event from JSON bytes or a dict.
INBOUND_EVENT: TypeAdapter[InboundEvent] = TypeAdapter(InboundEvent)

#: The inbound models by ``kind``.
EVENT_MODELS: dict[str, type[EventBase]] = {
    "vital_signs": VitalSignsObservation,
    "ciwa_b": CiwaBAssessment,
    "check_in": CheckIn,
    "dose": DoseAdministration,
    "clinical_event": ClinicalEvent,
    "enrolment": Enrolment,
    "discharge": Discharge,
}
