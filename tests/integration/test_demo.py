"""`detoxmon demo` end to end: services up, pages printed, data stored, everything stopped."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_demo_pages_within_a_minute_stores_readings_and_stops_everything(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents.cli",
            "demo",
            "--minutes",
            "0.5",
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    pages = [line for line in result.stdout.splitlines() if "PAGE" in line]
    assert pages, result.stdout[-3000:]
    assert any("FIRING" in line for line in pages)
    summary = re.search(
        r"sent (\d+) readings and (\d+) malformed .* InfluxDB holds (\d+) readings", result.stdout
    )
    assert summary is not None, result.stdout[-2000:]
    sent, malformed, stored = (int(group) for group in summary.groups())
    assert malformed > 0
    assert stored == sent  # every reading the simulator sent is in InfluxDB
    assert elapsed < 200
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "demo")], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == "", "the demo left processes running"
