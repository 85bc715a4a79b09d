"""Reading a package: every path a manifest names is resolved here, and never through a link.

A package holds plain files in plain folders only. A manifest is text anyone can edit (and re-hash), so each
path it names is checked before use: a plain relative path (no absolute path, ``..``, ``.``, empty part, NUL,
backslash or drive letter), reached one folder at a time without following a link (``O_NOFOLLOW`` on every
component, opened relative to the folder before it), and ending at a regular file. verify, the zip and the web
app's case page all read through ``open_package_file``.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO, Iterator

_DRIVE = re.compile(r"^[A-Za-z]:")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: a pipe put where a file should be must not wait for a writer (it is refused after fstat).
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
NOT_PLAIN = "a package holds plain files only"
ABSENT = "listed in the manifest but not in the package"


class PackagePathError(ValueError):
    """A manifest path that cannot be read as a plain file inside the package. ``kind`` is verify's problem
    kind: ``bad_path`` (the text of the path), ``not_plain_file`` (a link or a special file) or ``missing``."""

    def __init__(self, kind: str, message: str, absent: bool = False) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message
        self.absent = absent  # nothing at all by that name (not a file that cannot be read)


def path_parts(relative: object) -> list[str]:
    """The parts of a manifest path, or PackagePathError(``bad_path``) unless it is a plain relative path."""
    if not isinstance(relative, str) or not relative:
        raise PackagePathError("bad_path", "is not a path inside the package")
    if relative.startswith("/") or _DRIVE.match(relative):
        raise PackagePathError("bad_path", "is an absolute path: a package names its files relative to itself")
    if "\x00" in relative or "\\" in relative:
        raise PackagePathError("bad_path", "is not a plain path inside the package (it holds a NUL or a backslash)")
    parts = relative.split("/")
    if ".." in parts:
        raise PackagePathError("bad_path", "leads out of the package ('..')")
    if any(part in ("", ".") for part in parts):
        raise PackagePathError("bad_path", "is not a plain path inside the package (an empty or '.' part)")
    return parts


def _refusal(mode: int, through: str | None = None) -> PackagePathError:
    """``through``: the folder on the way that is not a plain folder (None: the file itself)."""
    link = stat.S_ISLNK(mode)
    what = "a link, which can point anywhere" if link else "a folder" if stat.S_ISDIR(mode) else (
        "a pipe, a device or a socket")
    said = f"goes through '{through}', {what}" if through else f"is {what}"
    plain = "" if link else (", not a folder" if through else ", not a plain file")
    return PackagePathError("not_plain_file", f"{said}{plain}: {NOT_PLAIN}")


def open_package_file(package: str | Path, relative: str) -> BinaryIO:
    """The file ``relative`` (a manifest path) names inside ``package``, opened for reading in binary.

    The package folder itself is taken as given; below it no link is followed, and the result is a regular
    file. Raises PackagePathError (``bad_path``, ``not_plain_file``, ``missing``)."""
    parts = path_parts(relative)
    try:
        fd = os.open(package, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise PackagePathError("missing", "there is no package folder here", absent=True) from None
    except OSError as exc:
        raise PackagePathError("missing", f"the package folder cannot be read: {exc.strerror}") from None
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            through = None if last else "/".join(parts[:i + 1])
            try:
                mode = os.lstat(part, dir_fd=fd).st_mode  # looked at before opening: a device is never opened
            except FileNotFoundError:
                raise PackagePathError("missing", ABSENT, absent=True) from None
            if not last and stat.S_ISREG(mode):
                raise PackagePathError("missing", ABSENT, absent=True)
            if not (stat.S_ISREG(mode) if last else stat.S_ISDIR(mode)):
                raise _refusal(mode, through)
            try:
                opened = os.open(part, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # made a link since the lstat
                    raise _refusal(stat.S_IFLNK, through) from None
                raise PackagePathError("missing", f"cannot be read: {exc.strerror}") from None
            os.close(fd)
            fd = opened
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped for a pipe or device since the lstat
            raise _refusal(mode)
        os.set_blocking(fd, True)
        handle, fd = os.fdopen(fd, "rb"), -1
        return handle
    finally:
        if fd >= 0:
            os.close(fd)


def package_file(package: str | Path, relative: str) -> Path:
    """The path of a plain file inside the package (checked as ``open_package_file`` checks it), for readers
    that need a path. What is at the path can still change later; read with ``open_package_file``."""
    with open_package_file(package, relative):
        pass
    return Path(package).joinpath(*path_parts(relative))


def read_package_text(package: str | Path, relative: str, limit: int = 16 * 1024 * 1024) -> str:
    """A UTF-8 text of the package. PackagePathError as ``open_package_file``; ValueError when it is over
    ``limit`` bytes (a text the web app shows is a few kB) or not UTF-8."""
    with open_package_file(package, relative) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"over {limit:,} bytes: too large for a text")
    return data.decode("utf-8")


def package_entries(package: str | Path) -> Iterator[tuple[str, int]]:
    """Everything below the package as ``(relative path, lstat mode)``, sorted, never entering a link."""
    root = Path(package)

    def walk(folder: Path, prefix: str) -> Iterator[tuple[str, int]]:
        with os.scandir(folder) as entries:
            found = sorted((entry.name, entry.stat(follow_symlinks=False).st_mode) for entry in entries)
        for name, mode in found:
            yield prefix + name, mode
            if stat.S_ISDIR(mode):
                yield from walk(folder / name, f"{prefix}{name}/")

    yield from walk(root, "")
