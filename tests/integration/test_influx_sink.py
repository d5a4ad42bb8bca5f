"""The batching sink on the real InfluxDB: acknowledge after write, isolate refusals, stop cleanly.

Events are real Faust ``Event`` objects built without a broker; the database is the embedded
InfluxDB 1.6.7, set up by the project's own `setup_storage`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import EventT
from faust.types.tuples import Message

from agents.app import app
from agents.contract import ContractError
from agents.embedded import EmbeddedInfluxDB, free_port
from agents.influx.metrics import SinkMetrics
from agents.influx.setup import query_v1, setup_storage
from agents.influx.sink import BatchSink, SinkStopped, deadletter_line, line_for
from agents.influx.writer import InfluxRefused, V1Writer
from agents.settings import InfluxSettings
from schemas import DeadLetter
from streams import topics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxSettings]:
    db = EmbeddedInfluxDB(Path(tmp_path_factory.mktemp("influx")))
    db.start()
    try:
        settings = InfluxSettings(url=db.url)
        setup_storage(settings)
        yield settings
    finally:
        db.stop()


_offsets = iter(range(1_000_000))


def event(value: bytes, *, topic: str = topics.OBSERVATIONS, partition: int = 0) -> EventT[bytes]:
    message = Message(
        topic=topic,
        partition=partition,
        offset=next(_offsets),
        timestamp=time.time() - 0.05,
        timestamp_type=0,
        headers=[],
        key=b"pt-1",
        value=value,
        checksum=None,
    )
    return faust.Event(app, b"pt-1", value, [], message)


def reading(patient: str, minutes_ago: float, heart_rate: float) -> bytes:
    observed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return json.dumps(
        {
            "kind": "vital_signs",
            "event_id": str(uuid.uuid4()),
            "patient_id": patient,
            "device_id": "bm-1",
            "ward": "ward-3",
            "source": "bedside_monitor",
            "observed_at": observed.isoformat(),
            "heart_rate": heart_rate,
        }
    ).encode()


def count(influx: InfluxSettings, statement: str) -> int:
    result: Any = query_v1(influx, statement, database=influx.database)
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


class Recorder:
    """The sink's callbacks, recording what they were given."""

    def __init__(self) -> None:
        self.acked: list[EventT[bytes]] = []
        self.invalid: list[tuple[EventT[bytes], ContractError]] = []
        self.refused: list[tuple[EventT[bytes], str, InfluxRefused]] = []

    async def ack(self, event: EventT[bytes]) -> None:
        self.acked.append(event)

    async def on_invalid(self, event: EventT[bytes], error: ContractError) -> None:
        self.invalid.append((event, error))

    async def on_refused(self, event: EventT[bytes], line: str, error: InfluxRefused) -> None:
        self.refused.append((event, line, error))


def sink_for(
    writer: V1Writer,
    recorder: Recorder,
    *,
    encode: Any = None,
    ack: Any = None,
    metrics: SinkMetrics | None = None,
) -> BatchSink:
    return BatchSink(
        writer,
        encode=encode or (lambda e: line_for(e.message.topic, e.value)),
        ack=ack or recorder.ack,
        on_invalid=recorder.on_invalid,
        on_refused=recorder.on_refused,
        max_backoff_s=0.2,
        metrics=metrics or SinkMetrics(),
    )


async def test_a_batch_is_acknowledged_in_order_and_only_once_its_points_are_stored(
    influx: InfluxSettings,
) -> None:
    events = [event(reading("pt-order", m, 70 + m)) for m in range(5)]
    stored_at_ack: list[int] = []
    recorder = Recorder()

    async def ack(e: EventT[bytes]) -> None:  # looks at the database when each ack happens
        stored_at_ack.append(
            count(influx, "SELECT count(heart_rate) FROM vitals WHERE patient_id = 'pt-order'")
        )
        await recorder.ack(e)

    metrics = SinkMetrics()
    writer = V1Writer(influx)
    try:
        await sink_for(writer, recorder, ack=ack, metrics=metrics).process(events)
    finally:
        await writer.close()
    assert recorder.acked == events
    assert stored_at_ack == [5] * 5
    assert metrics.points_written_total == 5
    latency = metrics.take_latency()
    assert latency is not None
    assert 50 <= latency.mean_ms <= latency.max_ms < 10_000


