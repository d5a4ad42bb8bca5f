"""End to end on the real broker and InfluxDB: gateway -> Kafka -> Faust -> InfluxDB and pager."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from agents.influx.setup import query_v1
from schemas import Alert, DeadLetter
from streams import topics
from streams.producer import bootstrap_servers
from tests.conftest import Pipeline
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

BASE_TIME = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def reading(patient_id: str, minutes: int, heart_rate: float, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "vital_signs",
        "event_id": str(uuid.uuid4()),
        "patient_id": patient_id,
        "device_id": "bm-ward3-01",
        "ward": "ward-3",
        "source": "bedside_monitor",
        "observed_at": (BASE_TIME + timedelta(minutes=minutes)).isoformat(),
        "heart_rate": heart_rate,
        "systolic_bp": 128,
        "diastolic_bp": 82,
        **extra,
    }


async def publish(pipeline: Pipeline, messages: list[tuple[bytes | None, bytes]]) -> None:
    """Publish as a gateway does: plain aiokafka, acks=all, keyed by patient."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(pipeline.broker_url), acks="all"
    )
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topics.READINGS, value=value, key=key)
    finally:
        await producer.stop()


def series_rows(pipeline: Pipeline, statement: str) -> list[dict[str, Any]]:
    result = query_v1(pipeline.influx, statement, database="detoxmon", epoch="ns")
    rows: list[dict[str, Any]] = []
    for item in result.get("results", []):  # type: ignore[union-attr]
        for series in item.get("series", []):
            for values in series["values"]:
                rows.append(dict(zip(series["columns"], values, strict=True)))
    return rows


def as_json(message: dict[str, Any]) -> tuple[bytes, bytes]:
    return message["patient_id"].encode(), json.dumps(message).encode()


async def test_reading_flows_to_influxdb_alerts_topic_and_pager(pipeline: Pipeline) -> None:
    normal = [reading("pt-calm01", m, hr) for m, hr in ((0, 78), (15, 84))]
    tachy = [reading("pt-tachy01", m, hr) for m, hr in ((0, 100), (15, 125), (30, 131), (45, 105))]
    await publish(pipeline, [as_json(m) for m in normal + tachy])

    # (a) every reading is in InfluxDB with its tags, fields and event-time timestamp
    rows = await eventually(
        lambda: series_rows(
            pipeline,
            "SELECT * FROM vitals WHERE patient_id = 'pt-calm01' OR patient_id = 'pt-tachy01'",
        ),
        lambda r: len(r) == 6,
    )
    by_event = {row["event_id"]: row for row in rows}
    for sent in normal + tachy:
        row = by_event[sent["event_id"]]
        observed = datetime.fromisoformat(sent["observed_at"])
        assert row["time"] == int(observed.timestamp()) * 1_000_000_000
        assert row["patient_id"] == sent["patient_id"]
        assert row["ward"] == "ward-3"
        assert row["device_id"] == "bm-ward3-01"
        assert row["source"] == "bedside_monitor"
        assert row["heart_rate"] == sent["heart_rate"]
        assert row["systolic_bp"] == 128
        assert row["diastolic_bp"] == 82
        assert row.get("temperature") is None  # not sent, so not written

    # (b) one firing and one resolved alert on the alerts topic, for the tachycardic patient only
    records = await read_topic(
        pipeline.broker_url, topics.ALERTS, until=lambda r: len(r) >= 2, timeout_s=60
    )
    alerts = [Alert.model_validate_json(r.value) for r in records]
    assert [(a.patient_id, a.state) for a in alerts] == [
        ("pt-tachy01", "firing"),
        ("pt-tachy01", "resolved"),
    ]
    firing, resolved = alerts
    assert firing.rule_id == "pulse_high"
    assert firing.evidence.value == 125
    assert firing.evidence.threshold == 120
    assert firing.evidence.reading_event_id == uuid.UUID(tachy[1]["event_id"])
    assert firing.at == BASE_TIME + timedelta(minutes=15)
    assert resolved.alert_id == firing.alert_id
    assert resolved.evidence.value == 105
    assert all(r.key == b"pt-tachy01" for r in records)

    # ... and both transitions are in InfluxDB
    alert_rows = await eventually(
        lambda: series_rows(pipeline, "SELECT * FROM alerts WHERE patient_id = 'pt-tachy01'"),
        lambda r: len(r) == 2,
    )
    assert [(row["state"], row["priority"], row["rule_id"]) for row in alert_rows] == [
        ("firing", "medium", "pulse_high"),
        ("resolved", "medium", "pulse_high"),
    ]

    # (c) the webhook received both, signed, with the transition id as idempotency key
    pages = await eventually(pipeline.pager.accepted, lambda p: len(p) >= 2)
    assert len(pages) == 2
    for page, alert in zip(pages, alerts, strict=True):
        assert page.path == "/page"
        assert page.headers["Content-Type"] == "application/json"
        assert page.headers["Idempotency-Key"] == str(alert.transition_id)
        timestamp = page.headers["X-Detoxmon-Timestamp"]
        expected = hmac.new(
            pipeline.webhook_secret.encode(),
            timestamp.encode() + b"." + page.body,
            hashlib.sha256,
        ).hexdigest()
        assert page.headers["X-Detoxmon-Signature"] == f"v1={expected}"
        assert Alert.model_validate_json(page.body) == alert


