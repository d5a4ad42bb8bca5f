"""Grafana threshold steps and colours, taken from the rules the engine evaluates.

The dashboards colour a value exactly where the pager fires: the steps of a vital, of NEWS2
and of CIWA-B come from the engine's threshold rules (``deploy/rules/default.rules.yaml``,
loaded by ``agents.engine.default_rules``): their comparison, threshold, escalation levels and
priority. No panel writes a threshold number. The sources, each the one place to re-point:

- :func:`engine_limits`: every unconditional threshold rule of the loaded rule set, as
  :class:`Limit` values (a rule with ``levels`` gives one limit per level).
- :func:`news2_bands`, :func:`ciwa_b_bands`: the *names* of the score bands the snapshots
  carry (``news2_band``, ``ciwa_b_band``) and their colours, for the band columns. Their cut-offs
  are clinical.md section 2.2 and the contract's ``CIWA_B_BANDS``; a unit test holds them equal
  to the rules' thresholds, so a band and the number beside it cannot disagree.

A measure no unconditional rule watches gets no coloured step, on purpose: a colour the pager
does not back would tell a nurse the system watches something it does not. Rules that fire
only in some circumstances (inside the peak-risk window, on SpO2 scale 2, on oxygen) and
disabled rules are left out for the same reason: an unconditional colour would disagree with
the pager outside those circumstances.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.models import dashboard as dashboard_models

from agents.engine import Rule, ThresholdView, default_rules
from agents.engine.rules import MEASURE_UNITS, ThresholdRule
from schemas.alerts import PRIORITY_RANK, Priority
from schemas.assessments import CIWA_B_BANDS

Op = Literal[">", ">=", "<", "<="]

#: Colour of each alert priority (IEC 60601-1-8 high/medium/low: immediate, prompt, awareness),
#: also used by the alert tables, so a colour means the same thing on every panel.
PRIORITY_COLOURS: dict[str, str] = {"high": "red", "medium": "orange", "low": "blue"}
#: Colour of a value no rule fires on.
NORMAL_COLOUR = "green"
#: Base colour for graphs, where only the alerting region is shaded.
NO_COLOUR = "transparent"


@dataclass(frozen=True)
class Limit:
    """One threshold a rule fires at: ``value <op> threshold`` raises ``priority``."""

    rule_id: str
    measure: str
    op: Op
    threshold: float
    priority: Priority
    unit: str
    hysteresis: float = 0.0

    @property
    def upward(self) -> bool:
        """Whether the rule fires on high values."""
        return self.op in (">", ">=")

    @property
    def resolves_past(self) -> float:
        """Where an active alert resolves: the threshold moved by the hysteresis to normal."""
        return self.threshold - self.hysteresis if self.upward else self.threshold + self.hysteresis

    def fires(self, value: float) -> bool:
        """Whether ``value`` fires the rule."""
        if self.op == ">":
            return value > self.threshold
        if self.op == ">=":
            return value >= self.threshold
        if self.op == "<":
            return value < self.threshold
        return value <= self.threshold

    def influxql(self, field: str) -> str:
        """The rule's condition as an InfluxQL comparison on ``field``."""
        return f'"{field}" {self.op} {self.threshold:g}'

    def breakpoint(self) -> float:
        """The lowest value at which the verdict changes, in Grafana's ``value >= step`` terms.

        ``>=`` fires from the threshold on and ``<`` stops firing there; ``>`` fires and ``<=``
        stops firing only above it, from the next float.
        """
        if self.op in (">=", "<"):
            return float(self.threshold)
        return math.nextafter(float(self.threshold), math.inf)


def limits_of(rule: Rule | ThresholdView) -> list[Limit]:
    """The limits of one engine rule; none for a rule that is not an unconditional threshold."""
    if isinstance(rule, ThresholdView):
        op: Op = ">=" if rule.direction == "above" else "<="
        return [
            Limit(
                rule.rule_id,
                rule.vital,
                op,
                rule.threshold,
                rule.priority,
                rule.unit,
                rule.hysteresis,
            )
        ]
    if not isinstance(rule, ThresholdRule) or not rule.enabled:
        return []
    if rule.only_in_peak_window or rule.on_oxygen is not None or rule.spo2_scale not in (None, 1):
        return []
    unit = MEASURE_UNITS[rule.measure]
    steps = [
        (rule.threshold, rule.priority),
        *((level.threshold, level.priority) for level in rule.levels),
    ]
    return [
        Limit(rule.id, rule.measure, rule.op, threshold, priority, unit, rule.hysteresis)
        for threshold, priority in steps
    ]


def limits_of_rules(rules: Iterable[Rule | ThresholdView]) -> tuple[Limit, ...]:
    """The limits of every rule."""
    return tuple(limit for rule in rules for limit in limits_of(rule))


