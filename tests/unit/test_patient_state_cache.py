"""Decoded patient states are cached, but only while the table holds what they came from."""

from __future__ import annotations

import json
from typing import Any

import pytest
from faust.types import TP

from agents import patient_state
from agents.app import app
from agents.engine import new_state
from agents.patient_state import DecodedStates, StoredPatient, decode, encode
from streams import topics

KEY = b"pt-0001"


def stored(partition: int = 2, processed_at: float = 100.0) -> StoredPatient:
    state = new_state("pt-0001")
    state.ward = "ward-3"
    return StoredPatient(state=state, processed_at=processed_at, partition=partition)


def test_a_stored_state_is_read_back_without_decoding_again() -> None:
    table: dict[bytes, Any] = {}
    cache = DecodedStates(table)
    value = stored()
    cache.store(KEY, value)
    assert cache.load(KEY) is value
    assert json.loads(json.dumps(table[KEY]))["partition"] == 2  # plain JSON for the changelog


def test_a_value_replaced_behind_the_cache_is_decoded_afresh() -> None:
    # What a changelog recovery does after a rebalance: it replaces the table's values.
    table: dict[bytes, Any] = {}
    cache = DecodedStates(table)
    cache.store(KEY, stored(processed_at=100.0))
    newer = stored(processed_at=200.0)
    table[KEY] = encode(newer.state, processed_at=200.0, partition=2)
    loaded = cache.load(KEY)
    assert loaded is not None
    assert loaded.processed_at == 200.0
    assert loaded.state == newer.state


def test_a_value_removed_behind_the_cache_is_gone() -> None:
    table: dict[bytes, Any] = {}
    cache = DecodedStates(table)
    cache.store(KEY, stored())
    del table[KEY]
    assert cache.load(KEY) is None
    assert len(cache) == 0


def test_revoked_partitions_are_forgotten_but_stay_readable_from_the_table() -> None:
    table: dict[bytes, Any] = {}
    cache = DecodedStates(table)
    cache.store(KEY, stored(partition=2))
    cache.store(b"pt-0002", StoredPatient(new_state("pt-0002"), 1.0, partition=3))
    cache.forget_partitions({2})
    assert len(cache) == 1
    loaded = cache.load(KEY)
    assert loaded is not None
    assert loaded.state.ward == "ward-3"


def test_a_state_written_as_an_object_by_earlier_versions_still_decodes() -> None:
    state = stored().state
    old = {"state": state.to_json(), "processed_at": 5, "partition": 1}
    assert decode(old) == StoredPatient(state=state, processed_at=5.0, partition=1)
    assert decode(encode(state, processed_at=5.0, partition=1)) == decode(old)


def test_only_the_most_recently_used_states_are_kept_decoded() -> None:
    table: dict[bytes, Any] = {}
    cache = DecodedStates(table, capacity=2)
    for key in (b"pt-1", b"pt-2"):
        cache.store(key, StoredPatient(new_state(key.decode()), 1.0, partition=0))
    assert cache.load(b"pt-1") is not None  # pt-1 used last: pt-2 is the one to go
    cache.store(b"pt-3", StoredPatient(new_state("pt-3"), 1.0, partition=0))
    assert len(cache) == 2
    kept = cache.load(b"pt-1")
    assert kept is not None
    assert kept is cache.load(b"pt-1")
    again = cache.load(b"pt-2")  # decoded afresh from the table
    assert again is not None
    assert again.state.patient_id == "pt-2"


async def test_a_rebalance_drops_the_decoded_states_of_revoked_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = DecodedStates({})
    monkeypatch.setattr(patient_state, "decoded_states", cache)
    cache.store(b"pt-1", StoredPatient(new_state("pt-1"), 1.0, partition=1))
    cache.store(b"pt-2", StoredPatient(new_state("pt-2"), 1.0, partition=2))
    await app.on_partitions_revoked.send({TP(topics.OBSERVATIONS, 1)})
    assert len(cache) == 1
    assert cache.load(b"pt-2") is not None
