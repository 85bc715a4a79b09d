"""Hardening round 3 (issue 24), the CLI, case-model and video items: each test reproduces a failure seen
before its fix (huge profile numbers, a FIFO case.toml, a BOM, a full disk, a busy port, a tiny text limit,
a moov-only file, a second video stream, bidi controls in names, local paths in the package)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from evidence_kit import api
from evidence_kit.errors import CaseError, ExitCode
from evidence_kit.media.video import check_video, probe_video, process_video
from evidence_kit.model.case import load_case
from evidence_kit.model.profile import load_profile

from .conftest import CASE_TOML, EXAMPLE_CASE, installed_cli, noisy_photo

TODAY = "2026-11-25"
RLO = "\u202e"  # right-to-left override: "A\u202egpj.exe.jpg" shows as "Aexe.jpg" reversed in a terminal


def run_cli(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed_cli()), *args], capture_output=True, text=True, check=False,
                          errors="surrogateescape", timeout=timeout, **kwargs)


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


# --- 1. profile numbers have bounds ---------------------------------------------------------------------------

@pytest.mark.parametrize("line,problem", [
    ("hidden_defect_days = 99999999999", "profile.hidden_defect_days: must be at most 3,650 days, got 99999999999"),
    ("negotiation_days = 0", "profile.negotiation_days: must be a positive whole number, got 0"),
    ("max_photos = 101", "profile.max_photos: must be at most 100 files, got 101"),
    ("max_photo_bytes = 999", "profile.max_photo_bytes: must be at least 1,000 bytes, got 999"),
    ("max_photo_bytes = 100_000_001", "profile.max_photo_bytes: must be at most 100,000,000 bytes"),
    ("max_video_bytes = 1_000_000_000_000", "profile.max_video_bytes: must be at most 100,000,000,000 bytes"),
    ("max_text_chars = 5", "profile.max_text_chars: must be at least 250 characters: no dispute text fits"),
    ("max_text_chars = 10_000_000", "profile.max_text_chars: must be at most 100,000 characters"),
])
def test_each_kind_of_profile_number_has_a_bound(make_case, tmp_path, line, problem):
    root = make_case(CASE_TOML + f"\n[profile]\nname = \"aliexpress\"\n{line}\n")
    with pytest.raises(CaseError) as caught:
        load_case(root)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
    own = tmp_path / "mine.toml"  # a profile file gets the same check
    own.write_text(f'name = "mine"\n{line}\n', encoding="utf-8")
    with pytest.raises(CaseError) as caught:
        load_profile(own)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_a_huge_number_in_the_profile_is_an_invalid_case_not_a_crash(make_case, tmp_path):
    root = make_case(CASE_TOML + "\n[profile]\nhidden_defect_days = 99999999999\nappeal_days = 99999\n")
    for command in (["deadlines", str(root), "--today", TODAY], ["build", str(root), "--today", TODAY]):
        done = run_cli(*command)
        assert done.returncode == ExitCode.INPUT_ERROR, (command, done.stderr)
        # every problem at once, by field, in plain words
        assert "profile.hidden_defect_days: must be at most 3,650 days" in done.stderr
        assert "profile.appeal_days: must be at most 3,650 days" in done.stderr and "Internal error" not in done.stderr
    profile = tmp_path / "huge.toml"
    profile.write_text('name = "huge"\nhidden_defect_days = 99999999999\n', encoding="utf-8")
    done = run_cli("deadlines", str(make_case(name="plain")), "--profile", str(profile), "--today", TODAY)
    assert done.returncode == ExitCode.INPUT_ERROR and "hidden_defect_days: must be at most" in done.stderr
    # Dates and --today far ahead overflowed the same arithmetic.
    far = make_case(CASE_TOML.replace("protection_ends = 2026-12-01", "protection_ends = 9999-12-30"), name="far")
    done = run_cli("deadlines", str(far), "--today", TODAY)
    assert done.returncode == ExitCode.INPUT_ERROR and "order.protection_ends: 9999-12-30 is not a date" in done.stderr
    done = run_cli("deadlines", str(make_case(name="ahead")), "--today", "9999-12-31")
    assert done.returncode == ExitCode.BAD_ARGS and "outside the years" in done.stderr


# --- 2. case.toml that is not a plain file, or a huge one -----------------------------------------------------

@pytest.mark.parametrize("kind,words", [("fifo", "is a named pipe, not a file"), ("folder", "is a folder, not a file"),
                                        ("device", "is a device, not a file"), ("huge", "is 1,200,000 bytes")])
def test_a_case_toml_that_is_not_a_plain_text_file_is_refused(tmp_path, kind, words):
    root = tmp_path / "case"
    root.mkdir()
    target = root / "case.toml"
    if kind == "fifo":
        os.mkfifo(target)  # opening it for reading blocked until a writer came: the build hung
    elif kind == "folder":
        target.mkdir()
    elif kind == "device":
        target.symlink_to("/dev/zero")  # read_text() read forever
    else:
        target.write_text("#" * 1_200_000, encoding="utf-8")
    done = run_cli("build", str(root), timeout=120)
    assert done.returncode == ExitCode.INPUT_ERROR, done.stderr
    assert words in done.stderr
    assert ("is a short text file (at most 1,000,000 bytes)" if kind == "huge"
            else "case.toml must be a plain text file") in done.stderr
    assert "Internal error" not in done.stderr


# --- 3. a byte-order mark, UTF-16 -----------------------------------------------------------------------------

def test_a_utf8_bom_is_accepted_and_utf16_gets_a_plain_message(tmp_path):
    root = tmp_path / "bom"
    root.mkdir()
    (root / "case.toml").write_bytes(b"\xef\xbb\xbf" + CASE_TOML.encode("utf-8"))  # Notepad's "UTF-8 with BOM"
    assert load_case(root).order.number == "8100000000000001"
    for encoding in ("utf-16", "utf-16-le"):  # with its mark and without
        (root / "case.toml").write_bytes(CASE_TOML.encode(encoding))
        with pytest.raises(CaseError) as caught:
            load_case(root)
        assert caught.value.problems == ["is saved as UTF-16 (or UTF-32): save it as UTF-8 (in Notepad: Save as, "
                                         "Encoding: UTF-8)"]


# --- 4. video --out on a full disk ----------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A tmpfs of some kB (needs root, as CI has); skipped where mounting is not allowed."""
    mounts: list[Path] = []

    def mount(kilobytes: int) -> Path:
        point = tmp_path / f"disk{len(mounts)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(point)],
                              capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode(errors='replace').strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], check=False)


