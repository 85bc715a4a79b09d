"""The case page tells the truth about the package (issue 23, points 1, 5, 6 and 7).

The photo list is the library's upload plan after every move and toggle; removing a file keeps the unsaved
order and captions and can be undone; a reload during a build follows that build; a package without evidence
never reads as all well; the deadline banner names the deadline that binds; a mistyped key in a hand-written
case.toml can be saved away from the page; a case with two videos has a visible, saved choice.
HTTP tests against a real ``evidence-kit serve``; browser tests in real Chromium (tests/test_web_browser.py).
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from PIL import Image

from evidence_kit.fsutil import case_lock

from .conftest import noisy_photo
from .test_web_api import FACTS, WebServer, new_case
from .test_web_browser import browser, until  # noqa: F401 - browser is a fixture

SHOTS = Path("/tmp")  # screenshots a person looks at: /tmp/h-*.png
TURNS = (None, Image.Transpose.ROTATE_90, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_270,
         Image.Transpose.FLIP_LEFT_RIGHT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"), "--jobs", "2")
    yield running
    running.client.close()
    running.stop()


@pytest.fixture()
def page(browser: Any, server: WebServer) -> Iterator[Any]:  # noqa: F811 - the imported fixture
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.goto(f"{server.base}/?token={server.token}")
    yield opened
    context.close()
    assert not errors, errors  # no script error on any page of the test


def jpeg(seed: int, size: tuple[int, int] = (480, 360)) -> bytes:
    """A photo unlike the others (each seed turned its own way, so none is a near-duplicate)."""
    image = noisy_photo(*size, seed=seed)
    turn = TURNS[seed % len(TURNS)]
    buffer = io.BytesIO()
    (image.transpose(turn) if turn is not None else image).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def case_with(server: WebServer, files: list[tuple[str, bytes]], kind: str = "auto",
              facts: dict[str, Any] = FACTS) -> str:
    case_id = new_case(server, facts)
    if files:
        response = server.client.post(f"/api/cases/{case_id}/files?kind={kind}",
                                      files=[("files", (name, data)) for name, data in files])
        assert response.status_code == 201, response.text
    return case_id


def listed(page: Any) -> list[dict[str, str]]:
    """The photo list as the buyer sees it, top to bottom: path, slot label, whether it is greyed out."""
    return page.eval_on_selector_all("#photo-list li.photo:not([hidden])", """els => els.map(e => ({
        path: e.dataset.path, label: e.querySelector('.slot').textContent.trim(),
        out: e.classList.contains('left-out')}))""")


def planned(server: WebServer, case_id: str, body: dict[str, Any]) -> list[dict[str, str]]:
    """The library's plan for the page's unsaved choices, as the list should show it."""
    plan = server.client.post(f"/api/cases/{case_id}/plan", json=body,
                              headers={"accept-language": "en"}).json()["plan"]
    return [{"path": p["path"], "label": p["label"], "out": not p["used"]} for p in plan["photos"]]


def compact(value: Any) -> str:
    """``value`` as JavaScript's JSON.stringify writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def open_case(page: Any, server: WebServer, case_id: str) -> None:
    page.goto(f"{server.base}/cases/{case_id}")
    page.locator("#photo-list, #files .empty, #video-choice").first.wait_for()


# --- point 1: the list is the library's plan after every move and toggle --------------------------------------

