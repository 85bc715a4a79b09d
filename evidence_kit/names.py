"""File names as the disk holds them (any bytes) and as evidence-kit shows and uploads them.

POSIX names are bytes: Python hands undecodable ones over with surrogate escapes (``caf\\udce9.jpg``), which
cannot be printed, written as UTF-8 JSON or drawn in a PDF. Names also carry newlines, tabs and bidi controls
that would garble a text or a terminal line. Every name that leaves the program goes through one of these two.
"""
from __future__ import annotations

import contextlib
import re
import unicodedata
from pathlib import Path

UPLOAD_STEM_MAX = 40  # the dispute form shows short names; the full name stays in the manifest


def shown(name: str) -> str:
    """``name`` safe to print and to write into texts, JSON and the PDF: undecodable bytes as ``\\xe9``,
    control and invisible format characters as escapes (``\\n``, ``\\t``, ``\\u202e``); all else unchanged."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def upload_stem(stem: str) -> str:
    """A plain name for a file the buyer uploads: ASCII letters, digits, ``_`` and ``-`` only (accents are
    dropped, anything else becomes ``-``), at most UPLOAD_STEM_MAX characters; empty when nothing is left."""
    text = stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9_]+", "-", ascii_text).strip("-")[:UPLOAD_STEM_MAX].strip("-")


def shown_lines(text: str) -> str:
    """``text`` (a message, a result line, a multi-line report) safe for a terminal: each line as ``shown``
    makes a name, so a U+202E from a file name quoted in a message cannot turn the rest of the line around."""
    return "\n".join(shown(line) for line in text.split("\n"))


def json_safe(text: str) -> str:
    """JSON text with every control and invisible format character written as its ``\\uXXXX`` escape: the
    same data for a program, nothing a terminal would act on when a person reads it."""
    return "".join(c if c.isprintable() or c in "\n " else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                   else _surrogate_pair(ord(c)) for c in text)


def _surrogate_pair(code: int) -> str:
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def case_relative(path: str | Path, root: str | Path) -> str:
    """How a file is named in the package and to the buyer: relative to the case folder when it is inside
    (``photos/a.jpg``), else its name alone: the full local path says something about the user's disk and
    nothing about the dispute. Shown as ``shown`` makes it."""
    path, root = Path(path), Path(root)
    if path.is_relative_to(root) and ".." not in path.relative_to(root).parts:
        return shown(path.relative_to(root).as_posix())
    with contextlib.suppress(OSError, RuntimeError):  # a link loop or a vanished folder: the name will do
        if path.resolve().is_relative_to(root.resolve()):
            return shown(path.resolve().relative_to(root.resolve()).as_posix())
    return shown(path.name)
