"""The buyer's journey in each interface language at 1280 and 360 px, in real Chromium (issue 23, "Done when").

Each run: a chat screenshot dropped and two photos picked on the start page with the kind choice (the chat is
filed in chat/, never uploaded as photo 1); Create clicked twice makes one case; the photo order the case page
shows before any move is the built package's upload order; a reload during a build re-attaches to it; a mistyped
key in a hand-written case.toml fixed from the page; a build with no evidence names what is missing and shows no
green check; no console or page errors; in ru, es and pt_BR no English page string or library phrasing visible;
nothing sideways at 360 px. The page of each run is saved as /tmp/l-result-<lang>-<width>.png, its result
section as /tmp/l-result-section-<lang>-<width>.png.
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from evidence_kit.fsutil import case_lock

from .conftest import noisy_photo
from .test_web_api import WebServer
from .firefox_bidi import Firefox
from .test_web_browser import browser, drop, no_sideways_scroll, until  # noqa: F401 - browser is a fixture
from .test_web_firefox import choose_day, firefox  # noqa: F401 - firefox is a fixture (skips without Firefox)
from .test_web_i18n import ENGLISH

LANGUAGES = ("en", "ru", "es", "pt_BR")
WIDTHS = (1280, 360)
# Besides the page's own words (test_web_i18n.ENGLISH): what the result, the photo list, the banner and the
# library's messages said in English before they were translated.
LIBRARY_ENGLISH = ("Files checked", "Not ready for the form yet", "Add what is missing", "Download all",
                   "Upload these into the dispute form", "Summary PDF", "Photo 1 of", "in the form", "Uploaded as",
                   "Skipped", "press Build", "A build of this case is running", "Waiting for a free worker",
                   "Building", "Evidence checklist", "buyer protection", "Urgent", "Deadline unknown",
                   "All deadlines", "photos where", "unboxing video", "No photos", "characters", "hash distance",
                   "ranked lower", "look-up-tracking", "seller_contacted", "notes_en", "Copy", "Done",
                   "does not know", "Use it in the form", "fix them below", "Chat with the seller",
                   "Chat screenshots", "Tracking screenshots")
NUMBERS = itertools.count(8204417765390100)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small generated files: two photos unlike each other and a chat screenshot."""
    folder = tmp_path_factory.mktemp("inputs")
    files = {"chat": folder / "chat.png", "photos": [folder / "IMG_200.jpg", folder / "IMG_201.jpg"]}
    noisy_photo(300, 500, seed=9, noise=2).save(files["chat"])
    noisy_photo(480, 360, seed=1).save(files["photos"][0], "JPEG", quality=85)
    noisy_photo(480, 360, seed=2).rotate(90, expand=True).save(files["photos"][1], "JPEG", quality=85)
    return files


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"), "--jobs", "2")
    yield running
    running.client.close()
    running.stop()


# The text a person can read on the page now, without what the page marks as English on purpose (lang="en")
# and the case's own data typed by the buyer.
VISIBLE_TEXT = """(() => {
    let text = document.body.innerText;
    const drop = (part) => { if (part.trim()) text = text.split(part).join(" "); };
    for (const e of document.querySelectorAll("body [lang='en']")) drop(e.innerText);
    for (const e of document.querySelectorAll("input, textarea")) drop(e.value);
    return text;
})()"""
# The colour of text in the result that is green (the "all well" colour) beside missing evidence.
GREEN_IN_RESULT = """(() => {
    const probe = document.createElement("span");
    probe.className = "ok-text";
    document.body.append(probe);
    const ok = getComputedStyle(probe).color;
    probe.remove();
    return [...document.querySelectorAll("#result .downloads *, #result .missing *")]
        .filter((e) => e.textContent.trim() && getComputedStyle(e).color === ok).map((e) => e.textContent);
})()"""


def english_in(text: str) -> list[str]:
    return [w for w in ENGLISH + LIBRARY_ENGLISH if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]


