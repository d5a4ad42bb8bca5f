"""Every measurement the pipeline writes, end to end on the real broker and InfluxDB.

A worker with a one-second heartbeat consumes readings, an alert transition and messages that
are dead-lettered; the test then reads InfluxDB's own view of the schema (``SHOW FIELD KEYS``,
``SHOW TAG KEYS``) and compares it with docs/storage.md's tables, so a field written with the
wrong type, or a tag the document does not list, fails here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from agents.influx.setup import ROLLUPS, query_v1, rollup_select
from agents.settings import InfluxSettings
from schemas import Alert, AlertEvidence, DeadLetter
from streams import topics
from streams.producer import bootstrap_servers
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

DOCS = Path(__file__).parents[2] / "docs" / "storage.md"
WORKER_ID = "schema-worker"
NOW = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)


@pytest.fixture(scope="module")
def worker(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    env = {
        **stack.env(),
        "DETOXMON_KAFKA__TOPIC_PARTITIONS": "4",
        "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "6",
        "DETOXMON_INFLUX__FLUSH_INTERVAL_S": "0.2",
        "DETOXMON_INFLUX__HEARTBEAT_INTERVAL_S": "1",
        "DETOXMON_INFLUX__WORKER_ID": WORKER_ID,
    }
    process = WorkerProcess(Path(tmp_path_factory.mktemp("worker")), env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def influx(stack: EmbeddedStack) -> InfluxSettings:
    return InfluxSettings(url=stack.influx.url)


def rows(stack: EmbeddedStack, statement: str) -> list[dict[str, Any]]:
    result: Any = query_v1(influx(stack), statement, database="detoxmon", epoch="ns")
    found: list[dict[str, Any]] = []
    for item in result["results"]:
        for series in item.get("series", []):
            for values in series["values"]:
                found.append(
                    {
                        "_name": series.get("name"),
                        **dict(zip(series["columns"], values, strict=True)),
                    }
                )
    return found


def reading(patient: str, minute: int, second: int = 5, **vitals: float) -> tuple[bytes, bytes]:
    message = {
        "kind": "vital_signs",
        "event_id": str(uuid.uuid4()),
        "patient_id": patient,
        "device_id": "bm-ward3-02",
        "ward": "ward-3",
        "source": "bedside_monitor",
        "observed_at": (NOW + timedelta(minutes=minute, seconds=second)).isoformat(),
        **vitals,
    }
    return patient.encode(), json.dumps(message).encode()


def documented(measurement: str) -> dict[str, str]:
    """Column → type of the measurement's table in docs/storage.md (type 'tag' for tags)."""
    text = DOCS.read_text()
    section = text.split(f"### `{measurement}`", 1)[1].split("\n### ", 1)[0]
    columns: dict[str, str] = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|\s*(tag|float|integer|string|boolean)\s*\|", line)
        if match:
            columns[match.group(1)] = match.group(2)
    return columns


