"""Faults a new user meets (full disk, odd file names, dates ahead, huge notes, SIGTERM): each a sentence and an
exit code, nothing lost, nothing leaked. Each test reproduces a failure seen before its fix (issue 11)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from evidence_kit import api
from evidence_kit.errors import CaseError
from evidence_kit.fsutil import current_umask
from evidence_kit.names import shown, upload_stem

from .conftest import CASE_TOML, installed_cli, noisy_photo

UPLOAD_NAME = r"[A-Za-z0-9_.-]+"


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed_cli()), *args], capture_output=True, text=True, check=False,
                          errors="surrogateescape", **kwargs)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A tmpfs of a few MB (needs root, as CI has); skipped where mounting is not allowed."""
    mounts = []

    def mount(megabytes: int) -> Path:
        point = tmp_path / f"disk{len(mounts)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(point)],
                              capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip("cannot mount a small tmpfs here (needs root)")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_full_disk_is_a_file_access_error_with_the_free_space(make_case, small_disk):
    root = make_case(photos={f"p{i}.jpg": noisy_photo(1600, 1200, seed=i) for i in range(3)}, quality=95)
    disk = small_disk(1)
    done = run_cli("build", str(root), "--out", str(disk / "pkg"))
    assert done.returncode == 7, done.stderr
    assert f"not enough free space on {disk}" in done.stderr and "MB free" in done.stderr
    assert "Internal error" not in done.stderr
    assert list(disk.iterdir()) == []  # nothing partial left behind


def test_a_read_only_output_is_exit_7_for_every_command(make_case, tmp_path):
    root = make_case(photos={"a.jpg": noisy_photo(800, 600, seed=7)}, quality=90)
    disk = tmp_path / "ro"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(disk)], check=False).returncode:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        for args in (["build", str(root), "--out", str(disk / "pkg")],
                     ["photos", str(root / "photos" / "a.jpg"), "--out", str(disk / "p")],
                     ["summary", str(root), "--out", str(disk / "s.pdf")], ["init", str(disk / "new")]):
            done = run_cli(*args)
            assert done.returncode == 7, (args, done.stderr)
            assert "read-only" in done.stderr.lower() and "Internal error" not in done.stderr
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_the_video_stage_checks_free_space_before_it_writes(make_case, small_disk, tmp_path):
    root = make_case()
    (root / "video").mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-pix_fmt",
                    "yuv420p", str(root / "video" / "unboxing.mp4")], check=True)
    disk = small_disk(8)  # the plan needs the video (at most its size) plus room for stills: over 20 MB
    done = run_cli("build", str(root), "--out", str(disk / "pkg"))
    assert done.returncode == 7, done.stderr
    assert "MB needed" in done.stderr and f"on {disk}" in done.stderr
    assert list(disk.iterdir()) == []


def test_names_that_are_not_utf8_or_hold_newlines_are_shown_escaped_and_uploaded_plain(make_case, tmp_path):
    root = make_case()
    photos = os.fsencode(root / "photos")
    noisy_photo(900, 700, seed=1).save(os.fsdecode(photos + b"/caf\xe9.jpg"), quality=90)
    noisy_photo(900, 700, seed=2).rotate(90, expand=True).save(root / "photos" / "new\nline\tname.jpg", quality=90)
    done = run_cli("build", str(root))
    assert done.returncode == 0, done.stderr
    package = root / "evidence-package"
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    inputs = {r["path"] for r in manifest["inputs"]}
    assert {"photos/caf\\xe9.jpg", "photos/new\\nline\\tname.jpg"} <= inputs
    uploads = sorted(p.name for p in (package / "upload").iterdir() if p.suffix == ".jpg")
    assert uploads == ["photo-1-caf.jpg", "photo-2-new-line-name.jpg"] or \
        uploads == ["photo-1-new-line-name.jpg", "photo-2-caf.jpg"]
    text = (package / "upload" / "dispute.txt").read_text(encoding="utf-8")  # valid UTF-8, no raw names
    assert "\n" not in "".join(line for line in text.splitlines() if "photo-" in line).replace("\\n", "")
    assert api.verify(package).ok
    out = tmp_path / "fitted"
    fitted = run_cli("photos", os.fsdecode(photos + b"/caf\xe9.jpg"), "--out", str(out))
    assert fitted.returncode == 0, fitted.stderr
    assert (out / "caf.jpg").is_file() and json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_display_and_upload_names():
    assert shown(os.fsdecode(b"caf\xe9.jpg")) == "caf\\xe9.jpg"
    assert shown("a\u202egpj.exe") == "a\\u202egpj.exe"
    assert shown("Фото 1.jpg") == "Фото 1.jpg"
    assert upload_stem("Café au lait (2)") == "Cafe-au-lait-2"
    assert upload_stem("照片") == ""
    assert upload_stem("x" * 300) == "x" * 40


def test_broken_and_looping_links_are_listed_not_skipped_silently(make_case):
    root = make_case(photos={"a.jpg": noisy_photo(800, 600, seed=3)}, quality=90)
    (root / "photos" / "gone.jpg").symlink_to(root / "nowhere.jpg")
    (root / "photos" / "loop.jpg").symlink_to(root / "photos" / "loop.jpg")
    outcome = api.build(root)
    warned = {w.path: w.message for w in outcome.manifest.warnings}
    assert "link" in warned["photos/gone.jpg"] and "link" in warned["photos/loop.jpg"]