async def test_malformed_messages_are_dead_lettered_and_the_worker_keeps_running(
    pipeline: Pipeline,
) -> None:
    bad_schema = reading("pt-bad01", 0, 90, systolic_bp=80, diastolic_bp=95)
    named = {**reading("pt-bad01", 0, 90), "patient_id": "Jane Doe"}
    unknown_field = reading("pt-bad01", 0, 90, name="Jane Doe")
    rejected: list[tuple[bytes | None, bytes, str]] = [
        (b"pt-bad01", b'{"heart_rate": 130', "invalid_json"),
        (b"pt-bad01", b"\xff\xfe not text", "not_utf8"),
        (b"pt-bad01", b"[1, 2, 3]", "not_an_object"),
        (b"pt-bad01", json.dumps(bad_schema).encode(), "schema_violation"),
        (b"pt-bad01", json.dumps(named).encode(), "schema_violation"),
        (None, json.dumps(unknown_field).encode(), "schema_violation"),
    ]
    after = reading("pt-after01", 0, 88)
    await publish(pipeline, [(k, v) for k, v, _ in rejected] + [as_json(after)])

    records = await read_topic(
        pipeline.broker_url, topics.DEAD_LETTER, until=lambda r: len(r) >= len(rejected)
    )
    letters = {DeadLetter.model_validate_json(r.value).original(): r for r in records}
    for key, original, reason in rejected:
        record = letters[original]
        letter = DeadLetter.model_validate_json(record.value)
        assert letter.reason == reason
        assert letter.detail
        assert letter.path == f"kafka:{topics.READINGS}"
        assert record.key == key
        if key is not None:
            assert letter.original_key_b64 == base64.b64encode(key).decode()
    diastolic = DeadLetter.model_validate_json(letters[rejected[3][1]].value)
    assert "diastolic_bp 95.0 is not below systolic_bp 80.0" in diastolic.detail
    named_letter = DeadLetter.model_validate_json(letters[rejected[4][1]].value)
    assert named_letter.detail.startswith("patient_id:")
    assert "Jane" not in named_letter.detail  # the detail never echoes patient data

    # the worker is alive and still processing: the reading sent after the bad ones is stored
    await eventually(
        lambda: series_rows(pipeline, "SELECT * FROM vitals WHERE patient_id = 'pt-after01'"),
        lambda r: len(r) == 1,
    )
    assert pipeline.worker.process.running()


async def test_a_redelivered_reading_is_stored_once_and_pages_once(pipeline: Pipeline) -> None:
    message = reading("pt-dup01", 0, 140)
    await publish(pipeline, [as_json(message), as_json(message)])
    marker = reading("pt-dup01", 15, 141)
    await publish(pipeline, [as_json(marker)])

    await eventually(
        lambda: series_rows(pipeline, "SELECT * FROM vitals WHERE patient_id = 'pt-dup01'"),
        lambda r: len(r) == 2,
    )
    rows = series_rows(
        pipeline, "SELECT count(heart_rate) FROM vitals WHERE patient_id = 'pt-dup01'"
    )
    assert rows[0]["count"] == 2
    records = await read_topic(
        pipeline.broker_url,
        topics.ALERTS,
        until=lambda r: any(x.key == b"pt-dup01" for x in r),
        timeout_s=30,
    )
    dup_alerts = [r for r in records if r.key == b"pt-dup01"]
    assert len(dup_alerts) == 1


def test_web_server_listens_on_loopback_only_and_hides_tables(pipeline: Pipeline) -> None:
    port = pipeline.worker.web_port
    listeners = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if int(port_hex, 16) == port and state == "0A":  # LISTEN
            listeners.append(address)
    assert listeners == ["0100007F"]  # 127.0.0.1, little-endian hex
    for path in ("/table/", "/table/active-alerts/", "/router/", "/graph/", "/stats/"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{pipeline.worker.url}{path}", timeout=5)
        assert caught.value.code == 404, path
