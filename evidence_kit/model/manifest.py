"""manifest.json: every input and output with size, SHA-256 and transform; and ``verify``."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import CaseError, VerifyError
from ..fsutil import atomic_write_text, sha256_file
from ..model.layout import CASE_FILE, PACKAGE_DIR, PHOTO_SUFFIXES, VIDEO_SUFFIXES
from ..model.package import NOT_PLAIN, PackagePathError, open_package_file, package_entries, path_parts
from ..names import shown
from ..model.profile import Profile, validated_profile

MANIFEST_NAME = "manifest.json"
# 2: ``tools`` (the programs found before the first stage), no ``case.root`` (a local path), ``photo_selection``
# always present, and ``manifest_sha256`` (the manifest's own hash). README, "manifest.json".
SCHEMA_VERSION = 2
SCHEMA = f"evidence-kit/manifest/{SCHEMA_VERSION}"
OLD_SCHEMAS = {"evidence-kit/manifest/1"}
INTEGRITY_KEY = "manifest_sha256"
UPLOAD_DIR = "upload"  # exactly what goes into the dispute form
SUMMARY_ROLE, SUMMARY_STAGE = "summary", "summary"
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
    message: str  # plain words, shown everywhere (command line, summary PDF, web page)
    stage: str = ""
    code: int | None = None
    hint: str = ""  # what to change in case.toml or on the command line: printed by the command line only
    # A warning the library words the same way every time: its kind and the values in it, so the web app can
    # say it in the buyer's language (runners/web/wording.py WARNING_WORDS); "" for free-text warnings.
    kind: str = ""
    params: dict[str, Any] = field(default_factory=dict)


class Hinted(str):
    """A warning in plain words (the string itself) that carries a command-line ``hint``: the command line
    prints both, the summary PDF and the web page only the words. A ``kind`` names a warning worded the same
    way every time, ``params`` the values in it (a count, a file name): the web app words it from those."""

    hint: str
    kind: str
    params: dict[str, Any]

    def __new__(cls, message: str, hint: str = "", *, kind: str = "", **params: Any) -> "Hinted":
        made = super().__new__(cls, message)
        made.hint, made.kind, made.params = hint, kind, params
        return made


def warning_record(message: str) -> str | dict[str, Any]:
    """A warning as a JSON record keeps it: a kinded one as ``{message, kind, params}`` (``warning_of`` reads it
    back as the same ``Hinted``), any other as its words."""
    kind = getattr(message, "kind", "")
    return {"message": str(message), "kind": kind, "params": dict(message.params)} if kind else str(message)  # type: ignore[attr-defined]


def warning_of(recorded: Any) -> str:
    """A warning read back from ``warning_record``."""
    if isinstance(recorded, dict):
        params = recorded.get("params")
        return Hinted(str(recorded.get("message", "")), kind=str(recorded.get("kind") or ""),
                      **(params if isinstance(params, dict) else {}))
    return str(recorded)


def with_hint(message: str) -> str:
    """A warning as the command line prints it: its words, then its hint if it has one."""
    hint = getattr(message, "hint", "")
    return f"{message} {hint}" if hint else str(message)


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

    def warn(self, message: str, path: str | None = None, stage: str = "", hint: str = "") -> None:
        self.warnings.append(Problem(path, str(message), stage, hint=hint or getattr(message, "hint", ""),
                                     kind=getattr(message, "kind", ""), params=dict(getattr(message, "params", {}))))

    def error(self, message: str, path: str | None = None, stage: str = "", code: int | None = None) -> None:
        self.errors.append(Problem(path, message, stage, code))

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "created": self.created, "tool": self.tool, "case": self.case,
                "profile": self.profile.to_dict(), "inputs": [asdict(r) for r in self.inputs],
                "outputs": [asdict(r) for r in self.outputs], "warnings": [asdict(p) for p in self.warnings],
                "errors": [asdict(p) for p in self.errors], **self.sections}

    def body(self) -> dict[str, Any]:
        """``to_dict`` as it reads back from manifest.json (dates, paths and decimals as text): what is hashed."""
        return json.loads(json.dumps(self.to_dict(), default=str))

    def write(self, package: Path) -> Path:
        """Write manifest.json with ``manifest_sha256``, the hash of everything else in it."""
        data = self.body()
        data[INTEGRITY_KEY] = manifest_sha256(data)
        path = package / MANIFEST_NAME
        atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return path


def read_manifest(package: Path) -> Manifest | None:
    """The manifest of an existing package, or None when there is none or it cannot be read."""
    try:
        data = json.loads((package / MANIFEST_NAME).read_text(encoding="utf-8"))
        known = {"schema", "schema_version", INTEGRITY_KEY, "created", "tool", "case", "profile", "inputs", "outputs", "warnings", "errors"}
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


def canonical_sha256(data: Any) -> str:
    """SHA-256 of ``data`` as canonical JSON: keys sorted, no spaces, non-ASCII as \\u escapes."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def manifest_sha256(data: dict[str, Any]) -> str:
    """The manifest's own hash, stored in it as ``manifest_sha256``: every other key, facts included."""
    return canonical_sha256({k: v for k, v in data.items() if k != INTEGRITY_KEY})


