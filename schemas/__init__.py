"""The event contract: pydantic models for every message on the pipeline's topics.

This package imports nothing else from the repository, so gateways can depend on it alone.
"""

from schemas.alerts import Alert, AlertEvidence, AlertState, Priority
from schemas.deadletter import DeadLetter
from schemas.vitals import SCHEMA_VERSION, VitalSignsObservation

__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "AlertEvidence",
    "AlertState",
    "DeadLetter",
    "Priority",
    "VitalSignsObservation",
]
