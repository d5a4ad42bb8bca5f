"""The project's own subcommands of ``detoxmon``."""

from __future__ import annotations

from pathlib import Path

import click
from faust.cli import option
from faust.cli.base import cli

from agents.app import app, settings
from agents.demo import run_demo
from agents.influx.setup import setup_storage


@app.command(
    option("--patients", default=6, show_default=True, help="Simulated patients."),
    option("--minutes", default=2.0, show_default=True, help="Stop after this long."),
    option(
        "--step-seconds",
        default=0.5,
        show_default=True,
        help="Real seconds per 15 simulated minutes.",
    ),
    option("--seed", default=7, show_default=True, help="Simulator seed."),
    option("--workdir", default=".demo", show_default=True, help="Where data and logs go."),
)
async def demo(
    self: object, patients: int, minutes: float, step_seconds: float, seed: int, workdir: str
) -> None:
    """Run the pipeline on embedded services with a simulated ward, printing pages."""
    await run_demo(
        patients=patients,
        minutes=minutes,
        step_seconds=step_seconds,
        seed=seed,
        workdir=Path(workdir).resolve(),
    )


@cli.group()
def influx() -> None:
    """InfluxDB administration."""


@influx.command()
def setup() -> None:
    """Create the database (v1) or bucket (v2), idempotently."""
    click.echo(f"ensured {setup_storage(settings.influx)}")


@cli.group()
def grafana() -> None:
    """Grafana dashboards and provisioning, generated from code."""


@grafana.command(name="export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_command(directory: Path) -> None:
    """Write Grafana's file-provisioning tree into DIRECTORY (e.g. deploy/grafana)."""
    # Imported here so a worker never loads the Grafana SDK.
    from dashboards.export import export_tree

    for path in export_tree(directory):
        click.echo(path)


@cli.group()
def schemas() -> None:
    """The event contract's JSON Schema files."""


@schemas.command(name="export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
def export_schemas(directory: Path | None) -> None:
    """Write the JSON Schema of every message into DIRECTORY (default schemas/jsonschema)."""
    from schemas.jsonschema import SCHEMA_DIR, write

    for path in write(directory or SCHEMA_DIR):
        click.echo(path)
