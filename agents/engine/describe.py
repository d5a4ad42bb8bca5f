"""Rules in words: one line per rule for ``detoxmon rules check``, and the rules page.

``docs/rules.md`` is rendered from the default rules file by :func:`rules_markdown` (``detoxmon
rules docs``), and a test fails when the committed page differs, so the page staff read never
drifts from the rules the pager runs.
"""

from __future__ import annotations

from agents.engine.rules import (
    MEASURE_UNITS,
    ActiveCount,
    AllOf,
    AnyOf,
    BaselineRule,
    CombinationRule,
    ConsciousnessIs,
    ConsciousnessRule,
    DeviceSilentRule,
    EventRule,
    InPeakWindow,
    OverdueRule,
    Persistence,
    Predicate,
    RiseRule,
    Rule,
    RuleActive,
    RuleOverride,
    RuleSet,
    ThresholdRule,
    VitalPast,
    relaxed,
)

_UNIT = {"/min": "/min", "mm[Hg]": " mmHg", "Cel": " Cel", "%": "%", "{score}": ""}
_RESOLVE_OP = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}


def _number(value: float) -> str:
    return f"{value:g}"


def _with_unit(measure: str, value: float) -> str:
    return f"{_number(value)}{_UNIT[MEASURE_UNITS[measure]]}"


def persistence_text(persistence: Persistence) -> str:
    """How long a condition must hold."""
    parts = []
    if persistence.readings is not None:
        parts.append(f"{persistence.readings} readings in a row")
    if persistence.minutes is not None:
        seconds = persistence.minutes * 60
        parts.append(
            f"{_number(seconds)} s" if seconds < 60 else f"{_number(persistence.minutes)} min"
        )
    if not parts:
        return "first reading"
    return " or ".join(parts) + " (streaming readings; a spot check fires at once)"


def _predicate_text(predicate: Predicate) -> str:
    if isinstance(predicate, RuleActive):
        return f"{predicate.rule} active"
    if isinstance(predicate, VitalPast):
        limit = _with_unit(predicate.measure, predicate.threshold)
        return f"{predicate.measure} {predicate.op} {limit}"
    if isinstance(predicate, ConsciousnessIs):
        return f"ACVPU {'/'.join(predicate.consciousness)}"
    if isinstance(predicate, InPeakWindow):
        return "in the peak-risk window"
    if isinstance(predicate, ActiveCount):
        spec = predicate.active_count
        groups = "different groups, " if spec.distinct_groups else ""
        excluded = f" except {', '.join(spec.exclude_groups)}" if spec.exclude_groups else ""
        return (
            f"{spec.at_least}+ active {spec.min_priority}-or-higher alerts ({groups}any{excluded})"
        )
    if isinstance(predicate, AnyOf):
        return "(" + " or ".join(_predicate_text(item) for item in predicate.any_of) + ")"
    assert isinstance(predicate, AllOf)
    return "(" + " and ".join(_predicate_text(item) for item in predicate.all_of) + ")"


def condition_text(rule: Rule) -> str:
    """What makes the rule fire, and when it resolves."""
    if isinstance(rule, ThresholdRule):
        text = f"{rule.measure} {rule.op} {_with_unit(rule.measure, rule.threshold)}"
        if rule.peak_window_threshold is not None:
            tighter = _with_unit(rule.measure, rule.peak_window_threshold)
            text += f" ({rule.op} {tighter} in the peak window)"
        for level in rule.levels:
            text += f"; {rule.op} {_with_unit(rule.measure, level.threshold)} {level.priority}"
        if rule.only_in_peak_window:
            text += ", only in the peak-risk window"
        if rule.spo2_scale is not None:
            text += f", SpO2 scale {rule.spo2_scale} only"
        if rule.on_oxygen:
            text += ", on oxygen"
        resolve_at = relaxed(rule.op, rule.threshold, rule.hysteresis)
        return text + f"; resolves at {_RESOLVE_OP[rule.op]} {_with_unit(rule.measure, resolve_at)}"
    if isinstance(rule, BaselineRule):
        rise = _with_unit(rule.measure, rule.above_baseline)
        back = _with_unit(rule.measure, rule.above_baseline - rule.hysteresis)
        return f"{rule.measure} >= baseline + {rise}; resolves below baseline + {back}"
    if isinstance(rule, ConsciousnessRule):
        return f"ACVPU {'/'.join(rule.fires_on)}; resolves when Alert is recorded"
    if isinstance(rule, RiseRule):
        return f"CIWA-B up {_number(rule.rise)}+ over its lowest in {_number(rule.within_hours)} h"
    if isinstance(rule, EventRule):
        matches = []
        for match in rule.match:
            what = ", ".join(match.event_types or match.answers)
            if match.min_sedation_score is not None:
                what += f" (score {match.min_sedation_score}+)"
            where = "reported event" if match.kind == "clinical_event" else "check-in"
            matches.append(f"{where}: {what}" + (f" -> {match.priority}" if match.priority else ""))
        return "; ".join(matches) + (
            f"; resolves {_number(rule.quiet_minutes)} min after acknowledgement with no repeat"
        )
    if isinstance(rule, OverdueRule):
        what = "observations" if rule.measure == "vital_signs" else "CIWA-B scores"
        return f"no {what} for {_number(rule.missed)} x the cadence; resolves when data return"
    if isinstance(rule, DeviceSilentRule):
        return (
            f"a streaming device (readings <= {_number(rule.streaming_within_minutes)} min apart) "
            f"silent {_number(rule.silent_after_minutes)} min; resolves when readings return"
        )
    assert isinstance(rule, CombinationRule)
    return " and ".join(_predicate_text(item) for item in rule.all_of)


