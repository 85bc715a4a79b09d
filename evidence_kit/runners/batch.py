"""Many cases at once: parallel builds, one failing case never stops the others, unchanged cases skipped.

``run_batch(jobs)`` builds in worker processes (the photo stage is CPU-bound), or on any
``concurrent.futures.Executor`` it is given, and yields a picklable ``CaseOutcome`` per case as it finishes.
Each job is one ``api.build`` call.

Crash safety: ``api.build`` assembles each package in a hidden ``.ek-tmp-*`` folder and renames it into
place, so a run killed at any moment (kill -9 included) leaves either the old package, the new one, or
none. The next run takes a lock on the case folder, clears such leftovers (restoring the previous
package when the kill fell between the two renames) and builds what is missing.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .. import api
from ..api import BUILT, FAILED, UNCHANGED, CaseJob, CaseOutcome, plan_jobs, run_job, skip_if_current
from ..errors import ExitCode, InputError
from ..model.case import CASE_FILE, PACKAGE_DIR

# A case whose worker process dies (a crash in a decoder, the OOM killer) is retried in a fresh pool, since
# the death may have been another case's; after this many deaths it is reported as failed.
MAX_WORKER_DEATHS = 2


# --- finding cases --------------------------------------------------------------------------------------------

def find_cases(root: str | Path) -> list[Path]:
    """Every folder under ``root`` with a case.toml; hidden folders and packages are never cases."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("no such folder", path=str(root))
    cases = []
    for folder, subfolders, files in os.walk(root):
        if CASE_FILE in files:
            cases.append(Path(folder))
            subfolders.clear()  # a case's own subfolders are its media, not more cases
            continue
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and not d.startswith(PACKAGE_DIR))
    return sorted(cases)


def collect_cases(cases: Iterable[str | Path], all_root: str | Path | None = None) -> list[Path]:
    """The given case folders plus every case under ``all_root``; raises InputError when there are none."""
    folders = [Path(c) for c in cases] + (find_cases(all_root) if all_root else [])
    if not folders:
        raise InputError("no case folders (folders with a case.toml) found here", path=str(all_root))
    return folders


# --- many cases -----------------------------------------------------------------------------------------------

def default_workers() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _ignore_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def sweep_orphaned_semaphores(shm: Path = Path("/dev/shm")) -> list[str]:
    """Remove the named semaphores a killed pool left behind; returns their names.

    A ``spawn`` pool's queues are POSIX semaphores named ``/dev/shm/sem.mp-*``. multiprocessing's resource
    tracker unlinks them when the pool's process dies, but a kill -9 of the whole process group (a terminal
    closed, a supervisor) kills the tracker too. A semaphore is live only while some process maps it (glibc
    maps it before the name exists, under a temporary name, so mappings are matched by inode), so this user's
    ``sem.mp-*`` files that no process maps are litter. Processes whose maps cannot be read belong to other
    users, who cannot open these 0600 files.
    """
    try:
        ours = {(st.st_dev, st.st_ino): p.name for p in shm.glob("sem.mp-*")
                if (st := p.lstat()).st_uid == os.getuid()}
    except OSError:
        return []
    if not ours or not Path("/proc/self/maps").exists():
        return []
    for process in os.scandir("/proc"):
        if not process.name.isdigit():
            continue
        try:
            with open(f"/proc/{process.name}/maps", encoding="utf-8", errors="replace") as maps:
                for line in maps:
                    mapped = _mapped_file(line)
                    if mapped in ours:
                        del ours[mapped]
        except OSError:  # gone meanwhile, or another user's
            continue
    swept = []
    for name in sorted(ours.values()):
        try:
            (shm / name).unlink()
            swept.append(name)
        except OSError:
            continue
    return swept


