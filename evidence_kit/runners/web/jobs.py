"""Builds started from the web app: ``api.build`` on a thread pool, progress as server-sent events.

One build per case at a time: a second request while one runs is answered 409 with the running job's id
(the page then follows that job), so a double click never queues a redundant build and a script sees
plainly that its request did not start a new one. Different cases build at once, up to ``workers``;
more wait their turn (their stream says ``queued``). ``api.build`` also holds the case's file lock, so a
CLI build of the same folder waits as well. Threads, not processes: the work is in Pillow, ffmpeg and
Chromium, which do not hold the GIL, and progress needs no pipe.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from ... import api
from ...errors import EvidenceKitError, ExitCode
from ...progress import ProgressEvent

KEEP_FINISHED = 200  # finished jobs remembered (their streams can be replayed)
MIN_INTERVAL = 0.1  # seconds between two progress events of one stage (a video reports very often)


@dataclass
class Job:
    id: str
    case_id: str
    root: Path
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finished: bool = False
    _listeners: list[asyncio.Queue[tuple[str, dict[str, Any]] | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None  # why it failed (the page words it in its listener's language)

    @property
    def result(self) -> dict[str, Any] | None:
        return self.events[-1][1] if self.finished else None


class Jobs:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evidence-kit-build")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._running: dict[str, Job] = {}  # case id -> its unfinished job
        self.checked: dict[str, float] = {}  # case id -> when its last finished build started (time.time())
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, case_id: str, root: Path) -> tuple[Job, bool]:
        """A new build of the case, or (job, False) for the one already running."""
        self._loop = asyncio.get_running_loop()
        with self._lock:
            if (running := self._running.get(case_id)) is not None:
                return running, False
            job = Job(secrets.token_urlsafe(9), case_id, root)
            self._jobs[job.id] = job
            self._running[case_id] = job
            while len(self._jobs) > KEEP_FINISHED + len(self._running):
                oldest = next(j for j in self._jobs.values() if j.finished)
                del self._jobs[oldest.id]
        self._emit(job, "queued", {"case": case_id})
        self._pool.submit(self._run, job)
        return job, True

    def running(self, case_id: str) -> Job | None:
        """The case's unfinished build (a page loaded during a build follows it)."""
        with self._lock:
            return self._running.get(case_id)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def stop_queued(self) -> None:
        """No new builds: queued ones are dropped, running ones go on (``finish`` waits for them)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def finish(self) -> None:
        """Wait for the running builds (a package is renamed into place whole, or not at all)."""
        with self._lock:
            running = len(self._running)
        if running:
            print(f"Finishing {running} running build(s) before stopping (Ctrl-C again stops at once; the next "
                  "build clears what was left).", file=sys.stderr, flush=True)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job) -> None:
        self._emit(job, "started", {"case": job.case_id})
        started, started_at = time.monotonic(), time.time()

        def progress(event: ProgressEvent) -> None:
            now = time.monotonic()
            last = job._last.get(event.stage, 0.0)
            if now - last < MIN_INTERVAL and event.done < event.total:
                return
            job._last[event.stage] = now
            self._emit(job, "progress", {**event.to_dict(), "fraction": round(event.fraction, 3)})

        try:
            result = api.build(job.root, progress=progress).to_dict()
        except EvidenceKitError as exc:
            job.error = exc
            result = {"status": api.FAILED, "exit_code": int(exc.exit_code), "message": str(exc),
                      "problems": list(getattr(exc, "problems", []))}
        except Exception as exc:  # a bug must end the stream with a message, not leave the page waiting
            result = {"status": api.FAILED, "exit_code": int(ExitCode.INTERNAL),
                      "message": f"internal error (a bug in evidence-kit): {type(exc).__name__}: {exc}",
                      "problems": []}
        result["seconds"] = round(time.monotonic() - started, 3)
        with self._lock:
            self._running.pop(job.case_id, None)
            if result["status"] != api.FAILED:
                self.checked[job.case_id] = started_at
        self._emit(job, "done", result, final=True)

    def _emit(self, job: Job, name: str, data: dict[str, Any], *, final: bool = False) -> None:
        with job._lock:
            job.events.append((name, data))
            job.finished = job.finished or final
            listeners = list(job._listeners)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for queue in listeners:
            loop.call_soon_threadsafe(queue.put_nowait, (name, data))
            if final:
                loop.call_soon_threadsafe(queue.put_nowait, None)

    async def stream(self, job: Job) -> AsyncIterator[bytes]:
        """The job's events as ``text/event-stream``: everything so far, then live until ``done``."""
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        with job._lock:
            history = list(job.events)
            finished = job.finished
            if not finished:
                job._listeners.append(queue)
        try:
            for number, (name, data) in enumerate(history):
                yield _sse(number, name, _worded(job, name, data))
            number = len(history)
            while not finished:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=15)
                except asyncio.TimeoutError:
                    yield b": still working\n\n"  # keeps proxies and browsers from giving up on a long encode
                    continue
                if item is None:
                    break
                yield _sse(number, item[0], _worded(job, *item))
                number += 1
        finally:
            with job._lock:
                if queue in job._listeners:
                    job._listeners.remove(queue)


def _worded(job: Job, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event as this listener reads it: progress and failure in the language of its request (the stream
    runs in it), the rest as the library gives it."""
    from .views import failure_text, progress_text

    if name == "progress" and data.get("message"):
        return {**data, "message": progress_text(str(data["message"]))}
    if name == "done" and data.get("status") == api.FAILED:
        return {**data, "said": failure_text(data, job.error)}
    return data


def _sse(number: int, name: str, data: dict[str, Any]) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, default=str)
    return f"id: {number}\nevent: {name}\ndata: {payload}\n\n".encode()
