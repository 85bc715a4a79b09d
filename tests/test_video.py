"""Video stage: real ffmpeg/ffprobe on tiny clips generated here from lavfi sources (320x240, 2-8 s)."""
from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evidence_kit import api
from evidence_kit.model.manifest import verify_package
from evidence_kit.cli import main
from evidence_kit.errors import LimitError
from evidence_kit.fsutil import sha256_file
from evidence_kit.media.video import (VideoError, VideoProbe, check_video, extract_frame, format_time, plan_encode,
                                prepare_video,
                                probe_video, process_video, resolve_span)

from .conftest import CASE_TOML, ROOT, noisy_photo

SIZE = "320x240"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def codecs(path: Path) -> dict[str, str]:
    return {s["codec_type"]: s["codec_name"] for s in ffprobe(path)["streams"]}


def duration(path: Path) -> float:
    return float(ffprobe(path)["format"]["duration"])


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Every test clip, generated once per session."""
    d = tmp_path_factory.mktemp("clips")
    src = f"testsrc2=s={SIZE}:r=25"
    clips = {name: d / name for name in (
        "plain.mp4", "hevc.mov", "vp9.webm", "rotated.mp4", "cut.mp4", "black.mp4", "faststart.mp4",
        "truncated.mp4", "truncated.webm", "heavy.mp4", "not-a-video.mp4", "audio-only.m4a", "long.mp4",
        "opus.mkv")}
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=4", "-f", "lavfi", "-i", "sine=f=440:d=4", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-metadata", "creation_time=2026-11-18T10:00:00Z",
           "-metadata", "location=+52.3700+004.8900/", clips["plain.mp4"])
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=3", "-f", "lavfi", "-i", "sine=d=3", "-c:v", "libx265", "-preset",
           "ultrafast", "-x265-params", "log-level=none", "-tag:v", "hvc1", "-c:a", "aac", clips["hevc.mov"])
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=3", "-f", "lavfi", "-i", "sine=d=3", "-c:v", "libx264", "-pix_fmt",
           "yuv420p", "-c:a", "libopus", clips["opus.mkv"])
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=3", "-f", "lavfi", "-i", "sine=d=3", "-c:v", "libvpx-vp9", "-deadline",
           "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus", clips["vp9.webm"])
    # Stored landscape with red on the left, blue on the right; the tag says "turn by 90 to show".
    ffmpeg("-f", "lavfi", "-i", "color=red:s=160x240:r=25:d=3", "-f", "lavfi", "-i", "color=blue:s=160x240:r=25:d=3",
           "-filter_complex", "[0:v][1:v]hstack,noise=alls=8:allf=t", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           d / "sideways.mp4")
    ffmpeg("-i", d / "sideways.mp4", "-c", "copy", "-metadata:s:v:0", "rotate=90", clips["rotated.mp4"])
    # One take of 3 s, then a hard cut to a different moving scene.
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=3", "-f", "lavfi", "-i", f"testsrc=s={SIZE}:r=25:d=3", "-filter_complex",
           "[0:v][1:v]concat=n=2:v=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", clips["cut.mp4"])
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=2", "-f", "lavfi", "-i", f"color=black:s={SIZE}:r=25:d=2.5", "-f", "lavfi",
           "-i", f"{src}:d=2", "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", clips["black.mp4"])
    # Index at the front (+faststart), then cut in half: ffprobe still claims 6 s and a decode exits 0.
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=6", "-f", "lavfi", "-i", "sine=d=6", "-c:v", "libx264", "-g", "25",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", clips["faststart.mp4"])
    data = clips["faststart.mp4"].read_bytes()
    clips["truncated.mp4"].write_bytes(data[: len(data) // 2])
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=6", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
           "-b:v", "400k",
           d / "full.webm")
    webm = (d / "full.webm").read_bytes()
    clips["truncated.webm"].write_bytes(webm[: len(webm) // 2])
    # About 6 MB in 6 s: noisy frames at a high rate, to be fitted under a lowered limit.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=6,noise=alls=25:allf=t", "-f", "lavfi", "-i",
           "sine=d=6", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "7800k", "-pix_fmt", "yuv420p",
           "-c:a", "aac", clips["heavy.mp4"])
    clips["not-a-video.mp4"].write_text("this is a shopping list, not a video\n")
    noisy_photo(320, 240).save(d / "photo.mp4", format="JPEG")  # a photo with a video's name
    clips["photo.mp4"] = d / "photo.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", clips["audio-only.m4a"])
    # Two minutes: its two-pass encode takes about 9 s, so a Ctrl-C sent once it has begun lands inside it even
    # on a loaded machine (30 s took 2 s, and a signal sent late found the run already exiting).
    ffmpeg("-f", "lavfi", "-i", f"{src}:d=120", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-b:v", "2M", clips["long.mp4"])
    return clips


# --- probe ----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_probe_reports_the_facts(clips):
    p = probe_video(clips["plain.mp4"])
    assert (p.video_codec, p.audio_codec, p.pix_fmt) == ("h264", "aac", "yuv420p")
    assert (p.width, p.height, p.fps, p.rotation) == (320, 240, 25.0, 0)
    assert p.duration == pytest.approx(4.0, abs=0.1)
    assert p.bytes == clips["plain.mp4"].stat().st_size and p.bit_rate and p.has_audio and p.is_mp4
    assert p.created.startswith("2026-11-18T10:00:00")
    hevc = probe_video(clips["hevc.mov"])
    assert hevc.video_codec == "hevc" and hevc.brand.startswith("qt") and not hevc.is_mp4
    rotated = probe_video(clips["rotated.mp4"])
    assert rotated.rotation in (90, 270) and rotated.display_size == (240, 320)


@pytest.mark.parametrize("name, message", [("not-a-video.mp4", "not a video"),
                                           ("audio-only.m4a", "has no video picture"),
                                           ("photo.mp4", "is a photo, not a video"),
                                           ("missing.mp4", "no such file")])
def test_unusable_files_give_a_clear_message(clips, name, message, tmp_path):
    with pytest.raises(VideoError, match=message):
        process_video(clips[name] if name in clips else tmp_path / name, tmp_path / "out.mp4",
                      max_bytes=10**8, max_photo_bytes=2_000_000)
    assert list(tmp_path.iterdir()) == []


# --- checks ---------------------------------------------------------------------------------------------------

def test_one_take_has_no_warnings(clips):
    check = check_video(clips["plain.mp4"])
    assert [f.code for f in check.findings if f.severity != "info"] == []
    assert check.decoded_until == pytest.approx(4.0, abs=0.1)


def test_hard_cut_is_reported_with_its_time(clips):
    cuts = [f for f in check_video(clips["cut.mp4"]).findings if f.code == "cut"]
    assert len(cuts) == 1 and cuts[0].at == pytest.approx(3.0, abs=0.1) and cuts[0].severity == "warning"
    assert "0:03" in cuts[0].message
    assert cuts[0].kind == "video_cut" and cuts[0].params["at"] in cuts[0].message  # the web app words it from these


def test_black_stretch_is_reported_with_start_and_end(clips):
    findings = check_video(clips["black.mp4"]).findings
    black = [f for f in findings if f.code == "black"]
    assert len(black) == 1
    assert black[0].at == pytest.approx(2.0, abs=0.1) and black[0].until == pytest.approx(4.5, abs=0.1)
    assert black[0].kind == "video_black" and set(black[0].params) == {"start", "end"}
    assert f"from {black[0].params['start']} to {black[0].params['end']}" in black[0].message
    # The black stretch is not reported again as frozen, nor its edges as cuts.
    assert not [f for f in findings if f.code in ("frozen", "cut")]


def test_truncated_mp4_passes_a_plain_decode_but_not_the_check(clips):
    # The trap: ffmpeg's exit code says all is well, and ffprobe claims the full duration.
    plain = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clips["truncated.mp4"]), "-f", "null", "-"],
                           capture_output=True)
    assert plain.returncode == 0
    assert probe_video(clips["truncated.mp4"]).duration == pytest.approx(6.0, abs=0.1)
    check = check_video(clips["truncated.mp4"])
    broken = [f for f in check.findings if f.code == "truncated"]
    assert len(broken) == 1 and broken[0].severity == "error"
    assert 1.0 < broken[0].at < 5.0 and "cut short" in broken[0].message


def test_truncated_webm_is_caught_and_only_the_decodable_part_is_kept(clips, tmp_path):
    report = process_video(clips["truncated.webm"], tmp_path / "v.mp4", max_bytes=10**8, max_photo_bytes=2_000_000)
    broken = [f for f in report.findings if f.code == "truncated"]
    assert broken and broken[0].at < 5.0
    assert duration(tmp_path / "v.mp4") == pytest.approx(broken[0].at, abs=0.3)


# --- trim -----------------------------------------------------------------------------------------------------

def test_trim_by_cli_accepts_every_time_format_and_includes_the_span(clips, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["video", str(clips["plain.mp4"]), "--out", str(out), "--start", "0:01", "--end", "00:00:03.5",
                 "--still", "2"])
    assert code == 0
    assert "%" not in capsys.readouterr().err  # no progress bar when stderr is not a terminal
    video = out / "plain.mp4"
    assert codecs(video) == {"video": "h264", "audio": "aac"}
    assert duration(video) >= 2.5 - 0.04  # the requested 2.5 s, to within a frame
    manifest = json.loads((out / "manifest.json").read_text())
    done = manifest["video"]["done"]
    assert done["method"] == "stream_copy" and (done["start"], done["end"]) == (1.0, 3.5)
    roles = sorted(r["role"] for r in manifest["outputs"])
    assert roles == ["contact_sheet", "still", "video"]
    assert (out / "plain-still-0m2s.jpg").stat().st_size <= 2_000_000
    tags = ffprobe(video)["format"].get("tags", {})
    assert "location" not in tags and tags["creation_time"].startswith("2026-11-18T10:00:00")


@pytest.mark.parametrize("args, message", [(["--start", "9"], "after the end of the video"),
                                           (["--end", "0:09"], "after the end of the video"),
                                           (["--start", "3", "--end", "2"], "not after the start")])
def test_trim_outside_the_video_fails_clearly_and_leaves_nothing(clips, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["video", str(clips["plain.mp4"]), "--out", str(out), *args]) == 3
    assert message in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_time_syntax_is_a_usage_error(clips, tmp_path):
    assert main(["video", str(clips["plain.mp4"]), "--out", str(tmp_path), "--start", "0:61"]) == 2


# --- conversion and fitting -----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["hevc.mov", "vp9.webm"])
def test_other_formats_are_converted_to_h264_aac_mp4(clips, tmp_path, name):
    before = sha256_file(clips[name])
    report = process_video(clips[name], tmp_path / "v.mp4", max_bytes=10**8, max_photo_bytes=2_000_000)
    assert report.prepared.method == "reencode"
    assert codecs(tmp_path / "v.mp4") == {"video": "h264", "audio": "aac"}
    assert duration(tmp_path / "v.mp4") == pytest.approx(3.0, abs=0.1)
    assert any(f.code == "format" for f in report.findings)
    assert sha256_file(clips[name]) == before  # the original is only read


@pytest.mark.slow
def test_a_small_conversion_aims_at_the_source_look_not_at_the_limit(tmp_path):
    """A 0.6 Mbit/s HEVC phone clip far under the limit: about the source's size and look, not 20x its size."""
    source = tmp_path / "phone.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=5,noise=alls=6:allf=t",
                    "-c:v", "libx265", "-preset", "fast", "-b:v", "640k", "-tag:v", "hvc1", "-x265-params",
                    "log-level=none", str(source)], check=True)
    probe = probe_video(source)
    done = prepare_video(probe, tmp_path / "v.mp4", max_bytes=500_000_000, span=resolve_span(probe, None, None))
    assert done.method == "reencode" and done.plan is not None and done.plan.crf is not None
    assert done.bytes <= 3 * source.stat().st_size
    ssim = subprocess.run(["ffmpeg", "-i", str(tmp_path / "v.mp4"), "-i", str(source), "-lavfi", "ssim", "-f", "null",
                           "-"], capture_output=True, text=True, check=True).stderr
    assert float(re.search(r"All:([0-9.]+)", ssim).group(1)) >= 0.99