# 100 kB: ffmpeg cannot write the MP4's index and exits 0 (the file was then probed: exit 3);
# 200 kB: the video fits and the contact sheet does not (exit 7, but naming the working folder's disk).
@pytest.mark.parametrize("kilobytes", [100, 200])
def test_video_out_on_a_full_disk_is_a_write_failure_and_leaves_nothing(tiny_disk, kilobytes):
    disk = tiny_disk(kilobytes)
    source = EXAMPLE_CASE / "video" / "unboxing.mp4"  # 177 kB
    done = run_cli("video", str(source), "--out", str(disk / "ready" / "out"))
    assert done.returncode == ExitCode.FILE_ACCESS, done.stderr
    assert f"not enough free space on {disk}" in done.stderr, done.stderr
    assert list(disk.iterdir()) == []  # not even the folders it made


# --- 5. serve on a busy port ----------------------------------------------------------------------------------

def test_serve_on_a_busy_port_says_so_with_its_own_exit_code(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port), "--no-browser", "--workspace", str(tmp_path / "ws"), timeout=60)
    assert done.returncode == ExitCode.ADDRESS_UNAVAILABLE == 9, done.stderr
    assert f"port {port} is already in use" in done.stderr and "choose another with --port" in done.stderr
    assert "cannot read or write this file" not in done.stderr and str(Path.cwd()) not in done.stderr


# --- 6. a text limit too small: build and complaint agree -----------------------------------------------------

def test_build_and_complaint_agree_on_a_text_limit_too_small(make_case):
    root = make_case(CASE_TOML + "\n[profile]\nname = \"aliexpress\"\nmax_text_chars = 5\n")
    build = run_cli("build", str(root), "--today", TODAY)
    complaint = run_cli("complaint", str(root), "--today", TODAY)
    assert build.returncode == complaint.returncode == ExitCode.INPUT_ERROR, (build.stderr, complaint.stderr)
    assert build.stderr == complaint.stderr
    assert "profile.max_text_chars: must be at least 250 characters" in build.stderr
    assert not (root / "evidence-package").exists()


# --- 7 and 8. a file with no picture data; a second video stream ---------------------------------------------

def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """An MP4's top-level boxes as (type, bytes)."""
    found, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        size = struct.unpack(">Q", data[at + 8:at + 16])[0] if size == 1 else (size or len(data) - at)
        found.append((kind, data[at:at + size]))
        at += size
    return found


