"""Cluster builds: a real dask.distributed LocalCluster on 127.0.0.1 (two worker processes), a real scheduler
and worker started as subprocesses for the reduced-PATH case, and the CLI's --cluster against nothing.

Every wait is bounded; every cluster, scheduler and worker started here is stopped here.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from evidence_kit import api
from evidence_kit.cli import main
from evidence_kit.fsutil import sha256_file
from evidence_kit.media.video import VIDEO_CACHE_DIR
from evidence_kit.model.manifest import verify_package
from evidence_kit.runners.batch import find_cases, plan_jobs
from evidence_kit.runners.cluster import VIDEO_RESOURCE, run_on_client

from .conftest import CASE_TOML, installed_cli, noisy_photo

distributed = pytest.importorskip("distributed")  # the [cluster] extra; `make test` installs it

QUIET_CASE = textwrap.dedent(CASE_TOML.replace('notes = "Arrived broken."\n', ""))  # see test_batch.py
CLI = installed_cli()
# Outputs that differ between any two builds of the same case, wherever they run: the manifest records when
# it was written and how many seconds each stage took, and the summary PDF embeds its creation time and a
# random document ID. Everything else (photos, video, contact sheet, texts) must be byte for byte the same.
NOT_DETERMINISTIC = {"manifest.json", "summary.pdf"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clip(path: Path, seconds: float = 2.0) -> None:
    """A small VP9/Opus WebM: the form wants H.264/AAC MP4, so the video stage must re-encode it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s=320x240:r=25:d={seconds}",
                    "-f", "lavfi", "-i", f"sine=d={seconds}", "-c:v", "libvpx-vp9", "-deadline", "realtime",
                    "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus", str(path)], check=True, timeout=120)


def make_cases(root: Path, photo_cases: int, video_cases: int) -> list[Path]:
    """``photo_cases`` cases with two photos each, then ``video_cases`` with one photo and a video."""
    folders = []
    for i in range(photo_cases + video_cases):
        folder = root / f"case-{i:02d}"
        (folder / "photos").mkdir(parents=True)
        (folder / "case.toml").write_text(QUIET_CASE, encoding="utf-8")
        for j in range(2 if i < photo_cases else 1):
            noisy_photo(320, 240, seed=i * 10 + j).save(folder / "photos" / f"p{j}.jpg", quality=90)
        if i >= photo_cases:
            _clip(folder / "video" / "unboxing.webm")
        folders.append(folder)
    return folders


