"""Exit codes and the typed exceptions that carry them.

The library raises these; the CLI turns them into ``ErrorName: message`` and the code.
"""
from __future__ import annotations

from enum import IntEnum

from .names import shown


class ExitCode(IntEnum):
    """Documented process exit codes (README, "Exit codes")."""

    OK = 0
    SOME_INPUTS_FAILED = 1  # the package was written, but some inputs were rejected
    BAD_ARGS = 2  # command-line usage error (click uses 2 as well)
    INPUT_ERROR = 3  # the case or an input file is invalid or unreadable
    MISSING_DEPENDENCY = 4  # ffmpeg, ffprobe, Chromium, ... not installed
    LIMIT_EXCEEDED = 5  # an output cannot be made to fit the profile's limit
    VERIFY_FAILED = 6  # a package does not match its manifest
    FILE_ACCESS = 7  # cannot read or write a path
    CHILD_PROCESS = 8  # an external tool failed unexpectedly
    ADDRESS_UNAVAILABLE = 9  # serve: the port (or address) cannot be listened on: in use, reserved, not ours
    INTERNAL = 15  # a bug: please report it
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM (kill, systemd, a container stop): cleaned up like Ctrl-C


class EvidenceKitError(Exception):
    """Base class: a problem the user can act on, with its exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL
    detail: str = ""  # a tool's own words behind the message (ffmpeg's last error line): shown with -v only

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = shown(path) if path else path  # printed and written as JSON: see names.py

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(EvidenceKitError):
    """An input file cannot be used (unreadable, wrong type, corrupt)."""

    exit_code = ExitCode.INPUT_ERROR


class CaseError(InputError):
    """case.toml (or a profile file) is invalid; lists every problem found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems), path=path)

    def __str__(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"{self.path} is not valid:\n{lines}"


class MissingDependencyError(EvidenceKitError):
    exit_code = ExitCode.MISSING_DEPENDENCY


class LimitError(EvidenceKitError):
    """An output cannot be made to fit within the profile's limit."""

    exit_code = ExitCode.LIMIT_EXCEEDED


class VerifyError(EvidenceKitError):
    exit_code = ExitCode.VERIFY_FAILED


class FileAccessError(EvidenceKitError):
    exit_code = ExitCode.FILE_ACCESS


class ToolError(EvidenceKitError):
    """An external program (ffmpeg, Chromium, ...) failed unexpectedly."""

    exit_code = ExitCode.CHILD_PROCESS


class AddressError(EvidenceKitError):
    """The web server cannot listen where it was told (``serve --port``/``--host``)."""

    exit_code = ExitCode.ADDRESS_UNAVAILABLE


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM, so it unwinds (and cleans up) exactly as Ctrl-C does."""
