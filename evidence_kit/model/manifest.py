"""manifest.json: every input and output with size, SHA-256 and transform; and ``verify``."""
from __future__ import annotations

import hashlib
import json
import platform
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import VerifyError
from ..fsutil import atomic_write_text, sha256_file
from ..names import shown
from ..model.profile import Profile

MANIFEST_NAME = "manifest.json"
SCHEMA = "evidence-kit/manifest/1"
_LIBRARIES = ("pillow", "pillow-heif", "imagehash", "ffmpeg-python", "reportlab", "playwright", "watchdog", "click",
              "lingua-language-detector")


def library_versions() -> dict[str, str]:
    versions = {"evidence-kit": __version__, "python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class FileRecord:
    """One file in the manifest. ``path`` is relative to the case (inputs) or the package (outputs)."""

    path: str
    role: str
    bytes: int
    sha256: str
    source: str | None = None  # outputs: the input this came from
    upload: bool = False  # outputs: goes into the dispute form
    transform: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, file: Path, relative_to: Path, role: str, **extra: Any) -> "FileRecord":
        return cls(path=shown(file.relative_to(relative_to).as_posix()), role=role, bytes=file.stat().st_size,
                   sha256=sha256_file(file), **extra)


@dataclass
class Problem:
    path: str | None
    message: str
    stage: str = ""
    code: int | None = None


@dataclass
class Manifest:
    profile: Profile
    case: dict[str, Any] = field(default_factory=dict)
    inputs: list[FileRecord] = field(default_factory=list)
    outputs: list[FileRecord] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)  # stage results: selection, findings, gaps, ...
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    tool: dict[str, str] = field(default_factory=library_versions)

    def warn(self, message: str, path: str | None = None, stage: str = "") -> None:
        self.warnings.append(Problem(path, message, stage))

    def error(self, message: str, path: str | None = None, stage: str = "", code: int | None = None) -> None:
        self.errors.append(Problem(path, message, stage, code))

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "created": self.created, "tool": self.tool, "case": self.case,
                "profile": self.profile.to_dict(), "inputs": [asdict(r) for r in self.inputs],
                "outputs": [asdict(r) for r in self.outputs], "warnings": [asdict(p) for p in self.warnings],
                "errors": [asdict(p) for p in self.errors], **self.sections}

    def write(self, package: Path) -> Path:
        path = package / MANIFEST_NAME
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
        return path


def read_manifest(package: Path) -> Manifest | None:
    """The manifest of an existing package, or None when there is none or it cannot be read."""
    try:
        data = json.loads((package / MANIFEST_NAME).read_text(encoding="utf-8"))
        known = {"schema", "created", "tool", "case", "profile", "inputs", "outputs", "warnings", "errors"}
        return Manifest(profile=Profile(**data["profile"]), case=data.get("case", {}),
                        inputs=[FileRecord(**r) for r in data.get("inputs", [])],
                        outputs=[FileRecord(**r) for r in data.get("outputs", [])],
                        warnings=[Problem(**p) for p in data.get("warnings", [])],
                        errors=[Problem(**p) for p in data.get("errors", [])],
                        sections={k: v for k, v in data.items() if k not in known},
                        created=data.get("created", ""), tool=data.get("tool", {}))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def exhibits(records: list[FileRecord]) -> list[tuple[str, FileRecord]]:
    """Uploaded evidence lettered A, B, C... in upload order (photos, then video, then the rest).

    The texts cite these letters and the summary PDF uses them as section titles.
    """
    order = {"photo": 0, "video": 1}
    evidence = [r for r in records if r.upload and r.role not in ("complaint", "summary")]
    evidence.sort(key=lambda r: order.get(r.role, 2))  # stable: keeps each stage's own order
    return [(chr(ord("A") + i) if i < 26 else f"Z{i - 25}", r) for i, r in enumerate(evidence)]


