"""Derived patient state, published by the rule engine after each event it evaluates.

The storage sink writes it as the ``scores`` and ``patient_state`` measurements, which the
ward and patient dashboards read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.alerts import Phase
from schemas.assessments import CiwaBBand
from schemas.common import PatientId, WardId
from schemas.drugs import HalfLifeClass

#: NEWS2 clinical-risk bands (RCP 2017 [R1]): low 0-4, low-medium for a single parameter
#: scoring 3, medium 5-6, high 7 or more.
News2Band = Literal["low", "low_medium", "medium", "high"]


class PatientSnapshot(BaseModel):
    """Scores, phase and alert count of one patient as of ``at`` (event time)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="PatientSnapshot")

    kind: Literal["patient_snapshot"] = "patient_snapshot"
    schema_version: Literal[1] = 1
    patient_id: PatientId
    ward: WardId | None = None
    at: AwareDatetime
    news2: int | None = Field(default=None, ge=0, le=20)
    news2_band: News2Band | None = None
    news2_stale: bool = False
    ciwa_b: int | None = Field(default=None, ge=0, le=80)
    ciwa_b_band: CiwaBBand | None = None
    phase: Phase = "unknown"
    hours_since_last_dose: float | None = None
    in_peak_window: bool = False
    peak_window_start_h: float | None = Field(default=None, description="Hours after last dose.")
    peak_window_end_h: float | None = None
    taper_step: int | None = None
    half_life_class: HalfLifeClass | None = None
    programme: Literal["inpatient", "telehealth"] | None = None
    active_alerts: int = Field(default=0, ge=0)
    highest_priority: Literal["high", "medium", "low"] | None = None
