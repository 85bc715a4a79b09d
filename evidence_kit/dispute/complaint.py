"""The three English texts (message to the seller, dispute description, appeal), composed from the case.

Sentences and their shorter variants are data (``templates/complaint/*.toml``). A text over the profile's
``max_text_chars`` loses its lowest-priority sentences first (or takes their shorter variants); nothing is
cut inside a sentence, and the order number, the problem and the requested resolution always stay.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..model.case import PACKAGE_DIR, Case
from ..errors import LimitError
from ..fsutil import atomic_write_text
from ..model.manifest import FileRecord, count_chars, exhibits, read_manifest
from ..dispute.notes import clean, is_english, read_notes, sentences, tone_problems
from ..model.reasons import REASON_RULES

KINDS = ("seller", "dispute", "appeal")
# Where build writes each text, relative to the package. Only the dispute description goes into the form.
TEXT_FILES = {"dispute": "upload/dispute.txt", "seller": "texts/seller-message.txt", "appeal": "texts/appeal.txt"}
ESSENTIAL = 1
_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Slot:
    """One sentence of a text as the template gives it, with the variants that the case can fill."""

    id: str
    priority: int
    variants: tuple[str, ...]
    paragraph: bool = False


@dataclass
class ComposedText:
    kind: str
    text: str
    limit: int
    kept: list[str] = field(default_factory=list)  # sentence ids in the text
    shortened: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def chars(self) -> int:
        return count_chars(self.text)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "chars": self.chars, "limit": self.limit, "kept": self.kept,
                "shortened": self.shortened, "dropped": self.dropped}


@dataclass
class WrittenText:
    """A text as written into the package, counted on the file itself."""

    kind: str
    path: str  # relative to the package
    chars: int
    limit: int
    dropped: list[str] = field(default_factory=list)
    shortened: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "chars": self.chars, "dropped": self.dropped, "shortened": self.shortened}


def write_text(composed: ComposedText, package: Path) -> WrittenText:
    """Write ``composed`` into its file in ``package`` and re-count it there; LimitError if it is over."""
    path = package / TEXT_FILES[composed.kind]
    atomic_write_text(path, composed.text)  # no final newline: the file is pasted as it is
    chars = count_chars(path.read_text(encoding="utf-8"))
    if chars > composed.limit:  # checked on the written file, not on the string
        path.unlink(missing_ok=True)
        raise LimitError(f"{chars} characters written, over the limit of {composed.limit}")
    return WrittenText(composed.kind, TEXT_FILES[composed.kind], chars, composed.limit, composed.dropped,
                       composed.shortened)


@lru_cache(maxsize=None)
def _template(name: str) -> dict[str, Any]:
    source = resources.files("evidence_kit.templates") / "complaint" / f"{name}.toml"
    return tomllib.loads(source.read_text(encoding="utf-8"))


def text_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _money(case: Case, value: Any) -> str:
    return f"{case.order.currency} {value:.2f}".strip()


def refund_phrase(case: Case) -> str:
    """"a full refund of USD 34.90", "a partial refund of USD 10.00", or "a full refund" when no sum is known."""
    amount, price = case.dispute.amount, case.order.price
    if amount is not None:
        if price is not None and amount < price:
            return f"a partial refund of {_money(case, amount)}"
        return f"{'a full' if price is not None else 'a'} refund of {_money(case, amount)}"
    return f"a full refund of {_money(case, price)}" if price is not None else "a full refund"


def _count(n: int, one: str, many: str) -> str:
    return one if n == 1 else f"{n} {many}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _describe(record: FileRecord, arrived: bool) -> str:
    """Words for one exhibit: the photo's caption when it is calm English, else what kind of file it is."""
    kind = record.info.get("kind")
    if record.role == "tracking" or kind == "tracking":
        return "tracking screenshot"
    if kind == "still":
        return "frame from the unboxing video"
    if record.role == "video":
        return "unboxing video" if arrived else "video"
    if record.info.get("combines"):
        return f"{len(record.info['combines'])} more photos in one image"
    caption = clean(record.info.get("caption") or "").rstrip(".")
    if caption and is_english(caption) and not tone_problems(caption):
        # "Crack across the body" reads on after a comma as "crack across the body"; "iPhone" stays.
        return caption[0].lower() + caption[1:] if caption[:1].isupper() and caption[1:2].islower() else caption
    return ""  # a photo without a usable caption: its file name says enough


