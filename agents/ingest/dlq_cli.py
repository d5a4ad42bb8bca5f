"""``detoxmon dlq list`` and ``detoxmon dlq replay``: the dead-letter topic for operators.

``list`` prints counts only (by reason, path and gateway, and the total): patient ids, keys,
message bytes and details stay on the topic. ``replay`` resubmits dead-lettered messages to the
inbound topic as they first came (bytes, key, content type, gateway), each naming the letter it
replays; the worker judges them again, so each ends on the observations topic or back on the
dead-letter topic with a ``detoxmon-replay-of`` reference. Replaying is safe to repeat: event
ids make the pipeline's sinks and pager idempotent. Only messages meant for the inbound topic
(paths ``http:/ingest``, ``mllp``, ``kafka:detoxmon.readings.v1``) are replayed here.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

import click
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from faust.cli.base import cli

from agents.app import settings
from agents.ingest.dlq import (
    NO_GATEWAY,
    read_dead_letters,
    replay,
    select_for_replay,
    summarise,
)
from streams import topics


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a time-zone offset, e.g. 2026-11-20T08:00:00+00:00")
    return moment


@cli.group()
def dlq() -> None:
    """The dead-letter topic: counts, and replays after a fix."""


@dlq.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json: bool) -> None:
    """Count dead letters by reason, path and gateway (no patient data)."""
    try:
        summary = summarise(asyncio.run(read_dead_letters(settings.kafka)))
    except (TimeoutError, OSError, KafkaError) as error:
        click.echo(f"dlq list failed: {error}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(summary.as_json(), indent=2))
        return
    click.echo(f"{topics.DEAD_LETTER}: {summary.total} dead letters")
    if summary.unreadable:
        click.echo(f"  {summary.unreadable} unreadable records (not dead letters)")
    if summary.groups:
        rows = [("count", "reason", "path", "gateway")] + [
            (str(n), r, p, g) for r, p, g, n in summary.groups
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [row[0].rjust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2])]
            click.echo("  " + "  ".join([*cells, row[3]]))
    click.echo(f"total {summary.total}")


@dlq.command(name="replay")
@click.option("--reason", help="Only letters with this reason, e.g. future_time.")
@click.option("--path", help="Only letters that came this way, e.g. http:/ingest or mllp.")
@click.option("--since", callback=_since, help="Only letters received at or after this time.")
def replay_command(reason: str | None, path: str | None, since: datetime | None) -> None:
    """Resubmit dead-lettered messages to the inbound topic, as first sent."""

    async def run() -> int:
        dead_letters = await read_dead_letters(settings.kafka)
        chosen = select_for_replay(dead_letters.letters, reason=reason, path=path, since=since)
        await replay(settings.kafka, chosen)
        for stored in chosen:
            letter = stored.letter
            click.echo(
                f"resubmitted {stored.ref} reason={letter.reason} path={letter.path} "
                f"gateway={stored.gateway or NO_GATEWAY} "
                f"content_type={letter.content_type or 'application/json'}"
            )
        return len(chosen)

    try:
        count = asyncio.run(run())
    except (TimeoutError, OSError, KafkaError) as error:
        click.echo(f"dlq replay failed: {error}", err=True)
        sys.exit(1)
    click.echo(f"resubmitted {count} messages to {topics.READINGS}")
