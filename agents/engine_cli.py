"""``detoxmon replay`` and ``detoxmon rules check|test``: the engine offline, without Kafka.

Exit codes follow ``promtool``: 0 success, 1 a failed check or test (or invalid input),
2 a usage error (click's own).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import click
from faust.cli.base import cli

from agents.engine import RulesFileError, RuleTestFileError, load_rules
from agents.engine.describe import describe_rule
from agents.engine.replay import ReplayInputError, ResultBuilder, read_events, summarise
from agents.engine.ruletest import run_files
from agents.settings import get_settings
from schemas import Alert, AlertAcknowledgement, InboundEvent

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _rules_path(option: Path | None) -> Path:
    return option if option is not None else get_settings().rules_file


@cli.command()
@click.argument("events", type=_FILE)
@click.option("--rules", "rules_file", type=_FILE, help="Rules file (default: the configured one).")
@click.option("--summary", is_flag=True, help="Print alerts per patient-day, not transitions.")
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z"]),
    help="Tick every patient to this event time at the end (default: the last event's).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write a self-contained HTML report of the replay into this directory.",
)
@click.option(
    "--episodes",
    "episodes_path",
    type=_FILE,
    help="Ground-truth episodes (JSON, as the demo writes them) to score detection in the report.",
)
def replay(
    events: Path,
    rules_file: Path | None,
    summary: bool,
    until: datetime | None,
    report_dir: Path | None,
    episodes_path: Path | None,
) -> None:
    """Run recorded EVENTS (JSON lines, inbound contract and alert_ack) through the engine.

    Prints every alert transition as one JSON line, in order; nothing is sent anywhere.
    """
    if episodes_path is not None and report_dir is None:
        raise click.UsageError("--episodes scores detection in the report: add --report DIR")
    try:
        rules = load_rules(_rules_path(rules_file))
    except RulesFileError as exc:
        raise click.ClickException(str(exc)) from None
    builder = ResultBuilder(rules)
    inbound: list[InboundEvent] = []
    started = time.perf_counter()
    try:
        for event in read_events(events):
            if report_dir is not None and not isinstance(event, AlertAcknowledgement):
                inbound.append(event)
            for alert in builder.add(event):
                if not summary:
                    click.echo(alert.model_dump_json())
    except ReplayInputError as exc:
        raise click.ClickException(str(exc)) from None
    for alert in builder.finish(until):
        if not summary:
            click.echo(alert.model_dump_json())
    elapsed = time.perf_counter() - started
    if summary:
        result = builder.result
        days, rows = summarise(result)
        click.echo(
            f"{result.events} events, {len(result.states)} patients, {days:.2f} patient-days, "
            f"{len(result.transitions)} transitions in {elapsed:.2f} s "
            f"({result.events / elapsed if elapsed else 0:.0f} events/s)"
        )
        click.echo(f"{'rule':<36} {'priority':<8} {'alerts':>6} {'per patient-day':>16}")
        for row in rows:
            click.echo(
                f"{row.rule_id:<36} {row.priority:<8} {row.alerts:>6} {row.per_patient_day:>16.2f}"
            )
    if report_dir is not None:
        path = _write_report(
            report_dir, inbound, builder.result.transitions, episodes_path, title=events.name
        )
        click.echo(f"report: {path}", err=True)  # stderr: stdout stays one alert a line


def _write_report(
    directory: Path,
    events: list[InboundEvent],
    alerts: list[Alert],
    episodes_path: Path | None,
    *,
    title: str,
) -> Path:
    """The HTML report of a replay, scored against ground truth when episodes are given."""
    # Imported here: Plotly loads only when a report is asked for.
    from agents.report import read_episodes, write_report
    from agents.report.model import group_by_patient, monitored_patient_days
    from streams.ward.detection import score

    episodes = read_episodes(episodes_path) if episodes_path is not None else None
    days = monitored_patient_days(group_by_patient(events, alerts, episodes or ()))
    detection = score(episodes, alerts, patient_days=days) if episodes is not None else None
    return write_report(
        directory,
        events=events,
        alerts=alerts,
        episodes=episodes,
        detection=detection,
        title=f"detox-monitor replay of {title}",
        patient_days=days,
    )


@cli.group()
def rules() -> None:
    """Check and unit-test alert rules files."""


@rules.command(name="check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
def check_rules(file: Path | None) -> None:
    """Validate FILE (default: the configured rules file) and summarise what it does."""
    path = _rules_path(file)
    try:
        ruleset = load_rules(path)
    except RulesFileError as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Checking {path}")
    for rule in ruleset.rules:
        click.echo(f"  {describe_rule(ruleset, rule)}")
    enabled = sum(rule.enabled for rule in ruleset.rules)
    click.echo(f"SUCCESS: {len(ruleset.rules)} rules found ({enabled} enabled by default)")


@rules.command(name="test")
@click.argument("files", type=_FILE, nargs=-1, required=True)
@click.option("--fail-uncovered", is_flag=True, help="Fail if a rule has no test.")
def test_rules(files: tuple[Path, ...], fail_uncovered: bool) -> None:
    """Run rule unit tests (FILE.test.yaml ...), promtool style."""
    try:
        report = run_files(files)
    except (RuleTestFileError, RulesFileError) as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(1)
    current: Path | None = None
    for outcome in report.outcomes:
        if outcome.file != current:
            current = outcome.file
            click.echo(f"{current}")
        click.echo(f"  {'PASS' if outcome.passed else 'FAIL'} {outcome.name}")
        if outcome.detail:
            click.echo(outcome.detail)
    failed = len(report.failed)
    click.echo(f"{len(report.outcomes) - failed} passed, {failed} failed")
    uncovered_any = False
    for rules_path, uncovered in report.uncovered.items():
        if uncovered:
            uncovered_any = True
            click.echo(f"Rules of {rules_path} no test covers: {', '.join(uncovered)}")
        else:
            click.echo(f"Every rule of {rules_path} is covered.")
    if failed or (fail_uncovered and uncovered_any):
        sys.exit(1)


@rules.command(name="docs")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout."
)
def rules_docs(file: Path | None, output: Path | None) -> None:
    """Render the rules page (docs/rules.md) for FILE (default: the default rules file)."""
    from agents.engine.docs import render_rules_page

    try:
        text = render_rules_page(file)
    except RulesFileError as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(1)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
