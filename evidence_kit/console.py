"""The terminal's progress display (rich): one bar per stage with the file being worked on, on stderr.

Used only when stderr is a terminal; the CLI passes ``None`` otherwise, so logs and pipes stay clean.
"""
from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from .progress import ProgressEvent


class TerminalProgress:
    """A ``Progress`` callable and a context manager: the bars disappear when the block ends."""

    def __init__(self) -> None:
        self._bars = Progress(TextColumn("{task.fields[stage]:<9}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                              TimeRemainingColumn(), TextColumn("{task.fields[message]}"),
                              console=Console(stderr=True), transient=True)
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, event: ProgressEvent) -> None:
        task = self._tasks.get(event.stage)
        if task is None:
            task = self._tasks[event.stage] = self._bars.add_task("", stage=event.stage, message="", total=1.0)
        self._bars.update(task, completed=event.fraction, message=event.message)

    def __enter__(self) -> "TerminalProgress":
        self._bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._bars.stop()
