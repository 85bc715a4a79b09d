"""Video: probe, check, trim and fit the unboxing video under the profile's byte limit.

Public calls: ``probe_video`` (typed facts), ``check_video`` (named findings), ``prepare_video`` (trim, then
stream copy or a two-pass H.264/AAC re-encode that fits), ``extract_still`` (a frame as a photo candidate,
through ``photos.fit_image``), ``contact_sheet`` (labelled frames for the PDF), ``process_video`` (all of it
for one file) and ``CaseVideo`` (what a build did with the case's video).
Everything runs the real ffmpeg/ffprobe through ffmpeg-python; long runs report progress through a
``(label, fraction)`` callback parsed from ffmpeg's ``-progress`` output.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, ValidationError

from ..tools import ffmpeg
from ..errors import FileAccessError, InputError, LimitError, MissingDependencyError
from ..fsutil import atomic_path, atomic_write_bytes
from ..model.manifest import FileRecord, Hinted, Manifest, library_versions
from ..media.photos import Encoded, fit_image
from ..model.profile import Profile

Progress = Callable[[str, float], None]


# What the form (and every phone and browser) plays: H.264 8-bit 4:2:0 video, AAC audio, in MP4.
SAFE_VIDEO_CODECS = frozenset({"h264"})
SAFE_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})
SAFE_AUDIO_CODECS = frozenset({"aac"})
MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"  # ffprobe's format_name for MP4 and MOV alike

# Fitting. Aim a little under the limit: x264's two-pass rate control lands within ~1-2 % of its target
# and the MP4 index adds a little, so 97 % keeps the result under the limit yet within a few percent of it.
FILL = 0.97
MAX_FIT_ATTEMPTS = 3
ENCODE_PRESET = "veryfast"  # ~1.1-1.4x real time at 1080p on 2 cores (TOOLCHAIN.md); slower presets cost minutes
AUDIO_BPS = 128_000
LOW_AUDIO_BPS = 64_000  # when audio would take more than a quarter of a small budget
# Bits per pixel per frame below which H.264 turns to mush; the scale ladder steps down until this holds.
MIN_BITS_PER_PIXEL = 0.04
MAX_BITS_PER_PIXEL = 0.25  # about 15 Mbit/s at 1080p30, what phones record at: more buys nothing visible
# A conversion far under the limit is encoded at a quality, not a size: filling the limit made a 0.83 MB HEVC
# clip 19.3 MB (23x). Measured on that clip (720p30, 10 s) with veryfast against the source: CRF 21 gave
# 2.37 MB (2.9x) at SSIM 0.994, CRF 23 1.82 MB at 0.993, CRF 20 (medium) 3.5x at 0.996.
CONVERSION_CRF = 21
SHORT_SIDE_LADDER = (2160, 1440, 1080, 720, 540, 480)
MIN_SHORT_SIDE = 480  # below this a defect is hard to see: fail and ask for a trim instead
MAX_FPS_WHEN_SHORT = 30  # 60 fps phone video is halved before the picture is scaled down

# Checks. Scene scores come from ffmpeg's scdet on a 160-pixel-wide copy: cuts between unrelated scenes
# scored 18-45 there, continuous motion below 5. 12 errs towards reporting (a finding is a warning, not a
# verdict). Black and frozen stretches shorter than these are normal handling.
ANALYSIS_WIDTH = 160
CUT_SCORE = 12.0
BLACK_MIN_SECONDS = 1.0
FREEZE_MIN_SECONDS = 2.0
SHORTEST_PLAUSIBLE = 3.0  # seconds: too short to show a parcel being opened
LONGEST_PLAUSIBLE = 3600.0  # seconds: an hour is a recording left running, not an unboxing
# A decode that stops this much before the claimed end means the file is cut short (the exit code lies).
TRUNCATION_TOLERANCE = 0.5

CONTACT_SHEET_FRAMES = 12
CONTACT_SHEET_COLUMNS = 4
THUMB_LONG_SIDE = 320
CONTACT_SHEET_QUALITY = 85


class VideoError(InputError):
    """A video that cannot be read or used; the message is written for the buyer."""


NO_PICTURE_DATA = ("the video file holds no picture data: it may be damaged or incompletely copied; copy it "
                   "again from the phone")
# ffprobe's last line for a file it cannot open, said for the buyer (its own words go to ``detail``).
_UNREADABLE = {
    "moov atom not found": "not a video ffmpeg can read (the file ends before its index: it was probably cut "
                           "short while copying; copy it again from the phone)",
    "Invalid data found when processing input": "not a video ffmpeg can read (the file is damaged, or not a "
                                                "video at all)",
}


# --- running ffmpeg -------------------------------------------------------------------------------------------

def format_time(seconds: float) -> str:
    """``0:42``, ``1:02:03``, ``0:42.5``: how a buyer reads a player's clock."""
    tenths = round(seconds * 10)  # round once, so 9.96 s reads 0:10, not 0:09 with a carried "1.0"
    whole, fraction = divmod(tenths, 10)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return text + (f".{fraction}" if fraction else "")


# --- probe ----------------------------------------------------------------------------------------------------

