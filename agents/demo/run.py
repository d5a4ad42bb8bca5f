"""``detoxmon demo``: the whole pipeline on embedded services, with a simulated ward.

Starts the broker and InfluxDB, a worker, a webhook receiver for pages and a watcher of the
output topics; publishes a seeded ward (``streams.ward``) through Kafka and HTTP at the chosen
speed while the board shows each patient; then scores the worker's alerts against the ground
truth and stops everything it started, also on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import sys
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from agents.demo.board import Board, LiveBoard, PlainBoard
from agents.demo.clock import SimClock
from agents.demo.gateway import DemoGateway
from agents.demo.publish import Publisher
from agents.demo.runfiles import write_run_files
from agents.demo.summary import (
    dashboard_lines,
    dead_letter_line,
    detection_lines,
    storage_lines,
)
from agents.demo.watch import PipelineWatcher
from agents.embedded.stack import EmbeddedStack
from agents.embedded.worker import WorkerProcess
from agents.influx.setup import query_v1, setup_storage
from agents.pager.receiver import WebhookReceiver
from agents.settings import InfluxSettings
from schemas import Alert
from streams import topics
from streams.admin import ensure_topics
from streams.producer import GatewayProducer
from streams.ward import Simulation, simulate
from streams.ward.detection import DetectionReport, score, score_by_rule

#: The HTTP gateway publishes for this ward: the simulator's telehealth cohort.
HTTP_WARD = "telehealth"
#: How long the pipeline may take to store the last readings after the last message.
CATCH_UP_S = 90.0
#: The run is over once the output topics have been quiet this long after storage caught up.
QUIET_S = 3.0


@dataclass(frozen=True)
class DemoOptions:
    """What to simulate, how fast, and where to keep data."""

    workdir: Path
    patients: int = 8
    hours: float = 96.0
    speed: float = 3600.0
    seed: int = 31
    telehealth_share: float = 0.25
    report_dir: Path | None = None
    plain_interval_s: float = 10.0


@dataclass
class DemoResult:
    """What a run produced, for the caller and the tests."""

    detection: DetectionReport | None = None
    pages: Counter[str] = field(default_factory=Counter)
    seconds_to_board: float | None = None
    seconds_total: float = 0.0
    report: Path | None = None


def _board(options: DemoOptions) -> Board:
    if sys.stdout.isatty():
        return LiveBoard()
    return PlainBoard(interval_s=options.plain_interval_s)


def _count(influx: InfluxSettings, statement: str) -> int:
    result = query_v1(influx, statement, database=influx.database)
    for item in result.get("results", []):  # type: ignore[attr-defined]
        for series in item.get("series", []):
            return int(series["values"][0][1])
    return 0


def _expected_vitals(simulation: Simulation) -> int:
    """Distinct vital-sign events the pipeline should accept (duplicates once, artefacts not)."""
    ids = {
        json.loads(m.value)["event_id"]
        for m in simulation.messages
        if m.kind == "vital_signs" and m.label in ("valid", "late", "duplicate")
    }
    return len(ids)


class Demo:
    """One run; :meth:`run` is the whole of it."""

    def __init__(self, options: DemoOptions, board: Board) -> None:
        self.options = options
        self.board = board
        self.result = DemoResult()
        self.started = time.monotonic()
        self.stack = EmbeddedStack(options.workdir / "services", keep=True)
        self.secret = secrets.token_hex(16)
        self.receiver = WebhookReceiver(secret=self.secret.encode(), on_page=self._on_page)
        self.worker: WorkerProcess | None = None
        self.watcher: PipelineWatcher | None = None
        self.gateway = DemoGateway.fresh(ward=HTTP_WARD)

    async def _on_page(self, alert: Alert) -> None:
        self.result.pages[alert.state] += 1
        if alert.state != "renotified":  # reminders are counted, not printed: dozens a day
            self.board.page(alert)

    async def run(self) -> DemoResult:
        """Start, publish, score, stop."""
        try:
            await self._start()
            simulation, clock = await self._publish()
            await self._catch_up(simulation, clock)
            self._finish(simulation, clock)
        finally:
            await self._stop()
        return self.result

    async def _start(self) -> None:
        options = self.options
        shutil.rmtree(options.workdir, ignore_errors=True)
        options.workdir.mkdir(parents=True)
        self.board.say("starting the embedded broker and InfluxDB ...")
        await asyncio.to_thread(self.stack.start)
        influx = InfluxSettings(url=self.stack.influx.url)
        await asyncio.to_thread(setup_storage, influx)
        await ensure_topics(self.stack.broker.url, topics.ALL_TOPICS, partitions=4)
        await self.receiver.start()
        env = {
            **self.stack.env(),
            **self.gateway.env(),
            "DETOXMON_PAGER__WEBHOOK_URLS": json.dumps([self.receiver.url]),
            "DETOXMON_PAGER__WEBHOOK_SECRET": self.secret,
            "DETOXMON_KAFKA__SESSION_TIMEOUT_S": "10",
            "DETOXMON_INFLUX__FLUSH_INTERVAL_S": "0.5",
        }
        self.worker = WorkerProcess(options.workdir / "worker", env)
        self.board.say(
            f"broker {self.stack.broker.url}, InfluxDB {self.stack.influx.url}; "
            "starting a worker ..."
        )
        await asyncio.to_thread(self.worker.start)
        self.watcher = PipelineWatcher(self.stack.broker.url)
        await self.watcher.start()

    async def _publish(self) -> tuple[Simulation, SimClock]:
        options, worker, watcher = self.options, self.worker, self.watcher
        assert worker is not None
        assert watcher is not None
        clock = SimClock.ending_now(hours=options.hours, speed=options.speed, now=_now())
        simulation = simulate(
            options.patients,
            hours=options.hours,
            seed=options.seed,
            start=clock.start,
            telehealth_share=options.telehealth_share,
        )
        http_patients = frozenset(
            p.patient_id for p in simulation.patients if p.programme == "telehealth"
        )
        self.board.say(
            f"worker up (log {worker.process.log_path}); simulating {options.patients} patients "
            f"({len(http_patients)} telehealth, over HTTP) for {options.hours:g} h at "
            f"{options.speed:g}x: {clock.real_duration.total_seconds():.0f} s, "
            f"{len(simulation.messages)} messages, {len(simulation.episodes)} episodes"
        )
        async with (
            GatewayProducer(self.stack.broker.url) as producer,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        ):
            publisher = Publisher(
                producer=producer,
                session=session,
                ingest_url=f"{worker.url}/ingest",
                gateway=self.gateway,
                http_patients=http_patients,
                clock=clock,
            )
            await self._with_board(publisher.run(simulation.messages), clock)
        self.board.say(
            f"published {len(simulation.messages)} messages: {publisher.counts.describe()}"
        )
        return simulation, clock

    async def _with_board(self, work: Awaitable[None], clock: SimClock) -> None:
        """Run ``work`` while redrawing the board."""
        assert self.watcher is not None
        task = asyncio.ensure_future(work)
        try:
            while not task.done():
                self._show(clock)
                await asyncio.wait({task}, timeout=0.25)
            await task
        finally:
            task.cancel()

    def _show(self, clock: SimClock, *, force: bool = False) -> None:
        assert self.watcher is not None
        view = self.watcher.watched.view
        if isinstance(self.board, PlainBoard):
            self.board.show(view, clock, _now(), force=force)
        else:
            self.board.show(view, clock, _now())
        if view.rows and self.result.seconds_to_board is None:
            self.result.seconds_to_board = time.monotonic() - self.started

    async def _catch_up(self, simulation: Simulation, clock: SimClock) -> None:
        """Wait until InfluxDB holds every accepted reading, then for the topics to go quiet."""
        assert self.watcher is not None
        influx = InfluxSettings(url=self.stack.influx.url)
        expected = _expected_vitals(simulation)
        deadline = time.monotonic() + CATCH_UP_S
        stored = 0
        while time.monotonic() < deadline:
            stored = await asyncio.to_thread(
                _count, influx, 'SELECT count("heart_rate") FROM "vitals"'
            )
            if stored >= expected:
                break
            self._show(clock)
            await asyncio.sleep(1)
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < QUIET_S and time.monotonic() < deadline:
            if self.watcher.watched.records != seen:
                seen, quiet_since = self.watcher.watched.records, time.monotonic()
            await asyncio.sleep(0.5)
        self.board.say(f"InfluxDB holds {stored} of {expected} accepted vital-sign sets")

    def _finish(self, simulation: Simulation, clock: SimClock) -> None:
        assert self.watcher is not None
        self._show(clock, force=True)
        watched = self.watcher.watched
        alerts = watched.view.alerts()
        days = simulation.patient_days()
        detection = score(simulation.episodes, alerts, patient_days=days)
        self.result.detection = detection
        pages = self.result.pages
        self.board.say(
            f"PAGES {sum(pages.values())} received by the demo's webhook: "
            + ", ".join(f"{n} {state}" for state, n in sorted(pages.items()))
            + f"; {len(alerts)} alert transitions on {topics.ALERTS}"
        )
        self.board.say(dead_letter_line(watched.dead_letters))
        for line in detection_lines(
            detection, score_by_rule(simulation.episodes, alerts, patient_days=days)
        ):
            self.board.say(line)
        files = write_run_files(
            self.options.workdir / "run",
            events=watched.events,
            alerts=alerts,
            episodes=simulation.episodes,
        )
        self.board.say(
            f"RUN FILES {files['events']}, {files['alerts']}, {files['episodes']} "
            "(detoxmon replay EVENTS --episodes EPISODES --report DIR replays them offline)"
        )
        if self.options.report_dir is not None:
            from agents.report import write_report

            self.result.report = write_report(
                self.options.report_dir,
                events=watched.events,
                alerts=alerts,
                episodes=simulation.episodes,
                detection=detection,
                title=(
                    f"detox-monitor demo: {self.options.patients} patients, "
                    f"{self.options.hours:g} h, seed {self.options.seed}"
                ),
                patient_days=days,
            )
            self.board.say(f"REPORT {self.result.report}")

    async def _stop(self) -> None:
        """Stop everything started, in reverse order; blocking, so a Ctrl-C cannot cut it short."""
        if self.watcher is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.watcher.stop())
        with contextlib.suppress(Exception):
            await asyncio.shield(self.receiver.stop())
        if self.worker is not None:
            self.worker.stop()
        influx_url = self.stack.influx.url
        self.stack.stop()
        for line in storage_lines(
            influx_url=influx_url,
            database=InfluxSettings().database,
            data_dir=self.stack.influx.workdir,
            config=self.stack.influx.config_path,
        ):
            self.board.say(line)
        for line in dashboard_lines():
            self.board.say(line)
        self.result.seconds_total = time.monotonic() - self.started
        to_board = self.result.seconds_to_board
        self.board.say(
            "TIMING board after "
            + ("-" if to_board is None else f"{to_board:.0f} s")
            + f", {self.result.seconds_total:.0f} s in all; every process the demo started "
            "has stopped"
        )


def _now() -> datetime:
    return datetime.now(UTC)


async def run_demo(options: DemoOptions, *, board: Board | None = None) -> DemoResult:
    """Run the demo with the board that suits stdout (live in a terminal, plain lines not)."""
    with board or _board(options) as chosen:
        return await Demo(options, chosen).run()
