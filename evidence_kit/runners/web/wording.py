"""The case's facts in the buyer's words: the form's labels for case.toml's paths, and each problem of the facts
(``model.validation.Found``) said with the field's label in the current language. Shared by the validator's
callers (cases) and the pages (views), so neither imports the other for it."""
from __future__ import annotations

from typing import Any

from ...model.reasons import REASON_RULES
from . import i18n
from .i18n import N_

# case.toml's [facts], as the form asks them: (field, label, input kind, hint). The kinds: "text", "date",
# "count" (a whole number), "amount", "offer" (an amount or "replacement"), "check" (true or left out),
# "works" (true, false or left out) and "customs" (one of CUSTOMS_PROMISES).
FACT_FIELDS = (
    ("tracking_last_update", N_("The tracking last changed on"), "date", N_("Left empty: taken from a tracking events file.")),
    ("tracking_last_status", N_("What the tracking said then (in English)"), "text", N_("For example: Departed from the sorting centre.")),
    ("seller_asked_to_wait_until", N_("The seller asked you to wait until"), "date", ""),
    ("times_asked_to_wait", N_("How many times the seller asked you to wait"), "count", ""),
    ("seller_extended_protection_to", N_("The seller extended buyer protection to"), "date", ""),
    ("delivered_to", N_("Where the tracking says it was delivered (city or country)"), "text", ""),
    ("distance_km", N_("How far that is from your city, in km"), "count", ""),
    ("customs_fee", N_("The customs fee asked for"), "amount", ""),
    ("customs_promised_in", N_("The seller promised to pay customs"), "customs", ""),
    ("defect", N_("What is wrong with it, in short (in English)"), "text", N_("For example: a long crack on the left side.")),
    ("works", N_("Does it work?"), "works", ""),
    ("missing", N_("What is missing from the parcel (in English)"), "text", ""),
    ("ordered_size", N_("Size ordered"), "text", ""),
    ("received_size", N_("Size received"), "text", ""),
    ("listing_said", N_("What the listing promised (in English)"), "text", N_("For example: 100% cotton.")),
    ("received", N_("What came instead (in English)"), "text", ""),
    ("seller_offered", N_("What the seller offered instead"), "offer", N_("An amount (a partial refund, 5.00) or the word replacement.")),
    ("seller_asked_to_confirm_receipt", N_("The seller asked me to confirm receipt"), "check", N_("Never confirm receipt of a problem order.")),
    ("seller_asked_to_cancel_dispute", N_("The seller pressed me to cancel the dispute"), "check", ""),
    ("expiry_date", N_("The expiry date printed on the item"), "date", ""),
    ("promised_delivery_by", N_("The latest delivery day the listing promised"), "date", ""),
)


# --- problems of the facts, in the buyer's language --------------------------------------------------------

