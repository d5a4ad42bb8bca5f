"""The reference points the pipeline is measured against, on the same preloaded messages.

- **Raw ceiling**: aiokafka ``getmany`` plus ``json.loads``, no framework: what the client and
  the broker can deliver to Python on this machine.
- **Framework ceiling**: a Faust agent that only consumes (:mod:`agents.bench.ceiling`), in
  its own process as the worker is: what Faust can deliver to one agent.
- **Naive pipeline**: what a first attempt would write: one event at a time, decoded and
  validated with the contract, one synchronous InfluxDB HTTP write per reading. It shows what
  batching and asynchrony buy.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    TopicPartition,
)

from agents.bench.measure import (
    FAUST_READY,
    CpuWindow,
    distribution,
    influx_query,
    rate_figures,
    wait_for_line,
)
from agents.contract import ContractError, parse_event
from agents.embedded.process import ManagedProcess, free_port, port_open
from schemas import VitalSignsObservation
from streams import topics
from streams.admin import ensure_topics
from streams.producer import bootstrap_servers

#: The naive pipeline writes to its own database so its points never mix with the worker's.
NAIVE_DATABASE = "bench_naive"


async def _assigned_consumer(broker_url: str, topic: str, **options: Any) -> Any:
    """A consumer without a group, assigned every partition of ``topic`` from the start."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **options,
    )
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic)
    deadline = time.monotonic() + 30
    while not partitions and time.monotonic() < deadline:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer.stop()
        raise RuntimeError(f"topic {topic} has no partitions")
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    await consumer.seek_to_beginning()
    return consumer


async def raw_ceiling_once(broker_url: str, expected: int, *, timeout_s: float) -> dict[str, Any]:
    """Read and JSON-decode ``expected`` messages of the inbound topic as fast as possible."""
    consumer = await _assigned_consumer(broker_url, topics.READINGS)
    try:
        started = time.monotonic()
        series: list[tuple[float, int]] = [(started, 0)]
        count = 0
        while count < expected and time.monotonic() - started < timeout_s:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for record in records:
                    json.loads(record.value)
                count += len(records)
            series.append((time.monotonic(), count))
        return rate_figures(series, started=started, total=expected)
    finally:
        await consumer.stop()


async def raw_ceiling(
    broker_url: str, expected: int, *, runs: int = 3, timeout_s: float = 60
) -> dict[str, Any]:
    """The raw ceiling, best of ``runs`` passes (it is short, so one pass is noisy)."""
    passes = [
        await raw_ceiling_once(broker_url, expected, timeout_s=timeout_s) for _ in range(runs)
    ]
    best = max(passes, key=lambda figures: float(figures["msgs_per_s"]))
    return {**best, "runs": [figures["msgs_per_s"] for figures in passes]}


