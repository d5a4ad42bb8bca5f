"""The benchmark's phases, in the order that keeps them from disturbing one another.

1. Start the embedded broker and InfluxDB, create the database and topics, and preload the
   inbound topic with the ward's backlog (before any consumer runs).
2. Reference points on that backlog, one at a time: raw ceiling, framework ceiling, naive.
3. Start ``detoxmon worker`` and time it through the backlog, from its web port answering to
   the last ``vitals`` point in InfluxDB, with py-spy sampling it; then read the alerts topic.
4. Offered loads on the same worker: paced messages with probes whose alerts (on the alerts
   topic) and pages (at the webhook) are timed from their produce time.
5. Memory: a fresh stack and worker, 10,000 enrolled patients with a few readings each, RSS.

Every process is started through :mod:`agents.embedded` and stopped on the way out, whatever
happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]

from agents.bench.baselines import broker_hop, framework_ceiling, naive_pipeline, raw_ceiling
from agents.bench.measure import (
    FAUST_READY,
    CpuWindow,
    distribution,
    downsample,
    influx_count,
    loadavg,
    machine_info,
    proc_status,
    rate_figures,
    wait_for_line,
)
from agents.bench.profiling import Profiler, unavailable_reason
from agents.bench.webhook import PageRecorder
from agents.bench.workload import Message, Ward, summary
from agents.embedded import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from agents.settings import KafkaSettings
from streams import topics
from streams.admin import ensure_topics
from streams.producer import bootstrap_servers

#: The worker's database (its default); the naive pipeline writes elsewhere.
DATABASE = "detoxmon"
#: The worker's app id, hence its consumer group (its default).
APP_ID = "detoxmon"
#: How often InfluxDB is asked how many points it holds while the worker catches up.
POLL_S = 0.25
#: Longest wait for a backlog to be worked through, in multiples of ``--duration`` (and at
#: least five minutes): a slow pipeline still gets a figure; a stalled one fails sooner
#: (see :func:`wait_for_points`).
BACKLOG_WAIT_FACTOR = 20


def backlog_wait_s(config: BenchConfig) -> float:
    """How long a phase waits for its backlog to be in InfluxDB."""
    return max(300.0, BACKLOG_WAIT_FACTOR * config.duration_s)


#: Consumer-group session timeout of the worker and the Faust ceiling app alike. The embedded
#: broker holds a first JoinGroup for about half of it, so a short one keeps start-up short.
SESSION_TIMEOUT_S = 6.0

Say = Callable[[str], None]


class BenchError(RuntimeError):
    """The benchmark could not measure (a service or the worker failed); the message says why."""


@dataclass(frozen=True)
class BenchConfig:
    """What to run: sizes, offered loads, seed, and where to keep logs."""

    workdir: Path
    duration_s: float = 30.0
    patients: int = 2000
    messages: int = 60_000
    memory_patients: int = 10_000
    memory_readings_each: int = 3
    loads: tuple[int, ...] = (100, 500, 1000, 5000)
    load_seconds: float = 30.0
    probes_per_s: float = 20.0
    hop_samples: int = 30
    seed: int = 7
    profile: bool = True
    partitions: int = 4
    command: str = ""


@dataclass
class _Run:
    """Mutable state shared by the phases of one run."""

    config: BenchConfig
    say: Say
    pages: PageRecorder
    secret: str = field(default_factory=lambda: secrets.token_hex(16))

    def worker_env(self, stack: EmbeddedStack) -> dict[str, str]:
        """The worker's settings: the embedded services, the page recorder, and defaults."""
        return {
            **stack.env(),
            "DETOXMON_APP_ID": APP_ID,
            "DETOXMON_INFLUX__DATABASE": DATABASE,
            "DETOXMON_PAGER__WEBHOOK_URLS": json.dumps([self.pages.url]),
            "DETOXMON_PAGER__WEBHOOK_SECRET": self.secret,
            "DETOXMON_KAFKA__TOPIC_PARTITIONS": str(self.config.partitions),
            "DETOXMON_KAFKA__SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S),
        }


