"""Texts stage: the texts the case's stage needs (``dispute.stage``) among the message to the seller, the
dispute description (uploaded), the appeal, and the report against the seller when the facts show a Trade
Rules violation.

Runs after the tracking stage; the latest event of the case's tracking events files (tracking.csv / .json)
fills ``tracking_last_update``/``tracking_last_status`` when case.toml leaves them out.
"""
from __future__ import annotations

from datetime import date

from ..dispute.complaint import (TEXT_FILES, compose, kinds_for, notes_warnings, stage_of, tracking_events,
                                 with_tracking_facts, write_text)
from ..errors import LimitError
from ..model.manifest import Hinted, exhibits
from ..stage import StageContext

NAME = "texts"


def run(ctx: StageContext) -> None:
    case, filled = with_tracking_facts(ctx.case, tracking_events(ctx.case))
    today = ctx.options.today or date.today()
    lettered = exhibits(ctx.ledger.outputs)
    for message in notes_warnings(case, today):
        ctx.warn(message, stage=NAME)  # a Hinted message keeps its command-line hint apart
    # The deadlines stage worked the stage out (manifest: deadlines.stage); alone, the stage is worked out here.
    stage = ctx.deadlines.stage if ctx.deadlines and ctx.deadlines.stage else stage_of(case, today)
    kinds = kinds_for(case, stage=stage)
    if not kinds:
        ctx.warn(Hinted(f"no texts for this stage ({stage.title}): {stage.headline}", kind="no_texts_for_stage",
                        stage=stage.key), stage=NAME)
    for i, kind in enumerate(kinds):
        ctx.report(NAME, i, len(kinds), kind)
        try:
            composed, _ = compose(case, kind, today=today, lettered=lettered)
            written = write_text(composed, ctx.staging)
        except LimitError as exc:
            ctx.error(exc.message, TEXT_FILES[kind], NAME, int(exc.exit_code))
            continue
        for message in composed.length_warnings():
            ctx.warn(message, TEXT_FILES[kind], NAME)
        ctx.add_output(ctx.staging / written.path, "complaint", upload=kind == "dispute", kind=kind,
                       chars=written.chars, limit=written.limit, dropped=written.dropped,
                       shortened=written.shortened, repeated_notes_left_out=written.repeated,
                       dropped_for_length=written.dropped_sentences, notes_left_out=written.notes_left_out,
                       stage=stage.key, facts_from_tracking_events=filled)
        ctx.texts[kind] = written
    ctx.report(NAME, 1, 1)
