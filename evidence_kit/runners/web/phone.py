"""Evidence straight from the phone: a link of its own for one case, for uploading only, for a short time.

The case page asks for a link (``POST /api/cases/{case}/phone``, main token); the link carries a phone token
that is worth nothing but ``/phone/...``: the phone page of that one case, adding files to it (the desktop
upload's own name rules, kinds and size limit: ``uploads.Upload``) and listing what this token added. It
expires (30 minutes by default), is revoked when the panel closes (``DELETE``), and is rate limited. The main
token never leaves the computer. With ``serve --phone`` the server also listens on a private-network address
of this computer; there only ``/phone/...`` is served (``PhoneGate``), so even a main token is refused.

Large videos come in resumable pieces (a small tus-like protocol): ``POST /phone/api/uploads`` with the
name, size, SHA-256 and kind; ``PATCH /phone/api/uploads/{id}`` with ``Upload-Offset`` and the next bytes;
``HEAD`` (or ``GET``) tells the offset the server holds. The pieces wait in the app's hidden folder and the
file joins the case only when complete and its hash matches.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ...fsutil import TEMP_PREFIX, sha256_file
from ...model.case import SUBFOLDERS
from . import cases, i18n
from .cases import APP_DIR
from .pages import render_page
from .uploads import EMPTY, FIELD, Upload, _Part

PREFIX = "/phone"
LIFETIME = 30 * 60  # seconds a phone link lives, unless closed sooner
RATE_WINDOW = 60.0  # seconds
RATE_LIMIT = 240  # requests per phone token per window: a page, its files and 8 MB pieces of a 2 GB video fit
MAX_PARTIALS = 16  # unfinished uploads one link may hold at once
WRITE_BLOCK = 1 << 20  # bytes gathered before one write to disk (in a worker thread)

EXPIRED = i18n.N_("This phone link has expired or was closed on the computer: scan the code on the case page "
                  "again.")
TOO_MANY = i18n.N_("Too many requests from this phone: wait a minute and try again.")
ONLY_PHONE = i18n.N_("Only the phone upload page is served on this address.")
NOT_USABLE = i18n.N_("not a photo, video, tracking page or receipt that the build can use")
DAMAGED = i18n.N_("the file arrived damaged (its check did not match what the phone sent): send it again")
NOT_ENABLED = i18n.N_("Phone uploads are off: start the app again with 'evidence-kit serve --phone'.")


def private_address(address: str) -> bool:
    """An address a phone on the same network may use, and nobody beyond it: a private-network (or, for tests,
    loopback) address, never a public, unspecified, link-local or multicast one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    return ip.is_private and not (ip.is_unspecified or ip.is_link_local or ip.is_multicast or ip.is_reserved)


def lan_address() -> str | None:
    """This computer's address on its local network (the one its default route leaves from), if private.

    A UDP socket's connect() only picks the route: no packet is sent. The target is a documentation
    address (TEST-NET-1), which no network answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return address if private_address(address) and not ipaddress.ip_address(address).is_loopback else None


@dataclass
class Partial:
    """An upload in pieces: its bytes so far wait in the app's hidden folder, never among the evidence."""

    id: str
    name: str
    kind: str
    size: int
    sha256: str
    path: Path
    offset: int = 0
    busy: bool = False


@dataclass
class PhoneLink:
    token: str
    case: str
    expires: float
    added: list[dict[str, Any]] = field(default_factory=list)
    hits: deque[float] = field(default_factory=deque)
    partials: dict[str, Partial] = field(default_factory=dict)


