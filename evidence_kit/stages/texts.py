"""Texts stage: the message to the seller, the dispute description (uploaded) and the appeal."""
from __future__ import annotations

from datetime import date

from ..dispute.complaint import KINDS, TEXT_FILES, compose, notes_warnings, write_text
from ..errors import LimitError
from ..model.manifest import exhibits
from ..stage import StageContext

NAME = "texts"


def run(ctx: StageContext) -> None:
    case = ctx.case
    today = ctx.options.today or date.today()
    lettered = exhibits(ctx.ledger.outputs)
    for message in notes_warnings(case):
        ctx.warn(message, stage=NAME)
    for i, kind in enumerate(KINDS):
        ctx.report(NAME, i, len(KINDS), kind)
        try:
            composed, _ = compose(case, kind, today=today, lettered=lettered)
            written = write_text(composed, ctx.staging)
        except LimitError as exc:
            ctx.error(exc.message, TEXT_FILES[kind], NAME, int(exc.exit_code))
            continue
        ctx.add_output(ctx.staging / written.path, "complaint", upload=kind == "dispute", kind=kind,
                       chars=written.chars, limit=written.limit, dropped=written.dropped,
                       shortened=written.shortened)
        ctx.texts[kind] = written
    ctx.report(NAME, 1, 1)
