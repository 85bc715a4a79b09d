"""A case's fingerprint: one hash of everything a package depends on, so an unchanged case is not rebuilt.

It covers the input files (by content), case.toml, the effective profile, the build options, the day
(deadline statements change with it) and the versions of evidence-kit and of the libraries that shape
the outputs. The pipeline stores it in the
manifest (``fingerprint``); ``api.build`` compares it before building. The code itself is covered only by its
version: after editing evidence-kit, rebuild with ``--force``.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import TYPE_CHECKING, Any, Iterable

from ..fsutil import sha256_file
from ..model.manifest import library_versions

if TYPE_CHECKING:
    from ..model.case import Case
    from ..model.options import BuildOptions

FINGERPRINT_KEY = "fingerprint"  # manifest key


def input_hashes(case: Case) -> list[tuple[str, str]]:
    """(path relative to the case, SHA-256) of every input file, as the manifest records them."""
    return [(f.relative_to(case.root).as_posix() if f.is_relative_to(case.root) else str(f), sha256_file(f))
            for f in case.media.all_files()]


def case_fingerprint(case: Case, options: BuildOptions, inputs: Iterable[tuple[str, str]]) -> str:
    """``inputs``: (relative path, SHA-256) pairs, from ``input_hashes`` or the manifest's input records."""
    facts = {
        "inputs": sorted(inputs),
        "case_toml": sha256_file(case.case_file) if case.case_file.is_file() else None,
        "profile": case.profile.to_dict(),
        "options": options.settings(),
        # The deadline statements in the texts and the PDF are for one day: a new day is a new package.
        "day": (options.today or date.today()).isoformat(),
        "tool": library_versions(),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()