@pytest.mark.slow
def test_the_list_follows_the_librarys_plan_after_a_toggle_and_a_move(page: Any, server: WebServer) -> None:
    case_id = case_with(server, [(f"IMG_{i}.jpg", jpeg(i)) for i in range(4)])
    open_case(page, server, case_id)
    first = listed(page)
    assert first == planned(server, case_id, {})  # before any change: the build's own choice and order
    # No number of the page's own beside the library's slot (a CSS counter numbered photos 1..n regardless).
    assert page.evaluate("""[...document.querySelectorAll('#photo-list li.photo')].every(
        li => ['none', 'normal', ''].includes(getComputedStyle(li, '::before').content))""")

    # Leave the first photo out: four distinct photos no longer need the grid, and the list says so at once.
    skipped = first[0]["path"]
    page.locator("#photo-list li.photo").first.locator("input.use").uncheck()
    expected = planned(server, case_id, {"photos": [{"file": skipped, "skip": True}]})
    until(page, f"JSON.stringify({json.dumps([e['path'] for e in expected])}) === JSON.stringify("
                "[...document.querySelectorAll('#photo-list li.photo')].map(e => e.dataset.path))")
    until(page, f"document.querySelector('#photo-list li.photo:last-child .slot').textContent.trim() === "
                f"{json.dumps(expected[-1]['label'])}")
    assert listed(page) == expected and expected[-1] == {"path": skipped, "out": True,
                                                         "label": "Skipped: you chose not to upload it"}
    assert page.evaluate("document.activeElement.classList.contains('use')")  # focus went with the checkbox

    # Move the third photo to the top: it takes slot 1, the others follow in the page's order.
    third = listed(page)[2]["path"]
    for _ in range(2):
        page.locator(f"#photo-list li.photo[data-path='{third}'] button.up").click()
    order = [p["path"] for p in listed(page)]
    ranks = [{"file": p, "rank": i + 1, **({"skip": True} if p == skipped else {})} for i, p in enumerate(order)]
    expected = planned(server, case_id, {"photos": ranks})
    until(page, f"document.querySelector('#photo-list li.photo .slot').textContent.trim() === "
                f"{json.dumps(expected[0]['label'])} && document.querySelector('#photo-list li.photo')"
                f".dataset.path === {json.dumps(third)}")
    until(page, f"JSON.stringify([...document.querySelectorAll('#photo-list li.photo .slot')].map("
                f"e => e.textContent.trim())) === {json.dumps(compact([e['label'] for e in expected]))}")
    assert listed(page) == expected and expected[0]["label"] == "Photo 1 of 3 in the form"
    page.screenshot(path=str(SHOTS / "h-plan-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=str(SHOTS / "h-plan-360.png"), full_page=True)


# --- point 5: remove keeps the page's work and can be undone; a reload follows the running build --------------

def wait_for(check: Any, page: Any, seconds: float = 30) -> None:
    """Poll a Python condition (the server's files) while the page runs."""
    for _ in range(int(seconds * 10)):
        if check():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {seconds} s")


@pytest.mark.slow
def test_remove_keeps_the_unsaved_order_and_captions_and_can_be_undone(page: Any, server: WebServer) -> None:
    case_id = case_with(server, [(f"IMG_{i}.jpg", jpeg(i)) for i in range(3)])
    root = server.workspace / case_id
    page.on("dialog", lambda dialog: dialog.accept())  # a confirmation, if one is asked, is answered yes
    open_case(page, server, case_id)
    photos = page.locator("#photo-list li.photo")
    photos.nth(2).locator("button.up").click()  # an order and a caption the buyer has not saved
    photos.nth(0).locator("input.caption").fill("The crack, close up")
    order = [p["path"] for p in listed(page)]
    middle = order[1]

    page.locator(f"#photo-list li.photo[data-path='{middle}'] button.remove").click()
    until(page, f"!document.querySelector(\"#photo-list li.photo[data-path='{middle}']\") || "
                f"document.querySelector(\"#photo-list li.photo[data-path='{middle}']\").hidden")
    assert [p["path"] for p in listed(page)] == [order[0], order[2]]
    # Focus moves to the next photo's remove button, and the status offers Undo.
    assert page.evaluate("document.activeElement.closest('li.photo').dataset.path") == order[2]
    assert page.evaluate("document.activeElement.classList.contains('remove')")
    assert "IMG_" in page.text_content("#remove-status") and page.is_visible("#undo-remove")
    page.click("#undo-remove")
    until(page, f"JSON.stringify([...document.querySelectorAll('#photo-list li.photo:not([hidden])')].map("
                f"e => e.dataset.path)) === {json.dumps(compact(order))}")
    assert (root / middle).is_file()
    assert page.evaluate("document.activeElement.closest('li.photo').dataset.path") == middle

    # Removed for good (the delay passes): the file goes, the unsaved order and caption stay.
    page.locator(f"#photo-list li.photo[data-path='{middle}'] button.remove").click()
    wait_for(lambda: not (root / middle).exists(), page)
    page.locator("#undo-remove").wait_for(state="hidden")
    page.wait_for_load_state("networkidle")
    assert [p["path"] for p in listed(page)] == [order[0], order[2]]
    assert page.input_value("#photo-list li.photo >> nth=0 >> input.caption") == "The crack, close up"
    until(page, "document.querySelector('#photo-list li.photo .slot').textContent.startsWith('Photo 1 of 3')")
    assert [p["path"] for p in listed(page)] == [p["path"] for p in planned(
        server, case_id, {"photos": [{"file": order[0], "rank": 1, "caption": "The crack, close up"},
                                     {"file": order[2], "rank": 2}]})]
    shoot_both(page, "remove")


def shoot_both(page: Any, name: str) -> None:
    """Full-page screenshots at 1280 and 360 px for a person to look at (/tmp/h-NAME-WIDTH.png)."""
    before = dict(page.viewport_size)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"h-{name}-{width}.png"), full_page=True)
    page.set_viewport_size(before)