def summary_hash(data: dict[str, Any]) -> str:
    """The "manifest hash" printed on every page of the summary PDF: the manifest as it was when the PDF
    was drawn. That is every key but ``manifest_sha256``, without what only the PDF itself produces: its own
    output record, the ``summary`` section and the problems the summary stage recorded (a PDF cannot
    contain a hash of itself). ``data`` is the manifest as JSON (``Manifest.body()`` or the parsed file).
    """
    body = {k: v for k, v in data.items() if k not in (INTEGRITY_KEY, "summary")}
    body["outputs"] = [r for r in data.get("outputs", []) if r.get("role") != SUMMARY_ROLE]
    for key in ("warnings", "errors"):
        body[key] = [p for p in data.get(key, []) if p.get("stage") != SUMMARY_STAGE]
    return canonical_sha256(body)


def count_chars(text: str) -> int:
    """Characters as a web form counts them: UTF-16 code units of the NFC text (an emoji or a rare CJK
    character is two), with every line end as CRLF (two), as a browser's maxlength and the submitted form do."""
    normal = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).replace("\n", "\r\n")
    return len(normal.encode("utf-16-le")) // 2


# What ``verify`` can find, one kind per problem (``evidence-kit verify --json``: ``problems[].kind``).
PROBLEM_KINDS = {
    "missing": "a file the manifest lists is not in the package",
    "hash_mismatch": "a file's size or SHA-256 differs from the manifest",
    "unlisted_file": "a file or folder in the package that the manifest does not list",
    "limit": "what upload/ holds breaks a limit of the profile (count per kind, bytes, characters)",
    "unsupported_file": "a file in upload/ of a type the form does not take",
    "manifest_edited": "manifest.json differs from its own hash, or from the hash the summary PDF prints",
    "bad_path": "the manifest names a path that is not a plain path inside the package (absolute, '..', a NUL, "
                "a backslash, a drive letter), or a text it does not list",
    "not_plain_file": "a link (to a file or a folder), a pipe or a device where the package must hold a plain file; "
                      "a link is never followed",
    "damaged_manifest": "manifest.json is empty, not JSON, not an evidence-kit manifest, or its records are damaged",
    "old_schema": "made by an older evidence-kit whose manifest carries no hash of its own",
}
_TEXT_SUFFIXES = frozenset({".txt"})


@dataclass
class VerifyProblem:
    kind: str  # a key of PROBLEM_KINDS
    path: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class VerifyReport:
    package: Path
    checked: int = 0
    problems: list[VerifyProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, path: str | None, message: str) -> None:
        self.problems.append(VerifyProblem(kind, path, message))

    def to_dict(self) -> dict[str, Any]:
        return {"package": str(self.package), "checked": self.checked, "ok": self.ok,
                "problems": [asdict(p) for p in self.problems]}


def _entry_problem(mode: int) -> str:
    """What an entry the manifest does not list is, in words."""
    if stat.S_ISLNK(mode):
        return f"a link the manifest does not list: {NOT_PLAIN}"
    if not stat.S_ISREG(mode):
        return f"a pipe, a device or a socket the manifest does not list: {NOT_PLAIN}"
    return "not listed in the manifest (added after the package was made)"