class PhoneLinks:
    """The phone tokens alive now, at most one per case. ``clock`` and ``lifetime`` are injectable (tests)."""

    def __init__(self, workspace: Path, *, lifetime: float = LIFETIME, rate: int = RATE_LIMIT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = workspace / APP_DIR / "phone"
        self.lifetime, self.rate, self.clock = lifetime, rate, clock
        self._links: dict[str, PhoneLink] = {}
        self._lock = threading.Lock()
        # Links live in memory only: pieces of a server that stopped belong to no link and would stay forever.
        for stale in self.folder.glob(f"{TEMP_PREFIX}phone-*.part") if self.folder.is_dir() else ():
            stale.unlink(missing_ok=True)

    def create(self, case: str) -> PhoneLink:
        """A new link for ``case``; the case's previous link stops working."""
        self.revoke(case)
        link = PhoneLink(secrets.token_urlsafe(32), case, self.clock() + self.lifetime)
        with self._lock:
            self._links[link.token] = link
        return link

    def revoke(self, case: str) -> bool:
        with self._lock:
            gone = [link for link in self._links.values() if link.case == case]
            for link in gone:
                del self._links[link.token]
        for link in gone:
            self._drop_partials(link)
        return bool(gone)

    def find(self, token: str | None) -> PhoneLink | None:
        """The live link of ``token`` (compared in constant time), or None; an expired one is dropped."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            expired = [link for link in self._links.values() if link.expires <= now]
            for link in expired:
                del self._links[link.token]
            found = next((link for t, link in self._links.items() if secrets.compare_digest(t, token)), None)
        for link in expired:
            self._drop_partials(link)
        return found

    def for_case(self, case: str) -> PhoneLink | None:
        with self._lock:
            token = next((t for t, link in self._links.items() if link.case == case), None)
        return self.find(token)

    def allow(self, link: PhoneLink) -> bool:
        """Counts one request of ``link``; False once it made ``rate`` requests in the last window."""
        now = self.clock()
        with self._lock:
            while link.hits and link.hits[0] <= now - RATE_WINDOW:
                link.hits.popleft()
            if len(link.hits) >= self.rate:
                return False
            link.hits.append(now)
            return True

    def seconds_left(self, link: PhoneLink) -> int:
        return max(0, int(link.expires - self.clock()))

    def _drop_partials(self, link: PhoneLink) -> None:
        for partial in link.partials.values():
            partial.path.unlink(missing_ok=True)
        link.partials.clear()


def cookie_name(port: int) -> str:
    return f"evidence_kit_phone_{port}"


class PhoneGate:
    """The Guard's phone rules (``security.Guard`` asks it first): on the network address only ``/phone/...``
    is served; there a live phone token is needed (from ``?key=`` into a cookie for ``/phone``, or ``Bearer``),
    counted against its rate limit. Any other path is left to the main token, which a phone token is not."""

    def __init__(self, links: PhoneLinks, *, port: int, lan_host: str | None, main_host: str) -> None:
        self.links = links
        self.cookie = cookie_name(port)
        self.lan_host = lan_host if lan_host != main_host else None

    def admit(self, scope: dict[str, Any], headers: dict[str, str]) -> tuple[Any, ...] | None:
        """None: not a phone matter. Else ("refuse", status, why), ("redirect", location, cookie) or
        ("admit", link)."""
        path = scope["path"]
        i18n.set_language(i18n.negotiate(headers.get("accept-language")))  # the phone's language, for refusals
        on_lan = self.lan_host is not None and (scope.get("server") or ("",))[0] == self.lan_host
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return ("refuse", 403, i18n.gettext(ONLY_PHONE)) if on_lan else None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if "key" in query and scope["method"] in ("GET", "HEAD"):
            link = self.links.find(query["key"])
            if link is None:
                return "refuse", 401, i18n.gettext(EXPIRED)
            rest = urlencode({k: v for k, v in query.items() if k != "key"})
            # The key leaves the address bar at once, into a cookie only /phone/... ever gets.
            return ("redirect", PREFIX + (f"?{rest}" if rest else ""),
                    f"{self.cookie}={link.token}; HttpOnly; SameSite=Strict; Path={PREFIX}; "
                    f"Max-Age={self.links.seconds_left(link)}")
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        token = credentials.strip() if scheme.lower() == "bearer" else None
        if token is None:
            for part in headers.get("cookie", "").split(";"):
                key, _, value = part.strip().partition("=")
                if key == self.cookie:
                    token = value
        link = self.links.find(token)
        if link is None:
            return "refuse", 401, i18n.gettext(EXPIRED)
        if not self.links.allow(link):
            return "refuse", 429, i18n.gettext(TOO_MANY)
        return "admit", link


# --- the desktop's side (main token): open, watch and close the phone link of a case -----------------------

def _links(request: Request) -> PhoneLinks:
    return request.app.state.phone


def _link_view(request: Request, link: PhoneLink | None) -> dict[str, Any]:
    import segno

    if link is None:
        return {"active": False, "added": []}
    settings = request.app.state.settings
    host = settings.phone_host
    url = f"http://{f'[{host}]' if ':' in host else host}:{request.app.state.port}{PREFIX}?key={link.token}"
    return {"active": True, "url": url, "qr": segno.make(url, error="m").svg_data_uri(scale=5, border=2),
            "seconds_left": _links(request).seconds_left(link), "added": link.added}


async def open_link(request: Request) -> Response:
    root = cases.case_root(request.app.state.settings.workspace, request.path_params["case"])
    if not request.app.state.settings.phone_host:
        return JSONResponse({"problems": [i18n.gettext(NOT_ENABLED)]}, status_code=409)
    link = _links(request).create(root.name)
    return JSONResponse(_link_view(request, link), status_code=201, headers={"cache-control": "no-store"})


async def link_status(request: Request) -> Response:
    root = cases.case_root(request.app.state.settings.workspace, request.path_params["case"])
    view = _link_view(request, _links(request).for_case(root.name))
    return JSONResponse({**view, "enabled": bool(request.app.state.settings.phone_host)},
                        headers={"cache-control": "no-store"})


async def close_link(request: Request) -> Response:
    root = cases.case_root(request.app.state.settings.workspace, request.path_params["case"])
    _links(request).revoke(root.name)
    return Response(status_code=204)


# --- the phone's side (phone token): its page, its uploads, what it added ----------------------------------

def _link(request: Request) -> PhoneLink:
    return request.scope["state"]["phone_link"]


def _problem(status: int, *messages: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"problems": list(messages), **extra}, status_code=status,
                        headers={"cache-control": "no-store"})


async def phone_page(request: Request) -> Response:
    return render_page(request, "phone.html", case_id=None, seconds_left=_links(request).seconds_left(_link(request)))


def _static(name: str, media_type: str) -> Callable[[Request], Any]:
    async def serve(request: Request) -> Response:
        return FileResponse(i18n.web_root() / "static" / name, media_type=media_type,
                            headers={"cache-control": "no-store"})
    return serve


async def added_files(request: Request) -> Response:
    return JSONResponse({"files": _link(request).added}, headers={"cache-control": "no-store"})


async def start_upload(request: Request) -> Response:
    """A resumable upload: ``{"name", "size", "sha256", "kind"}``; the same file asked again (after a reload)
    gets its unfinished upload back, with the offset to go on from."""
    link = _link(request)
    try:
        asked = json.loads(await request.body())
        name, size, digest = str(asked["name"]), int(asked["size"]), str(asked["sha256"]).lower()
        kind = str(asked.get("kind", "auto"))
    except (ValueError, KeyError, TypeError):
        return _problem(422, "send name, size, sha256 and kind as JSON")
    limit = request.app.state.settings.max_upload_bytes
    if kind not in cases.KINDS:
        return _problem(422, f"kind: unknown value {kind!r} (valid: {', '.join(cases.KINDS)})")
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        return _problem(422, "sha256: 64 hexadecimal digits")
    if size <= 0:
        return _problem(422, f"{name}: {i18n.gettext(EMPTY)}")
    if size > limit:
        return _problem(413, i18n.gettext("the upload is larger than this app's limit of %(mb)s MB")
                        % {"mb": f"{limit / 1e6:g}"}, limit=limit)
    chosen = cases.kind_for(cases.safe_name(name), kind)
    if chosen is None:
        return _problem(422, f"{name}: {i18n.gettext(NOT_USABLE)}")
    for partial in link.partials.values():
        if (partial.name, partial.size, partial.sha256, partial.kind) == (name, size, digest, chosen):
            return JSONResponse({"id": partial.id, "offset": partial.offset}, status_code=200)
    if len(link.partials) >= MAX_PARTIALS:
        return _problem(429, i18n.gettext(TOO_MANY))
    folder = _links(request).folder
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}phone-", suffix=".part", dir=folder)
    os.close(fd)
    partial = Partial(secrets.token_urlsafe(12), name, chosen, size, digest, Path(temp))
    link.partials[partial.id] = partial
    return JSONResponse({"id": partial.id, "offset": 0}, status_code=201,
                        headers={"location": f"{PREFIX}/api/uploads/{partial.id}"})


def _partial(request: Request) -> Partial | None:
    return _link(request).partials.get(request.path_params["upload"])


async def upload_offset(request: Request) -> Response:
    partial = _partial(request)
    if partial is None:
        return _problem(404, "no such upload: start it again")
    headers = {"upload-offset": str(partial.offset), "upload-length": str(partial.size), "cache-control": "no-store"}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers)
    return JSONResponse({"offset": partial.offset, "size": partial.size}, headers=headers)


async def upload_piece(request: Request) -> Response:
    """The next bytes at ``Upload-Offset``. Bytes that arrived before a lost connection stay: the phone asks
    the offset and goes on from there."""
    link = _link(request)
    partial = _partial(request)
    if partial is None:
        return _problem(404, "no such upload: start it again")
    offset = request.headers.get("upload-offset", "")
    if not offset.isdigit() or int(offset) != partial.offset or partial.busy:
        return _problem(409, "go on from the offset the server holds", offset=partial.offset)
    partial.busy = True
    try:
        with open(partial.path, "r+b") as handle:
            handle.truncate(partial.offset)  # nothing past what was counted (a write cut by a failure)
            handle.seek(partial.offset)
            pending = bytearray()
            try:
                async for chunk in request.stream():
                    if partial.offset + len(pending) + len(chunk) > partial.size:
                        return _problem(413, "more bytes than the size announced", offset=partial.offset)
                    pending += chunk
                    if len(pending) >= WRITE_BLOCK:
                        await run_in_threadpool(handle.write, bytes(pending))
                        partial.offset += len(pending)
                        pending.clear()
            except ClientDisconnect:
                pass  # what arrived is kept below: the phone resumes from the offset
            if pending:
                await run_in_threadpool(handle.write, bytes(pending))
                partial.offset += len(pending)
    finally:
        partial.busy = False
    if link.partials.get(partial.id) is not partial:  # the link was closed while these bytes came: all gone
        partial.path.unlink(missing_ok=True)
        return _problem(401, i18n.gettext(EXPIRED))
    if partial.offset < partial.size:
        return Response(status_code=204, headers={"upload-offset": str(partial.offset)})
    del link.partials[partial.id]
    return await _finish(request, link, partial)


async def _finish(request: Request, link: PhoneLink, partial: Partial) -> Response:
    """The complete file: its hash checked, then put into the case by the desktop upload's own rules."""
    if await run_in_threadpool(sha256_file, partial.path) != partial.sha256:
        partial.path.unlink(missing_ok=True)
        return _problem(422, f"{partial.name}: {i18n.gettext(DAMAGED)}")
    root = cases.case_root(request.app.state.settings.workspace, link.case)
    upload = Upload(root, partial.kind, request.app.state.settings.max_upload_bytes)
    try:
        folder = root / SUBFOLDERS[partial.kind]
        folder.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}upload-", dir=folder)  # hidden: the build skips it
        os.close(fd)
        temp = Path(name)
        await run_in_threadpool(shutil.move, partial.path, temp)
        os.chmod(temp, 0o644)
        upload._done.append(_Part(name=FIELD, filename=partial.name, kind=partial.kind, temp=temp,
                                  digest=SimpleNamespace(hexdigest=lambda: partial.sha256), size=partial.size))
        await run_in_threadpool(upload.commit)
    except BaseException:
        upload.discard()
        partial.path.unlink(missing_ok=True)
        raise
    if upload.rejected:
        return _problem(422, *(f"{r['name']}: {r['message']}" for r in upload.rejected))
    for record in upload.stored:
        if not any(a["path"] == record["path"] for a in link.added):
            link.added.append({k: record[k] for k in ("name", "path", "kind", "bytes")})
    return JSONResponse({"stored": upload.stored}, status_code=201)


def phone_routes() -> list[Any]:
    """The routes of this module: the case page's (main token) and the phone's (phone token, ``/phone``)."""
    return [
        Route("/api/cases/{case}/phone", open_link, methods=["POST"]),
        Route("/api/cases/{case}/phone", link_status, methods=["GET"]),
        Route("/api/cases/{case}/phone", close_link, methods=["DELETE"]),
        Route(PREFIX, phone_page, methods=["GET"]),
        Route(f"{PREFIX}/phone.js", _static("phone.js", "text/javascript"), methods=["GET"]),
        Route(f"{PREFIX}/app.css", _static("app.css", "text/css"), methods=["GET"]),
        Route(f"{PREFIX}/phone.css", _static("phone.css", "text/css"), methods=["GET"]),
        Route(f"{PREFIX}/api/files", added_files, methods=["GET"]),
        Route(f"{PREFIX}/api/uploads", start_upload, methods=["POST"]),
        Route(f"{PREFIX}/api/uploads/{{upload}}", upload_offset, methods=["GET", "HEAD"]),
        Route(f"{PREFIX}/api/uploads/{{upload}}", upload_piece, methods=["PATCH"]),
    ]
