"""The English texts (message to the seller, dispute description, appeal, and a report against the seller when
the facts support one), composed from the case for the stage it is at (``dispute.stage``).

Sentences and their shorter variants are data (``templates/complaint/*.toml``); each template names the stages
it serves. The texts lean on the structured facts (``[order]``, ``[dispute]``, ``[facts]``), which become
English whatever language the notes are in. The buyer's notes (or ``notes_en``) are material, not text: a
sentence goes in only when it is English, calm, formal first-person prose (``notes.read_notes``) and says
something the facts do not already say (by its words, or the same event on the same date); the rest is left
out, recorded and warned about, each with how to say it instead. The seller's reply is read for what it says
(``seller.read_reply``). A date is written in full the first time and short after that. A text over the
profile's ``max_text_chars`` (counted as the form counts: UTF-16 units, CRLF line ends) loses its
lowest-priority sentences first, repeats before unique evidence, each listed in a warning; nothing is cut
inside a sentence, and the order number, the problem and the requested resolution always stay.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..dispute.deadlines import compute_deadlines
from ..dispute.notes import NoteSentence, clean, is_english, latin_share, read_notes, sentences, tone_problems
from ..dispute.seller import SellerWords, read_reply
from ..dispute.stage import BEFORE_DISPUTE, STAGES, CaseStage, case_stage
from ..errors import InputError, LimitError
from ..fsutil import atomic_write_text
from ..model.case import FACT_REASONS, PACKAGE_DIR, Case
from ..model.manifest import FileRecord, Hinted, count_chars, exhibits, read_manifest
from ..model.reasons import REASON_RULES, TRACKING

KINDS = ("seller", "dispute", "appeal")  # each written at the stages its template names
REPORT = "report"  # written only when the facts show a Trade Rules violation (``report_grounds``)
ALL_KINDS = (*KINDS, REPORT)
# Where build writes each text, relative to the package. Only the dispute description goes into the form.
TEXT_FILES = {"dispute": "upload/dispute.txt", "seller": "texts/seller-message.txt", "appeal": "texts/appeal.txt",
              REPORT: "texts/report-against-seller.txt"}
ESSENTIAL = 1
_FIELD = re.compile(r"\{(\w+)\}")
_DATE_TOKEN = re.compile("\x00(\\d{4}-\\d{2}-\\d{2})\x00")  # a date, written in full or short when rendered
# Date fields -> the event they date: two sentences must not state the same event on the same day.
DATE_EVENTS = {"shipped": "shipped", "delivered": "delivered", "contacted": "contacted",
               "tracking_last_update": "tracking", "seller_asked_to_wait_until": "wait",
               "seller_extended_protection_to": "protection", "closed": "closed", "dispute_by": "plan",
               "opened": "opened", "replied": "replied", "protection_ends": "protection_end", "last_open": "plan",
               "expiry_date": "expiry", "promised_delivery_by": "promised"}


@dataclass(frozen=True)
class Slot:
    """One sentence of a text as the template gives it, with the variants that the case can fill."""

    id: str
    priority: int
    variants: tuple[str, ...]
    paragraph: bool = False
    events: frozenset[tuple[str, date]] = frozenset()  # what its fullest variant dates (event, day)
    redundancy: float = 0.0  # share of its words other sentences already say: dropped first for length


@dataclass
class ComposedText:
    kind: str
    text: str
    limit: int
    kept: list[str] = field(default_factory=list)  # sentence ids in the text
    shortened: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)  # notes sentences left out: they only repeat a fact
    dropped_sentences: list[str] = field(default_factory=list)  # the words of each sentence dropped for length
    notes_left_out: list[dict[str, str]] = field(default_factory=list)  # {"sentence", "why"}: every one left out
    stage: str = ""

    @property
    def chars(self) -> int:
        return count_chars(self.text)

    def length_warnings(self) -> list[str]:
        return [Hinted(f"{self.kind} text: left out to stay within {self.limit} characters: \"{sentence}\"",
                       kind="left_out_for_length", text=self.kind, limit=self.limit, sentence=sentence)
                for sentence in self.dropped_sentences]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "chars": self.chars, "limit": self.limit, "kept": self.kept,
                "shortened": self.shortened, "dropped": self.dropped, "repeated_notes_left_out": self.repeated,
                "dropped_for_length": self.dropped_sentences, "notes_left_out": self.notes_left_out,
                "stage": self.stage}


@dataclass
class WrittenText:
    """A text as written into the package, counted on the file itself."""

    kind: str
    path: str  # relative to the package
    chars: int
    limit: int
    dropped: list[str] = field(default_factory=list)
    shortened: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    dropped_sentences: list[str] = field(default_factory=list)
    notes_left_out: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "chars": self.chars, "dropped": self.dropped, "shortened": self.shortened,
                "repeated_notes_left_out": self.repeated, "dropped_for_length": self.dropped_sentences,
                "notes_left_out": self.notes_left_out}


def write_text(composed: ComposedText, package: Path) -> WrittenText:
    """Write ``composed`` into its file in ``package`` with CRLF line ends (what a form submits) and re-count it
    there; LimitError if it is over."""
    path = package / TEXT_FILES[composed.kind]
    # No final newline: the file is pasted as it is (written as bytes: no platform rewrites the line ends).
    atomic_write_text(path, composed.text.replace("\r\n", "\n").replace("\n", "\r\n"))
    chars = count_chars(path.read_bytes().decode("utf-8"))
    if chars > composed.limit:  # checked on the written file, not on the string
        path.unlink(missing_ok=True)
        raise LimitError(f"{chars} characters written, over the limit of {composed.limit}")
    return WrittenText(composed.kind, TEXT_FILES[composed.kind], chars, composed.limit, composed.dropped,
                       composed.shortened, composed.repeated, composed.dropped_sentences, composed.notes_left_out)


@lru_cache(maxsize=None)
def _template(name: str) -> dict[str, Any]:
    source = resources.files("evidence_kit.templates") / "complaint" / f"{name}.toml"
    return tomllib.loads(source.read_text(encoding="utf-8"))


def text_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _date_field(day: date | None) -> str | None:
    """A date as a token: ``_render`` writes the first one in full and the rest without a repeated year."""
    return f"\x00{day.isoformat()}\x00" if day else None


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


_CHAT_CAPTION = re.compile(r"chat|conversation|message|correspondence", re.IGNORECASE)
_PAGE_SUFFIXES = frozenset({".html", ".htm", ".mhtml", ".png", ".jpg", ".jpeg", ".webp"})  # become screenshots
_TABLE_SUFFIXES = frozenset({".csv", ".json"})  # events the buyer typed in


def exhibit_kind(record: FileRecord) -> str:
    """What an exhibit is: "photo", "video", "still", "chat", "tracking_page" (a screenshot of a tracking site,
    live or saved) or "tracking_table" (the events the buyer typed in, drawn as a table)."""
    kind = record.info.get("kind")
    if record.role.startswith("tracking") or kind == "tracking":
        return "tracking_table" if record.info.get("capture_kind") == "events" else "tracking_page"
    if record.role == "video":
        return "video"
    if kind == "still":
        return "still"
    if record.role == "chat" or kind == "chat" or _CHAT_CAPTION.search(str(record.info.get("caption") or "")):
        return "chat"
    return "photo"


def describe_exhibit(record: FileRecord, arrived: bool) -> str:
    """Words for one exhibit, by what it is: the photo's caption when it is calm English."""
    kind = exhibit_kind(record)
    if kind == "tracking_table":
        return "table of the tracking events I entered"
    if kind == "tracking_page":
        capture, site = record.info.get("capture_kind"), record.info.get("site")
        if capture == "saved_page":
            return "screenshot of the tracking page I saved"
        return "screenshot of the tracking page" + (f" on {site}" if site else "")
    if kind == "still":
        return "frame from the unboxing video"
    if kind == "video":
        return "unboxing video" if arrived else "video"
    if record.info.get("combines"):
        return f"{len(record.info['combines'])} more photos in one image"
    caption = clean(record.info.get("caption") or "").rstrip(".")
    if caption and is_english(caption) and not tone_problems(caption):
        # "Crack across the body" reads on after a comma as "crack across the body"; "iPhone" stays.
        return caption[0].lower() + caption[1:] if caption[:1].isupper() and caption[1:2].islower() else caption
    return "screenshot of my chat with the seller" if kind == "chat" else ""  # a photo: its file name says enough


