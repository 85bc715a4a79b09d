"""``photos``/``video`` run twice into one --out: the second run is refused (exit 7) unless --force, which
replaces the earlier run's files, so the folder and its manifest.json always describe one run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evidence_kit import api
from evidence_kit.errors import ExitCode, FileAccessError
from evidence_kit.model.manifest import MANIFEST_NAME, verify_package

from .conftest import ROOT, noisy_photo


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def shots(tmp_path: Path) -> list[Path]:
    files = []
    for name, seed in (("first.jpg", 1), ("second.png", 2)):
        noisy_photo(320, 240, seed=seed).save(tmp_path / name)
        files.append(tmp_path / name)
    return files


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_second_photos_run_into_the_same_out_is_refused_and_changes_nothing(shots, tmp_path):
    out = tmp_path / "ready"
    assert run_cli("photos", str(shots[0]), "--out", str(out)).returncode == 0
    before = snapshot(out)
    done = run_cli("photos", str(shots[1]), "--out", str(out))
    assert done.returncode == ExitCode.FILE_ACCESS == 7
    assert str(out / MANIFEST_NAME) in done.stderr and "--force" in done.stderr and "first.jpg" in done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot(out) == before and verify_package(out).ok


def test_force_replaces_the_earlier_run(shots, tmp_path):
    out = tmp_path / "ready"
    api.fit_photos([shots[0]], out)
    (out / "mine.txt").write_text("the user's own file, not from a run", encoding="utf-8")
    with pytest.raises(FileAccessError):
        api.fit_photos([shots[1]], out)
    done = run_cli("photos", str(shots[1]), "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    data = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert [Path(i["path"]).name for i in data["inputs"]] == ["second.png"]
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "mine.txt", "second.jpg"]  # first.jpg gone
    (out / "mine.txt").unlink()
    assert verify_package(out).ok


def test_a_second_video_run_into_the_same_out_is_refused(tmp_path):
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15", "-t", "2",
                    "-pix_fmt", "yuv420p", str(clip)], check=True, timeout=60)
    out = tmp_path / "ready"
    api.fit_photos([], out)  # an earlier run (of no photos) left its manifest.json
    done = run_cli("video", str(clip), "--out", str(out))
    assert done.returncode == ExitCode.FILE_ACCESS and str(out / MANIFEST_NAME) in done.stderr
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME]
    done = run_cli("video", str(clip), "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert verify_package(out).ok
    assert json.loads((out / MANIFEST_NAME).read_text())["outputs"][0]["path"] == "clip.mp4"
