"""The patient snapshot published after each event: scores, phase and alert count.

NEWS2 older than the cadence is flagged stale, so a dashboard never shows an old score as the
patient's current one.
"""

from __future__ import annotations

from datetime import datetime

from agents.engine.context import Context
from schemas.alerts import PRIORITY_RANK
from schemas.assessments import ciwa_b_band
from schemas.state import PatientSnapshot


def build_snapshot(ctx: Context, moment: datetime) -> PatientSnapshot:
    """The snapshot of ``ctx.state`` at ``moment`` (event time)."""
    state = ctx.state
    phase = ctx.phase(moment)
    ciwa = state.latest_ciwa_b()
    notified = [record for record in state.alerts.values() if record.notified]
    highest = max(
        (record.priority for record in notified), key=PRIORITY_RANK.__getitem__, default=None
    )
    return PatientSnapshot(
        patient_id=state.patient_id,
        ward=ctx.ward,
        at=moment,
        news2=state.news2.total if state.news2 else None,
        news2_band=state.news2.band if state.news2 else None,
        news2_stale=ctx.news2_stale(moment),
        ciwa_b=ciwa.total if ciwa else None,
        ciwa_b_band=ciwa_b_band(ciwa.total) if ciwa else None,
        phase=phase.phase,
        hours_since_last_dose=phase.hours_since_last_dose,
        in_peak_window=phase.in_peak_window,
        peak_window_start_h=phase.peak_start_h,
        peak_window_end_h=phase.peak_end_h,
        taper_step=state.taper_step,
        half_life_class=phase.half_life_class,
        programme=state.enrolment.programme if state.enrolment else None,
        active_alerts=len(notified),
        highest_priority=highest,
    )