@dataclass(frozen=True)
class Holdings:
    """How many of each kind of evidence there is: in a built package, or else in the case folder."""

    photos: int = 0
    videos: int = 0
    tracking_pages: int = 0
    tracking_tables: int = 0
    chats: int = 0

    def words(self, arrived: bool, *, chats: bool = True, tracking: bool = True) -> str | None:
        """"3 photos, an unboxing video and a screenshot of the tracking page"; None when there is nothing."""
        video = "unboxing video" if arrived else "video"
        parts = [p for n, p in (
            (self.photos, _count(self.photos, "a photo", "photos")),
            (self.videos, _count(self.videos, f"an {video}" if arrived else "a video", f"{video}s")),
            (self.tracking_pages if tracking else 0, _count(self.tracking_pages, "a screenshot of the tracking page",
                                                            "screenshots of the tracking pages")),
            (self.tracking_tables if tracking else 0, _count(self.tracking_tables,
                                                             "a table of the tracking events I entered",
                                                             "tables of the tracking events I entered")),
            (self.chats if chats else 0, _count(self.chats, "a screenshot of my chat with the seller",
                                                "screenshots of my chat with the seller"))) if n]
        return _join(parts) if parts else None


def holdings(case: Case, lettered: list[tuple[str, FileRecord]] | None) -> Holdings:
    """What the package holds (``lettered``), or what the case folder holds that a build will upload."""
    if lettered is not None:
        kinds = [exhibit_kind(r) for _, r in lettered]
        return Holdings(kinds.count("photo") + kinds.count("still"), kinds.count("video"),
                        kinds.count("tracking_page"), kinds.count("tracking_table"), kinds.count("chat"))
    media, profile = case.media, case.profile
    suffixes = [p.suffix.lower() for p in media.tracking]
    pages = sum(s in _PAGE_SUFFIXES for s in suffixes) + sum(bool(t.url) for t in case.tracking)
    return Holdings(min(len(media.photos), profile.max_photos), min(len(media.videos), profile.max_videos),
                    pages, sum(s in _TABLE_SUFFIXES for s in suffixes), len(media.chat))


def _evidence_variants(case: Case, lettered: list[tuple[str, FileRecord]] | None) -> tuple[str, ...]:
    """The evidence sentence: exhibits by letter and file name (with what they are), then shorter forms.
    Before a build, only what the case folder holds (a tracking number alone is no attachment)."""
    arrived = REASON_RULES[case.dispute.reason].parcel_arrived
    if not lettered:
        counts = holdings(case, None).words(arrived) if lettered is None else None
        return (f"I am attaching {counts} as evidence.",) if counts else ()
    full = "; ".join(f"{letter}) {Path(r.path).name}" + (f", {words}" if (words := describe_exhibit(r, arrived))
                                                         else "") for letter, r in lettered)
    names = "; ".join(f"{letter}) {Path(r.path).name}" for letter, r in lettered)
    first, last = lettered[0][0], lettered[-1][0]
    span = first if first == last else f"{first} to {last}"
    counts = holdings(case, lettered).words(arrived)
    return (f"Evidence attached: {full}.", f"Evidence attached: {names}.",
            f"Evidence attached: files {span} ({counts}).")


# --- the seller's reply, reported -------------------------------------------------------------------------

# A reply the buyer summarised as "Asked me to ..." / "They said ..." reads on after "they" as reported speech.
_REPORTED = re.compile(r"^(?:(?:they|the seller|seller|he|she)\s+)?((?:has\s+|have\s+)?(?:said|asked|told|offered|"
                       r"refused|promised|suggested|replied|answered|wrote|insisted|claimed|agreed|denied|wanted|"
                       r"advised|proposed|sent|ignored|blamed|demanded|stopped|stated)\b.*)$",
                       re.IGNORECASE | re.DOTALL)


def reply_asks_to_confirm_receipt(reply: str) -> bool:
    return read_reply(reply).asks_to_confirm


def asked_to_confirm_receipt(case: Case) -> bool:
    """The seller asked the buyer to confirm receipt (a fact, or the reply says so in English or Russian)."""
    return case.facts.seller_asked_to_confirm_receipt or read_reply(case.dispute.seller_reply).asks_to_confirm


