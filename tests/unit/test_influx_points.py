"""Line protocol of the dead-letter and pipeline-health measurements, and the kind registry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from agents.influx.points import (
    POINTS_BY_KIND,
    HealthSnapshot,
    dead_letter_record_point,
    deadletter_point,
    epoch_ns,
    health_points,
)
from schemas import DeadLetter

AT = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
AT_NS = 1_795_428_000_123_456_000


def parse(line: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    """Measurement, tags, raw field values and timestamp of one simple line."""
    head, fields, timestamp = line.split(" ")
    measurement, *tag_pairs = head.split(",")
    tags = dict(pair.split("=", 1) for pair in tag_pairs)
    values = dict(pair.split("=", 1) for pair in fields.split(","))
    return measurement, tags, values, int(timestamp)


def test_epoch_ns_is_exact_to_the_microsecond() -> None:
    assert epoch_ns(AT) == AT_NS


def test_a_dead_letter_is_one_integer_count_at_its_receipt_time_plus_offset_nanoseconds() -> None:
    line = deadletter_point(
        reason="invalid_json",
        path="kafka:detoxmon.readings.v1",
        received_at=AT,
        partition=2,
        offset=12345,
    )
    measurement, tags, values, timestamp = parse(line)
    assert measurement == "deadletters"
    assert tags == {
        "partition": "2",
        "path": "kafka:detoxmon.readings.v1",
        "reason": "invalid_json",
    }
    assert values == {"count": "1i"}
    assert timestamp == AT_NS + 345


def test_two_letters_in_the_same_microsecond_stay_two_points_and_a_redelivery_overwrites() -> None:
    def stamp(partition: int, offset: int) -> tuple[str, int]:
        _, tags, _, timestamp = parse(
            deadletter_point(
                reason="schema_violation",
                path="kafka:detoxmon.readings.v1",
                received_at=AT,
                partition=partition,
                offset=offset,
            )
        )
        return tags["partition"], timestamp

    assert stamp(0, 10) != stamp(0, 11)  # same partition, next offset
    assert stamp(0, 10) != stamp(1, 10)  # same offset, other partition
    assert stamp(0, 10) == stamp(0, 10)  # redelivery: the same point


def test_a_dead_letter_record_keeps_its_reason_path_and_received_at() -> None:
    letter = DeadLetter.of(
        b"{",
        key=b"pt-1",
        path="influxdb:write",
        reason="influx_refused",
        detail="InfluxDB answered 400",
        received_at=AT,
    )
    _, tags, _, timestamp = parse(dead_letter_record_point(letter, partition=1, offset=7))
    assert tags["reason"] == "influx_refused"
    assert tags["path"] == "influxdb:write"
    assert timestamp == AT_NS + 7


def test_a_heartbeat_has_integer_counters_float_latencies_and_one_point_per_topic() -> None:
    lines = health_points(
        HealthSnapshot(
            worker="host-1-42",
            at=AT,
            points_written_total=1500,
            consumer_lag=3,
            sink_latency_ms=12.5,
            sink_latency_max_ms=40.0,
            messages_in_total={"detoxmon.readings.v1": 10, "detoxmon.alerts.v1": 2},
        )
    )
    assert len(lines) == 3
    measurement, tags, values, timestamp = parse(lines[0])
    assert (measurement, tags, timestamp) == ("pipeline_health", {"worker": "host-1-42"}, AT_NS)
    assert values == {
        "consumer_lag": "3i",
        "heartbeat": "1i",
        "points_written_total": "1500i",
        "sink_latency_max_ms": "40",
        "sink_latency_ms": "12.5",
    }
    per_topic = {parse(line)[1]["topic"]: parse(line)[2] for line in lines[1:]}
    assert per_topic == {
        "detoxmon.alerts.v1": {"messages_in_total": "2i"},
        "detoxmon.readings.v1": {"messages_in_total": "10i"},
    }
    assert all(parse(line)[3] == AT_NS for line in lines)


def test_a_heartbeat_leaves_out_what_it_does_not_know() -> None:
    [line] = health_points(HealthSnapshot(worker="w", at=AT, points_written_total=0))
    assert parse(line)[2] == {"heartbeat": "1i", "points_written_total": "0i"}


def test_vital_signs_are_registered_and_other_kinds_are_not_stored_yet() -> None:
    encode = POINTS_BY_KIND["vital_signs"]
    line = encode(
        {
            "kind": "vital_signs",
            "event_id": str(uuid.uuid4()),
            "patient_id": "pt-1",
            "device_id": "bm-1",
            "source": "bedside_monitor",
            "observed_at": AT.isoformat(),
            "heart_rate": 80,
        }
    )
    assert line.startswith("vitals,")
    assert "heart_rate=80" in line
    assert line.endswith(str(AT_NS))


def test_every_registered_kind_is_documented_in_storage_md() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "storage.md").read_text()
    for kind in POINTS_BY_KIND:
        assert f"(kind `{kind}`)" in docs, kind