@dataclass
class VideoProbe:
    """What ffprobe says about a file (the container's claims, not yet checked by decoding)."""

    path: Path
    container: str
    brand: str  # MP4 major brand: "qt  " is a QuickTime .mov
    bytes: int
    duration: float
    bit_rate: int | None
    video_codec: str
    profile: str
    pix_fmt: str
    width: int  # as stored
    height: int
    fps: float
    rotation: int  # display-matrix rotation in degrees (0, 90, 180, 270); players turn the picture by it
    audio_codec: str | None
    audio_channels: int
    created: str | None
    video_streams: int = 1  # pictures in the file (cover art not counted); one is used
    video_stream: int = 0  # the one used, counted among all video streams (ffmpeg's v:N), cover art included

    @property
    def video_map(self) -> str:
        """ffmpeg's stream specifier of the picture used (every run maps this one, never a cover image)."""
        return f"v:{self.video_stream}"

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as the video is shown (a portrait phone video is stored sideways)."""
        return (self.height, self.width) if self.rotation % 180 == 90 else (self.width, self.height)

    @property
    def is_mp4(self) -> bool:
        return self.container == MP4_FAMILY and not self.brand.startswith("qt")

    def to_dict(self) -> dict[str, Any]:
        facts = asdict(self)
        facts["path"] = str(self.path)
        facts["display_width"], facts["display_height"] = self.display_size
        facts["has_audio"] = self.has_audio
        return facts


def _fps(rate: str | None) -> float:
    try:
        num, _, den = (rate or "0/1").partition("/")
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    try:
        return int(stream.get("tags", {}).get("rotate", 0)) % 360
    except ValueError:
        return 0


def probe_video(path: str | Path) -> VideoProbe:
    """Probe ``path`` with ffprobe. Raises VideoError for a missing, unreadable or non-video file."""
    path = Path(path)
    if not path.is_file():
        raise VideoError("no such file", path=str(path))
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise VideoError(f"cannot be read: {exc.strerror or exc}", path=str(path)) from None
    try:
        info = ffmpeg.probe(str(path))
    except FileNotFoundError:
        raise ffmpeg.FFPROBE.missing() from None
    except ffmpeg.Error as exc:
        lines = exc.stderr.decode("utf-8", "replace").strip().splitlines() if exc.stderr else []
        detail = ffmpeg.clean_line(lines[-1]).removeprefix(f"{path}: ") if lines else ""
        error = VideoError(_UNREADABLE.get(detail, "not a video ffmpeg can read: it may be damaged, or not a "
                                           "video at all"), path=str(path))
        error.detail = detail
        raise error from None
    streams = info.get("streams", [])
    videos = [s for s in streams if s.get("codec_type") == "video"]
    pictures = [s for s in videos if not s.get("disposition", {}).get("attached_pic")]
    video = pictures[0] if pictures else None
    if video is None:
        raise VideoError("has no video picture (is it an audio file?)", path=str(path))
    container = info.get("format", {}).get("format_name", "")
    if container == "image2" or container.endswith("_pipe"):  # ffmpeg reads a photo as a one-frame video
        raise VideoError("is a photo, not a video: put it in photos/", path=str(path))
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = info.get("format", {})
    duration = float(fmt.get("duration") or video.get("duration") or 0.0)
    tags = {k.lower(): v for k, v in fmt.get("tags", {}).items()}
    return VideoProbe(
        path=path, container=fmt.get("format_name", ""), brand=tags.get("major_brand", ""),
        bytes=path.stat().st_size, duration=duration,
        bit_rate=int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
        video_codec=video.get("codec_name", "unknown"), profile=video.get("profile", ""),
        pix_fmt=video.get("pix_fmt", ""), width=int(video.get("width", 0)), height=int(video.get("height", 0)),
        fps=round(_fps(video.get("avg_frame_rate")) or _fps(video.get("r_frame_rate")), 3),
        rotation=_rotation(video), audio_codec=audio.get("codec_name") if audio else None,
        audio_channels=int(audio.get("channels", 0)) if audio else 0,
        created=tags.get("creation_time") or video.get("tags", {}).get("creation_time"),
        video_streams=len(pictures), video_stream=videos.index(video))


# --- checks ---------------------------------------------------------------------------------------------------

@dataclass
class Finding:
    """One named result of a check. ``severity``: "error" (fix before uploading), "warning" (a seller may
    contest it), "info" (what evidence-kit did about it)."""

    code: str
    severity: str
    message: str
    at: float | None = None  # seconds in the original video
    until: float | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the values in the message (the web app words it)

    @property
    def kind(self) -> str:
        """What the message says, as a warning kind (``model.manifest.Hinted``): the web app words it."""
        if self.code == "duration":
            return "video_too_short" if "seconds" in self.params else "video_too_long"
        return f"video_{self.code}"

    @property
    def warning(self) -> Hinted:
        """The finding as a build warning: its message, kind and values."""
        return Hinted(self.message, kind=self.kind, **self.params)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VideoCheck:
    probe: VideoProbe
    span: tuple[float, float]
    decoded_until: float  # seconds of the original that decoded, from span[0]
    findings: list[Finding] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return any(f.code == "truncated" for f in self.findings)


def needs_conversion(probe: VideoProbe) -> list[str]:
    """Why this file's streams cannot go into the MP4 as they are (empty: they can be copied)."""
    reasons = []
    if probe.video_codec not in SAFE_VIDEO_CODECS:
        reasons.append(f"{probe.video_codec.upper()} video")
    elif probe.pix_fmt not in SAFE_PIXEL_FORMATS:
        reasons.append(f"H.264 with {probe.pix_fmt} pixels (10-bit or 4:2:2 does not play everywhere)")
    if probe.has_audio and probe.audio_codec not in SAFE_AUDIO_CODECS:
        reasons.append(f"{probe.audio_codec} audio")
    return reasons


