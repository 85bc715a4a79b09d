"""The pipeline: the stages in order, run over one staging folder that becomes the package.

Evidence first (photos, video, tracking, chat: in that order they fill the form's photo slots), then the
deadlines, the checklist and the texts (which look at what evidence exists), then the summary PDF (which
shows everything). Each stage module has ``NAME``, optionally ``NEEDS`` (external programs) and
``run(ctx)``. To add a stage: write ``stages/NAME.py`` with those, store its typed result on the
``StageContext`` (a field in ``stage.py``), and list it in ``STAGES``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ExitCode, FileAccessError, VerifyError
from ..fsutil import MB, access_error, current_umask, replace_dir, space_problem
from ..model.case import Case
from ..model.fingerprint import case_fingerprint
from ..model.manifest import FileRecord, Hinted, Manifest, verify_package
from ..model.options import BuildOptions
from ..progress import Progress
from ..stage import StageContext
from ..tools import Program, preflight
from . import chat, checklist, deadlines, photos, summary, texts, tracking, video

STAGES: list[ModuleType] = [photos, video, tracking, chat, deadlines, checklist, texts, summary]
INPUT_ROLES = {"photos": "photo", "videos": "video", "chat": "chat", "tracking": "tracking", "receipts": "receipt"}


@dataclass
class BuildResult:
    case: Case
    package: Path
    manifest: Manifest

    @property
    def uploads(self) -> list[Path]:
        return [self.package / r.path for r in self.manifest.outputs if r.upload]

    @property
    def exit_code(self) -> ExitCode:
        """4 when a stage could not run for a missing program (the most useful thing to fix), 1 when any
        input was rejected, else 0."""
        if any(p.code == ExitCode.MISSING_DEPENDENCY for p in self.manifest.errors):
            return ExitCode.MISSING_DEPENDENCY
        return ExitCode.SOME_INPUTS_FAILED if self.manifest.errors else ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {"package": str(self.package), "exit_code": int(self.exit_code), **self.manifest.to_dict()}


def needed_programs(case: Case, options: BuildOptions) -> list[Program]:
    """The external programs this case's stages will call, from what the case holds."""
    from ..tools.chromium import CHROMIUM
    from ..tools.fontconfig import FC_LIST, FC_MATCH
    from ..tools.ffmpeg import FFMPEG, FFPROBE
    from ..tools.jpegtran import JPEGTRAN
    from ..tools.pdftoppm import PDFTOPPM

    programs = [FC_MATCH, FC_LIST]
    if case.media.photos or case.media.chat:  # chat screenshots may take free photo slots
        programs.append(JPEGTRAN)
    if case.media.videos or case.video.file:
        programs += [FFMPEG, FFPROBE]
    if case.media.tracking or any(t.url or options.look_up_tracking for t in case.tracking):
        programs.append(CHROMIUM)
    if case.media.receipts:
        programs.append(PDFTOPPM)
    return programs


def case_facts(case: Case) -> dict[str, Any]:
    order, dispute = case.order, case.dispute
    return {"title": case.title, "order_number": order.number, "store": order.store,
            "item": order.item, "price": str(order.price) if order.price is not None else None,
            "currency": order.currency, "reason": dispute.reason, "resolution": dispute.resolution,
            "amount": str(dispute.amount) if dispute.amount is not None else None,
            "dates": {k: getattr(order, k).isoformat() if getattr(order, k) else None
                      for k in ("ordered", "shipped", "delivered", "protection_ends")}}


# What the texts and the PDF read of the buyer's notes: 20,000 characters are ten pages of story, far more
# than a mediator reads; beyond that composing and laying out only get slower.
NOTES_CAP = 20_000


def _cap_notes(ctx: StageContext) -> Case:
    """The case with notes cut at NOTES_CAP (at a sentence end where one is near); the rest goes to the
    manifest (``notes_left_out``) with a warning."""
    dispute, cut = ctx.case.dispute, {}
    for name in ("notes", "notes_en"):
        text: str = getattr(dispute, name)
        if len(text) <= NOTES_CAP:
            continue
        end = max(text.rfind(". ", 0, NOTES_CAP) + 1, text.rfind("\n", 0, NOTES_CAP))
        end = end if end > NOTES_CAP * 0.9 else NOTES_CAP
        cut[name] = text[:end].rstrip()
        ctx.notes_left_out[name] = text[end:].lstrip()
        words = "English notes" if name == "notes_en" else "notes"
        ctx.warn(Hinted(f"Your {words} are {len(text):,} characters long; the texts and the summary PDF use the "
                        f"first {end:,}, and the rest is kept in the package's manifest.",
                        f"The rest is manifest.json's notes_left_out.{name}; shorten dispute.{name} to use it.",
                        kind=f"{name}_too_long", chars=len(text), used=end), "case.toml")
    return replace(ctx.case, dispute=dispute.model_copy(update=cut)) if cut else ctx.case


def _video_space_needed(case: Case) -> int:
    """What the video stage may write: the output (at most the limit, no more than a stream copy of the
    source) plus room for the contact sheet and stills."""
    source = case.video.file or (case.media.videos[0] if case.media.videos else None)
    if source is None or not source.is_file():
        return 0
    return min(source.stat().st_size, case.profile.max_video_bytes) + 20 * MB


def build_package(case: Case, package: Path, options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Run every stage into a hidden staging folder beside ``package``, verify it, and rename it into place.

    The package appears whole or not at all; originals are only read. The caller holds the case lock
    (``api.build``). Raises VerifyError if the staged package fails its own verification.
    """
    try:
        package.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".ek-tmp-{package.name}-", dir=package.parent))
    except OSError as exc:
        raise FileAccessError(f"cannot create the package folder: {exc.strerror or exc}", path=str(package)) from None
    try:
        ledger = Manifest(profile=case.profile, case=case_facts(case))
        unreadable = []
        for file in case.media.all_files():
            kind = next(k for k, files in vars(case.media).items() if file in files)
            try:
                ledger.inputs.append(FileRecord.of(file, case.root, INPUT_ROLES[kind]))
            except OSError as exc:  # vanished or unreadable since it was found: that file fails, not the case
                unreadable.append((file, exc))
        ctx = StageContext(case, staging, options, ledger, preflight(needed_programs(case, options)),
                           package=package, progress=progress)
        for file, exc in unreadable:
            ctx.error(f"cannot read this file ({exc.strerror or exc}); it was left out", ctx.relative_input(file))
        for file, why in case.media.skipped:
            ctx.warn(why, ctx.relative_input(file))
        ctx.case = case = _cap_notes(ctx)
        ctx.slots.capacity = case.profile.max_photos
        # Lets a re-run skip this case while its inputs and settings stay the same (api.build).
        ctx.fingerprint = case_fingerprint(case, options, [(r.path, r.sha256) for r in ledger.inputs])
        for stage in STAGES:
            if stage is video and (problem := space_problem(staging, _video_space_needed(case))):
                raise FileAccessError(problem, path=str(package))
            stage.run(ctx)
        ledger.sections = ctx.manifest_sections()
        ledger.write(staging)
        check = verify_package(staging)
        if not check.ok:
            raise VerifyError("the package failed its own check, so it was not put in place: "
                              + "; ".join(map(str, check.problems)), path=str(package))
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700; the package gets the usual mode
        replace_dir(staging, package)
    except OSError as exc:  # disk full, read-only, vanished folder: a sentence and an exit code, not a bug
        raise access_error(exc, package.parent) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(case, package, ledger)
