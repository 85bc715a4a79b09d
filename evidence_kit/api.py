"""The front doors: every way in (CLI, watcher, batch, web app, cluster, library) calls these and nothing else.

    from evidence_kit import api
    outcome = api.build("my-case")            # lock, leftover cleanup, unchanged-skip, build, verify, rename
    print(outcome.status, outcome.exit_code, outcome.package)
    for o in api.build_many(["a", "b"], workers=2):   # any concurrent.futures.Executor can run them
        print(o.case, o.status)

Progress is one small protocol: a callable taking a ``ProgressEvent`` (stage, done, total, message).
"""
from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .errors import ExitCode
from .progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from .batch import CaseOutcome
    from .manifest import Manifest, VerifyReport
    from .pipeline import BuildOptions, BuildResult
    from .profile import Profile

__all__ = ["Progress", "ProgressEvent", "BuildOutcome", "build", "build_many", "verify", "BuildOptions"]


def __getattr__(name: str) -> Any:
    # BuildOptions is part of the front door, but importing it eagerly would load the stages.
    if name == "BuildOptions":
        from .pipeline import BuildOptions
        return BuildOptions
    raise AttributeError(name)


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


def _stage_callback(progress: Progress | None) -> Callable[[str, float], None] | None:
    if progress is None:
        return None
    return lambda stage, fraction: progress(ProgressEvent(stage, fraction, 1.0))


def build(case: str | Path, out: str | Path | None = None, *, profile: Profile | str | Path | None = None,
          options: BuildOptions | None = None, progress: Progress | None = None,
          reuse_unchanged: bool = True) -> BuildOutcome:
    """Build the dispute package of the case folder ``case`` (default output ``CASE/evidence-package``).

    Holds the case lock, clears what a killed run left, keeps a package whose inputs and settings did
    not change (unless ``reuse_unchanged`` is False), builds in a hidden staging folder and renames it
    into place. Raises the typed errors of ``evidence_kit.errors``; per-file problems are in the manifest.
    """
    from .batch import CaseJob, build_one
    from .pipeline import BuildOptions

    job = CaseJob(Path(case), Path(out) if out else None, profile, options or BuildOptions(),
                  force=not reuse_unchanged)
    status, result = build_one(job, progress=_stage_callback(progress))
    return BuildOutcome(status, result)


def build_many(cases: Iterable[str | Path], *, out: str | Path | None = None,
               profile: Profile | str | Path | None = None, options: BuildOptions | None = None,
               reuse_unchanged: bool = True, workers: int | None = None,
               executor: Executor | None = None) -> Iterator[CaseOutcome]:
    """Build many cases; yields one ``CaseOutcome`` per case as it finishes. A failing case never stops
    the others. ``out``: a folder that gets one package per case, named after the case folder."""
    from .batch import plan_jobs, run_batch

    jobs = plan_jobs(cases, out=out, profile=profile, options=options, force=not reuse_unchanged,
                     out_per_case=True)
    yield from run_batch(jobs, workers=workers, executor=executor)


def verify(package: str | Path) -> VerifyReport:
    """Re-check a package against its manifest and its profile's limits."""
    from .manifest import verify_package

    return verify_package(package)