def _mapped_file(maps_line: str) -> tuple[int, int] | None:
    """(device, inode) of a /proc/PID/maps line's file: ``addr perms offset major:minor inode path``."""
    fields = maps_line.split(maxsplit=5)
    if len(fields) < 5 or fields[4] == "0":
        return None
    major, _, minor = fields[3].partition(":")
    return os.makedev(int(major, 16), int(minor, 16)), int(fields[4])


def worker_pool(workers: int, *, finish_on_interrupt: bool = False) -> ProcessPoolExecutor:
    """A process pool for builds. ``spawn`` (not fork) because the watcher's main process runs threads.

    ``finish_on_interrupt``: the workers ignore Ctrl-C, which a terminal sends to the whole process group,
    so the jobs in flight finish; the main process decides when to stop. They are started at once with
    SIGINT ignored (an ignored signal stays ignored across exec), so a Ctrl-C while one is still starting
    cannot kill it either.
    """
    sweep_orphaned_semaphores()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_ignore_interrupt if finish_on_interrupt else None)
    if finish_on_interrupt and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for _ in range(workers):  # each submit with no idle worker starts one
                pool.submit(int)
        finally:
            signal.signal(signal.SIGINT, previous)
    return pool


class RetryingPool:
    """A local process pool that outlives its workers: the one crashed-worker retry of ``run_batch`` and the watcher.

    When a worker dies every task in flight in that pool fails with BrokenProcessPool; ``settle`` then
    replaces the pool (once, for the first of them to report) and tells the caller to submit the task
    again, until ``MAX_WORKER_DEATHS`` deaths of the same ``key``. The pool starts at the first ``submit``.
    """

    DONE, RETRY, GAVE_UP = "done", "retry", "gave up"

    def __init__(self, workers: int, *, finish_on_interrupt: bool = False, executor: Executor | None = None) -> None:
        """``executor``: run on it instead (a dask cluster's): a task it loses counts as a dead worker, and
        shutting down leaves it to its owner."""
        self.workers, self.finish_on_interrupt = workers, finish_on_interrupt
        self.executor = executor
        self._pool: Executor | None = executor
        self._ran_in: dict[Future[Any], Executor] = {}
        self._deaths: dict[Any, int] = {}

    def start(self) -> None:
        if self._pool is None:
            self._pool = worker_pool(self.workers, finish_on_interrupt=self.finish_on_interrupt)

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        self.start()
        assert self._pool is not None
        future = self._pool.submit(fn, *args)
        self._ran_in[future] = self._pool
        return future

    def settle(self, future: Future[Any], key: Any) -> tuple[str, Any]:
        """For a finished ``future``: ``(DONE, result)``, ``(RETRY, None)`` when its worker died (submit it
        again), or ``(GAVE_UP, None)`` when the task ``key`` has now lost ``MAX_WORKER_DEATHS`` workers."""
        ran_in = self._ran_in.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # BrokenProcessPool locally; on a cluster, a task it lost (a killed worker)
            if self.executor is None and not isinstance(exc, BrokenProcessPool):
                raise
            if ran_in is self._pool and self.executor is None:  # the first of its tasks to report: a fresh pool
                ran_in.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            deaths = self._deaths[key] = self._deaths.get(key, 0) + 1
            if deaths < MAX_WORKER_DEATHS:
                return self.RETRY, None
            self._deaths.pop(key)
            return self.GAVE_UP, None
        self._deaths.pop(key, None)
        return self.DONE, result

    def shutdown(self, *, wait: bool = True) -> None:
        """Drop the queued tasks; with ``wait``, let the running ones end."""
        if self._pool is not None and self._pool is not self.executor:  # a cluster is its owner's to close
            self._pool.shutdown(wait=wait, cancel_futures=True)


