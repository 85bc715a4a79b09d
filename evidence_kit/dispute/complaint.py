"""The English texts (message to the seller, dispute description, appeal, and a report against the seller when
the facts support one), composed from the case.

Sentences and their shorter variants are data (``templates/complaint/*.toml``). The texts lean on the
structured facts (``[order]``, ``[dispute]``, ``[facts]``), which become English whatever language the notes are
in; the buyer's notes (or ``notes_en``) add colour only when they are English, and a notes sentence that only
repeats a composed one (the same event on the same date) is dropped and recorded. A date is written in full
the first time and short after that. A text over the profile's ``max_text_chars`` loses its lowest-priority
sentences first (or takes their shorter variants); nothing is cut inside a sentence, and the order number,
the problem and the requested resolution always stay.
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
from ..dispute.notes import clean, is_english, latin_share, read_notes, sentences, tone_problems
from ..errors import InputError, LimitError
from ..fsutil import atomic_write_text
from ..model.case import FACT_REASONS, PACKAGE_DIR, Case
from ..model.manifest import FileRecord, count_chars, exhibits, read_manifest
from ..model.reasons import REASON_RULES

KINDS = ("seller", "dispute", "appeal")  # always written
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
               "seller_extended_protection_to": "protection", "closed": "closed", "dispute_by": "plan"}


@dataclass(frozen=True)
class Slot:
    """One sentence of a text as the template gives it, with the variants that the case can fill."""

    id: str
    priority: int
    variants: tuple[str, ...]
    paragraph: bool = False
    events: frozenset[tuple[str, date]] = frozenset()  # what its fullest variant dates (event, day)


@dataclass
class ComposedText:
    kind: str
    text: str
    limit: int
    kept: list[str] = field(default_factory=list)  # sentence ids in the text
    shortened: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)  # notes sentences left out: they only repeat a fact

    @property
    def chars(self) -> int:
        return count_chars(self.text)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "chars": self.chars, "limit": self.limit, "kept": self.kept,
                "shortened": self.shortened, "dropped": self.dropped, "repeated_notes_left_out": self.repeated}


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

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "chars": self.chars, "dropped": self.dropped, "shortened": self.shortened,
                "repeated_notes_left_out": self.repeated}


def write_text(composed: ComposedText, package: Path) -> WrittenText:
    """Write ``composed`` into its file in ``package`` and re-count it there; LimitError if it is over."""
    path = package / TEXT_FILES[composed.kind]
    atomic_write_text(path, composed.text)  # no final newline: the file is pasted as it is
    chars = count_chars(path.read_text(encoding="utf-8"))
    if chars > composed.limit:  # checked on the written file, not on the string
        path.unlink(missing_ok=True)
        raise LimitError(f"{chars} characters written, over the limit of {composed.limit}")
    return WrittenText(composed.kind, TEXT_FILES[composed.kind], chars, composed.limit, composed.dropped,
                       composed.shortened, composed.repeated)


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


# --- the seller's reply, reported -------------------------------------------------------------------------

# A reply the buyer summarised as "Asked me to ..." / "They said ..." reads on after "they" as reported speech.
_REPORTED = re.compile(r"^(?:(?:they|the seller|seller|he|she)\s+)?((?:has\s+|have\s+)?(?:said|asked|told|offered|"
                       r"refused|promised|suggested|replied|answered|wrote|insisted|claimed|agreed|denied|wanted|"
                       r"advised|proposed|sent|ignored|blamed|demanded|stopped|stated)\b.*)$",
                       re.IGNORECASE | re.DOTALL)
# "Confirm receipt" in the buyer's English or Russian summary of the seller's reply.
_CONFIRM_RECEIPT = re.compile(r"confirm\w*\s+(?:the\s+|my\s+)?(?:receipt|delivery|(?:that\s+)?(?:i|you)\s+(?:have\s+)?"
                              r"received)|подтверд\w*\s+(?:\w+\s+)?(?:получени|доставк)", re.IGNORECASE)


def reply_asks_to_confirm_receipt(reply: str) -> bool:
    return bool(_CONFIRM_RECEIPT.search(reply))


def asked_to_confirm_receipt(case: Case) -> bool:
    """The seller asked the buyer to confirm receipt (a fact, or the reply says so in English or Russian)."""
    return case.facts.seller_asked_to_confirm_receipt or reply_asks_to_confirm_receipt(case.dispute.seller_reply)


def _phrase(name: str, **values: str) -> str:
    """A phrase of facts.toml's ``[seller]`` table with ``values`` filled in (the values are never a template)."""
    return str(_template("facts")["seller"][name]).format(**values)


