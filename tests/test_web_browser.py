"""The buyer's whole journey in real Chromium (Playwright) against a real ``evidence-kit serve``.

New case with a validation error fixed in place, files by the file picker and by a real drop event,
photo order and caption, Build with live progress, a text copied to the clipboard, the zip downloaded and
its upload/ checked against the limits. Screenshots at 1280 and 360 px wide go to tests/artifacts/web/.
"""
from __future__ import annotations

import base64
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from evidence_kit.model.manifest import count_chars
from evidence_kit.tools.chromium import find_chromium, launch_flags

from PIL import Image

from .conftest import noisy_photo
from .test_web_api import WebServer

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "web"
MAX_PHOTOS, MAX_PHOTO_BYTES, MAX_VIDEO_BYTES, MAX_TEXT_CHARS = 3, 2_000_000, 500_000_000, 1000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(args=launch_flags())
        except sync_api.Error:  # no browser of Playwright's own (it cannot be downloaded here): the system's
            executable = find_chromium(playwright, headless_shell=False)  # the full browser a buyer runs
            if executable is None:
                pytest.skip("no Chromium: sudo apt-get install chromium")
            launched = playwright.chromium.launch(executable_path=str(executable), args=launch_flags())
        yield launched
        launched.close()


def media(folder: Path) -> dict[str, Path]:
    """Small generated inputs: three photos, a chat screenshot and a 6-second video."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i in range(3):
        files[f"photo{i}"] = folder / f"IMG_10{i}.jpg"
        # turned differently, so the build's near-duplicate check keeps all three
        turn = (None, Image.Transpose.ROTATE_90, Image.Transpose.FLIP_TOP_BOTTOM)[i]
        image = noisy_photo(800, 600, seed=i)
        (image.transpose(turn) if turn is not None else image).save(files[f"photo{i}"], "JPEG", quality=88)
    files["chat"] = folder / "chat.png"
    noisy_photo(300, 500, seed=9, noise=2).save(files["chat"])
    files["video"] = folder / "unboxing.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=6",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p", str(files["video"])],
                   check=True)
    return files


def drop(page: Any, selector: str, files: list[Path], mime: str) -> None:
    """A real drop event: a DataTransfer holding File objects, dispatched on ``selector``."""
    payload = [{"name": f.name, "data": base64.b64encode(f.read_bytes()).decode(), "type": mime} for f in files]
    page.evaluate("""([selector, files]) => {
        const transfer = new DataTransfer();
        for (const f of files) {
            const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], f.name, { type: f.type }));
        }
        const target = document.querySelector(selector);
        target.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }""", [selector, payload])


def until(page: Any, condition: str, seconds: float = 20) -> None:
    """Wait for a JavaScript condition (polled from here: the app's CSP rightly refuses the eval that
    ``wait_for_function`` needs)."""
    for _ in range(int(seconds * 10)):
        if page.evaluate(condition):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {seconds} s: {condition}")


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots of this step at 1280 and 360 px wide (and nothing sideways at 360)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    before = dict(page.viewport_size)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        if width == 360:
            no_sideways_scroll(page)
    page.set_viewport_size(before)


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    limit = page.viewport_size["width"]
    wide = page.evaluate("""(limit) => [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > limit)
        .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${e.getBoundingClientRect().right}`)
        .slice(0, 5)""", limit)
    assert width <= limit, f"the page is {width} px wide at {limit} px: {wide}"


@pytest.mark.slow
def test_the_buyers_journey(browser: Any, tmp_path: Path) -> None:
    inputs = media(tmp_path / "inputs")
    server = WebServer(tmp_path / "workspace")
    print(f"\nscreenshots: {ARTIFACTS}")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="en-US")
    try:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
        page = context.new_page()
        page.goto(f"{server.base}/?token={server.token}")
        assert page.url == f"{server.base}/"  # the token went into a cookie, out of the address bar
        shoot(page, "01-start")
        page.keyboard.press("Tab")  # the keyboard's first stop skips the header to the content
        assert page.evaluate("document.activeElement.className") == "skip"

        # The facts, with a refund above the price: the CLI's message appears next to the field.
        page.fill("#f-title", "Cracked kettle")
        page.fill("[id='f-order.number']", "8204417765390127")
        page.fill("[id='f-order.store']", "Sunny Home Store")
        page.fill("[id='f-order.price']", "34.90")
        page.fill("[id='f-order.ordered']", "2026-10-20")
        page.fill("[id='f-order.shipped']", "2026-10-22")
        page.fill("[id='f-order.delivered']", "2026-11-18")
        page.fill("[id='f-order.protection_ends']", "2026-12-20")
        page.select_option("[id='f-dispute.reason']", "damaged")
        assert "full refund" in page.text_content("[id='h-dispute.reason']")  # the reason explained in a line
        page.select_option("[id='f-dispute.resolution']", "refund_only")
        page.fill("[id='f-dispute.amount']", "40")
        page.fill("[id='f-dispute.notes']", "The kettle arrived with a long crack and leaks.")
        page.click("#save")
        error = page.locator("[data-error-for='dispute.amount']")
        error.wait_for(state="visible")
        assert error.text_content() == "Refund asked for: 40.00 is more than the price paid, 34.90"  # by its label
        assert page.evaluate("document.activeElement.id") == "f-dispute.amount"  # focus goes to the problem
        shoot(page, "02-validation-error")
        page.fill("[id='f-dispute.amount']", "34.90")
        assert error.is_hidden()  # fixing the field clears its message in place
        with page.expect_navigation():
            page.press("[id='f-dispute.amount']", "Enter")  # the keyboard submits the form
        assert "/cases/cracked-kettle" in page.url

        # Files: three photos through the file picker, the video and a chat screenshot by a real drop.
        page.set_input_files("#file-picker", [str(inputs[f"photo{i}"]) for i in range(3)])
        page.locator("#photo-list li.photo").nth(2).wait_for()
        page.select_option("#file-kind", "chat")
        drop(page, "#dropzone", [inputs["chat"]], "image/png")
        page.locator("a:text('chat.png')").wait_for()
        page.select_option("#file-kind", "auto")
        drop(page, "#dropzone", [inputs["video"]], "video/mp4")
        page.locator(".video .duration").wait_for()
        assert "6.0" in page.text_content(".video .duration")
        page.locator("#photo-list").scroll_into_view_if_needed()  # thumbnails load lazily, when seen
        until(page, "[...document.querySelectorAll('#photo-list img')].every(i => i.complete && i.naturalWidth > 0)")
        # Before any move the list is the build's own choice, in its upload order (api.plan_upload).
        initial = page.eval_on_selector_all("#photo-list li.photo", "els => els.map(e => e.dataset.path)")
        planned = [p["path"] for p in server.client.post("/api/cases/cracked-kettle/plan", json={}).json()[
            "plan"]["photos"]]
        assert initial == planned and page.text_content("#photo-list li.photo .slot").startswith("Photo 1 of 3")
        # The last photo first, with a caption; the video trimmed to 1 s - 5 s.
        last = page.locator("#photo-list li.photo").nth(2)
        last.locator("button.up").click()
        page.locator("#photo-list li.photo").nth(1).locator("button.up").click()
        page.locator("#photo-list li.photo").nth(0).locator("input.caption").fill("Crack across the body")
        # and by dragging: the third photo onto the second
        page.locator("#photo-list li.photo").nth(2).drag_to(page.locator("#photo-list li.photo").nth(1))
        order = page.eval_on_selector_all("#photo-list li.photo", "els => els.map(e => e.dataset.path)")
        assert order == initial[::-1]
        page.fill("#video-start", "1")
        page.fill("#video-end", "5")
        page.dispatch_event("#video-end", "input")
        shoot(page, "03-files")

        # Build: it saves first, streams the stages, then shows the result.
        page.click("#build")
        page.locator("#stages li").first.wait_for()
        shoot(page, "04-building")
        page.wait_for_selector("body[data-last-build='built']", timeout=60_000)
        page.locator("#result .banner").wait_for()
        shoot(page, "05-result")
        stages = page.eval_on_selector_all("#stages li .label", "els => els.map(e => e.textContent)")
        assert {"Photos", "Video", "Texts", "Summary PDF"} <= set(stages)
        facts = server.client.get("/api/cases/cracked-kettle").json()["facts"]
        assert facts["photos"][0] == {"file": order[0], "rank": 1, "caption": "Crack across the body"}
        assert facts["video"] == {"start": 1.0, "end": 5.0}
        assert "Open the dispute" in page.text_content("#result .banner") or page.locator("#result .banner").count()

        # A text copied with its button is on the clipboard; the count follows an edit.
        page.click("button.copy[data-target='text-dispute']")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.input_value("#text-dispute") and "8204417765390127" in copied
        page.locator("#text-dispute").press("Control+End")
        page.locator("#text-dispute").type(" Thanks.")
        assert page.text_content("#count-dispute").startswith(f"{count_chars(copied + ' Thanks.')} / 1000")

        # Download all: upload/ comes first and keeps the form's limits.
        with page.expect_download() as download_info:
            page.click("#download-zip")
        saved = tmp_path / "package.zip"
        download_info.value.save_as(saved)
        archive = zipfile.ZipFile(saved)
        names = archive.namelist()
        uploads = [i for i in archive.infolist() if i.filename.startswith("upload/")]
        assert names[: len(uploads)] == [i.filename for i in uploads]
        photos = [i for i in uploads if i.filename.endswith(".jpg")]
        videos = [i for i in uploads if i.filename.endswith(".mp4")]
        texts = [i for i in uploads if i.filename.endswith(".txt")]
        assert 1 <= len(photos) <= MAX_PHOTOS and all(i.file_size <= MAX_PHOTO_BYTES for i in photos)
        assert len(videos) == 1 and videos[0].file_size <= MAX_VIDEO_BYTES
        assert texts and all(count_chars(archive.read(i).decode()) <= MAX_TEXT_CHARS
                             for i in texts)
        assert [i.filename for i in photos] == [f"upload/photo-{n}-{Path(p).stem}.jpg" for n, p in
                                                enumerate(order, 1)]  # the order chosen on the page

        # The switch to Russian: the start page lists the case with its deadline in colour.
        page.goto(f"{server.base}/?lang=ru")
        assert "Ваши дела" in page.text_content("h1") and "Cracked kettle" in page.text_content(".cases")
        assert page.locator(".cases .badge.ok").count() == 1
        shoot(page, "06-start-ru")
        page.goto(f"{server.base}/cases/cracked-kettle")
        assert "Номер заказа" in page.text_content("label[for='f-order.number']")
        shoot(page, "07-case-ru")
    finally:
        context.close()
        server.client.close()
        server.stop()


@pytest.mark.slow
def test_dropping_files_on_the_start_page_starts_a_case_with_them(browser: Any, tmp_path: Path) -> None:
    inputs = media(tmp_path / "inputs")
    server = WebServer(tmp_path / "workspace")
    context = browser.new_context(viewport={"width": 360, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{server.base}/?token={server.token}")
        server.client.post("/api/cases", json={"order": {"number": "1"}, "dispute": {"reason": "not_received"}})
        page.reload()
        assert page.locator("#new-case").is_hidden()  # with cases listed, the form waits for the button
        drop(page, "body", [inputs["photo0"], inputs["photo1"]], "image/jpeg")
        page.locator("#pending-files").wait_for()
        assert "IMG_100.jpg" in page.text_content("#pending-files") and page.locator("#new-case").is_visible()
        page.fill("[id='f-order.number']", "555")
        page.select_option("[id='f-dispute.reason']", "not_received")
        with page.expect_navigation(url="**/cases/order-555"):
            page.click("#save")
        page.locator("#photo-list li.photo").nth(1).wait_for()
        no_sideways_scroll(page)
        shoot(page, "08-case-from-drop")
    finally:
        context.close()
        server.client.close()
        server.stop()


@pytest.mark.slow
def test_the_form_shows_the_facts_of_the_chosen_reason(browser: Any, tmp_path: Path) -> None:
    server = WebServer(tmp_path / "workspace")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    try:
        page = context.new_page()
        page.goto(f"{server.base}/?token={server.token}&lang=en")
        visible = "els => els.filter(e => !e.hidden).map(e => e.dataset.field.slice(6))"
        page.fill("[id='f-order.number']", "8204417765390127")
        page.fill("[id='f-order.price']", "34.90")
        page.select_option("[id='f-dispute.reason']", "wrong_size")
        shown = page.eval_on_selector_all(".fact", visible)
        assert {"ordered_size", "received_size", "seller_offered"} <= set(shown)
        assert not {"defect", "missing", "customs_fee", "tracking_last_update"} & set(shown)
        page.select_option("[id='f-dispute.reason']", "damaged")  # the sizes go, the defect comes
        shown = page.eval_on_selector_all(".fact", visible)
        assert {"defect", "works", "seller_asked_to_confirm_receipt"} <= set(shown) and "ordered_size" not in shown
        page.select_option("[id='f-dispute.resolution']", "refund_only")
        page.fill("[id='f-facts.defect']", "a long crack on the base")
        page.select_option("[id='f-facts.works']", "false")
        page.check("[id='f-facts.seller_asked_to_confirm_receipt']")
        page.fill("[id='f-facts.seller_offered']", "a lot")
        page.click("#save")
        error = page.locator("[data-error-for='facts.seller_offered']")
        error.wait_for(state="visible")
        assert error.text_content() == ("What the seller offered instead: “a lot” is neither an amount nor the word "
                                        "replacement")
        assert page.evaluate("document.activeElement.id") == "f-facts.seller_offered"
        shoot(page, "09-facts-error")
        page.fill("[id='f-facts.seller_offered']", "5.00")
        assert error.is_hidden()
        with page.expect_navigation(url="**/cases/order-8204417765390127"):
            page.click("#save")
        facts = server.client.get("/api/cases/order-8204417765390127").json()["facts"]["facts"]
        assert facts == {"defect": "a long crack on the base", "works": False, "seller_offered": "5.00",
                         "seller_asked_to_confirm_receipt": True}
        # The case page shows them again, in Russian, and a change of reason drops those it does not take.
        page.goto(f"{server.base}/cases/order-8204417765390127?lang=ru")
        assert page.input_value("[id='f-facts.defect']") == "a long crack on the base"
        assert page.input_value("[id='f-facts.works']") == "false"
        assert page.is_checked("[id='f-facts.seller_asked_to_confirm_receipt']")
        assert "Что с товаром не так" in page.text_content("label[for='f-facts.defect']")
        shoot(page, "10-facts-ru")
        page.select_option("[id='f-dispute.reason']", "incomplete")
        page.fill("[id='f-facts.missing']", "the lid")
        page.click("#save")
        page.wait_for_selector("#save-status:text('Сохранено.')")
        facts = server.client.get("/api/cases/order-8204417765390127").json()["facts"]["facts"]
        assert facts == {"missing": "the lid", "seller_offered": "5.00", "seller_asked_to_confirm_receipt": True}

        # A case.toml edited by hand with a fact for another reason: the field stays in sight with the problem.
        toml = server.workspace / "order-8204417765390127" / "case.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace('missing = "the lid"', 'defect = "dented"'),
                        encoding="utf-8")
        page.goto(f"{server.base}/cases/order-8204417765390127?lang=en")
        assert page.is_visible("[id='f-facts.defect']") and page.is_hidden("[id='f-facts.ordered_size']")
        page.click("#save")
        error = page.locator("[data-error-for='facts.defect']")
        error.wait_for(state="visible")
        assert error.text_content().startswith(
            "What is wrong with it, in short (in English): is not used for the reason “Order incomplete (parts or "
            "items missing)”")
        page.fill("[id='f-facts.defect']", "")
        page.click("#save")
        page.wait_for_selector("#save-status:text('Saved.')")
        assert "defect" not in server.client.get("/api/cases/order-8204417765390127").json()["facts"]["facts"]
    finally:
        context.close()
        server.client.close()
        server.stop()
