"""The front doors: every way in (CLI, watcher, batch, web app, cluster, library) calls these.

    from evidence_kit import api
    outcome = api.build("my-case")            # lock, leftover cleanup, unchanged-skip, build, verify, rename
    print(outcome.status, outcome.exit_code, outcome.package)
    for o in api.build_many(["a", "b"], workers=2):   # or executor=any concurrent.futures.Executor
        print(o.case, o.status)

Progress is one small protocol: a callable taking a ``ProgressEvent`` (stage, done, total, message).
Heavy libraries are imported inside the doors that need them, so importing this module is cheap.
"""
from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from .errors import ExitCode, FileAccessError, ToolError, VerifyError
from .fsutil import atomic_path, atomic_write_bytes, case_lock, clear_leftovers
from .model.case import PACKAGE_DIR, Case, load_case
from .model.fingerprint import case_fingerprint, input_hashes
from .model.manifest import FileRecord, Manifest, read_manifest, verify_package
from .model.options import BuildOptions
from .model.profile import DEFAULT_PROFILE, Profile, load_profile
from .progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from .media.tracking import TrackResult
    from .media.video import VideoReport
    from .model.manifest import VerifyReport
    from .runners.batch import CaseOutcome
    from .stages import BuildResult

__all__ = ["BuildOptions", "BuildOutcome", "Progress", "ProgressEvent", "build", "build_many", "build_summary",
           "capture_tracking", "fit_photos", "fit_video", "load_case", "verify", "BUILT", "UNCHANGED"]

BUILT, UNCHANGED = "built", "unchanged"


@dataclass
class BuildOutcome:
    """One case's build: ``built`` (a new package) or ``unchanged`` (the current package was kept)."""

    status: str
    result: BuildResult

    @property
    def package(self) -> Path:
        return self.result.package

    @property
    def manifest(self) -> Manifest:
        return self.result.manifest

    @property
    def exit_code(self) -> ExitCode:
        return self.result.exit_code

    def to_dict(self) -> dict[str, Any]:
        """What ``evidence-kit build --json`` prints for one case."""
        return {**self.result.to_dict(), "status": self.status}


def _profile(profile: Profile | str | Path | None) -> Profile:
    return profile if isinstance(profile, Profile) else load_profile(profile or DEFAULT_PROFILE)


def current_package(case: Case, package: Path, options: BuildOptions) -> Manifest | None:
    """The package's manifest if it was built from exactly these inputs and settings and still verifies."""
    manifest = read_manifest(package)
    if manifest is None or manifest.sections.get("fingerprint") != case_fingerprint(case, options,
                                                                                    input_hashes(case)):
        return None
    try:
        return manifest if verify_package(package).ok else None  # an edited or damaged package is rebuilt
    except VerifyError:
        return None


def build(case: str | Path | Case, out: str | Path | None = None, *, profile: Profile | str | Path | None = None,
          options: BuildOptions | None = None, progress: Progress | None = None,
          reuse_unchanged: bool = True) -> BuildOutcome:
    """Build the dispute package of the case folder ``case`` (default output ``CASE/evidence-package``).

    Holds the case lock, clears what a killed run left, keeps a package whose inputs and settings did
    not change (unless ``reuse_unchanged`` is False), builds in a hidden staging folder, verifies it and
    renames it into place. Raises the typed errors of ``evidence_kit.errors``; per-file problems are
    recorded in the manifest instead.
    """
    from .stages import BuildResult, build_package

    loaded = case if isinstance(case, Case) else load_case(case, profile=profile)
    package = Path(out) if out else loaded.root / PACKAGE_DIR
    options = options or BuildOptions()
    with case_lock(loaded.root):
        clear_leftovers(package)
        if reuse_unchanged and (manifest := current_package(loaded, package, options)):
            return BuildOutcome(UNCHANGED, BuildResult(loaded, package, manifest))
        return BuildOutcome(BUILT, build_package(loaded, package, options, progress))


def build_many(cases: Iterable[str | Path], *, out: str | Path | None = None,
               profile: Profile | str | Path | None = None, options: BuildOptions | None = None,
               reuse_unchanged: bool = True, workers: int | None = None,
               executor: Executor | None = None) -> Iterator[CaseOutcome]:
    """Build many cases; yields one ``CaseOutcome`` per case as it finishes. A failing case never stops
    the others. ``out``: a folder that gets one package per case, named after the case folder.
    ``executor``: run the builds there (a dask ``Client.get_executor()``, ...) instead of a process pool."""
    from .runners.batch import plan_jobs, run_batch

    jobs = plan_jobs(cases, out=out, profile=profile, options=options, force=not reuse_unchanged,
                     out_per_case=True)
    yield from run_batch(jobs, workers=workers, executor=executor)


def verify(package: str | Path) -> VerifyReport:
    """Re-check a package against its manifest and its profile's limits."""
    return verify_package(package)


def upload_names(files: Sequence[Path]) -> list[str]:
    """``IMG_1.heic`` -> ``IMG_1.jpg``; a second input with the same stem gets ``IMG_1-2.jpg``."""
    seen: dict[str, int] = {}
    names = []
    for file in files:
        count = seen.get(file.stem.lower(), 0) + 1
        seen[file.stem.lower()] = count
        names.append(f"{file.stem}.jpg" if count == 1 else f"{file.stem}-{count}.jpg")
    return names


