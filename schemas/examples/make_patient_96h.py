"""Write ``patient-96h.jsonl``: one scripted patient's first 96 hours of supervised withdrawal.

Run ``python schemas/examples/make_patient_96h.py`` to regenerate; the output is the same
every time (fixed times, ids derived from a namespace), and a test fails if the committed file
differs. It uses only the contract (``schemas``) and the standard library.

The story (all times UTC, Monday 2025-03-03 08:00 is hour 0):

- hour 0: enrolled on ward 3, alprazolam (short-acting), last dose 2 h before admission;
  two more alprazolam doses at hours 2 and 6, so the clock restarts at hour 6 and the
  peak-risk window (24-96 h after the last dose) runs from hour 30 to hour 102.
- vitals every 4 h from a bedside monitor; CIWA-B every 12 h, every 4 h inside the window.
- hour 72-76 (Thursday): autonomic signs climb. At 12:00 the pulse is 112 and the systolic
  168 (low alerts: pulse above 100 in the window, systolic 30 above baseline); at 12:10 the
  CIWA-B is 24, up 12 in a day: moderate withdrawal (medium), a 10-point rise (low), and,
  with tachycardia inside the peak window, the high-priority combination. Unacknowledged, it
  escalates to the charge nurse at 12:15 and the on-call physician at 12:20; at 12:22 the
  charge nurse, now at the bedside, acknowledges it and the CIWA-B alert.
- 13:00: pulse 128 and systolic 186/104: pulse and blood-pressure alerts (medium). A PRN
  diazepam dose at 13:15 restarts the clock (long-acting: the window moves out to day 3 after
  it), so the peak-window alerts resolve. Unacknowledged, the pulse and blood-pressure alerts
  escalate to the charge nurse at 13:30; readings recover by 14:00-15:00, every alert
  resolves, and hourly observations return to 4-hourly.

An acknowledgement names its alert by id. Alert ids are uuid5 of
``"{patient}:{rule}:{fired at, UTC ISO 8601}"`` in :data:`ALERT_NAMESPACE` (the engine's,
``agents.engine.lifecycle.alert_id_for``, which adds a counter only when a rule fires twice at
one instant, as it never does here; a test checks the two agree).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.acks import AlertAcknowledgement
from schemas.assessments import CiwaBAssessment
from schemas.common import EventBase
from schemas.doses import DoseAdministration
from schemas.enrolment import Enrolment
from schemas.vitals import VitalSignsObservation

OUTPUT = Path(__file__).with_name("patient-96h.jsonl")
PATIENT = "pt-example01"
WARD = "ward-3"
MONITOR = "bm-ward3-07"
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
#: The engine's namespace for alert ids (agents.engine.lifecycle.ALERT_NAMESPACE).
ALERT_NAMESPACE = uuid.UUID("5b0a1f9e-6a43-4f2c-9d3e-0c1d2e3f4a5b")
#: Namespace of this example's event ids.
EXAMPLE_NAMESPACE = uuid.UUID("7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d")

#: The alerts the charge nurse acknowledges at the bedside (rule, when it fired), and when.
ACKNOWLEDGED = (
    ("ciwa_rise_with_tachycardia_peak", START + timedelta(hours=76, minutes=10)),
    ("ciwa_b_severity", START + timedelta(hours=76, minutes=10)),
)
ACKNOWLEDGED_AT = START + timedelta(hours=76, minutes=22)

CIWA_B_ITEMS = (
    "irritability",
    "fatigue",
    "tension",
    "difficulty_concentrating",
    "loss_of_appetite",
    "numbness_or_burning",
    "racing_heart",
    "head_full_or_aching",
    "muscle_aches_or_stiffness",
    "anxious_nervous_jittery",
    "upset",
    "sleep_not_restful",
    "weakness",
    "sleep_not_enough",
    "visual_disturbance",
    "fearfulness",
    "worry_about_misfortunes",
    "restlessness_agitation",
    "tremor",
    "sweating",
)


def alert_id(rule_id: str, fired_at: datetime) -> uuid.UUID:
    """The engine's id for an alert of this patient."""
    moment = fired_at.astimezone(UTC).isoformat()
    return uuid.uuid5(ALERT_NAMESPACE, f"{PATIENT}:{rule_id}:{moment}")


