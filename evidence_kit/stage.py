"""The stage contract: every stage is ``run(ctx: StageContext) -> None`` and stores its typed result on ``ctx``.

A stage records a per-file problem with ``ctx.error`` and carries on; it raises only for what stops the
whole case. Later stages read earlier stages' typed results (``ctx.photos``, ``ctx.video``, ...); the
manifest is assembled once, at the end, from those results (``StageContext.manifest_sections``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .model.manifest import UPLOAD_DIR, FileRecord, Manifest  # noqa: F401 (UPLOAD_DIR: stages import it here)
from .names import case_relative, upload_stem
from .progress import Progress, ProgressEvent

if TYPE_CHECKING:
    from .dispute.checklist import Checklist
    from .dispute.complaint import WrittenText
    from .dispute.deadlines import DeadlineReport
    from .media.tracking import CaseTracking
    from .media.video import CaseVideo
    from .model.case import Case
    from .model.options import BuildOptions
    from .report.summary import SummaryResult
    from .tools import Preflight



@dataclass
class PhotoSlots:
    """The form's photo slots, shared by the photo, video (stills), tracking and chat stages in that order.

    Upload names are ``photo-{n}-{stem}.jpg`` with ``n`` the slot number, so the form shows them in order. A
    tracking capture's later parts come after the chat screenshots in the form, yet are captured before them:
    they take their slots past the ones held for the chat (``take(..., skip=...)``).
    """

    capacity: int
    taken: set[int] = field(default_factory=set)

    @property
    def free(self) -> int:
        return self.capacity - len(self.taken)

    def take(self, stem: str, *, skip: int = 0) -> str:
        """The upload name for the next free slot after ``skip`` free ones left for a later stage; raises when
        there is none (callers check ``free`` first)."""
        name = self.next_name(stem, skip=skip)
        self.taken.add(self._number(skip))
        return name

    def next_name(self, stem: str, *, skip: int = 0) -> str:
        """The name ``take`` would give now, without taking the slot (for a write that may still fail)."""
        number, plain = self._number(skip), upload_stem(stem)
        return f"photo-{number}-{plain}.jpg" if plain else f"photo-{number}.jpg"

    def _number(self, skip: int) -> int:
        free = [n for n in range(1, self.capacity + 1) if n not in self.taken]
        if skip >= len(free):
            raise ValueError("no photo slot left")
        return free[skip]


@dataclass
class PhotoSelection:
    """The photo stage's result: which inputs were uploaded, and why the others were not."""

    uploaded: list[str] = field(default_factory=list)
    left_out: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}

    def to_dict(self) -> dict[str, Any]:
        return {"uploaded": self.uploaded, "left_out": self.left_out}


@dataclass
class StageContext:
    """What every stage gets: the case, the staging folder (renamed into place at the end), the options,
    the tools found before the build, the ledger of files and problems, and the earlier stages' results."""

    case: Case
    staging: Path
    options: BuildOptions
    ledger: Manifest  # inputs, outputs, warnings, errors (the manifest's sections come from the results)
    tools: Preflight
    package: Path | None = None  # where the package will land (an earlier build may still be there)
    progress: Progress | None = None
    slots: PhotoSlots = field(default_factory=lambda: PhotoSlots(0))
    fingerprint: str = ""
    photos: PhotoSelection | None = None
    video: CaseVideo | None = None
    tracking: CaseTracking | None = None
    deadlines: DeadlineReport | None = None
    checklist: Checklist | None = None
    texts: dict[str, WrittenText] = field(default_factory=dict)
    summary: SummaryResult | None = None
    notes_left_out: dict[str, str] = field(default_factory=dict)  # notes beyond what the texts read

    @property
    def upload_dir(self) -> Path:
        return self.staging / UPLOAD_DIR

    def relative_input(self, path: Path) -> str:
        return case_relative(path, self.case.root)  # a file outside the case: its name, never a local path

    def add_output(self, file: Path, role: str, *, source: Path | None = None, upload: bool = False,
                   transform: dict[str, Any] | None = None, **info: Any) -> FileRecord:
        record = FileRecord.of(file, self.staging, role, source=self.relative_input(source) if source else None,
                               upload=upload, transform=transform or {}, info=info)
        self.ledger.outputs.append(record)
        return record

    def warn(self, message: str, path: str | None = None, stage: str = "", hint: str = "") -> None:
        self.ledger.warn(message, path, stage, hint)

    def error(self, message: str, path: str | None = None, stage: str = "", code: int | None = None) -> None:
        self.ledger.error(message, path, stage, code)

    def report(self, stage: str, done: float, total: float = 1.0, message: str = "") -> None:
        if self.progress:
            self.progress(ProgressEvent(stage, done, total, message))

    def fraction_reporter(self, stage: str) -> Callable[[str, float], None]:
        """For domain code that reports ``(label, fraction)``: the label becomes the message."""
        return lambda label, fraction: self.report(stage, fraction, 1.0, label)

    def manifest_sections(self) -> dict[str, Any]:
        sections: dict[str, Any] = {"fingerprint": self.fingerprint, "tools": self.tools.to_dict()}
        if self.photos is not None:
            sections["photo_selection"] = self.photos.to_dict()
        if self.video is not None:
            sections["video"] = self.video.to_dict()
        if self.tracking is not None:
            sections["tracking"] = self.tracking.to_dict()
        if self.deadlines is not None:
            sections["deadlines"] = self.deadlines.to_dict()
        if self.checklist is not None:
            sections["checklist"] = self.checklist.to_dict()
        if self.texts:
            sections["texts"] = {kind: text.to_dict() for kind, text in self.texts.items()}
        if self.summary is not None:
            sections["summary"] = self.summary.to_dict()
        if self.notes_left_out:
            sections["notes_left_out"] = self.notes_left_out
        return sections