@pytest.mark.slow
def test_a_reload_during_a_build_follows_it_and_focus_and_copy_behave(page: Any, server: WebServer) -> None:
    case_id = case_with(server, [("IMG_0.jpg", jpeg(0))])
    root = server.workspace / case_id
    assert server.events(server.client.post(f"/api/cases/{case_id}/build").json()["job"])[-1][1]["status"] == "built"
    facts = server.client.get(f"/api/cases/{case_id}").json()["facts"]
    facts["dispute"]["notes"] = "Arrived broken, the base is cracked."
    assert server.client.put(f"/api/cases/{case_id}", json=facts).status_code == 200
    with case_lock(root):  # a build that cannot finish yet (it waits for the case, as for a CLI build)
        job = server.client.post(f"/api/cases/{case_id}/build").json()["job"]
        open_case(page, server, case_id)  # the page is loaded (or reloaded) while the build runs
        until(page, "document.getElementById('build').disabled && !document.getElementById('stages').hidden")
        # The status follows the job's first event, which may come a moment after the page is drawn.
        until(page, "['Waiting for a free worker…', 'Building…']"
                    ".includes(document.getElementById('build-status').textContent)")
        assert "press Build" not in page.text_content("#result")  # the old result is not called out of date
        assert "A build of this case is running" in page.text_content("#result")
        shoot_both(page, "reattach")
    page.wait_for_selector("body[data-last-build='built']", timeout=60_000)
    assert server.client.get(f"/api/jobs/{job}").json()["finished"]
    assert page.is_enabled("#build") and "A build of this case is running" not in page.text_content("#result")

    # Build from the page: the focus stays on Build (not the page body) once the result is in.
    page.focus("#build")
    page.evaluate("document.body.dataset.lastBuild = ''")
    page.click("#build")
    page.wait_for_selector("body[data-last-build='unchanged'], body[data-last-build='built']", timeout=60_000)
    until(page, "document.getElementById('build').disabled === false")
    assert page.evaluate("document.activeElement.id") == "build"

    # Copy twice: the button says Copied. and then its own label again.
    copy = page.locator("button.copy").first
    copy.click()
    copy.click()
    assert copy.text_content() == "Copied."
    until(page, "document.querySelector('button.copy').textContent === 'Copy'", seconds=10)


# --- point 6: what the result says is what the package has ---------------------------------------------------