def asked_to_cancel_dispute(case: Case) -> bool:
    """The seller asked the buyer to cancel the dispute (a fact, or the reply says so in English or Russian)."""
    return case.facts.seller_asked_to_cancel_dispute or read_reply(case.dispute.seller_reply).asks_to_cancel_dispute


def _phrase(name: str, **values: str) -> str:
    """A phrase of facts.toml's ``[seller]`` table with ``values`` filled in (the values are never a template)."""
    return str(_template("facts")["seller"][name]).format(**values)


def _times(n: int) -> str:
    words = _template("facts")["seller"]["times"]
    return words[n - 1] if n <= len(words) else _phrase("many_times", count=str(n))


def _reported_reply(reply: str) -> str | None:
    """The clause after "they" ("asked me to confirm receipt first and then open a dispute"), or None."""
    text = " ".join(sentences(reply)).strip()
    match = _REPORTED.match(text)
    if match and len(sentences(reply)) == 1:
        clause = match.group(1).rstrip(".")
        clause = re.sub(r",\s*then\s+", " and then ", clause)
        return clause[0].lower() + clause[1:]
    return None


def _seller_did(case: Case, reply: str | None, words: SellerWords) -> str | None:
    """What the seller did, in the past tense after "they": the facts, then what their reply was read to say
    (its own words when the buyer reported them, else each request, promise and claim found), else the reply
    quoted."""
    facts = case.facts
    clauses = []
    if facts.seller_asked_to_confirm_receipt:
        clauses.append(_phrase("asked_to_confirm_receipt"))
    if isinstance(facts.seller_offered, Decimal):
        clauses.append(_phrase("offered_amount", amount=_money(case, facts.seller_offered)))
    elif facts.seller_offered == "replacement":
        clauses.append(_phrase("offered_replacement"))
    if facts.seller_extended_protection_to:
        clauses.append(_phrase("extended_protection", day=str(_date_field(facts.seller_extended_protection_to))))
    if facts.seller_asked_to_cancel_dispute:
        clauses.append(_phrase("asked_to_cancel_dispute"))
    reported = _reported_reply(reply) if reply else None
    if reported and not clauses:
        return reported
    found = [name for name, flag in (
        ("asked_to_confirm_receipt", words.asks_to_confirm and not facts.seller_asked_to_confirm_receipt),
        ("asked_to_cancel_dispute", words.asks_to_cancel_dispute and not facts.seller_asked_to_cancel_dispute),
        ("asked_to_cancel_order", words.asks_to_cancel_order),
        ("promised_resend", "resend" in words.promises and facts.seller_offered != "replacement"),
        ("promised_refund", "refund" in words.promises),
        ("promised_extension", "extension" in words.promises and not facts.seller_extended_protection_to),
        ("claimed_original", "original" in words.claims)) if flag]
    clauses += [_phrase(name) for name in found]
    if clauses:
        return _join(clauses)
    if reply:
        return _phrase("quoted_reply", reply=reply.rstrip("."))
    return None


def _seller_wait(case: Case) -> str | None:
    """"asked me to wait three times, most recently until 30 November" (present perfect, after "they have")."""
    times, until = case.facts.times_asked_to_wait, _date_field(case.facts.seller_asked_to_wait_until)
    if times and times > 1:
        return _phrase("wait_times_until", times=_times(times), until=until) if until else \
            _phrase("wait_times", times=_times(times))
    return _phrase("wait_until", until=until) if until else (_phrase("wait") if times else None)


# --- facts the templates can use ------------------------------------------------------------------------

def _english_fact(text: str) -> bool:
    """A fact written in English (a size like "S" or a city like "Lyon" counts; "Москва" does not)."""
    share = latin_share(text)
    if share is not None and share < 0.5:
        return False
    return len(text.split()) < 3 or is_english(text)


@dataclass
class _Facts:
    """What the templates can use: text fields, the ``when`` conditions and the notes judged for use."""

    fields: dict[str, str | None]
    conditions: dict[str, Any]
    notes: list[NoteSentence]  # usable in the texts (``about_seller`` ones not in the message to the seller)
    evidence: tuple[str, ...]
    warnings: list[str]
    report_grounds: list[str]
    report_evidence: tuple[str, ...]  # the evidence sentence of the report: only the exhibits it rests on
    stage: CaseStage
    left_out: list[dict[str, str]]  # {"sentence", "why"}: the buyer's sentences the texts do not use
    carrying: set[str] = field(default_factory=set)  # notes sentences that say a fact in the buyer's words


def report_grounds(case: Case) -> list[str]:
    """The Trade Rules violations the facts show (004), each as a template id in report.toml; empty: no report."""
    reason = case.dispute.reason
    arrived = REASON_RULES[reason].parcel_arrived and case.order.delivered is not None
    grounds = []
    if asked_to_confirm_receipt(case) and not arrived:
        grounds.append("confirm_before_delivery")
    if reason == "invalid_tracking":
        grounds.append("fake_tracking")
    if asked_to_cancel_dispute(case):
        grounds.append("cancel_pressure")
    return grounds


def stage_of(case: Case, today: date) -> CaseStage:
    """Where the case stands on ``today`` (``dispute.stage``), knowing whether a report stays possible."""
    return case_stage(case, today, report_grounds=bool(report_grounds(case)))


# Fields a buyer can state a left-out sentence as, by reason: the warning names them.
_FACT_HINTS = {"not_received": "tracking_last_update, tracking_last_status", "damaged": "defect, works",
               "defective": "defect, works", "incomplete": "missing", "wrong_size": "ordered_size, received_size",
               "wrong_colour": "listing_said, received", "wrong_item": "listing_said, received",
               "not_as_described": "listing_said, received", "counterfeit": "listing_said, received",
               "expired": "expiry_date", "late_delivery": "promised_delivery_by",
               "delivered_elsewhere": "delivered_to, distance_km", "customs": "customs_fee, customs_promised_in",
               "invalid_tracking": "tracking_last_status", "returned_to_seller": "tracking_last_status"}
_VIDEO_WORDS = re.compile(r"\b(video|videos|filmed|filming|recorded)\b", re.IGNORECASE)