def english_shown(page: Any) -> list[str]:
    """The listed English strings a person can read on the page now."""
    return english_in(page.evaluate(VISIBLE_TEXT))


def check_page(page: Any, language: str, width: int, where: str) -> None:
    if language != "en":
        assert english_shown(page) == [], (language, width, where)
    if width == 360:
        no_sideways_scroll(page)


def facts(number: str, title: str) -> dict[str, Any]:
    today = date.today()
    return {"title": title, "order": {"number": number, "store": "Sunny Home Store", "price": "35",
                                      "currency": "USD", "ordered": (today - timedelta(30)).isoformat(),
                                      "shipped": (today - timedelta(28)).isoformat(),
                                      "delivered": (today - timedelta(3)).isoformat(),
                                      "protection_ends": (today + timedelta(20)).isoformat()},
            "dispute": {"reason": "damaged", "resolution": "refund_only", "amount": "35",
                        "notes": "Arrived with a long crack, it leaks."}}


def fill_start_form(page: Any, number: str) -> None:
    given = facts(number, f"Kettle {number[-3:]}")
    page.fill("#f-title", given["title"])
    for key, value in given["order"].items():
        if key != "currency":
            page.fill(f"[id='f-order.{key}']", value)
    page.select_option("[id='f-dispute.reason']", "damaged")
    page.select_option("[id='f-dispute.resolution']", "refund_only")
    page.fill("[id='f-dispute.amount']", "35")
    page.fill("[id='f-dispute.notes']", given["dispute"]["notes"])


def uploaded_photo_sources(package: Path) -> list[str]:
    """The inputs of upload/'s photos, in their upload order (photo-1-…, photo-2-…), from manifest.json."""
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    photos = [r for r in manifest["outputs"] if r.get("upload") and r["role"] == "photo"]
    assert all(r["path"].startswith("upload/") for r in photos), photos
    return [r["source"] for r in sorted(photos, key=lambda r: int(re.search(r"photo-(\d+)", r["path"]).group(1)))]