def resolve_span(probe: VideoProbe, start: float | None, end: float | None) -> tuple[float, float]:
    """The requested span in seconds, checked against the duration (VideoError with both times if outside)."""
    if probe.duration <= 0:
        raise VideoError("does not say how long it is: it may be damaged or still being copied",
                         path=str(probe.path))
    begin = start or 0.0
    finish = probe.duration if end is None else end
    length = format_time(probe.duration)
    if begin >= probe.duration:
        raise VideoError(f"the start {format_time(begin)} is after the end of the video ({length})",
                         path=str(probe.path))
    if finish > probe.duration + TRUNCATION_TOLERANCE:
        raise VideoError(f"the end {format_time(finish)} is after the end of the video ({length})",
                         path=str(probe.path))
    if finish <= begin:
        raise VideoError(f"the end {format_time(finish)} is not after the start {format_time(begin)}",
                         path=str(probe.path))
    return begin, min(finish, probe.duration)


def _input(path: Path, span: tuple[float, float], probe: VideoProbe, **extra: Any) -> Any:
    """An ffmpeg input limited to ``span`` (input seeking: fast, and exact when decoding)."""
    kwargs: dict[str, Any] = dict(extra)
    if span[0] > 0:
        kwargs["ss"] = f"{span[0]:.3f}"
    if span[1] < probe.duration:
        kwargs["to"] = f"{span[1]:.3f}"
    return ffmpeg.input(str(path), **kwargs)


_SCDET = re.compile(r"lavfi\.scd\.score: ([\d.]+), lavfi\.scd\.time: ([\d.]+)")
_BLACK = re.compile(r"black_start:([\d.]+) black_end:([\d.]+)")
_FREEZE_START = re.compile(r"freeze_start: ([\d.]+)")
_FREEZE_END = re.compile(r"freeze_end: ([\d.]+)")


def check_video(path: str | Path, *, start: float | None = None, end: float | None = None,
                probe: VideoProbe | None = None, progress: Progress | None = None) -> VideoCheck:
    """Probe, then decode the requested span once to find truncation, cuts, black and frozen stretches.

    One decode at 160 pixels wide with the deblocking filter skipped (it only smooths block edges, which
    none of the detectors look at) is the cheapest pass that still decodes every frame.
    """
    probe = probe or probe_video(path)
    span = resolve_span(probe, start, end)
    findings = _static_findings(probe)
    stream = (_input(probe.path, span, probe, skip_loop_filter="all")[probe.video_map]
              .filter("scale", ANALYSIS_WIDTH, -2, flags="fast_bilinear")
              .filter("scdet", threshold=CUT_SCORE)
              .filter("blackdetect", d=BLACK_MIN_SECONDS)
              .filter("freezedetect", d=FREEZE_MIN_SECONDS)
              .output("-", format="null"))
    try:
        run = ffmpeg.run_graph(stream, label="video: checking", duration=span[1] - span[0], progress=progress)
    except ffmpeg.FfmpegError as exc:
        # ffmpeg's own line ("Error marking filters as finished") names its filter graph, not the file.
        if exc.out_time <= 0:
            error = VideoError(NO_PICTURE_DATA, path=str(probe.path))
        else:
            error = VideoError(f"stops decoding at {format_time(span[0] + exc.out_time)}: it may be damaged or "
                               "incompletely copied; copy it again from the phone", path=str(probe.path))
        error.detail = exc.detail
        raise error from None
    offset = span[0]
    decoded = run.out_time
    expected = span[1] - span[0]
    if decoded < expected - TRUNCATION_TOLERANCE:
        findings.append(Finding(
            "truncated", "error",
            f"the file stops decoding at {format_time(offset + decoded)} although it claims to last "
            f"{format_time(probe.duration)}: it was probably cut short while copying. Copy it again from the "
            "phone; only the part up to that point can be used", at=offset + decoded,
            params={"stops": format_time(offset + decoded), "claims": format_time(probe.duration)}))
    errors = [line for line in run.log if "[error]" in line]
    if errors and decoded >= expected - TRUNCATION_TOLERANCE:
        findings.append(Finding("decode_errors", "warning",
                                f"{len(errors)} decoding errors: some frames may show damage (blocks or smears); "
                                "if the original on the phone plays cleanly, copy it again",
                                params={"count": len(errors)}))
    blacks = [(offset + float(a), offset + float(b)) for a, b in _BLACK.findall("\n".join(run.log))]
    for a, b in blacks:
        findings.append(Finding("black", "warning", f"black picture from {format_time(a)} to {format_time(b)}:"
                                " a seller may say something was hidden; trim it if it is not the unboxing",
                                at=a, until=b, params={"start": format_time(a), "end": format_time(b)}))
    freezes = _freezes(run.log, offset, offset + decoded)
    for a, b in freezes:
        if not any(ba - 0.1 <= a and b <= bb + 0.1 for ba, bb in blacks):  # a black stretch is frozen too
            findings.append(Finding("frozen", "warning", f"the picture does not change from {format_time(a)} to "
                                    f"{format_time(b)}: a seller may call it a paused or edited recording",
                                    at=a, until=b, params={"start": format_time(a), "end": format_time(b)}))
    for score, at in _SCDET.findall("\n".join(run.log)):
        t = offset + float(at)
        if any(abs(t - edge) < 0.2 for stretch in blacks for edge in stretch):
            continue  # the edges of a black stretch, already reported
        findings.append(Finding("cut", "warning", f"hard cut at {format_time(t)} (scene change score "
                                f"{float(score):.0f}): an unboxing should be one take, a seller may call it edited",
                                at=t, params={"at": format_time(t)}))
    return VideoCheck(probe, span, decoded, findings)


