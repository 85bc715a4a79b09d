"""The app and its server: Starlette (ASGI) with uvicorn, jinja2 templates, python-multipart for uploads.

Why this stack: Starlette is small, typed and well kept (the core under FastAPI), streams request bodies
and responses (uploads to disk, server-sent events) with no extra package, and its apps are plain ASGI
callables that uvicorn serves and tests can drive. FastAPI's schema layer would add little to a dozen
routes whose validation is the library's own.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
import threading
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from . import i18n

DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD = 4_096_000_000  # bytes per upload request (a 3 GB phone video fits): --max-upload-mb
LOOPBACK = "127.0.0.1"


@dataclass
class WebSettings:
    workspace: Path
    host: str = LOOPBACK
    port: int = DEFAULT_PORT  # 0: any free port
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    workers: int = 2  # builds at once (other cases queue)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    open_browser: bool = True
    phone_host: str | None = None  # serve --phone: the private-network address the phone page is served on

    def allowed_hosts(self, port: int) -> list[str]:
        """Host headers this server answers to: the bound address (and localhost for loopback), and the phone
        page's network address."""
        hosts = [f"[{self.host}]:{port}" if ":" in self.host else f"{self.host}:{port}"]
        if self.host == LOOPBACK:
            hosts.append(f"localhost:{port}")
        if self.phone_host:
            hosts.append(f"[{self.phone_host}]:{port}" if ":" in self.phone_host else f"{self.phone_host}:{port}")
        return hosts


class _Language:
    """Sets the interface language for the request: ``?lang=``, then the cookie, then Accept-Language."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            from starlette.requests import Request

            from .pages import LANGUAGE_COOKIE

            request = Request(scope)
            chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
            i18n.set_language(chosen if chosen in i18n.LANGUAGES else
                              i18n.negotiate(request.headers.get("accept-language")))
        await self.app(scope, receive, send)


def create_app(settings: WebSettings, *, port: int | None = None, on_ready: Callable[[], None] | None = None,
               jobs: Any = None, phone: Any = None) -> Any:
    """The ASGI app for ``settings`` (``port``: the one actually bound, when settings say 0; ``jobs``: the
    build pool, when the caller waits for it after the server stops; ``phone``: the phone links, tests give
    theirs a clock)."""
    import jinja2
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from .cases import Invalid, NotFound
    from .jobs import Jobs
    from .phone import PhoneGate, PhoneLinks
    from .routes import routes
    from .security import Guard

    settings.workspace.mkdir(parents=True, exist_ok=True)
    jobs = jobs or Jobs(settings.workers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if on_ready:
            on_ready()
        try:
            yield
        finally:
            jobs.stop_queued()

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"problems": [f"not found: {exc}"]}, status_code=404)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        from .routes import _invalid

        assert isinstance(exc, Invalid)
        return _invalid(exc)

    root = i18n.web_root()
    app = Starlette(routes=routes(root / "static"), lifespan=lifespan,
                    exception_handlers={NotFound: not_found, Invalid: invalid})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(root), autoescape=True,
                             extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined)
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(i18n.template_globals())  # dates, numbers and sizes in the buyer's language
    app.state.templates = env
    app.state.settings = settings
    app.state.jobs = jobs
    bound = port if port is not None else settings.port
    app.state.port = bound
    app.state.phone = phone or PhoneLinks(settings.workspace)
    gate = PhoneGate(app.state.phone, port=bound, lan_host=settings.phone_host, main_host=settings.host)
    return Guard(_Language(app), token=settings.token, hosts=settings.allowed_hosts(bound), port=bound, phone=gate)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket; the default port falls back to any free one when another program holds it."""
    try:
        return _listen(host, port)
    except OSError:
        if port != DEFAULT_PORT:
            raise
        return _listen(host, 0)


def serve(settings: WebSettings) -> None:
    """Bind, print the address with its token, open the browser (unless told not to) and serve until Ctrl-C."""
    import uvicorn

    if settings.host != LOOPBACK:
        print(f"warning: serving on {settings.host}, not only this computer: anyone who can reach it and has "
              "the token can read your case files.", file=sys.stderr, flush=True)
    sock = _bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    sockets = [sock]
    if settings.phone_host and settings.phone_host != settings.host:
        # The phone page only (PhoneGate refuses everything else there), on the same port.
        sockets.append(_listen(settings.phone_host, port))
    url = f"http://{settings.host if ':' not in settings.host else f'[{settings.host}]'}:{port}/?token={settings.token}"

    def ready() -> None:
        print(f"evidence-kit is running at {url}", flush=True)
        print(f"Cases are kept in {settings.workspace}. Press Ctrl-C to stop.", file=sys.stderr, flush=True)
        if settings.phone_host:
            print(f"Phones on your network can add files through {settings.phone_host}, with a link from a case "
                  "page only (button 'Add files from your phone').", file=sys.stderr, flush=True)
        if settings.open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    from .jobs import Jobs

    jobs = Jobs(settings.workers)
    app = create_app(settings, port=port, on_ready=ready, jobs=jobs)
    config = uvicorn.Config(app, log_level=os.environ.get("EVIDENCE_KIT_WEB_LOG", "warning"), access_log=False,
                            proxy_headers=False, server_header=False, lifespan="on", timeout_graceful_shutdown=3)
    try:
        uvicorn.Server(config).run(sockets=sockets)
    except KeyboardInterrupt:
        pass  # uvicorn hands back the Ctrl-C it stopped on: stopping is what was asked
    try:
        jobs.finish()
    except KeyboardInterrupt:
        # A second Ctrl-C: leave now. The pool's threads cannot be interrupted and would hold the exit;
        # a build cut short leaves only its hidden staging folder, which the next build removes.
        print("Stopped.", file=sys.stderr, flush=True)
        os._exit(130)
