"""Evidence straight from the phone (issue 25): the scoped phone link, its resumable uploads, its page.

A real ``evidence-kit serve --phone`` on loopback: 127.0.0.2 stands in for the computer's Wi-Fi address
(no traffic leaves this machine). The phone token must be refused on every route but its own: the routes
are read from the app itself, so a route added later is covered without touching this file.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from evidence_kit.runners.web import i18n
from evidence_kit.runners.web.phone import PREFIX, PhoneLinks, private_address
from evidence_kit.runners.web.routes import routes

from .conftest import installed_cli, noisy_photo
from .test_web_api import FACTS, WebServer, jpeg_bytes, new_case
from .test_web_browser import browser, no_sideways_scroll, until  # noqa: F401 - browser is a fixture

LAN = "127.0.0.2"  # loopback standing in for the LAN address


class PhoneServer(WebServer):
    def __init__(self, workspace: Path, *extra: str) -> None:
        super().__init__(workspace, "--phone", "--phone-address", LAN, *extra)
        self.lan = f"http://{LAN}:{self.port}"

    def open_link(self, case_id: str) -> dict[str, Any]:
        response = self.client.post(f"/api/cases/{case_id}/phone")
        assert response.status_code == 201, response.text
        return response.json()


@contextlib.contextmanager
def phone_client(link: dict[str, Any]) -> Iterator[httpx.Client]:
    """What the phone does: opens the link (the key goes into a cookie for /phone only), then keeps the cookie."""
    url = httpx.URL(link["url"])
    origin = f"{url.scheme}://{url.host}:{url.port}"
    with httpx.Client(base_url=origin, timeout=60, headers={"origin": origin}) as client:
        first = client.get(f"{PREFIX}?key={url.params['key']}")
        assert first.status_code == 303 and first.headers["location"] == PREFIX
        assert "Path=/phone" in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]
        yield client


def send_file(client: httpx.Client, name: str, data: bytes, kind: str = "auto") -> httpx.Response:
    started = client.post(f"{PREFIX}/api/uploads", json={"name": name, "size": len(data), "kind": kind,
                                                          "sha256": hashlib.sha256(data).hexdigest()})
    if started.status_code not in (200, 201):
        return started  # refused before a byte is sent
    return client.patch(f"{PREFIX}/api/uploads/{started.json()['id']}", content=data,
                        headers={"upload-offset": str(started.json()["offset"]),
                                 "content-type": "application/offset+octet-stream"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoneServer]:
    running = PhoneServer(tmp_path_factory.mktemp("workspace"), "--max-upload-mb", "400")
    yield running
    running.client.close()
    running.stop()


@pytest.fixture(scope="module")
def linked(server: PhoneServer) -> dict[str, Any]:
    """A case with a live phone link, and a second case the link must never reach."""
    case_id, other = new_case(server), new_case(server)
    server.client.post(f"/api/cases/{other}/files", files=[("files", ("theirs.jpg", jpeg_bytes(40)))])
    return {"case": case_id, "other": other, "link": server.open_link(case_id)}


# --- every route but the phone's own refuses the phone token ------------------------------------------------

def _app_routes() -> list[tuple[str, str]]:
    found = []
    for route in routes(i18n.web_root() / "static"):
        path = route.path
        if path == PREFIX or path.startswith(PREFIX + "/"):
            continue  # the phone's own
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                found.append((method, path))
    return found


@pytest.mark.parametrize("method,path", _app_routes(), ids=lambda v: v)
def test_the_phone_token_is_refused_on_every_other_route(server: PhoneServer, linked: dict[str, Any],
                                                         method: str, path: str) -> None:
    filled = (path.replace("{case}", linked["case"]).replace("{path:path}", "photos/theirs.jpg")
              .replace("{job}", "nothing"))
    if filled == "/static":
        filled = "/static/app.js"
    token = httpx.URL(linked["link"]["url"]).params["key"]
    cookie = f"evidence_kit_phone_{server.port}={token}"
    for base in (server.base, server.lan):
        for headers in ({"authorization": f"Bearer {token}"}, {"cookie": cookie}):
            response = httpx.request(method, base + filled, headers={**headers, "origin": base}, timeout=30,
                                     content=b"{}" if method in ("POST", "PUT") else None)
            if filled == "/favicon.ico" and base == server.base:
                assert response.status_code == 200  # the icon is public on this computer, with or without a token
                continue
            assert response.status_code in (401, 403), (base, headers, response.status_code, response.text)
    assert server.client.get(f"/api/cases/{linked['case']}/phone").json()["active"]  # still alive: it only failed


def test_the_main_token_works_on_this_computer_only(server: PhoneServer) -> None:
    """On the network address only the phone page is served: even the main token gets nothing there."""
    assert httpx.get(f"{server.lan}/api/cases", headers={"authorization": f"Bearer {server.token}"}).status_code == 403
    assert httpx.get(f"{server.lan}/?token={server.token}").status_code == 403
    assert httpx.get(f"{server.lan}{PREFIX}", headers={"authorization": f"Bearer {server.token}"}).status_code == 401
    assert server.client.get("/api/cases").status_code == 200


# --- what the phone token may do ----------------------------------------------------------------------------

def test_the_phone_adds_files_to_its_case_and_sees_only_what_it_added(server: PhoneServer,
                                                                        linked: dict[str, Any]) -> None:
    link = linked["link"]
    assert link["url"].startswith(f"{server.lan}{PREFIX}?key=") and server.token not in link["url"]
    assert link["qr"].startswith("data:image/svg+xml") and 1790 <= link["seconds_left"] <= 1800
    with phone_client(link) as phone:
        page = phone.get(PREFIX)
        assert page.status_code == 200 and 'id="phone-files"' in page.text and linked["case"] not in page.text
        assert phone.get(f"{PREFIX}/api/files").json() == {"files": []}
        added = send_file(phone, "../../IMG_0001.jpg", jpeg_bytes(41))
        assert added.status_code == 201, added.text
        assert [s["path"] for s in added.json()["stored"]] == ["photos/IMG_0001.jpg"]  # the name rules: no ../
        refused = send_file(phone, "notes.exe", b"MZ" * 100)
        assert refused.status_code == 422 and "notes.exe" in refused.json()["problems"][0]
        fake = send_file(phone, "fake.jpg", b"not a picture at all")
        assert fake.status_code == 422 and "fake.jpg" in fake.json()["problems"][0]  # the desktop's checks
        listed = phone.get(f"{PREFIX}/api/files").json()["files"]
        assert [f["path"] for f in listed] == ["photos/IMG_0001.jpg"]  # not theirs.jpg of the other case
    case = server.workspace / linked["case"]
    assert (case / "photos" / "IMG_0001.jpg").read_bytes() == jpeg_bytes(41)
    assert not (server.workspace / linked["other"] / "photos" / "IMG_0001.jpg").exists()
    assert not [p for p in case.rglob("*") if p.name.startswith(".")]  # no partial left among the evidence
    status = server.client.get(f"/api/cases/{linked['case']}/phone").json()
    assert [f["path"] for f in status["added"]] == ["photos/IMG_0001.jpg"]  # the desktop sees it arrive


def test_the_size_limit_and_kinds_are_the_desktops(server: PhoneServer, linked: dict[str, Any]) -> None:
    with phone_client(linked["link"]) as phone:
        big = phone.post(f"{PREFIX}/api/uploads", json={"name": "v.mp4", "size": 400_000_001, "kind": "auto",
                                                         "sha256": "0" * 64})
        assert big.status_code == 413
        wrong_kind = phone.post(f"{PREFIX}/api/uploads", json={"name": "a.jpg", "size": 10, "kind": "videos",
                                                                "sha256": "0" * 64})
        assert wrong_kind.status_code == 422
        unknown = phone.post(f"{PREFIX}/api/uploads", json={"name": "a.jpg", "size": 10, "kind": "secrets",
                                                             "sha256": "0" * 64})
        assert unknown.status_code == 422


def test_a_file_whose_hash_does_not_match_is_not_kept(server: PhoneServer, linked: dict[str, Any]) -> None:
    data = jpeg_bytes(42)
    with phone_client(linked["link"]) as phone:
        started = phone.post(f"{PREFIX}/api/uploads", json={"name": "IMG_2.jpg", "size": len(data), "kind": "auto",
                                                             "sha256": hashlib.sha256(b"other").hexdigest()})
        done = phone.patch(f"{PREFIX}/api/uploads/{started.json()['id']}", content=data,
                           headers={"upload-offset": "0"})
        assert done.status_code == 422
    assert not (server.workspace / linked["case"] / "photos" / "IMG_2.jpg").exists()


def test_the_link_dies_when_the_panel_closes(server: PhoneServer) -> None:
    case_id = new_case(server)
    link = server.open_link(case_id)
    with phone_client(link) as phone:
        assert phone.get(f"{PREFIX}/api/files").status_code == 200
        assert server.client.delete(f"/api/cases/{case_id}/phone").status_code == 204
        gone = phone.get(f"{PREFIX}/api/files")
        assert gone.status_code == 401 and "expired" in gone.json()["problems"][0]
        assert send_file_status(phone) == 401
    again = httpx.get(f"{server.lan}{PREFIX}?key={httpx.URL(link['url']).params['key']}")
    assert again.status_code == 401
    assert server.client.get(f"/api/cases/{case_id}/phone").json()["active"] is False


def send_file_status(phone: httpx.Client) -> int:
    return phone.post(f"{PREFIX}/api/uploads", json={"name": "a.jpg", "size": 3, "kind": "auto",
                                                     "sha256": "0" * 64}).status_code


def test_a_new_link_replaces_the_old_one(server: PhoneServer) -> None:
    case_id = new_case(server)
    first, second = server.open_link(case_id), server.open_link(case_id)
    assert httpx.get(f"{server.lan}{PREFIX}?key={httpx.URL(first['url']).params['key']}").status_code == 401
    with phone_client(second) as phone:
        assert phone.get(f"{PREFIX}/api/files").status_code == 200


def test_phone_uploads_are_off_without_the_flag(tmp_path: Path) -> None:
    plain = WebServer(tmp_path / "workspace")
    try:
        case_id = new_case(plain)
        refused = plain.client.post(f"/api/cases/{case_id}/phone")
        assert refused.status_code == 409 and "--phone" in refused.json()["problems"][0]
        assert plain.client.get(f"/api/cases/{case_id}/phone").json()["enabled"] is False
    finally:
        plain.client.close()
        plain.stop()


def test_only_private_addresses_are_served() -> None:
    for address in ("192.168.1.20", "10.0.0.5", "172.16.3.4", "127.0.0.2", "fd00::1"):
        assert private_address(address), address
    for address in ("8.8.8.8", "0.0.0.0", "::", "169.254.1.1", "224.0.0.1", "2001:4860::1", "not-an-ip", ""):
        assert not private_address(address), address


# --- expiry and the rate limit, with the app's clock in the test's hand -------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _in_process(tmp_path: Path, links_kwargs: dict[str, Any]) -> tuple[Any, Clock, Any]:
    from starlette.testclient import TestClient

    from evidence_kit.runners.web import WebSettings, create_app

    clock = Clock()
    settings = WebSettings(workspace=tmp_path, port=8765, phone_host=LAN, open_browser=False)
    links = PhoneLinks(tmp_path, clock=clock, **links_kwargs)
    app = create_app(settings, port=8765, phone=links)
    desktop = TestClient(app, base_url="http://127.0.0.1:8765", headers={"authorization": f"Bearer {settings.token}"})
    return desktop, clock, app


def test_the_link_expires_after_30_minutes(tmp_path: Path) -> None:
    desktop, clock, _ = _in_process(tmp_path, {})
    case_id = desktop.post("/api/cases", json=FACTS).json()["id"]
    link = desktop.post(f"/api/cases/{case_id}/phone").json()
    bearer = {"authorization": f"Bearer {httpx.URL(link['url']).params['key']}"}
    assert desktop.get(f"{PREFIX}/api/files", headers=bearer).status_code == 200
    clock.now += 29 * 60
    assert desktop.get(f"{PREFIX}/api/files", headers=bearer).status_code == 200
    assert desktop.get(f"/api/cases/{case_id}/phone").json()["seconds_left"] == 60
    clock.now += 60
    assert desktop.get(f"{PREFIX}/api/files", headers=bearer).status_code == 401
    assert desktop.get(f"{PREFIX}?key={httpx.URL(link['url']).params['key']}").status_code == 401
    assert desktop.get(f"/api/cases/{case_id}/phone").json()["active"] is False


def test_the_phone_token_is_rate_limited(tmp_path: Path) -> None:
    desktop, clock, _ = _in_process(tmp_path, {"rate": 5})
    case_id = desktop.post("/api/cases", json=FACTS).json()["id"]
    link = desktop.post(f"/api/cases/{case_id}/phone").json()
    bearer = {"authorization": f"Bearer {httpx.URL(link['url']).params['key']}"}
    codes = [desktop.get(f"{PREFIX}/api/files", headers=bearer).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    clock.now += 61
    assert desktop.get(f"{PREFIX}/api/files", headers=bearer).status_code == 200
    assert desktop.get("/api/cases").status_code == 200  # the desktop is not counted


def test_the_case_page_offers_the_phone_link(server: PhoneServer, linked: dict[str, Any]) -> None:
    page = server.client.get(f"/cases/{linked['case']}")
    assert page.status_code == 200 and 'id="phone-open"' in page.text and "/static/phone.js" in page.text
    for asset in ("/static/phone.js", "/static/phone.css"):
        assert server.client.get(asset).status_code == 200
    with phone_client(linked["link"]) as phone:
        for asset in ("/phone/phone.js", "/phone/phone.css", "/phone/app.css"):
            assert phone.get(asset).status_code == 200, asset


# --- a large video, cut off at half and resumed -------------------------------------------------------------

def big_video(path: Path, size: int) -> str:
    """A real one-second clip padded with an MP4 'free' box to ``size`` bytes, written in 1 MB blocks (the
    upload check reads it as a video); its SHA-256."""
    clip = path.with_name("clip.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)], check=True)
    start = clip.read_bytes()
    start += (size - len(start)).to_bytes(4, "big") + b"free"
    block, digest = os.urandom(1 << 20), hashlib.sha256()
    with open(path, "wb") as handle:
        handle.write(start)
        digest.update(start)
        written = len(start)
        while written < size:
            piece = block[: min(len(block), size - written)]
            handle.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()


class CutOff(Exception):
    """The phone's Wi-Fi goes away."""


