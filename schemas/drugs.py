"""Benzodiazepines and Z-drugs: half-life class and diazepam equivalence.

Sources (see ``shared/reference/clinical.md`` sections 4.1 and 5.1):

- Half-life class: this project's grouping of published half-lives (Buysse 2013, JAMA
  309(7) Table 3 [R15]; NHS Scotland quality-prescribing guide 2024-2027 [R14]): short or
  intermediate below about 24 h without a long-lived active metabolite, long otherwise.
- Diazepam equivalents: Ashton, Benzodiazepine Equivalence Table, rev. 2007 [R12]; UK tables
  agree [R14]. Where Ashton gives a range (estazolam 1-2 mg, flurazepam 15-30 mg), the lower
  dose is used, which gives the higher (more cautious) diazepam equivalent.

Equivalents are estimates that vary between individuals and sources by up to twofold
(VA/DoD 2021 differs for alprazolam, clonazepam, lorazepam, quazepam, triazolam). The
pipeline displays them; it never computes a dose.
"""

from __future__ import annotations

from typing import Final, Literal

HalfLifeClass = Literal["short", "intermediate", "long", "unknown"]

Drug = Literal[
    "alprazolam",
    "chlordiazepoxide",
    "clobazam",
    "clonazepam",
    "clorazepate",
    "diazepam",
    "estazolam",
    "flurazepam",
    "loprazolam",
    "lorazepam",
    "lormetazepam",
    "nitrazepam",
    "oxazepam",
    "quazepam",
    "temazepam",
    "triazolam",
    "zaleplon",
    "zolpidem",
    "zopiclone",
    "unknown",
]

#: Oral dose (mg) approximately equivalent to 10 mg diazepam (Ashton [R12]; UK [R14] for
#: clobazam, nitrazepam, loprazolam, lormetazepam and the Z-drugs). "zaleplon" is unverified
#: in clinical.md and therefore absent: its equivalent is unknown.
EQUIVALENT_TO_10MG_DIAZEPAM: Final[dict[str, float]] = {
    "alprazolam": 0.5,
    "chlordiazepoxide": 25.0,
    "clobazam": 20.0,
    "clonazepam": 0.5,
    "clorazepate": 15.0,
    "diazepam": 10.0,
    "estazolam": 1.0,
    "flurazepam": 15.0,
    "loprazolam": 1.0,
    "lorazepam": 1.0,
    "lormetazepam": 1.0,
    "nitrazepam": 10.0,
    "oxazepam": 20.0,
    "quazepam": 20.0,
    "temazepam": 20.0,
    "triazolam": 0.5,
    "zolpidem": 20.0,
    "zopiclone": 15.0,
}

#: Default half-life class per drug (clinical.md section 4.1). Alprazolam (6-20 h) is grouped
#: with the short-acting drugs because its withdrawal carries the highest seizure risk
#: (SA Health [R16]).
HALF_LIFE_CLASS: Final[dict[str, HalfLifeClass]] = {
    "alprazolam": "short",
    "triazolam": "short",
    "zolpidem": "short",
    "zopiclone": "short",
    "zaleplon": "short",
    "lorazepam": "intermediate",
    "oxazepam": "intermediate",
    "temazepam": "intermediate",
    "lormetazepam": "intermediate",
    "loprazolam": "intermediate",
    "estazolam": "intermediate",
    "nitrazepam": "long",
    "clonazepam": "long",
    "clobazam": "long",
    "diazepam": "long",
    "chlordiazepoxide": "long",
    "clorazepate": "long",
    "flurazepam": "long",
    "quazepam": "long",
    "unknown": "unknown",
}


def diazepam_equivalent_mg(drug: str, dose_mg: float) -> float | None:
    """The approximate diazepam-equivalent of ``dose_mg`` of ``drug``, or None if unknown."""
    equivalent = EQUIVALENT_TO_10MG_DIAZEPAM.get(drug)
    if equivalent is None:
        return None
    return round(dose_mg * 10.0 / equivalent, 2)


def default_half_life_class(drug: str) -> HalfLifeClass:
    """The drug's default half-life class ("unknown" for an unlisted drug)."""
    return HALF_LIFE_CLASS.get(drug, "unknown")
