"""Enrolment (admission) and discharge: who is watched, where, and against what.

``half_life_class`` defaults to the drug's class in :mod:`schemas.drugs` and may be set
explicitly by the clinician (for example for an illicit benzodiazepine of unknown half-life).
``spo2_scale`` 2 is a recorded clinical decision (NEWS2, RCP 2017 [R1]), never inferred.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.common import EventBase, WardId
from schemas.drugs import Drug, HalfLifeClass, default_half_life_class

RiskFactor = Literal[
    "seizure_history",
    "prior_complicated_withdrawal",
    "high_dose",
    "polydrug_use",
    "alcohol_use",
    "cns_depressant_coprescribed",
    "age_over_65",
    "pregnancy",
    "under_16",
]

RiskTier = Literal["standard", "high"]


class ThresholdOverride(BaseModel):
    """A per-patient change to one rule, agreed by the treating team."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    threshold: float | None = Field(default=None, description="New threshold, rule's unit.")
    enabled: bool = Field(default=True, description="False silences the rule for this patient.")


class Enrolment(EventBase):
    """Admission to a ward or enrolment in a telehealth programme."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Enrolment")

    kind: Literal["enrolment"] = "enrolment"
    ward: WardId  # required here, unlike on other events
    bed: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$")] | None = (
        None
    )
    programme: Literal["inpatient", "telehealth"]
    drug: Drug
    half_life_class: HalfLifeClass = Field(description="Defaults to the drug's class.")
    last_dose_at: AwareDatetime = Field(description="Time of the last dose before admission.")
    daily_dose_mg: float | None = Field(default=None, gt=0, le=2000)
    risk_factors: list[RiskFactor] = Field(default_factory=list)
    risk_tier: RiskTier = "standard"
    spo2_scale: Literal[1, 2] = Field(
        default=1, description="NEWS2 SpO2 scale (2 only if recorded)."
    )
    threshold_overrides: list[ThresholdOverride] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _default_half_life_class(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("half_life_class") is None:
            drug = data.get("drug")
            if isinstance(drug, str):
                return {**data, "half_life_class": default_half_life_class(drug)}
        return data

    @model_validator(mode="after")
    def _check(self) -> Enrolment:
        if len(set(self.risk_factors)) != len(self.risk_factors):
            raise ValueError("risk_factors lists a factor twice")
        if self.last_dose_at > self.observed_at:
            raise ValueError("last_dose_at is after the enrolment time")
        rules = [override.rule_id for override in self.threshold_overrides]
        if len(set(rules)) != len(rules):
            raise ValueError("threshold_overrides lists a rule twice")
        return self


class Discharge(EventBase):
    """End of monitoring: alerts for the patient stop and open ones are resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Discharge")

    kind: Literal["discharge"] = "discharge"
    reason: Literal["completed", "transferred", "self_discharge", "other"]