# case.toml's paths as the form labels them (the same msgids as _form.html and FACT_FIELDS), and the few a
# hand-written case.toml may hold that the form has no field for.
FIELD_LABELS = {
    "title": N_("Title of the case"), "order": N_("The order"), "dispute": N_("The dispute"),
    "order.number": N_("Order number"), "order.store": N_("Store (seller)"), "order.item": N_("Item"),
    "order.price": N_("Price paid"), "order.currency": N_("Currency"), "order.ordered": N_("Ordered on"),
    "order.shipped": N_("Shipped on"), "order.delivered": N_("Delivered on"),
    "order.protection_ends": N_("Buyer protection ends"), "dispute.reason": N_("Reason"),
    "dispute.resolution": N_("What you ask for"), "dispute.amount": N_("Refund asked for"),
    "dispute.seller_contacted": N_("First wrote to the seller on"), "dispute.opened": N_("Dispute opened on"),
    "dispute.escalated_closed": N_("Escalated dispute closed on"),
    "dispute.seller_reply": N_("What the seller answered, in short"),
    "dispute.notes": N_("What happened, in your own words (any language)"),
    "dispute.notes_en": N_("The same in English, if you wrote it in another language"),
    "dispute.escalated": N_("Dispute escalated on"), "dispute.decision": N_("The platform's decision"),
    "dispute.decision_amount": N_("Partial refund the platform granted"),
    "dispute.seller_replied": N_("The seller answered on"),
    "tracking.number": N_("Tracking number"), "tracking.carrier": N_("Carrier"),
    "tracking.url": N_("Tracking page address"), "tracking": N_("Tracking"),
    **{f"facts.{name}": label for name, label, _kind, _hint in FACT_FIELDS},
}
# A problem's kind (``model.validation.Found``) -> what is wrong, after the field's label. Parameters: value (as
# typed), day/today/other_day (dates), other (another field, by its label), amount/price, reason/reasons.
PROBLEM_WORDS = {
    "missing": N_("fill this in"),
    "missing_section": N_("missing"),
    "unknown_key": N_("not a field of the case"),
    "empty": N_("must not be empty"),
    "whole_number": N_("must be a whole number from 1, not “%(value)s”"),
    "number": N_("must be a number, not “%(value)s”"),
    "text": N_("must be text"),
    "true_false": N_("must be yes or no"),
    "list": N_("has the wrong form"), "table": N_("has the wrong form"),
    "not_a_date": N_("“%(value)s” is not a date"),
    "year_range": N_("%(day)s is not a date of an order (years %(first)s to %(last)s): check the year"),
    "not_a_number": N_("“%(value)s” is not a number"),
    "negative": N_("must not be negative"),
    "not_a_choice": N_("“%(value)s” is not one of the choices"),
    "not_an_offer": N_("“%(value)s” is neither an amount nor the word replacement"),
    "file_name": N_("must be the name of a file"),
    "no_such_file": N_("%(name)s is not in the case folder"),
    "before": N_("is before “%(other)s”: check the dates"),
    "after": N_("must be after “%(other)s”"),
    "number_or_url": N_("needs a tracking number or a tracking page address"),
    "web_address": N_("only addresses that start with http:// or https:// are accepted"),
    "future": N_("%(day)s is in the future (today is %(today)s): check the date"),
    "before_step": N_("%(day)s is before “%(other)s” (%(other_day)s): check the dates"),
    "reply_before_contact": N_("is before “%(other)s”: a reply comes after the first message"),
    "decision_needs_day": N_("needs “%(other)s”, the day the platform decided"),
    "not_partial": N_("is the partial refund the platform granted: the decision must be a partial refund, or "
                      "leave this empty"),
    "more_than_price": N_("%(amount)s is more than the price paid, %(price)s"),
    "not_expired": N_("%(day)s is after “%(other)s”: the item had not expired when it arrived"),
    "came_in_time": N_("is on or after “%(other)s”: the parcel came in time"),
    "other_reason": N_("is not used for the reason “%(reason)s” (it is for: %(reasons)s); clear it or choose "
                       "another reason"),
}
# Parameters naming another field of the case, said by its label.
_OTHER = {"reply_before_contact": "dispute.seller_contacted", "decision_needs_day": "dispute.escalated_closed",
          "not_expired": "order.delivered", "came_in_time": "order.delivered"}


def field_label(path: str) -> str:
    """The label the form shows for a case.toml path (``order.shipped`` -> "Shipped on"; ``tracking[2].url``
    -> "Tracking page address (2)"); "" for a path the form has no words for."""
    import re

    bare = path.strip("[]")
    row = re.fullmatch(r"(\w+)\[(\d+)\]\.(\w+)", bare)
    if row:
        label = FIELD_LABELS.get(f"{row.group(1)}.{row.group(3)}")
        if label is None:
            return ""
        n = int(row.group(2))
        return i18n.gettext(label) if n == 1 else f"{i18n.gettext(label)} ({i18n.number(n)})"
    return i18n.gettext(FIELD_LABELS[bare]) if bare in FIELD_LABELS else ""


def _param(name: str, value: Any) -> str:
    from datetime import date
    from decimal import Decimal

    if isinstance(value, date):
        return i18n.format_day(value.isoformat())
    if isinstance(value, Decimal):  # money: cents always shown (40.0 read from case.toml is 40,00)
        return i18n.decimal(value, max(2, -int(value.as_tuple().exponent)))  # type: ignore[arg-type]
    if isinstance(value, int) and not isinstance(value, bool) and name in ("first", "last"):
        return str(value)  # a year, written without a thousands mark
    return "" if value is None else str(value)


def problem_text(problem: Any) -> i18n.Worded:
    """One problem of the facts (``model.case.Problem``) as the buyer reads it: the field's label and what is
    wrong, in the current language (English too: a buyer reads labels, not case.toml paths). A problem without a
    known kind keeps the library's English words after the label; one about a path the form does not know is
    said as the library (and the CLI) says it."""
    kind, params, path = problem.kind, dict(problem.params), problem.path
    label = field_label(path)
    words = PROBLEM_WORDS.get(kind)
    if not label:
        words = None  # a path the form has no field for: said as the CLI says it
    if words is None:
        return i18n.Worded(f"{label}: {problem.message}" if label else str(problem), path, kind)
    values = {name: _param(name, value) for name, value in params.items()}
    if kind == "unknown_key" and params.get("hint"):
        hint = field_label(f"{path.rsplit('.', 1)[0]}.{params['hint']}" if "." in path else str(params["hint"]))
        if hint:
            words = N_("not a field of the case (did you mean “%(hint)s”?)")
            values["hint"] = hint
    if "other" in params:
        values["other"] = field_label(str(params["other"])) or str(params["other"])
    elif kind in _OTHER:
        values["other"] = field_label(_OTHER[kind])
    if kind == "other_reason":
        titles = {r.key: i18n.gettext(r.title) for r in REASON_RULES.values()}
        values["reason"] = titles.get(str(params.get("reason")), str(params.get("reason")))
        values["reasons"] = ", ".join(titles.get(r, r) for r in params.get("reasons", ()))
    said = i18n.gettext(words) % values if values else i18n.gettext(words)
    return i18n.Worded(f"{label}: {said}", path, kind)


