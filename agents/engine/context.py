"""One evaluation's working set: the state being changed, the rules in force, the output.

Also the derived facts every rule kind asks for (phase, peak windows, cadence, staleness and
the evidence a transition carries), computed one way so a page and a snapshot agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from agents.engine.overrides import effective_rules
from agents.engine.phase import Interval, PhaseInfo, in_any, peak_intervals, phase_at
from agents.engine.rules import Cadence, Rule, RuleSet
from agents.engine.state import PatientState
from schemas.alerts import Alert, AlertEvidence


@dataclass
class Context:
    """The state under evaluation, the rule set and the transitions produced so far."""

    ruleset: RuleSet
    state: PatientState
    transitions: list[Alert] = field(default_factory=list)
    rules: tuple[Rule, ...] = ()
    _by_id: dict[str, Rule] = field(default_factory=dict)
    _intervals: tuple[object, list[Interval]] | None = None

    def __post_init__(self) -> None:
        self.refresh_rules()

    def refresh_rules(self) -> None:
        """Recompute the rules in force (after an enrolment changed ward, tier or overrides)."""
        enrolment = self.state.enrolment
        self.rules = effective_rules(
            self.ruleset,
            ward=enrolment.ward if enrolment else self.state.ward,
            risk_tier=enrolment.risk_tier if enrolment else None,
            patient=tuple(enrolment.overrides) if enrolment else (),
        )
        self._by_id = {rule.id: rule for rule in self.rules}

    def rule(self, rule_id: str) -> Rule | None:
        """The rule in force with this id (None if the rules file no longer has it)."""
        return self._by_id.get(rule_id)

    @property
    def ward(self) -> str | None:
        """The patient's ward: the enrolment's, else the latest event's."""
        return self.state.enrolment.ward if self.state.enrolment else self.state.ward

    def intervals(self) -> list[Interval]:
        """Peak-risk windows in event time (recomputed only when a dose or enrolment moved
        them)."""
        state = self.state
        key = (state.last_dose_at, state.half_life_class, state.taper_step_at)
        if self._intervals is None or self._intervals[0] != key:
            self._intervals = (
                key,
                peak_intervals(
                    self.ruleset.phase,
                    last_dose_at=state.last_dose_at,
                    half_life_class=state.half_life_class,
                    taper_step_at=state.taper_step_at,
                ),
            )
        return self._intervals[1]

    def phase(self, moment: datetime) -> PhaseInfo:
        """Phase and peak-window membership at ``moment``."""
        state = self.state
        return phase_at(
            self.ruleset.phase,
            moment,
            last_dose_at=state.last_dose_at,
            half_life_class=state.half_life_class,
            intervals=self.intervals(),
        )

    def in_peak(self, moment: datetime) -> bool:
        """Whether ``moment`` is inside a peak-risk window."""
        return in_any(self.intervals(), moment)

    def vitals_cadence(self) -> Cadence:
        """Observation cadence for the latest NEWS2 band (clinical.md section 11.4)."""
        cadence = self.ruleset.cadence
        news2 = self.state.news2
        if news2 is None:
            return cadence.news2_unknown
        if news2.band == "high":
            return cadence.news2_high
        if news2.band == "medium":
            return cadence.news2_medium
        if news2.band == "low_medium":
            return cadence.news2_single_3
        return cadence.news2_zero if news2.total == 0 else cadence.news2_low

    def ciwa_b_cadence(self) -> Cadence:
        """CIWA-B re-score interval for the latest band (clinical.md section 11.5)."""
        cadence = self.ruleset.cadence
        latest = self.state.latest_ciwa_b()
        if latest is None or latest.total <= 20:
            return cadence.ciwa_b_mild
        if latest.total <= 40:
            return cadence.ciwa_b_moderate
        return cadence.ciwa_b_severe

    def news2_stale(self, moment: datetime) -> bool:
        """Whether the latest NEWS2 is older than the cadence: shown, never as current."""
        news2 = self.state.news2
        if news2 is None:
            return False
        limit = self.vitals_cadence().at(self.in_peak(moment))
        return (moment - news2.at).total_seconds() > limit * 60

    def latest_values(self) -> dict[str, float]:
        """The latest value of every vital."""
        return {name: reading.value for name, reading in self.state.latest.items()}

    def evidence(
        self,
        moment: datetime,
        *,
        measure: str,
        observed_at: datetime,
        value: float | None = None,
        unit: str | None = None,
        threshold: float | None = None,
        event_id: UUID | None = None,
        values: dict[str, float] | None = None,
    ) -> AlertEvidence:
        """What a transition at ``moment`` shows: the values behind it and the context."""
        phase = self.phase(moment)
        ciwa = self.state.latest_ciwa_b()
        return AlertEvidence(
            measure=measure,
            value=value,
            unit=unit,
            threshold=threshold,
            reading_event_id=event_id,
            observed_at=observed_at,
            values=self.latest_values() if values is None else values,
            news2=self.state.news2.total if self.state.news2 else None,
            news2_stale=self.news2_stale(moment),
            ciwa_b=ciwa.total if ciwa else None,
            hours_since_last_dose=phase.hours_since_last_dose,
            phase=phase.phase,
            in_peak_window=phase.in_peak_window,
        )

    def refreshed(self, evidence: AlertEvidence, moment: datetime) -> AlertEvidence:
        """``evidence`` with the context (scores, phase) brought up to ``moment``."""
        phase = self.phase(moment)
        ciwa = self.state.latest_ciwa_b()
        return evidence.model_copy(
            update={
                "news2": self.state.news2.total if self.state.news2 else None,
                "news2_stale": self.news2_stale(moment),
                "ciwa_b": ciwa.total if ciwa else None,
                "hours_since_last_dose": phase.hours_since_last_dose,
                "phase": phase.phase,
                "in_peak_window": phase.in_peak_window,
            }
        )