def _freezes(log: list[str], offset: float, last: float) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    started: float | None = None
    for line in log:
        if (m := _FREEZE_START.search(line)):
            started = offset + float(m.group(1))
        elif (m := _FREEZE_END.search(line)) and started is not None:
            spans.append((started, offset + float(m.group(1))))
            started = None
    if started is not None and last - started >= FREEZE_MIN_SECONDS:  # frozen until the end
        spans.append((started, last))
    return spans


def _static_findings(probe: VideoProbe) -> list[Finding]:
    """Findings from the probe alone: duration, format, rotation."""
    findings = []
    if probe.duration < SHORTEST_PLAUSIBLE:
        findings.append(Finding("duration", "warning", f"only {probe.duration:.1f} s long: too short to show the "
                                "parcel being opened", params={"seconds": f"{probe.duration:.1f}"}))
    elif probe.duration > LONGEST_PLAUSIBLE:
        findings.append(Finding("duration", "warning", f"{format_time(probe.duration)} long: trim it to the "
                                "unboxing with --start/--end (or [video] start/end in case.toml)",
                                params={"length": format_time(probe.duration)}))
    reasons = needs_conversion(probe)
    if reasons or not probe.is_mp4:
        what = ", ".join(reasons) or f"a {probe.path.suffix or probe.container} file"
        findings.append(Finding("format", "info", f"{what}: converted to H.264/AAC in MP4, which the form plays"
                                if reasons else f"{what}: repackaged as MP4 without re-encoding"))
    if probe.video_streams > 1:
        w, h = probe.display_size
        findings.append(Finding("streams", "warning", f"the file has {probe.video_streams} video streams; only the "
                                f"first ({probe.video_codec.upper()} {w}x{h}) was used, the others are not in "
                                "the upload: if they matter, export them from the phone as a video of their own",
                                params={"count": probe.video_streams}))
    if probe.rotation:
        w, h = probe.display_size
        findings.append(Finding("rotation", "info", f"stored turned by {probe.rotation} degrees; shown {w}x{h}, "
                                "and kept that way after any re-encode"))
    return findings


# --- trim and fit ---------------------------------------------------------------------------------------------

@dataclass
class EncodePlan:
    """A re-encode that fits: bit rates from duration and limit, and the largest picture that holds them."""

    video_bps: int
    audio_bps: int
    width: int  # as shown (after rotation); even numbers
    height: int
    fps: float
    scaled: bool
    crf: int | None = None  # a quality target (one pass), video_bps its cap (under the limit); None: two-pass

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10_000_000 else f"{n / 1e6:,.2f} MB"


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def plan_encode(probe: VideoProbe, duration: float, max_bytes: int) -> EncodePlan:
    """Bit rates and size for a re-encode of ``duration`` seconds under ``max_bytes``.

    Steps down the ladder of picture sizes (and 60 to 30 fps first) only as far as the bit rate needs.
    Raises LimitError, suggesting a trim, when even the smallest acceptable picture would not fit.
    """
    budget_bps = max_bytes * FILL * 8 / duration
    audio_bps = 0
    if probe.has_audio:
        audio_bps = AUDIO_BPS if AUDIO_BPS <= budget_bps / 4 else LOW_AUDIO_BPS
    video_bps = int(budget_bps - audio_bps)
    dw, dh = probe.display_size
    short, fps = min(dw, dh), probe.fps or 30.0
    rungs = [short] + [s for s in SHORT_SIDE_LADDER if s < short and s >= MIN_SHORT_SIDE]
    rates = [fps] + ([MAX_FPS_WHEN_SHORT] if fps > MAX_FPS_WHEN_SHORT else [])
    for side in rungs:
        for rate in rates:
            scale = side / short
            w, h = _even(dw * scale), _even(dh * scale)
            if video_bps >= MIN_BITS_PER_PIXEL * w * h * rate:
                # A generous limit (a format conversion, not a squeeze) gets the source's own rate or a phone
                # camera's, whichever is higher: more would only inflate the file.
                ceiling = max(probe.bit_rate or 0, int(MAX_BITS_PER_PIXEL * w * h * rate))
                if video_bps > ceiling:  # room to spare: aim at the source's look, the rate capped at the ceiling
                    return EncodePlan(ceiling, audio_bps, w, h, rate, side != short, crf=CONVERSION_CRF)
                return EncodePlan(video_bps, audio_bps, w, h, rate, side != short)
    need_bps = MIN_BITS_PER_PIXEL * w * h * rate + audio_bps  # the smallest picture tried, from the loop
    longest = max_bytes * FILL * 8 / need_bps
    raise LimitError(f"{format_time(duration)} of video cannot fit in {_megabytes(max_bytes)} at a quality "
                     f"where the defect stays visible (at most about {format_time(longest)} fits): trim it to the "
                     "unboxing with --start/--end, or [video] start/end in case.toml")