def problem_texts(problems: list[Any]) -> list[i18n.Worded]:
    return [problem_text(p) for p in problems]


# The texts' kinds (``dispute.complaint.ALL_KINDS``) as the result and the warnings name them.
TEXT_TITLES = {"seller": N_("Message to the seller"), "dispute": N_("Dispute description (goes into the form)"),
               "appeal": N_("Appeal against an escalated-dispute decision"),
               "report": N_("Report against the seller (a Trade Rules violation)")}
# Where a case stands (``dispute.stage.STAGES``), for the warning that the stage needs no text.
STAGE_WORDS = {
    "before_contact": N_("before contacting the seller"), "talking": N_("talking to the seller"),
    "dispute_open": N_("dispute open"), "escalated": N_("dispute escalated to the platform"),
    "appeal_open": N_("decided, appeal window open"), "appeal_closed": N_("decided, appeal window closed"),
    "refunded": N_("decided with a full refund"), "too_late": N_("too late to open a dispute"),
}
# The build's warnings that have a kind (model.manifest.Hinted), as the buyer reads them; their values
# (counts, a file name, the buyer's own sentence) come from the warning's params.
WARNING_WORDS = {
    "no_photos": N_("no usable photos in this case"),
    "chat_slots_full": N_("Chat screenshots not uploaded: %(count)s. The form's %(slots)s photo slots are full "
                          "(the summary PDF shows every screenshot)."),
    "several_videos": N_("%(count)s videos found; the package uses %(name)s."),
    "tracking_not_looked_up": N_("Tracking number %(number)s was not looked up online, so the package has no "
                                 "screenshot of its tracking page."),
    "notes_too_long": N_("Your notes are %(chars)s characters long; the texts and the summary PDF use the first "
                         "%(used)s, and the rest is kept in the package's manifest."),
    "notes_en_too_long": N_("Your English notes are %(chars)s characters long; the texts and the summary PDF use "
                            "the first %(used)s, and the rest is kept in the package's manifest."),
    "notes_not_english": N_("%(count)s of %(total)s sentences of your notes are not in English: they are kept out "
                            "of the English texts and shown as written in the summary PDF. Add your notes in "
                            "English (an automatic translator is fine) to use them in the texts."),
    "notes_en_not_english": N_("%(count)s of %(total)s sentences of your English notes are not in English: they "
                               "are kept out of the English texts."),
    "notes_about_the_seller": N_("Your notes' sentences about “the seller” are used in the dispute texts but left "
                                 "out of the message to the seller, which speaks to them as “you”."),
    "seller_asked_to_confirm_receipt": N_(
        "The seller asked you to confirm receipt. Do not confirm receipt of this order while the problem is not "
        "solved, even if the parcel has arrived: confirming tells the platform that everything is fine and can "
        "end your buyer protection."),
    "no_report_grounds": N_("No report against the seller: the facts show no Trade Rules violation (a request to "
                            "confirm receipt before delivery, a tracking number that is not valid, or pressure to "
                            "cancel the dispute)."),
    "note_left_out": N_("Your notes: “%(sentence)s” is left out of the texts: %(reasons)s. It stays in the "
                        "summary PDF's buyer's own account."),
    # the buyer's other words
    "seller_reply_not_english": N_("The seller's answer is not in English: it is left out of the English texts; "
                                   "the summary PDF shows it as written."),
    "seller_reply_reported": N_("The seller's answer is not in English: the texts report what it asks, promises "
                                "or claims, in English; the summary PDF shows it as written."),
    "seller_reply_tone": N_("The seller's answer: %(reasons)s; the texts report only what it asks, promises or "
                            "claims."),
    "fact_not_english": N_("“%(field)s” is not in English: it is left out of the English texts. Write it in "
                           "English (an automatic translator is fine)."),
    # the texts
    "left_out_for_length": N_("%(text)s: “%(sentence)s” is left out to stay within %(limit)s characters."),
    "no_texts_for_stage": N_("No texts for this stage of the case (%(stage)s): there is nothing to send now; the "
                             "deadlines say what is still possible."),
    # the tracking pages
    "popup_dismissed": N_("The page showed a pop-up message (“%(said)s”); it was closed before the screenshot."),
    "page_not_loaded": N_("The page had not finished loading after %(seconds)s s; it was captured as it was."),
    "tracker_events_missing": N_("The tracking events had not appeared on the page after %(seconds)s s; it was "
                                 "captured as it was."),
    "page_still_loading": N_("The page was still loading data after %(seconds)s s more; it was captured anyway."),
    "page_too_tall": N_("The page is %(height)s px tall; only its top %(top)s px were captured."),
    "saved_page_files_outside": N_("The saved page asked for files outside its folder (%(names)s); they were not "
                                   "loaded."),
    "saved_page_network": N_("The saved page asked for addresses on the internet (%(names)s); a saved page is "
                             "shown offline, so they were not loaded."),
    "saved_page_navigation": N_("The saved page tried to open another page (%(names)s); it was not followed."),
    "earlier_capture_kept": N_("This build could not capture the page; the capture of %(captured)s from the "
                               "earlier build was kept."),
    # the video's check
    "video_decode_errors": N_("The video has %(count)s decoding errors: some frames may show damage (blocks or "
                              "smears); if the original on the phone plays cleanly, copy it again."),
    "video_black": N_("The video's picture is black from %(start)s to %(end)s: a seller may say something was "
                      "hidden; trim it if it is not the unboxing."),
    "video_frozen": N_("The video's picture does not change from %(start)s to %(end)s: a seller may call it a "
                       "paused or edited recording."),
    "video_cut": N_("The video has a hard cut at %(at)s: an unboxing should be one take, a seller may call it "
                    "edited."),
    "video_too_short": N_("The video is only %(seconds)s s long: too short to show the parcel being opened."),
    "video_too_long": N_("The video is %(length)s long: trim it to the unboxing (its start and end)."),
    "video_streams": N_("The video file has %(count)s video streams; only the first is in the upload. If the "
                        "others matter, export them from the phone as a video of their own."),
    "video_truncated": N_("The video stops decoding at %(stops)s although it claims to last %(claims)s: it was "
                          "probably cut short while copying. Copy it again from the phone."),
}
# Why a sentence of the buyer's notes is left out of the texts (dispute.notes), each with what to do instead.
NOTE_REASON_WORDS = {
    "insults": N_("insulting or emotional words (%(words)s): describe what happened instead"),
    "shouting": N_("written in capitals (reads as shouting): use normal sentence case"),
    "repeated_marks": N_("repeated “!” or “?”: end the sentence with a full stop"),
    "question": N_("a question: write what happened as a statement"),
    "demand": N_("a demand: the texts make the request themselves; write what happened instead"),
    "addressing": N_("speaks to someone (“you”): write what happened in the first person"),
    "mentions_missing_video": N_("it mentions a video, but the package has none: add the video"),
}


