"""A seeded simulator of a detox ward and a telehealth cohort, with ground truth.

Patients follow a withdrawal course whose severity rises to a peak (about 72 h after the last
dose for short-acting drugs, later and flatter for long-acting ones; clinical.md section 4.2)
and subsides. Vitals follow it with noise and a daily rhythm; CIWA-B is scored at the
protocol's cadence; telehealth patients send daily check-ins. Labelled deterioration episodes
are injected and recorded so a run can report how well the rules detected them. The messages
include the real world's mess: artefacts, gaps, a silent device, late, duplicated and
malformed messages.
"""

from streams.ward.cohort import PatientProfile, make_cohort
from streams.ward.episodes import Episode, EpisodeKind
from streams.ward.messages import SimMessage, Simulation, simulate

__all__ = [
    "Episode",
    "EpisodeKind",
    "PatientProfile",
    "SimMessage",
    "Simulation",
    "make_cohort",
    "simulate",
]
