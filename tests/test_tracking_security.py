"""A saved tracking page is a file from anywhere (a seller, a forum, a chat): rendering it offline must show
only the page and what sits beside it in the case's tracking folder, never another local file and never the
network (issue 24). Real Chromium through the project's launcher; the only server is on 127.0.0.1."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from evidence_kit import api
from evidence_kit.media.tracking import capture_targets, case_targets, load_trackers, parse_targets
from evidence_kit.model.options import BuildOptions
from evidence_kit.tools.chromium import Browser, find_chromium

from .conftest import CASE_TOML

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="needs Chromium (apt-get install chromium)")

MARKER = "SECRET-7f3a9c-NOT-FOR-THE-PACKAGE"
MAGENTA, GREEN = (255, 0, 255), (0, 255, 0)
NOT_RECEIVED = CASE_TOML.replace('reason = "damaged"', 'reason = "not_received"').replace(
    "delivered = 2026-10-30\n", "")


def count_near(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """Pixels within ``tolerance`` of ``colour`` on every channel (JPEG shifts flat colours a little)."""
    rgb = image.convert("RGB")
    bands = [band.point(lambda v, c=c: 255 if abs(v - c) <= tolerance else 0) for band, c in zip(rgb.split(), colour)]
    both = bands[0]
    for band in bands[1:]:
        both = Image.composite(band, Image.new("L", rgb.size, 0), both)
    return both.histogram()[255]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files outside the case that a hostile page points at: a secret page (magenta, with the marker in its
    title and text), a magenta picture, a stylesheet that would paint a block magenta."""
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "secret.html").write_text(f"<html><head><title>{MARKER}</title></head>"
                                        f'<body style="margin:0;background:#f0f"><h1>{MARKER}</h1></body></html>')
    Image.new("RGB", (200, 200), MAGENTA).save(folder / "magenta.png")
    (folder / "evil.css").write_text("#box { background: #f0f !important; }")
    (folder / "secret.txt").write_text(MARKER + "\n")
    return folder


def case_with_page(make_case, page: str, *, toml: str = NOT_RECEIVED) -> Path:
    root = make_case(toml=toml)
    tracking = root / "tracking"
    tracking.mkdir()
    Image.new("RGB", (200, 200), GREEN).save(tracking / "green.png")
    (tracking / "page.html").write_text(page, encoding="utf-8")
    return root


def hostile_page(outside: Path) -> str:
    """Every way a page loads a local file without scripts; the green sibling must still show."""
    private = outside.as_uri()
    up = os.path.relpath(outside, outside.parent / "case" / "tracking")  # ../../private, from the tracking folder
    return f"""<!DOCTYPE html><html><head><title>Parcel LP00412345678901</title>
<link rel="stylesheet" href="{private}/evil.css">
<style>@import url("{private}/evil.css"); .bg {{ background: url("{private}/magenta.png"); }}</style></head>
<body style="margin:0;background:#fff"><h1>Parcel LP00412345678901: in transit</h1>
<img src="green.png" width="200" height="200">
<div id="box" style="width:200px;height:200px;background:#fff"></div>
<img src="{private}/magenta.png" width="200" height="200">
<img src="file://localhost{outside / 'magenta.png'}" width="200" height="200">
<img src="{up}/magenta.png" width="200" height="200">
<img src="{up.replace('..', '%2e%2e')}/magenta.png" width="200" height="200">
<div class="bg" style="width:200px;height:200px"></div>
<iframe src="{private}/secret.html" width="300" height="200"></iframe>
<iframe src="{private}/secret.txt" width="300" height="200"></iframe>
<object data="{private}/secret.html" width="300" height="200"></object>
<embed src="{private}/secret.html" width="300" height="200">
<iframe srcdoc='<img src="{private}/magenta.png" width="200" height="200">' width="300" height="220"></iframe>
<svg width="200" height="200"><image href="{private}/magenta.png" width="200" height="200"/></svg>
</body></html>"""


@pytest.mark.slow
def test_a_built_package_shows_no_local_file_from_outside_the_tracking_folder(make_case, outside):
    root = case_with_page(make_case, hostile_page(outside))
    result = api.build(root, options=BuildOptions(), reuse_unchanged=False).result
    package = result.package
    assert result.manifest.errors == [], result.manifest.errors
    [png] = [package / r.path for r in result.manifest.outputs if r.role == "tracking"]
    [jpeg] = [package / r.path for r in result.manifest.outputs if r.upload and r.info.get("kind") == "tracking"]
    for image_file in (png, jpeg):
        with Image.open(image_file) as image:
            assert count_near(image, GREEN) >= 150 * 150, image_file.name  # the sibling picture is there
            assert count_near(image, MAGENTA) == 0, image_file.name  # nothing from outside is
    pdf = subprocess.run(["pdftotext", str(package / "summary.pdf"), "-"], capture_output=True, text=True,
                         check=True).stdout
    assert "Parcel" in pdf or "Tracking" in pdf
    texts = [pdf] + [f.read_text(encoding="utf-8", errors="replace") for f in package.rglob("*")
                     if f.is_file() and f.suffix in (".json", ".html", ".txt", ".md")]
    assert not [t for t in texts if MARKER in t]
    # One plain warning, naming the page by its place in the case and the blocked files by name only.
    blocked = [w.message for w in result.manifest.warnings if "outside the tracking folder" in w.message]
    assert blocked and blocked[0].startswith("tracking/page.html "), result.manifest.warnings
    assert "magenta.png" in blocked[0] and "not loaded" in blocked[0]
    assert not [w for w in result.manifest.warnings if str(outside) in w.message or str(root) in w.message]


