"""The rule engine: plain, typed Python on event time, with no Kafka, clock or network in it.

The Faust agents, ``detoxmon replay`` and the tests call the same code.
"""

from agents.engine.threshold import (
    DEFAULT_RULES,
    PULSE_HIGH,
    ActiveAlert,
    ThresholdRule,
    evaluate_thresholds,
)

__all__ = ["DEFAULT_RULES", "PULSE_HIGH", "ActiveAlert", "ThresholdRule", "evaluate_thresholds"]