@dataclass
class PreparedVideo:
    output: Path
    bytes: int
    method: str  # "stream_copy" or "reencode"
    span: tuple[float, float]
    reasons: list[str]  # why it was re-encoded
    plan: EncodePlan | None = None
    attempts: int = 1
    duration: float = 0.0  # measured on the written file

    def transform(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"method": self.method, "start": round(self.span[0], 3),
                                 "end": round(self.span[1], 3), "duration": round(self.duration, 3),
                                 "stripped": ["location and other container metadata (creation time kept)",
                                              "data and subtitle tracks"]}
        if self.method == "reencode":
            facts.update(reasons=self.reasons, codec="h264/aac", preset=ENCODE_PRESET, attempts=self.attempts,
                         **(self.plan.to_dict() if self.plan else {}))
        return facts


def _metadata_args(probe: VideoProbe) -> dict[str, Any]:
    # Phones put the GPS position in the container's tags: drop them all, keep only when it was filmed.
    args: dict[str, Any] = {"map_metadata": -1}
    if probe.created:
        args["metadata"] = f"creation_time={probe.created}"
    return args


def stream_copy(probe: VideoProbe, dst: Path, span: tuple[float, float], *, progress: Progress | None = None,
                audio_copy: bool = True) -> float:
    """Copy the span into ``dst`` (an MP4) without re-encoding; returns the written duration.

    Input seeking with stream copy starts at the keyframe before the start and the MP4 edit list starts
    playback at the start, so the requested span is always fully included.
    """
    inp = _input(probe.path, span, probe)
    streams = [inp[probe.video_map]] + ([inp["a:0"]] if probe.has_audio else [])
    codecs = {"vcodec": "copy", "acodec": "copy" if audio_copy else "aac"}
    if not audio_copy:
        codecs["audio_bitrate"] = AUDIO_BPS
    out = ffmpeg.output(*streams, str(dst), format="mp4", **codecs, **_metadata_args(probe)).overwrite_output()
    run = ffmpeg.run_graph(out, label="video: copying", duration=span[1] - span[0], progress=progress)
    return run.out_time


def two_pass_encode(probe: VideoProbe, dst: Path, span: tuple[float, float], plan: EncodePlan, passlog: Path, *,
                    pass_number: int, progress: Progress | None = None) -> float:
    """One pass of a two-pass x264 encode of the span to ``plan``; pass 1 writes only ``passlog``."""
    inp = _input(probe.path, span, probe)
    video = inp[probe.video_map]  # ffmpeg turns the picture upright (autorotate) before any filter sees it
    if plan.scaled:
        video = video.filter("scale", plan.width, plan.height, flags="lanczos")
    if plan.fps < probe.fps - 0.01:
        video = video.filter("fps", plan.fps)
    # fps_mode cfr in both passes: left to the muxer, the null sink (pass 1) passes a seeked WebM's timestamps
    # through while MP4 (pass 2) fills gaps, x264 sees more frames in pass 2 than in its statistics and fails.
    x264: dict[str, Any] = {"vcodec": "libx264", "preset": ENCODE_PRESET, "pix_fmt": "yuv420p", "profile:v": "high",
                            "fps_mode": "cfr"}
    if plan.crf is not None:  # one pass (pass_number 2 only): the quality target, never over the limit's rate
        x264.update({"crf": plan.crf, "maxrate:v": plan.video_bps, "bufsize:v": plan.video_bps * 2})
    else:
        x264.update(video_bitrate=plan.video_bps, **{"pass": pass_number, "passlogfile": str(passlog)})
    duration = span[1] - span[0]
    if pass_number == 1:
        out = ffmpeg.output(video, "-", format="null", **x264)
    else:
        streams = [video] + ([inp["a:0"]] if probe.has_audio else [])
        audio = {"acodec": "aac", "audio_bitrate": plan.audio_bps, "ac": min(2, probe.audio_channels)} \
            if probe.has_audio else {}
        out = ffmpeg.output(*streams, str(dst), format="mp4", movflags="+faststart", **x264, **audio,
                            **_metadata_args(probe)).overwrite_output()
    label = "video: encoding" if plan.crf is not None else f"video: encoding, pass {pass_number} of 2"
    return ffmpeg.run_graph(out, label=label, duration=duration, progress=progress).out_time


