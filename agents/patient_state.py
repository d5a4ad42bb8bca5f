"""The patient-state table: the engine's state per patient, kept by Faust, keyed by patient id.

Co-partitioned with the observations and acknowledgements topics (both keyed by patient id),
so the worker that owns a patient's events owns their state. The table is changed from a
stream and from a timer, so it uses the producer's partitioner (``use_partitioner``): the
changelog partition is the murmur2 hash of the key, the same one the observations topic gets
from the validating agent. Faust's memory store recovers it from the changelog at start.

Each value is ``{"state": <PatientState JSON>, "processed_at": <wall-clock seconds when the
patient's last event was processed>, "partition": <source partition>}``. ``processed_at``
belongs to the worker, not the engine: the timer uses it to advance the patient's event-time
clock by the wall-clock time since (see :mod:`agents.evaluate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agents.app import app
from agents.engine import PatientState, new_state

#: Engine state per patient id. Keys are the patient id as raw UTF-8 bytes, exactly as on the
#: source topics, so the partitioner puts a patient's changelog records on their source
#: partition number (a ``str`` key type would be JSON-encoded, quotes and all, and hash
#: elsewhere). Values are plain JSON with no ``value_type``: when recovering the changelog,
#: Faust rebuilds a typed value with ``value_type.from_data``, which ``dict`` does not have.
patient_state_table = app.Table("patient-state", key_type=bytes, use_partitioner=True)


@dataclass(frozen=True)
class StoredPatient:
    """A table value, decoded."""

    state: PatientState
    processed_at: float
    partition: int


def _decode(value: dict[str, Any]) -> StoredPatient:
    return StoredPatient(
        state=PatientState.model_validate(value["state"]),
        processed_at=float(value["processed_at"]),
        partition=int(value["partition"]),
    )


def load(patient_id: str) -> StoredPatient | None:
    """The stored state of ``patient_id``, or None if the worker has never seen them."""
    value = patient_state_table.get(patient_id.encode())
    return None if value is None else _decode(value)


def state_of(patient_id: str) -> PatientState:
    """The stored state, or a new one."""
    stored = load(patient_id)
    return stored.state if stored is not None else new_state(patient_id)


def store(patient_id: str, state: PatientState, *, processed_at: float, partition: int) -> None:
    """Write the state (and so its changelog record)."""
    patient_state_table[patient_id.encode()] = {
        "state": state.to_json(),
        "processed_at": processed_at,
        "partition": partition,
    }


def local_patient_ids(partitions: set[int]) -> Iterator[str]:
    """Patients whose events come from ``partitions`` (those assigned to this worker).

    The memory store can still hold keys of partitions revoked since, so the stored source
    partition decides, not presence in the table.
    """
    for key, value in list(patient_state_table.items()):
        if isinstance(value, dict) and int(value.get("partition", -1)) in partitions:
            yield key.decode() if isinstance(key, bytes) else str(key)