async def _prepare(stack: EmbeddedStack, partitions: int) -> None:
    """Start the services, create the database (``detoxmon influx setup``) and the topics."""
    await asyncio.to_thread(stack.start)
    env = {**os.environ, **stack.env(), "DETOXMON_INFLUX__DATABASE": DATABASE}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "agents.cli", "influx", "setup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"detoxmon influx setup failed:\n{done.stdout}{done.stderr}")
    await ensure_topics(stack.broker.url, topics.ALL_TOPICS, partitions=partitions)


async def produce(broker_url: str, messages: Sequence[Message]) -> float:
    """Send ``messages`` to the inbound topic as gateways do (acks=all); return the seconds."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(broker_url), acks="all", linger_ms=5
    )
    await producer.start()
    started = time.monotonic()
    try:
        futures = [
            await producer.send(topics.READINGS, value=message.value, key=message.key)
            for message in messages
        ]
        await producer.flush()
        for future in futures:
            future.result()
    finally:
        await producer.stop()
    return time.monotonic() - started


async def _assigned(broker_url: str, topic: str, **options: Any) -> Any:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url),
        group_id=None,
        enable_auto_commit=False,
        **options,
    )
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    return consumer


async def read_to_end(broker_url: str, topic: str) -> list[bytes]:
    """Every record value of ``topic`` up to its current end."""
    consumer = await _assigned(broker_url, topic, auto_offset_reset="earliest")
    try:
        assignment = list(consumer.assignment())
        await consumer.seek_to_beginning(*assignment)
        ends = await consumer.end_offsets(assignment)
        values: list[bytes] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in assignment}
            if all(positions[tp] >= ends[tp] for tp in assignment):
                break
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            values.extend(record.value for records in batch.values() for record in records)
        return values
    finally:
        await consumer.stop()


def _firing_reading(value: bytes) -> str | None:
    """The reading event id of a firing transition (the alert contract's evidence)."""
    try:
        alert = json.loads(value)
    except ValueError:
        return None
    if not isinstance(alert, dict) or alert.get("state") != "firing":
        return None
    evidence = alert.get("evidence")
    reading = evidence.get("reading_event_id") if isinstance(evidence, dict) else None
    return str(reading) if reading else None


class AlertListener:
    """Reads the alerts topic from its end, noting when each firing transition arrives."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        #: reading event id -> (arrival here, the record's broker timestamp), both Unix seconds.
        self.arrivals: dict[str, tuple[float, float]] = {}
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start reading from the current end of the topic."""
        self._consumer = await _assigned(
            self.broker_url, topics.ALERTS, auto_offset_reset="latest", fetch_max_wait_ms=20
        )
        await self._consumer.seek_to_end()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            arrived = time.time()
            for records in batch.values():
                for record in records:
                    reading = _firing_reading(record.value)
                    if reading is not None:
                        self.arrivals[reading] = (arrived, record.timestamp / 1000)

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


async def consumed(broker_url: str, group: str = APP_ID) -> int:
    """Inbound messages the worker's consumer group has committed: its progress on Kafka.

    Read with a consumer of that group that never subscribes, so it does not join the group.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topics.READINGS) or set()
        offsets = [await consumer.committed(TopicPartition(topics.READINGS, p)) for p in partitions]
        return sum(offset or 0 for offset in offsets)
    finally:
        await consumer.stop()


async def wait_for_points(
    stack: EmbeddedStack,
    expected: int,
    *,
    started: float,
    timeout_s: float,
    stall_s: float = 120.0,
) -> list[tuple[float, int]]:
    """Poll the ``vitals`` count until it reaches ``expected``; the (time, count) series.

    Gives up after ``timeout_s`` (the series then ends short), and fails when neither the count
    nor the worker's committed offsets on the inbound topic have moved for ``stall_s``: a
    worker that neither writes nor consumes cannot be measured. (Offsets matter when a burst
    of enrolments, which have no points, comes first.)
    """
    series: list[tuple[float, int]] = [(started, 0)]
    moved_at = checked_at = time.time()
    offsets = -1
    while True:
        count = await asyncio.to_thread(
            influx_count, stack.influx.url, DATABASE, "vitals", "event_id"
        )
        now = time.time()
        if count > series[-1][1]:
            moved_at = now
        series.append((now, count))
        if count >= expected or now - started > timeout_s:
            return series
        if now - moved_at > stall_s / 4 and now - checked_at > 5:
            latest, checked_at = await consumed(stack.broker.url), now
            if 0 <= offsets < latest:
                moved_at = now
            offsets = max(offsets, latest)
        if now - moved_at > stall_s:
            raise BenchError(
                f"the worker stalled: InfluxDB's vitals count stuck at {count} of {expected} "
                f"and its inbound offsets at {offsets} for {stall_s:.0f} s"
            )
        await asyncio.sleep(POLL_S)


@dataclass(frozen=True)
class _Started:
    """A running worker, when its web port answered and when Faust said it was ready."""

    worker: WorkerProcess
    web_up: float
    ready: float


async def _start_worker(run: _Run, stack: EmbeddedStack, name: str) -> _Started:
    worker = WorkerProcess(run.config.workdir / name, run.worker_env(stack), name=name)
    log = worker.process.log_path
    offset = log.stat().st_size if log.exists() else 0
    try:
        await asyncio.to_thread(worker.start, timeout_s=120)
        web_up = time.time()
        ready = await asyncio.to_thread(
            wait_for_line,
            log,
            FAUST_READY,
            alive=worker.process.running,
            timeout_s=120,
            offset=offset,
        )
    except Exception as exc:
        await asyncio.to_thread(worker.stop)
        raise BenchError(f"the worker did not start:\n{worker.process.log_tail()}") from exc
    return _Started(worker, web_up, ready)


async def throughput_phase(
    run: _Run, stack: EmbeddedStack, started: _Started, backlog: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Time the worker through the backlog; profile it meanwhile. Returns figures, profile."""
    config = run.config
    expected = int(backlog["observation_sets"])
    worker, ready = started.worker, started.ready
    profiler: Profiler | None = None
    profile: dict[str, Any] = {"available": False, "reason": "disabled (--no-profile)"}
    if config.profile:
        reason = await asyncio.to_thread(unavailable_reason)
        if reason is None and worker.process.pid is not None:
            profiler = Profiler(worker.process.pid, config.workdir)
            profiler.start()
        else:
            profile = {"available": False, "reason": reason}
    cpu = CpuWindow(
        {
            "worker": worker.process.pid,
            "broker": stack.broker.process.pid,
            "influxd": stack.influx.process.pid,
            "bench": os.getpid(),
            "py_spy": profiler.process.pid if profiler is not None else None,
        }
    )
    cpu.start()
    try:
        series = await wait_for_points(
            stack, expected, started=ready, timeout_s=backlog_wait_s(config)
        )
    finally:
        usage = cpu.stop()
        if profiler is not None:
            profile = await asyncio.to_thread(profiler.finish)
    figures = rate_figures(series, started=ready, total=expected)
    seconds = float(figures["seconds"])
    sustained = figures["sustained_msgs_per_s"]
    messages = int(backlog["messages"])
    share = int(figures["messages"]) / expected if expected else 0.0
    first_point = next((t for t, n in series if n > 0), None)
    alerts = await read_to_end(stack.broker.url, topics.ALERTS)
    states: dict[str, int] = {}
    for value in alerts:
        with contextlib.suppress(ValueError, AttributeError):
            state = str(json.loads(value).get("state"))
            states[state] = states.get(state, 0) + 1
    reasons: dict[str, int] = {}
    for value in await read_to_end(stack.broker.url, topics.DEAD_LETTER):
        with contextlib.suppress(ValueError, AttributeError):
            reason = str(json.loads(value).get("reason"))
            reasons[reason] = reasons.get(reason, 0) + 1
    # Every transition is paged once; wait for the pager to catch up before going on.
    for _ in range(150):
        if run.pages.count() >= len(alerts):
            break
        await asyncio.sleep(0.2)
    worker_cpu = usage.get("worker_cpu_s", 0.0)
    # Messages of every kind count; the share of them done is the share of readings stored.
    done_messages = round(messages * share)
    result = {
        "messages": done_messages,
        "observation_sets": int(figures["messages"]),
        "complete": figures["complete"],
        "seconds": seconds,
        "msgs_per_s": round(done_messages / seconds, 1),
        "sustained_msgs_per_s": round(float(sustained) * messages / expected, 1)
        if sustained is not None
        else None,
        "observation_sets_per_s": round(int(figures["messages"]) / seconds, 1),
        "vital_values_per_s": round(int(backlog["vital_values"]) * share / seconds, 1),
        "first_point_after_ready_s": round(first_point - ready, 3) if first_point else None,
        "web_up_to_ready_s": round(ready - started.web_up, 3),
        "alerts_published": len(alerts),
        "alerts_by_state": states,
        "alerts_per_s": round(len(alerts) / seconds, 2),
        "pages_received": run.pages.count(),
        # The workload is valid: any dead letter here is a finding about the pipeline.
        "dead_letters": sum(reasons.values()),
        "dead_letters_by_reason": reasons,
        "msgs_per_worker_cpu_s": round(done_messages / worker_cpu, 1) if worker_cpu else None,
        "cpu": usage,
        "profiled": profiler is not None,
        # (seconds after ready, vitals points in InfluxDB): the shape of the catch-up.
        "progress": downsample(series, started=ready),
    }
    return result, profile


async def offered_load(
    run: _Run,
    stack: EmbeddedStack,
    worker_pid: int | None,
    ward: Ward,
    producer: Any,
    listener: AlertListener,
    load: int,
    stored: int,
) -> tuple[dict[str, Any], int]:
    """Send ``load`` msgs/s for ``load_seconds``; time each probe to its alert and its page.

    Returns the figures and the number of ``vitals`` points InfluxDB should now hold.
    """
    config = run.config
    drain = await wait_for_points(
        stack, stored, started=time.time(), timeout_s=max(60.0, 2 * config.load_seconds)
    )
    backlog_left = stored - drain[-1][1]
    count = max(1, int(load * config.load_seconds))
    probe_every = max(2, round(load / config.probes_per_s))
    messages = await asyncio.to_thread(
        ward.live,
        count,
        rate=load,
        start=datetime.now(UTC),
        probe_every=probe_every,
        tag=str(load),
    )
    stored += sum(1 for message in messages if message.kind == "vital_signs")
    first_page = run.pages.count()
    sent_at: dict[str, float] = {}
    futures: list[Any] = []
    cpu = CpuWindow({"worker": worker_pid, "bench": os.getpid()})
    cpu.start()
    started = time.monotonic()
    index = 0
    while index < count:
        due = min(count, int((time.monotonic() - started) * load) + 1)
        while index < due:
            message = messages[index]
            if message.probe:
                sent_at[message.event_id] = time.time()
            futures.append(
                await producer.send(topics.READINGS, value=message.value, key=message.key)
            )
            index += 1
        await asyncio.sleep(0.001)
    await producer.flush()
    offered_s = time.monotonic() - started
    for future in futures:
        future.result()

    def page_arrivals() -> dict[str, float]:
        arrivals: dict[str, float] = {}
        for arrived, body in run.pages.since(first_page):
            reading = _firing_reading(body)
            if reading is not None:
                arrivals.setdefault(reading, arrived)
        return arrivals

    wait_s = max(10.0, config.load_seconds)
    deadline = time.monotonic() + wait_s
    pages = page_arrivals()
    while time.monotonic() < deadline:
        pages = page_arrivals()
        if all(e in listener.arrivals and e in pages for e in sent_at):
            break
        await asyncio.sleep(0.2)
    usage = cpu.stop()
    alert_ms = [
        (listener.arrivals[e][0] - t) * 1000 for e, t in sent_at.items() if e in listener.arrivals
    ]
    record_ms = [
        (listener.arrivals[e][1] - t) * 1000 for e, t in sent_at.items() if e in listener.arrivals
    ]
    page_ms = [(pages[e] - t) * 1000 for e, t in sent_at.items() if e in pages]
    figures = {
        "offered_msgs_per_s": load,
        "achieved_offered_msgs_per_s": round(count / offered_s, 1),
        "seconds": round(offered_s, 2),
        "messages": count,
        "probe_every": probe_every,
        "probes": len(sent_at),
        "backlog_at_start": backlog_left,
        "reading_to_alert_ms": distribution(alert_ms, missing=len(sent_at) - len(alert_ms)),
        "reading_to_alert_record_ms": distribution(
            record_ms, missing=len(sent_at) - len(record_ms)
        ),
        "reading_to_page_ms": distribution(page_ms, missing=len(sent_at) - len(page_ms)),
        "wait_after_s": round(wait_s, 1),
        "cpu": usage,
    }
    return figures, stored


async def latency_phase(
    run: _Run, stack: EmbeddedStack, worker: WorkerProcess, ward: Ward, stored: int
) -> list[dict[str, Any]]:
    """Each offered load in turn, lowest first, on the worker that did the backlog."""
    listener = AlertListener(stack.broker.url)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(stack.broker.url), acks="all", linger_ms=5
    )
    await listener.start()
    await producer.start()
    results = []
    try:
        for load in sorted(run.config.loads):
            run.say(f"offered load {load} msgs/s for {run.config.load_seconds:g} s ...")
            try:
                figures, stored = await offered_load(
                    run, stack, worker.process.pid, ward, producer, listener, load, stored
                )
            except BenchError as error:  # keep what was measured; a stalled worker stays so
                run.say(f"  not measured: {error}")
                results.append({"offered_msgs_per_s": load, "error": str(error)})
                break
            results.append(figures)
            alert, page = figures["reading_to_alert_ms"], figures["reading_to_page_ms"]
            run.say(
                f"  reading->alert p50/p99 {alert['p50']}/{alert['p99']} ms, "
                f"reading->page p50/p99 {page['p50']}/{page['p99']} ms "
                f"({figures['probes']} probes)"
            )
    finally:
        await producer.stop()
        await listener.stop()
    return results


