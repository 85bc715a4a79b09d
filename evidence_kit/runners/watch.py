"""The drag-in folder: every case folder dropped into INBOX becomes a package in OUTBOX/<name>/.

A loose photo dropped in is fitted under the photo limit and a loose video is checked and fitted, each
into its own OUTBOX/<stem>/. A drop is processed once it has stopped changing (sizes and mtimes stable for
``settle`` seconds, every file readable), exactly once however many file-system events it caused. The
original is then moved (never deleted): to ARCHIVE after success, to FAILED/<name>/ with a plain-language
``error.txt`` after failure. Builds run in worker processes; on stop the jobs in flight are finished.
A drop whose package is already in OUTBOX (same files and settings: a watcher stopped after building it but
before moving it out) is not built again; its original is only moved to ARCHIVE.
"""
from __future__ import annotations

import itertools
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from watchdog.events import EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_OPENED, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from .. import api
from ..errors import EvidenceKitError, ExitCode, InputError, VerifyError
from ..fsutil import TEMP_PREFIX, atomic_write_text, clear_leftovers, current_umask, replace_dir, sha256_file
from ..model.case import PHOTO_SUFFIXES, VIDEO_SUFFIXES
from ..model.manifest import Manifest, read_manifest, verify_package
from ..model.options import BuildOptions
from ..model.profile import DEFAULT_PROFILE, Profile, load_profile
from ..names import shown, shown_lines
from .batch import BUILT, FAILED, UNCHANGED, CaseJob, CaseOutcome, RetryingPool, run_job, skip_if_current

log = logging.getLogger("evidence_kit.watch")

# Names a browser or copy tool gives a file while it is still arriving; the final name is a new drop.
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", "~")
# Reading a drop causes open/close events; only changes to it count.
_READ_ONLY_EVENTS = {EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE}
ERROR_FILE = "error.txt"


@dataclass(frozen=True)
class WatchFolders:
    inbox: Path
    outbox: Path
    archive: Path
    failed: Path

    @classmethod
    def beside(cls, inbox: str | Path, outbox: str | Path | None = None, archive: str | Path | None = None,
               failed: str | Path | None = None) -> "WatchFolders":
        """Defaults are siblings of INBOX: ``outbox``, ``archive`` and ``failed``."""
        inbox = Path(inbox).resolve()
        pick = lambda given, name: Path(given).resolve() if given else inbox.parent / name  # noqa: E731
        folders = cls(inbox, pick(outbox, "outbox"), pick(archive, "archive"), pick(failed, "failed"))
        folders.check()
        return folders

    def check(self) -> None:
        if not self.inbox.is_dir():
            raise InputError("no such folder to watch", path=str(self.inbox))
        for name, folder in (("--out", self.outbox), ("--archive", self.archive), ("--failed", self.failed)):
            # Inside the inbox, our own outputs would be taken for new drops.
            if folder == self.inbox or folder.is_relative_to(self.inbox) or self.inbox.is_relative_to(folder):
                raise InputError(f"{name} {folder} must be outside the watched folder", path=str(self.inbox))


@dataclass(frozen=True)
class WatchEvent:
    time: datetime
    kind: str  # found, seen, waiting, processing, done, failed, changed, gone, retry, started, stopping, stopped
    name: str
    message: str = ""

    def __str__(self) -> str:
        text = f"{self.time.isoformat(timespec='milliseconds')} {self.kind}: {self.name}"
        return f"{text}: {self.message}" if self.message else text


@dataclass
class _Drop:
    """One entry of INBOX on its way to being processed."""

    name: str
    snapshot: tuple | None = None
    changed_at: float = field(default_factory=time.monotonic)
    waiting_said: str = ""  # the last "waiting" reason logged, so it is logged once
    output: Path | None = None  # its own folder in OUTBOX, claimed when first submitted; kept for a rebuild


def snapshot(path: Path) -> tuple:
    """Sizes and mtimes of everything in a drop: equal snapshots ``settle`` seconds apart mean it is complete."""
    if path.is_file():
        st = path.stat()
        return (("", st.st_size, st.st_mtime_ns),)
    entries = []
    for folder, subfolders, files in os.walk(path):
        subfolders.sort()
        rel = Path(folder).relative_to(path).as_posix()
        entries.extend((f"{rel}/{d}/", -1, 0) for d in subfolders)
        for name in sorted(files):
            st = os.stat(os.path.join(folder, name))
            entries.append((f"{rel}/{name}", st.st_size, st.st_mtime_ns))
    return tuple(entries)