def build(server: WebServer, case_id: str) -> str:
    """Build the case and return its result section as the page shows it (English)."""
    done = server.events(server.client.post(f"/api/cases/{case_id}/build").json()["job"])[-1][1]
    assert done["status"] in ("built", "unchanged"), done
    return server.client.get(f"/cases/{case_id}/fragment/result", headers={"accept-language": "en"}).text


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def not_received(shipped_days_ago: int, protection_ends_in: int | None) -> dict[str, Any]:
    today = date.today()
    order = {"number": "8100000000000004", "price": "20.00", "currency": "USD",
             "ordered": (today - timedelta(shipped_days_ago + 2)).isoformat(),
             "shipped": (today - timedelta(shipped_days_ago)).isoformat()}
    if protection_ends_in is not None:
        order["protection_ends"] = (today + timedelta(protection_ends_in)).isoformat()
    return {"title": f"Lost parcel {shipped_days_ago}", "order": order, "dispute": {"reason": "not_received"}}


def english_day(day: date) -> str:
    from babel.dates import format_date

    return format_date(day, format="long", locale="en")


@pytest.mark.slow
def test_a_package_without_evidence_says_what_is_missing_never_all_well(server: WebServer) -> None:
    case_id = case_with(server, [], facts={**FACTS, "title": "Nothing yet", "tracking": []})
    html = build(server, case_id)
    words = text_of(html)
    assert "0 of 3 photos" in words
    assert "every file matches" not in words and not re.search(r'class="ok-text"[^>]*>[^<]*checked', html)
    missing = re.search(r'<div class="missing"[^>]*>(.*?)</div>', html, re.S)
    assert missing, words
    said = text_of(missing.group(1))
    assert "photos where the damage" in said.lower() or "no photos" in said.lower(), said
    assert "damaged:" not in said  # the reason is not repeated before each line

    # With the evidence, the check is green and the missing box is gone.
    full = case_with(server, [(f"IMG_{i}.jpg", jpeg(i)) for i in range(2)] + [("unboxing.mp4", clip())],
                     facts={**FACTS, "title": "All there", "tracking": []})
    html = build(server, full)
    assert '<div class="missing"' not in html and re.search(r'class="ok-text"[^>]*>\s*Files checked', html)