def sweep_video_caches(jobs: Sequence[CaseJob]) -> list[Path]:
    """Remove the video encodes a cluster run made ahead and left behind (it lost its scheduler before the
    builds took them): they are hidden folders in the user's case, and a new run makes its own. Returns the
    cache folders removed. Run before a run's first build, and by a cluster run when it ends."""
    from ..media.video import remove_video_cache, video_cache_root  # on use: video pulls in pydantic models

    removed = []
    for package in {Path(job.out) if job.out else Path(job.case) / PACKAGE_DIR for job in jobs}:
        if remove_video_cache(package):
            removed.append(video_cache_root(package))
    return sorted(removed)


def _worker_died(job: CaseJob) -> CaseOutcome:
    return CaseOutcome(str(job.case), FAILED, int(ExitCode.INTERNAL),
                       message="the build process stopped unexpectedly (crashed or was killed); run again")


def run_batch(jobs: Sequence[CaseJob], *, workers: int | None = None,
              executor: Executor | None = None) -> Iterator[CaseOutcome]:
    """Build every job, ``workers`` at a time (default: the number of cores); yield outcomes as they finish.

    ``executor``: run the builds there instead (a dask ``Client.get_executor()``, a thread pool, ...); it
    is not shut down here, and retrying a lost worker is then the executor's business.
    """
    sweep_video_caches(jobs)
    if executor is not None:
        yield from api.run_jobs(jobs, executor)
        return
    workers = max(1, min(workers or default_workers(), len(jobs)))
    if workers == 1:  # no pool: nothing to gain, and errors stay in this process
        for job in jobs:
            yield run_job(job)
        return
    pool = RetryingPool(workers)  # started for the first case to build
    futures: dict[Future[CaseOutcome], int] = {}
    try:
        for index, job in enumerate(jobs):
            if (current := skip_if_current(job)) is not None:
                yield current
            else:
                futures[pool.submit(run_job, job)] = index
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                index = futures.pop(future)
                status, outcome = pool.settle(future, index)
                if status == pool.DONE:
                    yield outcome
                elif status == pool.RETRY:
                    futures[pool.submit(run_job, jobs[index])] = index
                else:
                    yield _worker_died(jobs[index])
    finally:
        # On Ctrl-C (or a consumer that stops early) drop the queued cases; running ones end on their own.
        pool.shutdown(wait=True)


def batch_exit_code(outcomes: Iterable[CaseOutcome]) -> ExitCode:
    """OK when every case built (or was current) with no rejected input; SOME_INPUTS_FAILED otherwise."""
    return ExitCode.OK if all(o.ok for o in outcomes) else ExitCode.SOME_INPUTS_FAILED


# --- what the CLI prints --------------------------------------------------------------------------------------

def progress_line(done: int, total: int, outcomes: Sequence[CaseOutcome]) -> str:
    failed = sum(o.status == FAILED for o in outcomes)
    skipped = sum(o.status == UNCHANGED for o in outcomes)
    last = f"  last: {Path(outcomes[-1].case).name} {outcomes[-1].status}" if outcomes else ""
    return f"[{done}/{total}] {failed} failed, {skipped} unchanged{last}"


def summary_table(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """One line per case (status, uploads, rejected inputs, time, package or reason), then the totals."""
    rows = [("case", "status", "uploads", "rejected", "seconds", "package / reason")]
    for o in outcomes:
        detail = o.package if o.status != FAILED else o.message.replace("\n", " ")
        rows.append((Path(o.case).name, o.status, str(o.uploads) if o.status != FAILED else "-",
                     str(len(o.problems)) if o.status != FAILED else "-", f"{o.seconds:.1f}", detail or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths)) + "  " + row[5] for row in rows]
    counts = {status: sum(o.status == status for o in outcomes) for status in (BUILT, UNCHANGED, FAILED)}
    with_problems = sum(1 for o in outcomes if o.status != FAILED and o.problems)
    lines.append(f"{len(outcomes)} cases: {counts[BUILT]} built, {counts[UNCHANGED]} unchanged (skipped), "
                 f"{counts[FAILED]} failed, {with_problems} with rejected inputs")
    return lines
