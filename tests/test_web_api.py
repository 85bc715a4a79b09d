"""The web app's HTTP interface against a real server: ``evidence-kit serve`` on a free 127.0.0.1 port.

Security first (token, Host, Origin, hostile upload names, the size limit), then every endpoint. The
builds use a small generated case; the example case is built by the browser test and bench/serve.py.
"""
from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import textwrap
import threading
import tomllib
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from evidence_kit import api
from evidence_kit.errors import CaseError
from evidence_kit.fsutil import case_lock

from .conftest import CASE_TOML, installed_cli, noisy_photo

FACTS: dict[str, Any] = {
    "title": "Broken lamp",
    "order": {"number": "8100000000000002", "store": "Lamp Store", "item": "Desk lamp", "price": "20.00",
              "currency": "USD", "ordered": "2026-10-01", "shipped": "2026-10-03", "delivered": "2026-10-30",
              "protection_ends": "2026-12-01"},
    "dispute": {"reason": "damaged", "resolution": "refund_only", "amount": "20.00", "notes": "Arrived broken."},
    "tracking": [{"number": "LP00412345678901", "carrier": "cainiao"}],
}


class WebServer:
    """``evidence-kit serve`` in a subprocess; the URL (with the token) is read from what it prints."""

    def __init__(self, workspace: Path, *extra: str) -> None:
        self.workspace = workspace
        self.process = subprocess.Popen(
            [str(installed_cli()), "serve", "--workspace", str(workspace), "--port", "0", "--no-browser", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self._first_line(timeout=60)
        match = re.search(r"(http://127\.0\.0\.1:(\d+))/\?token=(\S+)", line)
        assert match, f"no URL in {line!r}"
        self.base, self.port, self.token = match.group(1), int(match.group(2)), match.group(3)
        self.host = f"127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.base, headers={"authorization": f"Bearer {self.token}"},
                                   timeout=60)

    def _first_line(self, timeout: float) -> str:
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not found or not found[0]:
            self.stop()
            raise AssertionError(f"the server did not start: {self.process.stderr.read()}")
        return found[0]

    def memory_peak_kb(self) -> int:
        """The server process's peak resident memory (VmHWM), from /proc."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))

    def reset_memory_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def events(self, job: str) -> list[tuple[str, dict[str, Any]]]:
        """The job's server-sent events until ``done``."""
        events, name = [], None
        with self.client.stream("GET", f"/api/jobs/{job}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
        return events

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"), "--max-upload-mb", "2", "--jobs", "2")
    yield running
    running.client.close()
    running.stop()


def new_case(server: WebServer, facts: dict[str, Any] = FACTS) -> str:
    response = server.client.post("/api/cases", json=facts)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def jpeg_bytes(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    noisy_photo(*size, seed=seed).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def multipart(files: list[tuple[str, bytes]], boundary: str = "ekboundary1234") -> tuple[bytes, str]:
    """A multipart body written byte for byte, so hostile file names reach the server exactly as given."""
    body = b""
    for name, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"".encode()
                 + name.encode("utf-8", "surrogateescape") + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 + data + b"\r\n")
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def every_file(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# --- security -----------------------------------------------------------------------------------------------

def test_every_request_needs_the_token(server: WebServer) -> None:
    for path in ("/", "/api/cases", "/static/app.js", "/api/jobs/nothing/events"):
        assert httpx.get(server.base + path).status_code == 403, path
    wrong = httpx.get(server.base + "/api/cases", headers={"authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403 and wrong.json()["problems"]
    bad_cookie = {f"evidence_kit_token_{server.port}": "nope"}
    assert httpx.get(server.base + "/api/cases", cookies=bad_cookie).status_code == 403
    case_id = new_case(server)
    body, content_type = multipart([("big.jpg", os.urandom(3_000_000))])
    refused = httpx.post(f"{server.base}/api/cases/{case_id}/files", content=body,
                         headers={"content-type": content_type})
    assert refused.status_code == 403 and every_file(server.workspace / case_id) == {"case.toml"}
    # The first URL trades the token for a cookie and drops it from the address bar.
    first = httpx.get(f"{server.base}/?token={server.token}&lang=ru")
    assert first.status_code == 303 and first.headers["location"] == "/?lang=ru"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with httpx.Client(base_url=server.base, cookies=first.cookies) as browser_like:
        page = browser_like.get("/")
        assert page.status_code == 200 and "evidence-kit" in page.text
    assert server.client.get("/api/cases").status_code == 200


def test_a_foreign_host_header_is_refused(server: WebServer) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: the Host header gives it away."""
    for host in ("evil.example", f"evil.example:{server.port}", f"127.0.0.1:{server.port + 1}", ""):
        response = server.client.get("/api/cases", headers={"host": host})
        assert response.status_code == 403, host
    assert server.client.get("/api/cases", headers={"host": f"localhost:{server.port}"}).status_code == 200


def test_writes_from_another_origin_are_refused_and_no_cors(server: WebServer) -> None:
    before = every_file(server.workspace)
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"},
                    {"origin": f"http://127.0.0.1:{server.port + 1}"}, {"sec-fetch-site": "cross-site"}):
        response = server.client.post("/api/cases", json=FACTS, headers=headers)
        assert response.status_code == 403, headers
        assert "access-control-allow-origin" not in response.headers
    assert every_file(server.workspace) == before
    own = server.client.post("/api/cases", json=FACTS, headers={"origin": server.base, "sec-fetch-site": "same-origin"})
    assert own.status_code == 201
    preflight = server.client.options("/api/cases", headers={"origin": "http://evil.example",
                                                              "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    page = server.client.get("/")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


# --- facts --------------------------------------------------------------------------------------------------

def test_create_read_and_replace_a_case(server: WebServer) -> None:
    case_id = new_case(server)
    root = server.workspace / case_id
    assert re.fullmatch(r"broken-lamp(-\d+)?", case_id)  # named after the title, unique in the workspace
    loaded = api.load_case(root)  # an ordinary case folder: the CLI reads what the app wrote
    assert loaded.order.number == "8100000000000002" and loaded.order.price == Decimal("20")
    assert loaded.tracking[0].carrier == "cainiao" and (root / "photos").is_dir()
    got = server.client.get(f"/api/cases/{case_id}").json()
    assert got["problems"] == [] and got["facts"]["order"]["ordered"] == "2026-10-01"
    assert got["facts"]["dispute"]["amount"] == "20.00"
    changed = json.loads(json.dumps(FACTS))
    changed["dispute"]["amount"] = "12,50"  # typed with a decimal comma
    changed["order"]["delivered"] = ""  # an emptied field is left out of case.toml
    assert server.client.put(f"/api/cases/{case_id}", json=changed).status_code == 200
    again = api.load_case(root)
    assert again.dispute.amount == Decimal("12.5") and again.order.delivered is None
    listed = server.client.get("/api/cases").json()["cases"]
    row = next(c for c in listed if c["id"] == case_id)
    assert row["title"] == "Broken lamp" and row["deadline"]["status"] and row["built"] is None
    assert server.client.post("/api/cases", json=FACTS).json()["id"] not in {c["id"] for c in listed}


def test_a_case_folder_made_by_hand_shows_up(server: WebServer) -> None:
    root = server.workspace / "Чайник 2"
    (root / "photos").mkdir(parents=True)
    (root / "case.toml").write_text(textwrap.dedent(CASE_TOML), encoding="utf-8")
    (root / "photos" / "a.jpg").write_bytes(jpeg_bytes(7))
    (server.workspace / "outside-link").symlink_to(root.parent.parent)  # a link out of the workspace
    ids = [c["id"] for c in server.client.get("/api/cases").json()["cases"]]
    assert "Чайник 2" in ids and "outside-link" not in ids
    quoted = httpx.URL(f"/api/cases/{root.name}").raw_path.decode()
    assert server.client.get(quoted).json()["facts"]["order"]["number"] == "8100000000000001"
    assert server.client.get(f"{quoted}/files").json()["files"]["photos"][0]["path"] == "photos/a.jpg"
    assert f'href="/cases/{quoted.split("/")[-1]}"' in server.client.get("/").text


def test_invalid_facts_get_the_clis_messages(server: WebServer, tmp_path: Path) -> None:
    bad = json.loads(json.dumps(FACTS))
    bad["order"]["number"] = ""
    bad["order"]["shipped"] = "2026-13-40"
    bad["dispute"]["amount"] = "25.00"
    bad["dispute"]["reason"] = "broken"
    bad["tracking"] = [{"url": "ftp://example.com/x"}]
    response = server.client.post("/api/cases", json=bad)
    assert response.status_code == 422
    problems = response.json()["problems"]
    # The same facts written by hand into case.toml: the CLI's validator must say exactly the same.
    (tmp_path / "case.toml").write_text(textwrap.dedent("""
        title = "Broken lamp"
        [order]
        store = "Lamp Store"
        item = "Desk lamp"
        price = 20.00
        currency = "USD"
        ordered = 2026-10-01
        shipped = "2026-13-40"
        delivered = 2026-10-30
        protection_ends = 2026-12-01
        [dispute]
        reason = "broken"
        resolution = "refund_only"
        amount = 25.00
        notes = "Arrived broken."
        [[tracking]]
        url = "ftp://example.com/x"
        """), encoding="utf-8")
    with pytest.raises(CaseError) as cli:
        api.load_case(tmp_path)
    # The same problems as the CLI finds, each said with the form's label instead of the case.toml path.
    assert len(problems) == len(cli.value.problems)
    assert problems == ["Order number: fill this in", "Shipped on: “2026-13-40” is not a date",
                        "Reason: “broken” is not one of the choices",
                        "Tracking page address: only addresses that start with http:// or https:// are accepted",
                        "Refund asked for: 25.00 is more than the price paid, 20.00"]
    assert not [p for p in problems if re.search(r"\b(order|dispute|tracking|facts)\.\w", p)], problems
    fields = response.json()["fields"]
    assert {"order.number", "order.shipped", "dispute.reason", "dispute.amount", "tracking.0.url"} <= set(fields)
    case_id = new_case(server)
    before = (server.workspace / case_id / "case.toml").read_bytes()
    assert server.client.put(f"/api/cases/{case_id}", json=bad).status_code == 422
    assert (server.workspace / case_id / "case.toml").read_bytes() == before  # an invalid edit writes nothing
    assert server.client.put(f"/api/cases/{case_id}", content=b"{not json").status_code == 422
    assert server.client.post("/api/cases", json=["a list"]).status_code == 422
    for missing in ("/api/cases/no-such-case", "/api/cases/..%2F..%2Fetc", "/cases/no-such-case"):
        assert server.client.get(missing).status_code == 404, missing


def test_situation_facts_round_trip_and_are_checked_against_the_reason(server: WebServer, tmp_path: Path) -> None:
    with_facts = json.loads(json.dumps(FACTS))
    with_facts["dispute"]["notes_en"] = "It arrived broken."
    with_facts["facts"] = {"defect": "a long crack on the base", "works": False, "seller_offered": "5.00",
                           "seller_asked_to_confirm_receipt": True, "seller_asked_to_cancel_dispute": False}
    response = server.client.post("/api/cases", json=with_facts)
    assert response.status_code == 201, response.text
    root = server.workspace / response.json()["id"]
    facts = api.load_case(root).facts  # what the CLI reads from the case.toml the app wrote
    assert facts.defect == "a long crack on the base" and facts.works is False
    assert facts.seller_offered == Decimal("5.00") and facts.seller_asked_to_confirm_receipt is True
    written = tomllib.loads((root / "case.toml").read_text(encoding="utf-8"))["facts"]
    assert written["seller_offered"] == 5.0  # money as a TOML number, not text
    got = server.client.get(f"/api/cases/{root.name}").json()
    assert got["problems"] == [] and got["facts"]["dispute"]["notes_en"] == "It arrived broken."
    assert got["facts"]["facts"] == {"defect": "a long crack on the base", "works": False, "seller_offered": "5.00",
                                     "seller_asked_to_confirm_receipt": True, "seller_asked_to_cancel_dispute": False}
    replaced = json.loads(json.dumps(with_facts))
    replaced["facts"] = {"seller_offered": "replacement", "customs_fee": "18,40"}
    replaced["dispute"]["reason"] = "customs"
    assert server.client.put(f"/api/cases/{root.name}", json=replaced).status_code == 200
    again = api.load_case(root)
    assert again.facts.seller_offered == "replacement" and again.facts.customs_fee == Decimal("18.40")
    assert server.client.get(f"/api/cases/{root.name}").json()["facts"]["facts"]["customs_fee"] == "18.40"

    # A fact for another reason and wrong values: the CLI's messages, each for its field.
    bad = json.loads(json.dumps(FACTS))
    bad["facts"] = {"missing": "the lid", "times_asked_to_wait": 2.5, "seller_offered": "a lot",
                    "tracking_last_update": "2026-02-30"}
    response = server.client.post("/api/cases", json=bad)
    assert response.status_code == 422
    (tmp_path / "case.toml").write_text(textwrap.dedent("""
        title = "Broken lamp"
        [order]
        number = "8100000000000002"
        store = "Lamp Store"
        item = "Desk lamp"
        price = 20.00
        currency = "USD"
        ordered = 2026-10-01
        shipped = 2026-10-03
        delivered = 2026-10-30
        protection_ends = 2026-12-01
        [dispute]
        reason = "damaged"
        resolution = "refund_only"
        amount = 20.00
        notes = "Arrived broken."
        [facts]
        missing = "the lid"
        times_asked_to_wait = 2.5
        seller_offered = "a lot"
        tracking_last_update = "2026-02-30"
        [[tracking]]
        number = "LP00412345678901"
        carrier = "cainiao"
        """), encoding="utf-8")
    with pytest.raises(CaseError) as cli:
        api.load_case(tmp_path)
    # The CLI's problems, each said with the form's label (no case.toml path) and filed under its field.
    assert len(response.json()["problems"]) == len(cli.value.problems)
    assert not [p for p in response.json()["problems"] if "facts." in p], response.json()["problems"]
    assert {"facts.times_asked_to_wait", "facts.seller_offered", "facts.tracking_last_update"} <= set(
        response.json()["fields"])
    bad["facts"] = {"missing": "the lid"}  # valid alone, but for "incomplete" only
    fields = server.client.post("/api/cases", json=bad).json()["fields"]
    assert fields == {"facts.missing": ["What is missing from the parcel (in English): is not used for the reason "
                                        "“Item arrived damaged” (it is for: Order incomplete (parts or items "
                                        "missing)); clear it or choose another reason"]}


def test_the_form_asks_every_fact_for_the_reasons_case_toml_allows(server: WebServer) -> None:
    from evidence_kit.model.case import FACT_REASONS

    page = server.client.get("/").text
    shown = dict(re.findall(r'data-field="facts\.(\w+)" data-reasons="([^"]*)"', page))
    assert shown == {name: " ".join(sorted(reasons)) if reasons else "" for name, reasons in FACT_REASONS.items()}
    assert 'name="dispute.notes_en"' in page


# --- files --------------------------------------------------------------------------------------------------

def test_uploads_land_in_the_right_subfolder(server: WebServer) -> None:
    case_id = new_case(server)
    root = server.workspace / case_id
    photo, screenshot = jpeg_bytes(1), jpeg_bytes(2)
    files = [("files", ("IMG_1.jpg", photo)), ("files", ("clip.mp4", b"\x00" * 100)),
             ("files", ("track.csv", b"date,event\n2026-10-03,shipped\n")), ("files", ("receipt.pdf", b"%PDF-1.4\n")),
             ("files", ("setup.exe", b"MZ"))]
    response = server.client.post(f"/api/cases/{case_id}/files", files=files)
    assert response.status_code == 201, response.text
    stored = {item["path"]: item for item in response.json()["stored"]}
    assert set(stored) == {"photos/IMG_1.jpg", "tracking/track.csv", "receipts/receipt.pdf"}
    assert stored["photos/IMG_1.jpg"]["bytes"] == len(photo) and (root / "photos/IMG_1.jpg").read_bytes() == photo
    # clip.mp4 (100 zero bytes) is no video: refused at once (tests/test_web_start.py has the upload checks)
    assert sorted(r["name"] for r in response.json()["rejected"]) == ["clip.mp4", "setup.exe"]
    assert not list(root.rglob("setup.exe")) and not list(root.rglob("clip.mp4"))
    chat = server.client.post(f"/api/cases/{case_id}/files?kind=chat", files=[("files", ("chat.jpg", screenshot))])
    assert chat.json()["stored"][0]["path"] == "chat/chat.jpg"
    # The same file again is kept once; another file under a taken name never replaces the original.
    same = server.client.post(f"/api/cases/{case_id}/files", files=[("files", ("IMG_1.jpg", photo))]).json()
    assert same["stored"][0] == {**same["stored"][0], "path": "photos/IMG_1.jpg", "duplicate": True}
    other = server.client.post(f"/api/cases/{case_id}/files", files=[("files", ("IMG_1.jpg", screenshot))]).json()
    assert other["stored"][0]["path"] == "photos/IMG_1-2.jpg" and (root / "photos/IMG_1.jpg").read_bytes() == photo
    listing = server.client.get(f"/api/cases/{case_id}/files").json()["files"]
    assert [f["path"] for f in listing["photos"]] == ["photos/IMG_1-2.jpg", "photos/IMG_1.jpg"]
    assert [f["path"] for f in listing["chat"]] == ["chat/chat.jpg"]
    assert not [p for p in root.rglob("*") if p.name.startswith(".ek-tmp")]
    only_bad = server.client.post(f"/api/cases/{case_id}/files", files=[("files", ("notes.docx", b"PK"))])
    assert only_bad.status_code == 422 and "notes.docx" in only_bad.json()["problems"][0]
    assert server.client.post(f"/api/cases/{case_id}/files", content=b"x",
                              headers={"content-type": "text/plain"}).status_code == 415
    assert server.client.post(f"/api/cases/{case_id}/files?kind=music", files=files[:1]).status_code == 422


def test_hostile_upload_names_stay_inside_the_case_folder(server: WebServer) -> None:
    case_id = new_case(server)
    root = server.workspace / case_id
    outside = every_file(server.workspace.parent)
    hostile = ["../../escape.jpg", "/etc/passwd.jpg", "..\\..\\windows.jpg", "C:\\Users\\x\\drive.jpg",
               "nul\x00byte.jpg", "x" * 300 + ".jpg", "..", ".hidden.jpg", "photos/../../../up.jpg",
               "\u202egpj.exe.jpg", ""]
    body, content_type = multipart([(name, jpeg_bytes(i)) for i, name in enumerate(hostile)])
    response = server.client.post(f"/api/cases/{case_id}/files", content=body, headers={"content-type": content_type})
    assert response.status_code == 201, response.text
    stored = [item["path"] for item in response.json()["stored"]]
    assert len(stored) == len(hostile) - 2  # ".." and "" have no suffix: not a photo, rejected
    for path in stored:
        target = (root / path).resolve()
        assert target.is_relative_to(root.resolve()) and target.parent.name == "photos", path
        name = Path(path).name
        assert "\x00" not in name and "\u202e" not in name and not name.startswith(".") and len(name.encode()) <= 150
    assert {"photos/escape.jpg", "photos/passwd.jpg", "photos/windows.jpg", "photos/drive.jpg", "photos/nulbyte.jpg",
            "photos/hidden.jpg", "photos/up.jpg"} <= set(stored)
    new_outside = every_file(server.workspace.parent) - outside
    assert all(p.startswith(f"{server.workspace.name}/{case_id}/photos/") for p in new_outside), new_outside


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(server: WebServer) -> None:
    case_id = new_case(server)
    root = server.workspace / case_id
    big = os.urandom(2_500_000)  # the server's limit is 2 MB
    body, content_type = multipart([("big.jpg", big)])
    response = server.client.post(f"/api/cases/{case_id}/files", content=body, headers={"content-type": content_type})
    assert response.status_code == 413 and "2 MB" in response.json()["problems"][0]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as the body arrives
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    streamed = server.client.post(f"/api/cases/{case_id}/files", content=chunks(),
                                  headers={"content-type": content_type})
    assert streamed.status_code == 413
    assert every_file(root) == {"case.toml"}  # no file, no temporary left behind
    small_body, _ = multipart([("small.jpg", jpeg_bytes(3))])
    assert server.client.post(f"/api/cases/{case_id}/files", content=small_body,
                              headers={"content-type": content_type}).status_code == 201  # the connection still works


def test_a_body_cut_short_is_422_and_leaves_nothing(server: WebServer) -> None:
    case_id = new_case(server)
    body, content_type = multipart([("a.jpg", jpeg_bytes(1)), ("b.jpg", jpeg_bytes(2))])
    cut = body[: len(body) * 3 // 4]  # ends inside the second file: all or nothing, so neither is kept
    response = server.client.post(f"/api/cases/{case_id}/files", content=cut, headers={"content-type": content_type})
    assert response.status_code == 422 and response.json()["problems"]
    assert every_file(server.workspace / case_id) == {"case.toml"}


@pytest.mark.slow
def test_a_large_upload_is_streamed_to_disk_not_memory(tmp_path: Path) -> None:
    """300 MB (EVIDENCE_KIT_BIG_UPLOAD_MB to change it) through a generator: the server's peak memory barely moves."""
    size = int(os.environ.get("EVIDENCE_KIT_BIG_UPLOAD_MB", "300")) * 1_000_000
    running = WebServer(tmp_path / "workspace")
    try:
        case_id = new_case(running)
        boundary = "bigboundary5678"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"unboxing.mp4\"\r\n"
                f"Content-Type: video/mp4\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        block = os.urandom(1 << 20)
        # A real one-second clip, then the rest as an MP4 'free' box: a video the upload check reads as one.
        clip = tmp_path / "clip.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)], check=True)
        start = clip.read_bytes()
        start += (size - len(start)).to_bytes(4, "big") + b"free"

        def body() -> Iterator[bytes]:
            yield head + start
            sent = len(start)
            while sent < size:
                piece = block[: min(len(block), size - sent)]
                sent += len(piece)
                yield piece
            yield tail

        running.client.get("/api/cases")
        running.reset_memory_peak()
        before = running.memory_peak_kb()
        response = running.client.post(f"/api/cases/{case_id}/files", content=body(),
                                       headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert response.status_code == 201, response.text
        assert (running.workspace / case_id / "video" / "unboxing.mp4").stat().st_size == size
        growth_mb = (running.memory_peak_kb() - before) / 1000
        print(f"\n{size / 1e6:.0f} MB upload: server peak memory grew by {growth_mb:.1f} MB")
        assert growth_mb < 64, f"the server's memory grew by {growth_mb:.0f} MB for a {size / 1e6:.0f} MB upload"
    finally:
        running.client.close()
        running.stop()


def test_thumbnails_raw_files_and_removal(server: WebServer) -> None:
    case_id = new_case(server)
    root = server.workspace / case_id
    photo = jpeg_bytes(5, (1200, 900))
    server.client.post(f"/api/cases/{case_id}/files", files=[("files", ("big.jpg", photo)),
                                                            ("files", ("page.html", b"<script>alert(1)</script>"))])
    thumb = server.client.get(f"/api/cases/{case_id}/thumb/photos/big.jpg")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    assert not (root / ".evidence-kit-web").exists()  # previews are cached outside the case folder
    raw = server.client.get(f"/api/cases/{case_id}/files/photos/big.jpg")
    assert raw.content == photo
    page = server.client.get(f"/api/cases/{case_id}/files/tracking/page.html")
    # An uploaded page is a download in a sandbox, never a page of the app's origin.
    assert page.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in page.headers["content-security-policy"]
    for escape in ("../case.toml", "photos/../../broken-lamp/case.toml", "%2e%2e/%2e%2e/x"):
        assert server.client.get(f"/api/cases/{case_id}/files/{escape}").status_code == 404, escape
    facts = json.loads(json.dumps(FACTS))
    facts["photos"] = [{"file": "photos/big.jpg", "rank": 1, "caption": "The crack"}]
    assert server.client.put(f"/api/cases/{case_id}", json=facts).status_code == 200
    assert server.client.delete(f"/api/cases/{case_id}/files/photos/big.jpg").status_code == 204
    assert not (root / "photos/big.jpg").exists()
    assert api.load_case(root).photo_hints == ()  # the hint went with the file, so the case still builds
    assert server.client.delete(f"/api/cases/{case_id}/files/case.toml").status_code == 403


# --- builds -------------------------------------------------------------------------------------------------

def small_case(server: WebServer) -> str:
    facts = {k: v for k, v in FACTS.items() if k != "tracking"}
    case_id = new_case(server, facts)
    response = server.client.post(f"/api/cases/{case_id}/files",
                                  files=[("files", (f"IMG_{i}.jpg", jpeg_bytes(10 + i))) for i in range(2)])
    assert response.status_code == 201
    return case_id


@pytest.mark.slow
def test_build_streams_progress_then_the_clis_json(server: WebServer) -> None:
    case_id = small_case(server)
    root = server.workspace / case_id
    response = server.client.post(f"/api/cases/{case_id}/build")
    assert response.status_code == 202
    events = server.events(response.json()["job"])
    names = [name for name, _ in events]
    assert names[0] == "queued" and names[1] == "started" and names[-1] == "done" and names.count("done") == 1
    stages = {data["stage"] for name, data in events if name == "progress"}
    assert {"photos", "texts", "summary"} <= stages
    done = events[-1][1]
    assert done["status"] == "built" and done["exit_code"] == 0
    cli = subprocess.run([str(installed_cli()), "build", str(root), "--json"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    assert from_cli["status"] == "unchanged"  # the CLI sees the app's package as current
    strip = lambda d: {k: v for k, v in d.items() if k not in ("status", "seconds")}  # noqa: E731
    assert strip(done) == strip(from_cli)
    again = server.client.post(f"/api/cases/{case_id}/build")
    assert server.events(again.json()["job"])[-1][1]["status"] == "unchanged"
    status = server.client.get(f"/api/jobs/{again.json()['job']}").json()
    assert status["finished"] and status["result"]["status"] == "unchanged"

    assert server.client.get(f"/api/cases/{case_id}/verify").json()["ok"] is True
    archive = zipfile.ZipFile(io.BytesIO(server.client.get(f"/api/cases/{case_id}/package.zip").content))
    names = archive.namelist()
    uploads = [n for n in names if n.startswith("upload/")]
    assert names[: len(uploads)] == uploads and len(uploads) == 3 and "manifest.json" in names
    assert set(names) == every_file(root / "evidence-package")
    pdf = server.client.get(f"/api/cases/{case_id}/package/summary.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    page = server.client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "upload/dispute.txt" in page.text and "2 of 3 photos" in page.text
    assert not list((server.workspace / ".evidence-kit-web").glob("zips/*.zip"))  # the zip's temporary is gone


def test_two_builds_of_one_case_at_once(server: WebServer) -> None:
    """While a build runs, a second request gets 409 and the running job; two cases build side by side."""
    first, second = small_case(server), small_case(server)
    with case_lock(server.workspace / first):  # a CLI build holding the case: the app's build waits for it
        one = server.client.post(f"/api/cases/{first}/build")
        twice = server.client.post(f"/api/cases/{first}/build")
        other = server.client.post(f"/api/cases/{second}/build")
        assert one.status_code == 202 and twice.status_code == 409 and other.status_code == 202
        assert twice.json()["job"] == one.json()["job"] and twice.json()["problems"]
        assert server.client.get(f"/api/jobs/{one.json()['job']}").json()["finished"] is False
    results = [server.events(r.json()["job"])[-1][1] for r in (one, other)]
    assert [r["status"] for r in results] == ["built", "built"]
    assert server.client.post(f"/api/cases/{first}/build").status_code == 202  # finished: a new job may start
    assert server.client.get("/api/jobs/no-such-job").status_code == 404
    assert server.client.get("/api/jobs/no-such-job/events").status_code == 404


def test_the_result_says_when_the_case_changed_after_its_build(server: WebServer) -> None:
    case_id = small_case(server)
    stale = "The case changed since this package was built"

    def result() -> str:
        return server.client.get(f"/cases/{case_id}/fragment/result", headers={"accept-language": "en"}).text

    assert "Not built yet" in result()
    job = server.client.post(f"/api/cases/{case_id}/build").json()["job"]
    assert server.events(job)[-1][1]["status"] == "built"
    assert "upload/dispute.txt" in result() and stale not in result()
    facts = server.client.get(f"/api/cases/{case_id}").json()["facts"]
    assert server.client.put(f"/api/cases/{case_id}", json=facts).status_code == 200
    assert stale in result()
    job = server.client.post(f"/api/cases/{case_id}/build").json()["job"]
    assert server.events(job)[-1][1]["status"] == "unchanged"  # the same facts: the package is current
    assert stale not in result()


def test_a_build_of_an_invalid_case_ends_with_a_failed_done(server: WebServer) -> None:
    case_id = new_case(server)
    (server.workspace / case_id / "case.toml").write_text("[order]\nnumber = 1\n", encoding="utf-8")
    job = server.client.post(f"/api/cases/{case_id}/build").json()["job"]
    done = server.events(job)[-1]
    assert done[0] == "done" and done[1]["status"] == "failed" and done[1]["exit_code"] == 3
    assert done[1]["problems"][0] == "[dispute]: missing section"
    assert server.client.get(f"/api/cases/{case_id}/package.zip").status_code == 404
    page = server.client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "The dispute: missing" in page.text  # by the label the page uses


# --- pages and languages ------------------------------------------------------------------------------------

def test_pages_follow_the_browser_language_with_a_switch(server: WebServer) -> None:
    case_id = new_case(server)
    russian = server.client.get("/", headers={"accept-language": "ru-RU,ru;q=0.9,en;q=0.8"})
    assert '<html lang="ru">' in russian.text and "Ваши дела" in russian.text
    english = server.client.get("/", headers={"accept-language": "de-DE,en;q=0.5"})
    assert '<html lang="en">' in english.text and "Your cases" in english.text
    switched = server.client.get(f"/cases/{case_id}?lang=ru", headers={"accept-language": "en"})
    assert "Номер заказа" in switched.text and "evidence_kit_language=ru" in switched.headers["set-cookie"]
    sticky = server.client.get("/", headers={"accept-language": "en"})
    assert "Ваши дела" in sticky.text  # the switch outlasts the browser's preference
    page = server.client.get(f"/cases/{case_id}?lang=en", headers={"accept-language": "ru"})
    for label in ("Order number", "Reason", "Build", "Choose files"):
        assert label in page.text
    # every form field has a label
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', page.text))
    labelled = set(re.findall(r'<label for="([^"]+)"', page.text))
    assert ids and ids <= labelled, ids - labelled


def test_the_start_page_shows_each_cases_deadline_in_colour(server: WebServer) -> None:
    from datetime import date, timedelta

    today = date.today()
    early = json.loads(json.dumps(FACTS))
    early["title"], early["order"]["ordered"], early["order"]["shipped"] = "Early", str(today), str(today)
    for key in ("delivered", "protection_ends"):
        del early["order"][key]
    late = json.loads(json.dumps(FACTS))
    late["title"] = "Late"
    new_case(server, early)
    new_case(server, late)  # protection ended on 2026-12-01: past the 15 extra days by now or soon
    page = server.client.get("/", headers={"accept-language": "en"}).text
    first_day = today + timedelta(days=10)
    assert re.search(r'class="badge wait"[^>]*>Too early: you can open the dispute from ' + re.escape(
        f"{first_day:%B} {first_day.day}, {first_day.year}"), page)
    rows = {c["title"]: c for c in server.client.get("/api/cases").json()["cases"]}
    assert rows["Early"]["deadline"]["status"] == "too_early"
    expected = {"too_late": "late", "last_days": "urgent", "open_now": "ok"}[rows["Late"]["deadline"]["status"]]
    assert f'class="badge {expected}"' in page


def test_every_interface_string_has_a_russian_translation() -> None:
    from babel.messages.extract import extract_from_dir

    from evidence_kit.model.reasons import REASON_RULES, REASONS, RESOLUTIONS
    from evidence_kit.runners.web import i18n

    root = Path(__file__).resolve().parent.parent
    found = {message for _, _, message, *_ in extract_from_dir(
        str(root), method_map=[("templates/web/**.html", "jinja2"), ("evidence_kit/runners/web/**.py", "python")],
        options_map={"templates/web/**.html": {"extensions": "jinja2.ext.i18n"}})}
    model = {text for r in REASON_RULES.values() for text in (r.wins, r.caveat) if text}  # shown in the form
    wanted = {m if isinstance(m, str) else m[0] for m in found} | set(REASONS.values()) | set(RESOLUTIONS.values())
    wanted |= model
    russian = i18n.translations("ru")
    untranslated = sorted(m for m in wanted if russian.gettext(m) == m)
    assert len(wanted) > 100 and untranslated == []


def test_the_case_toml_the_app_writes_reads_as_case_toml(server: WebServer) -> None:
    case_id = new_case(server)
    text = (server.workspace / case_id / "case.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert data["order"]["ordered"].isoformat() == "2026-10-01" and data["order"]["price"] == 20.0
    assert tomllib.loads(textwrap.dedent(CASE_TOML))["order"].keys() <= data["order"].keys()
