"""The web app on a bad day, seen from outside (issue 23 point 9, issue 24): every fault gets a plain answer.

Requests go through raw sockets where a client library would clean the path up (``//host/``, ``%00``, CR/LF)
against a real ``evidence-kit serve`` on 127.0.0.1 (the WebServer helper of test_web_api).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import struct
import time
import zlib
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

from .test_web_api import FACTS, WebServer, every_file, jpeg_bytes, multipart, new_case


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"), "--max-upload-mb", "2")
    yield running
    running.client.close()
    running.stop()


class Answer:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = [tuple(part.strip() for part in line.decode("latin-1").split(":", 1)) for line in lines[1:]]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name), None)


def raw_request(server: WebServer, target: str, method: str = "GET", *, auth: str | None = "bearer",
                extra: str = "", body: bytes = b"") -> Answer:
    """One request written byte for byte (the target exactly as given), read until the server closes."""
    headers = f"{method} {target} HTTP/1.1\r\nHost: {server.host}\r\nConnection: close\r\n"
    if auth == "bearer":
        headers += f"Authorization: Bearer {server.token}\r\n"
    elif auth:
        headers += f"Cookie: {auth}\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall((headers + extra + "\r\n").encode("latin-1") + body)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    assert data, f"the server closed the connection without an answer to {target!r}"
    return Answer(data)


def still_answers(server: WebServer) -> None:
    assert server.client.get("/api/cases").status_code == 200


# --- 1. NUL -------------------------------------------------------------------------------------------------

def test_a_nul_byte_in_a_file_path_is_a_plain_404_or_400(server: WebServer) -> None:
    case_id = new_case(server)
    root = server.workspace / case_id
    (root / "photos" / "a.jpg").write_bytes(jpeg_bytes(1))
    (root / "evidence-package").mkdir()
    (root / "evidence-package" / "summary.pdf").write_bytes(b"%PDF-1.4\n")
    for target in (f"/api/cases/{case_id}/files/photos/a.jpg%00.png", f"/api/cases/{case_id}/files/%00",
                   f"/api/cases/{case_id}/thumb/photos/a%00.jpg", f"/api/cases/{case_id}/package/summary%00.pdf",
                   f"/api/cases/{case_id}%00/files", "/cases/x%00y", "/static/app%00.js", "/%00"):
        for method in ("GET", "DELETE") if "/files/" in target else ("GET",):
            answer = raw_request(server, target, method)
            assert answer.status in (400, 404), (method, target, answer.status, answer.body)
            assert json.loads(answer.body)["problems"], (target, answer.body)
    assert (root / "photos" / "a.jpg").is_file()
    still_answers(server)


# --- 2. non-ASCII case ids ----------------------------------------------------------------------------------

def follow(server: WebServer, answer: Answer) -> Answer:
    """The redirect the token link answers with, followed as a browser would (with the cookie it sets)."""
    assert answer.status == 303, answer.status
    location = answer.header("location")
    assert location is not None and location.isascii() and location.startswith("/"), location
    assert not location.startswith(("//", "/\\")) and "\r" not in location and "\n" not in location, location
    cookie = answer.header("set-cookie")
    assert cookie is not None
    return raw_request(server, location, auth=cookie.split(";")[0])


def test_a_non_ascii_case_id_in_the_address_is_a_404(server: WebServer) -> None:
    unknown = quote("кейс")
    for target in (f"/cases/{unknown}", f"/api/cases/{unknown}", f"/api/cases/{unknown}/files",
                   f"/cases/{unknown}/fragment/files", f"/api/cases/e%CC%81/verify"):
        assert raw_request(server, target).status == 404, target
    # The first visit carries the token: the address is given back percent-encoded, never as raw UTF-8.
    answer = raw_request(server, f"/cases/{unknown}?token={server.token}&lang=ru", auth=None)
    assert follow(server, answer).status == 404
    assert answer.header("location") == f"/cases/{unknown}?lang=ru"
    # A case folder named by hand in another script opens through the same link.
    made = server.workspace / "Чайник 2"
    shutil.copytree(server.workspace / new_case(server), made)
    page = follow(server, raw_request(server, f"/cases/{quote(made.name)}?token={server.token}", auth=None))
    assert page.status == 200 and "Чайник 2".encode() in page.body
    still_answers(server)


# --- 3. CR/LF -----------------------------------------------------------------------------------------------

def test_cr_lf_in_the_path_never_becomes_a_header(server: WebServer) -> None:
    case_id = new_case(server)
    injected = "%0D%0ASet-Cookie:%20evil=1%0D%0AX-Evil:%201"
    for target in (f"/cases/x{injected}", f"/api/cases/{case_id}/files/photos/a{injected}.jpg",
                   f"/api/cases/{case_id}/thumb/a{injected}", f"/static/a{injected}"):
        for auth, query in (("bearer", ""), (None, f"?token={server.token}")):
            answer = raw_request(server, target + query, auth=auth)
            if answer.status == 303:
                answer = follow(server, answer)
            assert answer.status in (400, 404), (target, query, answer.status)
            assert answer.header("x-evil") is None and b"evil=1" not in b"".join(
                value.encode("latin-1") for key, value in answer.headers), answer.headers
    still_answers(server)


# --- 4. open redirect ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["//host/", "/\\host", "///host", "//host/%2e%2e/", "/\\/host", "//127.0.0.1:1/"])
def test_no_address_redirects_to_another_site(server: WebServer, path: str) -> None:
    for auth, query in (("bearer", ""), (None, f"?token={server.token}")):
        answer = raw_request(server, path + query, auth=auth)
        assert answer.status in (303, 404), (path, query, answer.status)
        if answer.status == 303:
            follow(server, answer)  # asserts a same-origin path


# --- 5. decompression bombs ---------------------------------------------------------------------------------

def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height, all black: a few dozen kB that decode to width*height pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed bits
    packer = zlib.compressobj(9)
    compressed = b"".join(packer.compress(row * 1000) for _ in range(height // 1000))
    compressed += packer.compress(row * (height % 1000)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", compressed) + chunk(b"IEND", b""))


def test_a_decompression_bomb_gets_a_plain_no_preview(server: WebServer) -> None:
    case_id = new_case(server)
    (server.workspace / case_id / "photos" / "bomb.png").write_bytes(png_bomb(20000, 20000))
    answer = server.client.get(f"/api/cases/{case_id}/thumb/photos/bomb.png")
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    message = " ".join(answer.json()["problems"])
    assert "bomb.png" in message and str(server.workspace) not in message, message
    for pillow_words in ("DecompressionBomb", "decompression bomb", "exceeds limit", "pixels", "PIL"):
        assert pillow_words not in message, message
    assert server.client.get(f"/cases/{case_id}").status_code == 200  # the case page lists it
    still_answers(server)


# --- 6. a damaged package, a bad case -----------------------------------------------------------------------

DAMAGED_MANIFESTS = ("", "garbage{", "[]", "{}", "null", '{"profile": 5}', '{"profile": {}, "outputs": 5}',
                     '{"schema": "evidence-kit/manifest/2", "profile": {}, "outputs": [{"path": 1}]}')


def test_a_damaged_manifest_asks_for_a_rebuild(server: WebServer) -> None:
    for text in DAMAGED_MANIFESTS:
        case_id = new_case(server)
        package = server.workspace / case_id / "evidence-package"
        package.mkdir()
        (package / "manifest.json").write_text(text, encoding="utf-8")
        for target in (f"/cases/{case_id}", f"/cases/{case_id}/fragment/result"):
            page = server.client.get(target, headers={"accept-language": "en"})
            assert page.status_code == 200, (text, target, page.status_code)
            assert "press Build to make it again" in page.text, (text, target)
        verify = server.client.get(f"/api/cases/{case_id}/verify", headers={"accept-language": "en"})
        # The app's note when the manifest is not one at all (409); one of the right shape whose records are
        # wrong may instead get verify's own report of what is wrong.
        assert verify.status_code in (200, 409), (text, verify.status_code, verify.text)
        problems = [p if isinstance(p, str) else p["message"] for p in verify.json()["problems"]]
        if verify.status_code == 409 or not text.startswith('{"schema"'):
            assert verify.status_code == 409 and "press Build" in problems[0], (text, verify.text)
        else:
            assert verify.json()["ok"] is False and problems, verify.text
        assert not any(str(server.workspace) in p for p in problems), problems
    still_answers(server)


def test_one_bad_case_never_takes_down_the_listing(tmp_path: Path) -> None:
    running = WebServer(tmp_path / "workspace")
    try:
        good = new_case(running)
        workspace = running.workspace
        toml = (workspace / good / "case.toml").read_text(encoding="utf-8")
        bad = {
            "deep": "x = " + "[" * 5000 + "]" * 5000 + "\n" + toml,  # nested past Python's recursion limit
            "long-number": toml.replace('price = "20.00"', "price = 1" + "0" * 5000).replace(
                "price = 20.00", "price = 1" + "0" * 5000),  # past int's 4,300 digits
            "garbage": "\x01\x02 = = [",
            "profile": toml + "\n[profile]\nhidden_defect_days = 99999999999\n",
            "manifest": toml,
        }
        for name, text in bad.items():
            (workspace / name).mkdir()
            (workspace / name / "case.toml").write_text(text, encoding="utf-8")
        (workspace / "manifest" / "evidence-package").mkdir()
        (workspace / "manifest" / "evidence-package" / "manifest.json").write_text("{", encoding="utf-8")
        if os.geteuid() != 0:  # root reads any folder: this one only bites an ordinary user
            (workspace / "locked").mkdir()
            (workspace / "locked" / "case.toml").write_text(toml, encoding="utf-8")
            (workspace / "locked").chmod(0)
            bad["locked"] = toml
        try:
            listing = running.client.get("/api/cases")
            assert listing.status_code == 200, listing.text
            rows = {row["id"]: row for row in listing.json()["cases"]}
            assert set(rows) == {good, *bad}, rows.keys()
            assert not rows[good]["problems"] and rows[good]["title"] == FACTS["title"]
            for name in set(bad) - {"manifest"}:
                assert rows[name]["problems"], name
                assert all(str(workspace) not in p for p in rows[name]["problems"]), rows[name]["problems"]
            page = running.client.get("/", headers={"accept-language": "en"})
            assert page.status_code == 200 and FACTS["title"] in page.text
            for name in bad:
                if name != "locked":
                    case_page = running.client.get(f"/cases/{name}")
                    assert case_page.status_code == 200, (name, case_page.status_code)
            # The page's unsaved photo order over a case.toml that cannot be read: no plan, its problem.
            plan = running.client.post("/api/cases/deep/plan", json={"photos": []})
            assert plan.status_code == 200 and plan.json()["plan"] is None and plan.json()["problems"], plan.text
        finally:
            if (workspace / "locked").exists():
                (workspace / "locked").chmod(0o755)
    finally:
        running.client.close()
        running.stop()


# --- 7. a client gone mid-upload ----------------------------------------------------------------------------

def test_a_client_that_disconnects_mid_upload_leaves_nothing_and_no_traceback(tmp_path: Path) -> None:
    running = WebServer(tmp_path / "workspace")
    try:
        case_id = new_case(running)
        root = running.workspace / case_id
        body, content_type = multipart([("unboxing.mp4", os.urandom(8_000_000))])
        with socket.create_connection(("127.0.0.1", running.port), timeout=30) as connection:
            connection.sendall((f"POST /api/cases/{case_id}/files HTTP/1.1\r\nHost: {running.host}\r\n"
                                f"Authorization: Bearer {running.token}\r\nContent-Type: {content_type}\r\n"
                                f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:3_000_000])
            # the server has started writing the file when its hidden temporary appears
            for _ in range(600):
                if any(".ek-tmp-" in p for p in every_file(root)):
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"the upload never started: {every_file(root)}")
        for _ in range(600):  # the server notices the closed connection on its next read
            if every_file(root) == {"case.toml"}:
                break
            time.sleep(0.05)
        assert every_file(root) == {"case.toml"}, "the partial upload was left behind"
        still_answers(running)
        small, _ = multipart([("a.jpg", jpeg_bytes(1))])
        assert running.client.post(f"/api/cases/{case_id}/files", content=small,
                                   headers={"content-type": content_type}).status_code == 201
    finally:
        running.client.close()
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGINT)
            running.process.wait(20)
        log = running.process.stderr.read()
        running.stop()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log


# --- 8. a declared body over the limit ----------------------------------------------------------------------

def test_a_declared_5_gb_upload_is_refused_before_its_body(server: WebServer) -> None:
    case_id = new_case(server)
    _, content_type = multipart([])
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.settimeout(20)  # a server that waits for the body never answers: the read times out
        connection.sendall((f"POST /api/cases/{case_id}/files HTTP/1.1\r\nHost: {server.host}\r\n"
                            f"Authorization: Bearer {server.token}\r\nContent-Type: {content_type}\r\n"
                            f"Content-Length: 5000000000\r\n\r\n").encode())
        data = b""
        try:
            while b"\r\n\r\n" not in data and (chunk := connection.recv(65536)):
                data += chunk
        except TimeoutError:
            raise AssertionError("no answer before the body: the server waits to read 5 GB") from None
    answer = Answer(data)
    assert answer.status == 413 and answer.header("connection") == "close", answer.headers
    assert every_file(server.workspace / case_id) == {"case.toml"}
    still_answers(server)


# --- 9. the icon --------------------------------------------------------------------------------------------

def test_the_browser_gets_an_icon(server: WebServer) -> None:
    from PIL import Image

    icon = server.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    with Image.open(io.BytesIO(icon.content)) as image:
        assert image.format == "ICO" and image.size[0] >= 16
    page = server.client.get("/")
    assert '<link rel="icon" href="/favicon.ico"' in page.text
    # Also on the page that asks for the token (the icon is the only thing served without it).
    import httpx

    assert httpx.get(server.base + "/favicon.ico").content == icon.content
    assert httpx.get(server.base + "/static/favicon.ico").status_code == 403