def _times(n: int) -> str:
    words = _template("facts")["seller"]["times"]
    return words[n - 1] if n <= len(words) else _phrase("many_times", count=str(n))


def _reported_reply(reply: str) -> str:
    """The clause after "they": "asked me to confirm receipt first and then open a dispute", or the reply quoted."""
    text = " ".join(sentences(reply)).strip()
    match = _REPORTED.match(text)
    if match and len(sentences(reply)) == 1:
        clause = match.group(1).rstrip(".")
        clause = re.sub(r",\s*then\s+", " and then ", clause)
        return clause[0].lower() + clause[1:]
    return _phrase("quoted_reply", reply=text.rstrip("."))


def _seller_did(case: Case, reply: str | None) -> str | None:
    """What the seller did, in the past tense after "they": from the facts, else from the reply."""
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
    if clauses:
        return _join(clauses)
    return _reported_reply(reply) if reply else None


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
    notes: list[str]
    evidence: tuple[str, ...]
    warnings: list[str]
    report_grounds: list[str]
    report_evidence: tuple[str, ...]  # the evidence sentence of the report: only the exhibits it rests on


def report_grounds(case: Case) -> list[str]:
    """The Trade Rules violations the facts show (004), each as a template id in report.toml; empty: no report."""
    facts, reason = case.facts, case.dispute.reason
    arrived = REASON_RULES[reason].parcel_arrived and case.order.delivered is not None
    grounds = []
    if asked_to_confirm_receipt(case) and not arrived:
        grounds.append("confirm_before_delivery")
    if reason == "invalid_tracking":
        grounds.append("fake_tracking")
    if facts.seller_asked_to_cancel_dispute:
        grounds.append("cancel_pressure")
    return grounds


