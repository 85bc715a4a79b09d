"""Build options: what a caller may choose about a build. Everything here but ``progress`` shapes the package."""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any


@dataclass(frozen=True)
class BuildOptions:
    keep_metadata: bool = False  # keep GPS, serials and other EXIF in uploaded photos
    grid: bool = False  # put the photos that did not make it into one captioned grid (last slot)
    today: date | None = None  # "today" for deadline statements (tests, reproducible builds)
    look_up_tracking: bool = False  # capture public tracking sites for numbers without a URL (goes online)

    def settings(self) -> dict[str, Any]:
        """The options as plain data, for the fingerprint."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
