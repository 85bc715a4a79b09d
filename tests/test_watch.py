"""The drag-in folder watcher: real watchdog observers (inotify and polling) on real folders.

Every wait is bounded; a watcher runs in a thread (or a subprocess for signals) and is always stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import pytest

from evidence_kit.errors import InputError
from evidence_kit.model.manifest import MANIFEST_NAME, verify_package
from evidence_kit.runners.watch import ERROR_FILE, WatchEvent, Watcher, WatchFolders

from .conftest import CASE_TOML, ROOT, installed_cli, noisy_photo

QUIET_CASE = textwrap.dedent(CASE_TOML.replace('notes = "Arrived broken."\n', ""))  # see test_batch.py
CLI = installed_cli()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.05)


class Running:
    """A watcher in a background thread, with the events it reported."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.events: list[WatchEvent] = []
        self.lock = threading.Lock()
        watcher.on_event = self._record
        self.stop = threading.Event()
        self.thread = threading.Thread(target=watcher.run, args=(self.stop,), daemon=True)

    def _record(self, event: WatchEvent) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: str) -> list[WatchEvent]:
        with self.lock:
            return [e for e in self.events if e.kind == kind]

    def finished(self) -> Counter:
        return Counter(e.name for e in self.of("done") + self.of("failed"))


@pytest.fixture
def folders(tmp_path: Path) -> WatchFolders:
    (tmp_path / "inbox").mkdir()
    return WatchFolders.beside(tmp_path / "inbox")


@pytest.fixture
def watching(folders) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(**settings) -> Running:
        running = Running(Watcher(folders, **settings))
        running.thread.start()
        wait_for(lambda: running.of("started"), 30, "the watcher to start")
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop.set()
        running.thread.join(timeout=120)
        assert not running.thread.is_alive(), "the watcher did not stop"


def write_case(folder: Path, seed: int, toml: str = QUIET_CASE) -> Path:
    (folder / "photos").mkdir(parents=True)
    (folder / "case.toml").write_text(toml, encoding="utf-8")
    noisy_photo(320, 240, seed=seed).save(folder / "photos" / "item.jpg", quality=90)
    return folder


@pytest.mark.slow
def test_a_slow_copy_is_processed_once_and_only_after_it_ends(folders, watching, tmp_path):
    source = write_case(tmp_path / "source", seed=1)
    photo = (source / "photos" / "item.jpg").read_bytes()
    running = watching(settle=1.0, workers=1)

    target = folders.inbox / "slow"
    (target / "photos").mkdir(parents=True)
    (target / "case.toml").write_text(QUIET_CASE, encoding="utf-8")
    with open(target / "photos" / "item.jpg", "wb") as handle:  # in chunks, with pauses shorter than settle
        for start in range(0, len(photo), 4096):
            handle.write(photo[start:start + 4096])
            handle.flush()
            time.sleep(0.3 if start < 8 * 4096 else 0.02)
    copy_ended = time.monotonic()
    ended_at = time.time()

    wait_for(lambda: running.finished()["slow"], 90, "the slow copy to be processed")
    wait_for(lambda: running.watcher.idle, 30, "the watcher to be idle")  # a duplicate would be pending now
    assert time.monotonic() - copy_ended > 1.0
    processing = [e for e in running.of("processing") if e.name == "slow"]
    assert len(processing) == 1 and running.finished()["slow"] == 1
    assert processing[0].time.timestamp() >= ended_at + 1.0 - 0.05  # only after the copy stayed still for settle
    package = folders.outbox / "slow"
    assert verify_package(package).ok
    inputs = json.loads((package / MANIFEST_NAME).read_text())["inputs"]
    assert [i["sha256"] for i in inputs] == [hashlib.sha256(photo).hexdigest()]  # the whole file, not a part
    assert (folders.archive / "slow" / "photos" / "item.jpg").read_bytes() == photo  # moved, not changed
    assert list(folders.inbox.iterdir()) == []


