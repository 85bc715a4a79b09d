"""Video stage: the case's video into ``upload/video.mp4``; the contact sheet for the PDF; stills as photos."""
from __future__ import annotations

import time
from pathlib import Path

from ..errors import InputError, LimitError, ToolError
from ..fsutil import atomic_write_bytes, sha256_file
from ..media.video import (CONTACT_SHEET_FRAMES, VIDEO_CACHE_DIR, CaseVideo, VideoError, format_time, process_video,
                           take_cached_video, video_cache_key)
from ..model.case import Case
from ..model.manifest import Hinted
from ..names import shown
from ..stage import StageContext
from .plan import chosen_video

NAME = "video"
NEEDS = ("ffmpeg", "ffprobe")


def run(ctx: StageContext) -> None:
    case, profile = ctx.case, ctx.case.profile
    source = chosen_video(case)  # the one the web page shows as used (``api.plan_upload``)
    if source is None:
        return
    if not case.video.file and len(case.media.videos) > 1:
        ctx.warn(Hinted(f"{len(case.media.videos)} videos found; using {shown(source.name)}.",
                        "Set [video] file in case.toml to choose another.",
                        kind="several_videos", count=len(case.media.videos), name=shown(source.name)), stage=NAME)
    rel = ctx.relative_input(source)
    started = time.monotonic()
    # An encode made ahead by its own task (cluster builds: ``api.prepare_video``); a local build finds none.
    report = None
    if ctx.package and (ctx.package.parent / VIDEO_CACHE_DIR).is_dir():
        report = take_cached_video(*cache_entry(ctx.package, case, source), ctx.upload_dir / "video.mp4")
    if report is None and (missing := ctx.tools.problem(*NEEDS)):
        ctx.error(missing.message, rel, NAME, int(missing.exit_code))
        ctx.video = CaseVideo(rel, error=missing.message)
        return
    try:
        report = report or process_video(source, ctx.upload_dir / "video.mp4", max_bytes=profile.max_video_bytes,
                                         max_photo_bytes=profile.max_photo_bytes, start=case.video.start,
                                         end=case.video.end, stills=case.video.stills,
                                         progress=ctx.fraction_reporter(NAME))
    except (InputError, LimitError, ToolError) as exc:
        ctx.error(exc.message, rel, NAME, int(exc.exit_code))
        ctx.video = CaseVideo(rel, error=exc.message)
        return
    prepared = report.prepared
    ctx.add_output(prepared.output, "video", source=source, upload=True, transform=prepared.transform(),
                   duration=round(report.output_probe.duration, 3))
    sheet = ctx.staging / "video" / "contact-sheet.jpg"
    atomic_write_bytes(sheet, report.contact_sheet.data)
    ctx.add_output(sheet, "contact_sheet", source=source, frames=CONTACT_SHEET_FRAMES)
    for still in report.stills:
        transform = {"method": "video_frame", "at": round(still.at, 3), "quality": still.jpeg.quality,
                     "scale": still.jpeg.scale, "width": still.jpeg.width, "height": still.jpeg.height}
        caption = f"Frame at {format_time(still.at)} of the unboxing video"
        if ctx.slots.free > 0:
            target = ctx.upload_dir / ctx.slots.take(still.name.removesuffix(".jpg"))
            atomic_write_bytes(target, still.jpeg.data)
            ctx.add_output(target, "photo", source=source, upload=True, transform=transform, kind="still",
                           caption=caption)
        else:
            target = ctx.staging / "video" / still.name
            atomic_write_bytes(target, still.jpeg.data)
            ctx.add_output(target, "still", source=source, transform=transform, caption=caption)
    for message in report.still_errors:
        ctx.error(message, rel, NAME, int(VideoError.exit_code))
    for finding in report.findings:
        if finding.code == "truncated":  # an error everywhere (as `evidence-kit video` says): the build exits 1
            kept = report.output_probe.duration
            ctx.error(f"{finding.message}. The package holds the first {format_time(kept)} of "
                      f"{format_time(report.probe.duration)}", rel, NAME, int(VideoError.exit_code))
        elif finding.severity in ("warning", "error"):
            ctx.warn(finding.warning, rel, NAME)
    ctx.video = CaseVideo(rel, report, seconds=time.monotonic() - started)


def cache_entry(package: Path, case: Case, source: Path) -> tuple[Path, str]:
    """Where ``api.prepare_video`` leaves this case's encode: the cache folder beside the package, and the key."""
    profile = case.profile
    key = video_cache_key(sha256_file(source), max_bytes=profile.max_video_bytes,
                          max_photo_bytes=profile.max_photo_bytes, start=case.video.start, end=case.video.end,
                          stills=case.video.stills)
    return package.parent / VIDEO_CACHE_DIR, key
