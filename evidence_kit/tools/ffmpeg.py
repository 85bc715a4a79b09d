"""ffmpeg and ffprobe, through ffmpeg-python (the only module that imports it).

The graph-building calls (``input``, ``output``, ``concat``, ``probe``, ``Error``) are ffmpeg-python's own;
``run`` and ``require`` add this project's handling of a missing program.
"""
from __future__ import annotations

import errno
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Callable

import ffmpeg as _ffmpeg

from ..errors import ToolError
from . import Program, preflight

FFMPEG = Program("ffmpeg", "ffmpeg", "the video stage")
FFPROBE = Program("ffprobe", "ffmpeg", "the video stage")

Error = _ffmpeg.Error
input = _ffmpeg.input  # noqa: A001 - ffmpeg-python's name, kept so graphs read as its documentation does
output = _ffmpeg.output
concat = _ffmpeg.concat


def require() -> None:
    """Raise MissingDependencyError (naming the package) when ffmpeg or ffprobe is not on PATH."""
    FFMPEG.require()
    FFPROBE.require()


def probe(path: str, **kwargs: Any) -> dict[str, Any]:
    FFPROBE.require()
    return _ffmpeg.probe(path, cmd=FFPROBE.path() or "ffprobe", **kwargs)


def versions() -> dict[str, str]:
    return preflight([FFMPEG, FFPROBE]).found


class FfmpegError(ToolError):
    """ffmpeg exited with an error. The message is ours; ffmpeg's own last error line is ``detail`` (shown
    with -v, never as the buyer's message: "checking): Error marking filters as finished" helps nobody), and
    ``out_time`` says how far it got."""

    def __init__(self, message: str, *, out_time: float, log: list[str], detail: str = "") -> None:
        super().__init__(message)
        self.out_time, self.log, self.detail = out_time, log, detail


# ffmpeg's words for an output it could not write, and the errno they stand for.
_WRITE_ERRORS = {"No space left on device": errno.ENOSPC, "Disk quota exceeded": errno.EDQUOT,
                 "Read-only file system": errno.EROFS}


def _raise_write_error(log: list[str]) -> None:
    """OSError when ffmpeg could not write its output: ffmpeg 5.1 exits 0 when a full disk stops it writing
    the MP4 index ("Error writing trailer ...: No space left on device"), leaving a file no player opens.
    Raised as the OSError it was, so every caller reports it as the disk problem it is (exit 7)."""
    for line in log:
        for words, code in _WRITE_ERRORS.items():
            if words in line:
                raise OSError(code, os.strerror(code))


@dataclass
class GraphRun:
    out_time: float  # seconds of output written, from the last -progress report
    log: list[str]  # ffmpeg's stderr lines


def run_graph(stream: Any, *, label: str, duration: float, progress: Callable[[str, float], None] | None) -> GraphRun:
    """Run an ffmpeg-python graph, reporting ``-progress`` as a fraction of ``duration``.

    The child is killed if anything (including Ctrl-C) interrupts us, so no ffmpeg outlives a failure.
    """
    args = stream.global_args("-hide_banner", "-nostats", "-loglevel", "level+info", "-progress", "pipe:1",
                              "-nostdin").compile()
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise FFMPEG.missing() from None
    log: list[str] = []
    # stderr is drained on a thread so a chatty ffmpeg never blocks on a full pipe while we read progress.
    reader = threading.Thread(target=lambda: log.extend(line.decode("utf-8", "replace").rstrip()
                                                        for line in proc.stderr), daemon=True)
    reader.start()
    out_time = 0.0
    try:
        for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                out_time = max(out_time, int(value) / 1e6)
                if progress and duration > 0:
                    progress(label, min(1.0, out_time / duration))
        proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join(timeout=5)
    _raise_write_error(log)
    if proc.returncode != 0:
        errors = [line for line in log if "[error]" in line or "[fatal]" in line] or log[-3:]
        raise FfmpegError(f"ffmpeg stopped with an error ({label}): the video may be damaged, or in a form "
                          "ffmpeg cannot convert", out_time=out_time, log=log,
                          detail=clean_line(errors[-1]) if errors else "")
    if progress:
        progress(label, 1.0)
    return GraphRun(out_time, log)


def clean_line(line: str) -> str:
    """``[h264 @ 0x55..] [error] Invalid NAL unit`` -> ``Invalid NAL unit``."""
    return re.sub(r"^(\[[^\]]*\]\s*)+", "", line).strip()


