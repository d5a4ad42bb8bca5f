"""Topic names: the one place that says which topic carries what, keyed how.

Every topic is keyed by the pseudonymous patient id, so every patient's events land on the
same partition number of every topic (co-partitioning), which the patient-state tables need.
"""

from __future__ import annotations

from typing import Final

#: Raw inbound readings from gateways (JSON bytes, the vital-signs contract).
READINGS: Final = "detoxmon.readings.v1"
#: Validated, normalised observations.
OBSERVATIONS: Final = "detoxmon.observations.v1"
#: Alert lifecycle transitions.
ALERTS: Final = "detoxmon.alerts.v1"
#: Rejected messages with their original bytes and the reason.
DEAD_LETTER: Final = "detoxmon.deadletter.v1"

ALL_TOPICS: Final = (READINGS, OBSERVATIONS, ALERTS, DEAD_LETTER)