def file_body(path: Path, start: int, stop: int, *, cut: bool = False) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        handle.seek(start)
        at = start
        while at < stop:
            piece = handle.read(min(1 << 20, stop - at))
            at += len(piece)
            yield piece
    if cut:
        raise CutOff()


@pytest.mark.video
@pytest.mark.slow
def test_a_300_mb_video_cut_off_at_half_resumes_and_arrives_byte_identical(server: PhoneServer,
                                                                           tmp_path: Path) -> None:
    size = int(os.environ.get("EVIDENCE_KIT_BIG_UPLOAD_MB", "300")) * 1_000_000
    source = tmp_path / "IMG_0420.MOV"
    sha = big_video(source, size)
    case_id = new_case(server)
    with phone_client(server.open_link(case_id)) as phone:
        started = phone.post(f"{PREFIX}/api/uploads", json={"name": source.name, "size": size, "sha256": sha,
                                                             "kind": "videos"})
        assert started.status_code == 201, started.text
        at = f"{PREFIX}/api/uploads/{started.json()['id']}"
        server.reset_memory_peak()
        before = server.memory_peak_kb()
        with pytest.raises(CutOff):  # the connection drops with half of the file sent
            phone.patch(at, content=file_body(source, 0, size // 2, cut=True),
                        headers={"upload-offset": "0", "content-length": str(size)})
        video = server.workspace / case_id / "video"
        assert not video.exists() or not any(video.iterdir())  # nothing among the evidence yet
        for _ in range(100):  # the server may still be writing what reached it: ask until it holds still
            held = phone.head(at)
            assert held.status_code == 200
            offset = int(held.headers["upload-offset"])
            resumed = phone.patch(at, content=file_body(source, offset, size),
                                  headers={"upload-offset": str(offset), "content-length": str(size - offset)})
            if resumed.status_code != 409:
                break
        assert 0 < offset <= size // 2
        assert resumed.status_code == 201, resumed.text
        assert [f["path"] for f in phone.get(f"{PREFIX}/api/files").json()["files"]] == ["video/IMG_0420.MOV"]
    stored = video / "IMG_0420.MOV"
    digest = hashlib.sha256()
    with open(stored, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == sha and stored.stat().st_size == size
    assert not [p for p in (server.workspace / case_id).rglob("*") if p.name.startswith(".")]
    assert not list((server.workspace / ".evidence-kit-web" / "phone").iterdir())  # no piece left behind
    growth_mb = (server.memory_peak_kb() - before) / 1000
    print(f"\n{size / 1e6:.0f} MB in two parts, resumed at {offset / 1e6:.1f} MB: server memory grew "
          f"{growth_mb:.1f} MB")
    assert growth_mb < 64


# --- the phone page in real Chromium, with a phone's screen -------------------------------------------------

@pytest.mark.browser
@pytest.mark.slow
def test_a_heic_photo_from_the_phone_page_shows_up_on_the_case_page(server: PhoneServer, browser: Any,
                                                                       tmp_path: Path) -> None:
    import pillow_heif
    import zxingcpp
    from PIL import Image

    pillow_heif.register_heif_opener()
    heic = tmp_path / "IMG_0007.HEIC"
    noisy_photo(96, 72, seed=7).save(heic, "HEIF", quality=80)  # small: encoding HEIC is slow
    case_id = new_case(server)
    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                device_scale_factor=2, locale="ru-RU")
    try:
        page = desktop.new_page()
        asked: list[str] = []
        page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.goto(f"{server.base}/?token={server.token}")
        page.goto(f"{server.base}/cases/{case_id}")
        page.click("#phone-open")
        until(page, "!document.querySelector('#phone-active').hidden")
        assert asked and "30" in asked[0]  # it asked first, and said for how long
        warning = page.inner_text(".phone-warning")
        assert "Wi-Fi" in warning and "nothing else" in warning
        until(page, "document.querySelector('#phone-qr').naturalWidth > 0")
        assert not page.is_visible("#phone-open")  # one link at a time; Close is the way out
        page.locator("#phone-panel").screenshot(path="/tmp/j-qr-panel.png")
        page.set_viewport_size({"width": 360, "height": 800})
        page.locator("#phone-panel").screenshot(path="/tmp/j-qr-panel-360.png")
        assert page.evaluate("document.querySelector('#phone-panel').getBoundingClientRect().right") <= 360
        page.set_viewport_size({"width": 1280, "height": 900})
        # The code on the screen, read back as a phone's camera would: the phone page's address with its key.
        code = page.locator("#phone-qr").screenshot()
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(code)).convert("L"))
        assert len(decoded) == 1 and decoded[0].format == zxingcpp.BarcodeFormat.QRCode
        url = decoded[0].text
        assert url == page.inner_text("#phone-url")
        assert re.fullmatch(rf"http://{re.escape(LAN)}:{server.port}/phone\?key=[\w-]{{40,}}", url)
        assert server.token not in url

        mobile = phone.new_page()
        errors: list[str] = []
        mobile.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        mobile.goto(url)
        assert mobile.url == f"{server.lan}{PREFIX}"  # the key went into a cookie, out of the address bar
        assert "Выбрать фото и видео" in mobile.inner_text("main")  # the phone's language
        assert mobile.get_attribute("#phone-files", "accept") == "image/*,video/*"
        assert mobile.get_attribute("#phone-camera", "capture") == "environment"
        mobile.select_option("#phone-kind", "photos")
        mobile.set_input_files("#phone-files", [str(heic)])
        until(mobile, "[...document.querySelectorAll('#phone-list .state')].some((s) => s.classList.contains('ok'))")
        assert mobile.inner_text("#phone-list .state") == "Добавлено."
        assert mobile.evaluate("document.querySelector('#phone-list progress').value") == 1
        mobile.screenshot(path="/tmp/j-phone-360.png", full_page=True)
        no_sideways_scroll(mobile)
        mobile.set_viewport_size({"width": 320, "height": 640})
        no_sideways_scroll(mobile)
        assert errors == []

        # The desktop page shows it as it arrives, without a reload.
        until(page, "document.querySelector('#files').textContent.includes('IMG_0007.HEIC')")
        assert "photos/IMG_0007.HEIC" in page.inner_text("#phone-arrived")
        page.screenshot(path="/tmp/j-case-page.png", full_page=True)
        assert (server.workspace / case_id / "photos" / "IMG_0007.HEIC").read_bytes() == heic.read_bytes()

        page.click("#phone-close")
        until(page, "document.querySelector('#phone-active').hidden")
        gone = mobile.evaluate("fetch('/phone/api/files').then((r) => r.status)")
        assert gone == 401
    finally:
        desktop.close()
        phone.close()