def test_h264_with_other_audio_keeps_its_picture_and_converts_the_sound(clips, tmp_path):
    probe = probe_video(clips["opus.mkv"])
    done = prepare_video(probe, tmp_path / "v.mp4", max_bytes=10**8, span=resolve_span(probe, None, None))
    assert done.method == "stream_copy" and done.reasons == ["opus audio"]
    assert codecs(tmp_path / "v.mp4") == {"video": "h264", "audio": "aac"}
    assert duration(tmp_path / "v.mp4") == pytest.approx(3.0, abs=0.1)


@pytest.mark.slow
def test_a_trimmed_webm_fits_by_two_passes(tmp_path):
    """Seeking into a WebM once made x264's second pass see more frames than its first, and the encode failed."""
    source = tmp_path / "v.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=6", "-f", "lavfi", "-i",
                    "sine=d=6", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k",
                    "-c:a", "libopus", str(source)], check=True)
    probe = probe_video(source)
    done = prepare_video(probe, tmp_path / "v.mp4", max_bytes=400_000, span=resolve_span(probe, 0.5, None))
    assert done.method == "reencode" and done.plan is not None and done.plan.crf is None
    assert done.bytes <= 400_000 and duration(tmp_path / "v.mp4") == pytest.approx(5.5, abs=0.15)


