"""Tracking stage: stamped screenshots of parcel-tracking pages, and a timeline of events the buyer typed in.

Public calls: ``load_trackers`` (the URL patterns in templates/trackers.toml, user-overridable),
``parse_targets`` (command-line words -> what to capture), ``capture_targets`` (one browser for all of them),
``read_events`` (tracking.csv / .json), ``stamp`` (the evidence band), and ``tracking_stage`` for the pipeline.

Per capture it writes ``NAME.png`` (or ``NAME-partN.png`` for tall pages; the stamp band drawn under the
page with Pillow, never injected into it), ``NAME.html`` (what the page said), ``NAME.json`` (requested and
final URL, HTTP status, times, hashes) and a stamped ``NAME.jpg`` under the profile's photo limit.
"""
from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import html
import io
import json
import mimetypes
import os
import re
import string
import struct
import time
import tomllib
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Sequence
from urllib.parse import quote, unquote, urlsplit

from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from .. import __version__, names
from ..tools.chromium import Browser
from ..errors import CaseError, InputError, LimitError, MissingDependencyError, ToolError
from ..fsutil import atomic_path
from ..media.photos import fit_image
from ..model.manifest import Hinted, warning_of, warning_record
from ..model.validation import plain_error, problems_of

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, CDPSession, Page, Route

    from ..model.case import Case

TRACKERS_FILE = "trackers.toml"
EVENT_SUFFIXES = frozenset({".csv", ".json"})
PAGE_SUFFIXES = frozenset({".html", ".htm"})
# Tracking numbers are letters, digits and dashes (UPU S10 is 13 characters; carriers use 8 to 40).
TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{5,39}$")

STAMP_BACKGROUND = (22, 30, 44)
STAMP_TEXT = (255, 255, 255)
STAMP_ACCENT = (230, 170, 20)
_FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "DejaVuSans.ttf")


# --- configuration --------------------------------------------------------------------------------------------

_STRICT = ConfigDict(frozen=True, extra="forbid")
Positive = Annotated[float, Field(gt=0, strict=True)]  # strict: true/false or "5" are not numbers here
PositiveInt = Annotated[int, Field(gt=0, strict=True)]


class CaptureSettings(BaseModel):
    """trackers.toml ``[capture]``: how pages are loaded and cut. Vary one with ``model_copy(update=...)``."""

    model_config = _STRICT
    viewport_width: PositiveInt = 1280
    viewport_height: PositiveInt = 900
    timeout: Positive = 30.0  # seconds: page load, and --wait-for
    idle_timeout: Positive = 5.0  # seconds for the network to go quiet, then captured anyway
    quiet: Positive = 0.2  # seconds without requests that count as quiet
    max_part_height: PositiveInt = 4000
    max_page_height: PositiveInt = 16000
    hide: tuple[str, ...] = ()  # CSS selectors, like ["#cookie-banner"]


class TrackerTable(BaseModel):
    """trackers.toml ``[trackers.KEY]``: a tracking site and its URL pattern."""

    model_config = _STRICT
    name: str = ""
    url: str
    carrier: StrictBool = False  # a carrier's own site (vs an aggregator such as 17TRACK)
    aliases: tuple[str, ...] = ()
    ready: str = ""  # what shows the events have rendered (CSS selector or text=...): waited for, then captured

    @field_validator("url")
    @classmethod
    def _pattern(cls, url: str) -> str:
        if "{number}" not in url:
            raise plain_error('needs the place of the number: url = "https://...{number}..."')
        if not re.match(r"^https?://", url):
            raise plain_error("only http:// and https:// addresses are accepted")
        return url


class DefaultTable(BaseModel):
    model_config = _STRICT
    trackers: tuple[str, ...] = ()  # the aggregators tried for any carrier, in order


class TrackersFile(BaseModel):
    """One trackers.toml (the built-in one, or an override laid over it table by table)."""

    model_config = _STRICT
    capture: dict[str, Any] = {}  # checked as CaptureSettings once every file is laid over the built-in one
    default: DefaultTable | None = None
    trackers: dict[str, TrackerTable] = {}


@dataclass(frozen=True)
class Tracker:
    key: str
    name: str
    url: str  # with {number}
    carrier: bool = False
    aliases: tuple[str, ...] = ()
    ready: str = ""

    def url_for(self, number: str) -> str:
        return self.url.replace("{number}", quote(number, safe=""))


@dataclass(frozen=True)
class TrackerConfig:
    capture: CaptureSettings
    trackers: dict[str, Tracker]
    default: tuple[str, ...]
    sources: tuple[str, ...] = ()  # the files read, for the manifest

    def find(self, carrier: str) -> Tracker | None:
        wanted = carrier.strip().lower()
        for tracker in self.trackers.values():
            if wanted in (tracker.key, tracker.name.lower(), *tracker.aliases):
                return tracker
        return None

    def sites_for(self, carrier: str) -> list[Tracker]:
        """The carrier's own site when known, then the default aggregators."""
        own = self.find(carrier) if carrier else None
        sites = [own] if own else []
        return sites + [self.trackers[k] for k in self.default if k in self.trackers and self.trackers[k] is not own]


