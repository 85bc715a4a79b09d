"""Deadlines stage: the dispute's key dates and what to do today, from the order dates and the profile."""
from __future__ import annotations

from datetime import date

from ..dispute.deadlines import APPEAL_OPEN, DISPUTE_OPEN, OPEN_NOW, compute_deadlines
from ..stage import StageContext

NAME = "deadlines"


def run(ctx: StageContext) -> None:
    ctx.deadlines = report = compute_deadlines(ctx.case, ctx.options.today or date.today())
    if report.status not in (OPEN_NOW, DISPUTE_OPEN, APPEAL_OPEN):  # too early, urgent, too late or unknown
        ctx.warn(f"deadlines: {report.advice}", stage=NAME)