def _evidence_counts(case: Case, lettered: list[tuple[str, FileRecord]] | None, *, for_form: bool = False) -> str | None:
    """"3 photos and an unboxing video": what the buyer can show, from the package or else the case folder.

    ``for_form``: before a build, count no more photos and videos than the form takes.
    """
    arrived = REASON_RULES[case.dispute.reason].parcel_arrived
    tracking_word = ("a tracking screenshot", "tracking screenshots")
    if lettered is not None:
        records = [r for _, r in lettered]
        tracking = sum(r.role == "tracking" or r.info.get("kind") == "tracking" for r in records)
        photos = sum(r.role == "photo" and r.info.get("kind") != "tracking" for r in records)
        videos = sum(r.role == "video" for r in records)
    else:
        media, profile = case.media, case.profile
        photos, videos = len(media.photos), len(media.videos)
        if for_form:
            photos, videos = min(photos, profile.max_photos), min(videos, profile.max_videos)
        tracking = len(media.tracking) + len([t for t in case.tracking if t.number or t.url])
        tracking_word = ("the tracking details", "the tracking details")  # saved pages and numbers, not yet captured
    video_word = "unboxing video" if arrived else "video"
    parts = [p for n, p in ((photos, _count(photos, "a photo", "photos")),
                            (videos, _count(videos, f"an {video_word}" if arrived else "a video", f"{video_word}s")),
                            (tracking, tracking_word[0] if tracking == 1 else tracking_word[1])) if n]
    return _join(parts) if parts else None


def _evidence_variants(case: Case, lettered: list[tuple[str, FileRecord]] | None) -> tuple[str, ...]:
    """The evidence sentence: exhibits by letter and file name (with what they show), then shorter forms."""
    if not lettered:
        counts = _evidence_counts(case, None, for_form=True) if lettered is None else None
        return (f"I am attaching {counts} as evidence.",) if counts else ()
    arrived = REASON_RULES[case.dispute.reason].parcel_arrived
    full = "; ".join(f"{letter}) {Path(r.path).name}" + (f", {words}" if (words := _describe(r, arrived)) else "")
                     for letter, r in lettered)
    names = "; ".join(f"{letter}) {Path(r.path).name}" for letter, r in lettered)
    first, last = lettered[0][0], lettered[-1][0]
    span = first if first == last else f"{first} to {last}"
    counts = _evidence_counts(case, lettered)
    return (f"Evidence attached: {full}.", f"Evidence attached: {names}.",
            f"Evidence attached: files {span} ({counts}).")


@dataclass
class _Facts:
    """What the templates can use: text fields, the ``when`` conditions and the notes judged for use."""

    fields: dict[str, str | None]
    conditions: dict[str, Any]
    notes: list[str]
    evidence: tuple[str, ...]
    warnings: list[str]


def _facts(case: Case, today: date | None, lettered: list[tuple[str, FileRecord]] | None) -> _Facts:
    order, dispute = case.order, case.dispute
    warnings: list[str] = []
    reply = None
    if dispute.seller_reply:
        cleaned = " ".join(sentences(dispute.seller_reply))
        if not is_english(cleaned):
            warnings.append("seller_reply is not in English: it is left out of the English texts.")
        elif tone_problems(cleaned):
            warnings.append(f"seller_reply: {'; '.join(tone_problems(cleaned))}; it is left out of the texts.")
        else:
            reply = cleaned
    judged = read_notes(dispute.notes) if dispute.notes else []
    foreign = sorted({n.language for n in judged if n.language not in (None, "english")})
    if foreign:
        count = sum(n.language in foreign for n in judged)
        warnings.append(f"notes: {count} of {len(judged)} sentences are not in English (detected: "
                        f"{', '.join(foreign)}); they are kept out of the English texts and still appear in the "
                        "summary PDF. Translate them (an automatic translator is fine) to include them.")
    for note in judged:
        if note.problems and note.language in (None, "english"):
            warnings.append(f"notes: \"{note.text}\" is kept out of the texts: {'; '.join(note.problems)}.")
    shipped = order.shipped
    days_since = (today - shipped).days if today and shipped and today >= shipped else None
    store, item = _one_line(order.store), _one_line(order.item)
    fields: dict[str, str | None] = {
        "order": _one_line(order.number), "store": store or None, "item": f"\"{item}\"" if item else None,
        "shipped": text_date(shipped) if shipped else None,
        "delivered": text_date(order.delivered) if order.delivered else None,
        "days_since_shipped": str(days_since) if days_since is not None else None,
        "tracking": next((t.number for t in case.tracking if t.number), None),
        "contacted": text_date(dispute.seller_contacted) if dispute.seller_contacted else None,
        "reply": reply, "closed": text_date(dispute.escalated_closed) if dispute.escalated_closed else None,
        "refund": refund_phrase(case), "offer": _evidence_counts(case, lettered)}
    conditions = {"resolution": dispute.resolution,
                  "parcel_arrived": REASON_RULES[dispute.reason].parcel_arrived,
                  "seller_contacted": bool(dispute.seller_contacted or case.media.chat)}
    return _Facts(fields, conditions, [n.text for n in judged if n.usable], _evidence_variants(case, lettered),
                  warnings)


