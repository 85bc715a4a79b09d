"""The pipeline: one function composes the stages into a package. CLI, watcher and batch all call it."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

from .case import PACKAGE_DIR, Case, load_case
from .complaint import texts_stage
from .errors import ExitCode, FileAccessError, InputError, LimitError
from .fingerprint import FINGERPRINT_KEY, case_fingerprint
from .fsutil import replace_dir
from .manifest import FileRecord, Manifest
from .photos import analyse_photo, fit_photo, make_grid, select_photos
from .profile import Profile
from .summary import summary_stage
from .tracking import tracking_stage
from .video import video_stage

UPLOAD_DIR = "upload"  # exactly what goes into the dispute form
INPUT_ROLES = {"photos": "photo", "videos": "video", "chat": "chat", "tracking": "tracking", "receipts": "receipt"}


@dataclass
class BuildOptions:
    keep_metadata: bool = False  # keep GPS, serials and other EXIF in uploaded photos
    grid: bool = False  # put the photos that did not make it into one captioned grid (last slot)
    today: date | None = None  # "today" for deadline statements (tests, reproducible builds)
    progress: Callable[[str, float], None] | None = None  # (stage, fraction done)
    look_up_tracking: bool = False  # capture public tracking sites for numbers without a URL (goes online)


@dataclass
class BuildContext:
    """What every stage gets: the case, the staging folder (renamed into place at the end) and the manifest."""

    case: Case
    staging: Path
    manifest: Manifest
    options: BuildOptions
    package: Path | None = None  # where the package will land (an earlier build may still be there)

    def relative_input(self, path: Path) -> str:
        return path.relative_to(self.case.root).as_posix() if path.is_relative_to(self.case.root) else str(path)

    def add_output(self, file: Path, role: str, *, source: Path | None = None, upload: bool = False,
                   transform: dict[str, Any] | None = None, **info: Any) -> FileRecord:
        record = FileRecord.of(file, self.staging, role, source=self.relative_input(source) if source else None,
                               upload=upload, transform=transform or {}, info=info)
        self.manifest.outputs.append(record)
        return record

    def report(self, stage: str, fraction: float) -> None:
        if self.options.progress:
            self.options.progress(stage, fraction)


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
        return ExitCode.SOME_INPUTS_FAILED if self.manifest.errors else ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {"package": str(self.package), "exit_code": int(self.exit_code), **self.manifest.to_dict()}


def photo_stage(ctx: BuildContext) -> None:
    """Choose up to the profile's photo count, fit each under the byte limit, optionally grid the rest."""
    case, profile = ctx.case, ctx.case.profile
    analyses = []
    for i, path in enumerate(case.media.photos):
        ctx.report("photos: reading", i / max(1, len(case.media.photos)))
        try:
            analyses.append(analyse_photo(path))
        except InputError as exc:
            ctx.manifest.error(exc.message, ctx.relative_input(path), "photos", int(exc.exit_code))
    if not analyses:
        if case.media.photos or case.dispute.reason != "not_received":
            ctx.manifest.warn("no usable photos in this case", stage="photos")
        return
    ranks = {h.file: h.rank for h in case.photo_hints if h.rank is not None}
    distinct = len(analyses) - len(select_photos(analyses, len(analyses), ranks).duplicates_of)
    use_grid = ctx.options.grid and distinct > profile.max_photos
    slots = profile.max_photos - 1 if use_grid else profile.max_photos
    selection = select_photos(analyses, slots, ranks)
    upload = ctx.staging / UPLOAD_DIR
    # Candidates beyond the chosen ones stand in if a chosen photo fails to encode.
    spares = [a for a, _ in selection.left_out if a.path not in selection.duplicates_of]
    queue, written = list(selection.chosen), []
    while queue and len(written) < slots:
        analysis = queue.pop(0)
        ctx.report("photos: fitting", len(written) / slots)
        destination = upload / f"photo-{len(written) + 1}-{analysis.path.stem}.jpg"
        try:
            result = fit_photo(analysis.path, destination, max_bytes=profile.max_photo_bytes,
                               keep_metadata=ctx.options.keep_metadata)
        except (InputError, LimitError) as exc:
            ctx.manifest.error(exc.message, ctx.relative_input(analysis.path), "photos", int(exc.exit_code))
            if spares:
                queue.append(spares.pop(0))
            continue
        if analysis in spares:
            spares.remove(analysis)
        hint = case.hint_for(analysis.path)
        ctx.add_output(destination, "photo", source=analysis.path, upload=True, transform=result.transform(),
                       caption=hint.caption if hint else "")
        written.append(analysis)
    reasons = {a.path: why for a, why in selection.left_out}
    if use_grid and spares:
        grid_path = upload / f"photo-{len(written) + 1}-more-photos.jpg"
        reasons.update({a.path: f"shown in the grid image {grid_path.name} (the form takes {profile.max_photos} "
                                "photos)" for a in spares})
        items = [(a.path, (h.caption if (h := case.hint_for(a.path)) else "") or a.path.name) for a in spares]
        result = make_grid(items, grid_path, max_bytes=profile.max_photo_bytes)
        ctx.add_output(grid_path, "photo", upload=True, transform=result.transform(),
                       caption=f"{len(items)} more photos: " + ", ".join(a.path.name for a in spares),
                       combines=[ctx.relative_input(a.path) for a in spares])
    left_out = [{"path": ctx.relative_input(a.path), "reason": reasons[a.path]} for a, _ in selection.left_out
                if a not in written]
    ctx.manifest.sections["photo_selection"] = {
        "uploaded": [ctx.relative_input(a.path) for a in written], "left_out": left_out}