class Script:
    """Builds the events in time order."""

    def __init__(self) -> None:
        self.events: list[tuple[datetime, int, EventBase | AlertAcknowledgement]] = []

    def _common(self, at: datetime, device: str, source: str) -> dict[str, Any]:
        index = len(self.events)
        return {
            "event_id": str(uuid.uuid5(EXAMPLE_NAMESPACE, f"{PATIENT}:{index}")),
            "patient_id": PATIENT,
            "device_id": device,
            "ward": WARD,
            "source": source,
            "observed_at": at.isoformat(),
        }

    def add(self, event: EventBase | AlertAcknowledgement, at: datetime) -> None:
        self.events.append((at, len(self.events), event))

    def enrol(self, hour: float) -> None:
        at = START + timedelta(hours=hour)
        self.add(
            Enrolment.model_validate(
                {
                    **self._common(at, "ehr-adt", "ehr"),
                    "programme": "inpatient",
                    "bed": "3-07",
                    "drug": "alprazolam",
                    "last_dose_at": (at - timedelta(hours=2)).isoformat(),
                    "daily_dose_mg": 2,
                    "risk_factors": ["high_dose"],
                }
            ),
            at,
        )

    def dose(self, hour: float, drug: str, mg: float, *, as_needed: bool = False) -> None:
        at = START + timedelta(hours=hour)
        self.add(
            DoseAdministration.model_validate(
                {
                    **self._common(at, "emar-ward3", "manual_entry"),
                    "drug": drug,
                    "dose_mg": mg,
                    "as_needed": as_needed,
                }
            ),
            at,
        )

    def vitals(
        self,
        hour: float,
        *,
        pulse: float,
        systolic: float,
        diastolic: float,
        rr: float = 16,
        temp: float = 36.8,
        spo2: float = 97,
    ) -> None:
        at = START + timedelta(hours=hour)
        self.add(
            VitalSignsObservation.model_validate(
                {
                    **self._common(at, MONITOR, "bedside_monitor"),
                    "heart_rate": pulse,
                    "systolic_bp": systolic,
                    "diastolic_bp": diastolic,
                    "temperature": temp,
                    "spo2": spo2,
                    "respiratory_rate": rr,
                    "consciousness": "A",
                    "supplemental_oxygen": False,
                }
            ),
            at,
        )

    def ciwa_b(self, hour: float, total: int) -> None:
        at = START + timedelta(hours=hour)
        items, left = {}, total
        for name in CIWA_B_ITEMS:
            items[name] = min(4, left)
            left -= items[name]
        self.add(
            CiwaBAssessment.model_validate(
                {**self._common(at, "tablet-ward3", "manual_entry"), "items": items}
            ),
            at,
        )

    def acknowledge(self, at: datetime, rule_id: str, fired_at: datetime) -> None:
        index = len(self.events)
        self.add(
            AlertAcknowledgement(
                ack_id=uuid.uuid5(EXAMPLE_NAMESPACE, f"{PATIENT}:ack:{index}"),
                alert_id=alert_id(rule_id, fired_at),
                patient_id=PATIENT,
                by="rn-4411",
                role="charge_nurse",
                reason="attending_patient",
                at=at,
                via="http",
            ),
            at,
        )

    def lines(self) -> list[str]:
        ordered = sorted(self.events, key=lambda item: (item[0], item[1]))
        # Gateways may not send the fields the pipeline stamps on arrival.
        return [
            json.dumps(
                event.model_dump(mode="json", exclude_none=True, exclude={"received_at", "late"}),
                sort_keys=True,
            )
            for _, _, event in ordered
        ]


#: A quiet 4-hourly course: (hour, pulse, systolic, diastolic, temperature).
QUIET_COURSE: list[tuple[float, float, float, float, float]] = [
    (0, 76, 122, 78, 36.7),
    (4, 80, 126, 80, 36.8),
    (8, 78, 124, 79, 36.7),
    (12, 74, 120, 76, 36.6),
    (16, 72, 118, 75, 36.5),
    (20, 77, 121, 77, 36.7),
    (24, 80, 125, 80, 36.8),
    (28, 82, 126, 80, 36.8),
    (32, 84, 128, 82, 36.9),
    (36, 83, 127, 81, 36.8),
    (40, 80, 124, 79, 36.7),
    (44, 84, 129, 82, 36.9),
    (48, 86, 131, 83, 37.0),
    (52, 88, 134, 84, 37.0),
    (56, 87, 133, 84, 36.9),
    (60, 85, 130, 83, 36.8),
    (64, 88, 136, 85, 37.0),
    (68, 90, 140, 86, 37.1),
    (72, 98, 150, 90, 37.4),
]

#: The episode and recovery, hourly: (hour, pulse, systolic, diastolic, rr, temperature).
EPISODE: list[tuple[float, float, float, float, float, float]] = [
    (76, 112, 168, 98, 21, 37.9),
    (77, 128, 186, 104, 22, 38.0),
    (78, 100, 160, 92, 18, 37.5),
    (79, 96, 140, 86, 17, 37.2),
]

#: Back to 4-hourly after the episode.
RECOVERY_COURSE: list[tuple[float, float, float, float, float]] = [
    (80, 92, 134, 84, 37.1),
    (84, 86, 128, 81, 36.9),
    (88, 82, 126, 80, 36.8),
    (92, 80, 124, 79, 36.7),
    (96, 78, 122, 78, 36.7),
]

#: CIWA-B totals: (hour, total). Every 12 h before the window (it opens at hour 30), every
#: 4 h inside it, then every 12 h once the PRN dose has moved it.
CIWA_B: list[tuple[float, int]] = [
    (1, 6),
    (13, 8),
    (25, 9),
    (32.2, 10),
    (36.2, 11),
    (40.2, 10),
    (44.2, 12),
    (48.2, 13),
    (52.2, 12),
    (56.2, 14),
    (60.2, 13),
    (64.2, 14),
    (68.2, 15),
    (72.2, 16),
    (76 + 10 / 60, 24),
    (78 + 10 / 60, 17),
    (88.2, 12),
]


def build() -> list[str]:
    """The example's JSON lines, in event-time order."""
    script = Script()
    script.enrol(0)
    script.dose(2, "alprazolam", 0.5)
    script.dose(6, "alprazolam", 0.5)
    for hour, pulse, systolic, diastolic, temp in QUIET_COURSE + RECOVERY_COURSE:
        script.vitals(hour, pulse=pulse, systolic=systolic, diastolic=diastolic, temp=temp)
    for hour, pulse, systolic, diastolic, rr, temp in EPISODE:
        script.vitals(hour, pulse=pulse, systolic=systolic, diastolic=diastolic, rr=rr, temp=temp)
    for hour, total in CIWA_B:
        script.ciwa_b(hour, total)
    for rule_id, fired_at in ACKNOWLEDGED:
        script.acknowledge(ACKNOWLEDGED_AT, rule_id, fired_at)
    script.dose(77.25, "diazepam", 10, as_needed=True)
    return script.lines()


def main() -> None:
    """Write the example file."""
    OUTPUT.write_text("\n".join(build()) + "\n", encoding="utf-8")
    print(OUTPUT)


if __name__ == "__main__":
    main()