@pytest.mark.slow
def test_fit_lowers_a_6_mb_clip_under_1_5_mb_close_to_the_limit(clips, tmp_path):
    source = clips["heavy.mp4"]
    assert source.stat().st_size > 5_000_000
    limit = 1_500_000
    probe = probe_video(source)
    done = prepare_video(probe, tmp_path / "v.mp4", max_bytes=limit, span=resolve_span(probe, None, None))
    size = (tmp_path / "v.mp4").stat().st_size
    assert done.method == "reencode" and done.bytes == size
    assert 0.90 * limit <= size <= limit  # within a few percent: no needless quality loss
    assert codecs(tmp_path / "v.mp4") == {"video": "h264", "audio": "aac"}
    assert duration(tmp_path / "v.mp4") == pytest.approx(6.0, abs=0.1)


def test_a_video_that_cannot_fit_asks_for_a_trim_and_leaves_nothing(clips, tmp_path):
    with pytest.raises(LimitError, match="trim it"):
        process_video(clips["heavy.mp4"], tmp_path / "v.mp4", max_bytes=20_000, max_photo_bytes=2_000_000)
    assert list(tmp_path.iterdir()) == []


def _probe(width: int, height: int, fps: float, seconds: float, rotation: int = 0) -> VideoProbe:
    return VideoProbe(Path("x.mov"), "mov,mp4,m4a,3gp,3g2,mj2", "qt  ", 0, seconds, None, "hevc", "", "yuv420p",
                      width, height, fps, rotation, "aac", 2, None)