# Stages run in this order; each adds its outputs, warnings and errors to the manifest. Evidence first
# (photos, video, tracking), then the checklist and texts (which look at what evidence exists), then the
# summary PDF (which shows everything). A stage records a per-file problem with ctx.manifest.error and
# carries on; it raises only for what stops the whole case.
STAGES: list[Callable[[BuildContext], None]] = [photo_stage, video_stage, tracking_stage, texts_stage, summary_stage]


def _case_facts(case: Case) -> dict[str, Any]:
    order, dispute = case.order, case.dispute
    return {"title": case.title, "root": str(case.root), "order_number": order.number, "store": order.store,
            "item": order.item, "price": str(order.price) if order.price is not None else None,
            "currency": order.currency, "reason": dispute.reason, "resolution": dispute.resolution,
            "amount": str(dispute.amount) if dispute.amount is not None else None,
            "dates": {k: getattr(order, k).isoformat() if getattr(order, k) else None
                      for k in ("ordered", "shipped", "delivered", "protection_ends")}}


def build_case(path: str | Path | Case, *, out: str | Path | None = None,
               profile: Profile | str | Path | None = None, options: BuildOptions | None = None) -> BuildResult:
    """Build the dispute package for the case folder ``path``.

    The package (default ``CASE/evidence-package``) is assembled in a hidden staging folder beside it and
    renamed into place only when complete, so it appears whole or not at all. Originals are only read.
    Raises CaseError for an invalid case.toml; per-file problems are recorded in the manifest instead.
    """
    case = path if isinstance(path, Case) else load_case(path, profile=profile)
    options = options or BuildOptions()
    package = Path(out) if out else case.root / PACKAGE_DIR
    try:
        package.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".ek-tmp-{package.name}-", dir=package.parent))
    except OSError as exc:
        raise FileAccessError(f"cannot create the package folder: {exc.strerror or exc}", path=str(package)) from None
    try:
        manifest = Manifest(profile=case.profile, case=_case_facts(case))
        for file in case.media.all_files():
            kind = next(k for k, files in vars(case.media).items() if file in files)
            manifest.inputs.append(FileRecord.of(file, case.root, INPUT_ROLES[kind]))
        # Lets a re-run skip this case while its inputs and settings stay the same (batch.py).
        hashes = [(r.path, r.sha256) for r in manifest.inputs]
        manifest.sections[FINGERPRINT_KEY] = case_fingerprint(case, options, hashes)
        context = BuildContext(case, staging, manifest, options, package)
        for stage in STAGES:
            stage(context)
        manifest.write(staging)
        replace_dir(staging, package)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(case, package, manifest)