def fit_video(probe: VideoProbe, dst: Path, span: tuple[float, float], max_bytes: int, *,
              progress: Progress | None = None, reasons: Sequence[str] = ()) -> PreparedVideo:
    """Re-encode the span as H.264/AAC MP4 under ``max_bytes``, measuring the file and retrying lower if over.

    Pass 1's statistics do not depend on the bit rate, so a retry re-runs only pass 2.
    """
    duration = span[1] - span[0]
    plan = plan_encode(probe, duration, max_bytes)
    with tempfile.TemporaryDirectory(prefix=".ek-tmp-passlog-", dir=dst.parent) as logdir:
        passlog = Path(logdir) / "x264"
        if plan.crf is not None:
            written = two_pass_encode(probe, dst, span, plan, passlog, pass_number=2, progress=progress)
            size = dst.stat().st_size
            if size <= max_bytes:
                return PreparedVideo(dst, size, "reencode", span, list(reasons), plan, 1, written)
            plan.crf = None  # the cap did not hold (it is an average): fit to size as below
        two_pass_encode(probe, dst, span, plan, passlog, pass_number=1, progress=progress)
        for attempt in range(1, MAX_FIT_ATTEMPTS + 1):
            written = two_pass_encode(probe, dst, span, plan, passlog, pass_number=2, progress=progress)
            size = dst.stat().st_size
            if size <= max_bytes:
                return PreparedVideo(dst, size, "reencode", span, list(reasons), plan, attempt, written)
            # Over: lower the video rate by the measured overshoot, with a margin.
            plan.video_bps = int(plan.video_bps * (max_bytes * FILL / size) * 0.98)
    raise LimitError(f"the re-encoded video is still {size:,} bytes, over the limit of {max_bytes:,}: "
                     "trim it with --start/--end")


def prepare_video(probe: VideoProbe, dst: str | Path, *, max_bytes: int, span: tuple[float, float],
                  progress: Progress | None = None) -> PreparedVideo:
    """Write the span of the video to ``dst`` (MP4, atomically): a stream copy when the codecs play
    everywhere and the copy fits, otherwise a re-encode that fits. The written file is measured."""
    dst = Path(dst)
    reasons = needs_conversion(probe)
    video_ok = probe.video_codec in SAFE_VIDEO_CODECS and probe.pix_fmt in SAFE_PIXEL_FORMATS
    with atomic_path(dst) as tmp:
        result = None
        # Skip a copy that is bound to be over the limit (its size scales with the span it keeps).
        copy_estimate = probe.bytes * (span[1] - span[0]) / max(probe.duration, 1e-3)
        if video_ok and copy_estimate <= max_bytes * 1.05:
            # Audio alone in another codec (Opus, MP3) is converted while the picture is copied.
            written = stream_copy(probe, tmp, span, progress=progress, audio_copy=not reasons)
            size = tmp.stat().st_size
            if size <= max_bytes:
                result = PreparedVideo(dst, size, "stream_copy", span, reasons, duration=written)
            else:
                reasons = reasons + [f"the copy is {_megabytes(size)}, over the {_megabytes(max_bytes)} limit"]
        elif video_ok:
            reasons = reasons + [f"about {_megabytes(int(copy_estimate))} as it is, over the "
                                 f"{_megabytes(max_bytes)} limit"]
        if result is None:
            fitted = fit_video(probe, tmp, span, max_bytes, progress=progress, reasons=reasons)
            result = PreparedVideo(dst, fitted.bytes, "reencode", span, fitted.reasons, fitted.plan,
                                   fitted.attempts, fitted.duration)
        if tmp.stat().st_size > max_bytes:  # the limit is checked on the written file, never assumed
            raise LimitError(f"the video is {tmp.stat().st_size:,} bytes, over the limit of {max_bytes:,}")
    return result


# --- stills and contact sheet ---------------------------------------------------------------------------------

def extract_frame(path: str | Path, at: float, stream: str = "v:0") -> Image.Image:
    """The full-size frame of ``stream`` shown at ``at`` seconds, upright (ffmpeg applies the rotation)."""
    try:
        data, _ = (ffmpeg.input(str(path), ss=f"{at:.3f}")[stream]
                   .output("pipe:", format="image2pipe", vcodec="png", frames=1)
                   .global_args("-hide_banner", "-nostdin").run(capture_stdout=True, capture_stderr=True))
    except FileNotFoundError:
        raise ffmpeg.FFMPEG.missing() from None
    except ffmpeg.Error as exc:
        raise VideoError(f"cannot read the frame at {format_time(at)}", path=str(path)) from exc
    if not data:
        raise VideoError(f"no frame at {format_time(at)} (past the end of what decodes)", path=str(path))
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