def test_plan_scales_down_only_as_far_as_the_budget_needs():
    limit = 500_000_000
    short = plan_encode(_probe(3840, 2160, 30, 120), 120, limit)  # 2 min of 4K: 32 Mbit/s is enough for 4K
    assert (short.width, short.height, short.scaled) == (3840, 2160, False)
    long = plan_encode(_probe(3840, 2160, 30, 1200), 1200, limit)  # 20 min: 3.2 Mbit/s
    assert long.scaled and long.height < 2160 and long.width / long.height == pytest.approx(16 / 9, abs=0.01)
    assert long.video_bps + long.audio_bps <= limit * 8 / 1200
    portrait = plan_encode(_probe(1920, 1080, 60, 1200, rotation=90), 1200, limit)
    assert portrait.width < portrait.height  # sizes are as shown, upright
    with pytest.raises(LimitError, match="trim it"):
        plan_encode(_probe(1920, 1080, 30, 3 * 3600), 3 * 3600, limit)  # a 3-hour recording


def test_rotation_is_honoured_by_copy_and_by_re_encode(clips, tmp_path):
    source = clips["rotated.mp4"]
    probe = probe_video(source)
    upright = extract_frame(source, 1.0)  # ffmpeg shows it turned, as a player does
    assert upright.size == (240, 320)
    span = resolve_span(probe, None, None)
    copied = prepare_video(probe, tmp_path / "copy.mp4", max_bytes=10**8, span=span)
    squeezed = prepare_video(probe, tmp_path / "enc.mp4", max_bytes=int(copied.bytes * 0.6), span=span)
    assert (copied.method, squeezed.method) == ("stream_copy", "reencode")
    for result in (copied, squeezed):
        assert probe_video(result.output).display_size == (240, 320)
        frame = extract_frame(result.output, 1.0)
        top, bottom = frame.getpixel((120, 20)), frame.getpixel((120, 300))
        assert top == pytest.approx(upright.getpixel((120, 20)), abs=40)
        assert bottom == pytest.approx(upright.getpixel((120, 300)), abs=40)


# --- errors ---------------------------------------------------------------------------------------------------

def test_missing_ffmpeg_gives_an_install_hint_and_exit_code_4(clips, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # a PATH with no ffmpeg or ffprobe on it
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "video", str(clips["plain.mp4"]), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 4
    assert done.stderr.startswith("error: ffmpeg is not installed") and "apt-get install ffmpeg" in done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_during_an_encode_leaves_no_partial_output(clips, tmp_path):
    out = tmp_path / "out"
    before = sha256_file(clips["long.mp4"])
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "video", str(clips["long.mp4"]), "--out",
                             str(out), "--max-bytes", "4000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out.exists() and any(out.iterdir())) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the encode has started writing (a condition, not a fixed sleep)
    assert proc.poll() is None, "the encode finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not out.exists()  # nothing partial, not even the folder this run made (issue 24)
    assert sha256_file(clips["long.mp4"]) == before


@pytest.mark.slow
def test_progress_bar_shows_on_a_terminal(clips, tmp_path):
    master, slave = pty.openpty()
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "video", str(clips["vp9.webm"]), "--out",
                           str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=slave, timeout=120)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert done.returncode == 0
    assert b"video: encoding" in shown and b"100%" in shown  # one pass here: a conversion far under the limit