def content_hash(inputs: list[FileRecord], outputs: list[FileRecord]) -> str:
    """The "manifest hash" printed on every page of the summary PDF.

    SHA-256 of the UTF-8 JSON ``{"inputs": [[path, role, bytes, sha256], ...], "outputs": [...]}`` (keys
    sorted, no spaces, in manifest order) over every input and every output except the summary PDF's own
    record: the PDF cannot contain a hash of itself, and with it left out the hash is recomputable from
    manifest.json alone.
    """
    def rows(records: list[FileRecord]) -> list[list[Any]]:
        return [[r.path, r.role, r.bytes, r.sha256] for r in records if r.role != "summary"]

    canonical = json.dumps({"inputs": rows(inputs), "outputs": rows(outputs)}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def count_chars(text: str) -> int:
    """Characters as a web form counts them: code points of the NFC text, CRLF as one."""
    return len(unicodedata.normalize("NFC", text.replace("\r\n", "\n")))


@dataclass
class VerifyReport:
    package: Path
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"package": str(self.package), "checked": self.checked, "ok": self.ok, "problems": self.problems}


def _limit_problems(record: FileRecord, file: Path, profile: Profile) -> list[str]:
    if not record.upload:
        return []
    if record.role == "photo" and record.bytes > profile.max_photo_bytes:
        return [f"{record.path}: {record.bytes:,} bytes is over the photo limit of {profile.max_photo_bytes:,}"]
    if record.role == "video" and record.bytes > profile.max_video_bytes:
        return [f"{record.path}: {record.bytes:,} bytes is over the video limit of {profile.max_video_bytes:,}"]
    if record.role == "complaint":
        chars = count_chars(file.read_text(encoding="utf-8"))
        if chars > profile.max_text_chars:
            return [f"{record.path}: {chars} characters is over the text limit of {profile.max_text_chars}"]
    return []


def verify_package(package: str | Path) -> VerifyReport:
    """Recompute every output's hash and re-check every limit of the manifest's profile."""
    package = Path(package)
    manifest_path = package / MANIFEST_NAME
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerifyError(f"no {MANIFEST_NAME} here: is this an evidence-kit package?", path=str(package)) from None
    except (OSError, ValueError) as exc:
        raise VerifyError(f"unreadable manifest: {exc}", path=str(manifest_path)) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise VerifyError(f"not an evidence-kit manifest (expected schema {SCHEMA})", path=str(manifest_path))
    report = VerifyReport(package)
    try:
        profile = Profile(**data["profile"])
        records = [FileRecord(**r) for r in data["outputs"]]
        inputs = [FileRecord(**r) for r in data.get("inputs", [])]
    except (KeyError, TypeError) as exc:
        raise VerifyError(f"damaged manifest: {exc}", path=str(manifest_path)) from None
    uploads: dict[str, int] = {}
    for record in records:
        file = package / record.path
        report.checked += 1
        if not file.is_file():
            report.problems.append(f"{record.path}: missing")
            continue
        size = file.stat().st_size
        if size != record.bytes:
            report.problems.append(f"{record.path}: {size:,} bytes, the manifest says {record.bytes:,}")
        if sha256_file(file) != record.sha256:
            report.problems.append(f"{record.path}: SHA-256 differs from the manifest (file changed)")
        report.problems.extend(_limit_problems(FileRecord(**{**asdict(record), "bytes": size}), file, profile))
        if record.upload:
            uploads[record.role] = uploads.get(record.role, 0) + 1
    expected = content_hash(inputs, records)
    for summary in (r for r in records if r.role == "summary" and r.info.get("manifest_hash")):
        if summary.info["manifest_hash"] != expected:
            report.problems.append(f"{summary.path}: prints manifest hash {summary.info['manifest_hash'][:16]}..., but "
                                   f"the manifest's files hash to {expected[:16]}... (the manifest was edited after "
                                   "the summary was made)")
    for role, limit in (("photo", profile.max_photos), ("video", profile.max_videos)):
        if uploads.get(role, 0) > limit:
            report.problems.append(f"{uploads[role]} {role}s marked for upload; the form takes {limit}")
    return report
