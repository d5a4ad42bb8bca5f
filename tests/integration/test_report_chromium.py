"""The report renders in a real browser with no network: Debian's Chromium, headless.

Chromium runs with the flags that keep it off the network (no background requests, no
component updates) and a fresh profile, loads ``index.html`` from disk and is given virtual
time for plotly.js to draw. The DOM must then hold Plotly's SVG for every patient, and a
screenshot must show the page, not a blank window. The PNG is decoded with ``zlib`` and
``struct`` so the test needs no imaging library.
"""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.report import write_report
from agents.report.model import group_by_patient, monitored_patient_days
from streams.ward import simulate
from streams.ward.detection import score
from streams.ward.messages import parse_sent
from tests.unit.test_report import engine_alerts, hostile_alert

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
START = datetime(2026, 11, 20, tzinfo=UTC)
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's browser with `apt-get install chromium` "
            "(`make test` installs it)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A report of three simulated patients (seed 26: alerts, episodes, a lost enrolment)."""
    simulation = simulate(3, hours=72, seed=26, start=START)
    events = [e for m in simulation.messages if (e := parse_sent(m)) is not None]
    alerts = engine_alerts(events)
    alerts.append(hostile_alert(simulation.patients[0].patient_id, START + timedelta(hours=30)))
    days = monitored_patient_days(group_by_patient(events, alerts, simulation.episodes))
    path = write_report(
        tmp_path_factory.mktemp("report"),
        events=events,
        alerts=alerts,
        episodes=simulation.episodes,
        detection=score(simulation.episodes, alerts, patient_days=days),
        title="Simulated ward, seed 26",
    )
    return path, len(simulation.patients)


def run_chromium(chromium: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(chromium), *OFFLINE_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=60,
        check=True,
    )


def test_chromium_draws_plotlys_svg_for_every_patient(
    chromium: Path, report: tuple[Path, int], tmp_path: Path
) -> None:
    path, patients = report
    dom = run_chromium(chromium, tmp_path / "profile", "--dump-dom", path.as_uri()).stdout.decode()
    starts = [m.start() for m in re.finditer(r'<div id="plot-\d+"', dom)]
    assert len(starts) == patients
    plots = [dom[a:b] for a, b in zip(starts, [*starts[1:], len(dom)], strict=True)]
    for index, plot in enumerate(plots):
        assert 'class="main-svg"' in plot, f"plot {index} has no SVG: plotly.js did not draw"
        rows = set(re.findall(r'<g class="subplot (xy\d*)"', plot))
        assert rows == {"xy", *(f"xy{n}" for n in range(2, 9))}, f"plot {index} lacks rows"
        assert 'class="point"' in plot, f"plot {index} has no data points"
    peak_labels = sum('data-unformatted="expected peak window' in plot for plot in plots)
    assert peak_labels == patients - 1, "every enrolled patient's peak window is drawn"


def _png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """Width, height, channels and raw rows of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    channels = {2: 3, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        out += line
        previous = line
    return width, height, channels, bytes(out)


def test_a_screenshot_of_the_report_is_not_blank(
    chromium: Path, report: tuple[Path, int], tmp_path: Path
) -> None:
    path, _ = report
    shot = tmp_path / "report.png"
    run_chromium(
        chromium,
        tmp_path / "profile",
        "--window-size=1200,3000",
        "--force-device-scale-factor=0.5",
        f"--screenshot={shot}",
        path.as_uri(),
    )
    width, height, channels, pixels = _png_pixels(shot.read_bytes())
    colours = [tuple(pixels[i : i + 3]) for i in range(0, len(pixels), channels)]
    inked = sum(1 for r, g, b in colours if min(r, g, b) < 200)
    assert inked > 0.02 * width * height, "the page looks blank"
    # The peak window's light violet (rgba(128, 90, 213, 0.1) on white) is painted.
    tinted = sum(1 for r, g, b in colours if b - g >= 8 and b >= 245 and r < b)
    assert tinted > 0.01 * width * height, "no peak-window shading on screen"
