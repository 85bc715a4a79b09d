"""The pipeline: the stages in order, run over one staging folder that becomes the package.

Evidence first (photos, video, tracking: in that order they fill the form's photo slots), then the
deadlines, the checklist and the texts (which look at what evidence exists), then the summary PDF (which
shows everything). Each stage module has ``NAME``, optionally ``NEEDS`` (external programs) and
``run(ctx)``. To add a stage: write ``stages/NAME.py`` with those, store its typed result on the
``StageContext`` (a field in ``stage.py``), and list it in ``STAGES``.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ExitCode, FileAccessError, VerifyError
from ..fsutil import replace_dir
from ..model.case import Case
from ..model.fingerprint import case_fingerprint
from ..model.manifest import FileRecord, Manifest, verify_package
from ..model.options import BuildOptions
from ..progress import Progress
from ..stage import StageContext
from ..tools import Program, preflight
from . import checklist, deadlines, photos, summary, texts, tracking, video

STAGES: list[ModuleType] = [photos, video, tracking, deadlines, checklist, texts, summary]
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
    if case.media.photos:
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
        for file in case.media.all_files():
            kind = next(k for k, files in vars(case.media).items() if file in files)
            ledger.inputs.append(FileRecord.of(file, case.root, INPUT_ROLES[kind]))
        ctx = StageContext(case, staging, options, ledger, preflight(needed_programs(case, options)),
                           package=package, progress=progress)
        ctx.slots.capacity = case.profile.max_photos
        # Lets a re-run skip this case while its inputs and settings stay the same (api.build).
        ctx.fingerprint = case_fingerprint(case, options, [(r.path, r.sha256) for r in ledger.inputs])
        for stage in STAGES:
            stage.run(ctx)
        ledger.sections = ctx.manifest_sections()
        ledger.write(staging)
        check = verify_package(staging)
        if not check.ok:
            raise VerifyError("the package failed its own check, so it was not put in place: "
                              + "; ".join(map(str, check.problems)), path=str(package))
        replace_dir(staging, package)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(case, package, ledger)
