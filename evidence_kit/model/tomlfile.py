"""Reading a TOML file a user wrote (case.toml, a profile): only a plain file of a sane size, as UTF-8.

A case folder is the user's and anything can sit where case.toml should: a named pipe (opening it for reading
blocks until a writer comes), a link to /dev/zero (reads forever), a folder, a 2 GB log. Editors on Windows save
UTF-8 with a byte-order mark, or UTF-16. Each gets a sentence instead of a hang, a crash or "Invalid statement
(line 1, column 1)".
"""
from __future__ import annotations

import codecs
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Callable

from ..errors import CaseError
from ..fsutil import access_error

MAX_TOML_BYTES = 1_000_000  # a case.toml is a few kB; 3,000 characters of notes are 3 kB


def read_toml_text(path: Path, source: str, what: str = "case.toml") -> str:
    """The text of ``path``; CaseError (naming ``source``) for anything but a plain UTF-8 file up to
    MAX_TOML_BYTES. A pipe or a device is never opened for reading: O_NONBLOCK keeps the open of a pipe from
    waiting for a writer, and the type is checked on the opened file (fstat), so a swap after a check cannot
    slip one through."""
    # An unreadable file raises OSError naming it (exit 7, as any path that cannot be read); a missing one
    # FileNotFoundError, for the caller to say how to make one.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CaseError(source, [f"is a folder, not a file: {what} must be a plain text file"])
        if not stat.S_ISREG(info.st_mode):
            kind = "a named pipe" if stat.S_ISFIFO(info.st_mode) else (
                "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket")
            raise CaseError(source, [f"is {kind}, not a file: {what} must be a plain text file"])
        if info.st_size > MAX_TOML_BYTES:
            raise CaseError(source, [f"is {info.st_size:,} bytes; {what} is a short text file (at most "
                                     f"{MAX_TOML_BYTES:,} bytes): is it the right file?"])
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_TOML_BYTES + 1)  # a file that grows while read is cut off, not read forever
    except OSError as exc:
        raise access_error(exc, path) from None
    finally:
        os.close(fd)
    if len(data) > MAX_TOML_BYTES:
        raise CaseError(source, [f"is over {MAX_TOML_BYTES:,} bytes; {what} is a short text file: "
                                 "is it the right file?"])
    return decode_toml_bytes(data, source)


def decode_toml_bytes(data: bytes, source: str) -> str:
    """``data`` as text: UTF-8, with a leading byte-order mark dropped (Notepad writes one); UTF-16 and
    anything else that is not UTF-8 is refused with what to do."""
    # UTF-16 without a mark still shows itself: every other byte of its ASCII is a NUL, which TOML forbids.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in data[:4096]:
        raise CaseError(source, ["is saved as UTF-16 (or UTF-32): save it as UTF-8 (in Notepad: Save as, "
                                 "Encoding: UTF-8)"])
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise CaseError(source, [f"not UTF-8 text (line {line}): save it as UTF-8"]) from None


def parse_toml(text: str, source: str, parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=parse_float)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(source, [f"not valid TOML: {exc}"]) from None
    except RecursionError:  # thousands of [ inside each other: tomllib's parser is recursive
        raise CaseError(source, ["not valid TOML: lists or tables nested thousands deep"]) from None
    except ValueError:  # an integer past Python's 4,300 digits
        raise CaseError(source, ["not valid TOML: a number thousands of digits long"]) from None


def load_toml(path: Path, source: str, what: str = "case.toml",
              parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """``read_toml_text`` then ``parse_toml``: every way of reading a user's TOML file goes through here."""
    return parse_toml(read_toml_text(path, source, what), source, parse_float)
