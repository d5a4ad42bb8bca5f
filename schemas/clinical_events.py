"""Clinical events recorded by staff or detected by devices: seizures, hallucinations, falls.

Coded only: free text could carry names, so notes stay in the clinical record, not here.
Sedation uses the SA Health scale (0 awake, 1 easy to rouse, 2 easy to rouse but unable to
stay awake, 3 difficult to rouse [R16]).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from schemas.common import EventBase

ClinicalEventType = Literal[
    "seizure",
    "hallucinations",
    "delirium",
    "new_confusion",
    "fall",
    "vomiting",
    "agitation",
    "self_harm_risk",
    "over_sedation",
    "other",
]


class ClinicalEvent(EventBase):
    """Something that happened to the patient, as opposed to a measurement."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="ClinicalEvent")

    kind: Literal["clinical_event"] = "clinical_event"
    event_type: ClinicalEventType
    severity: Literal["mild", "moderate", "severe"] | None = None
    sedation_score: int | None = Field(
        default=None, ge=0, le=3, description="SA Health sedation score, for over_sedation."
    )
    duration_s: float | None = Field(
        default=None, ge=0, le=86400, description="Duration, e.g. of a seizure, in seconds."
    )

    @model_validator(mode="after")
    def _sedation_only_for_over_sedation(self) -> Self:
        if self.sedation_score is not None and self.event_type != "over_sedation":
            raise ValueError("sedation_score is only valid with event_type 'over_sedation'")
        return self
