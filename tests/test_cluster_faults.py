"""Cluster builds when the cluster fails (issue 24): a real scheduler and worker started as subprocesses on
127.0.0.1 and the scheduler killed mid-run, the encodes such a run leaves in the cases, a malformed address.

Every wait is bounded; every process started here is stopped here.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from evidence_kit.cli import main
from evidence_kit.media.video import VIDEO_CACHE_DIR
from evidence_kit.model.manifest import verify_package
from evidence_kit.runners.batch import find_cases, plan_jobs

from .test_cluster import CLI, _free_port, make_cases

distributed = pytest.importorskip("distributed")  # the [cluster] extra; `make test` installs it

GONE = "not built: the cluster went away before this case finished; run again"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def scheduler_and_worker() -> Iterator[tuple[str, subprocess.Popen, subprocess.Popen]]:
    """A `dask scheduler` and one single-threaded `dask worker` offering the video resource."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                               "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--resources", "ffmpeg=1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield address, scheduler, worker
    finally:
        for process in (worker, scheduler):
            _stop(process)


def _caches(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.glob(f"*/{VIDEO_CACHE_DIR}"))


@pytest.mark.slow
def test_a_scheduler_killed_mid_run_fails_the_cases_left_plainly_and_leaves_no_encodes(tmp_path,
                                                                                      scheduler_and_worker):
    address, scheduler, worker = scheduler_and_worker
    root = tmp_path / "root"
    make_cases(root, 1, 2)  # case-00 photos only; case-01 and case-02 each get an encode task first

    def kill_at_the_first_encode() -> None:  # the encode is in the case, its build not yet done
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and scheduler.poll() is None:
            if list(root.glob(f"*/{VIDEO_CACHE_DIR}/*/report.json")):
                scheduler.kill()
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_at_the_first_encode, daemon=True)
    killer.start()
    done = subprocess.run([str(CLI), "build", "--all", str(root), "--cluster", address, "--json"],
                          capture_output=True, text=True, timeout=300)
    killer.join(timeout=10)
    assert scheduler.poll() is not None, "the scheduler was not killed, so the test proved nothing"

    assert done.returncode == 1, done.stderr  # some cases failed
    assert "Traceback" not in done.stderr and "distributed" not in done.stderr, done.stderr
    report = {Path(c["case"]).name: c for c in json.loads(done.stdout)["cases"]}
    assert sorted(report) == ["case-00", "case-01", "case-02"]  # every case answered, once
    lost = [case for case in report.values() if case["status"] == "failed"]
    assert lost, report
    for case in lost:
        assert (case["exit_code"], case["message"]) == (8, GONE), case
    for case in report.values():
        if case["status"] != "failed":
            assert case["exit_code"] == 0 and verify_package(Path(case["package"])).ok, case

    # A worker that lost its scheduler ends its task and exits; the encode it made has no build to take it.
    worker.wait(timeout=120)
    assert _caches(root) == []

    # Run again (here locally): the cases not built are built now.
    assert main(["build", "--all", str(root), "--jobs", "1"]) == 0
    assert all(verify_package(folder / "evidence-package").ok for folder in find_cases(root))


def _leave_an_encode(folder: Path) -> None:
    """What a cluster run that lost its scheduler between a case's encode and its build leaves."""
    from evidence_kit import api

    entry = api.prepare_video(plan_jobs([folder])[0])
    assert entry is not None and entry.parent == folder / VIDEO_CACHE_DIR


@pytest.mark.slow
def test_any_later_run_removes_encodes_an_earlier_run_left(tmp_path):
    root = tmp_path / "root"
    folder = make_cases(root, 0, 1)[0]
    assert main(["build", "--all", str(root)]) == 0
    for again in (["build", "--all", str(root)],  # unchanged: skipped, and the encode removed anyway
                  ["build", "--all", str(root), "--force", "--jobs", "1"],
                  ["build", str(folder)],  # one case, unchanged
                  ["build", str(folder), "--force"]):
        _leave_an_encode(folder)
        assert main(again) == 0, again
        assert _caches(root) == [], again
        assert verify_package(folder / "evidence-package").ok


def test_a_malformed_cluster_address_is_a_clear_error_and_nothing_else(tmp_path):
    make_cases(tmp_path / "root", 1, 0)
    done = subprocess.run([str(CLI), "build", "--all", str(tmp_path / "root"), "--cluster", "garbage"],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 8, done.stderr
    assert done.stderr.startswith("error: garbage is not a dask scheduler address"), done.stderr
    assert "tcp://HOST:8786" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert not (tmp_path / "root" / "case-00" / "evidence-package").exists()