def clip(source: str = "testsrc") -> bytes:
    """A 6-second test video (as tests/test_web_browser.py makes it: every contact-sheet frame decodes)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"{source}=size=320x240:rate=15:duration=6",
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p", str(path)],
                       check=True)
        return path.read_bytes()


@pytest.mark.slow
def test_the_banner_names_the_deadline_that_binds(server: WebServer) -> None:
    # Shipped 64 days ago, no end of buyer protection known: urgent, with no day to name - never "unknown".
    headline = banner(build(server, case_with(server, [], facts=not_received(64, None))))
    assert headline == "Urgent: open the dispute now", headline
    # Protection ends in 30 days: the last day to open is 15 days later, but protection's end is what binds.
    headline = banner(build(server, case_with(server, [], facts=not_received(20, 30))))
    ends = english_day(date.today() + timedelta(30))
    assert headline == f"Open the dispute now, before buyer protection ends: {ends}", headline
    # No shipping date: only then is the deadline unknown.
    facts = not_received(20, None)
    del facts["order"]["shipped"]
    assert banner(build(server, case_with(server, [], facts=facts))) == "Deadline unknown: add the shipping date"


def banner(html: str) -> str:
    found = re.search(r'<div class="banner [^"]*"[^>]*><strong>(.*?)</strong>', html, re.S)
    assert found, text_of(html)
    return found.group(1).strip()


@pytest.mark.slow
def test_the_checklist_counts_the_files_the_buyer_gave(server: WebServer) -> None:
    events = "time,place,status\n" + "".join(f"2026-10-{d:02d} 10:00,Shenzhen,Step {d}\n" for d in range(4, 9))
    case_id = case_with(server, [("tracking.csv", events.encode())], kind="tracking")
    words = text_of(build(server, case_id))
    have = re.findall(r"✓ ([^✓✗○]*?)(?= ✓| ✗| ○|$)", words.split("Evidence checklist", 1)[1])
    assert "Tracking events you typed in: tracking.csv" in [h.strip() for h in have], have
    assert "tracking_events_typed" not in words and not any(re.search(r"Tracking[^:]*: 5\b", h) for h in have)


# --- point 7: a mistyped key in a hand-written case.toml; a choice between two videos --------------------------

@pytest.mark.slow
def test_a_mistyped_key_is_shown_plainly_and_saved_away_from_the_page(page: Any, server: WebServer) -> None:
    case_id = case_with(server, [("IMG_0.jpg", jpeg(0))], facts={**FACTS, "title": "Typo"})
    toml = server.workspace / case_id / "case.toml"
    text = toml.read_text(encoding="utf-8")
    typo = text.replace('store = "Lamp Store"\n', "").replace("[dispute]\n", '[dispute]\nstor = "Lamp Store"\n')
    toml.write_text(typo, encoding="utf-8")
    assert server.client.get(f"/api/cases/{case_id}").json()["problems"]  # the file as the buyer left it
    open_case(page, server, case_id)
    notice = page.text_content("#toml-problems")
    assert 'stor = "Lamp Store"' in notice and "does not know" in notice
    assert "unknown key (known:" not in notice  # the validator's list of keys is not what the buyer reads
    shoot_both(page, "typo")
    move = page.locator("#toml-problems button.move-key")
    assert move.text_content() == "Use it as: Store (seller)"
    move.click()
    assert page.input_value("[id='f-order.store']") == "Lamp Store"
    assert page.evaluate("document.activeElement.id") == "f-order.store"
    page.click("#save")
    page.wait_for_selector("#save-status:text('Saved.')")
    saved = tomllib.loads(toml.read_text(encoding="utf-8"))
    assert "stor" not in saved["dispute"] and saved["order"]["store"] == "Lamp Store"
    assert page.is_hidden("#toml-problems")
    until(page, "document.querySelector('#photo-list li.photo .slot').textContent.startsWith('Photo 1 of 3')")

    # Without the offer taken, Save simply leaves the entry out (never a 422 for ever).
    again = toml.read_text(encoding="utf-8").replace("[dispute]\n", '[dispute]\nstor = "x"\n')
    toml.write_text(again, encoding="utf-8")
    open_case(page, server, case_id)
    page.click("#save")
    page.wait_for_selector("#save-status:text('Saved.')")
    assert "stor" not in tomllib.loads(toml.read_text(encoding="utf-8"))["dispute"]


@pytest.mark.slow
def test_two_videos_a_visible_choice_saved_as_the_video_file(page: Any, server: WebServer) -> None:
    case_id = case_with(server, [("a-unboxing.mp4", clip()), ("b-closeup.mp4", clip("testsrc2"))],
                        facts={**FACTS, "title": "Two videos"})
    open_case(page, server, case_id)
    videos = page.eval_on_selector_all("#video-choice .video", "els => els.map(e => e.dataset.path)")
    assert videos == ["video/a-unboxing.mp4", "video/b-closeup.mp4"]
    radios = page.locator("#video-choice input[name='video-choice']")
    assert radios.count() == 3 and page.is_visible("#video-choice legend")  # two videos and "No video"
    assert page.is_checked("#video-choice input[value='video/a-unboxing.mp4']")  # the first, as the build takes it
    # Trim the first, then choose the second: the trim was for the first, so it is neither shown nor saved.
    page.fill("#video-start", "1")
    page.dispatch_event("#video-start", "input")
    page.check("#video-choice input[value='video/b-closeup.mp4']")
    until(page, "document.querySelector(\"#video-choice .video[data-path='video/b-closeup.mp4'] .slot\")"
                ".textContent === 'Uploaded as the video'")
    assert page.text_content("#video-choice .video[data-path='video/a-unboxing.mp4'] .slot") == \
        "Not uploaded: the form takes one video"
    assert page.is_hidden("#files .trim")
    page.click("#save")
    page.wait_for_selector("#save-status:text('Saved.')")
    saved = tomllib.loads((server.workspace / case_id / "case.toml").read_text(encoding="utf-8"))
    assert saved["video"] == {"file": "video/b-closeup.mp4"}
    # Shown again from case.toml: the choice stays, and the trim is offered for the chosen video.
    until(page, "document.querySelector(\"#video-choice .video[data-path='video/b-closeup.mp4'] .trim\") !== null")
    shoot_both(page, "videos")
