"""``detoxmon dlq list`` and ``detoxmon dlq replay`` as subprocesses against a real worker.

The replay scenario is the everyday one: a device clock runs a few seconds fast, so its
readings are refused as ``future_time`` (the worker here tolerates no lead at all); once the
time has come, an operator replays them and they are accepted. Messages that are still wrong
come back to the dead-letter topic, naming the letter they replay.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from schemas import DeadLetter
from streams import topics
from streams.producer import bootstrap_servers
from tests.support.ingest import (
    IngestWorker,
    headers_of,
    ingest_worker,
    poll,
    read_all,
    vital_signs,
)

pytestmark = pytest.mark.integration

AHEAD_S = 4


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestWorker]:
    strict_clock = {"DETOXMON_INGEST__FUTURE_TOLERANCE_S": "0"}
    with ingest_worker(tmp_path_factory.mktemp("dlq-cli"), strict_clock) as worker:
        yield worker


def detoxmon(ingest: IngestWorker, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``detoxmon`` command as an operator would, pointed at the embedded broker."""
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", *args],
        env={**os.environ, "DETOXMON_KAFKA__BROKER_URL": ingest.broker_url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def post(ingest: IngestWorker, body: bytes, gateway: str, content_type: str) -> httpx.Response:
    headers = {**ingest.auth(gateway), "Content-Type": content_type}
    return httpx.post(f"{ingest.url}/ingest", content=body, headers=headers, timeout=30)


async def publish(ingest: IngestWorker, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(ingest.broker_url), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topics.READINGS, value=value, key=key)
    finally:
        await producer.stop()


def letters(ingest: IngestWorker) -> list[tuple[DeadLetter, dict[str, str], str]]:
    """Every dead letter now, with its headers and its ``topic:partition:offset``."""
    records = asyncio.run(read_all(ingest.broker_url, topics.DEAD_LETTER))
    return [
        (
            DeadLetter.model_validate_json(r.value),
            headers_of(r),
            f"{r.topic}:{r.partition}:{r.offset}",
        )
        for r in records
    ]


def observed_ids(ingest: IngestWorker) -> set[str]:
    records = asyncio.run(read_all(ingest.broker_url, topics.OBSERVATIONS))
    return {json.loads(r.value)["event_id"] for r in records}


def bad_unit_bundle(patient: str) -> bytes:
    at = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()

    def observation(code: str, value: float) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient}"},
            "device": {"reference": "Device/app-dlq01"},
            "effectiveDateTime": at,
            "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": code},
        }

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": observation("/min", 84)}, {"resource": observation("[fur]", 2)}],
    }
    return json.dumps(bundle).encode()


def test_list_counts_without_patient_data_and_replay_resubmits_each_message_once(
    ingest: IngestWorker, tmp_path: Path
) -> None:
    ahead = datetime.now(UTC) + timedelta(seconds=AHEAD_S)
    early_http = vital_signs("pt-dlq-early-http", observed_at=ahead)
    early_kafka = vital_signs("pt-dlq-early-kafka", observed_at=ahead)
    foreign = vital_signs("pt-dlq-foreign", ward="ward-9")
    bundle = bad_unit_bundle("pt-dlq-fhir")

    assert (
        post(
            ingest, json.dumps(early_http).encode(), "ward3-monitors", "application/json"
        ).status_code
        == 422
    )
    assert (
        post(ingest, json.dumps(foreign).encode(), "ward3-monitors", "application/json").status_code
        == 403
    )
    partial = post(ingest, bundle, "telehealth", "application/fhir+json")
    assert partial.status_code == 202
    assert partial.json()["partial"] is True
    asyncio.run(publish(ingest, b"pt-dlq-early-kafka", json.dumps(early_kafka).encode()))
    asyncio.run(
        publish(
            ingest, b"pt-dlq-garbled", b'{"kind": "vital_signs", "patient_id": "pt-dlq-garbled"'
        )
    )
    poll(lambda: letters(ingest), lambda found: len(found) >= 5)

    # list: counts by reason, path and gateway, and nothing about patients
    listed = detoxmon(ingest, "dlq", "list", cwd=tmp_path).stdout
    assert "total 5" in listed
    assert "pt-" not in listed
    assert "vital_signs" not in listed  # no message bytes
    summary = json.loads(detoxmon(ingest, "dlq", "list", "--json", cwd=tmp_path).stdout)
    assert summary["total"] == 5
    assert summary["by_reason"] == {
        "future_time": 2,
        "invalid_json": 1,
        "out_of_scope": 1,
        "unknown_unit": 1,
    }
    assert summary["by_path"] == {"http:/ingest": 3, f"kafka:{topics.READINGS}": 2}
    assert summary["by_gateway"] == {"-": 2, "telehealth": 1, "ward3-monitors": 2}
    assert {
        "reason": "out_of_scope",
        "path": "http:/ingest",
        "gateway": "ward3-monitors",
        "count": 1,
    } in summary["groups"]
    assert "pt-" not in json.dumps(summary)

    # once the device's time has come, the early readings are accepted on replay
    time.sleep(max(0.0, (ahead - datetime.now(UTC)).total_seconds()) + 0.5)
    before = {ref for _, _, ref in letters(ingest)}
    replayed = detoxmon(ingest, "dlq", "replay", "--reason", "future_time", cwd=tmp_path).stdout
    assert replayed.count("resubmitted detoxmon.deadletter.v1:") == 2
    assert f"resubmitted 2 messages to {topics.READINGS}" in replayed
    assert "pt-" not in replayed
    poll(
        lambda: observed_ids(ingest),
        lambda ids: {early_http["event_id"], early_kafka["event_id"]} <= ids,
    )

    # what is still wrong comes back, naming the letter it replays; nothing is lost
    replayed = detoxmon(ingest, "dlq", "replay", "--path", "http:/ingest", cwd=tmp_path).stdout
    refs = [
        line.split()[1] for line in replayed.splitlines() if line.startswith("resubmitted detoxmon")
    ]
    assert len(refs) == 3  # the early reading (again: idempotent), the foreign one, the Bundle
    again = poll(
        lambda: [item for item in letters(ingest) if item[2] not in before],
        lambda new: len([h for _, h, _ in new if "detoxmon-replay-of" in h]) >= 2,
    )
    by_replay = {
        h["detoxmon-replay-of"]: (letter, h) for letter, h, _ in again if "detoxmon-replay-of" in h
    }
    assert set(by_replay) <= set(refs)
    reasons = sorted(letter.reason for letter, _ in by_replay.values())
    assert reasons == ["out_of_scope", "unknown_unit"]
    for letter, headers in by_replay.values():
        assert letter.path == f"kafka:{topics.READINGS}"
        if letter.reason == "out_of_scope":  # the gateway's scope still applies on replay
            assert headers["detoxmon-gateway"] == "ward3-monitors"
            assert letter.original() == json.dumps(foreign).encode()
        else:  # converted as FHIR again: its content type travelled with it
            assert letter.content_type == "application/fhir+json"
            assert letter.original() == bundle
    # every resubmitted message ended accepted or dead-lettered again
    for ref in refs:
        original = next(letter for letter, _, r in letters(ingest) if r == ref)
        if ref not in by_replay:
            assert original.reason == "future_time"
            assert json.loads(original.original())["event_id"] in observed_ids(ingest)

    # superseded letters are not replayed twice, and --since narrows to nothing here
    nothing = detoxmon(
        ingest, "dlq", "replay", "--since", datetime.now(UTC).isoformat(), cwd=tmp_path
    )
    assert f"resubmitted 0 messages to {topics.READINGS}" in nothing.stdout
