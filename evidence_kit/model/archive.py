"""The package as one zip (the web app's "Download all"): only a package that passes verify, read as verify
reads it, so a link inside the package is never followed into the zip."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path

from ..errors import VerifyError
from .manifest import UPLOAD_DIR, VerifyReport, verify_package
from .package import PackagePathError, open_package_file, package_entries

# Stored without compression: already compressed, and a 500 MB video is not worth deflating.
STORED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".mp4", ".mov", ".webm", ".pdf", ".zip", ".heic", ".webp"})
_EARLIEST = (1980, 1, 1, 0, 0, 0)  # a zip cannot date a file earlier


class PackageCheckFailed(VerifyError):
    """The package did not pass verify, so it is not zipped; ``report`` holds every problem."""

    def __init__(self, report: VerifyReport) -> None:
        super().__init__("the package did not pass its check, so it is not zipped: build the case again")
        self.report = report


def write_zip(package: str | Path, folder: str | Path) -> Path:
    """The package as a new zip file in ``folder``: upload/ first (what goes into the form), then the rest.

    Raises PackageCheckFailed unless the package passes verify; each file is then opened as verify opens
    it (``open_package_file``: no link followed), so one swapped for a link meanwhile fails the zip too.
    The caller removes the zip when done."""
    package, folder = Path(package), Path(folder)
    report = verify_package(package)
    if not report.ok:
        raise PackageCheckFailed(report)
    files = sorted((rel for rel, mode in package_entries(package) if not stat.S_ISDIR(mode)),
                   key=lambda rel: (rel.split("/")[0] != UPLOAD_DIR, rel))
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".zip-", suffix=".zip", dir=folder)
    os.close(fd)
    try:
        with zipfile.ZipFile(name, "w") as archive:
            for rel in files:
                _add(archive, package, rel)
    except PackagePathError as exc:
        Path(name).unlink(missing_ok=True)
        report.add(exc.kind, rel, exc.message)
        raise PackageCheckFailed(report) from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _add(archive: zipfile.ZipFile, package: Path, rel: str) -> None:
    with open_package_file(package, rel) as source:
        info = os.fstat(source.fileno())
        member = zipfile.ZipInfo(rel, max(_EARLIEST, time.localtime(info.st_mtime)[:6]))
        member.external_attr = (stat.S_IMODE(info.st_mode) | stat.S_IFREG) << 16
        member.compress_type = (zipfile.ZIP_STORED if Path(rel).suffix.lower() in STORED_SUFFIXES
                                else zipfile.ZIP_DEFLATED)
        member.file_size = info.st_size  # lets zipfile choose ZIP64 for a file over 2 GiB
        with archive.open(member, "w") as target:
            shutil.copyfileobj(source, target, 1 << 20)