def _check_upload_folder(package: Path, profile: Profile, report: VerifyReport) -> None:
    """Re-check every limit on the files upload/ actually holds: the form takes exactly those.

    Only plain files count; a link or a pipe in upload/ (or upload/ as a link) is a problem of its own."""
    upload = package / UPLOAD_DIR
    try:
        if not stat.S_ISDIR(os.lstat(upload).st_mode):
            return
        with os.scandir(upload) as scan:
            entries = sorted((entry.name, entry.stat(follow_symlinks=False)) for entry in scan)
    except OSError:
        return
    counts = {"photo": 0, "video": 0}
    for name, info in entries:
        rel = f"{UPLOAD_DIR}/{name}"
        if stat.S_ISDIR(info.st_mode):
            report.add("unlisted_file", rel + "/", "a folder in upload/: the form takes files, not folders")
            continue
        if not stat.S_ISREG(info.st_mode):
            continue  # reported as a listed file's problem or as an unlisted entry
        suffix, size = Path(name).suffix.lower(), info.st_size
        if suffix in PHOTO_SUFFIXES:
            counts["photo"] += 1
            if size > profile.max_photo_bytes:
                report.add("limit", rel, f"{size:,} bytes is over the photo limit of {profile.max_photo_bytes:,}")
        elif suffix in VIDEO_SUFFIXES:
            counts["video"] += 1
            if size > profile.max_video_bytes:
                report.add("limit", rel, f"{size:,} bytes is over the video limit of {profile.max_video_bytes:,}")
        elif suffix in _TEXT_SUFFIXES:
            try:
                with open_package_file(package, rel) as handle:
                    chars = count_chars(handle.read().decode("utf-8"))
            except PackagePathError:
                continue  # swapped since the listing: reported with the package's entries
            except UnicodeDecodeError:
                report.add("limit", rel, "not UTF-8 text: the form cannot take it as a text")
                continue
            if chars > profile.max_text_chars:
                report.add("limit", rel, f"{chars} characters is over the text limit of {profile.max_text_chars}")
        else:
            report.add("unsupported_file", rel, f"the form does not take '{Path(name).suffix or name}' files")
    for kind, limit in (("photo", profile.max_photos), ("video", profile.max_videos)):
        if counts[kind] > limit:
            report.add("limit", UPLOAD_DIR + "/", f"{counts[kind]} {kind}s in upload/; the form takes {limit}")


_REBUILD = "the package is damaged: build it again"


