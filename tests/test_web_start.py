"""The start page and the first save of a case (issue 23, points 2 to 4), against a real ``evidence-kit serve``.

"The usual one for this reason" resolves for every reason; one answer names every problem of the facts; an
upload refuses an empty, a fake and a damaged file with a plain reason and keeps no second copy of a file the
case already has. The browser test drives the start page in Chromium: the file picker, the kind choice, a
rejection shown with its reason, and Create disabled while it runs.
"""
from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest

from evidence_kit import api
from evidence_kit.model.reasons import REASON_RULES

from .conftest import noisy_photo
from .test_web_api import FACTS, WebServer, every_file, jpeg_bytes, new_case
from .test_web_browser import browser, shoot  # noqa: F401 - the browser fixture, shared


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"))
    yield running
    running.client.close()
    running.stop()


def facts_with(**dispute: Any) -> dict[str, Any]:
    facts = copy.deepcopy(FACTS)
    facts["dispute"] = {**facts["dispute"], **dispute}
    return facts


# --- point 3: the usual resolution --------------------------------------------------------------------------

@pytest.mark.parametrize("reason", list(REASON_RULES))
def test_the_usual_resolution_is_accepted_for_every_reason(server: WebServer, reason: str) -> None:
    """The form sends "" for "The usual one for this reason": case.toml gets that resolution written out."""
    usual = REASON_RULES[reason].default_resolution or "refund_only"
    facts = facts_with(reason=reason, resolution="", amount="")
    response = server.client.post("/api/cases", json=facts)
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    written = tomllib.loads((server.workspace / case_id / "case.toml").read_text(encoding="utf-8"))
    assert written["dispute"]["resolution"] == usual
    assert api.load_case(server.workspace / case_id).dispute.resolution == usual  # the CLI reads the same
    # Saved again from the case page with the same choice: still accepted, still written out.
    again = server.client.put(f"/api/cases/{case_id}", json=facts_with(reason=reason, resolution=""))
    assert again.status_code == 200, again.text
    written = tomllib.loads((server.workspace / case_id / "case.toml").read_text(encoding="utf-8"))
    assert written["dispute"]["resolution"] == usual
    # A chosen resolution is kept as chosen.
    chosen = server.client.put(f"/api/cases/{case_id}", json=facts_with(reason=reason, resolution="return_and_refund"))
    assert chosen.status_code == 200, chosen.text
    assert server.client.get(f"/api/cases/{case_id}").json()["facts"]["dispute"]["resolution"] == "return_and_refund"


# --- point 4: every problem in one answer -------------------------------------------------------------------

def test_one_answer_names_every_problem_of_the_facts(server: WebServer) -> None:
    """A wrong price, a shipping day ahead of today, a dispute opened in the future and a fact for another reason:
    all four in the first answer (the future-date check used to wait until every other field was valid)."""
    facts = facts_with(reason="not_received", resolution="refund_only", amount="", opened="2099-01-05")
    facts["order"] = {**facts["order"], "price": "twenty", "shipped": "2099-01-02", "delivered": ""}
    facts["facts"] = {"defect": "cracked"}
    response = server.client.post("/api/cases", json=facts)
    assert response.status_code == 422, response.text
    fields = response.json()["fields"]
    assert {"order.price", "order.shipped", "dispute.opened", "facts.defect"} <= set(fields), fields
    assert "is in the future" in fields["order.shipped"][0] and "is in the future" in fields["dispute.opened"][0]
    assert not [p for p in server.workspace.iterdir() if p.name.startswith("order-")]  # nothing written
    # The case page's save answers the same way.
    case_id = new_case(server)
    again = server.client.put(f"/api/cases/{case_id}", json=facts)
    assert again.status_code == 422 and set(again.json()["fields"]) == set(fields)


# --- point 4: checks at upload time -------------------------------------------------------------------------

