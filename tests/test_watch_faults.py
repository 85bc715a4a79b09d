"""The watcher against unlucky drops (issue 24): a name that is not UTF-8, a restart after the packages were
made but before the originals were moved, and loose files (no local paths in their manifest, the usual mode).

Real watchdog observers on real folders; every wait is bounded and every watcher is stopped.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from evidence_kit.fsutil import current_umask
from evidence_kit.model.manifest import MANIFEST_NAME, verify_package
from evidence_kit.runners.watch import ERROR_FILE, Watcher, WatchFolders

from .conftest import noisy_photo
from .test_watch import Running, wait_for, write_case

CAFE = os.fsdecode(b"caf\xe9")  # a folder name from a Latin-1 system: not valid UTF-8


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
        wait_for(lambda: running.of("started") or not running.thread.is_alive(), 30, "the watcher to start")
        started.append(running)
        return running

    def stop(running: Running) -> None:
        running.stop.set()
        running.thread.join(timeout=120)
        assert not running.thread.is_alive(), "the watcher did not stop"

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    for running in started:
        stop(running)


def test_a_failing_drop_whose_name_is_not_utf8_fails_plainly_and_the_watcher_goes_on(folders, watching, tmp_path):
    running = watching(settle=0.3, workers=1)
    broken = folders.inbox / CAFE
    broken.mkdir()
    (broken / "case.toml").write_text("[order\nnumber = ", encoding="utf-8")  # not TOML: the drop fails
    wait_for(lambda: running.of("failed") or not running.thread.is_alive(), 60, "the broken drop to fail")
    assert running.thread.is_alive(), "the watcher stopped on that drop"

    holder = folders.failed / CAFE
    error = (holder / ERROR_FILE).read_bytes().decode("utf-8")  # written, and as plain UTF-8
    assert 'could not make a package from "caf\\xe9"' in error and "not valid TOML" in error, error
    assert (holder / CAFE / "case.toml").is_file()  # the original, unchanged, beside it
    for event in running.events:  # what the log and the terminal show: printable, encodable text
        assert str(event).encode("utf-8") and CAFE not in str(event), event

    write_case(tmp_path / "desk" / "next", seed=1)  # and it keeps watching
    shutil.move(str(tmp_path / "desk" / "next"), str(folders.inbox / "next"))
    wait_for(lambda: running.finished()["next"], 90, "the next drop")
    assert [e.name for e in running.of("done")] == ["next"]
    assert verify_package(folders.outbox / "next").ok


def test_a_restart_does_not_rebuild_drops_whose_package_was_already_made(folders, watching, tmp_path):
    """A watcher stopped (killed, crashed) after writing a drop's package but before moving the original out
    of the inbox leaves both; the next one must recognise the package and only move the original."""
    running = watching(settle=0.3, workers=2)
    write_case(folders.inbox / "kettle", seed=2)
    noisy_photo(320, 240, seed=3).save(folders.inbox / "scratch.png")
    wait_for(lambda: set(running.finished()) >= {"kettle", "scratch.png"}, 120, "both drops")
    watching.stop(running)  # type: ignore[attr-defined]
    assert not running.of("failed")
    built = {name: (folders.outbox / name / MANIFEST_NAME).read_bytes() for name in ("kettle", "scratch")}
    # What the killed watcher left: each package in OUTBOX, each original still in INBOX (a rename keeps times).
    os.rename(folders.archive / "kettle", folders.inbox / "kettle")
    os.rename(folders.archive / "scratch.png", folders.inbox / "scratch.png")

    for _ in range(2):  # restarted twice: never a kettle-2, -3 ...
        again = watching(settle=0.3, workers=2)
        wait_for(lambda: set(again.finished()) >= {"kettle", "scratch.png"}, 120, "the drops after the restart")
        watching.stop(again)  # type: ignore[attr-defined]
        assert not again.of("processing") and not again.of("failed"), again.events
        assert all("already built" in e.message for e in again.of("done")), again.of("done")
        assert sorted(p.name for p in folders.outbox.iterdir()) == ["kettle", "scratch"]
        assert {name: (folders.outbox / name / MANIFEST_NAME).read_bytes() for name in built} == built
        assert list(folders.inbox.iterdir()) == []
        os.rename(folders.archive / "kettle", folders.inbox / "kettle")
        os.rename(folders.archive / "scratch.png", folders.inbox / "scratch.png")

    # A drop that did change is built again, into a folder of its own.
    noisy_photo(320, 240, seed=4).save(folders.inbox / "kettle" / "photos" / "second.jpg", quality=90)
    last = watching(settle=0.3, workers=2)
    wait_for(lambda: set(last.finished()) >= {"kettle", "scratch.png"}, 120, "the drops after the change")
    assert [e.name for e in last.of("processing")] == ["kettle"]
    assert sorted(p.name for p in folders.outbox.iterdir()) == ["kettle", "kettle-2", "scratch"]


def test_loose_drops_name_no_local_paths(folders, watching, tmp_path):
    noisy_photo(320, 240, seed=5).save(folders.inbox / "loose.png")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15", "-t", "2",
                    "-pix_fmt", "yuv420p", str(folders.inbox / "clip.mp4")], check=True, timeout=60)
    write_case(folders.inbox / "case", seed=6)
    running = watching(settle=0.3, workers=2)
    wait_for(lambda: set(running.finished()) >= {"loose.png", "clip.mp4", "case"}, 120, "the drops")
    assert not running.of("failed")

    for name, source in (("loose", "loose.png"), ("clip", "clip.mp4")):
        package = folders.outbox / name
        assert verify_package(package).ok
        text = (package / MANIFEST_NAME).read_text(encoding="utf-8")
        assert str(tmp_path) not in text, text  # no local path anywhere in the manifest
        manifest = json.loads(text)
        assert [i["path"] for i in manifest["inputs"]] == [source]
        assert {o["source"] for o in manifest["outputs"]} == {source}


def test_loose_drops_get_the_folder_mode_case_drops_get(folders, watching):
    noisy_photo(320, 240, seed=7).save(folders.inbox / "loose.png")
    write_case(folders.inbox / "case", seed=8)
    running = watching(settle=0.3, workers=2)
    wait_for(lambda: set(running.finished()) >= {"loose.png", "case"}, 120, "the drops")
    usual = 0o777 & ~current_umask()  # the user's umask, as for any folder they make
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folders.outbox.iterdir()}
    assert modes == {"loose": usual, "case": usual}
