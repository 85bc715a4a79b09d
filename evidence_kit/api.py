"""The front doors: every way in (CLI, watcher, batch, web app, cluster, library) calls these.

    from evidence_kit import api
    outcome = api.build("my-case")            # lock, leftover cleanup, unchanged-skip, build, verify, rename
    print(outcome.status, outcome.exit_code, outcome.package)
    for o in api.build_many(["a", "b"], executor=pool):   # any concurrent.futures.Executor
        print(o.case, o.status)

Progress is one small protocol: a callable taking a ``ProgressEvent`` (stage, done, total, message).
Heavy libraries are imported inside the doors that need them, so importing this module is cheap.
"""
from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import time
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from .errors import EvidenceKitError, ExitCode, FileAccessError, InputError, ToolError, VerifyError
from .fsutil import access_error, atomic_path, atomic_write_bytes, case_lock, clear_leftovers
from .model.layout import PACKAGE_DIR
from .model.fingerprint import case_fingerprint, input_hashes
from .model.manifest import MANIFEST_NAME, FileRecord, Manifest, read_manifest, verify_package
from .model.options import BuildOptions
from .model.profile import DEFAULT_PROFILE, Profile, load_profile
from .names import shown, upload_stem
from .progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from .model.case import Case
    from .media.tracking import TrackResult
    from .media.video import VideoReport
    from .model.manifest import VerifyReport
    from .stages import BuildResult
    from .stages.plan import Analyse, PlannedPhoto, PlannedVideo
    from .dispute.complaint import ComposedText
    from .dispute.stage import CaseStage

__all__ = ["BuildOptions", "BuildOutcome", "Progress", "ProgressEvent", "build", "build_many", "build_summary",
           "capture_tracking", "fit_photos", "fit_video", "load_case", "verify", "BUILT", "UNCHANGED", "FAILED",
           "CaseJob", "CaseOutcome", "plan_jobs", "run_jobs", "prepare_video", "plan_upload", "UploadPlan",
           "case_stage", "stage_texts"]

BUILT, UNCHANGED, FAILED = "built", "unchanged", "failed"


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


def load_case(path: str | Path, *, profile: Profile | str | Path | None = None, today: date | None = None) -> Case:
    """Read and validate a case folder (or its case.toml); CaseError lists every problem.

    The case model (pydantic, 0.1 s to build) is imported here on first use, so fitting photos alone skips it."""
    from .model.case import load_case as load
    return load(path, profile=profile, today=today)


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
    from .model.case import Case
    from .stages import BuildResult, build_package

    options = options or BuildOptions()
    loaded = case if isinstance(case, Case) else load_case(case, profile=profile, today=options.today)
    package = Path(out) if out else loaded.root / PACKAGE_DIR
    with case_lock(loaded.root):
        clear_leftovers(package)
        if reuse_unchanged and (manifest := current_package(loaded, package, options)):
            return BuildOutcome(UNCHANGED, BuildResult(loaded, package, manifest))
        return BuildOutcome(BUILT, build_package(loaded, package, options, progress))


@dataclass(frozen=True)
class UploadPlan:
    """What a build of the case will upload, in the form's order, and why the rest is left out."""

    photos: list[PlannedPhoto]  # upload order (slot 1 first), then the grid's members, then those left out
    videos: list[PlannedVideo]
    max_photos: int
    grid: bool  # the last photo slot holds a grid of the photos beyond the others
    chat: list[PlannedPhoto] = field(default_factory=list)  # chat screenshots in the free slots after them

    def to_dict(self, relative_to: Path) -> dict[str, Any]:
        def rel(path: Path | None) -> str | None:
            return None if path is None else (
                path.relative_to(relative_to).as_posix() if path.is_relative_to(relative_to) else str(path))

        return {"max_photos": self.max_photos, "grid": self.grid,
                "photos": [{"path": rel(p.path), "status": p.status, "slot": p.slot, "twin": rel(p.twin),
                            "message": p.message} for p in self.photos],
                "videos": [{"path": rel(v.path), "used": v.used, "why": v.why} for v in self.videos],
                "chat": [{"path": rel(p.path), "status": p.status, "slot": p.slot} for p in self.chat]}


def plan_upload(case: str | Path | Case, *, options: BuildOptions | None = None,
                analyse: Analyse | None = None) -> UploadPlan:
    """The photos and the video a build of ``case`` would upload, decided by the same code the build runs
    (``stages.plan``). Reads every photo (``analyse``: a cached ``media.photos.analyse_photo``, for pages
    that ask often); writes nothing."""
    from .model.case import Case
    from .stages.plan import plan_chat, plan_photos, plan_video

    options = options or BuildOptions()
    loaded = case if isinstance(case, Case) else load_case(case, today=options.today)
    photos = plan_photos(loaded, grid=options.grid, **({"analyse": analyse} if analyse else {}))
    return UploadPlan(photos.photos, plan_video(loaded), loaded.profile.max_photos, photos.use_grid,
                      plan_chat(loaded, photos, look_up_tracking=options.look_up_tracking))