def fit_photos(files: Sequence[str | Path], out: str | Path, *, profile: Profile | str | Path | None = None,
               max_bytes: int | None = None, keep_metadata: bool = False,
               progress: Progress | None = None) -> Manifest:
    """Fit each photo under the limit into ``out`` (one JPEG per input, no selection) with a manifest.json.

    A photo that cannot be used is recorded in the manifest's errors; the others go on.
    """
    from .errors import EvidenceKitError
    from .media.photos import fit_photo

    chosen = _profile(profile)
    if max_bytes:
        chosen = chosen.with_overrides({"max_photo_bytes": max_bytes}, "--max-bytes")
    out = Path(out)
    manifest = Manifest(profile=chosen)
    paths = [Path(f) for f in files]
    for i, (file, name) in enumerate(zip(paths, upload_names(paths))):
        if progress:
            progress(ProgressEvent("photos", i, len(paths), file.name))
        try:
            result = fit_photo(file, out / name, max_bytes=chosen.max_photo_bytes, keep_metadata=keep_metadata)
        except EvidenceKitError as exc:
            manifest.error(exc.message, str(file), "photos", int(exc.exit_code))
            continue
        manifest.inputs.append(FileRecord.of(file, file.parent, "photo"))
        manifest.outputs.append(FileRecord.of(result.output, out, "photo", source=str(file), upload=True,
                                              transform=result.transform()))
    out.mkdir(parents=True, exist_ok=True)
    manifest.write(out)
    return manifest


def fit_video(src: str | Path, out: str | Path, *, profile: Profile | str | Path | None = None,
              start: float | None = None, end: float | None = None, stills: Sequence[float] = (),
              progress: Progress | None = None) -> tuple[VideoReport, Manifest]:
    """Check, trim and fit one video into ``out`` with its contact sheet, stills and a manifest.json.

    Files are named after the source (``IMG_1234.MOV`` -> ``IMG_1234.mp4``, ``IMG_1234-contact-sheet.jpg``);
    the folder gets all of them or none.
    """
    from .media.video import VideoError, process_video

    chosen = _profile(profile)
    src, out = Path(src), Path(out)
    destination = out / f"{src.stem}.mp4"
    if destination.resolve() == src.resolve():
        raise FileAccessError("the output would replace the original: choose another --out folder", path=str(src))
    report = process_video(src, destination, max_bytes=chosen.max_video_bytes,
                           max_photo_bytes=chosen.max_photo_bytes, start=start, end=end, stills=stills,
                           progress=(lambda label, f: progress(ProgressEvent("video", f, 1.0, label))) if progress
                           else None)
    manifest = Manifest(profile=chosen)
    extras = [(out / f"{src.stem}-contact-sheet.jpg", report.contact_sheet, "contact_sheet", {})]
    extras += [(out / f"{src.stem}-{s.name}", s.jpeg, "still", {"at": round(s.at, 3)}) for s in report.stills]
    written = [destination]
    try:
        manifest.inputs.append(FileRecord.of(src, src.parent, "video"))
        manifest.outputs.append(FileRecord.of(destination, out, "video", source=str(src), upload=True,
                                              transform=report.prepared.transform()))
        for path, encoded, role, info in extras:
            atomic_write_bytes(path, encoded.data)
            written.append(path)
            manifest.outputs.append(FileRecord.of(path, out, role, source=str(src), info=info))
        for message in report.still_errors:
            manifest.error(message, str(src), "video", int(VideoError.exit_code))
        for finding in report.findings:
            if finding.severity in ("warning", "error"):
                manifest.warn(finding.message, str(src), "video")
        manifest.sections["video"] = report.to_dict()
        manifest.write(out)
    except BaseException:
        for path in written:  # all or nothing: a folder without its manifest is a partial result
            path.unlink(missing_ok=True)
        raise
    return report, manifest


def capture_tracking(targets: Sequence[str], out: str | Path, *, carrier: str = "", wait_for: str | None = None,
                     timeout: float | None = None, trackers: str | Path | None = None,
                     profile: Profile | str | Path | None = None,
                     progress: Progress | None = None) -> tuple[TrackResult | None, list[tuple[str, str]]]:
    """Capture tracking numbers, URLs, saved pages and events files as stamped screenshots in ``out``.

    Returns the captures (None when no argument could be captured) and the arguments that are not
    tracking targets, with why.
    """
    from .media.tracking import capture_targets, load_trackers, parse_targets

    config = load_trackers(trackers)
    found, problems = parse_targets(targets, config, carrier)
    if not found:
        return None, problems
    result = capture_targets(found, out, config=config, wait_for=wait_for, timeout=timeout,
                             max_photo_bytes=_profile(profile).max_photo_bytes,
                             progress=(lambda done, total: progress(ProgressEvent("tracking", done, total)))
                             if progress else None)
    return result, problems


def build_summary(case: str | Path, out: str | Path | None = None, *, profile: str | Path | None = None,
                  options: BuildOptions | None = None, progress: Progress | None = None) -> BuildResult:
    """Build only the summary PDF for a case folder: the other stages run in a temporary package.

    ``out`` defaults to ``<case folder>-summary.pdf`` beside the case folder (a PDF inside it would be
    taken for a receipt on the next build). Returns the temporary build's result (its ``manifest`` lists
    what failed) with ``package`` set to the PDF's path; raises when the PDF itself could not be made.
    """
    from .report.summary import SUMMARY_NAME

    root = Path(case).resolve()
    if root.is_file():
        root = root.parent
    destination = Path(out) if out else root.with_name(f"{root.name}-summary.pdf")
    with tempfile.TemporaryDirectory(prefix=".ek-summary-") as work:
        result = build(root, Path(work) / "package", profile=profile, options=options, progress=progress,
                       reuse_unchanged=False).result
        if not (result.package / SUMMARY_NAME).is_file():
            why = "; ".join(p.message for p in result.manifest.errors if p.stage == "summary") or "unknown reason"
            raise ToolError(f"the summary PDF could not be made: {why}", path=str(root))
        with atomic_path(destination) as tmp:
            shutil.copyfile(result.package / SUMMARY_NAME, tmp)
    result.package = destination
    return result
