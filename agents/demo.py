"""``detoxmon demo``: the whole pipeline on embedded services, with a simulated ward.

Starts the broker and InfluxDB, a worker, a webhook receiver that prints pages, and the
simulator; ends after a bounded time or on Ctrl-C and stops everything it started.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.embedded.stack import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from agents.influx.setup import query_v1, setup_storage
from agents.pager.receiver import WebhookReceiver
from agents.settings import InfluxSettings
from schemas import Alert
from streams import topics
from streams.admin import ensure_topics
from streams.producer import GatewayProducer
from streams.simulator import make_patients, observations

#: Simulated time between observation sets.
STEP = timedelta(minutes=15)
#: One in this many messages is sent malformed, to show the dead-letter path.
MALFORMED_EVERY = 97


#: Terminal colours per transition: red to act on, yellow reminders, cyan taken, green over.
_STATE_COLOURS = {
    "firing": "\033[31m",
    "escalated": "\033[31;1m",
    "renotified": "\033[33m",
    "acknowledged": "\033[36m",
    "resolved": "\033[32m",
}


def _say(text: str) -> None:
    print(text, flush=True)


async def _print_page(alert: Alert) -> None:
    colour = _STATE_COLOURS.get(alert.state, "")
    _say(
        f"{colour}PAGE {alert.state.upper():8}\033[0m {alert.at:%a %H:%M} {alert.patient_id} "
        f"{alert.summary} ({alert.evidence.value or 0:g} {alert.evidence.unit or ''}, "
        f"priority {alert.priority}, rule {alert.rule_id})"
    )


def _count(influx: InfluxSettings, statement: str) -> int:
    result = query_v1(influx, statement, database=influx.database)
    for item in result.get("results", []):  # type: ignore[attr-defined]
        for series in item.get("series", []):
            return int(series["values"][0][1])
    return 0


async def _wait_for_storage(influx: InfluxSettings, sent: int, *, timeout_s: float) -> None:
    """Let the worker catch up: wait until InfluxDB holds every reading sent, or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stored = await asyncio.to_thread(_count, influx, 'SELECT count("heart_rate") FROM "vitals"')
        if stored >= sent:
            break
        await asyncio.sleep(1)
    await asyncio.sleep(2)  # the last pages


async def run_demo(
    *, patients: int, minutes: float, step_seconds: float, seed: int, workdir: Path
) -> int:
    """Run the demo; return the number of pages received."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    stack = EmbeddedStack(workdir / "services", keep=True)
    secret = secrets.token_hex(16)
    pages: list[Alert] = []

    async def on_page(alert: Alert) -> None:
        pages.append(alert)
        await _print_page(alert)

    receiver = WebhookReceiver(secret=secret.encode(), on_page=on_page)
    worker: WorkerProcess | None = None
    sent = malformed = 0
    try:
        await asyncio.to_thread(stack.start)
        influx = InfluxSettings(url=stack.influx.url)
        await asyncio.to_thread(setup_storage, influx)
        await ensure_topics(stack.broker.url, topics.ALL_TOPICS, partitions=4)
        await receiver.start()
        env = {
            **stack.env(),
            "DETOXMON_PAGER__WEBHOOK_URLS": json.dumps([receiver.url]),
            "DETOXMON_PAGER__WEBHOOK_SECRET": secret,
            "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "10",
        }
        worker = WorkerProcess(workdir / "worker", env)
        _say(f"broker {stack.broker.url}, InfluxDB {stack.influx.url}; starting a worker ...")
        await asyncio.to_thread(worker.start)
        _say(
            f"worker up (log: {worker.process.log_path}); simulating {patients} patients, "
            f"{STEP.seconds // 60} simulated minutes every {step_seconds:g} s, for {minutes:g} min"
        )
        ward = make_patients(patients, seed=seed)
        deadline = time.monotonic() + minutes * 60
        steps = max(1, int(minutes * 60 / step_seconds))
        # Accelerated time that ends now: readings are never from the future (the pipeline
        # refuses those), and are marked late, as the replayed history they are.
        start = datetime.now(UTC).replace(second=0, microsecond=0) - STEP * steps
        async with GatewayProducer(stack.broker.url) as producer:
            for index, observation in enumerate(
                observations(ward, start=start, interval=STEP, steps=steps, seed=seed)
            ):
                if time.monotonic() >= deadline:
                    break
                if index % patients == 0 and index:
                    await asyncio.sleep(step_seconds)
                if index % MALFORMED_EVERY == MALFORMED_EVERY - 1:
                    await producer.send_raw(observation.patient_id.encode(), b'{"heart_rate": 130')
                    malformed += 1
                await producer.send_observation(observation)
                sent += 1
        await _wait_for_storage(InfluxSettings(url=stack.influx.url), sent, timeout_s=60)
    finally:
        await receiver.stop()
        if worker is not None:
            await asyncio.to_thread(worker.stop)
        if stack.influx.process.running():
            influx = InfluxSettings(url=stack.influx.url)
            stored = _count(influx, 'SELECT count("heart_rate") FROM "vitals"')
            alerts = _count(influx, 'SELECT count("alert_id") FROM "alerts"')
            _say(
                f"\nsent {sent} readings and {malformed} malformed messages (dead-lettered); "
                f"InfluxDB holds {stored} readings and {alerts} alert transitions; "
                f"{len(pages)} pages received"
            )
        await asyncio.to_thread(stack.stop)
        _say(
            f"InfluxDB data kept in {stack.influx.workdir} (database 'detoxmon'); "
            f"worker log {workdir / 'worker' / 'worker.log'}; "
            "Grafana dashboards and provisioning in deploy/grafana/"
        )
    return len(pages)
