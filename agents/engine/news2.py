"""NEWS2 (Royal College of Physicians, 2017 [R1]): the chart, the aggregate and its band.

Inputs are rounded before scoring (clinical.md section 11.4): temperature to 0.1 Cel, every
other input to a whole number, half away from zero, so 38.05 scores as 38.1 and 130.5 as 131.
Decimal rounding is used because binary floats round 38.05 down.

SpO2 scale 2 (target 88-92 %) is used only when the enrolment records it; the software never
infers it (RCP 2017 [R1]; clinical.md section 2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from schemas.state import News2Band

Acvpu = Literal["A", "C", "V", "P", "U"]

#: The parameters of the chart, in its order.
PARAMETERS = (
    "respiratory_rate",
    "spo2",
    "supplemental_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)


def round_half_up(value: float, places: int = 0) -> float:
    """``value`` rounded half away from zero to ``places`` decimals."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def rounded(measure: str, value: float) -> float:
    """A reading as the rules see it: temperature to 0.1, everything else whole."""
    return round_half_up(value, 1 if measure == "temperature" else 0)


def score_respiratory_rate(rate: float) -> int:
    """Respiration rate /min: <=8: 3, 9-11: 1, 12-20: 0, 21-24: 2, >=25: 3."""
    if rate <= 8:
        return 3
    if rate <= 11:
        return 1
    if rate <= 20:
        return 0
    if rate <= 24:
        return 2
    return 3


def score_spo2(spo2: float, *, scale: Literal[1, 2], on_oxygen: bool) -> int:
    """SpO2 %, scale 1 (<=91: 3, 92-93: 2, 94-95: 1, >=96: 0) or scale 2 (<=83: 3, 84-85: 2,
    86-87: 1, 88-92 or >=93 on air: 0, 93-94 on O2: 1, 95-96 on O2: 2, >=97 on O2: 3)."""
    if scale == 1:
        if spo2 <= 91:
            return 3
        if spo2 <= 93:
            return 2
        if spo2 <= 95:
            return 1
        return 0
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    if spo2 <= 92 or not on_oxygen:
        return 0
    if spo2 <= 94:
        return 1
    if spo2 <= 96:
        return 2
    return 3


def score_oxygen(on_oxygen: bool) -> int:
    """Air: 0, supplemental oxygen: 2."""
    return 2 if on_oxygen else 0


def score_systolic_bp(systolic: float) -> int:
    """Systolic mmHg: <=90: 3, 91-100: 2, 101-110: 1, 111-219: 0, >=220: 3."""
    if systolic <= 90:
        return 3
    if systolic <= 100:
        return 2
    if systolic <= 110:
        return 1
    if systolic <= 219:
        return 0
    return 3


def score_pulse(pulse: float) -> int:
    """Pulse /min: <=40: 3, 41-50: 1, 51-90: 0, 91-110: 1, 111-130: 2, >=131: 3."""
    if pulse <= 40:
        return 3
    if pulse <= 50:
        return 1
    if pulse <= 90:
        return 0
    if pulse <= 110:
        return 1
    if pulse <= 130:
        return 2
    return 3


def score_consciousness(level: Acvpu) -> int:
    """Alert: 0; new confusion, voice, pain or unresponsive: 3."""
    return 0 if level == "A" else 3


def score_temperature(celsius: float) -> int:
    """Temperature Cel: <=35.0: 3, 35.1-36.0: 1, 36.1-38.0: 0, 38.1-39.0: 1, >=39.1: 2."""
    if celsius <= 35.0:
        return 3
    if celsius <= 36.0:
        return 1
    if celsius <= 38.0:
        return 0
    if celsius <= 39.0:
        return 1
    return 2


@dataclass(frozen=True)
class ObservationSet:
    """The seven NEWS2 inputs of one complete observation set (unrounded)."""

    respiratory_rate: float
    spo2: float
    supplemental_oxygen: bool
    systolic_bp: float
    heart_rate: float
    consciousness: Acvpu
    temperature: float


@dataclass(frozen=True)
class News2Score:
    """The aggregate, each parameter's score and the clinical-risk band."""

    total: int
    parameters: dict[str, int]
    band: News2Band

    @property
    def single_parameter_3(self) -> bool:
        """Whether any one parameter scores 3 (the 'low-medium' trigger)."""
        return any(score == 3 for score in self.parameters.values())


def band_of(total: int, single_parameter_3: bool) -> News2Band:
    """RCP 2017 bands: >=7 high, 5-6 medium, a single 3 low-medium, else low."""
    if total >= 7:
        return "high"
    if total >= 5:
        return "medium"
    if single_parameter_3:
        return "low_medium"
    return "low"


def score(observation: ObservationSet, *, scale: Literal[1, 2] = 1) -> News2Score:
    """Score a complete observation set on the RCP chart."""
    on_oxygen = observation.supplemental_oxygen
    parameters = {
        "respiratory_rate": score_respiratory_rate(
            rounded("respiratory_rate", observation.respiratory_rate)
        ),
        "spo2": score_spo2(rounded("spo2", observation.spo2), scale=scale, on_oxygen=on_oxygen),
        "supplemental_oxygen": score_oxygen(on_oxygen),
        "systolic_bp": score_systolic_bp(rounded("systolic_bp", observation.systolic_bp)),
        "heart_rate": score_pulse(rounded("heart_rate", observation.heart_rate)),
        "consciousness": score_consciousness(observation.consciousness),
        "temperature": score_temperature(rounded("temperature", observation.temperature)),
    }
    total = sum(parameters.values())
    single = any(value == 3 for value in parameters.values())
    return News2Score(total=total, parameters=parameters, band=band_of(total, single))
