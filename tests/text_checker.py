"""An independent reading of a finished text, as a careful reviewer would check it before sending (issue 22).

It does not import the composer: it reads the case's dates as a table of its own, and the text as words.
``problems(...)`` returns what is wrong, in plain sentences; an empty list means the text passes.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

# Which texts make sense when, as the guides describe a dispute: write to the seller and open the dispute
# before the platform has it; only the dispute's own description while the platform decides; the appeal
# only in the 7 days after a decision that was not a full refund; a report of a Trade Rules violation any time.
ALLOWED = {"pre_dispute": {"seller", "dispute"}, "dispute_open": {"seller", "dispute"}, "escalated": {"dispute"},
           "appeal_window": {"appeal"}, "decided": set(), "too_late": set()}
NEGOTIATION_DAYS, APPEAL_DAYS, AFTER_PROTECTION_DAYS = 15, 7, 15

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(\d{{1,2}}) ({_MONTHS})(?: (\d{{4}}))?")
_INSULTS = ("scam", "liar", "thief", "thieves", "fraud", "idiot", "stupid", "cheat", "crook", "kidding", "garbage",
            "trash", "crap", "shit", "fuck", "damn", "pathetic", "useless", "disgusting", "ridiculous", "lying")
_NAMES_IN_CAPITALS = {"USB", "LED", "DHL", "UPS", "EMS", "USPS", "EUR", "USD", "GBP", "CAINIAO"}
_REQUEST = re.compile(r"\b(I request|please send me [^.?]*refund|grant\b|I will open a dispute and ask for|"
                      r"agree to [^.?]*refund|Please review)", re.IGNORECASE)
_EXHIBIT_REF = re.compile(r"\b([A-Z]|Z\d+)\) ([\w.\-]+\.(?:jpg|jpeg|png|mp4|webm|mov|pdf))")
_IDENTIFIER = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(?:order|dispute|facts|profile)\.[a-z_]+|case\.toml|\[facts\]|"
                         r"\[dispute\]|\(\d{3}[),:]|evidence_kit")


def form_length(text: str) -> int:
    """UTF-16 code units with CRLF line ends: what a browser's maxlength counts."""
    return len(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-16-le")) // 2


def read_stage(case: dict[str, Any], today: date) -> str:
    order, dispute = case.get("order", {}), case.get("dispute", {})
    if dispute.get("escalated_closed"):
        if dispute.get("decision") == "full_refund":
            return "decided"
        return "appeal_window" if today <= dispute["escalated_closed"] + timedelta(APPEAL_DAYS) else "decided"
    opened = dispute.get("opened")
    if dispute.get("escalated") or (opened and today > opened + timedelta(NEGOTIATION_DAYS)):
        return "escalated"
    if opened:
        return "dispute_open"
    ends = order.get("protection_ends")
    if ends and today > ends + timedelta(AFTER_PROTECTION_DAYS):
        return "too_late"
    return "pre_dispute"


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text.replace("\n", " ")) if s.strip()]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def repeated_phrases(text: str, n: int = 6) -> list[str]:
    """Phrases of ``n`` words that occur twice (the evidence list's file names and the order number aside)."""
    words = _words(_EXHIBIT_REF.sub(" ", text))
    seen: dict[tuple[str, ...], int] = {}
    repeats = []
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        if gram in seen and seen[gram] + n <= i:  # overlapping runs of one phrase are not a repeat
            repeats.append(" ".join(gram))
        seen.setdefault(gram, i)
    return repeats


def problems(kind: str, text: str, *, case: dict[str, Any], today: date, exhibits: list[tuple[str, str, str]],
             limit: int = 1000) -> list[str]:
    """What a careful reviewer would not send. ``exhibits``: (letter, file name, what it is) of the package."""
    found: list[str] = []
    stage = read_stage(case, today)
    dispute, order = case.get("dispute", {}), case.get("order", {})
    if kind != "report" and kind not in ALLOWED[stage]:
        found.append(f"a {kind} text at the stage {stage}")
    # The buyer's raw writing must not show through.
    for marker in ("??", "!!", "?!", "...", "…"):
        if marker in text:
            found.append(f"raw marker {marker!r}")
    for sentence in _sentences(text):
        first = sentence.lstrip("\"'(")[:1]
        if first.islower():
            found.append(f"a sentence starts in lower case: {sentence!r}")
    if re.search(r"(?<![\w'])i(?![\w'])", text):
        found.append("a lower-case 'i'")
    for word in re.findall(r"\b[A-Z]{4,}\b", text):
        if word not in _NAMES_IN_CAPITALS:
            found.append(f"a shouted word {word!r}")
    lowered = text.lower()
    for insult in _INSULTS:
        if re.search(rf"\b{insult}", lowered):
            found.append(f"an insult or emotional word {insult!r}")
    unquoted = re.sub(r"\"[^\"]*\"", " ", text)
    if re.search(r"\b\w+(n't|'m|'ve|'ll|'re)\b", unquoted):
        found.append("a contraction")
    if _IDENTIFIER.search(unquoted):
        found.append(f"a code identifier or source tag: {_IDENTIFIER.search(unquoted).group(0)!r}")
    for phrase in repeated_phrases(text):
        found.append(f"a phrase said twice: {phrase!r}")
    if kind in ("seller", "dispute", "appeal"):
        asks = len(_REQUEST.findall(text))
        if asks != 1:
            found.append(f"{asks} requests instead of one")
    length = form_length(text)
    if length > limit:
        found.append(f"{length} characters as the form counts them, over {limit}")
    # Only what the package holds is claimed.
    names = {(letter, name) for letter, name, _ in exhibits}
    for letter, name in _EXHIBIT_REF.findall(text):
        if (letter, name) not in names:
            found.append(f"exhibit {letter}) {name} is not in the package")
    what = {w for _, _, w in exhibits}
    claims = {"video": r"\bvideo\b", "tracking_page": r"screenshots? of the tracking page",
              "tracking_table": r"tables? of the tracking events", "chat": r"screenshots? of my chat"}
    for kind_of, pattern in claims.items():
        if re.search(pattern, text) and kind_of not in what:
            found.append(f"claims a {kind_of.replace('_', ' ')} the package does not hold")
    if re.search(r"\battach", lowered) and not exhibits and "evidence attached" not in lowered:
        found.append("claims an attachment although the package holds none")
    # The message to the seller speaks to them, and never asks what the stage makes wrong.
    if kind == "seller":
        if re.search(r"\bthe seller\b", lowered):
            found.append("the message to the seller speaks of 'the seller'")
        if "confirm" in lowered:
            found.append("the message to the seller mentions confirming")
        ends = order.get("protection_ends")
        if ends and today > ends and "extend" in lowered:
            found.append("asks to extend a buyer protection that has ended")
        if dispute.get("opened") and "before opening a dispute" in lowered:
            found.append("says 'before opening a dispute' while one is open")
    # Dates: the first in full, the year not written again.
    dates = _DATE.findall(text)
    if dates and not dates[0][2]:
        found.append("the first date has no year")
    if any(year and year == dates[0][2] for _, _, year in dates[1:]):
        found.append("a year written twice")
    return found
