"""Turning the ward's trajectories into the messages gateways would send, mess included."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from schemas import CiwaBItems, InboundEvent
from streams.ward.cohort import PatientProfile, make_cohort
from streams.ward.episodes import Episode, draw_episodes
from streams.ward.trajectory import Effects, circadian, intensity, peak_hours, withdrawal_effects

Label = Literal["valid", "artefact", "malformed", "duplicate", "late"]

TICK = timedelta(minutes=15)
_ITEMS = list(CiwaBItems.model_fields)
_SIMULATION_NAMESPACE = uuid.UUID("0b6f6a59-7c1e-4b55-b1d0-5b9cbf7a1f10")

#: Shares of messages that go wrong, per kind of mess.
ARTEFACT_RATE = 0.01
MISSING_RATE = 0.03
LATE_RATE = 0.02
DUPLICATE_RATE = 0.01
MALFORMED_RATE = 0.005


@dataclass(frozen=True)
class SimMessage:
    """One message as a gateway sends it: when, with which key, which bytes."""

    send_at: datetime
    key: bytes
    value: bytes
    label: Label
    kind: str


@dataclass
class Simulation:
    """A whole run: the cohort, the ground truth and the messages in send order."""

    patients: list[PatientProfile]
    episodes: list[Episode]
    messages: list[SimMessage] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None

    def valid_events(self) -> int:
        """Messages meant to be accepted (duplicates and late ones included)."""
        return sum(1 for m in self.messages if m.label in ("valid", "late", "duplicate"))

    def patient_days(self) -> float:
        """Days under monitoring, summed over patients: admission (or start) to the run's end."""
        if self.start is None or self.end is None:
            return 0.0
        end = self.end
        spans = [end - max(p.admitted_at, self.start) for p in self.patients]
        return sum(span.total_seconds() for span in spans if span > timedelta(0)) / 86400


