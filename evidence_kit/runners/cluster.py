"""Many cases on a dask.distributed cluster: one task per case, the video encode as a task of its own.

``build_on_cluster(jobs, address)`` yields the same ``CaseOutcome`` objects as the local pool
(``runners.batch.run_batch``), so the CLI prints the same table, ``--json`` and exit codes. Every task calls
the ``api`` doors (``api.prepare_video``, ``api.run_job``); nothing here builds anything itself.

- Workers must see the case folders at the same path as this process (a shared file system), and need the
  same system packages as a local build; a worker without ffmpeg reports exit 4 for its video cases.
- A case with a video first gets an encode task (``api.prepare_video``) carrying the dask resource
  ``ffmpeg=1``, so an operator decides which workers encode (``dask worker --resources ffmpeg=1``); the
  case's build task depends on it and takes the finished encode. If no worker offers the resource, the
  encodes run anywhere rather than wait for ever.
- Crash safety: a worker that dies mid-task has its tasks rescheduled by dask (``allowed-failures``, 3 by
  default); ``api.build``'s case lock and staging rename leave no half package, so the retry builds it
  (or finds it already in place and reports it unchanged).
- A scheduler that goes away mid-run (killed, its machine down) fails each case not yet done with one plain
  message and exit 8, like an unreachable scheduler (the run exits 1: some cases failed). The encodes such a
  run left (``.ek-video-cache``) are removed at its end, by a worker that finds its scheduler gone when its
  encode ends, and by the next run of any kind before it builds (``runners.batch.sweep_video_caches``).

dask is imported only here, and only when a cluster is asked for.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from .. import api
from ..api import FAILED, CaseJob, CaseOutcome, run_job, skip_if_current
from ..errors import EvidenceKitError, ExitCode, MissingDependencyError, ToolError
from .batch import sweep_video_caches

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from distributed import Client, Future

log = logging.getLogger("evidence_kit.cluster")

CLUSTER_GONE = "not built: the cluster went away before this case finished; run again"

VIDEO_RESOURCE = "ffmpeg"
CONNECT_TIMEOUT = 5.0  # seconds: an address where nothing answers is reported, not waited on
# For a task that raised (not for a lost worker, which dask reschedules on its own).
TASK_RETRIES = 1


class ClusterError(ToolError):
    """The dask scheduler cannot be reached: exit 8, like any external program that fails (README)."""


def connect(address: str, *, timeout: float = CONNECT_TIMEOUT) -> Client:
    """A dask ``Client`` for the scheduler at ``address``; ClusterError within ``timeout`` when none answers."""
    try:
        from distributed import Client
    except ImportError:
        raise MissingDependencyError("--cluster needs dask.distributed, an optional extra: "
                                     "pip install 'evidence-kit[cluster]'") from None
    from distributed.comm import get_address_host_port, parse_address

    try:
        # A malformed address is refused before a Client exists: a Client that fails in its constructor
        # is closed again by its __del__, which waits 10 s and prints a traceback.
        if parse_address(address)[0] in ("tcp", "tls", "ws", "wss"):
            get_address_host_port(address)
    except ValueError as exc:
        raise ClusterError(f"{address} is not a dask scheduler address ({exc}); give one like "
                           "tcp://HOST:8786") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach a dask scheduler at {address} within {timeout:g} s "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}); "
                           "is `dask scheduler` running there, and is the address right?") from None


# --- what runs on a worker ------------------------------------------------------------------------------------

def encode_video(job: CaseJob) -> tuple[str | None, float]:
    """The case's video encode (``api.prepare_video``): (the encode's folder or None, seconds spent).

    A failure is left to the build task, which encodes again or reports the problem as a local build does
    (a worker without ffmpeg: exit 4 with the stage's message; a broken video: its own message).
    """
    started = time.monotonic()
    try:
        entry = api.prepare_video(job)
    except Exception as exc:  # typed errors and bugs alike: the build task runs the stage and reports them
        log.info("%s: the video encode failed here (%s); the build will report it", job.case, exc)
        entry = None
    if entry and _scheduler_lost():  # no build task will come to take it: leave nothing in the case
        _discard(entry)
        entry = None
    return (str(entry) if entry else None), round(time.monotonic() - started, 3)


def _scheduler_lost() -> bool:
    """On a dask worker: whether it has lost its scheduler (it is closing; tasks already running go on)."""
    from distributed import get_worker
    from distributed.core import Status

    try:
        worker = get_worker()
    except ValueError:  # not running as a task (called directly)
        return False
    return worker.status not in (Status.running, Status.paused)


def build_case(job: CaseJob, video: tuple[str | None, float] | None = None) -> CaseOutcome:
    """``api.run_job`` after the case's encode (if any), which is then removed: it served its build."""
    try:
        outcome = run_job(job)
    finally:
        if video and video[0]:
            _discard(Path(video[0]))
    if video:
        outcome.seconds = round(outcome.seconds + video[1], 3)  # the case's whole cost, encode included
    return outcome


def _discard(entry: Path) -> None:
    shutil.rmtree(entry, ignore_errors=True)
    try:
        entry.parent.rmdir()  # the cache folder itself, once no other case's encode is waiting in it
    except OSError:
        pass


# --- the client side ------------------------------------------------------------------------------------------

def offers_video_resource(client: Client) -> bool:
    return any(VIDEO_RESOURCE in (w.get("resources") or {})
               for w in client.scheduler_info(n_workers=-1).get("workers", {}).values())


def _has_video(job: CaseJob) -> bool:
    try:
        case = api.load_case(job.case, profile=job.profile, today=job.options.today)
    except (EvidenceKitError, OSError):
        return False  # the build task reports what is wrong with the case
    return bool(case.video.file or case.media.videos)


def submit_case(client: Client, job: CaseJob, *, video_resource: bool, run: str) -> Future:
    """The case's tasks: its encode (if it has a video), then its build. One key per case and run, so each
    case is submitted once however often dask has to re-run its tasks."""
    name = Path(job.case).resolve().name
    digest = hashlib.sha256(f"{Path(job.case).resolve()}|{job.out}".encode()).hexdigest()[:12]
    video = None
    if _has_video(job):
        video = client.submit(encode_video, job, key=f"ek-video-{name}-{digest}-{run}", pure=False,
                              retries=TASK_RETRIES, resources={VIDEO_RESOURCE: 1} if video_resource else None)
    return client.submit(build_case, job, video, key=f"ek-build-{name}-{digest}-{run}", pure=False,
                         retries=TASK_RETRIES)


def _lost(job: CaseJob, exc: BaseException, client: Client) -> CaseOutcome:
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):  # this case's worker died on every try: a crash worth reporting
        return CaseOutcome(str(job.case), FAILED, int(ExitCode.INTERNAL), message=(
            "not built: the worker building this case stopped on every try (crashed or was killed); run again"))
    if isinstance(exc, (CancelledError, OSError, TimeoutError)) or client.status != "running":
        # FutureCancelledError "scheduler-connection-lost", CommClosedError: the scheduler went away.
        return CaseOutcome(str(job.case), FAILED, int(ExitCode.CHILD_PROCESS), message=CLUSTER_GONE)
    return CaseOutcome(str(job.case), FAILED, int(ExitCode.INTERNAL),
                       message=f"the cluster could not build this case ({type(exc).__name__}: {exc}); run again")


