"""``detoxmon demo``: the pipeline on embedded services with a simulated ward and a live board.

Loaded only when the command runs (``agents.commands`` imports it lazily), so a worker never
imports ``rich`` or the simulator.
"""

from agents.demo.run import DemoOptions, DemoResult, run_demo

__all__ = ["DemoOptions", "DemoResult", "run_demo"]