# --- many cases ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseJob:
    """One case to build. Everything here crosses into a worker process, so it must pickle."""

    case: Path
    out: Path | None = None  # the package folder (default CASE/evidence-package)
    profile: Profile | str | Path | None = None  # replaces the profile case.toml names
    options: BuildOptions = field(default_factory=BuildOptions)
    force: bool = False  # rebuild even when the fingerprint matches


@dataclass
class CaseOutcome:
    """What happened to one case: ``built``, ``unchanged`` (skipped) or ``failed`` (no new package)."""

    case: str
    status: str
    exit_code: int
    package: str | None = None
    message: str = ""  # why it failed, in words a buyer understands
    uploads: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)  # inputs rejected inside a built package
    warnings: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def plan_jobs(cases: Iterable[str | Path], *, out: str | Path | None = None,
              profile: Profile | str | Path | None = None, options: BuildOptions | None = None,
              force: bool = False, out_per_case: bool = False) -> list[CaseJob]:
    """Jobs for the given case folders, each once. With several cases (or ``out_per_case``, as for
    ``--all``) ``out`` is a folder holding one package per case, named after the case folder."""
    unique: dict[Path, Path] = {}
    for case in cases:
        unique.setdefault(Path(case).resolve(), Path(case))
    folders = list(unique.values())
    options = options or BuildOptions()
    if out is None or (len(folders) == 1 and not out_per_case):
        return [CaseJob(f, Path(out) if out else None, profile, options, force) for f in folders]
    names: dict[str, Path] = {}
    for folder in folders:
        name = folder.resolve().name
        if name in names:
            raise InputError(f"two cases are named '{name}' ({names[name]} and {folder}); "
                             f"their packages cannot share --out: rename one folder", path=str(out))
        names[name] = folder
    return [CaseJob(f, Path(out) / f.resolve().name, profile, options, force) for f in folders]


def skip_if_current(job: CaseJob) -> CaseOutcome | None:
    """The ``unchanged`` outcome when the case's package is current, else None (it needs a worker).

    Run before handing a case to a worker, so a re-run where nothing changed starts no process at all.
    Any error also means None: the worker builds the case and reports the error properly.
    """
    if job.force:
        return None
    started = time.monotonic()
    try:
        case = load_case(job.case, profile=job.profile, today=job.options.today)
        package = Path(job.out) if job.out else case.root / PACKAGE_DIR
        with case_lock(case.root):
            clear_leftovers(package)
            manifest = current_package(case, package, job.options)
    except (EvidenceKitError, OSError):
        return None
    if manifest is None:
        return None
    return CaseOutcome(case=str(job.case), status=UNCHANGED, exit_code=int(ExitCode.OK), package=str(package),
                       seconds=round(time.monotonic() - started, 3), **_counts(manifest))


def _counts(manifest: Manifest) -> dict[str, Any]:
    return {"uploads": sum(1 for r in manifest.outputs if r.upload),
            "problems": [{"path": p.path, "message": p.message} for p in manifest.errors],
            "warnings": len(manifest.warnings)}


def run_job(job: CaseJob) -> CaseOutcome:
    """``api.build`` for a worker: every failure becomes a failed outcome instead of an exception."""
    started = time.monotonic()
    try:
        outcome = build(job.case, job.out, profile=job.profile, options=job.options,
                            reuse_unchanged=not job.force)
    except EvidenceKitError as exc:
        return CaseOutcome(str(job.case), FAILED, int(exc.exit_code), message=str(exc),
                           seconds=round(time.monotonic() - started, 3))
    except Exception as exc:  # a bug hit by one case must not stop the others; it is reported as such
        return CaseOutcome(str(job.case), FAILED, int(ExitCode.INTERNAL),
                           message=f"internal error (a bug in evidence-kit): {type(exc).__name__}: {exc}",
                           seconds=round(time.monotonic() - started, 3))
    return CaseOutcome(case=str(job.case), status=outcome.status, exit_code=int(outcome.exit_code),
                       package=str(outcome.package), seconds=round(time.monotonic() - started, 3),
                       **_counts(outcome.manifest))


def run_jobs(jobs: Sequence[CaseJob], executor: Executor | None = None) -> Iterator[CaseOutcome]:
    """Each job on ``executor`` (in this process when None); yields outcomes as they finish. Cases whose
    package is current are answered here, without a task. Retrying a lost worker is the executor's business."""
    if executor is None:
        for job in jobs:
            yield skip_if_current(job) or run_job(job)
        return
    futures = []
    for job in jobs:
        if (current := skip_if_current(job)) is not None:
            yield current
        else:
            futures.append(executor.submit(run_job, job))
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()


