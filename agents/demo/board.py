"""The ward board: a live ``rich`` table in a terminal, plain periodic lines otherwise.

One row a patient (latest vitals, NEWS2, CIWA-B, hours since the last dose and phase, the
alert state), coloured by the highest open priority, under a progress bar of simulated time.
Pages print above the board as they arrive. Without a terminal (a pipe, CI, a test) a live
display would be noise, so the plain board prints the same rows as lines every few seconds.
"""

from __future__ import annotations

import time
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from rich import box
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from agents.demo import cells
from agents.demo.clock import SimClock
from agents.demo.ward import WardView
from agents.startstop import StartStop
from schemas import Alert

_HEADERS = ("patient", "where", "HR", "BP", "T", "SpO2", "RR", "NEWS2", "CIWA-B", "last dose")
_LEFT = frozenset({"patient", "where", "last dose"})


class Board(Protocol):
    """What the demo draws on."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def show(self, view: WardView, clock: SimClock, wall: datetime) -> None:
        """Redraw (or print, when due) the board as of ``wall``."""

    def page(self, alert: Alert) -> None:
        """Show a page as it arrives."""

    def say(self, text: str) -> None:
        """Show a status line."""


def _when(clock: SimClock, wall: datetime) -> str:
    simulated = clock.simulated(wall)
    elapsed_h = (simulated - clock.start).total_seconds() / 3600
    return f"{simulated:%a %d %b %H:%M} UTC, hour {elapsed_h:.0f}/{clock.hours:g}"


def ward_table(view: WardView) -> Table:
    """The board's table, one row a patient coloured by the highest open priority."""
    table = Table(
        box=box.SIMPLE_HEAD,
        header_style="bold",
        padding=0,
        show_edge=False,
        caption="* in the expected peak window; ? NEWS2 from overdue vitals",
        caption_justify="left",
    )
    for header in _HEADERS:
        justify: JustifyMethod = "left" if header in _LEFT else "right"
        table.add_column(header, justify=justify, no_wrap=True)
    table.add_column("open alerts", justify="left")
    for row in view.sorted_rows():
        priority = row.priority
        table.add_row(
            row.patient_id,
            cells.programme(row),
            *cells.vitals(row),
            cells.news2(row, short=True),
            cells.ciwa_b(row, short=True),
            cells.since_dose(row, short=True),
            cells.alert_state(row),
            style=cells.PRIORITY_STYLES.get(priority, "") if priority else "",
        )
    return table


class LiveBoard(StartStop):
    """A ``rich`` live display, redrawn in place."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._live = Live(Text("starting ..."), console=self.console, refresh_per_second=4)

    def start(self) -> None:
        """Take over the terminal."""
        self._live.start()

    def stop(self) -> None:
        """Leave the last board on screen."""
        self._live.stop()

    def render(self, view: WardView, clock: SimClock, wall: datetime) -> RenderableType:
        """Table and progress bar."""
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            Text("simulated time", style="bold"),
            ProgressBar(total=1.0, completed=clock.progress(wall), width=30),
            Text(_when(clock, wall)),
        )
        return Group(ward_table(view), bar)

    def show(self, view: WardView, clock: SimClock, wall: datetime) -> None:
        """Redraw now."""
        self._live.update(self.render(view, clock, wall), refresh=True)

    def page(self, alert: Alert) -> None:
        """Print the page above the board."""
        self.console.print(Text(cells.page_line(alert), style=cells.STATE_STYLES[alert.state]))

    def say(self, text: str) -> None:
        """Print a status line above the board."""
        self.console.print(text, highlight=False, markup=False)


class PlainBoard(StartStop):
    """Plain lines: the board every ``interval_s`` seconds, pages and status as they come."""

    def __init__(self, *, interval_s: float = 10.0) -> None:
        self.interval_s = interval_s
        self._last = float("-inf")

    def start(self) -> None:
        """Nothing to set up: lines are printed as they come."""

    def stop(self) -> None:
        """Nothing to tear down."""

    def lines(self, view: WardView, clock: SimClock, wall: datetime) -> list[str]:
        """The board as text lines."""
        out = [f"BOARD {clock.progress(wall):4.0%} simulated time {_when(clock, wall)}"]
        for row in view.sorted_rows():
            hr, bp, temp, spo2, rr = cells.vitals(row)
            out.append(
                f"BOARD {row.patient_id} {cells.programme(row)} | HR {hr} BP {bp} T {temp} "
                f"SpO2 {spo2} RR {rr} | NEWS2 {cells.news2(row)} | CIWA-B {cells.ciwa_b(row)} "
                f"| last dose {cells.since_dose(row)} | {cells.alert_state(row)}"
            )
        return out

    def show(self, view: WardView, clock: SimClock, wall: datetime, *, force: bool = False) -> None:
        """Print the board if ``interval_s`` has passed since the last time (or ``force``)."""
        now = time.monotonic()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        print("\n".join(self.lines(view, clock, wall)), flush=True)

    def page(self, alert: Alert) -> None:
        """Print the page."""
        print(cells.page_line(alert), flush=True)

    def say(self, text: str) -> None:
        """Print a status line."""
        print(text, flush=True)
