"""The rules in force for one patient: defaults, then ward, risk tier and patient overrides.

The most specific wins: a ward's change is applied first, then the risk tier's, then the
enrolment's ``threshold_overrides`` agreed by the treating team. A ``threshold`` override moves
a threshold rule's base threshold or a baseline rule's rise; a patient's override that would
make a rule invalid (e.g. a threshold past its own more severe level) is ignored, keeping the
default, because an enrolment must never switch monitoring off by accident.
"""

from __future__ import annotations

import weakref
from typing import Any

from pydantic import TypeAdapter, ValidationError

from agents.engine.rules import BaselineRule, Rule, RuleOverride, RuleSet, ThresholdRule
from schemas.enrolment import ThresholdOverride

_RULE: TypeAdapter[Rule] = TypeAdapter(Rule)

Change = RuleOverride | ThresholdOverride


def apply_override(rule: Rule, change: Change) -> Rule:
    """``rule`` with ``change`` applied.

    Raises:
        ValueError: the change makes the rule invalid.
    """
    update: dict[str, Any] = {}
    if change.enabled is not None:
        update["enabled"] = change.enabled
    if change.threshold is not None:
        if isinstance(rule, ThresholdRule):
            update["threshold"] = change.threshold
        elif isinstance(rule, BaselineRule):
            update["above_baseline"] = change.threshold
        else:
            raise ValueError(f"rule {rule.id!r} ({rule.kind}) has no threshold")
    if not update:
        return rule
    try:
        return _RULE.validate_python({**rule.model_dump(), **update})
    except ValidationError as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc


_Key = tuple[str | None, str | None, tuple[ThresholdOverride, ...]]
_CACHES: dict[int, tuple[weakref.ref[RuleSet], dict[_Key, tuple[Rule, ...]]]] = {}


def _cache_of(ruleset: RuleSet) -> dict[_Key, tuple[Rule, ...]]:
    """The cache of one rule set (by identity: a copy with other rules gets its own)."""
    entry = _CACHES.get(id(ruleset))
    if entry is None or entry[0]() is not ruleset:
        for stale in [key for key, (ref, _) in _CACHES.items() if ref() is None]:
            del _CACHES[stale]
        entry = (weakref.ref(ruleset), {})
        _CACHES[id(ruleset)] = entry
    return entry[1]


def effective_rules(
    ruleset: RuleSet,
    *,
    ward: str | None,
    risk_tier: str | None,
    patient: tuple[ThresholdOverride, ...] = (),
) -> tuple[Rule, ...]:
    """Every rule with the ward's, the risk tier's and the patient's overrides applied."""
    key = (ward, risk_tier, patient)
    cache = _cache_of(ruleset)
    if key in cache:
        return cache[key]
    ward_changes = ruleset.overrides.wards.get(ward or "", {})
    tier_changes = ruleset.overrides.risk_tiers.get(risk_tier or "", {})  # type: ignore[call-overload]
    by_patient = {change.rule_id: change for change in patient}
    rules = []
    for rule in ruleset.rules:
        for change in (ward_changes.get(rule.id), tier_changes.get(rule.id)):
            if change is not None:
                rule = apply_override(rule, change)
        patient_change = by_patient.get(rule.id)
        if patient_change is not None:
            try:
                rule = apply_override(rule, patient_change)
            except ValueError:
                rule = rule.model_copy(update={"enabled": patient_change.enabled})
        rules.append(rule)
    result = tuple(rules)
    if len(cache) < 256:
        cache[key] = result
    return result
