"""The case folder: ``case.toml`` (order facts) plus media found by subfolder or by type."""
from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..errors import CaseError, InputError
from ..model.profile import DEFAULT_PROFILE, Profile, load_profile
from ..model.reasons import REASON_RULES, REASONS, RESOLUTIONS

CASE_FILE = "case.toml"
PACKAGE_DIR = "evidence-package"

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif", ".hif", ".avif",
                            ".tif", ".tiff", ".bmp", ".gif", ".mpo"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp", ".mts", ".m2ts"})
TRACKING_SUFFIXES = frozenset({".html", ".htm", ".csv", ".json"})
RECEIPT_SUFFIXES = frozenset({".pdf"})

# Media kind -> the subfolder that holds it. Loose files at the case root are sorted by suffix.
SUBFOLDERS = {"photos": "photos", "videos": "video", "chat": "chat", "tracking": "tracking",
              "receipts": "receipts"}


@dataclass(frozen=True)
class Order:
    number: str
    store: str = ""
    item: str = ""
    price: Decimal | None = None
    currency: str = ""
    ordered: date | None = None
    shipped: date | None = None
    delivered: date | None = None
    protection_ends: date | None = None


@dataclass(frozen=True)
class Dispute:
    reason: str
    resolution: str
    amount: Decimal | None = None
    opened: date | None = None
    escalated_closed: date | None = None
    seller_contacted: date | None = None
    seller_reply: str = ""
    notes: str = ""


@dataclass(frozen=True)
class TrackingRef:
    number: str = ""
    carrier: str = ""
    url: str = ""


@dataclass(frozen=True)
class VideoSpec:
    file: Path | None = None
    start: float | None = None  # seconds
    end: float | None = None
    stills: tuple[float, ...] = ()


@dataclass(frozen=True)
class PhotoHint:
    file: Path
    rank: int | None = None
    caption: str = ""


@dataclass(frozen=True)
class Media:
    photos: tuple[Path, ...] = ()
    videos: tuple[Path, ...] = ()
    chat: tuple[Path, ...] = ()
    tracking: tuple[Path, ...] = ()
    receipts: tuple[Path, ...] = ()

    def all_files(self) -> list[Path]:
        return [*self.photos, *self.videos, *self.chat, *self.tracking, *self.receipts]


@dataclass(frozen=True)
class Case:
    root: Path
    title: str
    order: Order
    dispute: Dispute
    profile: Profile
    media: Media
    tracking: tuple[TrackingRef, ...] = ()
    video: VideoSpec = field(default_factory=VideoSpec)
    photo_hints: tuple[PhotoHint, ...] = ()

    @property
    def case_file(self) -> Path:
        return self.root / CASE_FILE

    def hint_for(self, photo: Path) -> PhotoHint | None:
        resolved = photo.resolve()
        return next((h for h in self.photo_hints if h.file.resolve() == resolved), None)


_TIMESTAMP = re.compile(r"^(?:(?:(\d+):)?(\d{1,2}):)?(\d+(?:\.\d+)?)$")


