"""Tracking stage: real headless Chromium against pages served from 127.0.0.1 (never the internet)."""
from __future__ import annotations

import io
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from evidence_kit.errors import CaseError, InputError
from evidence_kit import api
from evidence_kit.model.manifest import verify_package
from evidence_kit.tools.chromium import Browser, find_chromium
from evidence_kit.cli import main
from evidence_kit.fsutil import sha256_file
from evidence_kit.model.options import BuildOptions
from evidence_kit.media.tracking import (STAMP_BACKGROUND, Target, capture_targets, load_trackers, parse_targets,
                                   read_events, stamp, _png_bytes)

from .conftest import CASE_TOML, ROOT

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="needs Chromium (apt-get install chromium)")

TIMEOUT = 2.0  # seconds per page in these tests: every wait is bounded by it

STATIC = """<!DOCTYPE html><html><head><title>Parcel LP00412345678901</title></head>
<body style="margin:0;font-family:sans-serif;background:#fff"><h1>Parcel LP00412345678901</h1>
<table id="events"><tr><td>2026-11-01</td><td>Shenzhen</td><td>Departed from sorting center</td></tr>
<tr><td>2026-11-09</td><td>Moscow</td><td>Arrived at customs</td></tr></table></body></html>"""

DELAYED = """<!DOCTYPE html><html><body><h1>Loading tracking...</h1><div id="events"></div><script>
setTimeout(() => { const row = document.createElement('p'); row.className = 'row';
  row.textContent = '2026-11-20 Delivered to the buyer in Kazan'; document.getElementById('events').append(row); },
  1500);</script></body></html>"""

NEVER_LOADS = """<!DOCTYPE html><html><body><h1>Parcel in transit</h1><p>Events shown</p>
<img src="/hang" width="10" height="10"></body></html>"""

TALL = """<!DOCTYPE html><html><body style="margin:0"><div style="height:4000px;
background:linear-gradient(#fff,#9cf)"><h1 style="margin:0">Tall tracking history</h1></div></body></html>"""

CONSENT = """<!DOCTYPE html><html><body style="margin:0;background:#fff"><h1>Parcel status: delivered</h1>
<div style="position:fixed;inset:0;background:rgba(0,0,0,0.7)"></div>
<div id="privacy-dialog" style="position:fixed;left:20%;top:30%;width:60%;background:#eee;padding:30px">
We use cookies to improve the site. <button>Accept all</button> <button>Reject</button></div>
<script>alert('Welcome to the tracking site');</script></body></html>"""

