"""Headless Chromium through Playwright: find a browser, launch it with the flags this machine needs, close it.

One ``Browser`` per run (starting the driver and Chromium costs 0.4-0.7 s; a page in a running one 0.1-0.4 s);
callers open a fresh context per case with ``Browser.context()``.

Captures prefer Chromium's headless shell, the build Playwright itself runs for headless pages: the same Blink
renders the same pixels, without the full browser's UI layers, so ten tracking pages cost 2.4-2.7 CPU seconds
instead of 4.2-4.4 (bench/tracking.py). The full browser is the fallback.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError, ToolError
from . import Program

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Playwright

# Where distributions put Chromium/Chrome when Playwright's own download is absent (it cannot be
# downloaded on machines without internet; Debian's packages are the usual source).
SYSTEM_HEADLESS_SHELLS = ("chromium-headless-shell",)
SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Playwright's downloads: ms-playwright/chromium-N/chrome-linux64/chrome and, since 1.49 (Chrome for Testing),
# chromium_headless_shell-N/chrome-headless-shell-linux64/chrome-headless-shell (older: chrome-linux/headless_shell).
PLAYWRIGHT_SHELL_NAMES = ("chrome-headless-shell", "headless_shell")
INSTALL_HINT = ("install Chromium: sudo apt-get install chromium-headless-shell chromium "
                "(or: python -m playwright install chromium)")

# Without the networking flags Chromium phones home at start (update checks, sync, field trials): on a
# closed network that is a burst of refused connections, and on an open one traffic nobody asked for.
BASE_FLAGS = ("--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--no-first-run", "--disable-sync", "--disable-quic", "--disable-default-apps",
              "--disable-features=Translate,MediaRouter")


def launch_flags() -> list[str]:
    """Chromium's command-line flags; the sandbox cannot start as root, so it is off only then."""
    flags = list(BASE_FLAGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.insert(0, "--no-sandbox")
    return flags


class _Chromium(Program):
    """Chromium as preflight sees it, without starting Playwright: a system browser or headless shell (see
    ``find_chromium``), else one of Playwright's own downloads."""

    def path(self) -> str | None:
        found = find_chromium() or _playwright_download()
        return str(found) if found else None


def _playwright_download() -> Path | None:
    """A headless shell or Chromium in Playwright's browser folder, looked up by name as Playwright lays it out:
    $PLAYWRIGHT_BROWSERS_PATH (0: inside the playwright package), else ~/.cache/ms-playwright."""
    folder = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if folder == "0":
        spec = importlib.util.find_spec("playwright")  # where the package is, without importing it
        if spec is None or spec.origin is None:
            return None
        browsers = Path(spec.origin).parent / "driver" / "package" / ".local-browsers"
    elif folder:
        browsers = Path(folder)
    else:
        try:
            browsers = Path.home() / ".cache" / "ms-playwright"
        except RuntimeError:  # no HOME and no passwd entry: no download of Playwright's can be found either
            return None
    # Sorted by name: headless shells (chromium_headless_shell-N) after Chromium builds (chromium-N).
    return _newest(browsers, "chromium*-*", ("chrome", *PLAYWRIGHT_SHELL_NAMES))


def _newest(browsers: Path, folders: str, names: tuple[str, ...]) -> Path | None:
    """The last by name of the executables called one of ``names`` in ``browsers/<folders>/<platform dir>/``
    (Playwright's layout), so the newest revision."""
    found = [path for path in sorted(browsers.glob(f"{folders}/*/*")) if path.name in names]
    return found[-1] if found else None


CHROMIUM = _Chromium("chromium", "chromium", "the tracking stage (page screenshots)", ("--version",))


def find_chromium(playwright: "Playwright | None" = None, *, headless_shell: bool = True) -> Path | None:
    """The Chromium to run; ``EVIDENCE_KIT_CHROMIUM`` wins.

    With ``headless_shell`` (captures): a headless shell, Playwright's own then the system's, before a full
    browser. Without it (testing a page the way a buyer's browser shows it): only full browsers. Among each,
    Playwright's own download comes before the system's.
    """
    override = os.environ.get("EVIDENCE_KIT_CHROMIUM")
    if override:
        return Path(override) if Path(override).is_file() else None
    own_browser = None
    if playwright is not None:
        try:
            own_browser = Path(playwright.chromium.executable_path)
        except Exception:  # Playwright raises its own error type when it has no browser registered
            pass
    candidates: list[Path | None] = []
    if headless_shell:
        candidates += [_playwright_headless_shell(own_browser), *map(_on_path, SYSTEM_HEADLESS_SHELLS)]
    candidates += [own_browser, *map(_on_path, SYSTEM_BROWSERS)]
    return next((found for found in candidates if found and found.is_file()), None)


def _on_path(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None


def _playwright_headless_shell(own_browser: Path | None) -> Path | None:
    """Playwright keeps its headless shell beside its Chromium: ms-playwright/chromium_headless_shell-N/."""
    if own_browser is None or len(own_browser.parents) < 3:
        return None
    return _newest(own_browser.parents[2], "chromium_headless_shell-*", PLAYWRIGHT_SHELL_NAMES)


SCRATCH_PREFIX = "evidence-kit-chromium-"


def _scratch_folder() -> Path:
    """A TMPDIR of our own for Chromium, named after this process.

    Chromium drops org.chromium.Chromium.* folders in TMPDIR and leaves them when it is killed. Here they are
    removed on close, and a later run removes the folders of runs whose process is gone. It stays in the system
    temp folder, not the (deep) staging folder: Chromium's sockets need a short path (108 bytes at most).
    """
    base = Path(tempfile.gettempdir())
    for stale in base.glob(f"{SCRATCH_PREFIX}*-*"):
        pid = stale.name.removeprefix(SCRATCH_PREFIX).split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and Path("/proc/self").exists():
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=base))