def wait_built(page: Any) -> None:
    page.wait_for_selector("body[data-last-build='built']", timeout=60_000)
    page.locator("#result .downloads").wait_for()


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_journey(browser: Any, server: WebServer, inputs: dict[str, Any], language: str, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda message: errors.append(f"console: {message.text} {message.location}")
                if message.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.goto(f"{server.base}/?token={server.token}&lang={language}")
        assert page.evaluate("document.documentElement.lang") == language.replace("_", "-")

        # The start page: the chat screenshot dropped as "chat screenshots", the photos picked "sorted by type".
        if page.is_hidden("#new-case"):  # cases of earlier runs are listed: the form waits for its button
            page.click("#new-case-button")
        check_page(page, language, width, "start")
        page.select_option("#file-kind", "chat")
        drop(page, "#dropzone", [inputs["chat"]], "image/png")
        page.select_option("#file-kind", "auto")
        page.set_input_files("#file-picker", [str(p) for p in inputs["photos"]])
        rows = page.locator("#pending-list li")
        assert rows.count() == 3
        assert [rows.nth(i).locator("select").input_value() for i in range(3)] == ["chat", "auto", "auto"]
        number = str(next(NUMBERS))
        fill_start_form(page, number)
        check_page(page, language, width, "start with files")

        # Create, double-clicked: one case.
        before = {c["id"] for c in server.client.get("/api/cases").json()["cases"]}
        with page.expect_navigation(url=re.compile(r"/cases/[^/?]+$"), timeout=30_000):
            page.dblclick("#save")
        case_id = page.url.rsplit("/", 1)[1]
        made = {c["id"] for c in server.client.get("/api/cases").json()["cases"]} - before
        assert made == {case_id}
        root = server.workspace / case_id
        files = server.client.get(f"/api/cases/{case_id}/files").json()["files"]
        assert [f["path"] for f in files["chat"]] == ["chat/chat.png"]
        assert sorted(f["path"] for f in files["photos"]) == ["photos/IMG_200.jpg", "photos/IMG_201.jpg"]
        # A whole price comes back as typed, not as "35.0" (a dot no language but English writes there).
        page.locator("[id='f-order.price']").wait_for()
        assert (page.input_value("[id='f-order.price']"), page.input_value("[id='f-dispute.amount']")) == ("35", "35")

        # The case page's photo list, without a move: the chat screenshot is not among them.
        page.locator("#photo-list li.photo").nth(1).wait_for()
        shown = page.eval_on_selector_all("#photo-list li.photo", "els => els.map(e => e.dataset.path)")
        assert sorted(shown) == ["photos/IMG_200.jpg", "photos/IMG_201.jpg"]
        check_page(page, language, width, "case")

        # Build, held at the case lock so it is still running when the page is reloaded: the page re-attaches.
        with case_lock(root):
            page.click("#build")
            until(page, "document.getElementById('build').disabled && !document.getElementById('stages').hidden")
            page.reload()
            page.locator("#photo-list li.photo").first.wait_for()
            until(page, "document.getElementById('build').disabled && !document.getElementById('stages').hidden")
            assert page.evaluate("document.body.dataset.lastBuild || ''") == ""
        wait_built(page)
        assert page.is_enabled("#build")
        # Each stage of the build named in words, never by the stage's own id (a stage the page had no label
        # for showed its id: "chat").
        stages = page.eval_on_selector_all("#stages li", "els => els.map(e => [e.id.slice(6), "
                                                         "e.querySelector('.label').textContent])")
        assert "chat" in dict(stages) and not [s for s in stages if s[0] == s[1]], stages
        sources = uploaded_photo_sources(root / "evidence-package")
        # The order on screen is the upload order of the item photos; the chat screenshot is not photo 1: it
        # takes the free slot after them (stages/chat.py), which the page shows beside it (api.plan_upload).
        assert sources[: len(shown)] == shown and sources[len(shown):] == ["chat/chat.png"]
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=f"/tmp/l-result-{language}-{width}.png", full_page=True)
        page.locator("#result-section").screenshot(path=f"/tmp/l-result-section-{language}-{width}.png")
        check_page(page, language, width, "result")

        # A mistyped key written into case.toml by hand, fixed from the page.
        toml = root / "case.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace("[dispute]\n", '[dispute]\nstor = "X"\n', 1),
                        encoding="utf-8")
        page.reload()
        move = page.locator("#toml-problems button.move-key")
        move.wait_for()
        check_page(page, language, width, "case with a typo")
        move.click()
        assert page.input_value("[id='f-order.store']") == "X"
        with page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith(f"/api/cases/{case_id}"))\
                as answer:
            page.click("#save")
        assert answer.value.status == 200, answer.value.text()
        saved = tomllib.loads(toml.read_text(encoding="utf-8"))
        assert "stor" not in saved["dispute"] and saved["order"]["store"] == "X"
        page.locator("#toml-problems").wait_for(state="hidden")

        # A second case with the facts only: its result names what is missing, and nothing green says "checked".
        bare = server.client.post("/api/cases", json=facts(str(next(NUMBERS)), f"Nothing yet {language} {width}"))
        assert bare.status_code == 201, bare.text
        page.goto(f"{server.base}/cases/{bare.json()['id']}")
        page.locator("#build").wait_for()
        page.click("#build")
        wait_built(page)
        missing = page.locator("#result .missing li")
        assert missing.count() >= 1 and all(t.strip() for t in missing.all_inner_texts())
        assert page.locator("#result .ok-text").count() == 0
        assert page.evaluate(GREEN_IN_RESULT) == []
        page.locator("#result-section").screenshot(path=f"/tmp/l-empty-{language}-{width}.png")
        check_page(page, language, width, "result without evidence")
        assert errors == []
    finally:
        context.close()


