"""pdftoppm (poppler): draws a PDF page as a PNG, as a PDF reader shows it."""
from __future__ import annotations

from pathlib import Path

from ..errors import ToolError
from . import Program, last_line, run

PDFTOPPM = Program("pdftoppm", "poppler-utils", "receipt previews in the summary PDF", ("-v",))


def first_page_png(pdf: Path, png: Path, *, dpi: int, timeout: float) -> None:
    """Draw the first page of ``pdf`` into ``png``; raises ToolError with poppler's reason when it cannot."""
    done = run(PDFTOPPM, ["-f", "1", "-l", "1", "-r", str(dpi), "-png", "-singlefile", str(pdf),
                          str(png.with_suffix(""))], timeout=timeout, text=True)
    if done.returncode != 0 or not png.is_file():
        raise ToolError(last_line(done.stderr) if done.stderr.strip() else "unreadable PDF")
