"""Dose administration: what was given, and its diazepam equivalent for display.

The diazepam equivalent comes from the cited table in :mod:`schemas.drugs` (Ashton [R12]). It
is for display and taper-rate review only; the pipeline never computes a dose.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from schemas.common import EventBase
from schemas.drugs import Drug, diazepam_equivalent_mg

Route = Literal["oral", "sublingual", "intravenous", "intramuscular", "rectal", "intranasal"]


class DoseAdministration(EventBase):
    """A dose given (inpatient) or taken (telehealth); ``observed_at`` is when."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="DoseAdministration")

    kind: Literal["dose"] = "dose"
    drug: Drug
    dose_mg: float = Field(gt=0, le=1000, description="Dose in mg.")
    route: Route = "oral"
    diazepam_equivalent_mg: float | None = Field(
        default=None,
        description="Approximate diazepam equivalent (Ashton table); computed, null if unknown.",
    )
    taper_step: int | None = Field(
        default=None, ge=0, description="Index of the taper step this dose belongs to."
    )
    as_needed: bool = Field(default=False, description="A PRN (as-needed) dose.")

    @model_validator(mode="before")
    @classmethod
    def _derive_equivalent(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        drug, dose = data.get("drug"), data.get("dose_mg")
        if not isinstance(drug, str) or not isinstance(dose, int | float) or isinstance(dose, bool):
            return data
        computed = diazepam_equivalent_mg(drug, float(dose))
        sent = data.get("diazepam_equivalent_mg")
        if sent is not None and computed is not None and abs(float(sent) - computed) > 0.01:
            raise ValueError(
                f"diazepam_equivalent_mg {sent} does not match the table's {computed} "
                f"for {dose} mg {drug}"
            )
        return {**data, "diazepam_equivalent_mg": computed}
