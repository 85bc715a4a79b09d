"""One module per external program: where it is found, which version it is, and a ``run()`` that keeps its
stderr for the message. ``preflight`` finds the programs a build needs before any work starts.

The policy, one for every program: a program whose stage has input to work on and is missing fails that
stage with exit code 4 (MissingDependencyError) and a line naming the Debian package to install; the
other stages go on. The versions found are recorded in the manifest (``tools``).
"""
from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from ..errors import MissingDependencyError, ToolError


@dataclass(frozen=True)
class Program:
    """An external program: the command, the Debian package that provides it and what uses it."""

    command: str
    package: str
    used_for: str
    version_args: tuple[str, ...] = ("-version",)

    def path(self) -> str | None:
        return shutil.which(self.command)

    def require(self) -> str:
        found = self.path()
        if found is None:
            raise self.missing()
        return found

    def missing(self) -> MissingDependencyError:
        return MissingDependencyError(f"{self.command} is not installed; {self.used_for} needs it "
                                      f"(install it with: sudo apt-get install {self.package})")

    def version(self) -> str:
        return _version(self.command, self.version_args, self.path() or "")


@functools.lru_cache(maxsize=None)
def _version(command: str, args: tuple[str, ...], path: str) -> str:
    """The program's first line of version output; cached per path (a build asks once per process)."""
    if not path:
        return ""
    try:
        done = subprocess.run([path, *args], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def run(program: Program, args: list[str], *, timeout: float | None = None, text: bool = False,
        input: bytes | None = None) -> subprocess.CompletedProcess[Any]:
    """Run ``program`` with ``args``; a missing program is MissingDependencyError, a time-out ToolError.

    The caller judges the exit code: some programs fail on bad input, which is the input's fault.
    """
    path = program.require()
    try:
        return subprocess.run([path, *args], capture_output=True, text=text, timeout=timeout, input=input,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{program.command} took longer than {timeout:.0f} s") from None
    except FileNotFoundError:  # removed between the look-up and the start
        raise program.missing() from None


def last_line(stderr: str | bytes) -> str:
    """The last non-empty line of a program's stderr: usually the one that says what went wrong."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


@dataclass
class Preflight:
    """The programs a build needs, found (with versions) or missing, looked up before the first stage."""

    found: dict[str, str] = field(default_factory=dict)  # command -> version line
    missing: dict[str, Program] = field(default_factory=dict)

    def problem(self, *commands: str) -> MissingDependencyError | None:
        """The error for the first missing one of ``commands`` (a stage asks before it starts), else None."""
        for command in commands:
            if command in self.missing:
                return self.missing[command].missing()
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"found": self.found, "missing": sorted(self.missing)}


def preflight(programs: list[Program]) -> Preflight:
    report = Preflight()
    for program in programs:
        if program.path() is None:
            report.missing[program.command] = program
        else:
            report.found[program.command] = program.version()
    return report

