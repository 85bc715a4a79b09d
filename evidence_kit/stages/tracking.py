"""Tracking stage: capture the case's tracking pages into ``tracking/``; stamped JPEGs take free photo slots.

Captures case.toml ``[[tracking]] url``s, saved ``.html`` pages and ``tracking.csv``/``.json`` events from
the case's tracking files. Numbers without a URL are looked up online only with ``look_up_tracking``.
A ``trackers.toml`` in the case folder (or in ``tracking/``) overrides the built-in tracker list.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import CaseError, MissingDependencyError, ToolError
from ..media.tracking import (TRACKERS_FILE, Capture, CaptureError, CaseTracking, capture_targets, case_targets,
                              earlier_capture, load_trackers)
from ..model.manifest import Hinted
from ..stage import UPLOAD_DIR, StageContext
from .chat import wanted_screenshots

NAME = "tracking"
NEEDS = ("chromium",)


def run(ctx: StageContext) -> None:
    case, profile = ctx.case, ctx.case.profile
    result = ctx.tracking = CaseTracking(ctx.staging)
    try:
        config = load_trackers(case.root / TRACKERS_FILE, case.root / "tracking" / TRACKERS_FILE)
        targets, result.not_looked_up, problems = case_targets(case, config,
                                                               look_up_numbers=ctx.options.look_up_tracking)
    except CaseError as exc:  # a trackers.toml in the case that cannot be used
        where = ctx.relative_input(Path(exc.path)) if exc.path else TRACKERS_FILE  # no local paths in outputs
        message = f"{where} is not valid: " + "; ".join(exc.problems)
        ctx.error(message, where, NAME, int(exc.exit_code))
        result.errors.append({"target": where, "message": message})
        return
    for problem in problems:
        ctx.error(problem.message, problem.path, NAME, int(problem.exit_code))
        result.errors.append({"target": problem.path or "", "message": problem.message})
    result.trackers = list(config.sources)
    for item in result.not_looked_up:
        ctx.warn(Hinted(f"Tracking number {item['number']} was not looked up online, so the package has no "
                        "screenshot of its tracking page.",
                        f"Build with --look-up-tracking, or run: evidence-kit track {item['number']} --out DIR",
                        kind="tracking_not_looked_up", number=item["number"]), stage=NAME)
    if not targets:
        return
    out = ctx.staging / "tracking"
    out.mkdir(parents=True, exist_ok=True)
    try:
        if missing := ctx.tools.problem(*NEEDS):
            raise missing
        captured = capture_targets(targets, out, config=config, max_photo_bytes=profile.max_photo_bytes,
                                   case_facts={"order": case.order.number},
                                   progress=lambda done, total: ctx.report(NAME, done, total))
    except (MissingDependencyError, ToolError) as exc:
        message = f"tracking pages not captured: {exc.message}"
        ctx.error(message, None, NAME, int(exc.exit_code))
        result.errors = [{"target": t.label, "message": message} for t in targets]
        return
    result.browser = f"Chromium {captured.browser}"
    earlier = ctx.package / "tracking" if ctx.package else None
    for target, message in captured.failures:
        ctx.error(message, ctx.relative_input(target.path) if target.path else target.label, NAME,
                  int(CaptureError.exit_code))
        result.errors.append({"target": target.label, "kind": target.kind, "message": message})
        kept = earlier_capture(earlier, target, out, max_photo_bytes=profile.max_photo_bytes) if earlier else None
        if kept:
            kept.warnings.append(Hinted(f"this build could not capture it ({message}); the capture of "
                                        f"{kept.captured} from the earlier build was kept", kind="earlier_capture_kept",
                                        captured=kept.captured))
            captured.captures.append(kept)

    # Free photo slots take first parts first (one per capture, live pages before the buyer's timeline); the
    # chat screenshots the checklist asks for come before a capture's later parts, which the PDF shows anyway:
    # a later part takes a slot only past those held for the chat, so the chat's slots are the ones planned.
    by_part = sorted(((i, c) for c in captured.captures for i in range(len(c.jpegs))), key=lambda item: item[0])
    for_chat = len(wanted_screenshots(ctx.case))
    for part, capture in by_part:
        if ctx.slots.free <= 0 or (part > 0 and ctx.slots.free <= for_chat):
            break
        jpeg = capture.jpegs[part]
        destination = ctx.upload_dir / ctx.slots.take(f"tracking-{jpeg.stem}", skip=for_chat if part else 0)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(jpeg, destination)
        capture.jpegs[part] = destination

    for capture in captured.captures:
        _record(ctx, capture)
    result.captures = captured.captures


def _record(ctx: StageContext, capture: Capture) -> None:
    target, profile = capture.target, ctx.case.profile
    source = target.path
    info = {"kind": target.kind, "url": target.url, "final_url": capture.final_url, "number": target.number,
            "carrier": target.carrier, "site": target.site, "captured_utc": capture.captured,
            "title": capture.title, "kept_from_earlier_build": capture.kept}
    stamp_note = {"method": "screenshot", "stamp": "band drawn under the page (Pillow), page untouched",
                  "parts": len(capture.pngs), "page_height": capture.page_height,
                  "overlays_hidden": capture.overlays_hidden}
    for i, png in enumerate(capture.pngs, 1):
        ctx.add_output(png, "tracking", source=source, transform={**stamp_note, "part": i}, **info)
    ctx.add_output(capture.html, "tracking_html", source=source, **info)
    ctx.add_output(capture.record, "tracking_record", source=source, **info)
    for jpeg in capture.jpegs:
        if jpeg.parent.name == UPLOAD_DIR:
            transform = {"method": "reencode", "from": "stamped screenshot", "max_bytes": profile.max_photo_bytes}
            caption = (f"Tracking {target.number}: " if target.number else "Tracking: ") + (
                "events entered by the buyer" if target.kind == "events"
                else ctx.relative_input(target.path) if target.path else capture.final_url or target.label)
            ctx.add_output(jpeg, "photo", source=source, upload=True, transform=transform,
                           caption=caption, **{**info, "kind": "tracking", "capture_kind": target.kind})
        else:
            ctx.add_output(jpeg, "tracking_jpeg", source=source, **info)
    for warning in capture.warnings:
        ctx.warn(warning, target.label if not target.path else ctx.relative_input(target.path), NAME)
