"""fontconfig's fc-match and fc-list: where the installed fonts are."""
from __future__ import annotations

from . import Program, run

FC_MATCH = Program("fc-match", "fontconfig fonts-noto-core fonts-noto-cjk", "the summary PDF (finding fonts)", ("--version",))
FC_LIST = Program("fc-list", "fontconfig fonts-noto-core fonts-noto-cjk", "the summary PDF (finding fonts)", ("--version",))


def match(pattern: str, fmt: str) -> str:
    return run(FC_MATCH, ["-f", fmt, pattern], text=True, timeout=60).stdout


def list_fonts(*args: str) -> str:
    return run(FC_LIST, list(args), text=True, timeout=60).stdout