@pytest.mark.parametrize("field", ["delivered", "shipped"])
def test_a_date_in_the_future_is_a_case_error_naming_the_field(make_case, field):
    ahead = (date.today() + timedelta(days=23)).isoformat()
    toml = CASE_TOML.replace(f"{field} = 2026-10-", f"{field} = {ahead} # was 2026-10-")
    if field == "shipped":
        toml = toml.replace("delivered = 2026-10-30\n", "")
    root = make_case(toml=toml)
    with pytest.raises(CaseError) as caught:
        api.load_case(root)
    assert any(p.startswith(f"order.{field}: {ahead} is in the future") for p in caught.value.problems)
    done = run_cli("build", str(root))
    assert done.returncode == 3 and f"order.{field}" in done.stderr


def test_protection_may_end_in_the_future(make_case):
    ahead = (date.today() + timedelta(days=40)).isoformat()
    assert api.load_case(make_case(toml=CASE_TOML.replace("protection_ends = 2026-12-01", f"protection_ends = {ahead}")))


def test_huge_notes_are_capped_with_a_warning_and_the_rest_kept(make_case):
    story = "The kettle leaked again and the crack grew longer. " * 2000  # about 100 KB
    root = make_case(toml=CASE_TOML.replace('notes = "Arrived broken."', f'notes = """{story}"""'))
    outcome = api.build(root)
    messages = [w.message for w in outcome.manifest.warnings]
    assert any(m.startswith("Your notes are 10") and "kept in the package's manifest" in m for m in messages)
    assert any("notes_left_out.notes" in w.hint for w in outcome.manifest.warnings)  # for the command line
    kept = outcome.manifest.sections["notes_left_out"]["notes"]
    assert 75_000 < len(kept) < len(story) and story.rstrip().endswith(kept.strip()[-200:])
    pages = subprocess.run(["pdfinfo", str(outcome.package / "summary.pdf")], capture_output=True, text=True, check=True)
    assert int(next(line.split()[-1] for line in pages.stdout.splitlines() if line.startswith("Pages:"))) <= 12


def test_a_rejected_photo_is_reported_without_local_paths_or_library_words(make_case):
    root = make_case(photos={"good.jpg": noisy_photo(800, 600, seed=4)}, quality=90)
    (root / "photos" / "fake.jpg").write_bytes(b"this was never a photo" * 50)
    done = run_cli("build", str(root))
    assert done.returncode == 1
    package = root / "evidence-package"
    pdf = subprocess.run(["pdftotext", str(package / "summary.pdf"), "-"], capture_output=True, text=True,
                         check=True).stdout
    printed = "\n".join(line for line in (done.stdout + done.stderr).splitlines()
                        if not line.startswith("Package: "))  # where the package is: the one path it must print
    for output in (printed, pdf, (package / "manifest.json").read_text(encoding="utf-8")):
        assert str(root) not in output
        assert "UnidentifiedImageError" not in output and "cannot identify image file" not in output
    assert "photos/fake.jpg" in done.stdout + done.stderr


def test_the_package_gets_the_users_usual_folder_mode(make_case):
    root = make_case(photos={"a.jpg": noisy_photo(800, 600, seed=5)}, quality=90)
    package = api.build(root).package
    expected = 0o777 & ~current_umask()
    assert package.stat().st_mode & 0o777 == expected
    assert (package / "upload").stat().st_mode & 0o777 == expected


@pytest.mark.slow
def test_sigterm_cleans_up_like_ctrl_c(make_case):
    root = make_case(photos={f"p{i}.jpg": noisy_photo(3000, 2000, seed=i) for i in range(4)}, quality=97)
    (root / "video").mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=20", "-pix_fmt",
                    "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(root / "video" / "unboxing.mov")],
                   check=True)
    build = subprocess.Popen([str(installed_cli()), "build", str(root)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(root.glob(".ek-tmp-*")) and time.monotonic() < deadline and build.poll() is None:
        time.sleep(0.05)
    assert list(root.glob(".ek-tmp-*")), "the build never started staging"
    build.send_signal(signal.SIGTERM)
    _, err = build.communicate(timeout=60)
    assert build.returncode == 143, err
    assert "SIGTERM" in err and "Internal error" not in err
    assert not list(root.glob(".ek-tmp-*")) and not (root / "evidence-package").exists()


@pytest.mark.slow
def test_a_truncated_video_in_a_build_is_an_error_saying_how_much_was_kept(make_case, tmp_path):
    root = make_case()
    (root / "video").mkdir()
    full = tmp_path / "full.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=6", "-c:v", "libx264",
                    "-g", "25", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(full)], check=True)
    data = full.read_bytes()
    (root / "video" / "unboxing.mp4").write_bytes(data[: len(data) // 2])
    outcome = api.build(root)
    assert int(outcome.exit_code) == 1
    errors = [e.message for e in outcome.manifest.errors if e.path == "video/unboxing.mp4"]
    assert any("stops decoding" in m and "The package holds the first" in m for m in errors), errors
    assert (outcome.package / "upload" / "video.mp4").is_file()