def _judge_notes(case: Case, lettered: list[tuple[str, FileRecord]] | None,
                 warnings: list[str]) -> tuple[list[NoteSentence], list[dict[str, str]]]:
    """The buyer's sentences the texts may use, and every other one with why (warned about, with what to do)."""
    dispute = case.dispute
    notes_text, notes_field = (dispute.notes_en, "notes_en") if dispute.notes_en else (dispute.notes, "notes")
    judged = read_notes(notes_text) if notes_text else []
    foreign = sorted({n.language for n in judged if n.language not in (None, "english")})
    if foreign:
        count = sum(n.language in foreign for n in judged)
        if notes_field == "notes_en":
            warnings.append(Hinted(f"{count} of {len(judged)} sentences of your English notes are not in English "
                                   f"(detected: {', '.join(foreign)}); they are kept out of the English texts.",
                                   kind="notes_en_not_english", count=count, total=len(judged)))
        else:
            warnings.append(Hinted(
                f"{count} of {len(judged)} sentences of your notes are not in English (detected: "
                f"{', '.join(foreign)}); they are kept out of the English texts and shown as written in the "
                "summary PDF.",
                "Add notes_en in [dispute] with your English version (an automatic translator is fine): the texts "
                "then use it, and the summary PDF shows your notes and the English side by side.",
                kind="notes_not_english", count=count, total=len(judged)))
    has_video = holdings(case, lettered).videos > 0
    hint = _FACT_HINTS.get(dispute.reason, "")
    usable: list[NoteSentence] = []
    left_out: list[dict[str, str]] = []
    for note in judged:
        reasons: list[Hinted] = []  # each with its kind: the web app words them in the buyer's language
        if note.problems:
            reasons = list(note.problems)
        elif _VIDEO_WORDS.search(note.text) and not has_video:
            reasons = [Hinted("it mentions a video, but the package has none: put the video in video/",
                              kind="mentions_missing_video")]
        english = note.language in (None, "english")
        why = "; ".join(reasons) if english else f"not in English ({note.language})"
        if why:
            left_out.append({"sentence": note.original or note.text, "why": why})
            if english:
                warnings.append(Hinted(
                    f"Your {'English ' if notes_field == 'notes_en' else ''}notes: \"{note.original or note.text}\" "
                    f"is left out of the texts: {why}. It stays in the summary PDF's buyer's own account.",
                    f"Say it as a fact in [facts]{f' ({hint})' if hint else ''} or calmly in notes_en.",
                    kind="note_left_out", sentence=note.original or note.text,
                    reasons=[{"kind": r.kind, "params": r.params} for r in reasons]))
            continue
        usable.append(note)
    if any(n.about_seller for n in usable):
        for note in usable:
            if note.about_seller:
                left_out.append({"sentence": note.original, "why": "speaks of the seller in the third person: "
                                                                   "left out of the message to the seller only"})
        warnings.append(Hinted("Your notes' sentences about \"the seller\" are used in the dispute texts but left "
                               "out of the message to the seller, which speaks to them as \"you\".",
                               kind="notes_about_the_seller"))
    return usable, left_out


# The text facts in a buyer's words, for warnings the PDF and the web page show.
_FACT_WORDS = {"tracking_last_status": "last tracking status", "defect": "defect", "missing": "missing part",
               "ordered_size": "size ordered", "received_size": "size received", "listing_said": "listing's words",
               "received": "item received", "delivered_to": "delivery place"}