def _cache_node_compilation() -> None:
    """Let Node keep the compiled Playwright driver between runs (Node's own compile cache, keyed by the code and
    Node's version): the driver then starts in 0.27-0.32 s instead of 0.43-0.48 s. A cache folder Node cannot
    write is skipped silently, and a NODE_COMPILE_CACHE the user set wins."""
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except RuntimeError:  # no HOME and no passwd entry (an arbitrary container user): run without the cache
        return
    os.environ.setdefault("NODE_COMPILE_CACHE", str(base / "evidence-kit" / "node-compile-cache"))


class Browser:
    """A running headless Chromium. Use as a context manager: it is closed even when the block fails.

    >>> with Browser() as browser:
    ...     with browser.context() as ctx:
    ...         ctx.new_page().goto("http://127.0.0.1:8000/")
    """

    def __init__(self, executable: str | Path | None = None) -> None:
        self.requested = Path(executable) if executable else None
        self._temp: Path | None = None
        self.executable: Path | None = None
        self.version = ""
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> "Browser":
        try:
            from playwright.sync_api import Error as PlaywrightError, sync_playwright
        except ImportError:
            raise MissingDependencyError("the Python package 'playwright' is not installed: "
                                         "pip install 'playwright>=1.64,<1.66'") from None
        _cache_node_compilation()
        self._playwright = sync_playwright().start()
        try:
            self.executable = self.requested or find_chromium(self._playwright)
            if self.executable is None or not self.executable.is_file():
                raise MissingDependencyError(f"no Chromium or Chrome found: {INSTALL_HINT}")
            self._temp = _scratch_folder()
            try:
                self._browser = self._playwright.chromium.launch(
                    executable_path=str(self.executable), headless=True, args=launch_flags(),
                    env={**os.environ, "TMPDIR": str(self._temp)})
            except PlaywrightError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ToolError(f"Chromium did not start ({self.executable}): {first}") from None
            self.version = self._browser.version
        except BaseException:
            self.close()
            raise
        return self

    def context(self, **options: Any) -> "BrowserContext":
        """A fresh context (no cookies, no cache): downloads refused, HTTPS errors not ignored."""
        defaults: dict[str, Any] = {"accept_downloads": False, "ignore_https_errors": False,
                                    "service_workers": "block"}
        return self._browser.new_context(**{**defaults, **options})

    def close(self) -> None:
        for release in (self._browser and self._browser.close, self._playwright and self._playwright.stop):
            if release:
                try:
                    release()
                except Exception:  # already gone (crashed, or the driver died): nothing left to release
                    pass
        self._browser = self._playwright = None
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
