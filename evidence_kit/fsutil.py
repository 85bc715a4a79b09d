"""Atomic writes, content hashes and the case lock: outputs appear whole or not at all."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import FileAccessError

TEMP_PREFIX = ".ek-tmp-"
MB = 1_000_000


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask can only set it)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def mount_point(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() or not os.path.ismount(path):
        path = path.parent
    return path


def space_problem(folder: Path, needed: int) -> str | None:
    """A sentence when the filesystem holding ``folder`` has less than ``needed`` bytes free, else None."""
    free = shutil.disk_usage(folder).free
    if free >= needed:
        return None
    return (f"not enough free space on {mount_point(folder)}: {needed / MB:,.0f} MB needed, "
            f"{free / MB:,.0f} MB free")


def access_error(exc: OSError, where: Path) -> FileAccessError:
    """A FileAccessError a buyer can act on for an OSError met while writing under ``where``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        free = shutil.disk_usage(where).free if where.exists() else 0
        return FileAccessError(f"not enough free space on {mount_point(where)} ({free / MB:,.0f} MB free): "
                               "free some space or choose another --out", path=str(where))
    if exc.errno == errno.EROFS:
        return FileAccessError("cannot write here: the disk is read-only; choose another --out", path=str(where))
    return FileAccessError(f"cannot read or write this file: {exc.strerror or exc}",
                           path=str(exc.filename) if exc.filename else str(where))


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only if the block succeeds."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=final.suffix, dir=final.parent)
    except OSError as exc:
        raise FileAccessError(f"cannot write here: {exc.strerror or exc}", path=str(final.parent)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs get the user's usual mode
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write_bytes(final: str | Path, data: bytes) -> None:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(final: str | Path, text: str) -> None:
    atomic_write_bytes(final, text.encode("utf-8"))


def replace_dir(staging: Path, final: Path) -> None:
    """Swap a fully written ``staging`` directory into ``final`` (replacing an older package)."""
    old = None
    if final.exists():
        old = final.with_name(f"{TEMP_PREFIX}old-{final.name}-{os.getpid()}")
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def case_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the case folder while its package is built.

    Two runs never build one case at once, and a leftover found while holding the lock belongs to a run
    that is dead. flock locks die with their process, kill -9 included, and leave no file behind.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise FileAccessError(f"cannot open the case folder: {exc.strerror or exc}", path=str(folder)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def clear_leftovers(package: Path) -> list[str]:
    """Remove what a killed build of ``package`` left beside it; returns the names removed or restored.

    Only names ``build_case`` makes are touched: ``.ek-tmp-<name>-<8 random chars>`` (a staging folder:
    never complete) and ``.ek-tmp-old-<name>-<pid>`` (the previous package, moved aside just before the
    new one was renamed in: if the kill fell between the two renames it is the last whole package, so it
    goes back into place).
    """
    parent, name = package.parent, re.escape(package.name)
    staging = re.compile(rf"{re.escape(TEMP_PREFIX)}{name}-[a-z0-9_]{{8}}")
    previous = re.compile(rf"{re.escape(TEMP_PREFIX)}old-{name}-\d+")
    if not parent.is_dir():
        return []
    cleared = []
    for entry in sorted(parent.iterdir()):
        if previous.fullmatch(entry.name) and not package.exists() and (entry / "manifest.json").is_file():
            os.replace(entry, package)
            cleared.append(f"{entry.name} (restored as {package.name})")
        elif staging.fullmatch(entry.name) or previous.fullmatch(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
            cleared.append(entry.name)
    return cleared