@pytest.mark.slow
def test_the_case_page_shows_every_photo_the_package_uploads_in_its_slot(browser: Any, server: WebServer,
                                                                          inputs: dict[str, Any]) -> None:
    created = server.client.post("/api/cases", json=facts(str(next(NUMBERS)), "Chat in a free slot"))
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    for kind, paths in (("chat", [inputs["chat"]]), ("photos", inputs["photos"])):
        response = server.client.post(f"/api/cases/{case_id}/files?kind={kind}",
                                      files=[("files", (p.name, p.read_bytes())) for p in paths])
        assert response.status_code == 201, response.text
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{server.base}/?token={server.token}&lang=en")
        page.goto(f"{server.base}/cases/{case_id}")
        page.locator("#photo-list li.photo").nth(1).wait_for()
        # What the page says will be uploaded as a photo, top to bottom: each file shown with a slot in the form.
        slotted = page.eval_on_selector_all("#files [data-path]", """els => els.filter(
            (e) => e.querySelector('.slot') && !e.classList.contains('left-out')).map((e) => e.dataset.path)""")
        page.click("#build")
        wait_built(page)
        assert slotted == uploaded_photo_sources(server.workspace / case_id / "evidence-package")
    finally:
        context.close()


# --- the same journey in Firefox, in each language at each width (tests/firefox_bidi.py) ---------------------

DROP = """(selector, files) => {
    const transfer = new DataTransfer();
    for (const f of files) {
        const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], f.name, { type: f.type }));
    }
    const target = document.querySelector(selector);
    target.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
}"""
CHOOSE = """(selector, value) => {
    const field = document.querySelector(selector);
    field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
}"""


