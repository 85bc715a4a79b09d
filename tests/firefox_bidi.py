"""A small WebDriver BiDi client for the system's Firefox (Debian's firefox-esr), for the web app's tests.

Why not Playwright: its own Firefox cannot be downloaded here, and its BiDi channel sends
``emulation.setMediaFeaturesOverride`` on every new context, which Firefox ESR 153 does not know. Firefox
speaks WebDriver BiDi itself (``--remote-debugging-port``), so the tests talk to it directly: real
navigation, real key and pointer input (``input.performActions``), the real file picker
(``input.setFiles``) and screenshots by the browser.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import websocket

FIREFOX = "firefox-esr"
# Key values of the WebDriver spec for the keys the tests press.
KEYS = {"Enter": "\ue007", "Tab": "\ue004", "Backspace": "\ue003", "Control": "\ue009", "End": "\ue010"}
# Quiet, reproducible profile: no first-run pages, no updates, English pages and an English date format.
PREFS = {
    "intl.accept_languages": "en-US", "intl.locale.requested": "en-US",
    "intl.regional_prefs.use_os_locales": False, "browser.shell.checkDefaultBrowser": False,
    "app.update.enabled": False, "datareporting.policy.dataSubmissionEnabled": False,
    "browser.startup.homepage_override.mstone": "ignore", "toolkit.telemetry.enabled": False,
}
# Resolves once the page has laid out and painted twice: after a resize or a scroll, before the next input.
# Clicks sent again when the page scrolled the element away before the pointer reached it (see click).
CLICK_ATTEMPTS = 3
TWO_FRAMES = "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


class BiDiError(AssertionError):
    """A BiDi command failed (an error answer), or a script threw in the page."""


def find_firefox() -> str | None:
    return shutil.which(FIREFOX) or next((p for p in ("/usr/bin/firefox-esr",) if Path(p).is_file()), None)


class Firefox:
    """One headless Firefox with a fresh profile and one tab; ``close()`` ends both."""

    def __init__(self, executable: str, width: int = 1280, height: int = 900) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="evidence-kit-firefox-"))
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
        self.process = subprocess.Popen(
            [executable, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", str(self.profile)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        address = self._listening_address(timeout=60)
        self.socket = websocket.create_connection(f"{address}/session", timeout=120, suppress_origin=True)
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.version = self.command("session.new", {"capabilities": {}})["capabilities"]["browserVersion"]
        self.command("session.subscribe", {"events": ["log.entryAdded"]})
        self.context = self.command("browsingContext.getTree", {})["contexts"][0]["context"]
        self.set_viewport(width, height)

    def _listening_address(self, timeout: float) -> str:
        found: list[str] = []

        def read() -> None:  # Firefox keeps writing to stderr: drain it for good, keep it for failures
            for line in self.process.stderr:
                self.stderr.append(line)
                match = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
                if match and not found:
                    found.append(match.group(1))

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found and time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.05)
        if not found:
            self.close()
            raise AssertionError(f"Firefox did not start WebDriver BiDi: {''.join(self.stderr)[-2000:]}")
        return found[0]

    # --- protocol ---------------------------------------------------------------------------------------
    def command(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        wanted = self._next_id
        self.socket.send(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("type") == "event":
                self.events.append(message)
            elif message.get("id") == wanted:
                if message.get("type") == "error":
                    raise BiDiError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]

    def page_errors(self) -> list[str]:
        """Uncaught script errors the page has logged so far."""
        return [e["params"].get("text", "") for e in self.events
                if e.get("method") == "log.entryAdded" and e["params"].get("type") == "javascript"
                and e["params"].get("level") == "error"]

    # --- pages ------------------------------------------------------------------------------------------
    def goto(self, url: str) -> None:
        self.command("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})

    def set_viewport(self, width: int, height: int) -> None:
        """Resize, and return once the page has laid itself out and painted at the new size."""
        self.command("browsingContext.setViewport",
                     {"context": self.context, "viewport": {"width": width, "height": height}})
        self.evaluate(TWO_FRAMES)

    def screenshot(self, path: Path) -> None:
        """The whole page, not only the viewport."""
        data = self.command("browsingContext.captureScreenshot", {"context": self.context, "origin": "document"})
        path.write_bytes(base64.b64decode(data["data"]))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited), as Python data."""
        result = self.command("script.evaluate", {
            "expression": expression, "target": {"context": self.context}, "awaitPromise": True,
            "resultOwnership": "none"})
        if result["type"] == "exception":
            raise BiDiError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return _value(result["result"])

    def call(self, function: str, *arguments: Any) -> Any:
        """``function`` (JavaScript source) called with JSON-able arguments."""
        result = self.command("script.callFunction", {
            "functionDeclaration": function, "arguments": [_remote(a) for a in arguments],
            "target": {"context": self.context}, "awaitPromise": True, "resultOwnership": "none"})
        if result["type"] == "exception":
            raise BiDiError(f"{function}: {result['exceptionDetails'].get('text')}")
        return _value(result["result"])

    def element(self, selector: str) -> dict[str, str]:
        """A shared reference to the first element matching ``selector``, scrolled into view.

        It returns two frames after the scroll: Firefox hit-tests pointer input on the compositor's copy of
        the scroll position, and a click sent before that copy is updated lands where the element was."""
        result = self.command("script.callFunction", {
            "functionDeclaration": "async (s) => { const e = document.querySelector(s); if (!e) return null; "
                                   f"e.scrollIntoView({{block: 'center'}}); await {TWO_FRAMES}; return e; }}",
            "arguments": [_remote(selector)], "target": {"context": self.context}, "awaitPromise": True})
        if result["type"] == "exception" or result["result"]["type"] != "node":
            raise BiDiError(f"no element {selector!r}")
        return {"sharedId": result["result"]["sharedId"]}

    def wait_for(self, condition: str, seconds: float = 30) -> None:
        """Poll a JavaScript condition until it is true."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.evaluate(condition):
                return
            time.sleep(0.1)
        raise AssertionError(f"still false after {seconds} s: {condition}")

    # --- input ------------------------------------------------------------------------------------------
    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element.

        Firefox may carry out a scroll the page asked for (a ``focus()`` that brings its field into view)
        after the scroll to this element: the pointer move is then refused as out of bounds before any
        button is pressed, so the element is scrolled to again and the click sent once more."""
        for attempt in range(CLICK_ATTEMPTS):
            origin = {"type": "element", "element": self.element(selector)}
            try:
                self.command("input.performActions", {"context": self.context, "actions": [{
                    "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
                        {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
                        {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})
                return
            except BiDiError as refused:
                if "move target out of bounds" not in str(refused) or attempt == CLICK_ATTEMPTS - 1:
                    raise

    def keys(self, *presses: str) -> None:
        """Key presses: plain text is typed character by character; names of ``KEYS`` press that key;
        ``"Control+a"`` holds the first while pressing the second."""
        actions: list[dict[str, str]] = []
        for press in presses:
            if "+" in press and press.split("+")[0] in KEYS:
                held, key = press.split("+", 1)
                key = KEYS.get(key, key)
                actions += [{"type": "keyDown", "value": KEYS[held]}, {"type": "keyDown", "value": key},
                            {"type": "keyUp", "value": key}, {"type": "keyUp", "value": KEYS[held]}]
            elif press in KEYS:
                actions += [{"type": "keyDown", "value": KEYS[press]}, {"type": "keyUp", "value": KEYS[press]}]
            else:
                for char in press:
                    actions += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        self.command("input.performActions", {"context": self.context,
                                              "actions": [{"type": "key", "id": "keyboard", "actions": actions}]})

    def type_into(self, selector: str, text: str) -> None:
        """Click the field, select what it holds and type ``text`` over it."""
        self.click(selector)
        self.keys("Control+a", text)

    def set_files(self, selector: str, paths: list[Path]) -> None:
        """Files chosen in an ``<input type=file>``, as the file picker chooses them."""
        self.command("input.setFiles", {"context": self.context, "element": self.element(selector),
                                        "files": [str(p) for p in paths]})

    def close(self) -> None:
        try:
            if getattr(self, "socket", None):
                try:
                    self.command("browser.close", {})
                except (BiDiError, OSError, websocket.WebSocketException):
                    pass
                self.socket.close()
        finally:
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


def _remote(value: Any) -> dict[str, Any]:
    """A JSON-able Python value as a BiDi local value."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, (int, float)):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, (list, tuple)):
        return {"type": "array", "value": [_remote(v) for v in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[k, _remote(v)] for k, v in value.items()]}
    raise TypeError(f"cannot send {value!r} to the page")


def _value(remote: dict[str, Any]) -> Any:
    """A BiDi remote value as Python data (nodes and other objects as their type name)."""
    kind = remote["type"]
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        return float(remote["value"]) if isinstance(remote["value"], str) else remote["value"]  # NaN, -0, Infinity
    if kind == "array":
        return [_value(v) for v in remote.get("value", [])]
    if kind == "object":
        return {k if isinstance(k, str) else _value(k): _value(v) for k, v in remote.get("value", [])}
    return kind
