"""Topic names: the one place that says which topic carries what, keyed how.

Every topic is keyed by the pseudonymous patient id, so every patient's events land on the
same partition number of every topic (co-partitioning), which the patient-state tables need.
"""

from __future__ import annotations

from typing import Final

#: Raw inbound events from gateways (JSON bytes, every kind of the contract).
READINGS: Final = "detoxmon.readings.v1"
#: Validated, normalised inbound events of every kind, stamped with their arrival.
OBSERVATIONS: Final = "detoxmon.observations.v1"
#: Alert lifecycle transitions.
ALERTS: Final = "detoxmon.alerts.v1"
#: Rejected messages with their original bytes and the reason.
DEAD_LETTER: Final = "detoxmon.deadletter.v1"

#: Acknowledgements of alerts (HTTP endpoint, PagerDuty webhook), keyed by patient.
ACKS: Final = "detoxmon.acks.v1"
#: Patient snapshots (scores, phase) derived by the rule engine, keyed by patient.
SNAPSHOTS: Final = "detoxmon.snapshots.v1"
#: Every notification attempt and its outcome, keyed by patient.
PAGER_AUDIT: Final = "detoxmon.pager-audit.v1"

ALL_TOPICS: Final = (READINGS, OBSERVATIONS, ALERTS, DEAD_LETTER, ACKS, SNAPSHOTS, PAGER_AUDIT)
