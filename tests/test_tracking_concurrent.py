"""Several tracking pages loading at once in one browser: each capture is its own page's, in the order given.

Real Chromium against pages served from 127.0.0.1; no timing assertions (overlap is shown by the order in
which the server saw the requests).
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from evidence_kit.fsutil import sha256_file
from evidence_kit.media.tracking import (Target, capture_targets, load_trackers, parse_targets, split_parts,
                                         stamp, stamp_lines)
from evidence_kit.tools.chromium import Browser, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="needs Chromium (apt-get install chromium)")

TIMEOUT = 3.0  # seconds per page: every wait is bounded by it


def colour_of(number: int) -> tuple[int, int, int]:
    """A background colour that no other page of these tests has."""
    return (40 + 23 * number % 200, 200 - 17 * number % 150, 60 + 31 * number % 180)


def colour_page(number: int, extra: str = "") -> str:
    r, g, b = colour_of(number)
    return (f"<!DOCTYPE html><html><head><title>Parcel {number}</title></head>"
            f"<body style='margin:0;background:rgb({r},{g},{b})'><h1>Parcel number {number}</h1>{extra}</body></html>")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, body: str, status: int = 200, content_type: str = "text/html; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        log = self.server.log  # type: ignore[attr-defined]
        log.append(("start", self.path))
        found = re.fullmatch(r"/(page|slow|alert)/(\d+)", self.path)
        if self.path.startswith("/late/"):  # the events arrive by script after the page has loaded and gone quiet
            self._send("<!DOCTYPE html><html><body><h1>Tracking</h1><div id='events'></div><script>setTimeout(() => {"
                       "const row = document.createElement('p'); row.className = 'row'; row.textContent = "
                       "'Delivered in Kazan'; document.getElementById('events').append(row); }, 1500)</script>"
                       "</body></html>")
        elif found:
            kind, number = found.group(1), int(found.group(2))
            extra = {"page": "", "slow": f"<img src='/slow-image/{number}' width='10' height='10'>",
                     "alert": "<script>alert('Parcel notice')</script>"}[kind]
            self._send(colour_page(number, extra))
        elif self.path.startswith("/slow-image/"):
            # Answered only once the pages after the slow one have been served (or after a bound): the slow
            # page stays loading until the others have loaded.
            self.server.others_served.wait(10)  # type: ignore[attr-defined]
            self._send("<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", content_type="image/svg+xml")
        else:
            self._send("<h1>Not found</h1>", 404)
        log.append(("end", self.path))
        if self.server.hold_image_for <= {path for step, path in log if step == "end"}:  # type: ignore[attr-defined]
            self.server.others_served.set()  # type: ignore[attr-defined]


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.log = []
    httpd.others_served = threading.Event()
    httpd.hold_image_for = set()  # paths to serve before the slow page's image
    httpd.url = lambda path: f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.others_served.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with Browser() as running:
        yield running


@pytest.fixture(scope="module")
def config():
    base = load_trackers()
    return replace(base, capture=base.capture.model_copy(update={"timeout": TIMEOUT, "idle_timeout": 1.0}))


def assert_own_capture(capture, number: int) -> None:
    """The capture shows page ``number`` (its colour, its text) and carries the stamp made for its own URL."""
    record = json.loads(capture.record.read_text())
    assert record["requested_url"] == capture.target.url and record["final_url"] == capture.target.url
    assert f"Parcel number {number}</h1>" in capture.html.read_text()
    assert capture.title == f"Parcel {number}"
    image = Image.open(capture.pngs[0]).convert("RGB")
    assert image.getpixel((640, capture.page_height - 5)) == colour_of(number)
    assert record["sha256"][capture.pngs[0].name] == sha256_file(capture.pngs[0])
    # Stamp the page part again from the record's own URL and time: the band must be the same, pixel for pixel.
    page_part = image.crop((0, 0, image.width, capture.page_height))
    [part] = split_parts(page_part, 4000)
    expected = stamp(part, stamp_lines(capture.target, final_url=record["final_url"],
                                       captured=datetime.fromisoformat(record["captured_utc"])))
    assert expected.tobytes() == image.tobytes()


def test_pages_loading_at_once_each_get_their_own_screenshot_stamp_and_record(server, browser, config, tmp_path):
    events = tmp_path / "tracking.csv"
    events.write_text("time,place,status\n2026-11-01,Shenzhen,Departed\n")
    targets = [Target("page", f"parcel-{n}", url=server.url(f"/page/{n}")) for n in range(8)]
    targets.insert(3, Target("events", "timeline", path=events))  # an offline one between the live ones
    targets.insert(6, Target("page", "missing", url=server.url("/nothing-here")))
    targets.insert(8, Target("page", "notice", url=server.url("/alert/8")))
    result = capture_targets(targets, tmp_path / "out", config=config, max_photo_bytes=2_000_000, browser=browser,
                             tabs=4)
    assert [(t.name, "HTTP 404" in m) for t, m in result.failures] == [("missing", True)]
    names = [c.target.name for c in result.captures]
    assert names == [t.name for t in targets if t.name != "missing"]  # the order given, not the order finished
    for capture in result.captures:
        if capture.target.kind == "page":
            assert_own_capture(capture, int(capture.target.url.rsplit("/", 1)[1]))
            assert Image.open(capture.jpegs[0]).format == "JPEG"
    # A pop-up belongs to the page that showed it, not to the pages loading beside it.
    warned = {c.target.name: c.warnings for c in result.captures if c.warnings}
    assert list(warned) == ["notice"] and "Parcel notice" in warned["notice"][0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.stem == "missing") == []


def test_a_slow_page_does_not_hold_up_or_mix_with_the_pages_after_it(server, browser, config, tmp_path):
    targets = [Target("page", "slow", url=server.url("/slow/0"))]
    targets += [Target("page", f"parcel-{n}", url=server.url(f"/page/{n}")) for n in range(1, 4)]
    server.hold_image_for = {f"/page/{n}" for n in range(1, 4)}
    result = capture_targets(targets, tmp_path, config=config, max_photo_bytes=None, browser=browser, tabs=4)
    assert not result.failures
    assert [c.target.name for c in result.captures] == ["slow", "parcel-1", "parcel-2", "parcel-3"]
    for number, capture in enumerate(result.captures):
        assert_own_capture(capture, number)
    # One page at a time, the image would wait for pages not yet asked for, and the load would time out.
    assert not result.captures[0].warnings
    # The later pages were answered while the slow page was still loading (its image not yet sent).
    for n in range(1, 4):
        assert server.log.index(("end", f"/page/{n}")) < server.log.index(("end", "/slow-image/0"))


def test_one_page_at_a_time_gives_the_same_captures(server, browser, config, tmp_path):
    targets = [Target("page", f"parcel-{n}", url=server.url(f"/page/{n}")) for n in range(3)]
    one = capture_targets(targets, tmp_path / "one", config=config, max_photo_bytes=None, browser=browser, tabs=1)
    many = capture_targets(targets, tmp_path / "many", config=config, max_photo_bytes=None, browser=browser, tabs=3)
    for a, b in zip(one.captures, many.captures, strict=True):
        assert a.target == b.target and a.page_height == b.page_height
        page_a = Image.open(a.pngs[0]).crop((0, 0, 1280, a.page_height))
        page_b = Image.open(b.pngs[0]).crop((0, 0, 1280, b.page_height))
        assert page_a.tobytes() == page_b.tobytes()
        assert a.html.read_bytes() == b.html.read_bytes()


def test_a_trackers_ready_sign_is_waited_for_and_a_missing_one_only_warns(server, browser, tmp_path):
    override = tmp_path / "trackers.toml"
    override.write_text(f'[capture]\ntimeout = {TIMEOUT}\nidle_timeout = 1\n[default]\ntrackers = ["late", "never"]\n'
                        f'[trackers.late]\nurl = "{server.url("/late/{number}")}"\nready = "#events .row"\n'
                        f'[trackers.never]\nurl = "{server.url("/late/never-{number}")}"\nready = "text=Returned"\n')
    targets, problems = parse_targets(["LP00412345678901"], load_trackers(override))
    assert not problems and [t.ready for t in targets] == ["#events .row", "text=Returned"]
    result = capture_targets(targets, tmp_path / "out", config=load_trackers(override), max_photo_bytes=None,
                             browser=browser)
    found, missing = result.captures
    assert '<p class="row">Delivered in Kazan</p>' in found.html.read_text() and not found.warnings
    assert "'text=Returned'" in missing.warnings[0] and "had not appeared" in missing.warnings[0]