def _facts(case: Case, today: date | None, lettered: list[tuple[str, FileRecord]] | None) -> _Facts:
    order, dispute, facts = case.order, case.dispute, case.facts
    today = today or date.today()
    warnings: list[str] = []
    reply = None
    words = read_reply(dispute.seller_reply)
    if dispute.seller_reply and not words.no_answer:
        cleaned = " ".join(sentences(dispute.seller_reply))
        if not is_english(cleaned):
            found = words.anything
            warnings.append(Hinted("The seller's reply is not in English: " + (
                "the texts report what it asks, promises or claims, in English; " if found else
                "it is left out of the English texts; ") + "the summary PDF shows the reply as written.",
                "The situation facts in [facts] (such as seller_asked_to_wait_until) can say more.",
                kind="seller_reply_reported" if found else "seller_reply_not_english"))
        elif problems := tone_problems(cleaned):
            warnings.append(Hinted(f"The seller's reply: {'; '.join(problems)}; the texts report only what it asks, "
                                   "promises or claims.", kind="seller_reply_tone",
                                   reasons=[{"kind": r.kind, "params": r.params} for r in problems]))
        else:
            reply = cleaned
    if asked_to_confirm_receipt(case):
        warnings.append(Hinted("The seller asked you to confirm receipt. Do not confirm receipt of this order while "
                               "the problem is not solved, even if the parcel has arrived: confirming tells the "
                               "platform that everything is fine and can end your buyer protection.",
                               kind="seller_asked_to_confirm_receipt"))
    notes, left_out = _judge_notes(case, lettered, warnings)
    text_facts: dict[str, str | None] = {}
    for name in ("tracking_last_status", "defect", "missing", "ordered_size", "received_size", "listing_said",
                 "received", "delivered_to"):
        value = _one_line(getattr(facts, name)).rstrip(".")
        if name in ("ordered_size", "received_size"):
            value = re.sub(r"^size\s+", "", value, flags=re.IGNORECASE)  # the sentence says "size" itself
        if value and not _english_fact(value):
            warnings.append(Hinted(f"The {_FACT_WORDS[name]} you gave is not in English: it is left out of the "
                                   "English texts.",
                                   f"Write facts.{name} in English (an automatic translator is fine).",
                                   kind="fact_not_english", field=f"facts.{name}"))
            value = ""
        text_facts[name] = value or None
    # A buyer's sentence that says a fact and more ("The handle came off when I lifted it") says it once: the
    # fact's own words give way, and the sentence weighs like a fact.
    carrying: set[str] = set()
    for name in ("defect", "missing", "received"):
        value = text_facts[name]
        for note in notes:
            if value and len(value.split()) >= 2 and value.lower() in note.text.lower() and \
                    len(content_words(note.text) - content_words(value)) >= 2:
                text_facts[name] = None
                carrying.add(note.text)
    status = text_facts["tracking_last_status"]
    shipped = order.shipped
    days_since = (today - shipped).days if shipped and today >= shipped else None
    store, item = _one_line(order.store), _one_line(order.item)
    arrived = REASON_RULES[dispute.reason].parcel_arrived
    report = compute_deadlines(case, today)
    stage = case_stage(case, today, report=report, report_grounds=bool(report_grounds(case)))
    dispute_by = None
    if not arrived and not facts.seller_extended_protection_to:
        best = report.get("best_open_if_not_received")
        planned = best and (best.start or best.day)
        dispute_by = planned if planned and planned >= today else None
    last_open = report.get("last_open")
    # What the seller is offered to see: the item's evidence (tracking only where the reason rests on it).
    offer = holdings(case, lettered).words(arrived, chats=False, tracking=any(
        need.kind == TRACKING for need in REASON_RULES[dispute.reason].needs))
    replied = dispute.seller_replied if dispute.seller_replied != dispute.seller_contacted else None
    days_late = (order.delivered - facts.promised_delivery_by).days if order.delivered and \
        facts.promised_delivery_by else None
    fields: dict[str, str | None] = {
        "order": _one_line(order.number), "store": store or None, "item": f"\"{item}\"" if item else None,
        "shipped": _date_field(shipped), "delivered": _date_field(order.delivered),
        "days_since_shipped": str(days_since) if days_since is not None else None,
        "tracking": next((_one_line(t.number) for t in case.tracking if t.number), None) or None,
        "contacted": _date_field(dispute.seller_contacted), "closed": _date_field(dispute.escalated_closed),
        "opened": _date_field(dispute.opened), "replied": _date_field(replied if reply or words.anything else None),
        "protection_ends": _date_field(order.protection_ends),
        "last_open": _date_field(last_open.day if last_open and last_open.day and last_open.day >= today else None),
        "refund": refund_phrase(case), "offer": offer,
        "offer_show": "shows" if offer and re.match(r"(a|an|the) ", offer) and " and " not in offer else "show",
        "seller_did": None if words.no_answer else _seller_did(case, reply, words),
        "seller_wait": _seller_wait(case),
        "tracking_last_update": _date_field(facts.tracking_last_update),
        "tracking_last_status": f"\"{status}\"" if status else None,
        **{k: v for k, v in text_facts.items() if k != "tracking_last_status"},
        "not_working": "yes" if facts.works is False else None,
        "distance_km": f"{facts.distance_km:,}" if facts.distance_km else None,
        "customs_fee": _money(case, facts.customs_fee) if facts.customs_fee is not None else None,
        "customs_promised": _template("facts")["customs_promised"].get(facts.customs_promised_in or ""),
        "customs_promised_you": _template("facts")["customs_promised_seller"].get(facts.customs_promised_in or ""),
        "dispute_by": _date_field(dispute_by), "expiry_date": _date_field(facts.expiry_date),
        "promised_delivery_by": _date_field(facts.promised_delivery_by),
        "days_late": str(days_late) if days_late and days_late > 0 else None,
        "decision_amount": _money(case, dispute.decision_amount) if dispute.decision_amount is not None else None,
        "price": _money(case, order.price) if order.price is not None else None}
    if reply and fields["seller_did"] and not words.anything and _reported_reply(reply) == fields["seller_did"]:
        # "They promised in chat to pay customs" after "The seller promised me in a message to pay the customs fees".
        others = " ".join(str(v) for k, v in fields.items() if v and k not in ("seller_did", "order", "refund"))
        if repeats_facts(fields["seller_did"], content_words(others)):
            fields["seller_did"] = None
    contacted = bool(dispute.seller_contacted or case.media.chat or fields["seller_did"] or fields["seller_wait"]
                     or words.no_answer)
    grounds = report_grounds(case)
    conditions = {"resolution": dispute.resolution, "parcel_arrived": arrived, "seller_contacted": contacted,
                  "reason": dispute.reason, "chat_grounds": any(g != "fake_tracking" for g in grounds),
                  # What the seller did weighs like the evidence; a bare "I contacted them" is context.
                  "seller_facts": bool(fields["seller_did"] or fields["seller_wait"]),
                  "no_answer": words.no_answer and not fields["seller_wait"], "stage": stage.key,
                  "before_dispute": stage.key in BEFORE_DISPUTE, "protection_ended": stage.protection_ended,
                  "protection_soon": stage.protection_soon,
                  "extended": bool(facts.seller_extended_protection_to), "decision": dispute.decision}
    return _Facts(fields, conditions, notes, _evidence_variants(case, lettered), warnings, grounds,
                  _evidence_variants(case, _report_exhibits(lettered, grounds)), stage, left_out, carrying)


def _report_exhibits(lettered: list[tuple[str, FileRecord]] | None,
                     grounds: list[str]) -> list[tuple[str, FileRecord]] | None:
    """The exhibits a report rests on, with their letters: tracking for a fake number, the chat for the rest."""
    if lettered is None:
        return None

    def shows(record: FileRecord) -> bool:
        kind = exhibit_kind(record)
        # A table the buyer typed shows nothing about the number's validity; a tracking site's page does.
        return (kind == "tracking_page" and "fake_tracking" in grounds) or (kind == "chat" and any(g != "fake_tracking"
                                                                                    for g in grounds))

    return [(letter, r) for letter, r in lettered if shows(r)]


def _one_line(text: str) -> str:
    """A name or title inside a sentence: cleaned, on one line."""
    return " ".join(clean(text).split())


def _fill(variant: str, fields: dict[str, str | None]) -> str | None:
    """The variant with its fields filled in, or None when one of them is unknown or says another's words
    again (an item "Hoodie, navy blue" ordered "in navy blue": the variant without the item is used)."""
    names = _FIELD.findall(variant)
    if any(not fields.get(name) for name in names):
        return None
    values = [str(fields[n]).strip("\"").lower() for n in names if not str(fields[n]).startswith("\x00")]
    if any(len(a) >= 2 and a != b and re.search(rf"(?<!\w){re.escape(a)}(?!\w)", b)
           for a in values for b in values):
        return None
    return _FIELD.sub(lambda m: str(fields[m.group(1)]), variant)


def _events(variant: str, fields: dict[str, str | None]) -> frozenset[tuple[str, date]]:
    """(event, day) for each date ``variant`` states, for telling which notes sentences only repeat it."""
    names = set(_FIELD.findall(variant))
    found = {(DATE_EVENTS[name], date.fromisoformat(str(fields[name]).strip("\x00")))
             for name in names if name in DATE_EVENTS and fields.get(name)}
    # The only date inside the seller's reported actions is the extension; inside the waiting, its last day.
    for name, event in (("seller_did", "protection"), ("seller_wait", "wait")):
        if name in names:
            found |= {(event, date.fromisoformat(day)) for day in _DATE_TOKEN.findall(str(fields.get(name) or ""))}
    return frozenset(found)


