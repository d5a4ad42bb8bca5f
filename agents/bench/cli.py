"""``detoxmon bench``: the benchmark as a subcommand of Faust's CLI.

``--smoke`` is a profile small enough for the test suite (about a minute), so the benchmark
runs on every ``make test`` and cannot rot; its figures mean nothing. The benchmark's modules
are imported only when the command runs, so a worker (same entry point) does not load them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from faust.cli.base import cli

#: (full run, --smoke) defaults of the options left unset.
DEFAULTS: dict[str, tuple[Any, Any]] = {
    "duration": (30.0, 5.0),
    "patients": (2000, 200),
    "messages": (None, 2000),
    "memory_patients": (10_000, 500),
    "loads": ("100,500,1000,5000", "20,50,100"),
    "load_seconds": (None, 2.0),
    "hop_samples": (30, 10),
}


def _loads(text: str) -> tuple[int, ...]:
    try:
        loads = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise click.BadParameter(f"not a comma-separated list of integers: {text!r}") from exc
    if not loads or min(loads) < 1:
        raise click.BadParameter("give at least one positive rate")
    return loads


@cli.command(name="bench")
@click.option("--duration", type=float, help="Seconds per timed phase (naive run, each load).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("bench-results.json"),
    show_default=True,
    help="Where the figures go (JSON); the raw profile goes beside it.",
)
@click.option("--patients", type=int, help="Enrolled patients in the backlog  [default: 2000].")
@click.option(
    "--messages", type=int, help="Messages preloaded  [default: 2000 per second of --duration]."
)
@click.option(
    "--memory-patients", type=int, help="Patients whose state the memory phase holds [10000]."
)
@click.option("--loads", help="Offered loads in msgs/s, comma-separated [100,500,1000,5000].")
@click.option("--load-seconds", type=float, help="Seconds per offered load [--duration].")
@click.option("--seed", type=int, default=7, show_default=True, help="Workload seed.")
@click.option("--smoke", is_flag=True, help="A small, quick profile for the test suite.")
@click.option("--profile/--no-profile", default=True, help="Sample the worker with py-spy.")
@click.option(
    "--keep-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep services' and workers' data and logs here (default: a temporary directory).",
)
def bench(
    duration: float | None,
    out: Path,
    patients: int | None,
    messages: int | None,
    memory_patients: int | None,
    loads: str | None,
    load_seconds: float | None,
    seed: int,
    smoke: bool,
    profile: bool,
    keep_dir: Path | None,
) -> None:
    """Measure throughput, latency and memory of the pipeline against its ceilings."""
    from agents.bench.report import ratios, render, targets
    from agents.bench.runner import BenchConfig, BenchError, run_bench
    from agents.embedded.process import ServiceStartError

    pick = 1 if smoke else 0

    def default(name: str, given: Any) -> Any:
        return given if given is not None else DEFAULTS[name][pick]

    seconds = float(default("duration", duration))
    count = int(default("patients", patients))
    backlog = default("messages", messages) or max(count + 1000, int(2000 * seconds))
    if backlog < count:
        raise click.BadParameter(f"--messages must be at least --patients ({count})")
    if keep_dir is not None and keep_dir.exists() and any(keep_dir.iterdir()):
        raise click.BadParameter(
            f"{keep_dir} is not empty: old data would count", param_hint="--keep-dir"
        )
    root = keep_dir.resolve() if keep_dir is not None else Path(tempfile.mkdtemp(prefix="dxbench-"))
    config = BenchConfig(
        workdir=root,
        duration_s=seconds,
        patients=count,
        messages=backlog,
        memory_patients=int(default("memory_patients", memory_patients)),
        loads=_loads(str(default("loads", loads))),
        load_seconds=float(default("load_seconds", load_seconds) or seconds),
        seed=seed,
        profile=profile,
        hop_samples=int(DEFAULTS["hop_samples"][pick]),
        command=" ".join(["detoxmon", *sys.argv[1:]]),
    )

    def say(text: str) -> None:
        click.echo(text, err=True)

    try:
        result = asyncio.run(run_bench(config, say))
    except (BenchError, ServiceStartError) as error:
        raise click.ClickException(f"{error}\n(logs kept in {root})") from error
    result["ratios"] = ratios(result)
    result["targets"] = targets(result)
    raw_profile = result["profile"].get("raw")
    if raw_profile:
        kept = out.with_suffix(".profile.txt")
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(raw_profile, kept)
        result["profile"]["raw"] = str(kept)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if keep_dir is None:
        shutil.rmtree(root, ignore_errors=True)
    click.echo(render(result))
    click.echo(f"\nresults written to {out}")
