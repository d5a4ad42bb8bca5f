"""Sampling the worker's hot path with py-spy while it works through the backlog.

py-spy attaches to the running worker from outside (ptrace), so the worker runs unmodified
and pays only the sampling. ``--nonblocking`` keeps it from pausing the worker for each
sample. The raw (collapsed-stack) output is kept next to the results; the report lists the
frames that use the most CPU on their own (self) and with what they call (inclusive), and the
share of self time per package, which is what says where to cut.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.embedded.process import ManagedProcess

#: Samples per second: enough for stable shares over tens of seconds, cheap for the worker.
RATE = 50
TOP = 15


def py_spy_binary() -> str | None:
    """py-spy from this interpreter's environment, else from PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def unavailable_reason() -> str | None:
    """Why profiling cannot run here, or None if it can."""
    binary = py_spy_binary()
    if binary is None:
        return "py-spy is not installed (pip install py-spy)"
    probe = subprocess.run(  # noqa: S603 - fixed argv
        [binary, "dump", "--pid", str(os.getpid())], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"py-spy cannot attach (ptrace permission?): {probe.stderr.strip()[:200]}"
    return None


class Profiler:
    """py-spy recording one process until :meth:`finish`."""

    def __init__(self, pid: int, workdir: Path) -> None:
        binary = py_spy_binary()
        if binary is None:
            raise RuntimeError("py-spy is not installed")
        self.output = workdir / "profile.txt"
        self.process = ManagedProcess(
            "py-spy",
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(RATE),
                "--format",
                "raw",
                "--function",
                "--nonblocking",
                "--output",
                str(self.output),
            ],
            log_path=workdir / "py-spy.log",
            cwd=workdir,
        )

    def start(self) -> None:
        """Attach and start sampling."""
        self.process.start()

    def finish(self) -> dict[str, Any]:
        """Stop sampling (SIGINT makes py-spy write its output) and summarise the samples."""
        pid = self.process.pid
        if pid is not None and self.process.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 20
            while self.process.running() and time.monotonic() < deadline:
                time.sleep(0.1)
        self.process.stop()
        if not self.output.exists():
            return {
                "available": False,
                "reason": f"py-spy wrote nothing:\n{self.process.log_tail()}",
            }
        return {"available": True, **summarise(self.output.read_text()), "raw": str(self.output)}


def _package(frame: str) -> str:
    """The top-level module a frame's code belongs to (py-spy shortens paths to it)."""
    path = frame.partition(" (")[2].rstrip(")").rsplit(":", 1)[0]
    if path.startswith("/"):  # not under a sys.path entry py-spy could strip
        path = path.split("site-packages/", 1)[-1]
    return path.split("/", 1)[0].removesuffix(".py") or "other"


#: Packages whose frames wrap everything (entry point, event loop, threads, service tree):
#: their inclusive share says nothing about where to cut, so it is left out of that list.
WRAPPERS = frozenset(
    {"<frozen runpy>", "runpy", "click", "threading", "asyncio", "selectors", "mode", "concurrent"}
)
#: Frames of Faust's command line, which also wrap the whole worker.
WRAPPER_FRAMES = ("faust/cli/", "App.main (faust/app/base.py")
#: The project's own packages: their inclusive shares are the cost of each agent and helper.
PROJECT = frozenset({"agents", "schemas", "streams"})


def _library_frame(frame: str) -> bool:
    """Whether a frame is third-party code that does work rather than wrap it."""
    if _package(frame) in PROJECT | WRAPPERS:
        return False
    return not any(marker in frame for marker in WRAPPER_FRAMES)


def summarise(raw: str, top: int = TOP) -> dict[str, Any]:
    """Self samples per package and per frame, and inclusive samples of the frames that matter."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] += count
        packages[_package(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count

    def rows(counter: Counter[str], keep: Callable[[str], bool] = lambda _: True) -> list[Any]:
        chosen = [(label, n) for label, n in counter.most_common() if keep(label)][:top]
        return [{"frame": label, "samples": n, "share": round(n / total, 4)} for label, n in chosen]

    return {
        "tool": "py-spy",
        "rate_hz": RATE,
        "samples": total,
        "self_by_package": [
            {"package": name, "samples": n, "share": round(n / total, 4)}
            for name, n in packages.most_common(top)
        ],
        "top_self": rows(self_counts),
        "top_inclusive_project": rows(
            inclusive, lambda f: _package(f) in PROJECT and "agents/cli.py" not in f
        ),
        "top_inclusive_libraries": rows(inclusive, _library_frame),
    }