@pytest.mark.slow
def test_thirty_cases_at_once_with_a_corrupt_one_and_loose_files(folders, watching, tmp_path):
    staging = tmp_path / "desk"
    names = [f"case-{i:02d}" for i in range(30)]
    for i, name in enumerate(names):
        write_case(staging / name, seed=i)
    (staging / "corrupt").mkdir()
    (staging / "corrupt" / "case.toml").write_text("[order\nnumber = ", encoding="utf-8")
    noisy_photo(400, 300, seed=7).save(staging / "loose.png")
    (staging / "notes.txt").write_text("not evidence", encoding="utf-8")
    (staging / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15", "-t", "2",
                    "-pix_fmt", "yuv420p", str(staging / "clip.mp4")], check=True, timeout=60)
    running = watching(settle=0.5, workers=2, poll=True)  # the polling observer, as on a network share

    for entry in sorted(staging.iterdir()):  # dropped at once: renames into the inbox
        os.rename(entry, folders.inbox / entry.name)
    expected = {*names, "corrupt", "loose.png", "notes.txt", "broken.jpg", "clip.mp4"}
    wait_for(lambda: set(running.finished()) >= expected, 150, "every drop to be processed")
    wait_for(lambda: running.watcher.idle, 30, "the watcher to be idle")  # a duplicate would be pending now

    assert running.finished() == Counter({name: 1 for name in expected})  # each exactly once
    assert Counter(e.name for e in running.of("processing")) == Counter(
        {name: 1 for name in expected - {"notes.txt"}})
    for name in names:
        assert verify_package(folders.outbox / name).ok
        assert (folders.archive / name / "case.toml").is_file()
    loose = folders.outbox / "loose"
    assert verify_package(loose).ok and (loose / "loose.jpg").stat().st_size <= 2_000_000
    assert (folders.archive / "loose.png").is_file()
    clip = json.loads((folders.outbox / "clip" / MANIFEST_NAME).read_text())  # a loose video: checked, fitted
    assert verify_package(folders.outbox / "clip").ok and "findings" in clip["video"]
    assert [o["path"] for o in clip["outputs"] if o["upload"]] == ["clip.mp4"]
    assert (folders.archive / "clip.mp4").is_file()

    for name, words in (("corrupt", "not valid TOML"), ("notes.txt", "case folder"), ("broken.jpg", "broken.jpg")):
        error = (folders.failed / name / ERROR_FILE).read_text(encoding="utf-8")
        assert f'could not make a package from "{name}"' in error and words in error, error
        assert (folders.failed / name / name).exists()  # the original, next to its error.txt
        assert "Traceback" not in error
    assert list(folders.inbox.iterdir()) == []
    assert sorted(p.name for p in folders.outbox.iterdir()) == sorted([*names, "loose", "clip"])


@pytest.mark.slow
def test_a_case_changed_while_processing_is_processed_again(folders, watching):
    running = watching(settle=0.3, workers=1)
    case = write_case(folders.inbox / "growing", seed=3)
    wait_for(lambda: running.of("processing"), 60, "processing to start")
    noisy_photo(320, 240, seed=4).save(case / "photos" / "second.jpg", quality=90)
    wait_for(lambda: running.finished()["growing"], 90, "the case to be done")
    manifest = json.loads((folders.outbox / "growing" / MANIFEST_NAME).read_text())
    # The second photo arrived after processing began: the drop is seen as changed and built again, once.
    assert [e.name for e in running.of("changed")] == ["growing"]
    assert len([e for e in running.of("processing") if e.name == "growing"]) == 2
    assert sorted(i["path"] for i in manifest["inputs"]) == ["photos/item.jpg", "photos/second.jpg"]


def test_outputs_inside_the_inbox_are_refused(tmp_path):
    (tmp_path / "inbox").mkdir()
    with pytest.raises(InputError, match="must be outside the watched folder"):
        WatchFolders.beside(tmp_path / "inbox", outbox=tmp_path / "inbox" / "out")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM to the watcher", "Ctrl-C to the whole process group"])