async def publish(
    stack: EmbeddedStack,
    messages: list[tuple[bytes | None, bytes]],
    *,
    topic: str = topics.READINGS,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(stack.broker.url), acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


#: An alert transition as the rule engine publishes it (the rules themselves are tested
#: elsewhere; published directly so this test does not depend on their persistence settings).
ALERT = Alert(
    alert_id=uuid.uuid4(),
    transition_id=uuid.uuid4(),
    patient_id="pt-schema-1",
    ward="ward-3",
    rule_id="pulse_high",
    priority="medium",
    state="firing",
    at=NOW + timedelta(minutes=1, seconds=5),
    summary="Pulse 126/min, at or above 120/min",
    source="test",
    evidence=AlertEvidence(
        measure="heart_rate",
        value=126,
        unit="/min",
        threshold=120,
        observed_at=NOW + timedelta(minutes=1, seconds=5),
    ),
)

FULL = {
    "heart_rate": 88,
    "systolic_bp": 131,
    "diastolic_bp": 84,
    "temperature": 37.2,
    "spo2": 96,
    "respiratory_rate": 18,
}


@pytest.fixture(scope="module")
async def published(stack: EmbeddedStack, worker: WorkerProcess) -> list[tuple[bytes, bytes]]:
    """Readings and rejected messages sent once; returns the readings after they are stored."""
    readings = [
        reading("pt-schema-1", 0, **FULL),
        reading("pt-schema-1", 0, 35, heart_rate=92),  # same minute: the rollup has two readings
        reading("pt-schema-1", 1, heart_rate=126, systolic_bp=140, diastolic_bp=90),
        reading("pt-schema-2", 0, heart_rate=70),
    ]
    await publish(stack, [*readings, *REJECTED])
    await publish(stack, [(b"pt-schema-1", ALERT.model_dump_json().encode())], topic=topics.ALERTS)
    await eventually(
        lambda: rows(stack, 'SELECT * FROM "raw"."vitals" WHERE patient_id =~ /pt-schema/'),
        lambda r: len(r) == len(readings),
    )
    return readings


REJECTED: list[tuple[bytes | None, bytes]] = [
    (b"pt-schema-1", b'{"heart_rate": 1'),
    (None, b"[1]"),
    (None, b"\xff"),
]


async def test_every_measurement_is_written_with_its_documented_tags_and_field_types(
    stack: EmbeddedStack, published: list[tuple[bytes, bytes]]
) -> None:
    readings = published
    rejected = REJECTED
    # every point the pipeline should write is there
    vitals = await eventually(
        lambda: rows(stack, 'SELECT * FROM "raw"."vitals" WHERE patient_id =~ /pt-schema/'),
        lambda r: len(r) == len(readings),
    )
    assert {row["event_id"] for row in vitals} == {
        json.loads(value)["event_id"] for _, value in readings
    }
    await eventually(
        lambda: rows(stack, "SELECT * FROM alerts WHERE patient_id = 'pt-schema-1'"),
        lambda r: len(r) == 1,
    )
    letters = await read_topic(
        stack.broker.url, topics.DEAD_LETTER, until=lambda r: len(r) >= len(rejected)
    )
    reasons = sorted(DeadLetter.model_validate_json(r.value).reason for r in letters)
    counted = await eventually(
        lambda: rows(stack, 'SELECT count("count") FROM deadletters GROUP BY reason'),
        lambda r: sum(row["count"] for row in r) == len(letters),
    )
    assert sum(row["count"] for row in counted) == len(reasons) == len(rejected)
    beats = await eventually(
        lambda: rows(
            stack, f"SELECT * FROM pipeline_health WHERE worker = '{WORKER_ID}' AND topic = ''"
        ),
        lambda r: any((row.get("points_written_total") or 0) >= len(readings) for row in r),
    )
    assert all(row["heartbeat"] == 1 for row in beats)
    assert any(row.get("sink_latency_ms") is not None for row in beats)
    assert all(row["consumer_lag"] >= 0 for row in beats if row.get("consumer_lag") is not None)
    per_topic = rows(
        stack,
        f"SELECT last(messages_in_total) FROM pipeline_health WHERE worker = '{WORKER_ID}' "
        "GROUP BY topic",
    )
    assert per_topic

    # InfluxDB's own view of the schema matches docs/storage.md
    fields: dict[str, dict[str, str]] = {}
    for row in rows(stack, "SHOW FIELD KEYS"):
        fields.setdefault(row["_name"], {})[row["fieldKey"]] = row["fieldType"]
    tags: dict[str, set[str]] = {}
    for row in rows(stack, "SHOW TAG KEYS"):
        tags.setdefault(row["_name"], set()).add(row["tagKey"])
    for measurement in ("vitals", "alerts", "deadletters", "pipeline_health"):
        doc = documented(measurement)
        assert doc, f"docs/storage.md has no table for {measurement}"
        assert tags[measurement] == {c for c, t in doc.items() if t == "tag"}, measurement
        written = fields[measurement]
        for name, kind in written.items():
            assert doc.get(name) == kind, f"{measurement}.{name} is {kind} in InfluxDB"
    assert fields["vitals"] == {
        **{name: "float" for name in FULL},
        "event_id": "string",
    }
    assert fields["deadletters"] == {"count": "integer"}
    assert fields["pipeline_health"]["heartbeat"] == "integer"
    assert fields["pipeline_health"]["consumer_lag"] == "integer"
    assert fields["pipeline_health"]["sink_latency_ms"] == "float"
    assert fields["pipeline_health"]["messages_in_total"] == "integer"
    assert fields["alerts"]["escalation_level"] == "integer"
    assert fields["alerts"]["value"] == "float"


def test_the_rollup_query_aggregates_raw_vitals_into_the_rollup_policy(
    stack: EmbeddedStack, published: list[tuple[bytes, bytes]]
) -> None:
    """The continuous query's SELECT, run once over the test's minutes (CQs run on the clock)."""
    settings = influx(stack)
    start, end = NOW - timedelta(minutes=1), NOW + timedelta(minutes=3)
    where = f"time >= '{start.isoformat()}' AND time < '{end.isoformat()}'"
    query_v1(settings, rollup_select(settings, ROLLUPS[0], where=where), database="detoxmon")
    [minute] = rows(
        stack,
        'SELECT * FROM "rollups"."vitals_1m" WHERE patient_id = \'pt-schema-1\' '
        f"AND time = '{NOW.isoformat()}'",
    )
    assert minute["readings"] == 2
    assert minute["heart_rate_mean"] == 90
    assert (minute["heart_rate_min"], minute["heart_rate_max"]) == (88, 92)
    assert minute["temperature_mean"] == 37.2
    assert minute["ward"] == "ward-3"
    types = {
        r["fieldKey"]: r["fieldType"]
        for r in rows(stack, 'SHOW FIELD KEYS FROM "rollups"."vitals_1m"')
    }
    assert types["heart_rate_mean"] == "float"
    assert types["heart_rate_max"] == "float"
    assert types["readings"] == "integer"
    assert set(documented("vitals_1m")) >= set(types)
