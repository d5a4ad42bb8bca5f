"""``detoxmon report EVENTS.jsonl ALERTS.jsonl DIR``: the HTML report from a run's files.

The command registers on Faust's click group when ``agents.cli`` imports this module; the
page builder and Plotly load only when the command runs, so a worker never imports them.
"""

from __future__ import annotations

from pathlib import Path

import click
from faust.cli.base import cli

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _warn_skipped(path: Path, lines: list[int], what: str) -> None:
    if lines:
        shown = ", ".join(str(n) for n in lines[:10]) + (" ..." if len(lines) > 10 else "")
        click.echo(f"{path}: skipped {len(lines)} lines that are not {what} ({shown})", err=True)


@cli.command(name="report")
@click.argument("events_path", metavar="EVENTS.jsonl", type=_FILE)
@click.argument("alerts_path", metavar="ALERTS.jsonl", type=_FILE)
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--episodes",
    "episodes_path",
    type=_FILE,
    help="Ground-truth episodes (JSON from agents.report.write_episodes), to score detection.",
)
@click.option("--title", default="detox-monitor run report", show_default=True)
def report_command(
    events_path: Path,
    alerts_path: Path,
    directory: Path,
    episodes_path: Path | None,
    title: str,
) -> None:
    """Write DIR/index.html: per-patient charts, detection and alert burden, viewable offline."""
    from agents.report.episodes import read_episodes
    from agents.report.files import read_alerts, read_events
    from agents.report.model import group_by_patient, monitored_patient_days
    from agents.report.page import write_report
    from streams.ward.detection import score

    events = read_events(events_path)
    alerts = read_alerts(alerts_path)
    _warn_skipped(events_path, events.skipped_lines, "inbound events")
    _warn_skipped(alerts_path, alerts.skipped_lines, "alerts")
    unique_alerts = list({a.transition_id: a for a in alerts.records}.values())
    episodes = read_episodes(episodes_path) if episodes_path is not None else None
    days = monitored_patient_days(group_by_patient(events.records, unique_alerts, episodes or ()))
    detection = score(episodes, unique_alerts, patient_days=days) if episodes is not None else None
    path = write_report(
        directory,
        events=events.records,
        alerts=unique_alerts,
        episodes=episodes,
        detection=detection,
        title=title,
        patient_days=days,
    )
    click.echo(path)