def test_a_stop_signal_finishes_the_job_in_flight_and_logs_with_timestamps(tmp_path, how):
    inbox = tmp_path / "inbox"
    write_case(inbox / "waiting", seed=5)  # already there at start
    watcher = subprocess.Popen([str(CLI), "watch", str(inbox), "--settle", "0.3", "--jobs", "1"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("processing: waiting" in line for line in lines), 60, "processing to start")
        if how.startswith("SIGTERM"):
            watcher.send_signal(signal.SIGTERM)
        else:  # as a terminal does: the workers get it too, and must finish their job
            os.killpg(watcher.pid, signal.SIGINT)
        assert watcher.wait(timeout=90) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
    reader.join(timeout=10)
    log = "".join(lines)
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line) for line in lines), log
    assert log.index("stopping:") < log.index("done: waiting") < log.index("stopped:"), log
    assert verify_package(tmp_path / "outbox" / "waiting").ok
    assert (tmp_path / "archive" / "waiting" / "case.toml").is_file() and not (inbox / "waiting").exists()


@pytest.mark.slow
def test_drops_with_the_same_stem_each_get_their_own_output(folders, watching, tmp_path):
    running = watching(settle=0.3, workers=2)
    write_case(folders.inbox / "caseSlow", seed=6)
    wait_for(lambda: running.finished()["caseSlow"], 90, "the case folder to be done")
    first = (folders.outbox / "caseSlow" / MANIFEST_NAME).read_bytes()

    desk = tmp_path / "desk"
    desk.mkdir()
    noisy_photo(320, 240, seed=7).save(desk / "caseSlow.jpg", quality=90)
    noisy_photo(320, 240, seed=8).save(desk / "dup.png")
    noisy_photo(320, 240, seed=9).save(desk / "dup.jpg", quality=90)
    for entry in sorted(desk.iterdir()):  # dup.png and dup.jpg dropped at once: processed side by side
        os.rename(entry, folders.inbox / entry.name)
    wait_for(lambda: {"caseSlow.jpg", "dup.png", "dup.jpg"} <= set(running.finished()), 90, "the loose photos")
    wait_for(lambda: running.watcher.idle, 30, "the watcher to be idle")

    assert not running.of("failed")
    assert sorted(p.name for p in folders.outbox.iterdir()) == ["caseSlow", "caseSlow-2", "dup", "dup-2"]
    assert (folders.outbox / "caseSlow" / MANIFEST_NAME).read_bytes() == first  # the case package untouched
    sources = {}
    for folder in folders.outbox.iterdir():
        assert verify_package(folder).ok, folder
        inputs = json.loads((folder / MANIFEST_NAME).read_text())["inputs"]
        sources[folder.name] = sorted(Path(i["path"]).name for i in inputs)
    assert sources["caseSlow"] == ["item.jpg"] and sources["caseSlow-2"] == ["caseSlow.jpg"]
    assert sorted([sources["dup"], sources["dup-2"]]) == [["dup.jpg"], ["dup.png"]]
    done = {e.name: e.message for e in running.of("done")}
    assert str(folders.outbox / "caseSlow-2") in done["caseSlow.jpg"]


@pytest.mark.slow
def test_a_killed_worker_is_retried_in_a_fresh_pool(folders, watching):
    import multiprocessing

    running = watching(settle=0.3, workers=1)
    write_case(folders.inbox / "crashy", seed=10)
    wait_for(lambda: running.of("processing"), 60, "processing to start")
    workers = multiprocessing.active_children()  # the pool's worker processes (spawned by this process)
    assert workers
    for worker in workers:
        os.kill(worker.pid, signal.SIGKILL)  # as the OOM killer would
    wait_for(lambda: running.finished()["crashy"], 120, "the case to be done after the retry")
    assert [e.name for e in running.of("retry")] == ["crashy"] and not running.of("failed")
    assert verify_package(folders.outbox / "crashy").ok