def package_hashes(package: Path) -> dict[str, str]:
    return {p.relative_to(package).as_posix(): sha256_file(p) for p in sorted(package.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[distributed.Client]:
    """Two worker processes on loopback, one thread each, both offering the video resource."""
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                       dashboard_address=None, resources={VIDEO_RESOURCE: 1})
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_the_cli_and_a_local_build_never_import_dask(tmp_path):
    folder = make_cases(tmp_path / "root", 1, 0)[0]
    code = ("import sys, evidence_kit.cli; from evidence_kit import api; "
            f"assert api.build({str(folder)!r}).status == 'built'; "
            "print(','.join(m for m in ('dask', 'distributed') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


@pytest.mark.slow
def test_nothing_listening_is_a_clear_error_with_exit_8(tmp_path):
    make_cases(tmp_path / "root", 1, 0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    # The timeout only keeps a hang from blocking the suite; the runner gives up after its own 5 s.
    done = subprocess.run([str(CLI), "build", "--all", str(tmp_path / "root"), "--cluster", address],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 8, done.stderr
    assert f"error: cannot reach a dask scheduler at {address}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "root" / "case-00" / "evidence-package").exists()


@pytest.mark.slow
def test_cluster_build_matches_a_local_build_and_reruns_skip(tmp_path, local_cluster, capsys):
    local_root, cluster_root = tmp_path / "local", tmp_path / "cluster"
    make_cases(local_root, 2, 2)
    shutil.copytree(local_root, cluster_root)
    options = ["--today", "2026-11-20", "--json"]

    assert main(["build", "--all", str(local_root), "--jobs", "1", *options]) == 0
    local = json.loads(capsys.readouterr().out)
    address = local_cluster.scheduler.address
    assert main(["build", "--all", str(cluster_root), "--cluster", address, *options]) == 0
    remote = json.loads(capsys.readouterr().out)

    by_name = lambda report: {Path(c["case"]).name: c for c in report["cases"]}  # noqa: E731
    local_cases, remote_cases = by_name(local), by_name(remote)
    assert sorted(remote_cases) == ["case-00", "case-01", "case-02", "case-03"]
    for name, case in remote_cases.items():
        assert (case["status"], case["exit_code"], case["uploads"]) == (
            "built", 0, local_cases[name]["uploads"]), case
        package = cluster_root / name / "evidence-package"
        assert verify_package(package).ok
        mine, theirs = package_hashes(package), package_hashes(local_root / name / "evidence-package")
        assert sorted(mine) == sorted(theirs)
        differing = {path for path in mine if mine[path] != theirs[path]}
        assert {Path(p).name for p in differing} <= NOT_DETERMINISTIC, differing
        if name in ("case-02", "case-03"):  # the encode ran as its own task and was taken by the build
            assert "upload/video.mp4" in mine and "upload/video.mp4" not in differing
            assert not (cluster_root / name / VIDEO_CACHE_DIR).exists()  # removed once used

    assert main(["build", "--all", str(cluster_root), "--cluster", address, *options]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in again["cases"]] == ["unchanged"] * 4


def _kill_first_busy_worker(client: distributed.Client, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first worker process seen running a build task (its nanny starts a new one)."""
    pids = client.run(os.getpid)
    while not stop.is_set():
        for worker, keys in client.processing().items():
            if any(str(k).startswith("ek-build-") for k in keys):
                os.kill(pids[worker], signal.SIGKILL)
                killed.append(pids[worker])
                return
        time.sleep(0.02)


@pytest.mark.slow
def test_a_worker_killed_mid_run_leaves_every_case_built_once(tmp_path, local_cluster):
    root = tmp_path / "root"
    make_cases(root, 3, 2)
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_busy_worker, args=(local_cluster, killed, stop), daemon=True)
    killer.start()
    try:
        outcomes = list(run_on_client(plan_jobs(find_cases(root), options=api.BuildOptions()), local_cluster))
    finally:
        stop.set()
        killer.join(timeout=10)
    assert killed, "no worker was killed, so the test proved nothing"
    assert sorted(Path(o.case).name for o in outcomes) == [f"case-{i:02d}" for i in range(5)]  # once each
    for outcome in outcomes:
        # The retry builds the case, or finds the package the killed worker had just put in place.
        assert outcome.status in ("built", "unchanged") and outcome.exit_code == 0, outcome
        folder = Path(outcome.case)
        assert verify_package(folder / "evidence-package").ok
        assert [p.name for p in folder.iterdir() if p.name.startswith(".ek-")] == []  # no staging, no cache
    local_cluster.wait_for_workers(2, timeout=60)  # the nanny's replacement, for the next test


def _reduced_path(folder: Path) -> str:
    """A PATH holding every program a build calls except ffmpeg and ffprobe."""
    folder.mkdir()
    for command in ("jpegtran", "fc-match", "fc-list", "pdftoppm", "chromium"):
        if found := shutil.which(command):
            (folder / command).symlink_to(found)
    return str(folder)


@pytest.mark.slow
def test_a_worker_without_ffmpeg_fails_the_video_cases_with_exit_4(tmp_path, capsys):
    root = tmp_path / "root"
    make_cases(root, 2, 1)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    env = {**os.environ, "PATH": _reduced_path(tmp_path / "bin")}
    # Tagged ffmpeg=1 by mistake: it gets the encode task too, and must report, not crash or hang.
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                               "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--resources",
                               f"{VIDEO_RESOURCE}=1"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        assert main(["build", "--all", str(root), "--cluster", address, "--json"]) == 1  # some cases failed
        report = {Path(c["case"]).name: c for c in json.loads(capsys.readouterr().out)["cases"]}
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert (report["case-00"]["exit_code"], report["case-01"]["exit_code"]) == (0, 0)
    video = report["case-02"]
    assert video["exit_code"] == 4
    assert [p["message"] for p in video["problems"]] == [
        "ffmpeg is not installed; the video stage needs it (install it with: sudo apt-get install ffmpeg)"]
    assert verify_package(root / "case-02" / "evidence-package").ok  # the rest of that case was built


@pytest.mark.slow
def test_a_prepared_encode_is_taken_by_the_build_and_only_for_the_same_settings(tmp_path):
    folder = make_cases(tmp_path / "root", 0, 1)[0]
    job = plan_jobs([folder])[0]
    entry = api.prepare_video(job)
    assert entry is not None and entry.parent == folder / VIDEO_CACHE_DIR
    package = api.build(folder).package
    # The build hard-linked the prepared file instead of encoding again (same file system: same inode).
    assert os.stat(package / "upload" / "video.mp4").st_ino == os.stat(entry / "video.mp4").st_ino
    assert verify_package(package).ok
    # The report beside it is plain JSON (data on a shared folder, never code); a damaged one is not taken.
    report = entry / "report.json"
    assert json.loads(report.read_text(encoding="utf-8"))["report"]["probe"]["video_codec"]
    report.write_text('{"report": {"probe": "not a probe"}}', encoding="utf-8")
    encoded_again = api.build(folder, reuse_unchanged=False).package
    assert os.stat(encoded_again / "upload" / "video.mp4").st_ino != os.stat(entry / "video.mp4").st_ino
    assert verify_package(encoded_again).ok

    # Other stills are another key: the old encode is not taken, the stage encodes as always.
    toml = folder / "case.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + '\n[video]\nstills = ["0:01"]\n', encoding="utf-8")
    rebuilt = api.build(folder).package
    assert os.stat(rebuilt / "upload" / "video.mp4").st_ino != os.stat(entry / "video.mp4").st_ino
    assert verify_package(rebuilt).ok
    assert api.prepare_video(plan_jobs([make_cases(tmp_path / "other", 1, 0)[0]])[0]) is None  # no video


@pytest.mark.slow
def test_the_watcher_hands_its_builds_to_the_cluster(tmp_path, local_cluster):
    from evidence_kit.runners.watch import Watcher, WatchFolders

    from .test_watch import Running, wait_for

    (tmp_path / "inbox").mkdir()
    folders = WatchFolders.beside(tmp_path / "inbox")
    make_cases(tmp_path / "drops", 1, 0)
    running = Running(Watcher(folders, settle=0.5, executor=local_cluster.get_executor(pure=False)))
    with distributed.get_task_stream(client=local_cluster) as stream:
        running.thread.start()
        try:
            wait_for(lambda: running.of("started"), 30, "the watcher to start")
            shutil.move(str(tmp_path / "drops" / "case-00"), str(folders.inbox / "case-00"))
            wait_for(lambda: running.of("done") or running.of("failed"), 120, "the drop to be processed")
        finally:
            running.stop.set()
            running.thread.join(timeout=120)
    assert [e.name for e in running.of("done")] == ["case-00"] and not running.of("failed")
    assert verify_package(folders.outbox / "case-00").ok
    assert (folders.archive / "case-00" / "case.toml").is_file()
    assert [t["key"].split("-")[0] for t in stream.data] == ["run_job"]  # built by a cluster worker