def build_many(cases: Iterable[str | Path], *, out: str | Path | None = None,
               profile: Profile | str | Path | None = None, options: BuildOptions | None = None,
               reuse_unchanged: bool = True, executor: Executor | None = None) -> Iterator[CaseOutcome]:
    """Build many cases; yields one ``CaseOutcome`` per case as it finishes. A failing case never stops
    the others. ``out``: a folder that gets one package per case, named after the case folder.
    ``executor``: where the builds run (a process pool, a dask ``Client.get_executor()``, ...); in this
    process when None. The CLI's local pool, which also retries a crashed worker, is ``runners.batch``."""
    jobs = plan_jobs(cases, out=out, profile=profile, options=options, force=not reuse_unchanged,
                     out_per_case=True)
    yield from run_jobs(jobs, executor)


def prepare_video(job: CaseJob) -> Path | None:
    """Encode the case's video ahead of its build, so the encode can run as a task of its own elsewhere.

    Writes the video stage's work into a folder beside the package (``.ek-video-cache/KEY``, keyed by the
    source's content, trim, stills, the profile's limits and the encoder settings; it appears whole or not
    at all); ``build`` of the same job then takes it instead of encoding. Returns that folder (delete it
    after the build), or None when the case has no video. Raises the typed errors of the video stage.
    """
    from .media.video import store_cached_video
    from .stages.plan import chosen_video
    from .stages.video import cache_entry

    case = load_case(job.case, profile=job.profile, today=job.options.today)
    source = chosen_video(case)
    if source is None:
        return None
    cache_root, key = cache_entry(Path(job.out) if job.out else case.root / PACKAGE_DIR, case, source)
    return store_cached_video(cache_root, key, source, max_bytes=case.profile.max_video_bytes,
                              max_photo_bytes=case.profile.max_photo_bytes, start=case.video.start,
                              end=case.video.end, stills=case.video.stills)


def verify(package: str | Path) -> VerifyReport:
    """Re-check a package against its manifest and its profile's limits."""
    return verify_package(package)


def upload_names(files: Sequence[Path]) -> list[str]:
    """``IMG_1.heic`` -> ``IMG_1.jpg``; a second input with the same stem gets ``IMG_1-2.jpg``; names are made
    plain (``names.upload_stem``)."""
    seen: dict[str, int] = {}
    names = []
    for file in files:
        stem = upload_stem(file.stem) or "photo"
        count = seen.get(stem.lower(), 0) + 1
        seen[stem.lower()] = count
        names.append(f"{stem}.jpg" if count == 1 else f"{stem}-{count}.jpg")
    return names


def earlier_run(out: Path, force: bool) -> list[Path]:
    """The files an earlier ``fit_photos``/``fit_video`` run left in ``out``, to remove once the new run's
    files are written; without ``force`` a manifest.json in ``out`` refuses the run (FileAccessError, exit 7):
    one folder, one run, so its manifest describes everything in it and verify checks all of it."""
    manifest_path = out / MANIFEST_NAME
    if not manifest_path.is_file():
        return []
    earlier = read_manifest(out)
    files = [out / r.path for r in earlier.outputs] if earlier else []
    files = [f for f in files if f.is_file() and f.resolve().is_relative_to(out.resolve())]
    if not force:
        names = ", ".join(f.name for f in files[:5]) + (", ..." if len(files) > 5 else "") if files else "no files"
        what = f"the results of an earlier run ({earlier.created}: {names})" if earlier else "a manifest"
        raise FileAccessError(f"this folder already holds {what}. A second run here would replace that manifest, "
                              "so verify would check only the second run. Choose another --out folder, or use "
                              "--force to replace the earlier run's files.", path=str(manifest_path))
    return files


def _remove_earlier(files: list[Path], manifest: Manifest, out: Path) -> None:
    """``--force``: remove the earlier run's files that this run did not write again."""
    kept = {(out / r.path).resolve() for r in manifest.outputs}
    for file in files:
        if file.resolve() not in kept:
            file.unlink(missing_ok=True)


def fit_photos(files: Sequence[str | Path], out: str | Path, *, profile: Profile | str | Path | None = None,
               max_bytes: int | None = None, keep_metadata: bool = False,
               progress: Progress | None = None, force: bool = False) -> Manifest:
    """Fit each photo under the limit into ``out`` (one JPEG per input, no selection) with a manifest.json.

    A photo that cannot be used is recorded in the manifest's errors; the others go on. An ``out`` that
    holds an earlier run's manifest is refused unless ``force`` (then that run's files are replaced).
    """
    from .media.photos import fit_photo

    earlier = earlier_run(Path(out), force)
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
        manifest.outputs.append(FileRecord.of(result.output, out, "photo", source=shown(str(file)), upload=True,
                                              transform=result.transform()))
    out.mkdir(parents=True, exist_ok=True)
    _remove_earlier(earlier, manifest, out)
    manifest.write(out)
    return manifest


