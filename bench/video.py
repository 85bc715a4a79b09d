"""Video, side by side with plain ffmpeg on the same generated 1080p clip, in one run.

    .venv/bin/python bench/video.py [--seconds 20] [--repeat 5] [--fit-target 0.35]

Rows: evidence-kit's stream-copy trim (``prepare_video`` on an already probed file) vs
``ffmpeg -ss A -to B -i in -c copy out.mp4``; evidence-kit's fit-to-size (``prepare_video`` with a limit
below the file's size) vs a plain two-pass x264 encode (same preset, bit rate = target / duration - audio);
a small HEVC phone clip converted far under the limit (size against the source, SSIM against it) vs
``ffmpeg -i in -c:v libx264 out.mp4`` (x264's default CRF 23); and the check pass vs a plain full decode
(``ffmpeg -i in -map 0:v -f null -``). Times are medians of the
runs (trims) or single runs (encodes), alternating ours/plain so load from other processes hits both; the
CPU ratio (user+system time of us and every ffmpeg child) is the steadier figure on a shared machine.
Quote the ratios, not the absolute times: machines are noisy.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from evidence_kit.media.video import AUDIO_BPS, ENCODE_PRESET, check_video, prepare_video, probe_video  # noqa: E402


def make_clip(path: Path, seconds: float) -> None:
    """1080p30 with motion, sensor-like noise and a keyframe a second, at a phone's ~16 Mbit/s, with audio."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=s=1920x1080:r=30:d={seconds},noise=alls=12:allf=t", "-f", "lavfi", "-i",
                    f"sine=f=440:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "16M", "-g", "30",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(path)], check=True)


def timed(action) -> tuple[float, float]:
    """Wall seconds and CPU seconds (ours plus every ffmpeg child): CPU time shrugs off other processes' load."""
    def cpu() -> float:
        mine, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return mine.ru_utime + mine.ru_stime + kids.ru_utime + kids.ru_stime

    began, began_cpu = time.perf_counter(), cpu()
    action()
    return time.perf_counter() - began, cpu() - began_cpu


def median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def plain(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def ssim(encoded: Path, reference: Path) -> float:
    done = subprocess.run(["ffmpeg", "-i", str(encoded), "-i", str(reference), "-lavfi", "ssim", "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    return float(done.stderr.rsplit("All:", 1)[1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fit-target", type=float, default=0.35, help="target as a fraction of the clip's size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ek-bench-video-") as folder:
        work = Path(folder)
        clip = work / "clip.mp4"
        print(f"generating a {args.seconds:.0f} s 1080p30 clip ...", file=sys.stderr)
        make_clip(clip, args.seconds)
        probe = probe_video(clip)
        a, b = round(args.seconds * 0.25, 2), round(args.seconds * 0.8, 2)
        rows = []

        ours, theirs = [], []
        for i in range(args.repeat):
            ours.append(timed(lambda: prepare_video(probe, work / f"ours-{i}.mp4", max_bytes=10**10, span=(a, b))))
            theirs.append(timed(lambda: plain("-ss", str(a), "-to", str(b), "-i", str(clip), "-c", "copy",
                                              str(work / f"plain-{i}.mp4"))))
        rows.append(("trim (stream copy)", median(ours), median(theirs),
                     f"{(work / 'ours-0.mp4').stat().st_size:,} B vs {(work / 'plain-0.mp4').stat().st_size:,} B"))
        probe_time = median([timed(lambda: probe_video(clip)) for _ in range(args.repeat)])[0]

        target = int(probe.bytes * args.fit_target)
        fitted = work / "fit-ours.mp4"
        ours_fit = timed(lambda: prepare_video(probe, fitted, max_bytes=target, span=(0, probe.duration)))
        rate = int(target * 8 / probe.duration - AUDIO_BPS)
        log = str(work / "plain-passlog")
        plain_fit = work / "fit-plain.mp4"
        common = ["-c:v", "libx264", "-preset", ENCODE_PRESET, "-b:v", str(rate), "-pix_fmt", "yuv420p",
                  "-passlogfile", log]
        theirs_fit = timed(lambda: (plain("-i", str(clip), *common, "-pass", "1", "-an", "-f", "null", "-"),
                                    plain("-i", str(clip), *common, "-pass", "2", "-c:a", "aac", "-b:a",
                                          str(AUDIO_BPS), str(plain_fit))))
        ours_size, plain_size = fitted.stat().st_size, plain_fit.stat().st_size
        rows.append(("fit to size (two-pass)", ours_fit, theirs_fit,
                     f"{ours_size / target:.1%} vs {plain_size / target:.1%} of the {target:,} B target"))

        # A small phone clip that must be converted (HEVC) but sits far under the limit: what the buyer uploads.
        phone = work / "phone-hevc.mp4"
        plain("-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=10,noise=alls=6:allf=t", "-c:v", "libx265", "-preset",
              "fast", "-b:v", "640k", "-tag:v", "hvc1", "-x265-params", "log-level=none", str(phone))
        phone_probe = probe_video(phone)
        small_ours, small_plain = work / "small-ours.mp4", work / "small-plain.mp4"
        ours_small = timed(lambda: prepare_video(phone_probe, small_ours, max_bytes=500_000_000,
                                                 span=(0, phone_probe.duration)))
        theirs_small = timed(lambda: plain("-i", str(phone), "-c:v", "libx264", "-preset", ENCODE_PRESET, "-pix_fmt",
                                           "yuv420p", str(small_plain)))
        source_size = phone.stat().st_size
        rows.append(("small HEVC conversion", ours_small, theirs_small,
                     f"{small_ours.stat().st_size / source_size:.1f}x vs {small_plain.stat().st_size / source_size:.1f}x"
                     f" the source's {source_size:,} B; SSIM {ssim(small_ours, phone):.4f} vs {ssim(small_plain, phone):.4f}"))

        ours_check = timed(lambda: check_video(clip, probe=probe))
        theirs_check = timed(lambda: plain("-i", str(clip), "-map", "0:v:0", "-f", "null", "-"))
        rows.append(("check vs full decode", ours_check, theirs_check, "cuts, black, frozen, truncation"))

    print(f"clip: {probe.width}x{probe.height} {probe.fps:g} fps, {probe.duration:.1f} s, {probe.bytes:,} B; "
          f"trim {a}-{b} s; probe {probe_time * 1000:.0f} ms (not in the trim row)")
    print(f"{'task':<24} {'evidence-kit':>13} {'plain ffmpeg':>13} {'ratio':>7} {'CPU ratio':>10}  notes")
    for name, (mine, mine_cpu), (other, other_cpu), note in rows:
        print(f"{name:<24} {mine:>12.2f}s {other:>12.2f}s {mine / other:>6.2f}x {mine_cpu / other_cpu:>9.2f}x  {note}")


if __name__ == "__main__":
    main()
