"""The checks every request passes: the access token, the Host header and, for writes, the Origin.

It serves the buyer's private files, so: a random token as Jupyter does (from the first URL into an
HttpOnly cookie, or ``Authorization: Bearer``), 403 without it; a Host header that is not the bound address
is refused (a DNS-rebinding page would send its own name); a write from another origin is refused (a page
elsewhere cannot post into the app); no CORS headers are ever sent.
"""
from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import parse_qsl, quote, urlencode

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD"})
PUBLIC_ICON = "/favicon.ico"  # the one address served without the token
# Sent with every response: no framing, no sniffing, no referrer (the URL may carry the token once).
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
PAGE_POLICY = (b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none'; "
               b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def cookie_name(port: int) -> str:
    """Cookies ignore ports: two servers on one machine keep separate cookies by name."""
    return f"evidence_kit_token_{port}"


class Guard:
    """ASGI middleware in front of the whole app (pages, API, static files)."""

    def __init__(self, app: ASGIApp, *, token: str, hosts: Iterable[str], port: int, phone: Any = None) -> None:
        self.app = app
        self.phone = phone  # phone.PhoneGate: the phone link's own rules, asked first (None: no phone uploads)
        self.token = token.encode()
        self.hosts = {h.lower() for h in hosts}
        self.origins = {f"http://{h}" for h in self.hosts}
        self.cookie = cookie_name(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            await _refuse(receive, send, "this address is not served here (unexpected Host header)")
            return
        if "\x00" in scope["path"]:  # %00: no file or page has one, and the file system would refuse it
            await _refuse(receive, send, "this address is not valid: it holds a NUL character", status=400)
            return
        verdict = self.phone.admit(scope, headers) if self.phone is not None else None
        if verdict is not None and verdict[0] == "refuse":
            await _refuse(receive, send, verdict[2], status=verdict[1])
            return
        if scope["path"] == PUBLIC_ICON and scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)  # the app's icon is no secret; a 403 would be a console error
            return
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            fetch_site = headers.get("sec-fetch-site")
            if (origin is not None and origin.lower() not in self.origins) or (
                    fetch_site is not None and fetch_site not in ("same-origin", "none")):
                await _refuse(receive, send, "a write from another web site was refused")
                return
        if verdict is not None and verdict[0] == "redirect":
            await _redirect(send, verdict[1], verdict[2])
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if verdict is not None:  # a live phone token on its own pages: the main token is not asked for
            scope = {**scope, "state": {**scope.get("state", {}), "phone_link": verdict[1]}}
        elif "token" in query and self._valid(query["token"]) and scope["method"] in SAFE_METHODS:
            # The token leaves the address bar at once: it goes into the cookie and the page reloads without it.
            rest = urlencode({k: v for k, v in query.items() if k != "token"})
            await _redirect(send, same_origin_path(scope["path"]) + (f"?{rest}" if rest else ""),
                            f"{self.cookie}={query['token']}; HttpOnly; SameSite=Strict; Path=/")
            return
        elif not (self._valid(_bearer(headers.get("authorization", ""))) or
                self._valid(_cookie(headers.get("cookie", ""), self.cookie))):
            await _refuse(receive, send,
                          "open the address that 'evidence-kit serve' printed: it carries the access token")
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                present = {k.lower() for k, _ in message.get("headers", [])}
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", PAGE_POLICY))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _valid(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token)


def _bearer(value: str) -> str | None:
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def same_origin_path(path: str) -> str:
    """``path`` as a Location header that stays on this server: percent-encoded, so raw UTF-8, CR or LF
    never reach the header, and with one leading slash (to a browser ``//host/`` and ``/\\host`` name
    another site)."""
    return "/" + quote(path.lstrip("/\\"), safe="/", errors="surrogateescape")


DRAIN_LIMIT = 64_000_000  # a refused body is read up to this much, so the client sees the 403, not a reset


async def _refuse(receive: Receive, send: Send, why: str, status: int = 403) -> None:
    seen = 0
    while seen <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            break
        seen += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"problems": [why]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str, cookie: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode("latin-1")),
                            (b"content-length", b"0"), (b"cache-control", b"no-store"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": b""})