def fit_video(src: str | Path, out: str | Path, *, profile: Profile | str | Path | None = None,
              start: float | None = None, end: float | None = None, stills: Sequence[float] = (),
              progress: Progress | None = None, force: bool = False) -> tuple[VideoReport, Manifest]:
    """Check, trim and fit one video into ``out`` with its contact sheet, stills and a manifest.json.

    Files are named after the source (``IMG_1234.MOV`` -> ``IMG_1234.mp4``, ``IMG_1234-contact-sheet.jpg``);
    the folder gets all of them or none. An ``out`` that holds an earlier run's manifest is refused unless
    ``force`` (then that run's files are replaced).
    """
    from .media.video import VideoError, process_video

    chosen = _profile(profile)
    src, out = Path(src), Path(out)
    earlier = earlier_run(out, force)
    destination = out / f"{src.stem}.mp4"
    if destination.resolve() == src.resolve():
        raise FileAccessError("the output would replace the original: choose another --out folder", path=str(src))
    made = [p for p in (out, *out.parents) if not p.exists()]  # folders this run creates (deepest first)
    written: list[Path] = []  # an earlier run's files stay until this one has replaced them
    try:
        report = process_video(src, destination, max_bytes=chosen.max_video_bytes,
                               max_photo_bytes=chosen.max_photo_bytes, start=start, end=end, stills=stills,
                               progress=(lambda label, f: progress(ProgressEvent("video", f, 1.0, label)))
                               if progress else None)
        written.append(destination)
        manifest = Manifest(profile=chosen)
        extras = [(out / f"{src.stem}-contact-sheet.jpg", report.contact_sheet, "contact_sheet", {})]
        extras += [(out / f"{src.stem}-{s.name}", s.jpeg, "still", {"at": round(s.at, 3)}) for s in report.stills]
        manifest.inputs.append(FileRecord.of(src, src.parent, "video"))
        manifest.outputs.append(FileRecord.of(destination, out, "video", source=shown(str(src)), upload=True,
                                              transform=report.prepared.transform()))
        for path, encoded, role, info in extras:
            atomic_write_bytes(path, encoded.data)
            written.append(path)
            manifest.outputs.append(FileRecord.of(path, out, role, source=shown(str(src)), info=info))
        for message in report.still_errors:
            manifest.error(message, str(src), "video", int(VideoError.exit_code))
        for finding in report.findings:
            if finding.severity in ("warning", "error"):
                manifest.warn(finding.warning, str(src), "video")
        manifest.sections["video"] = report.to_dict()
        _remove_earlier(earlier, manifest, out)
        manifest.write(out)
    except BaseException as exc:
        for path in written:  # all or nothing: a folder without its manifest is a partial result
            path.unlink(missing_ok=True)
        for folder in made:  # nor is an empty folder left behind (rmdir only removes an empty one)
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):  # a full or read-only disk: named by where the output was going (exit 7)
            raise access_error(exc, next(p for p in (out, *out.parents) if p.exists())) from None
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

    root = Path(case)  # as given: messages name the case the way the user did
    if root.is_file():
        root = root.parent
    destination = Path(out) if out else root.resolve().with_name(f"{root.resolve().name}-summary.pdf")
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


# --- where the case stands, and its texts ---------------------------------------------------------------------

def case_stage(case: str | Path | Case, *, today: date | None = None) -> CaseStage:
    """Where the case stands (before contacting the seller ... too late) and the deadline that binds, from its
    dates and facts; ``kinds`` of ``stage_texts`` follow from it. For pages that show the stage before a build."""
    from .dispute.complaint import stage_of
    from .model.case import Case

    loaded = case if isinstance(case, Case) else load_case(case, today=today)
    return stage_of(loaded, today or date.today())


def stage_texts(case: str | Path | Case, kinds: Sequence[str] | None = None, *, today: date | None = None
                ) -> tuple[list[ComposedText], list[str], CaseStage]:
    """The texts the case's stage needs (or ``kinds``, with a warning for a kind of another stage), the warnings
    about the buyer's words and each text, and the stage: what ``evidence-kit complaint`` prints. Evidence is
    cited by exhibit letter once the case's package is built."""
    from .dispute.complaint import compose_texts, package_exhibits
    from .model.case import Case

    loaded = case if isinstance(case, Case) else load_case(case, today=today)
    return compose_texts(loaded, tuple(kinds) if kinds else None, today=today or date.today(),
                         lettered=package_exhibits(loaded))
