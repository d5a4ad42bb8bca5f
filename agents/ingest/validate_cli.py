"""``detoxmon validate``: a gateway engineer's offline check of messages against the contract.

Each file goes through the same converter and arrival check as the ingest paths, so what it
prints is what the pipeline would take: one JSON line per event on stdout, one line per
rejection on stderr (file, location, reason, detail), and a summary. Exit 0 when everything
was accepted, 1 when anything was rejected, 2 for usage errors such as an unreadable file.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from faust.cli.base import cli

from agents.contract import ContractError, accept
from agents.ingest.formats import Conversion, Format, Rejection, convert
from agents.settings import get_settings

FORMATS: tuple[Format, ...] = ("json", "fhir", "hl7v2")


@cli.command(name="validate")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="Message format: native JSON event, FHIR R4 JSON, or HL7 v2 ORU^R01.",
)
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
)
def validate_command(fmt: Format, files: tuple[Path, ...]) -> None:
    """Convert and validate each FILE; print accepted events as JSON lines.

    An HL7 v2 file may hold several messages, separated by blank lines or MLLP frames.
    """
    ingest = get_settings().ingest
    future_tolerance = timedelta(seconds=ingest.future_tolerance_s)
    late_after = timedelta(seconds=ingest.late_after_s)
    accepted = rejected = 0
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise click.UsageError(f"cannot read {path}: {error.strerror}") from None
        for prefix, conversion in _conversions(fmt, raw):
            for event in conversion.events:
                try:
                    stamped = accept(
                        event,
                        received_at=datetime.now(UTC),
                        future_tolerance=future_tolerance,
                        late_after=late_after,
                    )
                except ContractError as error:
                    _report(path, prefix, Rejection.of(error, f"event {event.event_id}"))
                    rejected += 1
                    continue
                click.echo(stamped.model_dump_json())
                accepted += 1
            for rejection in conversion.rejections:
                _report(path, prefix, rejection)
                rejected += 1
    click.echo(
        f"{accepted} event(s) accepted, {rejected} rejection(s) in {len(files)} file(s)", err=True
    )
    sys.exit(1 if rejected else 0)


def _conversions(fmt: Format, raw: bytes) -> list[tuple[str, Conversion]]:
    """Each message in a file with a location prefix (only when a file holds several)."""
    if fmt != "hl7v2":
        return [("", convert(fmt, raw))]
    from agents.ingest.hl7v2 import split_messages

    messages = split_messages(raw) or [raw]
    if len(messages) == 1:
        return [("", convert(fmt, messages[0]))]
    return [(f"message[{n}] ", convert(fmt, m)) for n, m in enumerate(messages, start=1)]


def _report(path: Path, prefix: str, rejection: Rejection) -> None:
    location = f"{prefix}{rejection.location or '(message)'}"
    click.echo(f"{path}: {location}: {rejection.reason}: {rejection.detail}", err=True)