async def memory_phase(run: _Run) -> dict[str, Any]:
    """RSS of a fresh worker before and after it holds state for ``memory_patients``."""
    config = run.config
    stack = EmbeddedStack(config.workdir / "memory-services")
    worker: WorkerProcess | None = None
    try:
        await _prepare(stack, config.partitions)
        worker = (await _start_worker(run, stack, "memory-worker")).worker
        pid = worker.process.pid
        if pid is None:
            raise BenchError("the memory worker has no pid")
        await asyncio.sleep(1)  # let start-up allocations settle before the baseline
        baseline = proc_status(pid)
        ward = Ward(config.memory_patients, seed=config.seed + 1, now=datetime.now(UTC))
        messages = await asyncio.to_thread(ward.state, config.memory_readings_each)
        await produce(stack.broker.url, messages)
        expected = config.memory_patients * config.memory_readings_each
        started = time.time()
        series = await wait_for_points(
            stack,
            expected,
            started=started,
            timeout_s=backlog_wait_s(config),
        )
        await asyncio.sleep(1)  # pages and table writes after the last point
        after = proc_status(pid)
    finally:
        if worker is not None:
            await asyncio.to_thread(worker.stop)
        await asyncio.to_thread(stack.stop)
    rss_mb = after["VmRSS"] / 1024
    base_mb = baseline["VmRSS"] / 1024
    return {
        "patients": config.memory_patients,
        "messages": len(messages),
        "readings_each": config.memory_readings_each,
        "processed": series[-1][1] >= expected,
        "seconds_to_process": round(series[-1][0] - started, 2),
        "rss_mb": round(rss_mb, 1),
        "peak_rss_mb": round(after["VmHWM"] / 1024, 1),
        "baseline_rss_mb": round(base_mb, 1),
        "state_kb_per_patient": round((rss_mb - base_mb) * 1024 / config.memory_patients, 2),
    }


