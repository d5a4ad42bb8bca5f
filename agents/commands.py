"""The project's own subcommands of ``detoxmon``."""

from __future__ import annotations

from pathlib import Path

import click
from faust.cli import option
from faust.cli.base import cli

from agents.app import app


@app.command(
    option("--patients", default=8, show_default=True, help="Simulated patients."),
    option("--hours", default=96.0, show_default=True, help="Simulated hours."),
    option(
        "--speed",
        default=3600.0,
        show_default=True,
        help="Simulated seconds per real second (1: real time; 3600: an hour a second).",
    ),
    option(
        "--seed",
        default=31,
        show_default=True,
        help="Simulator seed: the same seed gives the same ward (31 shows every episode kind).",
    ),
    option(
        "--telehealth-share",
        default=0.25,
        show_default=True,
        help="Share of patients in the telehealth cohort (published over HTTP /ingest).",
    ),
    # Not --workdir: Faust's own root option of that name is read from anywhere on the line.
    option("--data-dir", default=".demo", show_default=True, help="Where data and logs go."),
    option(
        "--report",
        "report_dir",
        default=None,
        help="Also write a self-contained HTML report of the run into this directory.",
    ),
)
async def demo(
    self: object,
    patients: int,
    hours: float,
    speed: float,
    seed: int,
    telehealth_share: float,
    data_dir: str,
    report_dir: str | None,
) -> None:
    """Run the pipeline on embedded services with a simulated ward and a live ward board."""
    # Imported here so a worker never loads rich, the simulator or the report.
    from agents.demo import DemoOptions, run_demo

    if speed < 1:
        raise click.BadParameter("must be at least 1", param_hint="--speed")
    await run_demo(
        DemoOptions(
            workdir=Path(data_dir).resolve(),
            patients=patients,
            hours=hours,
            speed=speed,
            seed=seed,
            telehealth_share=telehealth_share,
            report_dir=Path(report_dir).resolve() if report_dir else None,
        )
    )


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


@grafana.command(name="provision")
@click.option("--url", required=True, envvar="DETOXMON_GRAFANA_URL", help="Grafana's base URL.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="File holding the API token (default: $DETOXMON_GRAFANA_TOKEN).",
)
@click.option(
    "--influx-api-version",
    type=click.Choice(["1", "2"]),
    default="1",
    show_default=True,
    envvar="DETOXMON_INFLUX__API_VERSION",
    help="Which InfluxDB datasource the rules query and the dashboards default to.",
)
@click.option(
    "--allow-ui-edits",
    is_flag=True,
    help="Send X-Disable-Provenance so alerting resources stay editable in Grafana's UI.",
)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per request.")
def provision_command(
    url: str,
    token_file: Path | None,
    influx_api_version: str,
    allow_ui_edits: bool,
    timeout: float,
) -> None:
    """Upsert folder, datasources, dashboards and alerting through Grafana's HTTP API."""
    from dashboards.common import DATASOURCE_BY_API_VERSION
    from dashboards.provision import ProvisionError, provision, summary

    try:
        actions = provision(
            url,
            token_file=token_file,
            datasource_uid=DATASOURCE_BY_API_VERSION[int(influx_api_version)],
            disable_provenance=allow_ui_edits,
            timeout_s=timeout,
        )
    except ProvisionError as exc:
        raise click.ClickException(str(exc)) from None
    for action in actions:
        click.echo(action)
    click.echo(summary(actions))


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