def engine_limits() -> tuple[Limit, ...]:
    """The thresholds the engine fires at, from the loaded default rules file."""
    return limits_of_rules(default_rules().rules)


def limits_for(measure: str, limits: Iterable[Limit] | None = None) -> list[Limit]:
    """The limits on one measure (a field of ``vitals``, or ``news2``/``ciwa_b``), by threshold."""
    chosen = engine_limits() if limits is None else tuple(limits)
    return sorted(
        (limit for limit in chosen if limit.measure == measure), key=lambda x: x.threshold
    )


def colour_at(value: float, limits: Sequence[Limit], *, normal: str) -> str:
    """The colour of ``value``: the most urgent priority among the limits it fires, else normal."""
    fired = [limit.priority for limit in limits if limit.fires(value)]
    if not fired:
        return normal
    return PRIORITY_COLOURS[max(fired, key=lambda priority: PRIORITY_RANK[priority])]


def steps_for_limits(
    limits: Sequence[Limit], *, normal: str = NORMAL_COLOUR
) -> list[dashboard_models.Threshold]:
    """Grafana steps (ascending, first one unbounded) that colour values as the rules fire.

    Grafana colours a value with the last step at or below it, so the colour is constant
    between two breakpoints; the limits are evaluated once per interval.
    """
    breakpoints = sorted({limit.breakpoint() for limit in limits})
    base = colour_at(-math.inf, limits, normal=normal)
    steps = [dashboard_models.Threshold(value=None, color=base)]
    for point in breakpoints:
        colour = colour_at(point, limits, normal=normal)
        if colour != steps[-1].color:
            steps.append(dashboard_models.Threshold(value=_json_number(point), color=colour))
    return steps


def measure_steps(
    measure: str,
    *,
    normal: str = NORMAL_COLOUR,
    limits: Iterable[Limit] | None = None,
) -> list[dashboard_models.Threshold]:
    """Steps for one measure from the engine's rules; a single normal step when none watches it."""
    return steps_for_limits(limits_for(measure, limits), normal=normal)


def _json_number(value: float) -> float | int:
    """Whole numbers as ints, so the JSON reads ``120``, not ``120.0``."""
    return int(value) if value.is_integer() else value


@dataclass(frozen=True)
class ScoreBand:
    """A band of a clinical score: name, lowest total, and the response priority it calls for."""

    name: str
    lowest: int
    priority: Priority | None
    #: False for a band that is not a range of totals (NEWS2's ``low_medium``).
    by_total: bool = True

    @property
    def colour(self) -> str:
        """The band's colour: its priority's, or the normal colour when none is called for."""
        return PRIORITY_COLOURS[self.priority] if self.priority else NORMAL_COLOUR


def news2_bands() -> tuple[ScoreBand, ...]:
    """NEWS2 clinical-risk bands and their priorities (clinical.md sections 2.2 and 11.4).

    Aggregate 0-4 is low risk (routine nurse review, no page), 5-6 medium (urgent response),
    7 or more high (emergency response). ``low_medium`` is not an aggregate range: it is a
    single parameter scoring 3 (medium priority), so it colours the band column only.
    """
    return (
        ScoreBand("low", 0, None),
        ScoreBand("low_medium", 0, "medium", by_total=False),
        ScoreBand("medium", 5, "medium"),
        ScoreBand("high", 7, "high"),
    )


def upward_limit(measure: str, priority: Priority, limits: Iterable[Limit] | None = None) -> Limit:
    """The upward limit at which the engine first raises at least ``priority`` on ``measure``.

    Raises:
        LookupError: no unconditional upward rule on ``measure`` reaches ``priority``.
    """
    candidates = [
        limit
        for limit in limits_for(measure, limits)
        if limit.upward and PRIORITY_RANK[limit.priority] >= PRIORITY_RANK[priority]
    ]
    if not candidates:
        raise LookupError(f"no rule raises {priority} priority on {measure}")
    return min(candidates, key=lambda limit: limit.breakpoint())


#: CIWA-B band -> the priority clinical.md section 11.5 gives its total (0-20 none, 21-40
#: medium, 41-80 high).
_CIWA_B_PRIORITY: dict[str, Priority | None] = {
    "none": None,
    "mild": None,
    "moderate": "medium",
    "severe": "high",
    "very_severe": "high",
}


def ciwa_b_bands() -> tuple[ScoreBand, ...]:
    """CIWA-B severity bands from the contract's cut-offs, with their response priorities."""
    bands: list[ScoreBand] = []
    lowest = 0
    for upper, name in CIWA_B_BANDS:
        bands.append(ScoreBand(name, lowest, _CIWA_B_PRIORITY[name]))
        lowest = upper + 1
    return tuple(bands)


def band_colours(bands: Iterable[ScoreBand]) -> dict[str, str]:
    """Band name -> colour, for colouring a band column by its text."""
    return {band.name: band.colour for band in bands}