async def run_bench(config: BenchConfig, say: Say) -> dict[str, Any]:
    """Run every phase and return the results (see ``docs/performance.md`` for the fields)."""
    started_at = datetime.now(UTC)
    result: dict[str, Any] = {
        "schema": "detoxmon-bench/1",
        "command": config.command,
        "started_at": started_at.isoformat(),
        "config": {**asdict(config), "workdir": str(config.workdir)},
        "machine": await asyncio.to_thread(machine_info),
    }
    config.workdir.mkdir(parents=True, exist_ok=True)
    stack = EmbeddedStack(config.workdir / "services")
    pages = PageRecorder()
    run = _Run(config=config, say=say, pages=pages)
    kafka = KafkaSettings.model_validate(
        {
            name.removeprefix("DETOXMON_KAFKA__").lower(): value
            for name, value in stack.env().items()
            if name.startswith("DETOXMON_KAFKA__")
        }
    )
    # What each of the worker's hops costs depends on these.
    result["worker_kafka"] = {
        "fetch_max_wait_ms": kafka.fetch_max_wait_ms,
        "producer_linger_ms": kafka.producer_linger_ms,
    }
    worker: WorkerProcess | None = None
    phases: dict[str, float] = {}
    result["phase_seconds"] = phases
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 1)
        mark = now

    try:
        pages.start()
        say(f"starting the broker and InfluxDB in {config.workdir} ...")
        await _prepare(stack, config.partitions)
        ward = Ward(config.patients, seed=config.seed, now=started_at)
        backlog = await asyncio.to_thread(ward.backlog, config.messages)
        workload = summary(backlog)
        say(
            f"preloading {workload['messages']} messages ({workload['observation_sets']} "
            f"observation sets) for {config.patients} patients ..."
        )
        workload["produce_seconds"] = round(await produce(stack.broker.url, backlog), 2)
        result["workload"] = workload
        del backlog
        lap("services_and_preload")

        expected = int(workload["messages"])
        say("raw ceiling: aiokafka getmany + json.loads ...")
        raw = await raw_ceiling(stack.broker.url, expected)
        say(f"  {raw['msgs_per_s']:,.0f} msgs/s")
        lap("raw_ceiling")
        say("framework ceiling: a bare Faust agent in its own process ...")
        framework = await asyncio.to_thread(
            framework_ceiling,
            stack.broker.url,
            expected,
            workdir=config.workdir / "ceiling",
            timeout_s=backlog_wait_s(config),
            session_timeout_s=SESSION_TIMEOUT_S,
        )
        say(f"  {framework['sustained_msgs_per_s']:,.0f} msgs/s sustained")
        lap("framework_ceiling")
        say(f"naive pipeline: one event, one HTTP write at a time, for {config.duration_s:g} s ...")
        cpu = CpuWindow({"bench": os.getpid(), "influxd": stack.influx.process.pid})
        cpu.start()
        naive = await naive_pipeline(
            stack.broker.url, stack.influx.url, expected, time_limit_s=config.duration_s
        )
        naive["cpu"] = cpu.stop()
        say(f"  {naive['msgs_per_s']:,.0f} msgs/s")
        lap("naive_pipeline")
        say("broker hop: one message produced and consumed, at two fetch waits ...")
        hops = [await broker_hop(stack.broker.url, fetch_max_wait_ms=wait) for wait in (1500, 20)]
        say("  " + ", ".join(f"{h['fetch_max_wait_ms']} ms wait: p50 {h['p50']} ms" for h in hops))
        lap("broker_hop")
        result["baselines"] = {
            "raw_ceiling": raw,
            "framework_ceiling": framework,
            "naive_pipeline": naive,
            "broker_hop_ms": hops,
        }

        say("end to end: starting detoxmon worker on the backlog ...")
        started = await _start_worker(run, stack, "worker")
        worker = started.worker
        e2e, profile = await throughput_phase(run, stack, started, workload)
        say(
            f"  {e2e['sustained_msgs_per_s']} msgs/s sustained, "
            f"{e2e['alerts_published']} alerts published"
        )
        result["end_to_end"] = e2e
        result["profile"] = profile
        lap("end_to_end")
        result["latency"] = await latency_phase(
            run, stack, worker, ward, int(workload["observation_sets"])
        )
        await asyncio.to_thread(worker.stop)
        worker = None
        await asyncio.to_thread(stack.stop)
        lap("latency")

        say(f"memory: a fresh worker holding state for {config.memory_patients} patients ...")
        try:
            result["memory"] = await memory_phase(run)
            say(f"  {result['memory']['rss_mb']} MB RSS")
        except BenchError as error:  # keep the other phases' figures
            say(f"  not measured: {error}")
            result["memory"] = {"patients": config.memory_patients, "error": str(error)}
        lap("memory")
    finally:
        if worker is not None:
            await asyncio.to_thread(worker.stop)
        await asyncio.to_thread(stack.stop)
        pages.stop()
    result["finished_at"] = datetime.now(UTC).isoformat()
    result["machine"]["loadavg_at_end"] = loadavg()
    return result