SAVED = """<!DOCTYPE html>
<!-- saved from url=(0045)https://parcelsapp.com/en/tracking/LP00412345 -->
<html><body><h1>Saved: in transit</h1><img src="http://127.0.0.1:{port}/beacon.png">
<link rel="stylesheet" href="http://127.0.0.1:{port}/style.css"></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    flaky_hits: dict[str, int] = {}

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass

    def _send(self, body: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        pages = {"/static.html": STATIC, "/delayed.html": DELAYED, "/never.html": NEVER_LOADS, "/tall.html": TALL,
                 "/consent.html": CONSENT}
        if self.path in pages:
            self._send(pages[self.path])
        elif self.path == "/redirect":
            self._send("", 302, {"Location": "/static.html"})
        elif self.path.startswith("/flaky"):  # good the first time, 404 afterwards
            hits = self.flaky_hits[self.path] = self.flaky_hits.get(self.path, 0) + 1
            self._send(STATIC if hits == 1 else "gone", 200 if hits == 1 else 404)
        elif self.path == "/download":
            self._send("a,b\n", 200, {"Content-Type": "text/csv", "Content-Disposition": "attachment; filename=x.csv"})
        elif self.path in ("/hang", "/silent"):  # never answers (until the server stops)
            self.server.stopping.wait(30)  # type: ignore[attr-defined]
        else:
            self._send("<h1>Not found</h1>", 404)


@pytest.fixture(scope="module")
def server():
    """A threaded HTTP server on 127.0.0.1 at a free port: ``server.url(path)``, ``server.hits``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.hits = []
    httpd.stopping = threading.Event()
    httpd.url = lambda path: f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.stopping.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """HTTPS on 127.0.0.1 with a self-signed certificate, which Chromium must refuse."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.hits, httpd.stopping = [], threading.Event()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/static.html"
    httpd.stopping.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="class")
def browser():
    """One browser for the capture tests. Playwright's sync API allows one instance per thread, so it is
    closed before the tests that start their own (build, in-process CLI)."""
    with Browser() as running:
        yield running


@pytest.fixture(scope="module")
def config():
    base = load_trackers()
    return replace(base, capture=base.capture.model_copy(update={"timeout": TIMEOUT, "idle_timeout": 1.0,
                                                                 "max_part_height": 4000}))


def page(url: str, name: str, **extra: str) -> Target:
    return Target("page", name, url=url, **extra)


def assert_stamped(png: Path, page_height: int | None = None) -> Image.Image:
    """The PNG has the dark evidence band under the page: its bottom rows are the band colour."""
    image = Image.open(png).convert("RGB")
    assert image.width == 1280
    bottom = image.crop((0, image.height - 6, image.width, image.height)).getcolors(1 << 16)
    assert max(bottom)[1] == STAMP_BACKGROUND
    if page_height is not None:
        assert image.height > page_height  # the band is added below the page, not drawn over it
    return image


class TestCapture:
    """Captures through one shared browser."""

    def test_static_page_is_captured_with_stamp_html_and_hashes(self, server, browser, config, tmp_path):
        result = capture_targets([page(server.url("/redirect"), "static", number="LP00412345678901")], tmp_path,
                                 config=config, max_photo_bytes=2_000_000, browser=browser)
        assert not result.failures
        [capture] = result.captures
        assert capture.status == 200 and capture.final_url == server.url("/static.html")  # after the redirect
        image = assert_stamped(capture.pngs[0], capture.page_height)
        assert image.getpixel((640, 300)) == (255, 255, 255)  # the page itself is untouched above the band
        html = capture.html.read_text()
        assert html.startswith("<!DOCTYPE html>") and "Departed from sorting center" in html
        assert "__evidence_kit_caret" not in html  # the page as the site sent it, not our screenshot style
        record = json.loads(capture.record.read_text())
        assert record["requested_url"] == server.url("/redirect")
        assert record["final_url"] == server.url("/static.html")
        assert record["sha256"] == {"static.png": sha256_file(capture.pngs[0]),
                                    "static.html": sha256_file(capture.html)}
        assert record["captured_utc"].endswith("+00:00") and record["captured_local"]
        [jpeg] = capture.jpegs
        assert jpeg.stat().st_size <= 2_000_000 and Image.open(jpeg).format == "JPEG"


    @pytest.mark.slow
    def test_wait_for_text_and_selector_catch_events_added_by_script(self, server, browser, config, tmp_path):
        url = server.url("/delayed.html")
        plain = capture_targets([page(url, "plain")], tmp_path, config=config, max_photo_bytes=None, browser=browser)
        assert '<p class="row">' not in plain.captures[0].html.read_text()  # why --wait-for exists
        by_text = capture_targets([page(url, "text")], tmp_path, config=config, max_photo_bytes=None, browser=browser,
                                  wait_for="Delivered to the buyer")
        by_css = capture_targets([page(url, "css")], tmp_path, config=config, max_photo_bytes=None, browser=browser,
                                 wait_for="#events .row")
        for result in (by_text, by_css):
            assert not result.failures
            assert '<p class="row">2026-11-20 Delivered' in result.captures[0].html.read_text()


    @pytest.mark.slow
    def test_wait_for_that_never_appears_is_an_error_and_writes_nothing(self, server, browser, config, tmp_path):
        result = capture_targets([page(server.url("/static.html"), "never")], tmp_path, config=config,
                                 max_photo_bytes=2_000_000, browser=browser, wait_for="text=Delivered")
        [(target, message)] = result.failures
        assert "did not appear" in message and "Delivered" in message
        assert list(tmp_path.iterdir()) == []


    @pytest.mark.slow
    def test_page_that_never_finishes_loading_is_captured_within_the_timeout(self, server, browser, config, tmp_path):
        started = time.monotonic()
        result = capture_targets([page(server.url("/never.html"), "never")], tmp_path, config=config,
                                 max_photo_bytes=None, browser=browser)
        elapsed = time.monotonic() - started
        [capture] = result.captures
        assert any("had not finished loading" in w for w in capture.warnings)
        assert "Events shown" in capture.html.read_text()
        # Bounded: load wait + idle wait + screenshot, each capped; generous so a busy machine passes.
        assert elapsed < 4 * TIMEOUT + 20


    @pytest.mark.slow
    def test_failures_are_recorded_per_url_and_the_others_go_on(self, server, browser, config, tmp_path):
        with socket.socket() as probe:  # a free port that nothing listens on once the probe is closed
            probe.bind(("127.0.0.1", 0))
            closed_port = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        targets = [page(server.url("/missing"), "missing"), page(server.url("/silent"), "silent"),
                   page(closed_port, "closed"), page(server.url("/download"), "download"),
                   page("ftp://127.0.0.1/x", "ftp"), page(server.url("/static.html"), "good")]
        result = capture_targets(targets, tmp_path, config=config, max_photo_bytes=2_000_000, browser=browser)
        messages = {target.name: message for target, message in result.failures}
        assert "HTTP 404" in messages["missing"]
        assert "did not answer within 2 s" in messages["silent"]
        assert "refused" in messages["closed"]
        assert "download" in messages["download"]
        assert "only http:// and https://" in messages["ftp"]
        assert [c.target.name for c in result.captures] == ["good"]
        assert sorted(p.stem for p in tmp_path.iterdir()) == ["good"] * 4  # png, html, json, jpg of the good one


    def test_untrusted_tls_certificate_is_an_error(self, tls_server, browser, config, tmp_path):
        result = capture_targets([page(tls_server, "tls")], tmp_path, config=config, max_photo_bytes=None,
                                 browser=browser)
        [(_, message)] = result.failures
        assert "certificate is not valid (TLS)" in message
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.slow
    def test_tall_page_is_split_into_stamped_parts(self, server, browser, config, tmp_path):
        split = replace(config, capture=config.capture.model_copy(update={"max_part_height": 1500}))
        result = capture_targets([page(server.url("/tall.html"), "tall")], tmp_path, config=split,
                                 max_photo_bytes=30_000, browser=browser)
        [capture] = result.captures
        assert capture.page_height == 4000
        assert [p.name for p in capture.pngs] == ["tall-part1.png", "tall-part2.png", "tall-part3.png"]
        heights = [assert_stamped(p).height for p in capture.pngs]
        assert heights[0] == heights[1] > 1500 and heights[2] < heights[0]  # 1500 + band, 1500 + band, 1000 + band
        # The photo limit was lowered to 30 kB: every JPEG must still fit (scaled down by fit_image if need be).
        assert len(capture.jpegs) == 3 and all(j.stat().st_size <= 30_000 for j in capture.jpegs)


    def test_consent_overlay_hidden_and_alert_dismissed(self, server, browser, config, tmp_path):
        result = capture_targets([page(server.url("/consent.html"), "consent")], tmp_path, config=config,
                                 max_photo_bytes=None, browser=browser)
        [capture] = result.captures
        assert capture.overlays_hidden >= 2  # the dialog and its dark backdrop
        assert any("Welcome to the tracking site" in w and "dismissed" in w for w in capture.warnings)
        [popup] = [w for w in capture.warnings if getattr(w, "kind", "") == "popup_dismissed"]
        assert "Welcome to the tracking site" in popup.params["said"]  # the web app words it from its kind
        image = Image.open(capture.pngs[0]).convert("RGB")
        assert image.getpixel((640, 450)) == (255, 255, 255)  # not darkened by the backdrop


    def test_a_failed_capture_never_replaces_a_good_earlier_one(self, server, browser, config, tmp_path):
        url = server.url("/flaky.html")
        first = capture_targets([page(url, "flaky")], tmp_path, config=config, max_photo_bytes=2_000_000,
                                browser=browser)
        before = {p.name: sha256_file(p) for p in tmp_path.iterdir()}
        second = capture_targets([page(url, "flaky")], tmp_path, config=config, max_photo_bytes=2_000_000,
                                 browser=browser)
        assert first.captures and second.failures and not second.captures
        assert {p.name: sha256_file(p) for p in tmp_path.iterdir()} == before


    def test_saved_page_renders_offline_without_any_request(self, server, browser, config, tmp_path):
        saved = tmp_path / "in" / "parcels.html"
        saved.parent.mkdir()
        saved.write_text(SAVED.format(port=server.server_address[1]))
        hits_before = list(server.hits)
        targets, problems = parse_targets([str(saved)], config)
        result = capture_targets(targets, tmp_path / "out", config=config, max_photo_bytes=None, browser=browser)
        [capture] = result.captures
        assert not problems and capture.target.kind == "saved_page"
        assert capture.final_url == "https://parcelsapp.com/en/tracking/LP00412345"  # from the "saved from" comment
        assert capture.html.read_bytes() == saved.read_bytes()  # the buyer's file itself, byte for byte
        assert server.hits == hits_before  # the image and stylesheet it points at were never requested
        assert_stamped(capture.pngs[0])


    def test_events_timeline_from_csv_and_json(self, browser, config, tmp_path):
        csv_file = tmp_path / "tracking.csv"
        csv_file.write_text("Time,Place,Status\n2026-11-01 10:00,Shenzhen 深圳,Departed <script>x</script>\n"
                            "2026-11-09 08:12,Moscow,Arrived at customs\n", encoding="utf-8")
        json_file = tmp_path / "events.json"
        json_file.write_text(json.dumps({"events": [{"date": "2026-11-01", "location": "Shenzhen",
                                                     "event": "Accepted"}]}))
        result = capture_targets([Target("events", "timeline", path=csv_file, number="LP00412345678901"),
                                  Target("events", "timeline-json", path=json_file)], tmp_path / "out",
                                 config=config, max_photo_bytes=2_000_000, browser=browser)
        assert not result.failures
        page_html = result.captures[0].html.read_text()
        assert "Entered by the buyer" in page_html and "深圳" in page_html
        assert "&lt;script&gt;" in page_html and "<script>x" not in page_html
        for capture in result.captures:
            assert_stamped(capture.pngs[0])


def test_bad_events_files_name_the_line(tmp_path):
    bad = tmp_path / "tracking.csv"
    bad.write_text("time,place,status\n2026-11-01,Shenzhen,Departed\n2026-11-02,Moscow,\n")
    with pytest.raises(InputError, match="line 3: missing status"):
        read_events(bad)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(InputError, match="no tracking events"):
        read_events(empty)


def test_numbers_become_tracker_urls_and_overrides_replace_by_name(tmp_path):
    override = tmp_path / "trackers.toml"
    override.write_text('[default]\ntrackers = ["local"]\n[trackers.local]\nname = "Local tracker"\n'
                        'url = "http://127.0.0.1:1/t/{number}"\n[trackers.cainiao]\n'
                        'url = "http://127.0.0.1:1/cainiao?n={number}"\ncarrier = true\naliases = ["aliexpress"]\n')
    config = load_trackers(override)
    targets, problems = parse_targets(["LP00412345678901", "https://example.org/x", "file:///etc/passwd", "no!"],
                                      config, carrier="AliExpress")
    assert [t.url for t in targets] == ["http://127.0.0.1:1/cainiao?n=LP00412345678901",
                                        "http://127.0.0.1:1/t/LP00412345678901", "https://example.org/x"]
    assert [word for word, _ in problems] == ["file:///etc/passwd", "no!"]
    builtin = load_trackers()
    assert builtin.find("cainiao") and builtin.sites_for("")[0].key == "17track"


def test_stamp_adds_a_band_below_and_keeps_the_page():
    page_image = Image.new("RGB", (1280, 500), (255, 255, 255))
    stamped = stamp(page_image, ["URL: https://example.org/" + "x" * 300, "Captured: now"])
    assert stamped.height > 500 + 60  # the long URL wrapped onto more lines
    assert stamped.crop((0, 0, 1280, 500)).getcolors() == [(1280 * 500, (255, 255, 255))]


@pytest.mark.parametrize("kind", ["page", "saved_page", "events"])
def test_the_stamp_says_the_source_and_the_time_and_not_our_versions(kind, browser, config, tmp_path):
    """The mediator reads where the image came from and when; our program's and the browser's versions are for
    the manifest (kept there), not for the image the buyer uploads. The band is drawn from these lines, pixel for
    pixel (tests/test_tracking_concurrent.py)."""
    from datetime import datetime, timezone

    from evidence_kit import __version__
    from evidence_kit.media.tracking import stamp_lines

    target = {"page": Target("page", "p", url="https://t.17track.net/en#nums=LP00412345678901"),
              "saved_page": Target("saved_page", "s", path=Path("tracking/page.html"), shown="tracking/page.html"),
              "events": Target("events", "e", path=Path("tracking/tracking.csv"), number="LP00412345678901")}[kind]
    captured = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
    lines = stamp_lines(target, final_url="", captured=captured, part=2, parts=3)
    text = "\n".join(lines)
    assert "evidence-kit" not in text and __version__ not in text and "Chromium" not in text
    assert {"page": "URL: https://t.17track.net/", "saved_page": "Saved page: page.html",
            "events": "from tracking.csv"}[kind] in text
    assert "2026-11-20 09:30:00 UTC" in text and "part 2 of 3" in text.lower()
    # The versions stay in the capture's record (and the build's manifest).
    saved = tmp_path / "tracking" / "page.html"
    saved.parent.mkdir()
    saved.write_text("<h1>Saved</h1>")
    result = capture_targets([Target("saved_page", "s", path=saved, shown="tracking/page.html")], tmp_path / "out",
                             config=config, max_photo_bytes=None, browser=browser)
    record = json.loads(result.captures[0].record.read_text())
    assert record["tool"] == f"evidence-kit {__version__}" and record["browser"] == f"Chromium {browser.version}"


NOT_RECEIVED = CASE_TOML.replace('reason = "damaged"', 'reason = "not_received"').replace(
    "delivered = 2026-10-30\n", "")


@pytest.mark.slow
def test_build_captures_case_tracking_and_fills_free_photo_slots(server, make_case):
    toml = NOT_RECEIVED + f'\n[[tracking]]\nurl = "{server.url("/static.html")}"\nnumber = "LP00412345678901"\n' \
                          '\n[[tracking]]\nnumber = "RB123456789CN"\ncarrier = "cainiao"\n' \
                          f'\n[[tracking]]\nurl = "{server.url("/missing")}"\n'
    root = make_case(toml=toml)
    (root / "tracking").mkdir()
    (root / "tracking" / "tracking.csv").write_text("time,place,status\n2026-11-01,Shenzhen,Departed\n")
    (root / "tracking" / "trackers.toml").write_text(f"[capture]\ntimeout = {TIMEOUT}\nidle_timeout = 1\n")
    result = api.build(root, options=BuildOptions(), reuse_unchanged=False).result
    section = result.manifest.sections["tracking"]
    assert [c["kind"] for c in section["captures"]] == ["page", "events"], section
    assert [e["target"] for e in section["errors"]] == [server.url("/missing")]
    assert section["not_looked_up"][0]["number"] == "RB123456789CN"  # no URL: not fetched without the option
    assert "global.cainiao.com" in section["not_looked_up"][0]["urls"][0]
    uploaded = [r for r in result.manifest.outputs if r.upload and r.role == "photo"]
    assert [r.info["kind"] for r in uploaded] == ["tracking", "tracking"]  # no photos: two free slots used
    assert all(r.bytes <= 2_000_000 and r.path.startswith("upload/photo-") for r in uploaded)
    roles = sorted(r.role for r in result.manifest.outputs if r.path.startswith("tracking/"))
    assert roles == ["tracking", "tracking", "tracking_html", "tracking_html", "tracking_record", "tracking_record"]
    assert result.exit_code == 1  # the 404 is reported, the package is still written
    assert verify_package(result.package).ok


@pytest.mark.slow
def test_rebuild_keeps_the_earlier_capture_when_the_page_now_fails(server, make_case):
    url = server.url("/flaky-build.html")
    root = make_case(toml=NOT_RECEIVED + f'\n[[tracking]]\nurl = "{url}"\n')
    (root / "trackers.toml").write_text(f"[capture]\ntimeout = {TIMEOUT}\nidle_timeout = 1\n")
    first = api.build(root, reuse_unchanged=False).result
    [png] = [r for r in first.manifest.outputs if r.role == "tracking"]
    second = api.build(root, reuse_unchanged=False).result  # the same package folder: the site now answers 404
    [kept] = [r for r in second.manifest.outputs if r.role == "tracking"]
    assert (kept.path, kept.sha256) == (png.path, png.sha256) and kept.info["kept_from_earlier_build"]
    assert "HTTP 404" in second.manifest.errors[0].message  # the failure is still reported
    [warning] = [w for w in second.manifest.warnings if "was kept" in w.message]
    assert warning.kind == "earlier_capture_kept" and warning.params["captured"] == kept.info["captured_utc"]
    assert [r.info["kind"] for r in second.manifest.outputs if r.upload and r.role == "photo"] == ["tracking"]
    assert verify_package(second.package).ok


def test_build_without_chromium_reports_it_and_finishes_the_package(make_case, monkeypatch, tmp_path):
    monkeypatch.setenv("EVIDENCE_KIT_CHROMIUM", str(tmp_path / "no-such-chromium"))
    root = make_case(toml=NOT_RECEIVED)
    (root / "tracking").mkdir()
    (root / "tracking" / "tracking.csv").write_text("time,place,status\n2026-11-01,Shenzhen,Departed\n")
    result = api.build(root, reuse_unchanged=False).result
    [error] = [e for e in result.manifest.errors if e.stage == "tracking"]
    assert error.code == 4 and "apt-get install chromium" in error.message
    assert result.exit_code == 4 and verify_package(result.package).ok  # a missing program: exit 4


@pytest.mark.slow
def test_cli_track_in_a_subprocess(server, tmp_path):
    out = tmp_path / "shots"
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "track", server.url("/static.html"),
                           server.url("/missing"), "--out", str(out), "--timeout", str(TIMEOUT), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert [c["target"] for c in data["captures"]] == [server.url("/static.html")]
    assert "HTTP 404" in data["errors"][0]["message"]
    assert (out / data["captures"][0]["png"][0]).is_file()


def test_no_browser_gives_the_install_hint_and_exit_code(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EVIDENCE_KIT_CHROMIUM", str(tmp_path / "no-such-chromium"))
    code = main(["track", server.url("/static.html"), "--out", str(tmp_path / "out")])
    assert code == 4
    assert "apt-get install chromium" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_bad_trackers_toml_lists_every_problem_at_once_with_its_file(tmp_path):
    override = tmp_path / "trackers.toml"
    override.write_text('[capture]\ntimeout = true\nviewprt_width = 3\n[trackers.x]\nurl = "ftp://a/{number}"\n'
                        '[trackers.y]\nurl = "https://a/"\n[foo]\n')
    with pytest.raises(CaseError) as caught:
        load_trackers(override)
    assert caught.value.path == str(override)
    assert caught.value.problems == [
        "trackers.x.url: only http:// and https:// addresses are accepted",
        'trackers.y.url: needs the place of the number: url = "https://...{number}..."',
        "foo: unknown key (known: capture, default, trackers)",
        "capture.timeout: must be a number, got True",
        "capture.viewprt_width: unknown key (did you mean 'viewport_width'?)"]


def test_playwright_driver_keeps_its_compiled_code_in_our_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with Browser():
        pass
    cache = tmp_path / "evidence-kit" / "node-compile-cache"
    assert any(path.is_file() for path in cache.rglob("*"))  # Node wrote the driver's compiled code there
    monkeypatch.setenv("NODE_COMPILE_CACHE", str(tmp_path / "users-own"))
    with Browser():
        pass
    assert any(path.is_file() for path in (tmp_path / "users-own").rglob("*"))


def test_a_user_without_a_home_folder_runs_without_the_compile_cache(monkeypatch):
    from evidence_kit.tools.chromium import _cache_node_compilation

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")  # what Path.home() raises then

    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    _cache_node_compilation()
    assert "NODE_COMPILE_CACHE" not in os.environ


HEADLESS_SHELL = shutil.which("chromium-headless-shell")


@pytest.mark.skipif(HEADLESS_SHELL is None or find_chromium(headless_shell=False) is None,
                    reason="needs chromium-headless-shell and chromium (make test installs both)")
def test_captures_run_the_headless_shell_and_it_renders_what_the_full_browser_does(server, config, tmp_path,
                                                                                    monkeypatch):
    monkeypatch.delenv("EVIDENCE_KIT_CHROMIUM", raising=False)
    full = find_chromium(headless_shell=False)
    assert find_chromium() == Path(HEADLESS_SHELL) and full.name in ("chromium", "chromium-browser",
                                                                     "google-chrome", "google-chrome-stable")
    pages = {}
    for engine in (None, full):  # None: what a capture picks by itself
        with Browser(engine) as running:
            result = capture_targets([page(server.url("/static.html"), f"static-{running.executable.name}")],
                                     tmp_path, config=config, max_photo_bytes=None, browser=running)
        [capture] = result.captures
        image = assert_stamped(capture.pngs[0], capture.page_height)
        pages[running.executable] = image.crop((0, 0, image.width, capture.page_height))
    assert list(pages) == [Path(HEADLESS_SHELL), full]
    shell_page, full_page = pages.values()
    assert shell_page.size == full_page.size and shell_page.tobytes() == full_page.tobytes()


def test_playwright_s_own_headless_shell_is_found_beside_its_chromium(tmp_path):
    from evidence_kit.tools.chromium import _playwright_headless_shell

    browsers = tmp_path / "ms-playwright"
    own = browsers / "chromium-1255" / "chrome-linux64" / "chrome"
    own.parent.mkdir(parents=True)
    own.touch()
    assert _playwright_headless_shell(own) is None  # Chromium alone: no shell
    old = browsers / "chromium_headless_shell-1140" / "chrome-linux" / "headless_shell"  # before Chrome for Testing
    new = browsers / "chromium_headless_shell-1255" / "chrome-headless-shell-linux64" / "chrome-headless-shell"
    for shell in (old, new):
        shell.parent.mkdir(parents=True)
        shell.touch()
    assert _playwright_headless_shell(own) == new  # the newest revision


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (1280, 901)])
def test_capture_pngs_hold_exactly_the_stamped_pixels_for_any_decoder(size, tmp_path):
    rng = random.Random(size[0])
    noise = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    for image in (noise, noise.convert("RGBA"), stamp(noise, ["URL: http://127.0.0.1/track"])):
        data = _png_bytes(image)
        decoded = Image.open(io.BytesIO(data))
        assert (decoded.format, decoded.mode, decoded.size) == ("PNG", "RGB", image.size)
        assert decoded.tobytes() == image.convert("RGB").tobytes()
        if Path("/usr/bin/convert").is_file():  # libpng through ImageMagick: a second decoder, strict on CRCs
            done = subprocess.run(["/usr/bin/convert", "png:-", "rgb:-"], input=data, capture_output=True,
                                  timeout=60)
            assert done.returncode == 0 and not done.stderr, done.stderr
            assert done.stdout == image.convert("RGB").tobytes()


def test_capture_pngs_are_smaller_than_pillows_on_a_tracking_page():
    page = Image.new("RGB", (1280, 2400), "white")
    draw = ImageDraw.Draw(page)
    for row in range(60):
        draw.text((24, 20 + 38 * row), f"2026-11-{1 + row % 28:02d} 08:15  Shenzhen  Departed from sorting center",
                  fill=(20, 20, 20), font=ImageFont.load_default(size=18))
        draw.line((24, 48 + 38 * row, 700, 48 + 38 * row), fill=(221, 221, 221))
    pillow = io.BytesIO()
    page.save(pillow, "PNG", compress_level=3)
    assert len(_png_bytes(page)) < len(pillow.getvalue())


def test_preflight_finds_playwrights_own_download_when_no_system_browser_is_installed(tmp_path, monkeypatch):
    from evidence_kit.tools.chromium import CHROMIUM

    browsers = tmp_path / "browsers"
    chrome = browsers / "chromium-1255" / "chrome-linux64" / "chrome"
    shell = browsers / "chromium_headless_shell-1255" / "chrome-headless-shell-linux64" / "chrome-headless-shell"
    monkeypatch.delenv("EVIDENCE_KIT_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(browsers))
    assert CHROMIUM.path() is None
    for found in (chrome, shell):  # the shell, once there, is preferred
        found.parent.mkdir(parents=True)
        found.touch()
        assert CHROMIUM.path() == str(found)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", "0")  # Playwright's browsers inside its package: none here
    assert CHROMIUM.path() is None

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("PLAYWRIGHT_BROWSERS_PATH")
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert CHROMIUM.path() is None  # a user without a home folder gets "not installed", not a crash