def load_trackers(*overrides: str | Path | None) -> TrackerConfig:
    """The built-in templates/trackers.toml, with each existing override file's tables laid over it."""
    texts = [("built-in trackers.toml", (resources.files("evidence_kit.templates") / TRACKERS_FILE)
              .read_text(encoding="utf-8"))]
    for override in overrides:
        if override is None or not Path(override).is_file():
            continue
        try:
            texts.append((str(override), Path(override).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise CaseError(str(override), [f"cannot read: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8'}"
                                            ]) from None
    capture: dict[str, Any] = {}
    trackers: dict[str, TrackerTable] = {}
    default: tuple[str, ...] = ()
    for source, text in texts:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CaseError(source, [f"not valid TOML: {exc}"]) from None
        problems = []
        try:
            layer = TrackersFile.model_validate(data)
        except ValidationError as exc:
            problems += problems_of(exc, TrackersFile)
        try:  # each file's [capture] on its own, so every problem is named at once, with its file
            CaptureSettings.model_validate(data.get("capture", {}))
        except ValidationError as exc:
            problems += problems_of(exc, CaptureSettings, prefix="capture")
        if problems:
            raise CaseError(source, problems)
        capture.update(layer.capture)
        trackers.update(layer.trackers)
        default = layer.default.trackers if layer.default else default
    try:
        settings = CaptureSettings.model_validate(capture)
    except ValidationError as exc:
        raise CaseError(texts[-1][0], problems_of(exc, CaptureSettings, prefix="capture")) from None
    return TrackerConfig(settings, {key: Tracker(key, t.name or key, t.url, t.carrier, tuple(a.lower() for a in t.aliases),
                                                 t.ready)
                                    for key, t in trackers.items()}, default, tuple(source for source, _ in texts))


# --- what to capture ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One thing to capture: a live page (``url``), a saved page or an events file (``path``)."""

    kind: str  # "page", "saved_page" or "events"
    name: str  # file stem of the outputs
    url: str = ""
    path: Path | None = None
    number: str = ""
    carrier: str = ""
    site: str = ""  # tracker name, when the URL came from a pattern
    ready: str = ""  # the tracker's sign that its events have rendered
    shown: str = ""  # how a file is named in records and messages (case-relative): never a local path
    folder: Path | None = None  # the folder a saved page may load files from (the case's tracking folder)

    @property
    def label(self) -> str:
        return self.url or self.shown or (self.path.name if self.path else "")

    @property
    def key(self) -> str:
        """What the target is, for telling repeats apart (the full path: two page.html may be two pages)."""
        return self.url or str(self.path)


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:limit].strip("-") or "page"


def _url_name(url: str) -> str:
    parts = urlsplit(url)
    return _slug(f"{parts.hostname or ''}-{parts.port or ''}-{parts.path}-{parts.query}-{parts.fragment}")


def number_targets(number: str, carrier: str, config: TrackerConfig) -> list[Target]:
    number = re.sub(r"\s+", "", number)  # "LP 0041 2345 6789" as copied from an e-mail
    if not TRACKING_NUMBER.match(number):
        raise InputError("not a tracking number (letters, digits and dashes, 6 to 40 characters)", path=number)
    return [Target("page", f"{site.key}-{_slug(number)}", url=site.url_for(number), number=number,
                   carrier=carrier, site=site.name, ready=site.ready) for site in config.sites_for(carrier)]


def file_target(path: Path, number: str = "", carrier: str = "", *, shown: str = "",
                folder: Path | None = None) -> Target:
    """A saved page or events file. ``shown`` names it in records (default: its file name); a saved page loads
    files from ``folder`` only, else only from the folder browsers save beside a page (``NAME_files``)."""
    suffix, shown = path.suffix.lower(), shown or names.shown(path.name)
    if suffix in PAGE_SUFFIXES:
        return Target("saved_page", f"saved-{_slug(path.stem)}", path=path, number=number, carrier=carrier,
                      shown=shown, folder=folder)
    if suffix in EVENT_SUFFIXES:
        return Target("events", f"timeline-{_slug(path.stem)}", path=path, number=number, carrier=carrier,
                      shown=shown)
    raise InputError("not a saved tracking page (.html) or an events file (.csv, .json)", path=shown)


def parse_targets(words: Sequence[str], config: TrackerConfig,
                  carrier: str = "") -> tuple[list[Target], list[tuple[str, str]]]:
    """Command-line words -> targets, and (word, problem) for those that are none of the accepted kinds."""
    targets: list[Target] = []
    problems: list[tuple[str, str]] = []
    for word in words:
        try:
            if re.match(r"^https?://", word, re.I):
                targets.append(Target("page", _url_name(word), url=word, carrier=carrier))
            elif "://" in word or word.lower().startswith(("javascript:", "data:", "file:")):
                raise InputError("only http:// and https:// addresses (or saved .html files) are captured", path=word)
            elif Path(word).suffix.lower() in PAGE_SUFFIXES | EVENT_SUFFIXES or Path(word).exists():
                if not Path(word).is_file():
                    raise InputError("no such file", path=word)
                targets.append(file_target(Path(word), carrier=carrier))
            else:
                targets.extend(number_targets(word, carrier, config))
        except InputError as exc:
            problems.append((word, exc.message))
    return _unique(targets), problems


def case_targets(case: "Case", config: TrackerConfig, *,
                 look_up_numbers: bool) -> tuple[list[Target], list[dict[str, Any]], list[InputError]]:
    """What a build captures: case.toml URLs, saved pages and events files; numbers only when asked.

    A number with no URL would send the build online to public tracking sites, so that needs
    ``look_up_numbers`` (``build --look-up-tracking``); otherwise it is listed with the URLs it would use.
    Returns the targets, the numbers not looked up, and the numbers that are not tracking numbers.
    """
    single = case.tracking[0] if len(case.tracking) == 1 else None
    targets: list[Target] = []
    not_looked_up: list[dict[str, Any]] = []
    problems: list[InputError] = []
    for ref in case.tracking:
        if ref.url:
            targets.append(Target("page", _url_name(ref.url), url=ref.url, number=ref.number, carrier=ref.carrier))
        elif look_up_numbers:
            try:
                targets.extend(number_targets(ref.number, ref.carrier, config))
            except InputError as exc:
                problems.append(exc)
        else:
            not_looked_up.append({"number": ref.number, "carrier": ref.carrier,
                                  "urls": [s.url_for(ref.number) for s in config.sites_for(ref.carrier)]})
    folder = case.root / "tracking"
    for path in case.media.tracking:
        if path.name == TRACKERS_FILE or path.suffix.lower() not in PAGE_SUFFIXES | EVENT_SUFFIXES:
            continue
        targets.append(file_target(path, single.number if single else "", single.carrier if single else "",
                                   shown=names.case_relative(path, case.root),
                                   folder=folder if path.is_relative_to(folder) else None))
    return _unique(targets), not_looked_up, problems


def _unique(targets: list[Target]) -> list[Target]:
    """Drop repeated targets and give clashing names a -2, -3 suffix."""
    seen_names: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    result = []
    for target in targets:
        if (target.kind, target.key) in seen:
            continue
        seen.add((target.kind, target.key))
        count = seen_names.get(target.name, 0) + 1
        seen_names[target.name] = count
        result.append(target if count == 1 else replace(target, name=f"{target.name}-{count}"))
    return result


# --- events the buyer typed in --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    time: str
    place: str
    status: str


_COLUMNS = {"time": ("time", "date", "datetime", "when", "timestamp"),
            "place": ("place", "location", "where", "city"),
            "status": ("status", "event", "description", "details", "what")}


def _event_from(row: dict[str, Any], where: str) -> Event:
    lowered = {str(k).strip().lower(): ("" if v is None else str(v).strip()) for k, v in row.items() if k is not None}
    values = {name: next((lowered[a] for a in aliases if lowered.get(a)), "") for name, aliases in _COLUMNS.items()}
    missing = [name for name in ("time", "status") if not values[name]]
    if missing:
        raise InputError(f"{where}: missing {' and '.join(missing)} (columns: time, place, status)")
    return Event(**values)


def read_events(path: Path) -> list[Event]:
    """Events from ``tracking.csv`` (header: time, place, status) or JSON (a list, or {"events": [...]})."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text: save it as UTF-8 (CSV UTF-8 in a spreadsheet)", path=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            rows = data.get("events") if isinstance(data, dict) else data
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise InputError('expected a list of {"time", "place", "status"} objects (or {"events": [...]})')
            events = [_event_from(r, f"event {i}") for i, r in enumerate(rows, 1)]
        else:
            reader = csv.DictReader(io.StringIO(text))
            events = [_event_from(r, f"line {reader.line_num}") for r in reader]
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", path=str(path)) from None
    except (InputError, csv.Error) as exc:
        raise InputError(getattr(exc, "message", str(exc)), path=str(path)) from None
    if not events:
        raise InputError("no tracking events in this file (header: time, place, status)", path=str(path))
    return events


def timeline_html(events: Sequence[Event], *, source: str, number: str = "", carrier: str = "",
                  order: str = "") -> str:
    """The offline timeline page from templates/timeline.html (every value HTML-escaped)."""
    template = string.Template(
        (resources.files("evidence_kit.templates") / "timeline.html").read_text(encoding="utf-8"))
    rows = "\n".join(f'<tr><td class="time">{html.escape(e.time)}</td><td class="place">{html.escape(e.place)}</td>'
                     f"<td>{html.escape(e.status)}</td></tr>" for e in events)
    facts = [f"Tracking number {html.escape(number)}" if number else "", html.escape(carrier) if carrier else "",
             f"Order {html.escape(order)}" if order else "", f"{len(events)} events, as entered"]
    title = f"Tracking events for {html.escape(number)}" if number else "Tracking events"
    return template.substitute(source=html.escape(source), title=title,
                               facts=" &middot; ".join(f for f in facts if f), rows=rows)


# --- the evidence stamp ---------------------------------------------------------------------------------------

def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _wrap(text: str, font: Any, width: int) -> list[str]:
    """Break a line (URLs included, which have no spaces) so that each piece fits ``width`` pixels."""
    lines, current = [], ""
    for char in text:
        if font.getlength(current + char) > width and current:
            cut = max(current.rfind(" "), current.rfind("/"), current.rfind("&"))
            if cut > len(current) // 2:
                lines.append(current[:cut + 1].rstrip())
                current = current[cut + 1:].lstrip()
            else:
                lines.append(current)
                current = ""
        current += char
    return lines + [current] if current else lines


def stamp(image: Image.Image, lines: Sequence[str]) -> Image.Image:
    """A copy of ``image`` with a dark band under it carrying ``lines`` (drawn with Pillow, outside the page)."""
    size = max(14, min(22, image.width // 72))
    font, pad = _font(size), size
    wrapped = [piece for line in lines for piece in _wrap(line, font, image.width - 2 * pad)]
    line_height = round(size * 1.45)
    band = pad * 2 + line_height * len(wrapped) + 4
    out = Image.new("RGB", (image.width, image.height + band), STAMP_BACKGROUND)
    out.paste(image if image.mode == "RGB" else image.convert("RGB"), (0, 0))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, image.height, image.width, image.height + 3), fill=STAMP_ACCENT)
    for i, line in enumerate(wrapped):
        draw.text((pad, image.height + 4 + pad + i * line_height), line, font=font, fill=STAMP_TEXT)
    return out


def stamp_lines(target: Target, *, final_url: str, captured: datetime, part: int = 1, parts: int = 1) -> list[str]:
    """The band's text: where the image came from and when, what the mediator needs. Our own and the
    browser's versions are in the capture's record and the manifest, not on the image the buyer uploads."""
    local = captured.astimezone()
    lines = []
    if target.kind == "page":
        lines.append(f"URL: {target.url}")
        if final_url and final_url != target.url:
            lines.append(f"Final URL (after redirects): {final_url}")
    elif target.kind == "saved_page":
        lines.append(f"Saved page: {target.path.name if target.path else ''} (saved by the buyer, shown offline)"
                     + (f"; saved from {final_url}" if final_url else ""))
    else:
        lines.append(f"Entered by the buyer from {target.path.name if target.path else 'their notes'}; "
                     "not captured from a tracking website")
    if target.number:
        lines.append(f"Tracking number: {target.number}" + (f" ({target.carrier})" if target.carrier else "")
                     + (f", via {target.site}" if target.site else ""))
    offset = local.strftime("%z")
    zone = local.tzname() or ""
    verb = "Rendered" if target.kind == "events" else "Captured"
    lines.append(f"{verb}: {captured:%Y-%m-%d %H:%M:%S} UTC | local time {local:%Y-%m-%d %H:%M:%S} "
                 f"{offset[:3]}:{offset[3:]}" + (f" ({zone})" if zone.isalpha() else ""))
    if parts > 1:
        lines.append(f"Part {part} of {parts}")
    return lines


def split_parts(image: Image.Image, max_height: int) -> list[Image.Image]:
    """Cut a tall page into parts of at most ``max_height`` pixels, top to bottom."""
    if image.height <= max_height:
        return [image]
    return [image.crop((0, top, image.width, min(image.height, top + max_height)))
            for top in range(0, image.height, max_height)]


# --- capturing ------------------------------------------------------------------------------------------------

class CaptureError(InputError):
    """One page could not be captured; the message says why in words a buyer understands."""


# Cookie/consent banners: the configured selectors, plus fixed boxes that talk about cookies and offer a
# button; when one is found, a text-less full-screen backdrop is hidden too and page scrolling restored.
_HIDE_OVERLAYS_JS = """
(selectors) => {
  let hidden = 0;
  const hide = (el) => { el.style.setProperty('display', 'none', 'important'); hidden++; };
  const shown = (el) => el.getClientRects().length > 0;
  for (const sel of selectors) {
    let found = [];
    try { found = document.querySelectorAll(sel); } catch (e) { continue; }
    found.forEach((el) => { if (shown(el)) hide(el); });
  }
  const words = /\\b(cookies?|consent|gdpr)\\b/i;
  const buttons = /\\b(accept|agree|allow|reject|decline|got it|ok|i understand)\\b/i;
  const fixed = (el) => ['fixed', 'sticky'].includes(getComputedStyle(el).position) && shown(el);
  for (const el of document.querySelectorAll('body *')) {
    if (!fixed(el)) continue;
    const text = el.innerText || '';
    const hasButton = [...el.querySelectorAll('button, a, [role=button], input[type=button], input[type=submit]')]
      .some((b) => buttons.test(b.innerText || b.value || ''));
    if (text.length < 3000 && words.test(text) && hasButton) hide(el);
  }
  if (hidden > 0) {
    for (const el of document.querySelectorAll('body *')) {
      if (getComputedStyle(el).position !== 'fixed' || !shown(el) || (el.innerText || '').trim()) continue;
      const r = el.getBoundingClientRect();
      if (r.width >= innerWidth * 0.9 && r.height >= innerHeight * 0.9) hide(el);
    }
    for (const el of [document.documentElement, document.body]) {
      if (el) el.style.setProperty('overflow', 'visible', 'important');
    }
  }
  return hidden;
}
"""

# Screenshots go through DevTools rather than page.screenshot: Playwright has Chromium encode the PNG at zlib's
# slow default, while optimizeForSpeed gives the same pixels (checked on the bench pages) in about two thirds
# of the time, which was most of a page's time. So what page.screenshot(animations="disabled", caret="hide")
# did is done here: fonts loaded, finite animations and transitions ended, endless ones stopped, caret hidden.
# Overlays are hidden in the same call (selectors null: not at all), and the page's HTML (serialised as
# Playwright's page.content() does, before the caret style goes in) and title come back with the page's size:
# every call to the page is a round trip, and under load one costs 15-20 ms. Nothing removes the caret style:
# the tab's next use is a new navigation, and an offline page is closed after its shot.
_PREPARE_SHOT_JS = """
async (selectors) => {
  const hidden = selectors === null ? 0 : (HIDE_OVERLAYS)(selectors);
  await document.fonts.ready;
  for (const animation of document.getAnimations()) {
    try {
      const end = animation.effect ? animation.effect.getComputedTiming().endTime : Infinity;
      if (Number.isFinite(end)) animation.finish(); else animation.cancel();
    } catch (e) { animation.cancel(); }
  }
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '';
  const html = doctype + (document.documentElement ? document.documentElement.outerHTML : '');
  const style = document.createElement('style');
  style.id = '__evidence_kit_caret';
  style.textContent = '*, *::before, *::after { caret-color: transparent !important; }';
  (document.head || document.documentElement).append(style);
  const root = document.documentElement, body = document.body;
  return [hidden, Math.max(root.scrollWidth, body ? body.scrollWidth : 0, innerWidth),
          Math.max(root.scrollHeight, body ? body.scrollHeight : 0), html, document.title];
}
""".replace("HIDE_OVERLAYS", _HIDE_OVERLAYS_JS.strip())

_NET_ERRORS = {
    "ERR_NAME_NOT_RESOLVED": "the site's name could not be found (DNS): check the address and the internet connection",
    "ERR_INTERNET_DISCONNECTED": "no internet connection",
    "ERR_CONNECTION_REFUSED": "the site refused the connection",
    "ERR_CONNECTION_RESET": "the connection to the site was cut off",
    "ERR_CONNECTION_CLOSED": "the site closed the connection without answering",
    "ERR_EMPTY_RESPONSE": "the site closed the connection without answering",
    "ERR_ADDRESS_UNREACHABLE": "the site cannot be reached from this network",
    "ERR_NETWORK_ACCESS_DENIED": "this computer does not allow the connection",
    "ERR_TIMED_OUT": "the connection to the site timed out",
    "ERR_CERT": "the site's security certificate is not valid (TLS): the page was not trusted",
    "ERR_SSL": "the secure connection (TLS) to the site failed",
    "ERR_TOO_MANY_REDIRECTS": "the site redirects in a loop",
    "ERR_BLOCKED_BY_RESPONSE": "the site refuses to be shown this way",
    "ERR_ABORTED": "the address did not open a page (a download or a cancelled navigation)",
}


def _explain(exc: Exception) -> str:
    text = str(exc)
    if "Download is starting" in text:
        return "the address starts a download, not a page: downloads are blocked"
    for code, meaning in _NET_ERRORS.items():
        if f"net::{code}" in text:
            return meaning
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"the page could not be opened ({first})"


@dataclass
class Capture:
    """A finished capture: its files (relative to the output folder) and what the page said about itself."""

    target: Target
    pngs: list[Path]
    html: Path
    record: Path
    jpegs: list[Path] = field(default_factory=list)
    final_url: str = ""
    status: int | None = None
    title: str = ""
    captured: str = ""  # UTC, ISO 8601
    page_height: int = 0
    overlays_hidden: int = 0
    warnings: list[str] = field(default_factory=list)
    kept: bool = False  # copied from an earlier build because this build's capture failed

    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        rel = (lambda p: p.relative_to(relative_to).as_posix()) if relative_to else (lambda p: str(p))
        return {"kind": self.target.kind, "target": self.target.label, "number": self.target.number,
                "carrier": self.target.carrier, "site": self.target.site, "final_url": self.final_url,
                "status": self.status, "title": self.title, "captured_utc": self.captured,
                "page_height": self.page_height, "overlays_hidden": self.overlays_hidden,
                "png": [rel(p) for p in self.pngs], "html": rel(self.html), "record": rel(self.record),
                "jpeg": [rel(p) for p in self.jpegs], "warnings": [warning_record(w) for w in self.warnings],
                "kept_from_earlier_build": self.kept}


@dataclass
class _Rendered:
    png: bytes
    html: bytes
    final_url: str = ""
    status: int | None = None
    title: str = ""
    overlays_hidden: int = 0
    warnings: list[str] = field(default_factory=list)


class _NetworkWatch:
    """Counts a page's requests in flight. Playwright's own "networkidle" waits a fixed 500 ms of silence;
    tracking pages fetch their data right after load, so a shorter, configurable quiet spell is enough."""

    def __init__(self, page: "Page") -> None:
        self.reset()
        page.on("request", lambda _: self._change(+1))
        page.on("requestfinished", lambda _: self._change(-1))
        page.on("requestfailed", lambda _: self._change(-1))

    def reset(self) -> None:
        self.in_flight = 0
        self.last_change = time.monotonic()

    def _change(self, delta: int) -> None:
        self.in_flight = max(0, self.in_flight + delta)
        self.last_change = time.monotonic()

    def wait_quiet(self, page: "Page", quiet: float, limit: float) -> bool:
        """Wait until no request has been in flight for ``quiet`` seconds; False if ``limit`` ran out first."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.in_flight == 0 and time.monotonic() - self.last_change >= quiet:
                return True
            page.wait_for_timeout(50)  # lets Playwright deliver the request events meanwhile
        return False


def live_tabs() -> int:
    """How many live pages load at once. Chromium lays out and paints each in its own renderer, so while one
    page is screenshot the others load and go quiet; beyond two per core they only wait for the CPU."""
    return max(2, 2 * (os.cpu_count() or 1))


class _Tab:
    """One page of the live context with its own request count and pop-up warnings, reused between clean
    captures (a new tab costs 0.1-0.4 s)."""

    def __init__(self, context: "BrowserContext") -> None:
        self.page = context.new_page()
        self.network = _NetworkWatch(self.page)
        self.warnings: list[str] = []
        self._session: CDPSession | None = None
        self.page.on("dialog", self._dismiss)

    def _dismiss(self, dialog: Any) -> None:
        self.warnings.append(Hinted(f"the page showed a pop-up message ({dialog.type}: {dialog.message[:80]!r}); "
                                    "it was dismissed", kind="popup_dismissed", said=dialog.message[:80]))
        dialog.dismiss()

    def screenshots(self) -> "CDPSession":
        """The tab's DevTools session, opened on its first screenshot and kept for the next."""
        if self._session is None:
            self._session = self.page.context.new_cdp_session(self.page)
        return self._session


# A file a saved page may load is read here and handed to Chromium whole; a bigger one is not loaded.
SAVED_FILE_MAX_BYTES = 64 * 1024 * 1024


def _file_url_path(url: str) -> Path | None:
    """The local path a ``file:`` URL names (None for any other address, or a file on another host)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc.lower() not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    return Path(os.path.normpath(path)) if path.startswith("/") else None


def _listed(items: list[str], one: str, many: str, limit: int = 4) -> str:
    """``a file (x.png)`` / ``3 files (a, b, c)``: each name once, the first ``limit`` of them."""
    unique = list(dict.fromkeys(items))
    shown_names = ", ".join(unique[:limit]) + (f" and {len(unique) - limit} more" if len(unique) > limit else "")
    return f"{one if len(unique) == 1 else f'{len(unique)} {many}'} ({shown_names})"


def _names(items: list[str], limit: int = 4) -> list[str]:
    """The names ``_listed`` shows, each once (a warning's params: the web app lists them in its own words)."""
    return list(dict.fromkeys(items))[:limit]


class _SavedPageRules:
    """What a saved page may load while it is shown offline: itself, and the files inside its folder (the
    case's tracking folder; a page given on its own: only the ``NAME_files`` folder browsers save beside it),
    links resolved first. Any other local file, any network address and any move of the page to another page
    is refused and remembered, so the build can say in plain words what was not loaded.

    Allowed files are read here and handed to Chromium (``route.fulfill``): Chromium never opens a local path
    itself, so what was checked is what is shown, whatever the page's ``<base>``, ``..`` or ``%2e%2e`` say.
    """

    def __init__(self, target: Target) -> None:
        assert target.path is not None
        self.target = target
        self.page = Path(os.path.normpath(target.path.absolute()))
        self.page_bytes = target.path.read_bytes()
        folder = target.folder or target.path.parent / f"{target.path.stem}_files"
        self.folder = folder.resolve()
        self.where = "the tracking folder" if target.folder else f"the folder saved with it ({folder.name})"
        self.opened = False
        self.outside: list[str] = []
        self.network: list[str] = []
        self.navigations: list[str] = []

    @property
    def url(self) -> str:
        return self.page.as_uri()

    def allows(self, url: str) -> bool:
        """True for what a frame of the page may show: the page, an allowed file, inline content."""
        if url in ("", "about:blank", "about:srcdoc") or url.lower().startswith("data:"):
            return True
        path = _file_url_path(url)
        return path is not None and (path == self.page or self.inside(path) is not None)

    def inside(self, path: Path) -> Path | None:
        with contextlib.suppress(OSError, RuntimeError):  # a link loop or an unreadable folder: refused
            resolved = path.resolve()
            if resolved.is_relative_to(self.folder):
                return resolved
        return None

    def handle(self, route: "Route") -> None:
        request = route.request
        navigation = request.is_navigation_request()
        # A refused navigation is "aborted" so that no error page replaces the page (or fills its frame).
        refuse = "aborted" if navigation else "blockedbyclient"
        path = _file_url_path(request.url)
        if navigation and _main_frame(request):
            if path == self.page and not self.opened:
                self.opened = True
                route.fulfill(status=200, body=self.page_bytes, content_type="text/html")
                return
            if path != self.page:  # a refresh of the page itself is only stopped, not reported
                self.navigations.append(names.shown(path.name or "/") if path else _host(request.url))
            route.abort(refuse)
            return
        if path is None:
            self.network.append(_host(request.url))
            route.abort(refuse)
            return
        if path == self.page:
            route.fulfill(status=200, body=self.page_bytes, content_type="text/html")
            return
        resolved = self.inside(path)
        if resolved is None:
            self.outside.append(names.shown(path.name or "/"))
            route.abort(refuse)
            return
        try:
            if not resolved.is_file() or resolved.stat().st_size > SAVED_FILE_MAX_BYTES:
                raise OSError("not a file that can be shown")
            body = resolved.read_bytes()
        except OSError:
            route.abort("aborted" if navigation else "failed")
            return
        kind = mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
        route.fulfill(status=200, body=body, content_type=kind)

    def warnings(self) -> list[str]:
        page, out = self.target.label, []
        if self.outside:
            they = "it was" if len(set(self.outside)) == 1 else "they were"
            out.append(Hinted(f"{page} asked for {_listed(self.outside, 'a file', 'files')} outside {self.where}; "
                              f"{they} not loaded", kind="saved_page_files_outside", names=_names(self.outside)))
        if self.network:
            they = "it was" if len(set(self.network)) == 1 else "they were"
            out.append(Hinted(f"{page} asked for {_listed(self.network, 'an address', 'addresses')} on the network; "
                              f"a saved page is shown offline, so {they} not loaded", kind="saved_page_network",
                              names=_names(self.network)))
        if self.navigations:
            out.append(Hinted(f"{page} tried to open another page ({', '.join(dict.fromkeys(self.navigations))}); "
                              "it was not followed", kind="saved_page_navigation", names=_names(self.navigations)))
        return out


def _main_frame(request: Any) -> bool:
    try:
        return request.frame.parent_frame is None
    except Exception:  # Playwright raises its own error for a request without a frame (a service worker's)
        return False


def _host(url: str) -> str:
    parts = urlsplit(url)
    return names.shown(parts.hostname or parts.scheme or "an address")


@dataclass
class _Loading:
    """A live page whose navigation has started (``Capturer.start``); ``Capturer.render`` finishes it."""

    target: Target
    tab: _Tab
    started: float  # time.monotonic() when the navigation began: the load timeout counts from here
    response: Any = None
    failure: CaptureError | None = None


class Capturer:
    """Captures targets in one browser: live pages in one fresh context, offline pages in another.

    Live pages can be started ahead (``start``) so that several load at once in their own tabs while the
    earliest is finished and screenshot (``render``); each tab keeps its own requests, pop-ups and errors.
    ``wait_for`` is a CSS selector, ``text=...``, or plain text to wait for after the page loads.
    """

    def __init__(self, browser: Browser, config: TrackerConfig, *, wait_for: str | None = None,
                 timeout: float | None = None, case_facts: dict[str, str] | None = None) -> None:
        self.browser = browser
        self.settings = config.capture if timeout is None else config.capture.model_copy(update={"timeout": timeout})
        self.wait_for = wait_for
        self.case_facts = case_facts or {}
        self._live: BrowserContext | None = None
        self._offline: BrowserContext | None = None
        self._idle_tabs: list[_Tab] = []
        self._rules: _SavedPageRules | None = None  # the saved page being shown; None: nothing may load

    def _context(self, offline: bool) -> "BrowserContext":
        viewport = {"width": self.settings.viewport_width, "height": self.settings.viewport_height}
        if offline and self._offline is None:
            # Saved pages and timelines render from disk only, and only what _SavedPageRules allows. No scripts:
            # a saved page is what the browser serialised when the buyer saved it, events included; the site's
            # scripts, run offline, would only re-render it without its data (or call out, or read files).
            self._offline = self.browser.context(viewport=viewport, java_script_enabled=False)
            self._offline.route("**/*", self._route_offline)
            self._offline.on("page", self._close_popups)
        if not offline and self._live is None:
            self._live = self.browser.context(viewport=viewport, locale="en-US")
            self._live.on("page", self._close_popups)
        return self._offline if offline else self._live  # type: ignore[return-value]

    def _route_offline(self, route: "Route") -> None:
        if self._rules is None:  # a timeline (set_content) asks for nothing; anything else is refused
            route.abort("blockedbyclient")
        else:
            self._rules.handle(route)

    def _close_popups(self, page: "Page") -> None:
        if page.opener() is not None:  # a pop-up window the page opened: never followed
            page.close()

    def close(self) -> None:
        for context in (self._live, self._offline):
            if context is not None:
                try:
                    context.close()
                except Exception:  # the browser is already gone; nothing to release
                    pass
        self._live = self._offline = None
        self._idle_tabs = []

    def start(self, target: Target) -> _Loading | None:
        """Begin loading a live page in a tab of its own and return at once (None: not a page loaded online).

        Only the wait for the server's first answer blocks; a page that fails here fails when it is rendered.
        """
        from playwright.sync_api import Error as PlaywrightError, TimeoutError as PlaywrightTimeout

        if target.kind != "page" or not re.match(r"^https?://", target.url, re.I):
            return None
        tab = self._idle_tabs.pop() if self._idle_tabs else _Tab(self._context(offline=False))
        tab.network.reset()
        tab.warnings = []
        loading = _Loading(target, tab, time.monotonic())
        try:
            loading.response = tab.page.goto(target.url, wait_until="commit", timeout=self._ms(self.settings.timeout))
        except PlaywrightTimeout:
            loading.failure = CaptureError(f"the page did not answer within {self.settings.timeout:g} s",
                                           path=target.label)
        except PlaywrightError as exc:
            loading.failure = CaptureError(_explain(exc), path=target.label)
        return loading

    def render(self, target: Target, loading: _Loading | None = None) -> _Rendered:
        """Load (or finish loading, given ``start``'s result) and screenshot one target; raises CaptureError
        (nothing written) when it fails."""
        if target.kind == "page":
            if not re.match(r"^https?://", target.url, re.I):
                raise CaptureError("only http:// and https:// addresses are captured", path=target.label)
            return self._finish_live(loading or self.start(target))  # type: ignore[arg-type]
        return self._render_offline(target)

    def _ms(self, seconds: float) -> float:
        return max(1.0, seconds * 1000)

    def _finish_live(self, loading: _Loading) -> _Rendered:
        from playwright.sync_api import Error as PlaywrightError, TimeoutError as PlaywrightTimeout

        s = self.settings
        target, tab = loading.target, loading.tab
        page, warnings = tab.page, tab.warnings
        clean = False
        try:
            if loading.failure is not None:
                raise loading.failure
            response = loading.response
            if response is not None and response.status >= 400:
                raise CaptureError(f"the site answered HTTP {response.status} {response.status_text}".rstrip()
                                   + ": the page was not captured", path=target.label)
            try:  # the time it spent loading in the background counts
                page.wait_for_load_state("domcontentloaded",
                                         timeout=self._ms(loading.started + s.timeout - time.monotonic()))
            except PlaywrightTimeout:
                raise CaptureError(f"the page did not answer within {s.timeout:g} s", path=target.label) from None
            try:
                page.wait_for_load_state("load", timeout=self._ms(s.timeout))
            except PlaywrightTimeout:
                warnings.append(Hinted(f"the page had not finished loading after {s.timeout:g} s; captured as it was",
                                       kind="page_not_loaded", seconds=f"{s.timeout:g}"))
            if target.ready and not self._appears(page, target.ready):
                warnings.append(Hinted(f"the tracker's events ({target.ready!r}) had not appeared after "
                                       f"{s.timeout:g} s; captured as it was", kind="tracker_events_missing",
                                       seconds=f"{s.timeout:g}"))
            if not tab.network.wait_quiet(page, s.quiet, s.idle_timeout):
                warnings.append(Hinted(f"the page was still loading data after {s.idle_timeout:g} s more; captured "
                                       "anyway", kind="page_still_loading", seconds=f"{s.idle_timeout:g}"))
            if self.wait_for:
                self._wait_for(page, self.wait_for, target)
            rendered = self._shoot(page, target, response.status if response else None, warnings, tab)
            clean = not warnings
            return rendered
        except PlaywrightError as exc:
            raise CaptureError(_explain(exc), path=target.label) from None
        finally:
            # A failed or half-loaded page may still have requests or dialogs pending, so it is not reused. It is
            # not closed on its own either: Chromium 156 can accept Target.closeTarget on a page that has just
            # committed an error response and never close it, and Playwright's page.close() then waits forever.
            # Its context's close, at the end of the run, takes it down reliably.
            if clean:
                self._idle_tabs.append(tab)

    def _appears(self, page: "Page", wanted: str) -> bool:
        """Wait until ``wanted`` (a CSS selector, ``text=...``, or plain text) is visible; False after the timeout."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        if wanted.startswith(("text=", "css=", "xpath=", "//")):
            locator = page.locator(wanted)
        elif page.evaluate("(s) => { try { document.querySelector(s); return true } catch (e) { return false } }",
                           wanted):
            locator = page.locator(wanted).or_(page.get_by_text(wanted))
        else:  # not valid CSS, so it is text to look for
            locator = page.get_by_text(wanted)
        try:
            locator.first.wait_for(state="visible", timeout=self._ms(self.settings.timeout))
        except PlaywrightTimeout:
            return False
        return True

    def _wait_for(self, page: "Page", wanted: str, target: Target) -> None:
        if not self._appears(page, wanted):
            raise CaptureError(f"waited {self.settings.timeout:g} s for {wanted!r} and it did not appear: "
                               "the page was not captured", path=target.label)

    def _shoot(self, page: "Page", target: Target, status: int | None, warnings: list[str],
               tab: _Tab | None = None) -> _Rendered:
        s = self.settings
        hidden, width, height, html, title = page.evaluate(_PREPARE_SHOT_JS,
                                                           list(s.hide) if target.kind != "events" else None)
        if height > s.max_page_height:
            warnings.append(Hinted(f"the page is {height} px tall; only the top {s.max_page_height} px were captured",
                                   kind="page_too_tall", height=height, top=s.max_page_height))
            width, height = s.viewport_width, s.max_page_height
        session = tab.screenshots() if tab else page.context.new_cdp_session(page)
        # A tab behind another one is not given frames to paint, so Chromium made the screenshot wait for one:
        # 0.36 s a page with several tabs loading, 0.065 s once the tab is in front (bench/tracking.py, 10 pages).
        page.bring_to_front()
        try:
            shot = session.send("Page.captureScreenshot", {
                "format": "png", "optimizeForSpeed": True, "captureBeyondViewport": True, "fromSurface": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        finally:
            if tab is None:
                session.detach()
        return _Rendered(png=base64.b64decode(shot["data"]), html=html.encode("utf-8"), final_url=page.url,
                         status=status, title=title, overlays_hidden=hidden, warnings=warnings)

    def _render_offline(self, target: Target) -> _Rendered:
        from playwright.sync_api import Error as PlaywrightError

        assert target.path is not None
        page = self._context(offline=True).new_page()
        try:
            if target.kind == "saved_page":
                rules = _SavedPageRules(target)
                if target.folder is not None and rules.inside(target.path) is None:
                    raise CaptureError("it is a link to a file outside the tracking folder; it was not shown",
                                       path=target.label)
                self._rules = rules
                # Addressed by its place in the folder, not where a link points: its own files are found beside it.
                page.goto(rules.url, wait_until="load", timeout=self._ms(self.settings.timeout))
                if not all(rules.allows(frame.url) for frame in page.frames):  # the rules are the guard; belt too
                    raise CaptureError("the saved page showed something from outside its folder; it was not "
                                       "captured", path=target.label)
                rendered = self._shoot(page, target, None, [])
                rendered.warnings += rules.warnings()
                original = rules.page_bytes
                saved_from = re.search(rb"<!-- saved from url=\(\d+\)(\S+?) -->", original[:4096])
                rendered.html = original  # the buyer's file as it is, not the browser's re-serialisation
                rendered.final_url = saved_from.group(1).decode("utf-8", "replace") if saved_from else ""
                return rendered
            events = read_events(target.path)
            text = timeline_html(events, source=target.path.name, number=target.number, carrier=target.carrier,
                                 order=self.case_facts.get("order", ""))
            # A short viewport so the full-page shot ends where the table ends.
            page.set_viewport_size({"width": self.settings.viewport_width, "height": 200})
            page.set_content(text, wait_until="load", timeout=self._ms(self.settings.timeout))
            rendered = self._shoot(page, target, None, [])
            rendered.final_url = ""
            return rendered
        except OSError as exc:
            raise CaptureError(f"cannot read: {exc.strerror or exc}", path=target.label) from None
        except PlaywrightError as exc:
            raise CaptureError(_explain(exc), path=target.label) from None
        finally:
            self._rules = None
            page.close()


# Screenshots are text on flat colour: one encode at this quality with full-resolution colour keeps letters
# sharp and is far under a 2 MB limit. photos.fit_image (which ranks candidates by SSIM: about 1.4 s for
# one screenshot on these machines) runs only when that one encode does not fit. Baseline with optimised Huffman
# tables, not progressive: for a 1280x3927 page 58 ms against 118 ms, 594 KB against 550 KB, and a form that
# takes the file whole has no use for a progressive preview.
SCREENSHOT_JPEG = {"quality": 90, "subsampling": "4:4:4", "optimize": True}


def _jpeg_bytes(image: Image.Image, max_bytes: int) -> bytes:
    """The stamped image as a JPEG of at most ``max_bytes`` (LimitError when nothing fits)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", **SCREENSHOT_JPEG)
    data = buffer.getvalue()
    return data if len(data) <= max_bytes else fit_image(image, max_bytes).data


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_bytes(image: Image.Image) -> bytes:
    """The stamped screenshot as an 8-bit RGB PNG whose rows are stored unfiltered, compressed at zlib level 3.

    Pillow's PNG encoder tries every row filter on every row and cannot be told not to. Screenshots are text on
    flat colour, where unfiltered rows deflate smaller as well as faster: a 1280x3927 tracking page gives
    489 KB in about 60 ms against Pillow's 514 KB in 110 ms (level 3), a web page 179 KB in 21 ms against 197 KB
    in 48 ms. The container is three chunks (header, data, end), each with its CRC; zlib does the rest.
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    pixels, stride = memoryview(rgb.tobytes()), 3 * width
    # Each row: filter type 0 (none), then its pixels. One compress call for the whole image, as it runs beside
    # Playwright's thread: zlib lets go of the GIL once, not twice per row.
    rows = b"".join(piece for top in range(0, len(pixels), stride) for piece in (b"\0", pixels[top:top + stride]))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, deflate, filters, no interlace
    return PNG_SIGNATURE + b"".join(_png_chunk(kind, data) for kind, data in (
        (b"IHDR", header), (b"IDAT", zlib.compress(rows, 3)), (b"IEND", b"")))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_together(files: dict[Path, bytes], max_jpeg_bytes: int | None) -> None:
    """Write every file of one capture under a temporary name, then rename them all: a failure or Ctrl-C
    while writing leaves the earlier capture's files as they were. JPEGs are measured once written."""
    with contextlib.ExitStack() as stack:
        for final, data in files.items():
            stack.enter_context(atomic_path(final)).write_bytes(data)
    for final in files:
        if final.suffix == ".jpg" and max_jpeg_bytes is not None and final.stat().st_size > max_jpeg_bytes:
            final.unlink()  # the upload limit is the point of the JPEG: never leave one that breaks it
            raise LimitError(f"the tracking JPEG came out at {final.stat().st_size:,} bytes, over the photo "
                             f"limit of {max_jpeg_bytes:,}", path=str(final))


def save_capture(rendered: _Rendered, target: Target, out: Path, *, settings: CaptureSettings,
                 browser_version: str, max_photo_bytes: int | None) -> Capture:
    """Stamp, split and write one rendered page under ``out`` (``max_photo_bytes=None``: no JPEGs).

    Everything is encoded in memory first and written together at the end, so a capture that fails
    (an unreadable screenshot, a JPEG that cannot fit) never replaces a good earlier one.
    """
    captured = datetime.now(timezone.utc).replace(microsecond=0)
    try:
        page_image = Image.open(io.BytesIO(rendered.png))
        page_image.load()
    except OSError as exc:
        raise CaptureError(f"Chromium returned an unreadable screenshot ({exc})", path=target.label) from None
    parts = split_parts(page_image, settings.max_part_height)
    names = [target.name] if len(parts) == 1 else [f"{target.name}-part{i}" for i in range(1, len(parts) + 1)]
    stamped = [stamp(part, stamp_lines(target, final_url=rendered.final_url, captured=captured, part=i,
                                       parts=len(parts)))
               for i, part in enumerate(parts, 1)]
    files = {out / f"{name}.png": _png_bytes(image) for name, image in zip(names, stamped, strict=True)}
    files[out / f"{target.name}.html"] = rendered.html
    hashes = {path.name: _sha256(data) for path, data in files.items()}
    if max_photo_bytes is not None:
        files.update({out / f"{name}.jpg": _jpeg_bytes(image, max_photo_bytes)
                      for name, image in zip(names, stamped, strict=True)})
    capture = Capture(target=target, pngs=[out / f"{name}.png" for name in names], html=out / f"{target.name}.html",
                      record=out / f"{target.name}.json",
                      jpegs=[out / f"{name}.jpg" for name in names] if max_photo_bytes is not None else [],
                      final_url=rendered.final_url, status=rendered.status, title=rendered.title,
                      captured=captured.isoformat(), page_height=page_image.height,
                      overlays_hidden=rendered.overlays_hidden, warnings=rendered.warnings)
    record = {**capture.to_dict(out), "jpeg": None, "requested_url": target.url,
              "captured_local": captured.astimezone().isoformat(), "tool": f"evidence-kit {__version__}",
              "browser": f"Chromium {browser_version}", "viewport": [settings.viewport_width, settings.viewport_height],
              "sha256": hashes}
    files[capture.record] = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    _write_together(files, max_photo_bytes)
    _remove_stale_parts(out, target.name, names)
    return capture


def _remove_stale_parts(out: Path, stem: str, current: list[str]) -> None:
    """A re-capture that came out shorter leaves no parts of the older, longer one behind."""
    for old in out.glob(f"{stem}*.png"):
        if old.stem not in current and re.fullmatch(rf"{re.escape(stem)}(-part\d+)?", old.stem):
            for suffix in (".png", ".jpg"):
                old.with_suffix(suffix).unlink(missing_ok=True)


def earlier_capture(previous: Path, target: Target, out: Path, *, max_photo_bytes: int | None) -> Capture | None:
    """A good capture of ``target`` from an earlier build's ``previous`` folder, copied into ``out``.

    Used when this build's capture failed, so a rebuild never loses a good capture. Only a capture whose
    PNG and HTML still match the hashes in its JSON record is kept; its JPEG is made again from the PNG
    under the current photo limit.
    """
    for record_path in sorted(previous.glob("*.json")) if previous.is_dir() else []:
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            if record.get("kind") != target.kind or record.get("target") != target.label:
                continue
            names = [*record["png"], record["html"]]
            if not record["png"] or any(_sha256((previous / n).read_bytes()) != record["sha256"].get(n) for n in names):
                continue
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        _write_together({out / name: (previous / name).read_bytes() for name in [*names, record_path.name]}, None)
        pngs = [out / n for n in record["png"]]
        jpegs = []
        if max_photo_bytes is not None:
            for png in pngs:
                with Image.open(png) as image:
                    data = _jpeg_bytes(image.convert("RGB"), max_photo_bytes)
                _write_together({png.with_suffix(".jpg"): data}, max_photo_bytes)
                jpegs.append(png.with_suffix(".jpg"))
        return Capture(target=target, pngs=pngs, html=out / record["html"], record=out / record_path.name,
                       jpegs=jpegs, final_url=record.get("final_url", ""), status=record.get("status"),
                       title=record.get("title", ""), captured=record.get("captured_utc", ""),
                       page_height=record.get("page_height", 0), overlays_hidden=record.get("overlays_hidden", 0),
                       warnings=[warning_of(w) for w in record.get("warnings", [])], kept=True)  # kinds kept: worded as before
    return None


@dataclass
class TrackResult:
    out: Path
    captures: list[Capture] = field(default_factory=list)
    failures: list[tuple[Target, str]] = field(default_factory=list)
    browser: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "browser": self.browser,
                "captures": [c.to_dict(self.out) for c in self.captures],
                "errors": [{"target": t.label, "kind": t.kind, "message": m} for t, m in self.failures]}


def capture_targets(targets: Sequence[Target], out: str | Path, *, config: TrackerConfig,
                    max_photo_bytes: int | None, wait_for: str | None = None, timeout: float | None = None,
                    case_facts: dict[str, str] | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    browser: Browser | None = None, tabs: int | None = None) -> TrackResult:
    """Capture every target with one browser; a target that fails is listed and the others go on.

    ``tabs`` live pages load at once (default ``live_tabs()``); results come in the order of ``targets``.

    Raises MissingDependencyError when no Chromium is installed (nothing is written then).
    """
    out = Path(out)
    result = TrackResult(out)
    if not targets:
        return result
    own_browser = browser is None
    browser = browser or Browser()
    if own_browser:
        browser.__enter__()
    try:
        result.browser = browser.version
        capturer = Capturer(browser, config, wait_for=wait_for, timeout=timeout, case_facts=case_facts)
        tabs = max(1, tabs or live_tabs())
        saving: list[tuple[Target, Future[Capture]]] = []
        loading: dict[int, _Loading] = {}  # live pages started ahead, by their place in ``targets``
        next_start = 0
        # Up to ``tabs`` live pages load at once while the earliest is finished, in the order given (so names and
        # order are as with one page at a time). Stamping and encoding (Pillow, which releases the GIL) overlap
        # with Chromium; Playwright's sync API itself stays on this thread.
        with ThreadPoolExecutor(max_workers=1) as saver:
            try:
                for i, target in enumerate(targets):
                    if progress:
                        progress(i, len(targets))
                    while next_start < len(targets) and len(loading) < tabs:
                        started = capturer.start(targets[next_start])
                        if started is not None:
                            loading[next_start] = started
                        next_start += 1
                    try:
                        rendered = capturer.render(target, loading.pop(i, None))
                    except (InputError, LimitError) as exc:  # includes a bad events file, an unreadable saved page
                        result.failures.append((target, exc.message))
                        continue
                    saving.append((target, saver.submit(save_capture, rendered, target, out, settings=capturer.settings,
                                                        browser_version=browser.version,
                                                        max_photo_bytes=max_photo_bytes)))
            finally:
                capturer.close()
        for target, future in saving:
            try:
                result.captures.append(future.result())
            except (InputError, LimitError) as exc:
                result.failures.append((target, exc.message))
    finally:
        if own_browser:
            browser.close()
    if progress:
        progress(len(targets), len(targets))
    return result


@dataclass
class CaseTracking:
    """What a build captured of the case's tracking: the captures, what failed, what was not looked up."""

    root: Path  # the package (staging) folder the capture paths are relative to
    captures: list[Capture] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)  # {"target", "message"[, "kind"]}
    not_looked_up: list[dict[str, Any]] = field(default_factory=list)  # {"number", "carrier", "urls"}
    trackers: list[str] = field(default_factory=list)
    browser: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"captures": [c.to_dict(self.root) for c in self.captures], "errors": self.errors,
                                "not_looked_up": self.not_looked_up}
        if self.trackers:
            data["trackers"] = self.trackers
        if self.browser:
            data["browser"] = self.browser
        return data