def parse_timestamp(text: str | int | float) -> float:
    """Seconds from ``42``, ``0:42``, ``1:02:03`` or ``00:00:42.5``; raises ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError(f"not a time: {text!r}")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(f"time cannot be negative: {text}")
        return float(text)
    match = _TIMESTAMP.match(text.strip())
    if not match:
        raise ValueError(f"not a time: {text!r} (use 42, 0:42 or 00:00:42.5)")
    hours, minutes, seconds = match.groups()
    if (hours or minutes) and float(seconds) >= 60:
        raise ValueError(f"not a time: {text!r} (seconds must be below 60)")
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


class _Reader:
    """Reads typed fields from a TOML table, collecting every problem instead of stopping at the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def table(self, data: dict[str, Any], key: str, known: set[str], *, required: bool = True) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            if required:
                self.problems.append(f"[{key}]: missing section")
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{key}: must be a table ([{key}])")
            return {}
        self.unknown(value, known, key)
        return value

    def unknown(self, data: dict[str, Any], known: set[str], where: str) -> None:
        for key in data:
            if key not in known:
                near = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else f" (known: {', '.join(sorted(known))})"
                self.problems.append(f"{where + '.' if where else ''}{key}: unknown key{hint}")

    def text(self, data: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.problems.append(f"{where}.{key}: missing (required)")
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "number":
            return str(value)  # an order number written without quotes
        if not isinstance(value, str):
            self.problems.append(f"{where}.{key}: must be text in quotes, got {value!r}")
            return ""
        if required and not value.strip():
            self.problems.append(f"{where}.{key}: must not be empty")
        return value.strip()

    def day(self, data: dict[str, Any], key: str, where: str) -> date | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problems.append(f"{where}.{key}: {value!r} is not a date (write it as 2026-11-25)")
        return None

    def amount(self, data: dict[str, Any], key: str, where: str) -> Decimal | None:
        value = data.get(key)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.problems.append(f"{where}.{key}: {value!r} is not a number")
            return None
        if not number.is_finite() or number < 0:
            self.problems.append(f"{where}.{key}: must not be negative, got {value}")
            return None
        return number

    def choice(self, data: dict[str, Any], key: str, where: str, choices: dict[str, str], default: str | None) -> str:
        value = data.get(key, default)
        if value is None:
            self.problems.append(f"{where}.{key}: missing (one of: {', '.join(choices)})")
            return ""
        if value not in choices:
            self.problems.append(f"{where}.{key}: unknown value {value!r} (valid: {', '.join(choices)})")
            return ""
        return value

    def time(self, data: dict[str, Any], key: str, where: str) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            self.problems.append(f"{where}.{key}: {exc}")
            return None


def _is_output(path: Path, root: Path) -> bool:
    """True for files under a package we wrote (so a rebuild never eats its own output)."""
    rel = path.relative_to(root).parts
    return any(part.startswith(PACKAGE_DIR) or part.startswith(".") for part in rel)


def discover_media(root: Path, exclude: Path | None = None) -> Media:
    """Find media in the case's subfolders, and loose files at its root by type."""
    found: dict[str, list[Path]] = {kind: [] for kind in SUBFOLDERS}
    for kind, folder in SUBFOLDERS.items():
        sub = root / folder
        if sub.is_dir():
            found[kind] = sorted(p for p in sub.rglob("*") if p.is_file() and not _is_output(p, root)
                                 and not (exclude and exclude in p.parents))
    for path in sorted(root.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        suffix = path.suffix.lower()
        if suffix in PHOTO_SUFFIXES:
            found["photos"].append(path)
        elif suffix in VIDEO_SUFFIXES:
            found["videos"].append(path)
        elif suffix in TRACKING_SUFFIXES:
            found["tracking"].append(path)
        elif suffix in RECEIPT_SUFFIXES:
            found["receipts"].append(path)
    # Only image files count as photos; other files in photos/ are left alone (and listed as ignored).
    found["photos"] = [p for p in found["photos"] if p.suffix.lower() in PHOTO_SUFFIXES]
    found["videos"] = [p for p in found["videos"] if p.suffix.lower() in VIDEO_SUFFIXES]
    return Media(**{kind: tuple(paths) for kind, paths in found.items()})


_TOP_KEYS = {"title", "profile", "order", "dispute", "tracking", "video", "photos"}
_ORDER_KEYS = {"number", "store", "item", "price", "currency", "ordered", "shipped", "delivered", "protection_ends"}
_DISPUTE_KEYS = {"reason", "resolution", "amount", "opened", "escalated_closed", "seller_contacted",
                 "seller_reply", "notes"}
_TRACKING_KEYS = {"number", "carrier", "url"}
_VIDEO_KEYS = {"file", "start", "end", "stills"}
_PHOTO_KEYS = {"file", "rank", "caption"}


def _profile_from(value: Any, root: Path, source: str, problems: list[str]) -> Profile:
    """``profile = "aliexpress"``, ``profile = "my.toml"`` or ``[profile]`` with ``name``/``file`` and overrides."""
    if value is None:
        return load_profile(DEFAULT_PROFILE)
    if isinstance(value, str):
        base, overrides = value, {}
    elif isinstance(value, dict):
        overrides = dict(value)
        base = overrides.pop("file", None) or overrides.pop("name", DEFAULT_PROFILE)
    else:
        problems.append("profile: must be a profile name, a file path or a [profile] table")
        return load_profile(DEFAULT_PROFILE)
    candidate = root / base
    profile = load_profile(candidate if candidate.suffix == ".toml" else base)
    return profile.with_overrides(overrides, source) if overrides else profile


def load_case(path: str | Path, *, profile: Profile | str | Path | None = None) -> Case:
    """Read and validate a case folder (or its case.toml). Raises CaseError listing every problem.

    ``profile`` (a Profile, a built-in name or a .toml path) replaces the one case.toml names.
    """
    root = Path(path)
    if root.is_file() and root.name == CASE_FILE:
        root = root.parent
    if not root.is_dir():
        raise InputError("no such case folder", path=str(root))
    toml_path = root / CASE_FILE
    source = str(toml_path)
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CaseError(source, [f"missing: run 'evidence-kit init {root}' to write a template"]) from None
    except UnicodeDecodeError:
        raise CaseError(source, ["not UTF-8 text: save it as UTF-8"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(source, [f"not valid TOML: {exc}"]) from None
    return parse_case(data, root, source=source, profile=profile)


def parse_case(data: dict[str, Any], root: Path, *, source: str,
               profile: Profile | str | Path | None = None) -> Case:
    """Validate case.toml's content (already parsed) for the case folder ``root``: the checks ``load_case``
    makes, so a form (the web app) gets the same messages before anything is written."""
    problems: list[str] = []
    read = _Reader(problems)
    read.unknown(data, _TOP_KEYS, "")

    o = read.table(data, "order", _ORDER_KEYS)
    order = Order(
        number=read.text(o, "number", "order", required=True), store=read.text(o, "store", "order"),
        item=read.text(o, "item", "order"), price=read.amount(o, "price", "order"),
        currency=read.text(o, "currency", "order").upper(), ordered=read.day(o, "ordered", "order"),
        shipped=read.day(o, "shipped", "order"), delivered=read.day(o, "delivered", "order"),
        protection_ends=read.day(o, "protection_ends", "order"))
    if order.ordered and order.shipped and order.shipped < order.ordered:
        problems.append("order.shipped: is before order.ordered")
    if order.shipped and order.delivered and order.delivered < order.shipped:
        problems.append("order.delivered: is before order.shipped")

    d = read.table(data, "dispute", _DISPUTE_KEYS)
    reason = read.choice(d, "reason", "dispute", REASONS, None)
    default_resolution = REASON_RULES[reason].default_resolution if reason else None
    dispute = Dispute(
        reason=reason, resolution=read.choice(d, "resolution", "dispute", RESOLUTIONS, default_resolution),
        amount=read.amount(d, "amount", "dispute"), opened=read.day(d, "opened", "dispute"),
        escalated_closed=read.day(d, "escalated_closed", "dispute"),
        seller_contacted=read.day(d, "seller_contacted", "dispute"),
        seller_reply=read.text(d, "seller_reply", "dispute"), notes=read.text(d, "notes", "dispute"))
    if dispute.amount is not None and order.price is not None and dispute.amount > order.price:
        problems.append(f"dispute.amount: {dispute.amount} is more than order.price {order.price}")

    tracking: list[TrackingRef] = []
    raw_tracking = data.get("tracking", [])
    if not isinstance(raw_tracking, list):
        problems.append("tracking: must be a list of [[tracking]] tables")
        raw_tracking = []
    for i, t in enumerate(raw_tracking, 1):
        where = f"tracking[{i}]"
        if isinstance(t, str):
            t = {"number": t}
        if not isinstance(t, dict):
            problems.append(f"{where}: must be a table with number, carrier, url")
            continue
        read.unknown(t, _TRACKING_KEYS, where)
        ref = TrackingRef(read.text(t, "number", where), read.text(t, "carrier", where), read.text(t, "url", where))
        if not ref.number and not ref.url:
            problems.append(f"{where}: needs a number or a url")
        elif ref.url and not re.match(r"^https?://", ref.url):
            problems.append(f"{where}.url: only http:// and https:// addresses are accepted, got {ref.url!r}")
        tracking.append(ref)

    v = read.table(data, "video", _VIDEO_KEYS, required=False)
    stills_raw = v.get("stills", [])
    stills: list[float] = []
    for s in stills_raw if isinstance(stills_raw, list) else [stills_raw]:
        try:
            stills.append(parse_timestamp(s))
        except ValueError as exc:
            problems.append(f"video.stills: {exc}")
    video_file = read.text(v, "file", "video")
    video = VideoSpec(file=(root / video_file) if video_file else None, start=read.time(v, "start", "video"),
                      end=read.time(v, "end", "video"), stills=tuple(stills))
    if video.file and not video.file.is_file():
        problems.append(f"video.file: {video_file!r} does not exist in the case folder")
    if video.start is not None and video.end is not None and video.end <= video.start:
        problems.append("video.end: must be after video.start")

    hints: list[PhotoHint] = []
    raw_photos = data.get("photos", [])
    if not isinstance(raw_photos, list):
        problems.append("photos: must be a list of [[photos]] tables")
        raw_photos = []
    for i, p in enumerate(raw_photos, 1):
        where = f"photos[{i}]"
        if not isinstance(p, dict):
            problems.append(f"{where}: must be a table with file, rank, caption")
            continue
        read.unknown(p, _PHOTO_KEYS, where)
        name = read.text(p, "file", where, required=True)
        rank = p.get("rank")
        if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool) or rank < 1):
            problems.append(f"{where}.rank: must be a whole number from 1, got {rank!r}")
            rank = None
        if name and not (root / name).is_file():
            problems.append(f"{where}.file: {name!r} does not exist in the case folder")
        hints.append(PhotoHint(root / name, rank, read.text(p, "caption", where)))

    try:
        chosen = profile if isinstance(profile, Profile) else (
            load_profile(profile) if profile is not None else _profile_from(data.get("profile"), root, source, problems))
    except CaseError as exc:
        problems.extend(exc.problems)
        chosen = load_profile(DEFAULT_PROFILE)

    title = data.get("title", "")
    if not isinstance(title, str):
        problems.append("title: must be text in quotes")
        title = ""
    if problems:
        raise CaseError(source, problems)
    return Case(root=root, title=title or f"Order {order.number}", order=order, dispute=dispute, profile=chosen,
                media=discover_media(root), tracking=tuple(tracking), video=video, photo_hints=tuple(hints))