def test_an_empty_fake_or_damaged_file_is_refused_at_upload_with_its_reason(server: WebServer) -> None:
    case_id = new_case(server)
    root = server.workspace / case_id
    good = jpeg_bytes(21)
    files = {"empty.jpg": b"", "fake.jpg": b"<html>not a photo</html>" * 20, "cut.jpg": good[: len(good) // 2],
             "clip.mp4": b"\x00" * 4096, "receipt.pdf": b"just text, not a PDF", "events.json": b"{not json",
             "good.jpg": good}
    response = server.client.post(f"/api/cases/{case_id}/files",
                                  files=[("files", (name, data)) for name, data in files.items()])
    assert response.status_code == 201, response.text
    answer = response.json()
    assert [item["path"] for item in answer["stored"]] == ["photos/good.jpg"]
    rejected = {item["name"]: item["message"] for item in answer["rejected"]}
    assert set(rejected) == set(files) - {"good.jpg"}
    assert "empty" in rejected["empty.jpg"]
    for name in ("fake.jpg", "cut.jpg"):
        assert "not a picture" in rejected[name], rejected[name]
    assert "not a video" in rejected["clip.mp4"] and "not a PDF" in rejected["receipt.pdf"]
    assert "JSON" in rejected["events.json"]
    for message in rejected.values():  # plain words: no local path, no temporary name, no library text
        assert str(root) not in message and ".ek-tmp" not in message and "Error" not in message, message
    assert every_file(root) == {"case.toml", "photos/good.jpg"}
    # Only refused files: a 422 that still lists each with its reason, and nothing left behind.
    only_bad = server.client.post(f"/api/cases/{case_id}/files?kind=chat", files=[("files", ("empty.png", b""))])
    assert only_bad.status_code == 422
    assert [r["name"] for r in only_bad.json()["rejected"]] == ["empty.png"]
    assert every_file(root) == {"case.toml", "photos/good.jpg"}
    # In the buyer's language.
    russian = server.client.post(f"/api/cases/{case_id}/files", files=[("files", ("empty.jpg", b""))],
                                 headers={"accept-language": "ru"})
    assert "пуст" in russian.json()["rejected"][0]["message"]


def test_a_file_already_in_the_case_is_not_added_again(server: WebServer) -> None:
    case_id = new_case(server)
    root = server.workspace / case_id
    photo, other = jpeg_bytes(31), jpeg_bytes(32)
    first = server.client.post(f"/api/cases/{case_id}/files", files=[("files", ("IMG_1.jpg", photo))])
    assert first.status_code == 201 and first.json()["stored"][0]["duplicate"] is False
    # The same bytes under another name, twice in one request, beside a new photo.
    again = server.client.post(f"/api/cases/{case_id}/files", files=[
        ("files", ("copy of IMG_1.jpg", photo)), ("files", ("new.jpg", other)), ("files", ("new again.jpg", other))])
    assert again.status_code == 201, again.text
    stored = {item["name"]: item for item in again.json()["stored"]}
    twin = stored["copy of IMG_1.jpg"]
    assert twin["duplicate"] is True and twin["path"] == "photos/IMG_1.jpg"
    assert stored["new.jpg"]["duplicate"] is False and stored["new again.jpg"]["path"] == "photos/new.jpg"
    assert "already" in twin["message"] and "IMG_1.jpg" in twin["message"]
    assert every_file(root) == {"case.toml", "photos/IMG_1.jpg", "photos/new.jpg"}
    # Another kind's folder is another place: the same screenshot as chat is added there.
    chat = server.client.post(f"/api/cases/{case_id}/files?kind=chat", files=[("files", ("IMG_1.jpg", photo))])
    assert chat.json()["stored"][0] == {**chat.json()["stored"][0], "path": "chat/IMG_1.jpg", "duplicate": False}


# --- point 2: the start page --------------------------------------------------------------------------------

def test_the_start_page_has_a_file_picker_and_a_kind_choice(server: WebServer) -> None:
    page = server.client.get("/").text
    assert 'type="file" id="file-picker"' in page and 'for="file-picker"' in page
    choice = page.split('id="file-kind"')[1].split("</select>")[0]
    assert set(re.findall(r'<option value="(\w+)"', choice)) == {"auto", "photos", "videos", "chat", "tracking",
                                                                  "receipts"}
    assert 'id="upload-progress"' in page and 'id="rejected-files"' in page


@pytest.mark.slow
@pytest.mark.browser
def test_the_start_page_picks_files_by_kind_shows_rejections_and_creates_one_case(browser: Any,
                                                                                  tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    noisy_photo(800, 600, seed=4).save(inputs / "IMG_1.jpg", "JPEG", quality=88)
    noisy_photo(300, 500, seed=9, noise=2).save(inputs / "chat.png")
    noisy_photo(300, 400, seed=7, noise=2).save(inputs / "receipt.png")
    (inputs / "fake.jpg").write_bytes(b"<html>a saved web page, not a photo</html>" * 10)
    (inputs / "empty.jpg").write_bytes(b"")
    server = WebServer(tmp_path / "workspace")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{server.base}/?token={server.token}")
        # The picker, with the kind chosen first: the chat screenshot goes to chat/, not to the photos.
        page.select_option("#file-kind", "chat")
        page.set_input_files("#file-picker", [str(inputs / "chat.png")])
        page.select_option("#file-kind", "photos")
        page.set_input_files("#file-picker", [str(inputs / n) for n in ("IMG_1.jpg", "receipt.png", "fake.jpg",
                                                                         "empty.jpg")])
        rows = page.locator("#pending-list li")
        assert rows.count() == 4 and "(4)" in page.text_content("#pending-count")
        assert rows.nth(0).locator("select").input_value() == "chat"
        rows.nth(2).locator("select").select_option("receipts")  # one file's kind changed in its row
        # The empty file is turned away at once, with why.
        assert "empty.jpg: the file is empty" in page.text_content("#rejected-files")
        page.fill("[id='f-order.number']", "8204417765390127")
        page.select_option("[id='f-dispute.reason']", "damaged")  # resolution left at "The usual one"
        shoot(page, "11-start-files")
        # Create, clicked twice: the button is disabled from the first click on, so one case only.
        first_disabled = page.evaluate("""() => {
            const button = document.querySelector("#save");
            button.click();
            const disabled = button.disabled && document.querySelector("#file-picker").disabled;
            button.click();
            return disabled;
        }""")
        assert first_disabled
        page.locator("#open-case-row").wait_for()  # fake.jpg was refused: the page stays to say so
        refused = page.text_content("#rejected-files")
        assert "fake.jpg: not a picture this app can read" in refused and "empty.jpg" in refused
        assert page.is_disabled("#save") and page.evaluate("document.activeElement.id") == "open-case"
        shoot(page, "12-start-refused")
        cases = server.client.get("/api/cases").json()["cases"]
        assert [c["id"] for c in cases] == ["order-8204417765390127"]
        files = server.client.get("/api/cases/order-8204417765390127/files").json()["files"]
        assert {kind: [f["path"] for f in found] for kind, found in files.items() if found} == {
            "photos": ["photos/IMG_1.jpg"], "chat": ["chat/chat.png"], "receipts": ["receipts/receipt.png"]}
        with page.expect_navigation(url="**/cases/order-8204417765390127"):
            page.click("#open-case")
    finally:
        context.close()
        server.client.close()
        server.stop()