def double_click(firefox: Firefox, selector: str) -> None:  # noqa: F811 - the imported fixture's name
    """Two real mouse clicks in one action sequence, as a double click sends them."""
    origin = {"type": "element", "element": firefox.element(selector)}
    firefox.command("input.performActions", {"context": firefox.context, "actions": [{
        "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
            {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0},
            {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})


def firefox_errors(firefox: Firefox) -> list[str]:  # noqa: F811
    """Script errors and console errors the page has logged so far."""
    return [e["params"].get("text", "") for e in firefox.events
            if e.get("method") == "log.entryAdded" and e["params"].get("level") == "error"]


def firefox_check(firefox: Firefox, where: str, language: str = "ru") -> None:  # noqa: F811
    assert firefox_errors(firefox) == [], where
    if language != "en":
        assert english_in(firefox.evaluate(VISIBLE_TEXT)) == [], (language, where)
    wide = firefox.evaluate("""[...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth)
        .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`).slice(0, 5)""")
    assert firefox.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), \
        (where, wide)


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_journey_in_firefox(firefox: Firefox, server: WebServer,  # noqa: F811
                                inputs: dict[str, Any], language: str, width: int) -> None:
    firefox.set_viewport(width, 900)
    firefox.goto(f"{server.base}/?token={server.token}&lang={language}")
    assert firefox.evaluate("document.documentElement.lang") == language.replace("_", "-")
    if firefox.evaluate("document.getElementById('new-case').hidden"):
        firefox.click("#new-case-button")
    firefox_check(firefox, "start", language)
    firefox.call(CHOOSE, "#file-kind", "chat")
    firefox.call(DROP, "#dropzone", [{"name": inputs["chat"].name, "type": "image/png",
                                      "data": base64.b64encode(inputs["chat"].read_bytes()).decode()}])
    firefox.call(CHOOSE, "#file-kind", "auto")
    firefox.set_files("#file-picker", inputs["photos"])
    firefox.wait_for("document.querySelectorAll('#pending-list li').length === 3")
    assert firefox.evaluate("[...document.querySelectorAll('#pending-list li select')].map((s) => s.value)") == [
        "chat", "auto", "auto"]
    number = str(next(NUMBERS))
    given = facts(number, f"Kettle {number[-3:]}")
    firefox.type_into("#f-title", given["title"])
    for key in ("number", "store", "price"):
        firefox.type_into(f"[id='f-order.{key}']", given["order"][key])
    for key in ("ordered", "shipped", "delivered", "protection_ends"):
        choose_day(firefox, f"[id='f-order.{key}']", given["order"][key])
    firefox.call(CHOOSE, "[id='f-dispute.reason']", "damaged")
    firefox.call(CHOOSE, "[id='f-dispute.resolution']", "refund_only")
    firefox.type_into("[id='f-dispute.amount']", "35")
    firefox.type_into("[id='f-dispute.notes']", given["dispute"]["notes"])
    firefox_check(firefox, "start with files", language)

    before = {c["id"] for c in server.client.get("/api/cases").json()["cases"]}
    double_click(firefox, "#save")
    firefox.wait_for("location.pathname.startsWith('/cases/') && document.readyState === 'complete' && "
                     "document.querySelectorAll('#photo-list li.photo').length === 2")
    case_id = firefox.evaluate("location.pathname").rsplit("/", 1)[1]
    assert {c["id"] for c in server.client.get("/api/cases").json()["cases"]} - before == {case_id}
    root = server.workspace / case_id
    files = server.client.get(f"/api/cases/{case_id}/files").json()["files"]
    assert [f["path"] for f in files["chat"]] == ["chat/chat.png"]
    shown = firefox.evaluate("[...document.querySelectorAll('#photo-list li.photo')].map((e) => e.dataset.path)")
    assert sorted(shown) == ["photos/IMG_200.jpg", "photos/IMG_201.jpg"]
    firefox_check(firefox, "case", language)

    running = "document.getElementById('build').disabled && !document.getElementById('stages').hidden"
    with case_lock(root):
        firefox.click("#build")
        firefox.wait_for(running)
        firefox.command("browsingContext.reload", {"context": firefox.context, "wait": "complete"})
        firefox.wait_for(running)
        assert firefox.evaluate("document.body.dataset.lastBuild || ''") == ""
    firefox.wait_for("document.body.dataset.lastBuild === 'built' && "
                     "document.querySelector('#result .downloads') !== null", seconds=60)
    sources = uploaded_photo_sources(root / "evidence-package")
    assert sources[: len(shown)] == shown and sources[len(shown):] == ["chat/chat.png"]
    firefox.evaluate("window.scrollTo(0, 0)")
    firefox.screenshot(Path(f"/tmp/l-result-{language}-{width}-firefox.png"))
    firefox_check(firefox, "result", language)

    toml = root / "case.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[dispute]\n", '[dispute]\nstor = "X"\n', 1),
                    encoding="utf-8")
    firefox.command("browsingContext.reload", {"context": firefox.context, "wait": "complete"})
    firefox.wait_for("document.querySelector('#toml-problems button.move-key') !== null")
    firefox_check(firefox, "case with a typo", language)
    firefox.click("#toml-problems button.move-key")
    assert firefox.evaluate("document.getElementById('f-order.store').value") == "X"
    firefox.click("#save")
    firefox.wait_for("document.getElementById('toml-problems') === null || "
                     "document.getElementById('toml-problems').hidden")
    saved = tomllib.loads(toml.read_text(encoding="utf-8"))
    assert "stor" not in saved["dispute"] and saved["order"]["store"] == "X"

    bare = server.client.post("/api/cases", json=facts(str(next(NUMBERS)), "Nothing yet firefox"))
    assert bare.status_code == 201, bare.text
    firefox.goto(f"{server.base}/cases/{bare.json()['id']}")
    firefox.click("#build")
    firefox.wait_for("document.body.dataset.lastBuild === 'built' && "
                     "document.querySelector('#result .downloads') !== null", seconds=60)
    gaps = firefox.evaluate("[...document.querySelectorAll('#result .missing li')].map((e) => e.innerText.trim())")
    assert gaps and all(gaps)
    assert firefox.evaluate("document.querySelectorAll('#result .ok-text').length") == 0
    assert firefox.evaluate(GREEN_IN_RESULT) == []
    firefox_check(firefox, "result without evidence", language)
    assert firefox_errors(firefox) == []