def persistence_of(rule: Rule) -> str:
    """The rule's persistence, in words."""
    if isinstance(rule, ThresholdRule | BaselineRule):
        return persistence_text(rule.persistence)
    if isinstance(rule, OverdueRule | DeviceSilentRule):
        return "the gap itself"
    return "none"


def describe_rule(ruleset: RuleSet, rule: Rule) -> str:
    """One line: id, kind, condition, priority, persistence, sources."""
    state = "" if rule.enabled else " [disabled by default]"
    return (
        f"{rule.id} ({rule.kind}){state}: {condition_text(rule)} -> {rule.priority}; "
        f"persistence: {persistence_of(rule)}; sources: {', '.join(rule.source)}"
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _change_text(change: RuleOverride) -> str:
    parts = []
    if change.enabled is not None:
        parts.append("enabled" if change.enabled else "disabled")
    if change.threshold is not None:
        parts.append(f"threshold {_number(change.threshold)}")
    return ", ".join(parts)


def _overrides_text(ruleset: RuleSet, rule: Rule) -> str:
    notes = []
    for ward, table in ruleset.overrides.wards.items():
        if rule.id in table:
            notes.append(f"ward {ward}: {_change_text(table[rule.id])}")
    for tier, table in ruleset.overrides.risk_tiers.items():
        if rule.id in table:
            notes.append(f"risk tier {tier}: {_change_text(table[rule.id])}")
    return "; ".join(notes)


def rules_markdown(ruleset: RuleSet, *, rules_path: str) -> str:
    """The rules page (docs/rules.md) for ``ruleset``."""
    lines = [
        "# Alert rules",
        "",
        f"Generated from `{rules_path}` by `detoxmon rules docs`; do not edit by hand (a test",
        "compares this page with the rules file). Defaults for clinical review, not medical",
        "advice: every number must be signed off by the clinical team that deploys it",
        "(`shared/reference/clinical.md` section 11).",
        "",
        "## How the rules work",
        "",
        "- **One alert per patient and rule.** It fires, may be re-notified and escalated",
        "  (bedside nurse, charge nurse, on-call physician) while unacknowledged, is acknowledged,",
        "  and resolves. If it gets worse (a higher priority) it is re-notified and needs a new",
        "  acknowledgement. Every transition carries its evidence and the rule's source.",
        "- **Priorities** follow IEC 60601-1-8: high (immediate), medium (prompt), low",
        "  (awareness).",
        "- **Persistence** (alarm delay, Welch 2011) applies to streaming monitors only: a spot",
        "  check or a reading entered by staff fires at once, since no confirming reading follows.",
        "- **Hysteresis**: an alert resolves only once the value is back by the hysteresis, so a",
        "  value hovering at a limit pages once.",
        "- **Phase**: the clock starts at the last recorded dose; the peak-risk window depends on",
        "  the drug's half-life class, and each taper step opens a rebound watch. Rules marked",
        "  *peak window* apply only inside a window; the observation cadence tightens there.",
        "- **Quiet hours**: low-priority alerts wait until morning (data-gap notices excepted).",
        "",
        "## Timers",
        "",
        "| priority | re-notify every | escalate every |",
        "| --- | --- | --- |",
    ]
    for priority in ("high", "medium", "low"):
        timers = ruleset.escalation.for_priority(priority)
        renotify = f"{_number(timers.renotify_minutes)} min" if timers.renotify_minutes else "never"
        escalate = f"{_number(timers.escalate_minutes)} min" if timers.escalate_minutes else "never"
        lines.append(f"| {priority} | {renotify} | {escalate} |")
    lines += [
        "",
        f"Sources: {ruleset.source_text(ruleset.escalation.source)}. "
        f"{_cell(ruleset.escalation.rationale)}",
        "",
        "## Rules",
        "",
        "| rule | fires when | priority | persistence | source |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in ruleset.rules:
        name = f"`{rule.id}`" + ("" if rule.enabled else " (off by default)")
        lines.append(
            f"| {name} | {_cell(condition_text(rule))} | {rule.priority} | "
            f"{_cell(persistence_of(rule))} | {', '.join(rule.source)} |"
        )
    lines += ["", "## Why each rule exists", ""]
    for rule in ruleset.rules:
        lines.append(f"- **`{rule.id}`**: {_cell(rule.rationale)}")
        overrides = _overrides_text(ruleset, rule)
        if overrides:
            lines.append(f"  Default overrides: {overrides}.")
    lines += [
        "",
        "## Overriding a rule",
        "",
        "Overrides apply in order ward, risk tier, patient; the most specific wins. They can",
        "switch a rule off (`enabled: false`) or move its threshold (`threshold`, in the rule's",
        "unit; for a baseline rule, the rise above baseline).",
        "",
        "- **Per ward or risk tier**, in the rules file:",
        "",
        "  ```yaml",
        "  overrides:",
        "    wards:",
        "      ward-7: {pulse_high: {threshold: 125}}",
        "    risk_tiers:",
        "      high: {news2_low_band: {enabled: true}}",
        "  ```",
        "",
        "- **Per patient**, agreed by the treating team, in the enrolment event:",
        '  `"threshold_overrides": [{"rule_id": "pulse_high", "threshold": 130}]`. An',
        "  override that would make the rule invalid is ignored (the default stays in force).",
        "",
        "Check a changed file with `detoxmon rules check FILE` and run the rule tests with",
        "`detoxmon rules test tests/rules/*.test.yaml`.",
        "",
        "## Sources",
        "",
    ]
    for key, source in ruleset.sources.items():
        lines.append(f"- **[{key}]** {_cell(source.citation)}")
    return "\n".join(lines) + "\n"
