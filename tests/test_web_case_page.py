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
from .test_web_browser import browser, shoot, until  # noqa: F401 - browser is a fixture

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