def framework_ceiling(
    broker_url: str, expected: int, *, workdir: Path, timeout_s: float, session_timeout_s: float
) -> dict[str, Any]:
    """Run the bare Faust agent in a child process until it has consumed ``expected`` messages.

    Timed like the worker: from Faust's "Worker ready" (group joined) to the last message, and
    between 10 % and 90 % of the messages (the sustained rate, without start-up).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    result = workdir / "ceiling.json"
    web_port = free_port()
    process = ManagedProcess(
        "faust-ceiling",
        [sys.executable, "-m", "agents.bench.ceiling", "worker", "--loglevel", "info"],
        log_path=workdir / "ceiling.log",
        cwd=workdir,
        env={
            **os.environ,
            "DETOXMON_BENCH_BROKER": broker_url,
            "DETOXMON_BENCH_EXPECTED": str(expected),
            "DETOXMON_BENCH_RESULT": str(result),
            "DETOXMON_BENCH_WEB_PORT": str(web_port),
            "DETOXMON_BENCH_DATADIR": str(workdir / "state"),
            "DETOXMON_BENCH_SESSION_TIMEOUT_S": str(session_timeout_s),
        },
    )
    try:
        process.start()
        process.wait_healthy(lambda: port_open(web_port), timeout_s=60)
        web_up = time.time()
        ready = wait_for_line(
            process.log_path, FAUST_READY, alive=process.running, timeout_s=timeout_s
        )
        cpu = CpuWindow({"ceiling": process.pid})
        cpu.start()
        deadline = time.monotonic() + timeout_s
        while not result.exists():
            if not process.running():
                raise RuntimeError(f"the Faust ceiling app exited:\n{process.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Faust ceiling app did not consume {expected} messages in "
                    f"{timeout_s:.0f} s:\n{process.log_tail()}"
                )
            time.sleep(0.05)
        usage = cpu.stop()
        marks = json.loads(result.read_text())
    finally:
        process.stop()
    elapsed = max(float(marks["done"]) - ready, 1e-9)
    steady = float(marks["p90"]) - float(marks["p10"])
    return {
        "messages": expected,
        "complete": True,
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(expected / elapsed, 1),
        "sustained_msgs_per_s": round(0.8 * expected / steady, 1) if steady > 0 else None,
        "first_message_after_ready_s": round(float(marks["first"]) - ready, 3),
        "web_up_to_ready_s": round(ready - web_up, 3),
        "cpu": usage,
    }


async def broker_hop(
    broker_url: str, *, fetch_max_wait_ms: int, samples: int = 30, interval_s: float = 0.05
) -> dict[str, Any]:
    """Produce-to-consume time of single messages through the broker, in ms.

    Faust's stream consumer asks for fetches of up to 1,500 ms (hard-coded in its aiokafka
    driver; the worker replaces it with ``DETOXMON_KAFKA__FETCH_MAX_WAIT_MS``, 20 ms on the
    embedded stack: :mod:`agents.kafka_consumer`). A broker that answers a long poll only when
    it expires, rather than as soon as data arrives, adds up to that much to every hop; this
    measures the floor it sets at Faust's wait and at the worker's.
    """
    topic = "detoxmon.bench.hop"
    await ensure_topics(broker_url, [topic], partitions=1)
    consumer = await _assigned_consumer(broker_url, topic, fetch_max_wait_ms=fetch_max_wait_ms)
    await consumer.seek_to_end()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url), acks="all")
    await producer.start()
    latencies: list[float] = []

    async def read() -> None:
        while len(latencies) < samples:
            batch = await consumer.getmany(timeout_ms=5000)
            arrived = time.time()
            for records in batch.values():
                latencies.extend((arrived - float(r.value)) * 1000 for r in records)

    try:
        reader = asyncio.create_task(read())
        await asyncio.sleep(0.3)
        for _ in range(samples):
            await producer.send_and_wait(topic, str(time.time()).encode())
            await asyncio.sleep(interval_s)
        await asyncio.wait_for(reader, timeout=30)
    finally:
        await producer.stop()
        await consumer.stop()
    return {"fetch_max_wait_ms": fetch_max_wait_ms, **distribution(latencies)}


def _line(observation: VitalSignsObservation) -> str:
    """Line protocol written by hand, as a first attempt would (the ids are restricted)."""
    tags = (
        f"patient_id={observation.patient_id},ward={observation.ward or 'unknown'},"
        f"device_id={observation.device_id},source={observation.source}"
    )
    fields = ",".join(f"{name}={float(value)}" for name, value in observation.vitals().items())
    stamp = int(observation.observed_at.timestamp() * 1_000_000) * 1000
    return f'vitals,{tags} event_id="{observation.event_id}",{fields} {stamp}'


def create_naive_database(influx_url: str) -> None:
    """The naive pipeline's own database."""
    influx_query(influx_url, NAIVE_DATABASE, f'CREATE DATABASE "{NAIVE_DATABASE}"')


async def naive_pipeline(
    broker_url: str, influx_url: str, expected: int, *, time_limit_s: float
) -> dict[str, Any]:
    """Consume one event at a time, validate it, write each reading with a blocking request.

    Stops after ``expected`` messages or ``time_limit_s``, whichever comes first: it is far
    slower than the others, and its rate is what matters.
    """
    create_naive_database(influx_url)
    write_url = f"{influx_url}/write?" + urllib.parse.urlencode(
        {"db": NAIVE_DATABASE, "precision": "ns"}
    )
    consumer = await _assigned_consumer(broker_url, topics.READINGS)
    written = rejected = 0
    series: list[tuple[float, int]] = []
    try:
        count = 0
        started = time.monotonic()
        series.append((started, 0))
        async for record in consumer:
            try:
                event = parse_event(record.value, received_at=datetime.now(UTC))
            except ContractError:
                rejected += 1
            else:
                if isinstance(event, VitalSignsObservation):
                    body = _line(event).encode()
                    # Blocking on purpose, inside the loop: this is the naive baseline.
                    request = urllib.request.Request(write_url, data=body, method="POST")  # noqa: S310
                    with urllib.request.urlopen(request, timeout=10):  # noqa: S310, ASYNC210
                        written += 1
            count += 1
            series.append((time.monotonic(), count))
            if count >= expected or time.monotonic() - started >= time_limit_s:
                break
    finally:
        await consumer.stop()
    figures = rate_figures(series, started=series[0][0], total=count)
    # Bounded by time, it did not get through the backlog: its steady rate is its rate.
    figures["sustained_msgs_per_s"] = figures["sustained_msgs_per_s"] or figures["msgs_per_s"]
    return {**figures, "points_written": written, "rejected": rejected}