# --- the build stage ------------------------------------------------------------------------------------------

def _case_with_video(make_case, video: Path, photos: int, extra_toml: str = "") -> Path:
    root = make_case(toml=CASE_TOML + textwrap.dedent(extra_toml),
                     photos={f"p{i}.jpg": noisy_photo(400, 300, seed=i * 7) for i in range(photos)})
    (root / "video").mkdir()
    (root / "video" / video.name).write_bytes(video.read_bytes())
    return root


@pytest.mark.slow
def test_build_fits_the_video_and_puts_a_still_in_a_free_photo_slot(clips, make_case):
    limit = 60_000  # below the 5 s kept as they are, so the build must re-encode to fit
    root = _case_with_video(make_case, clips["cut.mp4"], photos=1, extra_toml=f"""
        [profile]
        name = "aliexpress"
        max_video_bytes = {limit}

        [video]
        start = "0:01"
        stills = ["0:02", 99]
        """)
    assert clips["cut.mp4"].stat().st_size * 5 / 6 > limit
    result = api.build(root, reuse_unchanged=False).result
    outputs = {r.path: r for r in result.manifest.outputs}
    video = outputs["upload/video.mp4"]
    assert video.role == "video" and video.upload and video.source == "video/cut.mp4"
    assert video.bytes <= limit and video.transform["method"] == "reencode"
    assert codecs(result.package / video.path) == {"video": "h264"}
    assert outputs["video/contact-sheet.jpg"].role == "contact_sheet" and not outputs["video/contact-sheet.jpg"].upload
    still = next(r for r in result.manifest.outputs if r.info.get("kind") == "still")
    assert still.role == "photo" and still.upload and still.path.startswith("upload/photo-2-still-0m2s")
    section = result.manifest.sections["video"]
    assert section["probe"]["video_codec"] == "h264" and section["probe"]["path"] == "video/cut.mp4"
    assert [f["code"] for f in section["findings"]] == ["cut"]
    assert any("hard cut" in w.message for w in result.manifest.warnings)
    assert [e.message for e in result.manifest.errors] == ["the still at 1:39 is outside the video (0:00 to 0:06)"]
    assert result.exit_code == 1
    assert verify_package(result.package).ok
    assert sha256_file(root / "video" / "cut.mp4") == sha256_file(clips["cut.mp4"])
    # verify catches a video over the limit (here: the manifest's profile lowered after the build)
    manifest_path = result.package / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["profile"]["max_video_bytes"] = video.bytes - 1
    manifest_path.write_text(json.dumps(data))
    assert any("over the video limit" in str(p) for p in verify_package(result.package).problems)


@pytest.mark.slow
def test_build_keeps_stills_out_of_the_form_when_the_photo_slots_are_full(clips, make_case):
    root = _case_with_video(make_case, clips["plain.mp4"], photos=3, extra_toml='[video]\nstills = [1]\n')
    result = api.build(root, reuse_unchanged=False).result
    still = next(r for r in result.manifest.outputs if r.path.startswith("video/still-"))
    assert still.role == "still" and not still.upload
    assert sum(1 for r in result.manifest.outputs if r.upload and r.role == "photo") == 3
    assert verify_package(result.package).ok and result.exit_code == 0


def test_build_with_a_broken_video_still_writes_the_photos(clips, make_case):
    root = _case_with_video(make_case, clips["not-a-video.mp4"], photos=2)
    result = api.build(root, reuse_unchanged=False).result
    assert result.exit_code == 1
    assert [e.stage for e in result.manifest.errors] == ["video"]
    assert "not a video" in result.manifest.errors[0].message
    assert sum(1 for r in result.manifest.outputs if r.role == "photo") == 2
    assert not (result.package / "upload" / "video.mp4").exists()


@pytest.mark.parametrize("seconds, shown", [(0, "0:00"), (0.4, "0:00.4"), (2.7, "0:02.7"), (9.96, "0:10"),
                                            (30.96, "0:31"), (59.99, "1:00"), (61, "1:01"), (3599.97, "1:00:00"),
                                            (3600.2, "1:00:00.2")])
def test_times_read_as_a_player_clock_even_when_tenths_round_up(seconds, shown):
    assert format_time(seconds) == shown