def _parse_manifest(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """manifest.json's content, or None and what is wrong with it in plain words."""
    if not raw.strip():
        return None, f"is empty: {_REBUILD}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, f"is not UTF-8 text: {_REBUILD}"
    except json.JSONDecodeError as exc:
        return None, f"is not readable JSON (line {exc.lineno}, column {exc.colno}): {_REBUILD}"
    except ValueError:
        return None, f"is not readable JSON: {_REBUILD}"
    if not isinstance(data, dict) or data.get("schema") not in {SCHEMA, *OLD_SCHEMAS}:
        return None, f"is not an evidence-kit manifest (expected schema {SCHEMA})"
    return data, ""


def _named_paths(data: dict[str, Any]) -> list[Any]:
    """The package paths the manifest names outside ``outputs`` that readers open: each text, the summary."""
    texts, summary = data.get("texts", {}), data.get("summary", {})
    named = [info.get("path") for info in texts.values() if isinstance(info, dict)] if isinstance(texts, dict) else []
    if isinstance(summary, dict) and "path" in summary:
        named.append(summary["path"])
    return named


def _check_record(package: Path, record: FileRecord, report: VerifyReport) -> None:
    """Hash one listed file again, read through ``open_package_file`` (never through a link)."""
    try:
        with open_package_file(package, record.path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size != record.bytes:
                said = f"{record.bytes:,}" if isinstance(record.bytes, int) else repr(record.bytes)
                report.add("hash_mismatch", record.path, f"{size:,} bytes, the manifest says {said} (file changed)")
                return
            digest = hashlib.sha256()
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except PackagePathError as exc:
        report.add(exc.kind, record.path, exc.message)
        return
    if digest.hexdigest() != record.sha256:
        report.add("hash_mismatch", record.path, "SHA-256 differs from the manifest (file changed)")


def verify_package(package: str | Path) -> VerifyReport:
    """Check a package against its manifest, trusting nothing in it.

    Every listed file is hashed again; every file in the package must be listed; the limits of the
    manifest's profile are re-checked on what upload/ actually holds; manifest.json must match its own
    ``manifest_sha256`` and the hash its summary PDF prints. Every path is read as ``model.package`` reads it:
    plain relative paths only, no link followed (a linked manifest.json is a problem and is not read). An
    empty, garbage or damaged manifest is a ``damaged_manifest`` problem. Raises VerifyError only when there
    is no manifest.json at all (not a package).
    """
    package = Path(package)
    report = VerifyReport(package)
    try:
        with open_package_file(package, MANIFEST_NAME) as handle:
            raw = handle.read()
    except PackagePathError as exc:
        if exc.absent:
            hint = "is this an evidence-kit package?"
            if (package / CASE_FILE).is_file():
                hint = f"this is a case folder; its package is {package / PACKAGE_DIR} (after evidence-kit build)"
            raise VerifyError(f"no {MANIFEST_NAME} here: {hint}", path=str(package)) from None
        report.add("damaged_manifest" if exc.kind == "missing" else exc.kind, MANIFEST_NAME,
                   f"{exc.message}; nothing in the package can be checked against it")
        return report
    data, damage = _parse_manifest(raw)
    if data is None:
        report.add("damaged_manifest", MANIFEST_NAME, damage)
        return report
    try:
        # Checked, not only read: verify holds upload/ to these limits.
        profile = validated_profile(data["profile"], MANIFEST_NAME)
        records = [FileRecord(**r) for r in data["outputs"]]
        for r in data.get("warnings", []) + data.get("errors", []):
            Problem(**r)
        printed = summary_hash(data)
    except CaseError as exc:
        report.add("damaged_manifest", MANIFEST_NAME, f"damaged manifest: {'; '.join(exc.problems)}")
        return report
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        what = f"'{exc.args[0]}' is missing" if isinstance(exc, KeyError) else "a record is not as written"
        report.add("damaged_manifest", MANIFEST_NAME, f"damaged manifest: {what}: {_REBUILD}")
        return report

    if data["schema"] in OLD_SCHEMAS:
        report.add("old_schema", MANIFEST_NAME, f"written as {data['schema']}, which carries no hash of its own, so "
                   "edits to its facts cannot be detected: build the package again")
    elif data.get(INTEGRITY_KEY) != manifest_sha256(data):
        report.add("manifest_edited", MANIFEST_NAME, f"{INTEGRITY_KEY} " + (
            "is missing" if INTEGRITY_KEY not in data else "does not match the manifest's content")
            + ": manifest.json was edited after it was written")
    for summary in (r for r in records if r.role == SUMMARY_ROLE):
        stated = summary.info.get("manifest_hash") if isinstance(summary.info, dict) else None
        if stated != printed:
            report.add("manifest_edited", summary.path,
                       f"prints manifest hash {str(stated)[:16]}..., but the manifest "
                       f"hashes to {printed[:16]}...: manifest.json was edited after the summary was made")

    listed = {MANIFEST_NAME}
    for record in records:
        report.checked += 1
        try:
            path_parts(record.path)
        except PackagePathError as exc:
            report.add("bad_path", record.path if isinstance(record.path, str) else None, exc.message)
            continue
        listed.add(record.path)
        _check_record(package, record, report)
    for named in _named_paths(data):
        try:
            path_parts(named)
        except PackagePathError as exc:
            report.add("bad_path", named if isinstance(named, str) else None, exc.message)
            continue
        if named not in listed:
            report.add("bad_path", named, "is named as a text or the summary, but the manifest does not list it")
    for rel, mode in package_entries(package):
        if stat.S_ISDIR(mode) or rel in listed:  # a listed file that is not plain is reported above
            continue
        if stat.S_ISLNK(mode) and any(path.startswith(rel + "/") for path in listed):
            continue  # a linked folder that listed paths go through: reported for each of them
        report.add("unlisted_file", rel, _entry_problem(mode))
    _check_upload_folder(package, profile, report)
    return report
