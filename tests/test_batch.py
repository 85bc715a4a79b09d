"""Batch builds: many cases in parallel, one failure never stops the others, unchanged cases skipped,
and a run killed with SIGKILL at any moment leaves only whole packages; the next run completes them."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from evidence_kit import api
from evidence_kit.fsutil import clear_leftovers
from evidence_kit.runners.batch import BUILT, FAILED, UNCHANGED, find_cases, plan_jobs, run_batch, sweep_orphaned_semaphores
from evidence_kit.cli import main
from evidence_kit.model.manifest import MANIFEST_NAME, verify_package

from .conftest import CASE_TOML, ROOT, installed_cli, noisy_photo

# No notes: the texts stage's language detector costs seconds per process to load, and it is not under test.
QUIET_CASE = CASE_TOML.replace('notes = "Arrived broken."\n', "")
CLI = installed_cli()


@pytest.fixture
def cases(make_case):
    """``cases(n, root="root", photos=1, size=(320, 240))`` -> case folders root/case-00...; JPEG photos."""

    def make(n: int, root: str = "root", photos: int = 1, size: tuple[int, int] = (320, 240)) -> list[Path]:
        return [make_case(toml=QUIET_CASE, name=f"{root}/case-{i:02d}", quality=90,
                          photos={f"p{j}.jpg": noisy_photo(*size, seed=i * 10 + j) for j in range(photos)})
                for i in range(n)]

    return make


def _corrupt_case(root: Path) -> Path:
    folder = root / "broken-case"
    folder.mkdir(parents=True)
    (folder / "case.toml").write_text("[order\nnumber = ", encoding="utf-8")
    return folder


@pytest.mark.slow
def test_batch_builds_in_parallel_isolates_a_failure_and_skips_unchanged(cases):
    good = cases(3)
    root = good[0].parent
    broken = _corrupt_case(root)
    assert find_cases(root) == sorted([*good, broken])

    first = {Path(o.case).name: o for o in run_batch(plan_jobs(find_cases(root)), workers=2)}
    assert {name: o.status for name, o in first.items()} == {
        "case-00": BUILT, "case-01": BUILT, "case-02": BUILT, "broken-case": FAILED}
    assert first["broken-case"].exit_code == 3 and "not valid TOML" in first["broken-case"].message
    for case in good:
        assert verify_package(case / "evidence-package").ok

    again = {Path(o.case).name: o.status for o in run_batch(plan_jobs(find_cases(root)), workers=2)}
    assert again == {"case-00": UNCHANGED, "case-01": UNCHANGED, "case-02": UNCHANGED, "broken-case": FAILED}

    # New content under the same name is a change; so is a setting.
    noisy_photo(320, 240, seed=99).save(good[1] / "photos" / "p0.jpg", quality=90)
    changed = {Path(o.case).name: o.status for o in run_batch(plan_jobs(good), workers=1)}
    assert changed == {"case-00": UNCHANGED, "case-01": BUILT, "case-02": UNCHANGED}
    forced = [o.status for o in run_batch(plan_jobs(good, force=True), workers=1)]
    assert forced == [BUILT, BUILT, BUILT]


def test_an_edited_package_is_rebuilt_not_skipped(cases):
    case = cases(1)[0]
    assert api.build(case).status == BUILT
    photo = next((case / "evidence-package" / "upload").glob("photo-*.jpg"))
    photo.write_bytes(photo.read_bytes()[:-100])  # damaged after the build
    outcome = api.build(case)
    assert outcome.status == BUILT and verify_package(outcome.package).ok


def test_cli_many_cases_prints_a_summary_and_exit_code_says_one_failed(cases, tmp_path, capsys):
    good = cases(2)
    root = good[0].parent
    _corrupt_case(root)
    out = tmp_path / "packages"
    assert main(["build", "--all", str(root), "--out", str(out), "--jobs", "1"]) == 1
    table = capsys.readouterr().out
    for case, status in (("case-00", "built"), ("case-01", "built"), ("broken-case", "failed")):
        assert re.search(rf"^{case} +{status} ", table, re.M), table
    assert "3 cases: 2 built, 0 unchanged (skipped), 1 failed" in table
    assert sorted(p.name for p in out.iterdir()) == ["case-00", "case-01"]

    assert main(["build", str(good[0]), str(good[1]), "--out", str(out), "--json", "--jobs", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in report["cases"]] == [UNCHANGED, UNCHANGED] and report["exit_code"] == 0


def test_cli_single_case_keeps_its_output_and_says_when_unchanged(cases, capsys):
    case = cases(1)[0]
    assert main(["build", str(case)]) == 0
    first = capsys.readouterr()
    lines = first.out.splitlines()  # where the case stands first, then the package
    assert lines[0].startswith("Stage: ") and lines[1] == f"Package: {case / 'evidence-package'}"
    assert "Unchanged" not in first.err
    assert main(["build", str(case)]) == 0
    second = capsys.readouterr()
    assert second.out == first.out and "Unchanged since the last build" in second.err
    assert main(["build", str(case), "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == BUILT
    assert main(["build", str(case.parent / "nope")]) == 3
    assert main(["build"]) == 2
    capsys.readouterr()
    out = case.parent.parent / "packages"  # --all: --out holds one package per case, even for a single one
    assert main(["build", "--all", str(case.parent), "--out", str(out), "--jobs", "1"]) == 0
    assert verify_package(out / case.name).ok


def test_leftovers_of_a_killed_run_are_cleared_and_never_taken_for_packages(cases):
    case = cases(1)[0]
    package = case / "evidence-package"
    api.build(case)
    # The states a kill -9 can leave: a staging folder half written, and (killed between the two renames of
    # a rebuild) the previous whole package moved aside with no package in place.
    staging = case / ".ek-tmp-evidence-package-ab12cd_9"
    (staging / "upload").mkdir(parents=True)
    (staging / "upload" / "photo-1-p0.jpg").write_bytes(b"\xff\xd8 half")
    os.replace(package, case / ".ek-tmp-old-evidence-package-4242")
    unrelated = case / ".ek-tmp-evidence-package-2-ab12cd34"  # another package's staging: not ours to touch
    unrelated.mkdir()
    assert find_cases(case.parent) == [case]  # hidden folders are never cases or packages

    assert clear_leftovers(package) == [".ek-tmp-evidence-package-ab12cd_9",
                                        ".ek-tmp-old-evidence-package-4242 (restored as evidence-package)"]
    assert verify_package(package).ok and unrelated.is_dir() and not staging.exists()
    staging.mkdir()
    assert api.build(case).status == UNCHANGED and not staging.exists()  # the restored package was current


def _wait_until_gone(group: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, "the killed process group did not go away"
        time.sleep(0.02)


def _packages(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/evidence-package"))


@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun_completes_every_package(cases, tmp_path):
    folders = cases(10, photos=3, size=(900, 700))
    root = folders[0].parent
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    semaphores_before = _named_semaphores()
    run = subprocess.Popen([str(CLI), "build", "--all", str(root), "--jobs", "2"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + 90
    try:
        while not _packages(root):
            assert run.poll() is None, "the batch ended before the test could kill it"
            assert time.monotonic() < deadline, "no package appeared within 90 s"
            time.sleep(0.02)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
    _wait_until_gone(run.pid)  # the killed workers' process group is gone before looking
    whole = _packages(root)
    assert 0 < len(whole) < len(folders), "the kill was meant to land mid-way"
    # The pool's queues are named semaphores in /dev/shm; kill -9 of the group takes multiprocessing's own
    # cleaner (the resource tracker) with it, so they stay until the next run sweeps them.
    left_by_the_kill = _named_semaphores() - semaphores_before
    assert left_by_the_kill, "the killed pool was expected to leave its semaphores behind"
    for package in whole:  # visible packages are whole: every file there and matching its manifest
        assert verify_package(package).ok, package

    done = subprocess.run([str(CLI), "build", "--all", str(root), "--jobs", "2", "--json"], capture_output=True,
                          text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr
    statuses = {Path(c["case"]).name: c["status"] for c in json.loads(done.stdout)["cases"]}
    assert all(statuses[p.parent.name] == UNCHANGED for p in whole)
    assert sorted(statuses.values()).count(BUILT) == len(folders) - len(whole)
    for folder in folders:
        assert main(["verify", str(folder / "evidence-package")]) == 0
        assert (folder / "evidence-package" / MANIFEST_NAME).is_file()
    assert not [p for p in root.rglob(".ek-tmp-*")], "leftovers of the killed run remain"
    assert not left_by_the_kill & _named_semaphores(), "the killed run's semaphores were not swept"
    shutil.rmtree(root)


def _named_semaphores() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("sem.mp-*")}


@pytest.mark.slow
def test_cases_whose_worker_was_killed_are_built_in_a_fresh_pool(cases):
    import multiprocessing
    import threading

    folders = cases(2, root="crash")
    killed: list[int] = []

    def kill_the_first_workers() -> None:  # as the OOM killer would, while the first builds run
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for worker in multiprocessing.active_children():
                os.kill(worker.pid, signal.SIGKILL)
                killed.append(worker.pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_first_workers)
    killer.start()
    outcomes = list(run_batch(plan_jobs(folders, force=True), workers=2))
    killer.join()
    assert killed
    assert sorted(o.status for o in outcomes) == [BUILT, BUILT], [o.message for o in outcomes]
    for folder in folders:
        assert verify_package(folder / "evidence-package").ok


def test_the_semaphore_sweep_keeps_live_ones_and_removes_unmapped_ones(tmp_path):
    import multiprocessing

    live = multiprocessing.get_context("spawn").Lock()  # a named semaphore this process maps
    live_names = _named_semaphores()
    assert live_names, "a spawn-context lock was expected to be a named semaphore"
    assert not set(sweep_orphaned_semaphores()) & live_names
    assert live_names <= _named_semaphores()
    with live:  # still usable after the sweep
        pass

    litter = tmp_path / "sem.mp-killed01"  # the same kind of file, mapped by no process
    litter.write_bytes(bytes(32))
    other = tmp_path / "sem.other"  # not multiprocessing's: never touched
    other.write_bytes(bytes(32))
    assert sweep_orphaned_semaphores(tmp_path) == ["sem.mp-killed01"]
    assert not litter.exists() and other.exists()
