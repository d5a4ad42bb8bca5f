"""The event contract: pydantic models for every message on the pipeline's topics.

This package imports nothing else from the repository, so gateways can depend on it alone.
"""

from schemas.alerts import Alert, AlertEvidence, AlertState, Priority
from schemas.assessments import CheckIn, CiwaBAssessment, CiwaBItems, ciwa_b_band
from schemas.clinical_events import ClinicalEvent
from schemas.common import SCHEMA_VERSION, EventBase
from schemas.deadletter import DeadLetter
from schemas.doses import DoseAdministration
from schemas.enrolment import Discharge, Enrolment, ThresholdOverride
from schemas.events import EVENT_MODELS, INBOUND_EVENT, InboundEvent
from schemas.vitals import VITAL_FIELDS, VITAL_UNITS, VitalSignsObservation

__all__ = [
    "EVENT_MODELS",
    "INBOUND_EVENT",
    "SCHEMA_VERSION",
    "VITAL_FIELDS",
    "VITAL_UNITS",
    "Alert",
    "AlertEvidence",
    "AlertState",
    "CheckIn",
    "CiwaBAssessment",
    "CiwaBItems",
    "ClinicalEvent",
    "DeadLetter",
    "Discharge",
    "DoseAdministration",
    "Enrolment",
    "EventBase",
    "InboundEvent",
    "Priority",
    "ThresholdOverride",
    "VitalSignsObservation",
    "ciwa_b_band",
]