async def test_refused_lines_are_isolated_and_the_rest_of_the_batch_is_written(
    influx: InfluxSettings,
) -> None:
    now_ns = time.time_ns()
    old_ns = now_ns - 200 * 86400 * 10**9  # beyond the 90-day raw retention
    lines = [
        f"vitals,patient_id=pt-mixed heart_rate=71 {now_ns}",
        f'vitals,patient_id=pt-mixed heart_rate="seventy" {now_ns + 1}',  # field type conflict
        f"vitals,patient_id=pt-mixed heart_rate=72 {now_ns + 2}",
        f"vitals,patient_id=pt-mixed heart_rate= {now_ns + 3}",  # does not parse
        f"vitals,patient_id=pt-mixed heart_rate=73 {old_ns}",  # beyond retention
        f"vitals,patient_id=pt-mixed heart_rate=74 {now_ns + 5}",
    ]
    events = [event(line.encode()) for line in lines]
    recorder = Recorder()
    writer = V1Writer(influx)
    try:
        await sink_for(writer, recorder, encode=lambda e: e.value.decode()).process(events)
    finally:
        await writer.close()
    assert [lines.index(line) for _, line, _ in recorder.refused] == [1, 3, 4]
    reasons = [str(error) for _, _, error in recorder.refused]
    assert "field type conflict" in reasons[0]
    assert "unable to parse <line>" in reasons[1]
    assert "pt-mixed" not in reasons[1]  # the quoted line is redacted
    assert "beyond retention policy" in reasons[2]
    assert all(error.status == 400 for _, _, error in recorder.refused)
    assert recorder.acked == events
    assert count(influx, "SELECT count(heart_rate) FROM vitals WHERE patient_id = 'pt-mixed'") == 3


async def test_invalid_messages_are_handed_on_and_unknown_kinds_skipped(
    influx: InfluxSettings,
) -> None:
    good = event(reading("pt-kinds", 0, 66))
    broken = event(b'{"heart_rate": 1')
    incomplete = event(json.dumps({"kind": "ciwa_b", "patient_id": "pt-kinds"}).encode())
    unknown_kind = event(json.dumps({"kind": "blood_gas", "patient_id": "pt-kinds"}).encode())
    bad_alert = event(b"{}", topic=topics.ALERTS)
    events = [good, broken, incomplete, unknown_kind, bad_alert]
    recorder = Recorder()
    writer = V1Writer(influx)
    try:
        await sink_for(writer, recorder).process(events)
    finally:
        await writer.close()
    assert [(e, err.reason) for e, err in recorder.invalid] == [
        (broken, "invalid_json"),
        (incomplete, "schema_violation"),
        (bad_alert, "schema_violation"),
    ]
    assert recorder.refused == []
    assert recorder.acked == events
    assert count(influx, "SELECT count(heart_rate) FROM vitals WHERE patient_id = 'pt-kinds'") == 1


async def test_a_worker_stopped_mid_retry_acknowledges_nothing_and_a_redelivery_stores_once(
    influx: InfluxSettings, caplog: pytest.LogCaptureFixture
) -> None:
    events = [event(reading("pt-stop", m, 80 + m)) for m in range(3)]
    recorder = Recorder()
    unreachable = V1Writer(influx.model_copy(update={"url": f"http://127.0.0.1:{free_port()}"}))
    task = asyncio.create_task(sink_for(unreachable, recorder).process(events))
    deadline = time.monotonic() + 10
    while "retrying" not in caplog.text and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # several attempts, inside a backoff sleep or a request
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await unreachable.close()
    assert "InfluxDB write failed (attempt 2)" in caplog.text
    assert recorder.acked == []

    # Kafka redelivers the unacknowledged events to the next worker, which writes them.
    writer = V1Writer(influx)
    try:
        await sink_for(writer, recorder).process(events)
        await sink_for(writer, recorder).process(events)  # and once more: idempotent
    finally:
        await writer.close()
    assert recorder.acked == events + events
    assert count(influx, "SELECT count(heart_rate) FROM vitals WHERE patient_id = 'pt-stop'") == 3