# --- notes that only repeat a composed sentence --------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"), 1)}
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_NOTE_DATES = (
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}", re.I), lambda m: (m.group(2), m.group(1))),
    (re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", re.I), lambda m: (m.group(1), m.group(2))),
    (re.compile(r"\b\d{4}-(\d{2})-(\d{2})\b"), lambda m: (int(m.group(1)), m.group(2))),
    (re.compile(r"\b(\d{1,2})[./](\d{1,2})(?:[./]\d{2,4})?\b"), lambda m: (int(m.group(2)), m.group(1))),
)
# Words that name each event in a buyer's English sentence.
_EVENT_WORDS = {"delivered": r"arriv|deliver|receiv|came|got|reached", "shipped": r"ship|sent|dispatch|posted",
                "contacted": r"contact|wrote|messag|chat|asked|told",
                "tracking": r"track|mov|updat|status|stop|chang",
                "wait": r"wait", "protection": r"protect|extend", "closed": r"clos"}
# Words that carry no fact of their own in such a sentence ("The parcel arrived on 18 November.").
_FILLER = frozenset("the a an my our this that it its his her their they i me we you on in at of to for by from and "
                    "was were is are has have had been be did do finally only just already then day days parcel "
                    "package order item items goods seller it's i've".split())


def _note_dates(sentence: str) -> list[tuple[int, int]]:
    found = []
    for pattern, parts in _NOTE_DATES:
        for match in pattern.finditer(sentence):
            month, day = parts(match)
            month = _MONTHS.get(next((m for m in _MONTHS if m.startswith(str(month).lower()[:3])), ""), month) \
                if isinstance(month, str) else month
            if isinstance(month, int) and 1 <= month <= 12 and 1 <= int(day) <= 31:
                found.append((month, int(day)))
    return found


def only_repeats(sentence: str, stated: set[tuple[str, date]]) -> bool:
    """True when ``sentence`` (the buyer's, in English) says nothing but an event already stated on its date."""
    days = _note_dates(sentence)
    if not days:
        return False
    for event, day in stated:
        if (day.month, day.day) in days and re.search(_EVENT_WORDS.get(event, r"$^"), sentence, re.I):
            stripped = re.sub(r"\d+(st|nd|rd|th)?|" + _MONTH, " ", sentence, flags=re.I)
            words = [w for w in re.findall(r"[a-z']+", stripped.lower())
                     if w not in _FILLER and not re.match(_EVENT_WORDS[event], w)]
            return not words
    return False


_STOP = frozenset("the a an my our this that it its his her their they them i me we you on in at of to for by from "
                  "and or but so with as was were is are has have had been be being did do does not no also still "
                  "only just already then when which who what there here very all any some one finally again "
                  "day days parcel package order item items goods product seller store shop received receive got "
                  "came arrived arrive ordered bought paid says said shows show see seen sent send instead "
                  "get gets getting got become becomes became becoming".split())  # light verbs carry no fact
# "two minutes" in a fact and "2 minutes" in the notes are the same fact.
_NUMBER_WORDS = {w: str(n) for n, w in enumerate("zero one two three four five six seven eight nine ten eleven "
                                                 "twelve thirteen fourteen fifteen sixteen seventeen eighteen "
                                                 "nineteen twenty".split())}


def _stem(word: str) -> str:
    """A crude stem that matches "cracked"/"crack" and "leaks"/"leak": enough to tell a repeat."""
    return word[:5] if len(word) >= 6 else word.rstrip("s") if len(word) > 3 else word


# Said of a seller who does not answer: a buyer's sentence of these words only repeats "no answer".
_NO_ANSWER_WORDS = frozenset(_stem(w) for w in "ignore ignores ignored answer answered reply replied respond "
                             "responded message messages".split())


# What the problem sentence of each reason already says, in the words a buyer uses for it.
_REASON_WORDS = {reason: frozenset(_stem(w) for w in words.split()) for reason, words in {
    "incomplete": "missing miss lacking absent", "damaged": "damaged broken", "defective": "defective faulty",
    "expired": "expired", "counterfeit": "fake counterfeit", "not_as_described": "described description",
    "wrong_size": "size", "wrong_colour": "colour color", "late_delivery": "late"}.items()}


def content_words(text: str) -> set[str]:
    """The words that carry facts (numbers included), stemmed; dates and grammar words left out."""
    text = _DATE_TOKEN.sub(" ", text)
    words = (_NUMBER_WORDS.get(w, w) for w in re.findall(r"[^\W_]+", text.lower()))
    return {_stem(w) for w in words if w not in _STOP and (len(w) > 1 or w.isdigit())}


def _month_words(text: str) -> set[str]:
    """The months of the dates ``text`` states, as content words: "it expired in June" beside an expiry date of
    30 June says nothing new."""
    months = list(_MONTHS)
    return {_stem(months[int(day[5:7]) - 1]) for day in _DATE_TOKEN.findall(text)}


def redundancy(sentence: str, stated: set[str]) -> float:
    """The share of ``sentence``'s fact words already stated elsewhere in the text."""
    words = content_words(sentence)
    return len(words & stated) / len(words) if words else 1.0


def repeats_facts(sentence: str, stated: set[str]) -> bool:
    """The buyer's sentence says nothing the composed sentences do not: every fact word of it is stated, or all
    but one in a sentence of four or more (the tracking status, the defect or the wrong item said again)."""
    words = content_words(sentence)
    new = words - stated
    return len(words) >= 2 and (not new or (len(new) == 1 and len(words) >= 4))


# A number, a reference or a report: what the buyer alone can say, kept over context when space is short.
_UNIQUE_EVIDENCE = re.compile(r"\d{3,}|\b(report|reference|receipt|certificate|claim number|case number)\b",
                              re.IGNORECASE)


