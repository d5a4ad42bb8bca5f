"""Symptom assessments: CIWA-B scores and patient-reported telehealth check-ins.

CIWA-B (Busto, Sykora & Sellers 1989 [R5]): 20 items, each 0-4, total 0-80; items 1-17 are
rated by the patient and 18-20 by an observer. Item names follow the forms in clinical use
[R6] (wording unverified against the 1989 paper). The total is always computed from the items;
a total sent along must agree, since a mismatch means the form or the gateway is wrong.
Severity bands are those printed on a hospital CIWA-B form [R6]: 0 none, 1-20 mild, 21-40
moderate, 41-60 severe, 61-80 very severe (unverified against [R5]; see clinical.md section 12).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.common import EventBase

ItemScore = Annotated[int, Field(ge=0, le=4)]

CiwaBBand = Literal["none", "mild", "moderate", "severe", "very_severe"]

#: Upper bound (inclusive) of each band's total, in order.
CIWA_B_BANDS: tuple[tuple[int, CiwaBBand], ...] = (
    (0, "none"),
    (20, "mild"),
    (40, "moderate"),
    (60, "severe"),
    (80, "very_severe"),
)


def ciwa_b_band(total: int) -> CiwaBBand:
    """The severity band of a CIWA-B total."""
    for upper, band in CIWA_B_BANDS:
        if total <= upper:
            return band
    raise ValueError(f"CIWA-B total {total} is above the maximum of 80")


class CiwaBItems(BaseModel):
    """The 20 CIWA-B items, each scored 0 (not at all) to 4 (very much so)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    irritability: ItemScore
    fatigue: ItemScore
    tension: ItemScore
    difficulty_concentrating: ItemScore
    loss_of_appetite: ItemScore
    numbness_or_burning: ItemScore
    racing_heart: ItemScore
    head_full_or_aching: ItemScore
    muscle_aches_or_stiffness: ItemScore
    anxious_nervous_jittery: ItemScore
    upset: ItemScore
    sleep_not_restful: ItemScore
    weakness: ItemScore
    sleep_not_enough: ItemScore
    visual_disturbance: ItemScore
    fearfulness: ItemScore
    worry_about_misfortunes: ItemScore
    restlessness_agitation: ItemScore = Field(description="Observer-rated.")
    tremor: ItemScore = Field(description="Observer-rated: arms extended, fingers spread.")
    sweating: ItemScore = Field(description="Observer-rated: feel the palms.")

    def total(self) -> int:
        """Sum of the items, 0-80."""
        return sum(int(value) for value in self.model_dump().values())


class CiwaBAssessment(EventBase):
    """A completed CIWA-B form."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="CiwaBAssessment")

    kind: Literal["ciwa_b"] = "ciwa_b"
    items: CiwaBItems
    total: int = Field(ge=0, le=80, description="Sum of the items; computed if not sent.")
    band: CiwaBBand = Field(description="Severity band of the total; computed if not sent.")
    rated_by: Literal["patient_and_observer", "patient_only"] = Field(
        default="patient_and_observer",
        description="'patient_only' for a self-completed telehealth form (items 18-20 then 0).",
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_total_and_band(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("items"), dict):
            return data
        try:
            computed = CiwaBItems.model_validate(data["items"]).total()
        except ValueError:
            return data  # the items' own errors are reported by field validation
        sent_total = data.get("total")
        if sent_total is not None and sent_total != computed:
            raise ValueError(
                f"total {sent_total} does not match the items, which sum to {computed}"
            )
        band = ciwa_b_band(computed)
        sent_band = data.get("band")
        if sent_band is not None and sent_band != band:
            raise ValueError(f"band {sent_band!r} does not match total {computed} ({band!r})")
        return {**data, "total": computed, "band": band}


#: The check-in's questions (``wants_callback`` is a request, not an answer).
CHECK_IN_QUESTIONS: tuple[str, ...] = (
    "anxiety",
    "sleep_hours",
    "tremor",
    "sweating",
    "palpitations",
    "nausea_or_vomiting",
    "hallucinations",
    "seizure_like_episode",
    "took_doses_as_prescribed",
)


class CheckIn(EventBase):
    """A patient-reported check-in from a telehealth app (daily, and after each taper step)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="CheckIn")

    kind: Literal["check_in"] = "check_in"
    anxiety: int | None = Field(default=None, ge=0, le=10, description="0 none to 10 worst.")
    sleep_hours: float | None = Field(default=None, ge=0, le=24, description="Last night, h.")
    tremor: bool | None = None
    sweating: bool | None = None
    palpitations: bool | None = None
    nausea_or_vomiting: bool | None = None
    hallucinations: bool | None = Field(default=None, description="Any, since the last check-in.")
    seizure_like_episode: bool | None = Field(
        default=None, description="Fit, blackout or jerking, since the last check-in."
    )
    took_doses_as_prescribed: bool | None = None
    wants_callback: bool = Field(default=False, description="The patient asks staff to call.")

    @model_validator(mode="after")
    def _something_reported(self) -> Self:
        answered = self.model_dump(include=set(CHECK_IN_QUESTIONS))
        if all(value is None for value in answered.values()) and not self.wants_callback:
            raise ValueError("a check-in must answer at least one question")
        return self