async def test_dead_letters_become_one_counted_point_each(influx: InfluxSettings) -> None:
    received = datetime.now(UTC)
    letters = [
        DeadLetter.of(
            b"{",
            key=None,
            path="kafka:detoxmon.readings.v1",
            reason="invalid_json",
            detail="x",
            received_at=received,
        )
        for _ in range(3)
    ]
    events = [
        event(letter.model_dump_json().encode(), topic=topics.DEAD_LETTER, partition=1)
        for letter in letters
    ]
    events.append(event(b"not a dead letter", topic=topics.DEAD_LETTER, partition=1))
    recorder = Recorder()
    writer = V1Writer(influx)
    try:
        sink = sink_for(writer, recorder, encode=deadletter_line)
        await sink.process(events)
        await sink.process(events[:1])  # a redelivery overwrites its own point
    finally:
        await writer.close()
    assert (
        count(influx, "SELECT count(\"count\") FROM deadletters WHERE reason = 'invalid_json'") == 3
    )
    assert (
        count(
            influx,
            "SELECT count(\"count\") FROM deadletters WHERE reason = 'unreadable_dead_letter'",
        )
        == 1
    )


async def test_a_stopping_worker_abandons_the_batch_promptly_without_acknowledging(
    influx: InfluxSettings,
) -> None:
    events = [event(reading("pt-abandon", m, 90)) for m in range(2)]
    recorder = Recorder()
    stopping = False
    unreachable = V1Writer(influx.model_copy(update={"url": f"http://127.0.0.1:{free_port()}"}))
    sink = BatchSink(
        unreachable,
        encode=lambda e: line_for(e.message.topic, e.value),
        ack=recorder.ack,
        on_invalid=recorder.on_invalid,
        on_refused=recorder.on_refused,
        max_backoff_s=30,  # a long backoff: stopping must not wait it out
        should_stop=lambda: stopping,
    )
    task = asyncio.create_task(sink.process_until_done(events))
    await asyncio.sleep(1.0)
    stopping = True
    started = time.monotonic()
    with pytest.raises(SinkStopped):
        await task
    await unreachable.close()
    assert time.monotonic() - started < 1.0
    assert recorder.acked == []


async def test_any_other_failure_resumes_the_batch_without_doing_anything_twice(
    influx: InfluxSettings,
) -> None:
    now_ns = time.time_ns()
    lines = [f"vitals,patient_id=pt-again heart_rate={70 + n} {now_ns + n}" for n in range(3)]
    lines.insert(1, f'vitals,patient_id=pt-again heart_rate="x" {now_ns + 9}')  # refused
    events = [event(line.encode()) for line in lines]
    recorder = Recorder()
    failures = {"dead letter": 1, "ack": 1}

    async def flaky_refused(e: EventT[bytes], line: str, error: InfluxRefused) -> None:
        if failures["dead letter"]:
            failures["dead letter"] -= 1
            raise RuntimeError("Kafka away")
        await recorder.on_refused(e, line, error)

    async def flaky_ack(e: EventT[bytes]) -> None:
        if failures["ack"] and e is events[2]:
            failures["ack"] -= 1
            raise RuntimeError("Kafka still away")
        await recorder.ack(e)

    writes = 0
    writer = V1Writer(influx)
    original_write = writer.write

    async def counting_write(batch: Any) -> None:
        nonlocal writes
        writes += 1
        await original_write(batch)

    writer.write = counting_write  # type: ignore[method-assign]
    sink = BatchSink(
        writer,
        encode=lambda e: e.value.decode(),
        ack=flaky_ack,
        on_invalid=recorder.on_invalid,
        on_refused=flaky_refused,
        max_backoff_s=0.05,
    )
    try:
        await sink.process_until_done(events)
    finally:
        await writer.close()
    assert failures == {"dead letter": 0, "ack": 0}
    assert recorder.acked == events  # each exactly once, in order
    assert [line for _, line, _ in recorder.refused] == [lines[1]]  # one dead letter
    # the batch (400), its halves (400 and 204), the bad line alone (400): 5 requests, and none
    # again when the batch resumed after the failed dead letter and the failed ack
    assert writes == 5
    assert count(influx, "SELECT count(heart_rate) FROM vitals WHERE patient_id = 'pt-again'") == 3