def _facts(case: Case, today: date | None, lettered: list[tuple[str, FileRecord]] | None) -> _Facts:
    order, dispute, facts = case.order, case.dispute, case.facts
    warnings: list[str] = []
    reply = None
    if dispute.seller_reply:
        cleaned = " ".join(sentences(dispute.seller_reply))
        if not is_english(cleaned):
            warnings.append("seller_reply is not in English: it is left out of the English texts (the situation "
                            "facts in [facts], such as seller_asked_to_wait_until, say it in English).")
        elif tone_problems(cleaned):
            warnings.append(f"seller_reply: {'; '.join(tone_problems(cleaned))}; it is left out of the texts.")
        else:
            reply = cleaned
    if asked_to_confirm_receipt(case):
        warnings.append("The seller asked you to confirm receipt. Do not confirm receipt of this order while the "
                        "problem is not solved, even if the parcel has arrived: confirming tells the platform that "
                        "everything is fine and can end your buyer protection.")
    notes_text, notes_field = (dispute.notes_en, "notes_en") if dispute.notes_en else (dispute.notes, "notes")
    judged = read_notes(notes_text) if notes_text else []
    foreign = sorted({n.language for n in judged if n.language not in (None, "english")})
    if foreign:
        count = sum(n.language in foreign for n in judged)
        if notes_field == "notes_en":
            warnings.append(f"notes_en: {count} of {len(judged)} sentences are not in English (detected: "
                            f"{', '.join(foreign)}); they are kept out of the English texts.")
        else:
            warnings.append(f"notes: {count} of {len(judged)} sentences are not in English (detected: "
                            f"{', '.join(foreign)}); they are kept out of the English texts. Add notes_en in "
                            "[dispute] with your English version (an automatic translator is fine): the texts then "
                            "use it, and the summary PDF shows your notes and the English side by side.")
    for note in judged:
        if note.problems and note.language in (None, "english"):
            warnings.append(f"{notes_field}: \"{note.text}\" is kept out of the texts: {'; '.join(note.problems)}.")
    text_facts: dict[str, str | None] = {}
    for name in ("tracking_last_status", "defect", "missing", "ordered_size", "received_size", "listing_said",
                 "received", "delivered_to"):
        value = _one_line(getattr(facts, name)).rstrip(".")
        if value and not _english_fact(value):
            warnings.append(f"facts.{name} is not in English: it is left out of the English texts "
                            f"(write it in English, an automatic translator is fine).")
            value = ""
        text_facts[name] = value or None
    status = text_facts["tracking_last_status"]
    shipped = order.shipped
    days_since = (today - shipped).days if today and shipped and today >= shipped else None
    store, item = _one_line(order.store), _one_line(order.item)
    offer = _evidence_counts(case, lettered)
    arrived = REASON_RULES[dispute.reason].parcel_arrived
    dispute_by = None
    if today and not arrived and not facts.seller_extended_protection_to:
        best = compute_deadlines(case, today).get("best_open_if_not_received")
        planned = best and (best.start or best.day)
        dispute_by = planned if planned and planned >= today else None
    fields: dict[str, str | None] = {
        "order": _one_line(order.number), "store": store or None, "item": f"\"{item}\"" if item else None,
        "shipped": _date_field(shipped), "delivered": _date_field(order.delivered),
        "days_since_shipped": str(days_since) if days_since is not None else None,
        "tracking": next((_one_line(t.number) for t in case.tracking if t.number), None) or None,
        "contacted": _date_field(dispute.seller_contacted), "closed": _date_field(dispute.escalated_closed),
        "refund": refund_phrase(case), "offer": offer,
        "offer_show": "shows" if offer and re.match(r"(a|an|the) ", offer) and " and " not in offer else "show",
        "seller_did": _seller_did(case, reply), "seller_wait": _seller_wait(case),
        "tracking_last_update": _date_field(facts.tracking_last_update),
        "tracking_last_status": f"\"{status}\"" if status else None,
        **{k: v for k, v in text_facts.items() if k != "tracking_last_status"},
        "not_working": "yes" if facts.works is False else None,
        "distance_km": f"{facts.distance_km:,}" if facts.distance_km else None,
        "customs_fee": _money(case, facts.customs_fee) if facts.customs_fee is not None else None,
        "customs_promised": _template("facts")["customs_promised"].get(facts.customs_promised_in or ""),
        "customs_promised_you": _template("facts")["customs_promised_seller"].get(facts.customs_promised_in or ""),
        "dispute_by": _date_field(dispute_by)}
    contacted = bool(dispute.seller_contacted or case.media.chat or fields["seller_did"] or fields["seller_wait"])
    grounds = report_grounds(case)
    conditions = {"resolution": dispute.resolution, "parcel_arrived": arrived, "seller_contacted": contacted,
                  "reason": dispute.reason, "chat_grounds": any(g != "fake_tracking" for g in grounds),
                  # What the seller did weighs like the evidence; a bare "I contacted them" is context.
                  "seller_facts": bool(fields["seller_did"] or fields["seller_wait"])}
    return _Facts(fields, conditions, [n.text for n in judged if n.usable], _evidence_variants(case, lettered),
                  warnings, grounds, _evidence_variants(case, _report_exhibits(lettered, grounds)))


_CHAT_CAPTION = re.compile(r"chat|conversation|message|correspondence", re.IGNORECASE)


