"""Photo stage: choose up to the profile's photo count, fit each under the byte limit, optionally grid the rest."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError, LimitError
from ..media.photos import PhotoAnalysis, analyse_photo, fit_photo, make_grid
from ..model.manifest import Hinted
from ..stage import PhotoSelection, StageContext
from .plan import SKIPPED, plan_photos

NAME = "photos"
NEEDS = ("jpegtran",)


def run(ctx: StageContext) -> None:
    case, profile = ctx.case, ctx.case.profile
    ctx.photos = PhotoSelection()
    if not case.media.photos:
        if case.dispute.reason != "not_received":
            ctx.warn(Hinted("no usable photos in this case", kind="no_photos"), stage=NAME)
        return
    if missing := ctx.tools.problem(*NEEDS):
        ctx.error(missing.message, None, NAME, int(missing.exit_code))
        return
    read = iter(range(len(case.media.photos)))

    def analyse(path: Path) -> PhotoAnalysis:
        ctx.report(NAME, next(read, 0), len(case.media.photos), f"reading {path.name}")
        return analyse_photo(path)

    # The same plan the web page shows before Build (``api.plan_upload``).
    plan = plan_photos(case, grid=ctx.options.grid, analyse=analyse)
    for path, exc in plan.unreadable:
        ctx.error(exc.message, ctx.relative_input(path), NAME, int(exc.exit_code))
    skipped = [{"path": ctx.relative_input(p.path), "reason": "skipped by the buyer"} for p in plan.photos
               if p.status == SKIPPED]
    if plan.selection is None:
        ctx.photos = PhotoSelection(left_out=skipped)
        if plan.unreadable or not skipped:  # every photo skipped by the buyer: nothing to warn about
            ctx.warn(Hinted("no usable photos in this case", kind="no_photos"), stage=NAME)
        return
    selection, use_grid, slots, spares = plan.selection, plan.use_grid, plan.slots, plan.spares
    queue, written = list(selection.chosen), []
    while queue and len(written) < slots:
        analysis = queue.pop(0)
        ctx.report(NAME, len(written), slots, f"fitting {analysis.path.name}")
        destination = ctx.upload_dir / ctx.slots.next_name(analysis.path.stem)
        try:
            result = fit_photo(analysis.path, destination, max_bytes=profile.max_photo_bytes,
                               keep_metadata=ctx.options.keep_metadata)
        except (InputError, LimitError) as exc:
            ctx.error(exc.message, ctx.relative_input(analysis.path), NAME, int(exc.exit_code))
            if spares:
                queue.append(spares.pop(0))
            continue
        ctx.slots.take(analysis.path.stem)
        if analysis in spares:
            spares.remove(analysis)
        hint = case.hint_for(analysis.path)
        ctx.add_output(destination, "photo", source=analysis.path, upload=True, transform=result.transform(),
                       caption=hint.caption if hint else "")
        written.append(analysis)
    reasons = {a.path: why for a, why in selection.left_out}
    if use_grid and spares:
        grid_path = ctx.upload_dir / ctx.slots.take("more-photos")
        reasons.update({a.path: f"shown in the grid image {grid_path.name} (the form takes {profile.max_photos} "
                                "photos)" for a in spares})
        items = [(a.path, (h.caption if (h := case.hint_for(a.path)) else "") or a.path.name) for a in spares]
        result = make_grid(items, grid_path, max_bytes=profile.max_photo_bytes)
        ctx.add_output(grid_path, "photo", upload=True, transform=result.transform(),
                       caption=f"{len(items)} more photos: " + ", ".join(a.path.name for a in spares),
                       combines=[ctx.relative_input(a.path) for a in spares])
    ctx.photos = PhotoSelection(
        uploaded=[ctx.relative_input(a.path) for a in written],
        left_out=[{"path": ctx.relative_input(a.path), "reason": reasons[a.path]} for a, _ in selection.left_out
                  if a not in written] + skipped)
    ctx.report(NAME, 1, 1)
