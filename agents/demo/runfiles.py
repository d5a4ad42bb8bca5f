"""The run's files, so it can be replayed, reported and scored again without the services.

``events.jsonl`` (what the pipeline accepted, in arrival order), ``alerts.jsonl`` (every
transition the worker published) and ``episodes.json`` (the ground truth) are what
``detoxmon replay EVENTS --episodes EPISODES --report DIR`` and ``detoxmon report`` read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from agents.report.episodes import write_episodes
from schemas import Alert, InboundEvent
from streams.ward import Episode


def _arrival(event: InboundEvent) -> tuple[datetime, datetime]:
    return (event.received_at or event.observed_at, event.observed_at)


def write_run_files(
    directory: Path,
    *,
    events: Sequence[InboundEvent],
    alerts: Sequence[Alert],
    episodes: Sequence[Episode],
) -> dict[str, Path]:
    """Write the three files into ``directory`` and return their paths by name."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "events": directory / "events.jsonl",
        "alerts": directory / "alerts.jsonl",
        "episodes": directory / "episodes.json",
    }
    unique = {event.event_id: event for event in events}
    with paths["events"].open("w", encoding="utf-8") as out:
        for event in sorted(unique.values(), key=_arrival):
            out.write(event.model_dump_json() + "\n")
    with paths["alerts"].open("w", encoding="utf-8") as out:
        for alert in alerts:
            out.write(alert.model_dump_json() + "\n")
    write_episodes(paths["episodes"], episodes)
    return paths