def _slots(kind: str, case: Case, facts: _Facts) -> tuple[list[Slot], list[str]]:
    """The text's sentences in reading order, and the notes sentences left out as repeats."""
    slots: list[Slot] = []
    pending_notes: list[int] = []  # indexes in slots: judged once every fact is known
    notes = [n for n in facts.notes if not (kind == "seller" and n.about_seller)]
    for spec in _template(kind)["sentence"]:
        if any(facts.conditions.get(k) != v and not (isinstance(v, list) and facts.conditions.get(k) in v)
               for k, v in spec.get("when", {}).items()):
            continue
        priority, paragraph = int(spec["priority"]), bool(spec.get("paragraph", False))
        source = spec.get("source")
        if source == "notes":
            for i, note in enumerate(notes, 1):
                pending_notes.append(len(slots))
                weight = 2 if note.text in facts.carrying else 3 if _UNIQUE_EVIDENCE.search(note.text) else priority
                slots.append(Slot(f"notes.{i}", weight, (note.text,)))
            continue
        if source == "facts":
            for fact in _template("facts")["fact"]:
                if "reasons" in fact and case.dispute.reason not in fact["reasons"]:
                    continue
                if any(not facts.fields.get(name) for name in fact.get("needs", ())):
                    continue  # a sentence with no {field} of its own, said only when the fact is set
                _add(slots, f"fact.{fact['id']}", int(fact.get("priority", priority)),
                     fact.get(f"variants_{kind}", fact["variants"]), facts, paragraph=False, kind=kind)
            continue
        if source == "grounds":
            for ground in facts.report_grounds:
                _add(slots, f"ground.{ground}", priority, _template(REPORT)["grounds"][ground], facts, False, kind)
            continue
        problem = _template("reasons")[case.dispute.reason]
        raw = (problem.get(f"problem_{kind}", problem["problem"]) if source == "problem"
               else (facts.report_evidence if kind == REPORT else facts.evidence) if source == "evidence"
               else spec["variants"])
        _add(slots, spec["id"], priority, raw, facts, paragraph, kind)
    composed = [s for s in slots if not s.id.startswith("notes.")]
    stated_events = set().union(*(s.events for s in composed))
    stated_text = " ".join([*(s.variants[0] for s in composed), *(str(v) for v in facts.fields.values() if v)])
    stated_words = content_words(stated_text) | _month_words(stated_text) | _REASON_WORDS.get(
        case.dispute.reason, frozenset()) | (_NO_ANSWER_WORDS if facts.conditions["no_answer"] else set())
    repeated: list[str] = []
    kept_words: set[str] = set()
    for i in pending_notes:
        text = slots[i].variants[0]
        if only_repeats(text, stated_events) or repeats_facts(text, stated_words | kept_words):
            repeated.append(text)
            continue
        # How much of it the other sentences say: the more, the sooner it goes when space is short.
        slots[i] = replace(slots[i], redundancy=redundancy(text, stated_words | kept_words))
        kept_words |= content_words(text)
    return [s for s in slots if not (s.id.startswith("notes.") and s.variants[0] in repeated)], repeated


def _add(slots: list[Slot], slot_id: str, priority: int, raw: Any, facts: _Facts, paragraph: bool, kind: str) -> None:
    filled = [(v, r) for r in raw if (v := _fill(r, facts.fields))]
    if filled:
        slots.append(Slot(slot_id, priority, tuple(v for v, _ in filled), paragraph,
                          _events(filled[0][1], facts.fields)))
    elif priority == ESSENTIAL:
        raise LimitError(f"template {kind}.toml: no variant of the essential sentence '{slot_id}' can be "
                         "filled in from this case")


def _render(slots: list[Slot], choice: list[int | None]) -> str:
    out = ""
    for slot, pick in zip(slots, choice):
        if pick is None:
            continue
        if out:
            out += "\n\n" if slot.paragraph else " "
        out += slot.variants[pick]
    return _dates(out)


def _dates(text: str) -> str:
    """Dates in full the first time ("18 November 2026"), then without the year when it is the same."""
    first_year: list[int] = []

    def write(match: re.Match[str]) -> str:
        day = date.fromisoformat(match.group(1))
        if first_year and first_year[0] == day.year:
            return f"{day.day} {day:%B}"
        first_year[:] = first_year or [day.year]
        return text_date(day)

    return _DATE_TOKEN.sub(write, text)


# Order of fitting steps: drop courtesy, notes and context first; then shorten the evidence list and the
# essentials; drop the evidence list only when even the shortest essentials do not fit with it.
_STEPS = ((5, "drop"), (4, "drop"), (3, "drop"), (2, "shorten"), (1, "shorten"), (2, "drop"))


def fit(kind: str, slots: list[Slot], limit: int) -> ComposedText:
    """Choose variants and drop sentences until the text is within ``limit`` characters."""
    choice: list[int | None] = [0] * len(slots)
    shortened: set[str] = set()
    dropped: list[str] = []
    for priority, action in _STEPS:
        # The last sentence first, and among the buyer's sentences the ones others say most of.
        for i in sorted(range(len(slots)), key=lambda i: (slots[i].redundancy, i), reverse=True):
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
    _give_back(slots, choice, limit)
    text = _render(slots, choice)
    if count_chars(text) > limit:
        raise LimitError(f"the {kind} text needs {count_chars(text)} characters even in its shortest form (order "
                         f"number, problem and requested resolution); the limit is {limit}")
    kept = [s.id for s, c in zip(slots, choice) if c is not None]
    shortened = {s.id for s, c in zip(slots, choice) if c}
    dropped = [i for i in dropped if i not in kept]
    words = [_dates(s.variants[0]) for s in slots if s.id in dropped and s.id not in ("thanks", "greeting")]
    return ComposedText(kind, text, limit, kept, sorted(shortened), dropped, dropped_sentences=words)


def _give_back(slots: list[Slot], choice: list[int | None], limit: int) -> None:
    """The steps above overshoot (a sentence is cut whole): take back, most important sentence first, the
    fullest variant (or the dropped sentence) that now fits."""
    for i in sorted(range(len(slots)), key=lambda i: (slots[i].priority, i)):
        current = choice[i]
        if current is None and slots[i].id.startswith("notes.") and i and slots[i - 1].id.startswith("notes.") \
                and choice[i - 1] is None:
            continue  # the buyer's sentences come back only in their order, never one out of its context
        for pick in range(current if current is not None else len(slots[i].variants)):
            trial = [*choice[:i], pick, *choice[i + 1:]]
            if count_chars(_render(slots, trial)) <= limit:
                choice[i] = pick
                break


