"""jpegtran (libjpeg-turbo): lossless JPEG re-wrapping and rotation."""
from __future__ import annotations

import subprocess

from . import Program, run

JPEGTRAN = Program("jpegtran", "libjpeg-turbo-progs", "lossless photo fitting")


def transform(args: list[str], src: str) -> subprocess.CompletedProcess[bytes]:
    return run(JPEGTRAN, [*args, src], timeout=120)