@dataclass
class Still:
    at: float
    jpeg: Encoded

    @property
    def name(self) -> str:
        """``still-0m42s.jpg``: sorts by time and says where it came from."""
        minutes, seconds = divmod(self.at, 60)
        secs = f"{seconds:.1f}".rstrip("0").rstrip(".")
        return f"still-{int(minutes)}m{secs}s.jpg"


def extract_still(probe: VideoProbe, at: float, max_bytes: int) -> Still:
    """A full-size frame at ``at`` seconds as a JPEG under ``max_bytes`` (a photo candidate)."""
    if not 0 <= at < probe.duration:
        raise VideoError(f"the still at {format_time(at)} is outside the video (0:00 to "
                         f"{format_time(probe.duration)})", path=str(probe.path))
    return Still(at, fit_image(extract_frame(probe.path, at, probe.video_map), max_bytes))


def _thumbnails(probe: VideoProbe, times: Sequence[float]) -> list[Image.Image]:
    """Small upright frames at ``times``, from one ffmpeg run (one seek per input) instead of one per frame."""
    dw, dh = probe.display_size
    scale = THUMB_LONG_SIDE / max(dw, dh)
    w, h = _even(dw * scale), _even(dh * scale)
    frames = [ffmpeg.input(str(probe.path), ss=f"{t:.3f}").video.filter("scale", w, h).filter("trim", end_frame=1)
              for t in times]
    joined = ffmpeg.concat(*frames, n=len(frames), v=1, a=0) if len(frames) > 1 else frames[0]
    try:
        data, _ = (joined.output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
                   .global_args("-hide_banner", "-nostdin").run(capture_stdout=True, capture_stderr=True))
    except FileNotFoundError:
        raise ffmpeg.FFMPEG.missing() from None
    except ffmpeg.Error as exc:
        raise VideoError("cannot read frames for the contact sheet", path=str(probe.path)) from exc
    size = w * h * 3
    if len(data) < size * len(times):
        raise VideoError(f"only {len(data) // size} of {len(times)} contact-sheet frames decode", path=str(probe.path))
    return [Image.frombytes("RGB", (w, h), data[i * size:(i + 1) * size]) for i in range(len(times))]