def run_on_client(jobs: Sequence[CaseJob], client: Client) -> Iterator[CaseOutcome]:
    """Every job on ``client``'s cluster; yields outcomes as they finish (unchanged cases without a task)."""
    from distributed import as_completed

    video_resource = offers_video_resource(client)
    if not video_resource:
        log.warning("no worker offers the '%s' resource (dask worker --resources %s=1): video encodes run on "
                    "any worker", VIDEO_RESOURCE, VIDEO_RESOURCE)
    run = uuid.uuid4().hex[:8]
    sweep_video_caches(jobs)  # what an earlier run that lost its cluster left
    futures: dict[Future, CaseJob] = {}
    try:
        for job in jobs:
            if (current := skip_if_current(job)) is not None:
                yield current
            else:
                futures[submit_case(client, job, video_resource=video_resource, run=run)] = job
        for future in as_completed(futures, loop=client.loop):
            try:
                yield future.result()
            except Exception as exc:  # KilledWorker (it died on every try), a lost scheduler, ...
                yield _lost(futures[future], exc, client)
    finally:
        for future in futures:
            future.cancel()
        sweep_video_caches(jobs)  # every task has ended or been given up: an encode left now has no taker


def build_on_cluster(jobs: Sequence[CaseJob], address: str) -> Iterator[CaseOutcome]:
    """Connect to the scheduler at ``address``, build every job there, disconnect."""
    client = connect(address)
    try:
        with _quiet_dask():
            yield from run_on_client(jobs, client)
    finally:
        with _quiet_dask():
            client.close()


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """No dask log lines (with tracebacks) while the run lasts: a lost scheduler is reported per case, in
    words, instead. dask's configuration gives its loggers levels of their own, so each one is set."""
    names = ["distributed"] + [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    loggers = [logging.getLogger(name) for name in names]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, previous):
            logger.setLevel(level)


def cluster_executor(address: str) -> tuple[Client, Executor]:
    """A ``concurrent.futures.Executor`` over the cluster (for the watcher), and its client to close."""
    client = connect(address)
    return client, client.get_executor(pure=False, retries=TASK_RETRIES)