def compose(case: Case, kind: str, *, today: date | None = None,
            lettered: list[tuple[str, FileRecord]] | None = None) -> tuple[ComposedText, list[str]]:
    """One text and the warnings about the buyer's own words. ``lettered``: exhibits of a built package.

    ``report`` is composed only for a case with ``report_grounds``; ValueError otherwise.
    """
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown text kind {kind!r} (one of {', '.join(ALL_KINDS)})")
    facts = _facts(case, today, lettered)
    if kind == REPORT and not facts.report_grounds:
        raise ValueError("no report against the seller: the facts show no Trade Rules violation")
    slots, repeated = _slots(kind, case, facts)
    composed = fit(kind, slots, case.profile.max_text_chars)
    composed.repeated = repeated
    composed.stage = facts.stage.key
    seller_only = kind != "seller"  # sentences about "the seller" are left out of the seller's message only
    composed.notes_left_out = [item for item in facts.left_out if not (seller_only and "third person" in item["why"])]
    composed.notes_left_out += [{"sentence": text, "why": "only repeats what the text already states"}
                                for text in repeated]
    return composed, facts.warnings + composed.length_warnings()


def _event_day(text: str) -> date | None:
    """The day of a tracking event's time as buyers and carriers write it: 2026-10-10 14:32, 10.10.2026, 10/10/2026."""
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        match = re.match(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", text)
        try:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1))) if match else None
        except ValueError:
            return None


def tracking_events(case: Case) -> list[tuple[str, str]]:
    """(time, status) of every event in the case's tracking events files (tracking.csv / .json); a file that
    cannot be read is the tracking stage's error to report, not the texts'."""
    from ..media.tracking import read_events  # Pillow and friends: only when there are files to read

    events: list[tuple[str, str]] = []
    for path in case.media.tracking:
        if path.suffix.lower() in (".csv", ".json"):
            try:
                events += [(e.time, e.status) for e in read_events(path)]
            except InputError:
                continue
    return events


def with_tracking_facts(case: Case, events: list[tuple[str, str]]) -> tuple[Case, list[str]]:
    """The case with ``tracking_last_update``/``_status`` taken from the latest tracking event (time, status) when
    case.toml does not give them and the reason uses them; and the names of the facts filled in."""
    reasons = FACT_REASONS["tracking_last_update"]
    dated = [(day, status) for time, status in events if (day := _event_day(time))]
    if case.facts.tracking_last_update or not dated or (reasons is not None and case.dispute.reason not in reasons):
        return case, []
    day, status = max(dated, key=lambda event: event[0])  # max keeps the first of equal days: order as given
    update: dict[str, Any] = {"tracking_last_update": day}
    if not case.facts.tracking_last_status and status.strip():
        update["tracking_last_status"] = status.strip()
    return replace(case, facts=case.facts.model_copy(update=update)), sorted(update)


def served_stages(kind: str) -> frozenset[str]:
    """The stages a text kind is written for, as its template names them."""
    return frozenset(_template(kind)["stages"])


def kinds_for(case: Case, today: date | None = None, *, stage: CaseStage | None = None) -> tuple[str, ...]:
    """The texts this case gets at its stage: each kind whose template serves the stage; the message to the
    seller only with days enough to wait for an answer; the report only when the facts support one."""
    stage = stage or stage_of(case, today or date.today())
    grounds = bool(report_grounds(case))
    # Too early to open a dispute: no dispute text yet; a parcel still on its way gives nothing to write about
    # (a tracking number that is not valid does).
    in_transit = stage.too_early and not REASON_RULES[case.dispute.reason].parcel_arrived and \
        case.dispute.reason != "invalid_tracking"
    return tuple(kind for kind in ALL_KINDS if stage.key in served_stages(kind)
                 and (kind != "seller" or (stage.negotiable and not in_transit))
                 and (kind != "dispute" or not stage.too_early) and (kind != REPORT or grounds))


def stage_warning(kind: str, stage: CaseStage) -> str | None:
    """Why an asked-for text does not fit the case's stage, or None when it does."""
    if stage.key not in served_stages(kind):
        where = "; ".join(STAGES[key] for key in STAGES if key in served_stages(kind))
        return (f"the {kind} text is for another stage ({where}); this case is at: {stage.title}. It is written "
                "as asked; read it before you use it.")
    if kind == "seller" and not stage.negotiable:
        return ("the message to the seller is written as asked, but there is no time to wait for an answer: "
                "open the dispute now.")
    return None


def notes_warnings(case: Case, today: date | None = None) -> list[str]:
    """What is kept out of the texts from the buyer's own words (notes, seller_reply), and why."""
    return _facts(case, today, None).warnings


def package_exhibits(case: Case) -> list[tuple[str, FileRecord]] | None:
    """Exhibits of the case's built package (CASE/evidence-package), or None when it has not been built."""
    manifest = read_manifest(case.root / PACKAGE_DIR)
    return exhibits(manifest.outputs) if manifest else None


def compose_texts(case: Case, kinds: tuple[str, ...] | None = None, *, today: date | None = None,
                  lettered: list[tuple[str, FileRecord]] | None = None
                  ) -> tuple[list[ComposedText], list[str], CaseStage]:
    """Several texts (by default those the case's stage needs), the warnings about the buyer's own words and
    about each text, and the stage (the ``complaint`` command); tracking events fill the last tracking update
    as in a build. An asked-for kind of another stage is written with a warning."""
    case, _ = with_tracking_facts(case, tracking_events(case))  # as the build does
    today = today or date.today()
    stage = stage_of(case, today)
    composed: list[ComposedText] = []
    warnings = _facts(case, today, lettered).warnings  # the same for every text
    for kind in kinds or kinds_for(case, stage=stage):
        if kind == REPORT and not report_grounds(case):
            warnings.append(Hinted("no report against the seller: the facts show no Trade Rules violation (a "
                                   "request to confirm receipt before delivery, a tracking number that is not valid, "
                                   "or pressure to cancel the dispute)", kind="no_report_grounds"))
            continue
        if kinds and (problem := stage_warning(kind, stage)):
            warnings.append(problem)
        text = compose(case, kind, today=today, lettered=lettered)[0]
        warnings += text.length_warnings()
        composed.append(text)
    return composed, warnings, stage