def contact_sheet(probe: VideoProbe, times: Sequence[float], labels: Sequence[str], max_bytes: int) -> Encoded:
    """Frames at ``times`` of the probed video in a grid, each labelled, as one JPEG under ``max_bytes``."""
    thumbs = _thumbnails(probe, times)
    tw, th = thumbs[0].size
    columns = min(CONTACT_SHEET_COLUMNS, len(thumbs))
    rows = math.ceil(len(thumbs) / columns)
    gap = 6
    sheet = Image.new("RGB", (columns * (tw + gap) + gap, rows * (th + gap) + gap), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(12, min(tw, th) // 12))
    for i, (thumb, label) in enumerate(zip(thumbs, labels)):
        x, y = gap + (i % columns) * (tw + gap), gap + (i // columns) * (th + gap)
        sheet.paste(thumb, (x, y))
        box = draw.textbbox((x + 4, y + th - 4), label, font=font, anchor="lb")
        draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=(0, 0, 0))
        draw.text((x + 4, y + th - 4), label, fill=(255, 255, 255), font=font, anchor="lb")
    # The sheet is for the PDF, not the form: one plain encode, and the photo search only if it is too big.
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=CONTACT_SHEET_QUALITY, optimize=True)
    if buffer.tell() <= max_bytes:
        return Encoded(buffer.getvalue(), CONTACT_SHEET_QUALITY, 1.0, sheet.width, sheet.height, "4:2:0")
    return fit_image(sheet, max_bytes)


# --- one video, end to end ------------------------------------------------------------------------------------

@dataclass
class VideoReport:
    """Everything done to one video: probe facts, findings, the prepared file, stills and the sheet."""

    probe: VideoProbe
    check: VideoCheck
    prepared: PreparedVideo
    output_probe: VideoProbe
    contact_sheet: Encoded
    stills: list[Still] = field(default_factory=list)
    still_errors: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return self.check.findings

    def to_dict(self) -> dict[str, Any]:
        out = self.output_probe
        return {"source": str(self.probe.path), "probe": self.probe.to_dict(),
                "findings": [f.to_dict() for f in self.findings],
                "done": {**self.prepared.transform(), "bytes": self.prepared.bytes,
                         "codecs": [out.video_codec, out.audio_codec], "width": out.display_size[0],
                         "height": out.display_size[1]},
                "stills": [round(s.at, 3) for s in self.stills], "still_errors": self.still_errors}


def process_video(src: str | Path, dst: str | Path, *, max_bytes: int, max_photo_bytes: int,
                  start: float | None = None, end: float | None = None, stills: Sequence[float] = (),
                  progress: Progress | None = None) -> VideoReport:
    """Probe, check, trim and fit ``src`` into ``dst`` (MP4), then pull the stills and a contact sheet.

    The original is only read. ``dst`` appears only when complete. A still outside the video is listed in
    ``still_errors`` rather than failing the video.
    """
    ffmpeg.require()
    probe = probe_video(src)
    check = check_video(src, start=start, end=end, probe=probe, progress=progress)
    span = check.span
    if check.truncated:  # only what decodes can be uploaded
        span = (span[0], span[0] + check.decoded_until)
    prepared = prepare_video(probe, dst, max_bytes=max_bytes, span=span, progress=progress)
    try:
        output_probe = probe_video(prepared.output)
        length = output_probe.duration
        if progress:
            progress("video: contact sheet", 0.0)
        times = [length * (i + 0.5) / CONTACT_SHEET_FRAMES for i in range(CONTACT_SHEET_FRAMES)]
        sheet = contact_sheet(output_probe, times, [format_time(span[0] + t) for t in times], max_photo_bytes)
        report = VideoReport(probe, check, prepared, output_probe, sheet)
        for at in stills:
            try:
                report.stills.append(extract_still(probe, at, max_photo_bytes))
            except (VideoError, LimitError) as exc:
                report.still_errors.append(exc.message)
    except BaseException:
        Path(prepared.output).unlink(missing_ok=True)  # no half-finished result after a failure or Ctrl-C
        raise
    if progress:
        progress("video: contact sheet", 1.0)
    return report


@dataclass
class CaseVideo:
    """What a build did with the case's video: the report, or why there is none."""

    source: str  # relative to the case
    report: VideoReport | None = None
    error: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        if self.report is None:
            return {"source": self.source, "error": self.error}
        facts = self.report.to_dict()
        facts["probe"]["path"] = self.source  # the manifest names inputs relative to the case
        return {**facts, "source": self.source, "seconds": round(self.seconds, 1)}


# --- the encode as its own task (cluster builds) --------------------------------------------------------------

# A case's encoded video, made ahead of its build (``api.prepare_video``) and taken by the video stage instead
# of encoding again. Lives beside the package (on the shared file system a cluster's workers all see) and is
# removed by whoever made it once the build has used it.
VIDEO_CACHE_DIR = ".ek-video-cache"
_CACHED_VIDEO, _CACHED_REPORT = "video.mp4", "report.json"


class _CachedReport(BaseModel):
    """The report as JSON, read back into the same dataclasses and checked field by field (pydantic): a file
    on a shared folder is data, never code, as a pickle would be. The stills' JPEGs travel as base64."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
    report: VideoReport


def video_cache_root(package: Path) -> Path:
    """The cache folder of the encodes made ahead for ``package``: beside it, on the same file system."""
    return package.parent / VIDEO_CACHE_DIR


def remove_video_cache(package: Path) -> bool:
    """Remove every encode made ahead for ``package`` (and any half-written one); True if there were any."""
    root = video_cache_root(package)
    if not root.is_dir() or root.is_symlink():
        return False
    shutil.rmtree(root, ignore_errors=True)
    return True


def video_cache_key(source_sha256: str, *, max_bytes: int, max_photo_bytes: int, start: float | None,
                    end: float | None, stills: Sequence[float]) -> str:
    """Everything the video stage's outputs depend on: the source's content, the trim, the stills, the
    profile's limits, the encoder settings and the library versions (an upgrade never reuses old encodes)."""
    facts = {"source": source_sha256, "max_bytes": max_bytes, "max_photo_bytes": max_photo_bytes,
             "start": start, "end": end, "stills": list(stills), "preset": ENCODE_PRESET, "fill": FILL,
             "audio_bps": AUDIO_BPS, "crf": CONVERSION_CRF, "versions": library_versions()}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def store_cached_video(cache_root: Path, key: str, src: Path, *, max_bytes: int, max_photo_bytes: int,
                       start: float | None, end: float | None, stills: Sequence[float]) -> Path:
    """Run ``process_video`` into ``cache_root/key`` (a folder that appears whole, or not at all)."""
    entry = cache_root / key
    if (entry / _CACHED_REPORT).is_file():
        return entry  # a retried task: the encode is already there
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".ek-tmp-{key}-", dir=cache_root))
    try:
        report = process_video(src, staging / _CACHED_VIDEO, max_bytes=max_bytes, max_photo_bytes=max_photo_bytes,
                               start=start, end=end, stills=stills)
        (staging / _CACHED_REPORT).write_text(_CachedReport(report=report).model_dump_json(), encoding="utf-8")
        try:
            os.replace(staging, entry)
        except OSError:  # another attempt finished first: its entry is as good as ours
            if not (entry / _CACHED_REPORT).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entry


def take_cached_video(cache_root: Path, key: str, dst: Path) -> VideoReport | None:
    """The cached report with its video placed at ``dst`` (hard link, else copy), or None without an entry."""
    entry = cache_root / key
    try:
        report = _CachedReport.model_validate_json((entry / _CACHED_REPORT).read_bytes()).report
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(entry / _CACHED_VIDEO, dst)
        except OSError:
            shutil.copyfile(entry / _CACHED_VIDEO, dst)
    except (OSError, ValidationError):
        return None  # no entry (the normal case) or a damaged one: the stage encodes as always
    report.prepared.output = dst
    report.output_probe.path = dst
    return report
