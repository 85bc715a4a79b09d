"""Deadlines stage: the dispute's key dates, what to do today and where the case stands (its stage, which
decides the texts), from the order dates and the profile."""
from __future__ import annotations

from datetime import date

from ..dispute.complaint import stage_of
from ..dispute.deadlines import APPEAL_OPEN, DISPUTE_OPEN, OPEN_NOW, compute_deadlines
from ..stage import StageContext

NAME = "deadlines"


def run(ctx: StageContext) -> None:
    today = ctx.options.today or date.today()
    ctx.deadlines = report = compute_deadlines(ctx.case, today)
    report.stage = stage_of(ctx.case, today)
    if report.status not in (OPEN_NOW, DISPUTE_OPEN, APPEAL_OPEN):  # too early, urgent, too late or unknown
        ctx.warn(f"deadlines: {report.advice}", stage=NAME)
