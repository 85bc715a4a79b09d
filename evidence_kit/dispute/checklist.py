"""Evidence checklist: what the case's reason needs (``reasons.REASON_RULES``) against what the case holds."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..model.case import Case
from ..model.manifest import FileRecord
from ..model.reasons import CHAT, PHOTOS, REASON_RULES, RECEIPT, TRACKING, VIDEO

# "(002)", "(001, 002)", "(000: 57-59)": which source article a rule came from. The buyer reads the rule;
# its source stays in the manifest and the README.
_SOURCE = re.compile(r"\s*\(\d{3}(?=[),:])[^)]*\)")


def without_sources(text: str) -> str:
    """``text`` without the article numbers in brackets, for what the buyer and the mediator read."""
    return _SOURCE.sub("", text)


# Evidence kinds the build's stages turn into outputs: once built, only what was written counts
# (a video that failed to convert is no evidence).
_BUILT_KINDS = frozenset({PHOTOS, VIDEO})


# Where each kind of evidence goes, for the command line (never the PDF).
_HINTS = {PHOTOS: "put them in photos/", VIDEO: "put it in video/", TRACKING: "put screenshots or saved pages in "
          "tracking/, or add [[tracking]] url in case.toml", CHAT: "put the screenshots in chat/",
          RECEIPT: "put it in receipts/"}


@dataclass(frozen=True)
class Gap:
    kind: str  # evidence kind, or "seller_contact" / "resolution"
    message: str  # plain words, starting with the reason: "not received: no tracking screenshot ..."
    required: bool = True  # False: recommended, not asked for by the form
    hint: str = ""  # where in case.toml or the case folder to add it (command line only)


@dataclass
class Checklist:
    reason: str
    title: str
    wins: str
    default_resolution: str | None
    caveat: str  # in plain words, without its source
    present: dict[str, list[str]] = field(default_factory=dict)  # kind -> files that show it
    source: str = ""  # the articles the reason's rules come from (manifest only)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not any(g.required for g in self.gaps)

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "title": self.title, "wins": self.wins,
                "default_resolution": self.default_resolution, "caveat": self.caveat, "source": self.source,
                "present": self.present,
                "gaps": [asdict(g) for g in self.gaps], "complete": self.complete}


# Tracking events the buyer typed in (tracking.csv / .json): a table, not the screenshot of a tracking site the
# articles ask for. Listed as present under their own name, and the screenshot stays a gap.
TYPED_EVENTS = "tracking_events_typed"


def _output_kind(record: FileRecord) -> str | None:
    kind = record.info.get("kind")
    if record.role.startswith("tracking") or kind == "tracking":  # screenshots, saved pages, JPEG copies
        return TYPED_EVENTS if record.info.get("capture_kind") == "events" or kind == "events" else TRACKING
    if record.role == "photo" and kind == "chat":  # a chat screenshot in a free photo slot
        return CHAT
    if record.role == "photo":
        return PHOTOS
    return {"video": VIDEO, "chat": CHAT, "receipt": RECEIPT}.get(record.role)


def evidence_present(case: Case, outputs: Iterable[FileRecord] | None = None) -> dict[str, list[str]]:
    """Evidence kind -> the files that show it. With ``outputs`` (a build), photos and video count only if written."""
    media = case.media
    found: dict[str, list[str]] = {PHOTOS: [], VIDEO: [], TRACKING: [], TYPED_EVENTS: [], CHAT: [], RECEIPT: []}
    pages = tuple(p for p in media.tracking if p.suffix.lower() not in (".csv", ".json"))
    typed = tuple(p for p in media.tracking if p.suffix.lower() in (".csv", ".json"))
    inputs = {PHOTOS: media.photos, VIDEO: media.videos, TRACKING: pages, TYPED_EVENTS: typed, CHAT: media.chat,
              RECEIPT: media.receipts}
    built = outputs is not None
    for kind, files in inputs.items():
        if built and kind in _BUILT_KINDS:
            continue
        found[kind] += [p.relative_to(case.root).as_posix() if p.is_relative_to(case.root) else str(p) for p in files]
    for record in outputs or ():
        kind = _output_kind(record)
        if kind and (record.upload or kind not in (*_BUILT_KINDS, CHAT)):
            found[kind].append(Path(record.path).name)
    return {kind: files for kind, files in found.items() if files}


def check_evidence(case: Case, outputs: Iterable[FileRecord] | None = None) -> Checklist:
    """Compare the case's evidence with what its reason needs; every gap in plain words."""
    reason = REASON_RULES[case.dispute.reason]
    label = reason.key.replace("_", " ")
    present = evidence_present(case, outputs)
    result = Checklist(reason.key, reason.title, reason.wins, reason.default_resolution,
                       without_sources(reason.caveat), present, source=reason.source)
    for need in reason.needs:
        if need.kind not in present:
            typed = need.kind == TRACKING and TYPED_EVENTS in present
            message = f"{label}: {need.missing}" + (
                " (the tracking events you typed in are attached as a table, but a screenshot of the tracking "
                "site itself is what the articles ask for)" if typed else "")
            result.gaps.append(Gap(need.kind, message, need.required, _HINTS.get(need.kind, "")))
    if not case.dispute.seller_contacted and CHAT not in present:
        # The platform weighs peaceful attempts (002, 004): say when you wrote to the seller.
        result.gaps.append(Gap("seller_contact", f"{label}: no record that you contacted the seller first "
                                                 "(the date you wrote to them, or screenshots of the chat)", False,
                               "set dispute.seller_contacted in case.toml or put the screenshots in chat/"))
    if not reason.parcel_arrived and case.dispute.resolution != "refund_only":
        result.gaps.append(Gap("resolution", f"{label}: choose \"refund only\" when the parcel never came", True,
                               'dispute.resolution = "refund_only" in case.toml'))
    return result