def _one_line(text: str) -> str:
    """A name or title inside a sentence: cleaned, on one line."""
    return " ".join(clean(text).split())


def _fill(variant: str, fields: dict[str, str | None]) -> str | None:
    """The variant with its fields filled in, or None when one of them is unknown."""
    if any(not fields.get(name) for name in _FIELD.findall(variant)):
        return None
    return _FIELD.sub(lambda m: str(fields[m.group(1)]), variant)


def _slots(kind: str, case: Case, facts: _Facts) -> list[Slot]:
    slots: list[Slot] = []
    for spec in _template(kind)["sentence"]:
        if any(facts.conditions.get(k) != v for k, v in spec.get("when", {}).items()):
            continue
        priority, paragraph = int(spec["priority"]), bool(spec.get("paragraph", False))
        source = spec.get("source")
        if source == "notes":
            slots += [Slot(f"notes.{i}", priority, (text,)) for i, text in enumerate(facts.notes, 1)]
            continue
        raw = (_template("reasons")[case.dispute.reason]["problem"] if source == "problem"
               else facts.evidence if source == "evidence" else spec["variants"])
        filled = tuple(v for v in (_fill(r, facts.fields) for r in raw) if v)
        if filled:
            slots.append(Slot(spec["id"], priority, filled, paragraph))
        elif priority == ESSENTIAL:
            raise LimitError(f"template {kind}.toml: no variant of the essential sentence '{spec['id']}' can be "
                             "filled in from this case")
    return slots


def _render(slots: list[Slot], choice: list[int | None]) -> str:
    out = ""
    for slot, pick in zip(slots, choice):
        if pick is None:
            continue
        if out:
            out += "\n\n" if slot.paragraph else " "
        out += slot.variants[pick]
    return out


# Order of fitting steps: drop courtesy, notes and context first; then shorten the evidence list and the
# essentials; drop the evidence list only when even the shortest essentials do not fit with it.
_STEPS = ((5, "drop"), (4, "drop"), (3, "drop"), (2, "shorten"), (1, "shorten"), (2, "drop"))


def fit(kind: str, slots: list[Slot], limit: int) -> ComposedText:
    """Choose variants and drop sentences until the text is within ``limit`` characters."""
    choice: list[int | None] = [0] * len(slots)
    shortened: set[str] = set()
    dropped: list[str] = []
    for priority, action in _STEPS:
        for i in reversed(range(len(slots))):
            slot = slots[i]
            if slot.priority != priority:
                continue
            while count_chars(_render(slots, choice)) > limit and choice[i] is not None:
                if choice[i] + 1 < len(slot.variants):
                    choice[i] += 1
                    shortened.add(slot.id)
                elif action == "drop":
                    choice[i] = None
                    dropped.append(slot.id)
                else:
                    break
    text = _render(slots, choice)
    if count_chars(text) > limit:
        raise LimitError(f"the {kind} text needs {count_chars(text)} characters even in its shortest form (order "
                         f"number, problem and requested resolution); the limit is {limit}")
    kept = [s.id for s, c in zip(slots, choice) if c is not None]
    return ComposedText(kind, text, limit, kept, sorted(shortened & set(kept)), dropped)


def compose(case: Case, kind: str, *, today: date | None = None,
            lettered: list[tuple[str, FileRecord]] | None = None) -> tuple[ComposedText, list[str]]:
    """One text and the warnings about the buyer's own words. ``lettered``: exhibits of a built package."""
    if kind not in KINDS:
        raise ValueError(f"unknown text kind {kind!r} (one of {', '.join(KINDS)})")
    facts = _facts(case, today, lettered)
    return fit(kind, _slots(kind, case, facts), case.profile.max_text_chars), facts.warnings


def notes_warnings(case: Case) -> list[str]:
    """What is kept out of the texts from the buyer's own words (notes, seller_reply), and why."""
    return _facts(case, None, None).warnings


def package_exhibits(case: Case) -> list[tuple[str, FileRecord]] | None:
    """Exhibits of the case's built package (CASE/evidence-package), or None when it has not been built."""
    manifest = read_manifest(case.root / PACKAGE_DIR)
    return exhibits(manifest.outputs) if manifest else None


def compose_texts(case: Case, kinds: tuple[str, ...] = KINDS, *, today: date | None = None,
                  lettered: list[tuple[str, FileRecord]] | None = None) -> tuple[list[ComposedText], list[str]]:
    """Several texts and the warnings about the buyer's own words (the ``complaint`` command)."""
    composed, warnings = [], []
    for kind in kinds:
        text, warnings = compose(case, kind, today=today, lettered=lettered)
        composed.append(text)
    return composed, warnings
