"""``detoxmon routing check``: validate a routing file and show who a page would reach.

Exit status 0 when the file is valid, 1 when it is not (every problem on stderr, located by
file, line, column and path), 2 for a usage error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from faust.cli.base import cli

from agents.app import settings
from agents.pager.errors import RoutingError
from agents.pager.report import route_report, summary
from agents.pager.routing import PRIORITIES, LoadedRouting, load_routing
from agents.pager.secrets import resolve_receiver_secrets
from schemas.alerts import Priority


def _moment(text: str | None, routing: LoadedRouting, ward: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--at") from exc
    if moment.tzinfo is None:
        team = routing.config.teams[routing.config.team_for(ward)]
        moment = moment.replace(tzinfo=team.zone)
    return moment


@cli.group(name="routing")
def routing_group() -> None:
    """Routing and on-call rota (deploy/routing.yaml)."""


@routing_group.command(name="check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ward", help="Show the route of an alert from this ward.")
@click.option("--priority", type=click.Choice(PRIORITIES), help="Alert priority (default high).")
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="ISO 8601 time (default now); without an offset, the team's local time.",
)
@click.option(
    "--secrets/--no-secrets",
    "read_secrets",
    default=False,
    help="Also read every secret the file names, as the worker does at start.",
)
def check(
    file: Path | None,
    ward: str | None,
    priority: Priority | None,
    at_text: str | None,
    read_secrets: bool,
) -> None:
    """Validate FILE (default DETOXMON_PAGER__ROUTING_FILE); with --ward, --priority or --at,
    print who would be paged, on which channels and in what escalation order."""
    path = file or settings.pager.routing_file
    if path is None:
        raise click.UsageError("give FILE or set DETOXMON_PAGER__ROUTING_FILE")
    try:
        routing = load_routing(path)
        if read_secrets:
            resolve_receiver_secrets(routing)
    except RoutingError as exc:
        count = len(exc.problems)
        click.echo(f"{exc.file}: FAILED ({count} problem{'s' if count != 1 else ''})", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem.render(exc.file)}", err=True)
        raise SystemExit(1) from exc
    click.echo(summary(routing))
    if ward is None and priority is None and at_text is None:
        return
    at = _moment(at_text, routing, ward)
    for line in route_report(routing, ward=ward, priority=priority or "high", at=at):
        click.echo(line)
