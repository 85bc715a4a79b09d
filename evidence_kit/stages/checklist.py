"""Checklist stage: what the dispute reason needs against the evidence the earlier stages wrote."""
from __future__ import annotations

from ..dispute.checklist import check_evidence
from ..stage import StageContext

NAME = "checklist"


def run(ctx: StageContext) -> None:
    ctx.checklist = check_evidence(ctx.case, ctx.ledger.outputs)
    for gap in ctx.checklist.gaps:
        ctx.warn(gap.message if gap.required else f"{gap.message} (recommended)", stage=NAME)
