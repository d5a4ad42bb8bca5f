"""The patient-state table: the engine's state per patient, kept by Faust, keyed by patient id.

Co-partitioned with the observations and acknowledgements topics (both keyed by patient id),
so the worker that owns a patient's events owns their state. The table is changed from a
stream and from a timer, so it uses the producer's partitioner (``use_partitioner``): the
changelog partition is the murmur2 hash of the key, the same one the observations topic gets
from the validating agent. Faust's memory store recovers it from the changelog at start.

Each value is ``{"state": <PatientState as a JSON string>, "processed_at": <wall-clock seconds
when the patient's last event was processed>, "partition": <source partition>}``. A ``state``
that is a JSON object (how earlier versions wrote it) is read as well, so a changelog written
before still recovers. ``processed_at`` belongs to the worker, not the engine: the timer uses
it to advance the patient's event-time clock by the wall-clock time since (see
:mod:`agents.evaluate`).

**Decoded states are cached** (:class:`DecodedStates`): decoding a state with pydantic on
every event was the largest single cost of the evaluating agent. The table stays the only
source of truth: a cache entry remembers the very table value it was decoded from and is used
only while the table still holds that object, so whatever replaces a value (this worker's
writes, a changelog recovery after a rebalance) makes the entry stale by identity, with no
hook to miss. The most recently used :data:`CAPACITY` are kept (memory: see there). Entries
of partitions revoked in a rebalance are dropped as well
(``app.on_partitions_revoked``), so a worker does not keep decoded states of patients it no
longer owns. The engine never modifies a state it is given (``evaluate`` and ``tick`` work on
a copy), so a cached state can be handed out as is.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Set
from dataclasses import dataclass
from typing import Any, cast

from faust.types import TP

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


def decode(value: dict[str, Any]) -> StoredPatient:
    """A table value, decoded (``state`` a JSON string, or an object as written before)."""
    raw = value["state"]
    state = (
        PatientState.model_validate_json(raw)
        if isinstance(raw, str | bytes)
        else PatientState.model_validate(raw)
    )
    return StoredPatient(
        state=state, processed_at=float(value["processed_at"]), partition=int(value["partition"])
    )


def encode(state: PatientState, *, processed_at: float, partition: int) -> dict[str, Any]:
    """The table value of a state: compact JSON (defaults left out) as one string.

    A string rather than a nested object: serialised by pydantic in one call, about half the
    memory in the store, and Faust's JSON codec copies it instead of walking it.
    """
    return {
        "state": state.model_dump_json(exclude_defaults=True),
        "processed_at": processed_at,
        "partition": partition,
    }


#: Most decoded states kept (the most recently used). A decoded state takes about 8 kB, its
#: JSON in the table 3 kB: keeping every patient decoded put 10,000 patients at 246 MB RSS
#: against a 200 MB budget. A worker with more patients than this decodes the others' states
#: again (about 30 us each, as often as their events come).
CAPACITY = 2048


class DecodedStates:
    """Decoded values of a table, each valid while the table holds the value it came from;
    the ``capacity`` most recently used are kept."""

    def __init__(self, table: MutableMapping[bytes, Any], *, capacity: int = CAPACITY) -> None:
        self._table = table
        self._capacity = capacity
        #: In order of use, least recent first (dicts keep insertion order).
        self._decoded: dict[bytes, tuple[object, StoredPatient]] = {}

    def _keep(self, key: bytes, value: object, stored: StoredPatient) -> None:
        decoded = self._decoded
        decoded.pop(key, None)
        decoded[key] = (value, stored)
        if len(decoded) > self._capacity:
            del decoded[next(iter(decoded))]

    def load(self, key: bytes) -> StoredPatient | None:
        """The decoded value of ``key``, or None if the table has none."""
        value = self._table.get(key)
        if value is None:
            self._decoded.pop(key, None)
            return None
        entry = self._decoded.get(key)
        stored = entry[1] if entry is not None and entry[0] is value else decode(value)
        self._keep(key, value, stored)
        return stored

    def store(self, key: bytes, stored: StoredPatient) -> None:
        """Write ``stored`` to the table (hence its changelog) and keep it decoded."""
        value = encode(stored.state, processed_at=stored.processed_at, partition=stored.partition)
        self._table[key] = value
        self._keep(key, value, stored)

    def forget_partitions(self, partitions: Set[int]) -> None:
        """Drop the decoded values of patients whose events come from ``partitions``."""
        for key in [k for k, (_, s) in self._decoded.items() if s.partition in partitions]:
            del self._decoded[key]

    def __len__(self) -> int:
        return len(self._decoded)


decoded_states = DecodedStates(patient_state_table)


def _forget_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
    """A rebalance took partitions away (``args[0]``, a set of TPs): their patients' states
    are another worker's now."""
    revoked = cast(Set[TP], args[0])
    decoded_states.forget_partitions({tp.partition for tp in revoked})


# mode's handler type does not accept a plain function under mypy (its NamedArg/VarArg
# signature), though it is called as ``receiver(sender, revoked, signal=...)``.
app.on_partitions_revoked.connect(cast(Any, _forget_revoked))


def load(patient_id: str) -> StoredPatient | None:
    """The stored state of ``patient_id``, or None if the worker has never seen them."""
    return decoded_states.load(patient_id.encode())


def state_of(patient_id: str) -> PatientState:
    """The stored state, or a new one."""
    stored = load(patient_id)
    return stored.state if stored is not None else new_state(patient_id)


def store(patient_id: str, state: PatientState, *, processed_at: float, partition: int) -> None:
    """Write the state (and so its changelog record)."""
    decoded_states.store(
        patient_id.encode(),
        StoredPatient(state=state, processed_at=processed_at, partition=partition),
    )


def local_patient_ids(partitions: set[int]) -> Iterator[str]:
    """Patients whose events come from ``partitions`` (those assigned to this worker).

    The memory store can still hold keys of partitions revoked since, so the stored source
    partition decides, not presence in the table.
    """
    for key, value in list(patient_state_table.items()):
        if isinstance(value, dict) and int(value.get("partition", -1)) in partitions:
            yield key.decode() if isinstance(key, bytes) else str(key)
