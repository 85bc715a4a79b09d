"""File names as the disk holds them (any bytes) and as evidence-kit shows and uploads them.

POSIX names are bytes: Python hands undecodable ones over with surrogate escapes (``caf\\udce9.jpg``), which
cannot be printed, written as UTF-8 JSON or drawn in a PDF. Names also carry newlines, tabs and bidi controls
that would garble a text or a terminal line. Every name that leaves the program goes through one of these two.
"""
from __future__ import annotations

import re
import unicodedata

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