@pytest.mark.slow
def test_a_capture_that_fails_is_named_by_its_place_in_the_case(make_case):
    root = case_with_page(make_case, f"<html>{GREEN_PAGE}</body></html>")
    (root / "tracking" / "events.csv").write_text("time,place,status\n2026-11-01,Shenzhen,\n")  # no status
    result = api.build(root, reuse_unchanged=False).result
    section = json.loads((result.package / "manifest.json").read_text(encoding="utf-8"))["tracking"]
    assert [e["target"] for e in section["errors"]] == ["tracking/events.csv"]
    assert [c["target"] for c in section["captures"]] == ["tracking/page.html"]
    pdf = subprocess.run(["pdftotext", str(result.package / "summary.pdf"), "-"], capture_output=True, text=True,
                         check=True).stdout
    assert "Not captured: tracking/events.csv" in pdf.replace("\n", " ") and str(root) not in pdf


# Builds start their own Playwright, which the sync API allows once per thread: they run above, before the
# browser shared by the tests below is started.
@pytest.fixture(scope="module")
def browser():
    with Browser() as running:
        yield running


@pytest.fixture(scope="module")
def config():
    return load_trackers()


@pytest.fixture
def counting_server():
    """A TCP listener on 127.0.0.1 that answers any HTTP request with a small magenta page and counts every
    connection it accepts (a preconnect without a request counts too)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    accepted: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    accepted.append(conn.recv(2000))
                    body = b'<html><body style="background:#f0f">' + MARKER.encode() + b"</body></html>"
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                except OSError:
                    accepted.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{listener.getsockname()[1]}", accepted=accepted)
    stop.set()
    thread.join(5)
    listener.close()


def capture_case(root: Path, browser: Browser, config, out: Path, name: str = "page.html"):
    """Capture one of the case's saved pages as a build does (its targets, one shared browser)."""
    targets, _, _ = case_targets(api.load_case(root), config, look_up_numbers=False)
    [target] = [t for t in targets if t.path and t.path.name == name]
    result = capture_targets([target], out, config=config, max_photo_bytes=2_000_000, browser=browser)
    if result.failures:
        return result.failures[0][1]
    [capture] = result.captures
    return capture


def shown(capture) -> Image.Image:
    with Image.open(capture.pngs[0]) as image:
        return image.convert("RGB")


GREEN_PAGE = ('<body style="margin:0;background:#fff"><h1>Parcel in transit</h1>'
              '<img src="green.png" width=200 height=200>')


@pytest.mark.parametrize("where", ["file", "network"])
def test_a_meta_refresh_never_leaves_the_saved_page(make_case, outside, browser, config, counting_server, tmp_path,
                                                     where):
    goal = (outside / "secret.html").as_uri() if where == "file" else counting_server.url + "/next"
    root = case_with_page(make_case, f'<html><head><meta http-equiv="refresh" content="0;url={goal}">'
                                     f"<title>Parcel</title></head>{GREEN_PAGE}</body></html>")
    capture = capture_case(root, browser, config, tmp_path / "out")
    image = shown(capture)
    assert count_near(image, MAGENTA) == 0 and count_near(image, GREEN) >= 150 * 150  # still the buyer's page
    assert MARKER not in capture.record.read_text() and capture.title == "Parcel"
    assert counting_server.accepted == []
    assert any("tried to open another page" in w for w in capture.warnings), capture.warnings


def test_a_symlink_out_of_the_tracking_folder_is_refused(make_case, outside, browser, config, tmp_path):
    root = case_with_page(make_case, f"<html>{GREEN_PAGE}<img src='looks-local.png' width=200 height=200>"
                                     "<img src='assets/magenta.png' width=200 height=200>"
                                     "<iframe src='note.html' width=300 height=200></iframe></body></html>")
    tracking = root / "tracking"
    (tracking / "looks-local.png").symlink_to(outside / "magenta.png")
    (tracking / "assets").symlink_to(outside, target_is_directory=True)
    (tracking / "note.html").symlink_to(outside / "secret.html")
    capture = capture_case(root, browser, config, tmp_path / "out")
    image = shown(capture)
    assert count_near(image, MAGENTA) == 0
    assert count_near(image, GREEN) >= 150 * 150
    [warning] = [w for w in capture.warnings if "outside the tracking folder" in w]
    assert "looks-local.png" in warning and str(outside) not in warning
    # A page that is itself a link out of the folder is not shown at all.
    refused = capture_case(root, browser, config, tmp_path / "note", name="note.html")
    assert refused == "it is a link to a file outside the tracking folder; it was not shown"
    assert not (tmp_path / "note").exists() or not list((tmp_path / "note").iterdir())


