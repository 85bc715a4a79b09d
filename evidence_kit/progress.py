"""The progress protocol: a callable that takes a ``ProgressEvent``. The terminal, the batch runner and the
web app each plug in their own."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # "photos", "video", "tracking", "texts", "summary", ...
    done: float  # how far, in units of ``total``
    total: float
    message: str = ""  # what is being worked on, e.g. the file name

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[ProgressEvent], None]
