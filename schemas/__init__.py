"""The event contract: pydantic models for every message on the pipeline's topics.

This package imports nothing else from the repository, so gateways can depend on it alone.
"""

from schemas.acks import AlertAcknowledgement
from schemas.alerts import (
    ESCALATION_CHAIN,
    PRIORITY_RANK,
    Alert,
    AlertEvidence,
    AlertState,
    EscalationRole,
    Phase,
    Priority,
)
from schemas.assessments import CheckIn, CiwaBAssessment, CiwaBItems, ciwa_b_band
from schemas.clinical_events import ClinicalEvent
from schemas.common import SCHEMA_VERSION, EventBase
from schemas.deadletter import DeadLetter
from schemas.doses import DoseAdministration
from schemas.enrolment import Discharge, Enrolment, ThresholdOverride
from schemas.events import EVENT_MODELS, INBOUND_EVENT, InboundEvent
from schemas.state import PatientSnapshot
from schemas.vitals import VITAL_FIELDS, VITAL_UNITS, VitalSignsObservation

__all__ = [
    "ESCALATION_CHAIN",
    "EVENT_MODELS",
    "INBOUND_EVENT",
    "PRIORITY_RANK",
    "SCHEMA_VERSION",
    "VITAL_FIELDS",
    "VITAL_UNITS",
    "Alert",
    "AlertAcknowledgement",
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
    "EscalationRole",
    "EventBase",
    "InboundEvent",
    "PatientSnapshot",
    "Phase",
    "Priority",
    "ThresholdOverride",
    "VitalSignsObservation",
    "ciwa_b_band",
]