def unreadable(path: Path) -> list[str]:
    """Files of a drop this process cannot read yet (a copy tool may hold them with no read permission)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    bad = []
    for file in files:
        try:
            with open(file, "rb") as handle:
                handle.read(1)
        except OSError:
            bad.append(file.name)
    return bad


# --- loose files (run in a worker process) --------------------------------------------------------------------

def _loose(src: Path, package: Path, profile: Profile | str | Path | None, kind: str) -> CaseOutcome:
    started = time.monotonic()
    clear_leftovers(package)
    package.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{package.name}-", dir=package.parent))
    try:
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700; the output gets the usual mode
        if kind == "photo":
            manifest = api.fit_photos([src], staging, profile=profile)
            if not manifest.outputs:  # the only input failed: that is the drop's failure, with its reason
                problem = manifest.errors[0]
                return CaseOutcome(str(src), FAILED, problem.code or int(ExitCode.INPUT_ERROR),
                                   message=problem.message, seconds=round(time.monotonic() - started, 3))
        else:
            _, manifest = api.fit_video(src, staging, profile=profile)
        _name_by_file_name(manifest, src, staging)
        replace_dir(staging, package)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return CaseOutcome(str(src), BUILT, int(ExitCode.SOME_INPUTS_FAILED if manifest.errors else ExitCode.OK),
                       package=str(package), uploads=sum(1 for r in manifest.outputs if r.upload),
                       problems=[{"path": p.path, "message": p.message} for p in manifest.errors],
                       warnings=len(manifest.warnings), seconds=round(time.monotonic() - started, 3))


def _name_by_file_name(manifest: Manifest, src: Path, package: Path) -> None:
    """Rewrite the manifest naming the drop by its file name. ``fit_photos``/``fit_video`` record the path
    they were given, which here is this machine's inbox: a local path the package must not carry."""
    local, name = shown(str(src)), shown(src.name)

    def plain(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(local, name)
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    for record in manifest.outputs:
        record.source = plain(record.source)
    for problem in (*manifest.warnings, *manifest.errors):
        problem.path, problem.message = plain(problem.path), plain(problem.message)
    manifest.sections = plain(manifest.sections)
    manifest.write(package)


def process_loose_file(src: Path, package: Path, profile: Profile | str | Path | None, kind: str) -> CaseOutcome:
    """Fit one loose photo or video into ``package``; every failure becomes a failed outcome."""
    try:
        return _loose(src, package, profile, kind)
    except EvidenceKitError as exc:
        return CaseOutcome(str(src), FAILED, int(exc.exit_code), message=exc.message)
    except Exception as exc:  # one bad file must not stop the watcher
        return CaseOutcome(str(src), FAILED, int(ExitCode.INTERNAL),
                           message=f"internal error (a bug in evidence-kit): {type(exc).__name__}: {exc}")


def loose_package(src: Path, package: Path, profile: Profile | str | Path | None) -> CaseOutcome | None:
    """The ``unchanged`` outcome when ``package`` is the fitted result of exactly this loose file (same name,
    bytes and content) with this profile, and still verifies; else None."""
    manifest = read_manifest(package)
    if manifest is None or [(i.path, i.bytes) for i in manifest.inputs] != [(shown(src.name), src.stat().st_size)]:
        return None
    chosen = profile if isinstance(profile, Profile) else load_profile(profile or DEFAULT_PROFILE)
    if manifest.profile.to_dict() != chosen.to_dict() or manifest.inputs[0].sha256 != sha256_file(src):
        return None
    try:
        if not verify_package(package).ok:
            return None
    except VerifyError:
        return None
    return CaseOutcome(str(src), UNCHANGED, int(ExitCode.SOME_INPUTS_FAILED if manifest.errors else ExitCode.OK),
                       package=str(package), uploads=sum(1 for r in manifest.outputs if r.upload),
                       problems=[{"path": p.path, "message": p.message} for p in manifest.errors],
                       warnings=len(manifest.warnings))


def _files_in(path: Path, seen: tuple) -> set[tuple[str, int]]:
    """(path as a manifest names it, size) of each file in a drop's snapshot (a loose file: by its name)."""
    return {(shown(rel.removeprefix("./") or path.name), size) for rel, size, _ in seen if size >= 0}


# --- the watcher ----------------------------------------------------------------------------------------------

class _Events(FileSystemEventHandler):
    def __init__(self, watcher: "Watcher") -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _READ_ONLY_EVENTS:
            return
        log.debug("%s %s%s", event.event_type, event.src_path, f" -> {event.dest_path}" if event.dest_path else "")
        for path in (event.src_path, event.dest_path):
            if path:
                self.watcher.touch(Path(os.fsdecode(path)))


class Watcher:
    """Watch ``folders.inbox`` until ``stop`` is set; ``on_event`` sees every lifecycle event (also logged)."""

    def __init__(self, folders: WatchFolders, *, settle: float = 2.0, poll: bool = False, workers: int = 1,
                 profile: Profile | str | Path | None = None, options: BuildOptions | None = None,
                 on_event: Callable[[WatchEvent], None] | None = None, executor: Executor | None = None) -> None:
        self.folders = folders
        self.settle = settle
        self.poll = poll
        self.workers = max(1, workers)
        self.profile = profile
        self.options = options or BuildOptions()
        self.on_event = on_event
        # Builds go here when given (a dask cluster's executor: runners.cluster); else to a local pool.
        self.executor = executor
        self._pending: dict[str, _Drop] = {}
        # future -> (the drop, its snapshot when submitted)
        self._running: dict[Future[CaseOutcome], tuple[_Drop, tuple]] = {}
        self._lock = threading.Lock()
        self._claimed: set[Path] = set()  # OUTBOX folders given to drops whose output does not exist yet

    @property
    def idle(self) -> bool:
        """Nothing waiting to settle and nothing being built."""
        with self._lock:
            return not self._pending and not self._running

    # Called from the observer's thread: only marks the drop as changed.
    def touch(self, path: Path) -> None:
        try:
            rel = path.relative_to(self.folders.inbox)
        except ValueError:
            return
        if not rel.parts or rel.parts[0].startswith(".") or rel.parts[0].endswith(PARTIAL_SUFFIXES):
            return
        name = rel.parts[0]
        with self._lock:
            drop = self._pending.get(name)
            if drop is None:
                if any(d.name == name for d, _ in self._running.values()):
                    return  # compared again when its job ends
                if not os.path.lexists(self.folders.inbox / name):
                    return  # moved out (by us, after processing) or deleted
                self._pending[name] = _Drop(name)
                self.emit("seen", name)
            else:
                drop.changed_at = time.monotonic()

    def emit(self, kind: str, name: str, message: str = "") -> None:
        # Names are any bytes (a Latin-1 caf\xe9) and may hold controls: shown escaped, so the log, the
        # terminal and the events are always printable text.
        name, message = shown(name), shown_lines(message)
        event = WatchEvent(datetime.now(timezone.utc), kind, name, message)
        log.info("%s: %s%s", kind, name, f": {message}" if message else "")
        if self.on_event:
            self.on_event(event)

    def run_until_signal(self) -> None:
        """``run`` until Ctrl-C or SIGTERM (the first one finishes the jobs in flight, then returns)."""
        stop = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            if stop.is_set():
                self.emit("stopping", str(self.folders.inbox), "already stopping: finishing the jobs in flight")
            stop.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.run(stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def run(self, stop: threading.Event) -> None:
        """Process what is waiting, then every new drop, until ``stop`` is set; then finish the jobs in flight."""
        for folder in (self.folders.outbox, self.folders.archive, self.folders.failed):
            folder.mkdir(parents=True, exist_ok=True)
        for leftover in sorted(self.folders.outbox.glob(f"{TEMP_PREFIX}*")):  # from a watcher that was killed
            shutil.rmtree(leftover, ignore_errors=True)
            self.emit("cleaned", leftover.name, "removed what an interrupted run left behind")
        observer = self._start_observer()
        self.emit("started", str(self.folders.inbox), f"{'polling' if self.poll else 'native events'}, settle "
                  f"{self.settle:g} s, {self.workers} at a time; outputs to {self.folders.outbox}")
        with self._lock:
            for entry in sorted(self.folders.inbox.iterdir()):
                if not entry.name.startswith(".") and not entry.name.endswith(PARTIAL_SUFFIXES):
                    self._pending.setdefault(entry.name, _Drop(entry.name))
                    self.emit("found", entry.name, "waiting at start")
        pool = RetryingPool(self.workers, finish_on_interrupt=True, executor=self.executor)
        pool.start()  # before the first drop, so a Ctrl-C while workers start cannot reach them
        tick = max(0.05, min(0.25, self.settle / 4))
        try:
            while not stop.is_set():
                self._collect(pool)
                self._start_ready(pool)
                stop.wait(tick)
            self.emit("stopping", str(self.folders.inbox), f"finishing {len(self._running)} job(s) in flight")
            while self._running:
                self._collect(pool, block=True)
        finally:
            observer.stop()
            pool.shutdown(wait=True)
            observer.join(timeout=10)
        self.emit("stopped", str(self.folders.inbox))

    def _start_observer(self) -> BaseObserver:
        if not self.poll:
            observer = Observer()
            observer.schedule(_Events(self), str(self.folders.inbox), recursive=True)
            try:
                observer.start()
                return observer
            except OSError as exc:  # e.g. the inotify watch limit is reached: polling still works
                self.emit("waiting", str(self.folders.inbox), f"native events unavailable ({exc}); polling instead")
                self.poll = True
        observer = PollingObserver(timeout=max(0.1, min(1.0, self.settle / 2)))
        observer.schedule(_Events(self), str(self.folders.inbox), recursive=True)
        observer.start()
        return observer

    # --- stability, then a job --------------------------------------------------------------------------------

    def _start_ready(self, pool: RetryingPool) -> None:
        now = time.monotonic()
        with self._lock:
            drops = list(self._pending.values())
        for drop in drops:
            path = self.folders.inbox / drop.name
            try:
                if not os.path.lexists(path):
                    with self._lock:
                        self._pending.pop(drop.name, None)
                    self._release(drop)
                    continue
                current = snapshot(path)
            except OSError:  # changing under our feet: look again next tick
                drop.changed_at = now
                continue
            if current != drop.snapshot:
                drop.snapshot, drop.changed_at = current, now
                continue
            if now - drop.changed_at < self.settle:
                continue
            if path.is_dir() and not any(size >= 0 for _, size, _ in current):
                self._waiting(drop, "an empty folder; waiting for files")
                continue
            if bad := unreadable(path):
                self._waiting(drop, f"cannot read {', '.join(bad[:3])} yet")
                continue
            with self._lock:
                self._pending.pop(drop.name, None)
            self._submit(pool, drop, path, current)

    def _waiting(self, drop: _Drop, why: str) -> None:
        if drop.waiting_said != why:
            drop.waiting_said = why
            self.emit("waiting", drop.name, why)

    def _claim(self, drop: _Drop, name: str) -> Path:
        """The drop's own OUTBOX folder: ``name``, or ``name-2``... when an earlier drop has it (``caseSlow/``
        then ``caseSlow.jpg``, or ``dup.png`` beside ``dup.jpg``). A rebuild of the same drop keeps its folder."""
        if drop.output is None:
            with self._lock:
                drop.output = _unique(self.folders.outbox / name, taken=self._claimed)
                self._claimed.add(drop.output)
        return drop.output

    def _release(self, drop: _Drop) -> None:
        with self._lock:
            self._claimed.discard(drop.output)

    def _already_built(self, path: Path, stem: str, seen: tuple) -> CaseOutcome | None:
        """The outcome of a package in OUTBOX made from exactly this drop (by content and settings), when
        there is one: a watcher stopped after writing it but before moving the original out leaves both."""
        for candidate in itertools.takewhile(os.path.lexists, _numbered(self.folders.outbox / stem)):
            manifest = read_manifest(candidate)
            # Cheap first: every file its manifest lists must be in the drop with that size.
            if manifest and manifest.inputs and {(i.path, i.bytes) for i in manifest.inputs} <= _files_in(path, seen):
                if path.is_dir():
                    found = skip_if_current(CaseJob(path, candidate, self.profile, self.options))
                else:
                    found = loose_package(path, candidate, self.profile)
                if found is not None:
                    return found
        return None

    def _submit(self, pool: RetryingPool, drop: _Drop, path: Path, seen: tuple) -> None:
        suffix = path.suffix.lower()
        # A drop changed while it was built keeps its output and is built again (drop.output is set).
        if drop.output is None and (path.is_dir() or suffix in PHOTO_SUFFIXES or suffix in VIDEO_SUFFIXES):
            if (built := self._already_built(path, drop.name if path.is_dir() else path.stem, seen)) is not None:
                self._finish(drop, seen, built)
                return
        if path.is_dir():
            job = CaseJob(path, self._claim(drop, drop.name), self.profile, self.options)
            future = pool.submit(run_job, job)
        elif suffix in PHOTO_SUFFIXES or suffix in VIDEO_SUFFIXES:
            kind = "photo" if suffix in PHOTO_SUFFIXES else "video"
            future = pool.submit(process_loose_file, path, self._claim(drop, path.stem), self.profile, kind)
        else:
            self._fail(drop.name, f"'{drop.name}' is not something evidence-kit can use on its own. Drop a case "
                                  "folder (with a case.toml), a photo or a video.")
            return
        with self._lock:
            self._running[future] = (drop, seen)
        self.emit("processing", drop.name, "case folder" if path.is_dir() else f"loose {suffix} file")

    def _collect(self, pool: RetryingPool, *, block: bool = False) -> None:
        with self._lock:
            futures = list(self._running)
        if block and futures:
            wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
        for future in futures:
            if not future.done():
                continue
            with self._lock:
                drop, seen = self._running.pop(future)
            status, outcome = pool.settle(future, drop.name)
            if status == pool.GAVE_UP:
                self._release(drop)
                self._fail(drop.name, "processing stopped unexpectedly (the worker crashed or was killed)")
            elif status == pool.RETRY:
                self.emit("retry", drop.name, "the worker process stopped; trying again")
                with self._lock:
                    self._pending[drop.name] = drop
            else:
                self._finish(drop, seen, outcome)

    def _finish(self, drop: _Drop, seen: tuple, outcome: CaseOutcome) -> None:
        path = self.folders.inbox / drop.name
        try:
            changed = snapshot(path) != seen
        except OSError:
            changed = True
        if changed and os.path.lexists(path):  # more files arrived while it was processed: do it again
            self.emit("changed", drop.name, "changed while being processed; processing again")
            with self._lock:
                self._pending[drop.name] = _Drop(drop.name, output=drop.output)
            return
        self._release(drop)  # from here on its folder exists in OUTBOX, or the drop failed and made none
        if outcome.status == FAILED:
            self._fail(drop.name, outcome.message)
            return
        try:
            archived = _move_aside(path, self.folders.archive, drop.name)
        except OSError as exc:
            self.emit("failed", drop.name, f"the package is in {outcome.package}, but the original could not be "
                      f"moved to {self.folders.archive}: {exc.strerror or exc}")
            return
        rejected = "; ".join(f"{p['path']}: {p['message']}" for p in outcome.problems)
        status = "already built (same files and settings)" if outcome.status == UNCHANGED else outcome.status
        self.emit("done", drop.name, f"{status}: {outcome.package} ({outcome.uploads} to upload"
                  f"{', rejected ' + rejected if rejected else ''}); original moved to {archived}")

    def _fail(self, name: str, message: str) -> None:
        path = self.folders.inbox / name
        holder = _unique(self.folders.failed / name)
        try:
            holder.mkdir(parents=True)
            moved = _move_aside(path, holder, name) if os.path.lexists(path) else None
        except OSError as exc:
            self.emit("failed", name, f"{message}; and the original could not be moved to {holder}: "
                      f"{exc.strerror or exc}")
            return
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        shown_name = shown(name)  # error.txt is UTF-8 text; the name on disk may be any bytes
        atomic_write_text(holder / ERROR_FILE, (
            f'evidence-kit could not make a package from "{shown_name}" ({stamp}).\n\n'
            f"What went wrong:\n{_indent(shown_lines(message))}\n\n"
            f'What to do: fix the problem, then drag "{shown_name}" from this folder back into '
            f"{shown(str(self.folders.inbox))}.\nYour original is unchanged, next to this file.\n"))
        self.emit("failed", name, f"{message.splitlines()[0].rstrip('.') if message else 'failed'}; "
                  f"original moved to {moved or holder}, see {holder / ERROR_FILE}")


def log_to_stderr(*, verbose: bool = False) -> None:
    """Every watcher event on stderr with a UTC timestamp; ``verbose`` adds the raw file-system events."""
    handler = logging.StreamHandler()
    formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("watchdog").addHandler(handler)  # its warnings too, timestamped like ours


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _unique(target: Path, taken: set[Path] | frozenset[Path] = frozenset()) -> Path:
    """``target``, or ``target-2``, ``target-3``... when an earlier drop of the same name is already there
    (or has ``taken`` that name for an output not written yet)."""
    return next(c for c in _numbered(target) if not os.path.lexists(c) and c not in taken)


def _numbered(target: Path) -> Iterator[Path]:
    """``target``, ``target-2``, ``target-3``... (``name-2.jpg`` for a name with a suffix)."""
    yield target
    n = 1
    while True:
        n += 1
        yield target.with_name(f"{target.stem}-{n}{target.suffix}" if target.suffix else f"{target.name}-{n}")


def _move_aside(path: Path, folder: Path, name: str) -> Path:
    """Move an original out of the inbox (rename, or copy then remove across file systems); never delete it."""
    target = _unique(folder / name)
    shutil.move(str(path), str(target))
    return target