def test_a_file_of_only_its_index_says_it_holds_no_picture_data(tmp_path):
    full = tmp_path / "full.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:d=3:r=25", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", full)
    index_only = tmp_path / "index-only.mp4"  # what a copy that stopped after the index leaves: ftyp + moov
    index_only.write_bytes(b"".join(box for kind, box in _boxes(full.read_bytes()) if kind in (b"ftyp", b"moov")))
    assert probe_video(index_only).duration > 2  # the index still claims the whole video
    done = run_cli("video", str(index_only), "--out", str(tmp_path / "out"))
    assert done.returncode == ExitCode.INPUT_ERROR, done.stderr
    assert ("index-only.mp4: the video file holds no picture data: it may be damaged or incompletely copied; "
            "copy it again from the phone") in done.stderr
    assert "Error marking filters" not in done.stderr and "checking)" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_second_video_stream_is_a_finding(tmp_path):
    two = tmp_path / "two.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:d=3:r=25", "-f", "lavfi", "-i", "smptebars=s=160x120:d=3:r=25",
           "-map", "0", "-map", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", two)
    check = check_video(two)
    found = [f for f in check.findings if f.code == "streams"]
    assert len(found) == 1 and found[0].severity == "warning"
    assert found[0].message.startswith("the file has 2 video streams; only the first (H264 320x240) was used")
    report = process_video(two, tmp_path / "out.mp4", max_bytes=10**8, max_photo_bytes=2_000_000)
    assert report.output_probe.display_size == (320, 240) and report.output_probe.video_streams == 1
    done = run_cli("video", str(two), "--out", str(tmp_path / "cli"))
    assert done.returncode == 0 and "warning: the file has 2 video streams" in done.stderr


# --- 9. bidi controls in names never reach a terminal line -----------------------------------------------------

def test_bidi_controls_in_file_names_are_escaped_in_every_cli_line(make_case):
    photo = noisy_photo(800, 600, seed=3)
    root = make_case(photos={f"A{RLO}gpj.exe.jpg": photo, "Z-copy.jpg": photo}, quality=90)
    done = run_cli("build", str(root), "--today", TODAY)
    assert done.returncode == 0, done.stderr
    assert RLO not in done.stdout + done.stderr
    # The twin left out names the kept one in its reason: that line carried the raw character.
    assert "not uploaded: photos/Z-copy.jpg: near-duplicate of A\\u202egpj.exe.jpg" in done.stdout
    as_json = run_cli("build", str(root), "--today", TODAY, "--force", "--json")
    assert RLO not in as_json.stdout
    reasons = [i["reason"] for i in json.loads(as_json.stdout)["photo_selection"]["left_out"]]
    # The reason is stored as the paths of the package are (FileRecord.path): the name shown escaped.
    assert any("A\\u202egpj.exe.jpg" in r for r in reasons), reasons


# --- 10. no local path in the package -------------------------------------------------------------------------

def test_no_file_of_a_built_package_holds_a_local_path(make_case, tmp_path):
    elsewhere = tmp_path / "Videos" / "unboxing.mp4"  # [video] file outside the case: its path leaked
    elsewhere.parent.mkdir()
    shutil.copyfile(EXAMPLE_CASE / "video" / "unboxing.mp4", elsewhere)
    root = make_case(CASE_TOML + f'\n[video]\nfile = "{elsewhere}"\n',
                     photos={"p1.jpg": noisy_photo(800, 600, seed=1), "p2.jpg": noisy_photo(800, 600, seed=9)})
    (root / "tracking").mkdir()
    # A saved tracking page: it takes the free photo slot, and its caption named the page by its full path.
    (root / "tracking" / "page.html").write_text(
        "<html><head><title>LP00412345678901</title></head><body><h1>Parcel LP00412345678901</h1>"
        "<p>2026-10-20 Departed from sorting centre</p></body></html>", encoding="utf-8")
    outcome = api.build(root, reuse_unchanged=False)
    package = outcome.result.package
    assert outcome.result.manifest.errors == [], outcome.result.manifest.errors
    assert any(r.info.get("kind") == "tracking" and r.upload for r in outcome.result.manifest.outputs)
    local = str(tmp_path)
    for file in package.rglob("*"):
        if not file.is_file():
            continue
        if file.suffix == ".json":
            text = json.dumps(json.loads(file.read_text(encoding="utf-8")))
        elif file.suffix == ".pdf":
            text = subprocess.run(["pdftotext", str(file), "-"], capture_output=True, text=True, check=True).stdout
            assert "Original" in text and "unboxing.mp4" in text  # the video is still named, by its file name
        else:
            text = file.read_bytes().decode("utf-8", "replace")
        assert local not in text, file.relative_to(package)
    video = json.loads((package / "manifest.json").read_text(encoding="utf-8"))["video"]
    assert video["source"] == "unboxing.mp4"