def test_a_saved_page_never_contacts_the_network(make_case, browser, config, counting_server, tmp_path):
    url = counting_server.url
    root = case_with_page(make_case, f"""<html><head><link rel="stylesheet" href="{url}/style.css">
<link rel="preconnect" href="{url}"><link rel="prefetch" href="{url}/prefetch">
<link rel="preload" as="image" href="{url}/preload.png"><link rel="icon" href="{url}/favicon.ico">
<base href="{url}/base/"></head><body><h1>Parcel in transit</h1>
<img src="{url}/x.png"><iframe src="{url}/frame"></iframe><object data="{url}/object"></object>
<video src="{url}/video.mp4" poster="{url}/poster.png" autoplay></video><img src="relative-to-base.png">
<a ping="{url}/ping" href="{url}/link">link</a><form action="{url}/form"><input type=image src="{url}/i.png"></form>
<script src="{url}/script.js"></script><script>fetch("{url}/fetch"); location = "{url}/away";</script>
</body></html>""")
    capture = capture_case(root, browser, config, tmp_path / "out")
    assert counting_server.accepted == []
    assert count_near(shown(capture), MAGENTA) == 0
    assert any("network" in w and "127.0.0.1" in w and "not loaded" in w for w in capture.warnings), capture.warnings


def test_scripts_in_a_saved_page_do_not_run(make_case, outside, browser, config, counting_server, tmp_path):
    """A saved page is shown as it was saved: its scripts would re-render it without its data (the site is not
    there), and they are the way to read files and call out. So no script runs, whatever it asks."""
    private = outside.as_uri()
    root = case_with_page(make_case, f"""<html><head><title>Parcel</title></head>{GREEN_PAGE}
<div id="events">2026-11-01 Departed from Shenzhen</div>
<script>document.getElementById("events").textContent = "rewritten by a script";
fetch("{counting_server.url}/fetch"); new Image().src = "{counting_server.url}/beacon";
const xhr = new XMLHttpRequest(); xhr.open("GET", "{private}/secret.txt", false); xhr.send();
document.title = xhr.responseText; window.open("{private}/secret.html");
window.location = "{private}/secret.html";</script></body></html>""")
    capture = capture_case(root, browser, config, tmp_path / "out")
    assert counting_server.accepted == []
    assert capture.title == "Parcel" and MARKER not in capture.record.read_text()
    image = shown(capture)
    assert count_near(image, MAGENTA) == 0 and count_near(image, GREEN) >= 150 * 150


def test_track_of_a_loose_page_loads_only_its_own_files_folder(outside, browser, config, tmp_path):
    """``evidence-kit track ~/Downloads/page.html``: the folder around it is the user's, not the case's
    tracking folder; the page may load its "Web page, complete" folder (page_files/) and nothing else."""
    downloads = tmp_path / "Downloads"
    (downloads / "page_files").mkdir(parents=True)
    Image.new("RGB", (200, 200), GREEN).save(downloads / "page_files" / "green.png")
    Image.new("RGB", (200, 200), MAGENTA).save(downloads / "passport.png")  # the user's own file beside it
    (downloads / "page.html").write_text('<body style="margin:0;background:#fff"><h1>Saved</h1>'
                                         '<img src="page_files/green.png" width=200 height=200>'
                                         '<img src="passport.png" width=200 height=200></body>')
    targets, problems = parse_targets([str(downloads / "page.html")], config)
    result = capture_targets(targets, tmp_path / "out", config=config, max_photo_bytes=None, browser=browser)
    [capture] = result.captures
    image = shown(capture)
    assert count_near(image, GREEN) >= 150 * 150 and count_near(image, MAGENTA) == 0
    assert any("passport.png" in w for w in capture.warnings)
    record = json.loads(capture.record.read_text())
    assert record["target"] == "page.html"  # the file by name: the record never holds a local path
    assert str(tmp_path) not in capture.record.read_text()


def test_capture_records_name_case_files_relative_to_the_case(make_case, browser, config, tmp_path):
    root = case_with_page(make_case, f"<html>{GREEN_PAGE}</body></html>")
    (root / "tracking" / "tracking.csv").write_text("time,place,status\n2026-11-01,Shenzhen,Departed\n")
    targets, _, _ = case_targets(api.load_case(root), config, look_up_numbers=False)
    result = capture_targets(targets, tmp_path / "out", config=config, max_photo_bytes=None, browser=browser)
    assert sorted(c.to_dict()["target"] for c in result.captures) == ["tracking/page.html", "tracking/tracking.csv"]
    for capture in result.captures:
        assert str(tmp_path) not in capture.record.read_text()