def _report_exhibits(lettered: list[tuple[str, FileRecord]] | None,
                     grounds: list[str]) -> list[tuple[str, FileRecord]] | None:
    """The exhibits a report rests on, with their letters: tracking for a fake number, the chat for the rest."""
    if lettered is None:
        return None

    def shows(record: FileRecord) -> bool:
        tracking = record.role == "tracking" or record.info.get("kind") == "tracking"
        chat = record.role == "chat" or bool(_CHAT_CAPTION.search(str(record.info.get("caption") or "")))
        return (tracking and "fake_tracking" in grounds) or (chat and any(g != "fake_tracking" for g in grounds))

    return [(letter, r) for letter, r in lettered if shows(r)]


def _one_line(text: str) -> str:
    """A name or title inside a sentence: cleaned, on one line."""
    return " ".join(clean(text).split())


def _fill(variant: str, fields: dict[str, str | None]) -> str | None:
    """The variant with its fields filled in, or None when one of them is unknown."""
    if any(not fields.get(name) for name in _FIELD.findall(variant)):
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


def _slots(kind: str, case: Case, facts: _Facts) -> tuple[list[Slot], list[str]]:
    """The text's sentences in reading order, and the notes sentences left out as repeats."""
    slots: list[Slot] = []
    pending_notes: list[tuple[int, int]] = []  # (index in slots, notes number): judged once every fact is known
    for spec in _template(kind)["sentence"]:
        if any(facts.conditions.get(k) != v and not (isinstance(v, list) and facts.conditions.get(k) in v)
               for k, v in spec.get("when", {}).items()):
            continue
        priority, paragraph = int(spec["priority"]), bool(spec.get("paragraph", False))
        source = spec.get("source")
        if source == "notes":
            for i, text in enumerate(facts.notes, 1):
                pending_notes.append((len(slots), i))
                slots.append(Slot(f"notes.{i}", priority, (text,)))
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
    stated = set().union(*(s.events for s in slots if not s.id.startswith("notes.")))
    repeated = [slots[i].variants[0] for i, _ in pending_notes if only_repeats(slots[i].variants[0], stated)]
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
    _give_back(slots, choice, limit)
    text = _render(slots, choice)
    if count_chars(text) > limit:
        raise LimitError(f"the {kind} text needs {count_chars(text)} characters even in its shortest form (order "
                         f"number, problem and requested resolution); the limit is {limit}")
    kept = [s.id for s, c in zip(slots, choice) if c is not None]
    shortened = {s.id for s, c in zip(slots, choice) if c}
    dropped = [i for i in dropped if i not in kept]
    return ComposedText(kind, text, limit, kept, sorted(shortened), dropped)


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
    return composed, facts.warnings


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


def kinds_for(case: Case) -> tuple[str, ...]:
    """The texts this case gets: the three always, and the report when the facts support one."""
    return (*KINDS, REPORT) if report_grounds(case) else KINDS


def notes_warnings(case: Case) -> list[str]:
    """What is kept out of the texts from the buyer's own words (notes, seller_reply), and why."""
    return _facts(case, None, None).warnings


def package_exhibits(case: Case) -> list[tuple[str, FileRecord]] | None:
    """Exhibits of the case's built package (CASE/evidence-package), or None when it has not been built."""
    manifest = read_manifest(case.root / PACKAGE_DIR)
    return exhibits(manifest.outputs) if manifest else None


def compose_texts(case: Case, kinds: tuple[str, ...] | None = None, *, today: date | None = None,
                  lettered: list[tuple[str, FileRecord]] | None = None) -> tuple[list[ComposedText], list[str]]:
    """Several texts (by default every one the case gets) and the warnings about the buyer's own words (the
    ``complaint`` command); tracking events fill the last tracking update as in a build."""
    case, _ = with_tracking_facts(case, tracking_events(case))  # as the build does
    composed: list[ComposedText] = []
    warnings = notes_warnings(case)  # the same for every text
    for kind in kinds or kinds_for(case):
        if kind == REPORT and not report_grounds(case):
            warnings.append("no report against the seller: the facts show no Trade Rules violation (a request to "
                            "confirm receipt before delivery, a tracking number that is not valid, or pressure to "
                            "cancel the dispute)")
            continue
        composed.append(compose(case, kind, today=today, lettered=lettered)[0])
    return composed, warnings