class _Patient:
    """Generates one patient's events tick by tick."""

    def __init__(self, profile: PatientProfile, episodes: list[Episode], rng: random.Random):
        self.p = profile
        self.episodes = episodes
        self.rng = rng
        self.prn_until: datetime | None = None
        self.counter = 0
        self.taper_step = 0

    def _event_id(self) -> str:
        self.counter += 1
        return str(uuid.uuid5(_SIMULATION_NAMESPACE, f"{self.p.patient_id}/{self.counter}"))

    def _envelope(self, kind: str, at: datetime, source: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "event_id": self._event_id(),
            "patient_id": self.p.patient_id,
            "device_id": self.p.device_id,
            "ward": self.p.ward,
            "source": source,
            "observed_at": at.isoformat(),
        }

    def hours_since_dose(self, at: datetime) -> float:
        return (at - self.p.last_dose_at).total_seconds() / 3600

    def in_peak_window(self, at: datetime) -> bool:
        hours = self.hours_since_dose(at)
        peak = peak_hours(self.p.half_life_class)
        return peak * 0.33 <= hours <= peak * 1.4

    def effects(self, at: datetime) -> Effects:
        level = intensity(self.hours_since_dose(at), self.p.half_life_class) * self.p.severity
        if self.p.programme == "telehealth":
            level *= 0.7
        if self.prn_until is not None and at < self.prn_until:
            level *= 0.6
        total = withdrawal_effects(level)
        for episode in self.episodes:
            total = total + episode.effects(at)
        return total

    def silent(self, at: datetime) -> bool:
        return any(e.kind == "silent_device" and e.active(at) for e in self.episodes)

    def episode_active(self, at: datetime) -> bool:
        return any(e.active(at) and e.kind != "silent_device" for e in self.episodes)

    def enrolment(self) -> dict[str, Any]:
        event = self._envelope("enrolment", self.p.admitted_at, "ehr")
        event["device_id"] = "ehr"
        event.update(
            programme=self.p.programme,
            drug=self.p.drug,
            last_dose_at=self.p.last_dose_at.isoformat(),
            risk_factors=["seizure_history"] if self.p.seizure_history else [],
            risk_tier="high" if self.p.seizure_history else "standard",
        )
        return event

    def vitals(self, at: datetime) -> dict[str, Any]:
        rng, e = self.rng, self.effects(at)
        rhythm = circadian(at.hour + at.minute / 60)
        systolic = self.p.resting_systolic + e.systolic + 4 * rhythm + rng.gauss(0, 5)
        diastolic = min(
            self.p.resting_diastolic + e.diastolic + 2 * rhythm + rng.gauss(0, 3), systolic - 15
        )
        source = "telehealth_app" if self.p.programme == "telehealth" else "bedside_monitor"
        event = self._envelope("vital_signs", at, source)
        event.update(
            heart_rate=round(self.p.resting_pulse + e.pulse + 4 * rhythm + rng.gauss(0, 3)),
            systolic_bp=round(systolic),
            diastolic_bp=round(diastolic),
            temperature=round(self.p.resting_temperature + e.temperature + rng.gauss(0, 0.1), 1),
            spo2=round(min(100.0, 97.5 - 0.5 * e.respiratory_rate / 5 + rng.gauss(0, 0.7))),
            respiratory_rate=round(
                self.p.resting_respiratory_rate + e.respiratory_rate + rng.gauss(0, 1)
            ),
            consciousness="A",
            supplemental_oxygen=False,
        )
        return event

    def ciwa_b(self, at: datetime) -> dict[str, Any]:
        patient_only = self.p.programme == "telehealth"
        rated = _ITEMS[:17] if patient_only else _ITEMS
        target = round(
            min(4 * len(rated), max(0.0, self.effects(at).ciwa_b + self.rng.gauss(0, 3)))
        )
        items = dict.fromkeys(_ITEMS, 0)
        while sum(items.values()) < target:
            name = self.rng.choice(rated)
            if items[name] < 4:
                items[name] += 1
        event = self._envelope("ciwa_b", at, "telehealth_app" if patient_only else "manual_entry")
        event.update(
            items=items, rated_by="patient_only" if patient_only else "patient_and_observer"
        )
        return event

    def check_in(self, at: datetime) -> dict[str, Any]:
        e = self.effects(at)
        event = self._envelope("check_in", at, "telehealth_app")
        event.update(
            anxiety=min(10, round(2 + e.ciwa_b / 6 + self.rng.gauss(0, 1))),
            sleep_hours=round(max(0.0, 7 - e.ciwa_b / 10 + self.rng.gauss(0, 0.7)), 1),
            tremor=e.ciwa_b > 20,
            sweating=e.ciwa_b > 25,
            palpitations=e.pulse > 25,
            seizure_like_episode=any(
                ep.kind == "seizure" and at - timedelta(days=1) <= ep.start < at
                for ep in self.episodes
            ),
            took_doses_as_prescribed=True,
        )
        return event

    def dose(self, at: datetime, *, as_needed: bool) -> dict[str, Any]:
        event = self._envelope("dose", at, "manual_entry" if as_needed else "telehealth_app")
        event.update(drug="diazepam", dose_mg=10 if as_needed else 5, as_needed=as_needed)
        if not as_needed:
            event["taper_step"] = self.taper_step
        return event

    def seizure(self, at: datetime) -> dict[str, Any]:
        event = self._envelope("clinical_event", at, "manual_entry")
        event.update(event_type="seizure", severity="severe", duration_s=90)
        return event

    def events_at(self, at: datetime) -> list[dict[str, Any]]:
        """Everything this patient produces in the tick starting at ``at``."""
        out: list[dict[str, Any]] = []
        since_admission = at - self.p.admitted_at
        if since_admission < timedelta(0):
            return out
        if since_admission < TICK:
            out.append(self.enrolment())
        minutes = int(since_admission.total_seconds() // 60)
        peak = self.in_peak_window(at) or self.episode_active(at)
        if self.p.programme == "inpatient":
            vitals_every = 60 if peak else 240
            ciwa_every = 240 if self.in_peak_window(at) else 24 * 60
        else:
            vitals_every, ciwa_every = 12 * 60, 24 * 60
        if minutes % vitals_every == 0 and not self.silent(at):
            out.append(self.vitals(at))
        if minutes % ciwa_every == 0:
            assessment = self.ciwa_b(at)
            out.append(assessment)
            total = sum(assessment["items"].values())
            if self.p.programme == "inpatient" and total >= 21:
                out.append(self.dose(at + timedelta(minutes=10), as_needed=True))
                self.prn_until = at + timedelta(hours=6)
        if self.p.programme == "telehealth" and minutes % (24 * 60) == 60:
            out.append(self.check_in(at))
            if since_admission.days and since_admission.days % 3 == 0:
                self.taper_step += 1
            out.append(self.dose(at, as_needed=False))
        for episode in self.episodes:
            if episode.kind == "seizure" and at <= episode.start < at + TICK:
                out.append(self.seizure(episode.start))
        return out


def _mess(event: dict[str, Any], rng: random.Random) -> list[tuple[timedelta, bytes, Label]]:
    """The event as sent: usually once and intact, sometimes not."""
    body = json.dumps(event).encode()
    roll = rng.random()
    if event["kind"] == "vital_signs":
        if roll < MISSING_RATE:
            return []
        roll -= MISSING_RATE
        if roll < ARTEFACT_RATE:
            broken = dict(event, heart_rate=rng.choice([320, 350]), spo2=rng.choice([101, 97]))
            return [(timedelta(0), json.dumps(broken).encode(), "artefact")]
        roll -= ARTEFACT_RATE
    if roll < LATE_RATE:
        return [(timedelta(minutes=rng.uniform(20, 40)), body, "late")]
    roll -= LATE_RATE
    if roll < DUPLICATE_RATE:
        return [(timedelta(0), body, "valid"), (timedelta(seconds=30), body, "duplicate")]
    roll -= DUPLICATE_RATE
    if roll < MALFORMED_RATE:
        return [(timedelta(0), body[: len(body) // 2], "malformed")]
    return [(timedelta(0), body, "valid")]


def simulate(
    patients: int, *, hours: float, seed: int, start: datetime, telehealth_share: float = 0.25
) -> Simulation:
    """A deterministic run: the same arguments give the same messages byte for byte."""
    rng = random.Random(seed)
    end = start + timedelta(hours=hours)
    cohort = make_cohort(patients, seed=seed, start=start, telehealth_share=telehealth_share)
    simulation = Simulation(patients=cohort, episodes=[], start=start, end=end)
    generators = []
    for profile in cohort:
        episodes = draw_episodes(profile, end=end, rng=rng)
        simulation.episodes.extend(episodes)
        generators.append(_Patient(profile, episodes, random.Random(rng.getrandbits(64))))
    messages: list[tuple[datetime, int, SimMessage]] = []
    at, order = start, 0
    while at < end:
        for generator in generators:
            for event in generator.events_at(at):
                observed = datetime.fromisoformat(event["observed_at"])
                for delay, value, label in _mess(event, rng):
                    order += 1
                    message = SimMessage(
                        send_at=observed + delay,
                        key=generator.p.patient_id.encode(),
                        value=value,
                        label=label,
                        kind=event["kind"],
                    )
                    messages.append((message.send_at, order, message))
        at += TICK
    simulation.messages = [m for _, _, m in sorted(messages, key=lambda item: item[:2])]
    return simulation


def parse_sent(message: SimMessage) -> InboundEvent | None:
    """The event a message carries, if it is well-formed (for tests and reports)."""
    from schemas import INBOUND_EVENT

    try:
        return INBOUND_EVENT.validate_json(message.value)
    except ValueError:
        return None
