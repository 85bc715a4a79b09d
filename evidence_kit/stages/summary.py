"""Summary stage: ``summary.pdf`` at the package root (role "summary", not uploaded), from the typed results."""
from __future__ import annotations

from ..errors import MissingDependencyError
from ..report.summary import SUMMARY_NAME, SUMMARY_ROLE, SummaryInputs, render_summary
from ..stage import StageContext

NAME = "summary"
NEEDS = ("fc-match", "fc-list")


def run(ctx: StageContext) -> None:
    ctx.report(NAME, 0, 1)
    try:
        if missing := ctx.tools.problem(*NEEDS):
            raise missing
        # The footer's hash covers the manifest as it stands now, sections included (manifest.summary_hash).
        ctx.ledger.sections = ctx.manifest_sections()
        results = SummaryInputs(deadlines=ctx.deadlines, checklist=ctx.checklist, video=ctx.video,
                                tracking=ctx.tracking)
        ctx.summary = render_summary(ctx.case, ctx.ledger, ctx.staging, ctx.staging / SUMMARY_NAME,
                                     results=results, today=ctx.options.today)
    except MissingDependencyError as exc:  # the upload files are still good: say why the PDF is missing
        ctx.error(f"summary.pdf not written: {exc.message}", SUMMARY_NAME, NAME, int(exc.exit_code))
        return
    ctx.add_output(ctx.summary.path, SUMMARY_ROLE, upload=False, pages=ctx.summary.pages,
                   manifest_hash=ctx.summary.manifest_hash)
    ctx.report(NAME, 1, 1)
