"""evidence-kit: turn a buyer's raw evidence into an upload-ready dispute package.

Library API (the CLI, watcher and batch runner call exactly these)::

    from evidence_kit import load_case, build_case, verify_package
    case = load_case("my-case")
    result = build_case("my-case", out="my-case/evidence-package")
"""
from __future__ import annotations

__version__ = "0.1.0"

from .case import Case, load_case  # noqa: E402
from .errors import EvidenceKitError, ExitCode  # noqa: E402
from .manifest import verify_package  # noqa: E402
from .pipeline import BuildResult, build_case  # noqa: E402
from .profile import Profile, load_profile  # noqa: E402

__all__ = ["__version__", "Case", "load_case", "build_case", "BuildResult", "verify_package", "Profile",
           "load_profile", "EvidenceKitError", "ExitCode"]
