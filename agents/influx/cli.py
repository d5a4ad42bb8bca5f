"""``detoxmon influx ...``: InfluxDB administration from the command line."""

from __future__ import annotations

import sys

import click
from faust.cli.base import cli

from agents.app import settings
from agents.influx.setup import ensure_storage


@cli.group()
def influx() -> None:
    """InfluxDB administration."""


@influx.command()
def setup() -> None:
    """Create or align the database (v1) or buckets (v2), retention and rollups, idempotently.

    Prints what it changed, or that everything was already as configured. Exits 1 with
    InfluxDB's reason when it refuses a statement or cannot be reached.
    """
    try:
        report = ensure_storage(settings.influx)
    except (RuntimeError, OSError) as error:  # refused statement, HTTP error, unreachable
        click.echo(f"influx setup failed: {error}", err=True)
        sys.exit(1)
    click.echo(str(report))
