"""The rule engine: plain, typed Python on event time, with no Kafka, clock or network in it.

The Faust agents, ``detoxmon replay``, ``detoxmon rules test`` and the tests call the same
code: :func:`evaluate` for each event or acknowledgement, :func:`tick` for time passing, both
handed ``now``. Rules are data (``deploy/rules/*.rules.yaml``), loaded strictly by
:func:`load_rules`.
"""

from agents.engine.errors import ConfigFileError, EngineError, RulesFileError, RuleTestFileError
from agents.engine.evaluation import EngineEvent, Evaluation, evaluate, event_time, tick
from agents.engine.lifecycle import ALERT_NAMESPACE, alert_id_for, transition_id_for
from agents.engine.loader import DEFAULT_RULES_FILE, default_rules, load_rules
from agents.engine.rules import Rule, RuleSet
from agents.engine.state import PatientState, new_state
from agents.engine.threshold import (
    DEFAULT_RULES,
    PULSE_HIGH,
    ActiveAlert,
    ThresholdView,
    evaluate_thresholds,
    threshold_view,
)

__all__ = [
    "ALERT_NAMESPACE",
    "DEFAULT_RULES",
    "DEFAULT_RULES_FILE",
    "PULSE_HIGH",
    "ActiveAlert",
    "ConfigFileError",
    "EngineError",
    "EngineEvent",
    "Evaluation",
    "PatientState",
    "Rule",
    "RuleSet",
    "RuleTestFileError",
    "RulesFileError",
    "ThresholdView",
    "alert_id_for",
    "default_rules",
    "evaluate",
    "evaluate_thresholds",
    "event_time",
    "load_rules",
    "new_state",
    "threshold_view",
    "tick",
    "transition_id_for",
]