def test_serve_refuses_a_public_phone_address(tmp_path: Path) -> None:
    for address in ("8.8.8.8", "0.0.0.0"):
        done = subprocess.run([str(installed_cli()), "serve", "--workspace", str(tmp_path), "--no-browser", "--port",
                               "0", "--phone", "--phone-address", address], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 9 and "not a private network address" in done.stderr, (address, done.stderr)


def test_pieces_of_a_stopped_server_are_removed_at_start(tmp_path: Path) -> None:
    desktop, _, app = _in_process(tmp_path, {})
    case_id = desktop.post("/api/cases", json=FACTS).json()["id"]
    link = desktop.post(f"/api/cases/{case_id}/phone").json()
    bearer = {"authorization": f"Bearer {httpx.URL(link['url']).params['key']}", "origin": "http://127.0.0.1:8765"}
    started = desktop.post(f"{PREFIX}/api/uploads", headers=bearer, json={"name": "v.mp4", "size": 100,
                                                                          "kind": "auto", "sha256": "0" * 64})
    desktop.patch(f"{PREFIX}/api/uploads/{started.json()['id']}", content=b"x" * 40,
                  headers={**bearer, "upload-offset": "0"})
    pieces = list((tmp_path / ".evidence-kit-web" / "phone").iterdir())
    assert len(pieces) == 1 and pieces[0].stat().st_size == 40
    PhoneLinks(tmp_path)  # the next start
    assert not pieces[0].exists()


@pytest.mark.browser
@pytest.mark.video
@pytest.mark.slow
def test_the_phone_page_resumes_a_300_mb_video_after_the_wifi_drops(server: PhoneServer, browser: Any,
                                                                     tmp_path: Path) -> None:
    size = int(os.environ.get("EVIDENCE_KIT_BIG_UPLOAD_MB", "300")) * 1_000_000
    source = tmp_path / "VID_0421.mp4"
    sha = big_video(source, size)
    case_id = new_case(server)
    link = server.open_link(case_id)
    phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                locale="en-US")
    try:
        mobile = phone.new_page()
        mobile.goto(link["url"])
        mobile.select_option("#phone-kind", "videos")
        mobile.set_input_files("#phone-files", [str(source)])
        until(mobile, "document.querySelector('#phone-list progress').value > 0.6", seconds=240)  # past half
        phone.set_offline(True)  # the Wi-Fi goes away
        until(mobile, "document.querySelector('#phone-list .state').textContent.includes('connection was lost')")
        held = server.workspace / ".evidence-kit-web" / "phone"
        sizes = [p.stat().st_size for p in held.iterdir()]
        assert len(sizes) == 1 and size // 2 < sizes[0] < size  # what came before the drop is kept, aside
        video = server.workspace / case_id / "video"
        assert not video.exists() or not any(video.iterdir())  # and is no evidence yet
        phone.set_offline(False)
        until(mobile, "document.querySelector('#phone-list .state').classList.contains('ok')", seconds=240)
        assert mobile.inner_text("#phone-list .state") == "Added."
    finally:
        phone.close()
    stored = server.workspace / case_id / "video" / "VID_0421.mp4"
    digest = hashlib.sha256()
    with open(stored, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == sha and stored.stat().st_size == size


def test_closing_the_panel_during_an_upload_keeps_nothing(server: PhoneServer) -> None:
    case_id = new_case(server)
    data = jpeg_bytes(43, (800, 600))
    with phone_client(server.open_link(case_id)) as phone:
        started = phone.post(f"{PREFIX}/api/uploads", json={"name": "IMG_9.jpg", "size": len(data), "kind": "auto",
                                                             "sha256": hashlib.sha256(data).hexdigest()})

        def body() -> Iterator[bytes]:
            yield data[: len(data) // 2]
            assert server.client.delete(f"/api/cases/{case_id}/phone").status_code == 204  # mid-upload
            yield data[len(data) // 2:]

        answer = phone.patch(f"{PREFIX}/api/uploads/{started.json()['id']}", content=body(),
                             headers={"upload-offset": "0", "content-length": str(len(data))})
        assert answer.status_code == 401, answer.text
    photos = server.workspace / case_id / "photos"
    assert not photos.exists() or not any(photos.iterdir())
    assert not list((server.workspace / ".evidence-kit-web" / "phone").iterdir())