def _warning_param(name: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if name == "limit" else i18n.number(value)  # a character limit reads as the form's
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if name == "captured" and value:  # a capture's UTC time: the day, in the buyer's words
        return i18n.format_day(str(value)[:10])
    return str(value)


def warning_text(warning: dict[str, Any]) -> str | None:
    """A build warning (manifest.json's warnings) in the current language, or None when it has no kind the
    catalog words (a free-text warning: its English words are shown, marked as English)."""
    kind, params = str(warning.get("kind") or ""), warning.get("params") or {}
    words = WARNING_WORDS.get(kind)
    if words is None or not isinstance(params, dict):
        return None
    values = {name: _warning_param(name, value) for name, value in params.items() if name != "reasons"}
    if kind == "left_out_for_length":
        values["text"] = i18n.gettext(TEXT_TITLES.get(str(params.get("text")), str(params.get("text"))))
    elif kind == "no_texts_for_stage":
        stage = STAGE_WORDS.get(str(params.get("stage")))
        if stage is None:
            return None
        values["stage"] = i18n.gettext(stage)
    elif kind == "fact_not_english":
        values["field"] = field_label(str(params.get("field"))) or str(params.get("field"))
    if "reasons" in params:
        reasons = params.get("reasons") or []
        worded = [NOTE_REASON_WORDS.get(str(r.get("kind"))) if isinstance(r, dict) else None for r in reasons]
        if not reasons or None in worded:
            return None  # a reason the catalog does not have: the whole sentence stays in English
        values["reasons"] = "; ".join(i18n.gettext(w) % {k: str(v) for k, v in (r.get("params") or {}).items()}
                                      for w, r in zip(worded, reasons) if w)
    try:
        return i18n.gettext(words) % values  # every catalog entry has its %(name)s values, or none
    except (KeyError, TypeError, ValueError):  # a manifest without the values its kind needs: said as written
        return None
