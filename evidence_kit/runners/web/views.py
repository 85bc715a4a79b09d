"""What the pages show, as plain data from a case folder and its package (the templates only lay it out)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ... import api
from ...errors import EvidenceKitError
from ...model.case import CUSTOMS_PROMISES, FACT_REASONS, PACKAGE_DIR
from ...model.manifest import MANIFEST_NAME, count_chars
from ...model.package import PackagePathError, read_package_text
from ...model.reasons import REASON_RULES, RESOLUTIONS
from . import i18n
from .i18n import N_
from .wording import FACT_FIELDS, TEXT_TITLES, field_label, problem_texts, warning_text
from .previews import video_info

# Deadline status -> (headline with the day that matters, which deadline that day is, colour class).
DEADLINE_HEADLINES = {
    "too_early": (N_("Too early: you can open the dispute from %(day)s"), "earliest_open", "wait"),
    "open_now": (N_("Open the dispute now, until %(day)s"), "last_open", "ok"),
    "last_days": (N_("Urgent: open the dispute now, the last day is %(day)s"), "last_open", "urgent"),
    "too_late": (N_("Too late to open a dispute: the last day was %(day)s"), "last_open", "late"),
    "dispute_open": (N_("Your dispute is open"), "", "ok"),
    "appeal_open": (N_("You can appeal the decision until %(day)s"), "appeal_until", "urgent"),
    "appeal_too_late": (N_("Too late to appeal: the last day was %(day)s"), "appeal_until", "late"),
    "unknown": (N_("Deadline unknown: add the shipping date"), "", "wait"),
}
KIND_TITLES = {"photos": N_("Photos"), "videos": N_("Video"), "chat": N_("Chat screenshots"),
               "tracking": N_("Tracking"), "receipts": N_("Receipts")}
EVIDENCE_TITLES = {"photos": N_("Photos"), "video": N_("Video"), "tracking": N_("Tracking"),
                   "tracking_events_typed": N_("Tracking events you typed in"),
                   "chat": N_("Chat with the seller"), "receipt": N_("Receipt")}
# Checklist gaps that are not a piece of evidence the reason names (``dispute.checklist``), by kind.
GAP_WORDS = {"seller_contact": N_("no record that you contacted the seller first (the date you wrote to them, or "
                                  "screenshots of the chat)"),
             "resolution": N_("choose “%(resolution)s” when the parcel never came")}
UPLOADED_KINDS = ("photos", "video")  # the checklist names what the build uploads of these, not the inputs


# Open now: the headline names the deadline that binds (the stage's, ``dispute.stage``): (when it is the last
# day to open, when it is another deadline, when no day is known).
OPEN_HEADLINES = {
    "open_now": (DEADLINE_HEADLINES["open_now"][0], N_("Open the dispute now, before %(deadline)s: %(day)s"),
                 N_("Open the dispute now")),
    "last_days": (DEADLINE_HEADLINES["last_days"][0], N_("Urgent: open the dispute now, before %(deadline)s: %(day)s"),
                  N_("Urgent: open the dispute now")),
}
# Deadlines that can bind before a dispute is open, as the headline names them.
BINDING_TITLES = {"protection_ends": N_("buyer protection ends"),
                  "hidden_defect_until": N_("the last day to report a hidden defect"),
                  "best_open_if_not_received": N_("the best days for a parcel that has not come")}
ESCALATED_HEADLINE = N_("Your dispute is with the platform, which decides it")


def deadline_banner(deadlines: dict[str, Any] | None) -> dict[str, str] | None:
    """The headline, its colour and the library's full advice, from a deadlines report (``to_dict``). With the
    report's ``stage``, the headline names the deadline that binds; it never says a day is unknown that is set."""
    if not deadlines:
        return None
    status = deadlines["status"]
    message, key, tone = DEADLINE_HEADLINES.get(status, DEADLINE_HEADLINES["unknown"])
    days = {d.get("key"): d.get("day") for d in deadlines.get("deadlines", [])}
    stage = deadlines.get("stage") or {}
    words: dict[str, str] = {}
    if status in OPEN_HEADLINES:
        binding = stage.get("binding") if stage else {"key": "last_open", "day": days.get("last_open")}
        until, before, plain = OPEN_HEADLINES[status]
        if binding and binding.get("day") and binding.get("key") in ("last_open", *BINDING_TITLES):
            key, day = binding["key"], binding["day"]
            message = until if key == "last_open" else before
            words = {"day": i18n.format_day(day), "deadline": i18n.gettext(BINDING_TITLES.get(key, ""))}
        else:  # no day binds yet (buyer protection's end not given, for one): say what to do, not "unknown"
            message = plain
    elif status == "dispute_open" and stage.get("key") == "escalated":
        message = ESCALATED_HEADLINE
    elif key:
        if not days.get(key):
            message, tone = DEADLINE_HEADLINES["unknown"][0], "wait"
        else:
            words = {"day": i18n.format_day(days[key])}
    return {"headline": i18n.gettext(message) % words if words else i18n.gettext(message),
            "tone": tone, "advice": deadline_advice(deadlines), "deadlines": deadline_list(deadlines)}


# The library's deadlines (``dispute.deadlines``) by key, as the page lists them.
DEADLINE_TITLES = {
    "earliest_open": N_("First day to open a dispute"), "last_open": N_("Last day to open a dispute"),
    "best_open_if_not_received": N_("Best days to open a dispute for a parcel that has not come"),
    "full_refund_from": N_("Non-delivery qualifies for a full refund from"),
    "hidden_defect_until": N_("Last day to report a hidden defect"),
    "escalation_expected": N_("Escalation to AliExpress expected around"),
    "appeal_until": N_("Last day to appeal an escalated-dispute decision"),
}


def _days(n: int) -> str:
    return i18n.ngettext("%(n)s day", "%(n)s days", n) % {"n": i18n.number(n)}


def deadline_list(deadlines: dict[str, Any]) -> list[dict[str, str]]:
    """Each deadline of the report with its day (a window from its first day), or the fields that would give it."""
    listed = []
    for d in deadlines.get("deadlines", []):
        title = DEADLINE_TITLES.get(d.get("key"))
        if title is None:
            continue
        if d.get("day") and d.get("start") and d["start"] != d["day"]:
            when = i18n.gettext(N_("%(start)s to %(day)s")) % {"start": i18n.format_day(d["start"]),
                                                              "day": i18n.format_day(d["day"])}
        elif d.get("day"):
            when = i18n.format_day(d["day"])
        else:
            needs = [field_label(n) for n in d.get("needs", [])]
            fields = ", ".join(i18n.gettext(N_("the field “%(field)s”")) % {"field": n} for n in needs if n)
            when = (i18n.gettext(N_("not known yet: fill in %(fields)s")) % {"fields": fields} if fields
                    else i18n.gettext(N_("not known yet")))
        listed.append({"key": d["key"], "title": i18n.gettext(title), "when": when})
    return listed


def deadline_advice(deadlines: dict[str, Any]) -> str:
    """What to do today in the buyer's language (``_advice``), with one full stop where a date ends in one
    (Russian writes "10 января 2027 г.")."""
    import re

    return re.sub(r"\.\.(?=\s|$)", ".", _advice(deadlines))


def _advice(deadlines: dict[str, Any]) -> str:
    """What to do today, worded here from the report's status and days (the library's ``advice`` is English):
    the same cases as ``dispute.deadlines._set_status``. ``parcel_missing``, ``protection_ends`` and
    ``max_text_chars`` come with a live report (``live_deadlines``); a stored one goes without them."""
    from datetime import date, timedelta

    status = deadlines.get("status")
    today = date.fromisoformat(deadlines["today"]) if deadlines.get("today") else date.today()
    by_key = {d.get("key"): d for d in deadlines.get("deadlines", [])}

    def day(key: str) -> date | None:
        value = (by_key.get(key) or {}).get("day")
        return date.fromisoformat(value) if value else None

    def say(day_: date | None) -> str:
        return i18n.format_day(day_.isoformat()) if day_ else ""

    best = by_key.get("best_open_if_not_received") or {}
    missing = deadlines.get("parcel_missing", "best_open_if_not_received" in by_key)
    best_day = day("best_open_if_not_received")
    last = day("last_open")
    if status == "appeal_open":
        until = day("appeal_until")
        left = (until - today).days if until else 0
        return i18n.gettext(N_("You can appeal the escalated-dispute decision until %(day)s (%(left)s left), in "
                               "English, at most %(chars)s characters.")) % {
            "day": say(until), "left": _days(left), "chars": i18n.number(deadlines.get("max_text_chars", 1000))}
    if status == "appeal_too_late":
        return i18n.gettext(N_("Too late to appeal: the last day was %(day)s.")) % {"day": say(day("appeal_until"))}
    if status == "dispute_open":
        expected = day("escalation_expected")
        n = int(deadlines.get("negotiation_days") or 0)
        if not expected:
            return i18n.gettext(N_("Your dispute is open."))
        return i18n.gettext(N_("Your dispute is open since %(opened)s. If you and the seller do not agree, it is "
                               "escalated to AliExpress around %(day)s (after %(days)s).")) % {
            "opened": say(expected - timedelta(n)), "day": say(expected), "days": _days(n)}
    if status == "too_late":
        return i18n.gettext(N_("Too late to open a dispute: the last day was %(day)s.")) % {"day": say(last)}
    earliest = day("earliest_open")
    if earliest is None or status == "unknown":
        return i18n.gettext(N_("Cannot tell whether a dispute can be opened today: fill in “%(field)s”.")) % {
            "field": field_label("order.shipped")}
    if status == "too_early":
        return i18n.gettext(N_("Too early: a dispute can be opened from %(day)s (%(days)s from today).")) % {
            "day": say(earliest), "days": _days((earliest - today).days)}
    ends = date.fromisoformat(deadlines["protection_ends"]) if deadlines.get("protection_ends") else None
    words = []
    if status == "last_days":
        if missing and ends and today <= ends:
            words.append(i18n.gettext(N_("Urgent: open the dispute now, before buyer protection ends on %(ends)s (the "
                                         "very last day is %(day)s).") if last else
                                      N_("Urgent: open the dispute now, before buyer protection ends on %(ends)s."))
                         % {"ends": say(ends), "day": say(last)})
        elif last:
            words.append(i18n.gettext(N_("Urgent: open the dispute now; the last day is %(day)s.")) % {"day": say(last)})
        else:
            words.append(i18n.gettext(N_("Urgent: open the dispute now.")))
        if missing and best_day:
            words.append(i18n.gettext(N_("For a parcel that has not come, do it by %(day)s.") if today <= best_day else
                                      N_("The best day for a parcel that has not come (%(day)s) has passed."))
                         % {"day": say(best_day)})
        return " ".join(words)
    if last:
        words.append(i18n.gettext(N_("You can open a dispute now, until %(day)s.")) % {"day": say(last)})
    else:
        words.append(i18n.gettext(N_("You can open a dispute now; until when depends on the day buyer protection "
                                     "ends: fill in “%(field)s”.")) % {"field": field_label("order.protection_ends")})
    if missing and best_day:
        start = date.fromisoformat(best["start"]) if best.get("start") else None
        words.append(i18n.gettext(N_("For a parcel that has not come, the best moment is from %(start)s to %(day)s."))
                     % {"start": say(start), "day": say(best_day)} if start and start != best_day else
                     i18n.gettext(N_("For a parcel that has not come, the best moment is no later than %(day)s."))
                     % {"day": say(best_day)})
    return " ".join(words)


def live_deadlines(root: Path) -> dict[str, Any] | None:
    """The case's deadlines and stage for today (``to_dict``), or None while case.toml has problems: the banner
    is about today, not the day of the build."""
    from datetime import date

    from ...dispute.deadlines import compute_deadlines

    try:
        case = api.load_case(root)
    except EvidenceKitError:
        return None
    today = date.today()
    report = compute_deadlines(case, today)
    report.stage = api.case_stage(case, today=today)
    rule = REASON_RULES[case.dispute.reason]
    # what the advice depends on beyond the report's days (deadline_advice words it again)
    return {**report.to_dict(), "parcel_missing": not rule.parcel_arrived and case.order.delivered is None,
            "protection_ends": case.order.protection_ends.isoformat() if case.order.protection_ends else None,
            "max_text_chars": case.profile.max_text_chars}


def reasons() -> list[dict[str, str]]:
    return [{"key": r.key, "title": i18n.gettext(r.title), "wins": i18n.gettext(r.wins),
             "caveat": i18n.gettext(r.caveat) if r.caveat else "",
             "default_resolution": r.default_resolution or ""} for r in REASON_RULES.values()]


def resolutions() -> dict[str, str]:
    return {key: i18n.gettext(title) for key, title in RESOLUTIONS.items()}


CUSTOMS_TITLES = {"chat": N_("In a message to me"), "listing": N_("In the item description")}
WORKS_TITLES = {"": N_("Not said"), "true": N_("It works, with the problem above"), "false": N_("It does not work at all")}


def fact_fields() -> list[dict[str, Any]]:
    """The [facts] fields of the form, each with the reasons it is for ("" for any reason)."""
    fields = []
    for name, label, kind, hint in FACT_FIELDS:
        reasons = FACT_REASONS[name]
        options = {"customs": {"": "", **{k: i18n.gettext(CUSTOMS_TITLES[k]) for k in CUSTOMS_PROMISES}},
                   "works": {k: i18n.gettext(v) for k, v in WORKS_TITLES.items()}}.get(kind, {})
        fields.append({"name": name, "label": i18n.gettext(label), "kind": kind,
                       "hint": i18n.gettext(hint) if hint else "", "options": options,
                       "reasons": " ".join(sorted(reasons)) if reasons is not None else ""})
    return fields


# Upload plan statuses (``stages.plan``) as the page says them.
PLAN_LABELS = {
    "upload": N_("Photo %(slot)s of %(max)s in the form"),
    "grid": N_("In the grid image (photo %(slot)s of %(max)s)"),
    "ranked_lower": N_("Not uploaded: the form takes %(max)s photos and the ones above come first. Move it up to use it."),
    "duplicate": N_("Not uploaded: the same shot as %(twin)s"),
    "unreadable": N_("Not uploaded: this file cannot be read as a picture"),
    "skipped": N_("Skipped: you chose not to upload it"),
    "slots_full": N_("Not uploaded: the form's photo slots are full (the summary PDF shows it)"),
}
VIDEO_LABELS = {
    "chosen": N_("Uploaded as the video"), "first": N_("Uploaded as the video"),
    "other": N_("Not uploaded: the form takes one video"), "skipped": N_("Not uploaded: you chose no video"),
}

_analyses: dict[tuple[str, int, int], Any] = {}


def _analyse(path: Path) -> Any:
    """``analyse_photo``, remembered by path, size and modification time (the page asks on every change)."""
    from ...media.photos import analyse_photo

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _analyses:
        if len(_analyses) > 2000:
            _analyses.clear()
        _analyses[key] = analyse_photo(path)
    return _analyses[key]


def upload_plan(case: Any) -> dict[str, Any]:
    """``api.plan_upload`` of a validated case, each entry with the words the page shows."""
    plan = api.plan_upload(case, analyse=_analyse).to_dict(case.root)
    for photo in plan["photos"]:
        twin = Path(photo["twin"]).name if photo["twin"] else ""
        photo["label"] = i18n.gettext(PLAN_LABELS[photo["status"]]) % {
            "slot": i18n.number(photo["slot"] or 0), "max": i18n.number(plan["max_photos"]), "twin": twin}
        photo["used"] = photo["status"] in ("upload", "grid")
    for shot in plan["chat"]:  # chat screenshots take the free slots after the item photos
        shot["label"] = i18n.gettext(PLAN_LABELS[shot["status"]]) % {
            "slot": i18n.number(shot["slot"] or 0), "max": i18n.number(plan["max_photos"])}
        shot["used"] = shot["status"] == "upload"
    for video in plan["videos"]:
        video["label"] = i18n.gettext(VIDEO_LABELS[video["why"]])
    return plan


def plan_with(root: Path, facts: Any) -> dict[str, Any]:
    """The upload plan with the page's unsaved photo order, skips and video choice (``photos`` and ``video``
    of ``facts``) over the saved case.toml: what Build will upload once it has saved them."""
    from decimal import Decimal

    from ...errors import CaseError
    from ...model.tomlfile import load_toml
    from .cases import CASE_FILE, Invalid, facts_to_data, validate

    form = facts_to_data(facts)
    try:  # read as the CLI reads it: a pipe, a huge or deeply nested file is a plain problem
        data = load_toml(root / CASE_FILE, CASE_FILE, parse_float=Decimal)
    except CaseError as exc:
        return {"plan": None, "problems": exc.problems}
    for key in ("photos", "video"):
        if key in form:
            data[key] = form[key]
        else:
            data.pop(key, None)
    try:
        return {"plan": upload_plan(validate(data, root)), "problems": []}
    except Invalid as exc:
        return {"plan": None, "problems": exc.problems}


# The form's own text fields by case.toml table: where a mistyped key's value may be meant to go.
FORM_TEXT_FIELDS = {
    "": ("title",),
    "order": ("number", "store", "item", "price", "currency", "ordered", "shipped", "delivered", "protection_ends"),
    "dispute": ("amount", "seller_contacted", "opened", "escalated_closed", "seller_reply", "notes", "notes_en"),
}


def unknown_keys(root: Path, facts: Any) -> list[dict[str, Any]]:
    """Entries of a hand-written case.toml that no field of the case has (``stor =`` in [dispute]): each with
    its place (``path``, for the page to leave it out when it saves), how case.toml writes it, and the form
    field its value was probably meant for. Found as the validator finds them (extra keys of the model)."""
    import difflib

    from pydantic import ValidationError

    from ...model.case import CaseFile

    if not isinstance(facts, dict) or not facts:
        return []
    try:
        CaseFile.model_validate(facts, context={"root": root})
        return []
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False) if e["type"] == "extra_forbidden"]
    except Exception:  # noqa: BLE001 - a hand-edited file may upset a validator; the problems list says why
        return []
    found = []
    for error in errors:
        loc = list(error["loc"])
        key, table = str(loc[-1]), [str(part) for part in loc[:-1] if not isinstance(part, int)]
        value = error.get("input")
        scalar = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else (
            str(value) if scalar else "…")
        if len(shown) > 80:
            shown = shown[:77] + "…"
        index = next((part for part in loc[:-1] if isinstance(part, int)), None)
        section = f"[[{table[0]}]] {index + 1}: " if index is not None else (f"[{'.'.join(table)}] " if table else "")
        suggest = ""
        if scalar and len(table) <= 1:
            here = table[0] if table else ""
            for candidates in (FORM_TEXT_FIELDS.get(here, ()),
                               [f for fields in FORM_TEXT_FIELDS.values() for f in fields]):
                match = difflib.get_close_matches(key, candidates, n=1, cutoff=0.75)
                if match:
                    owner = here if match[0] in FORM_TEXT_FIELDS.get(here, ()) else next(
                        t for t, fields in FORM_TEXT_FIELDS.items() if match[0] in fields)
                    suggest = f"{owner}.{match[0]}" if owner else match[0]
                    break
        dotted = (f"{table[0]}[{index + 1}]." if index is not None else ".".join(table) + "." if table else "") + key
        found.append({"path": loc, "entry": f"{section}{key} = {shown}", "suggest": suggest,
                      "value": str(value) if scalar else "", "prefix": f"{dotted}: unknown key"})
    return found


def files_view(root: Path, facts: dict[str, Any], cache: Path) -> dict[str, Any]:
    """The case's files by kind; photos in the order the build uploads them (``api.plan_upload``), with their
    slot or why they are left out, and captions. A case.toml with problems has no plan (the build refuses it)."""
    from .cases import media_files

    files = media_files(root)
    listed = facts.get("photos")
    # a hand-edited case.toml may hold anything here
    hints = {h.get("file"): h for h in (listed if isinstance(listed, list) else []) if isinstance(h, dict)}
    for photo in files["photos"]:
        hint = hints.get(photo["path"], {})
        photo["rank"] = hint.get("rank")
        photo["caption"] = hint.get("caption", "")
        photo["skip"] = hint.get("skip") is True
    plan = None
    try:
        plan = upload_plan(api.load_case(root))
    except EvidenceKitError:
        pass  # the page lists the problems of case.toml; Build would refuse it too
    if plan is not None:
        place = {p["path"]: (i, p) for i, p in enumerate(plan["photos"])}
        for photo in files["photos"]:
            photo["plan"] = place.get(photo["path"], (0, None))[1]
        files["photos"].sort(key=lambda p: (place.get(p["path"], (len(place), None))[0], p["name"]))
    else:
        for photo in files["photos"]:
            photo["plan"] = None
        files["photos"].sort(key=lambda p: (p["rank"] is None, p["rank"] or 0, p["name"]))
    planned_chat = {c["path"]: c for c in (plan["chat"] if plan else [])}
    for item in files["chat"]:
        item["plan"] = planned_chat.get(item["path"])
    video = facts.get("video", {}) if isinstance(facts.get("video"), dict) else {}
    planned_videos = {v["path"]: v for v in (plan["videos"] if plan else [])}
    for item in files["videos"]:
        info = video_info(root / item["path"], cache)
        item["duration"] = info["duration"]
        item["poster"] = info["poster"] is not None
        item["start"] = video.get("start")
        item["end"] = video.get("end")
        item["plan"] = planned_videos.get(item["path"])
    used = next((v for v in files["videos"] if v["plan"] and v["plan"]["used"]), None)
    sheet = root / PACKAGE_DIR / "video" / "contact-sheet.jpg"
    return {"by_kind": files, "titles": {k: i18n.gettext(v) for k, v in KIND_TITLES.items()},
            "contact_sheet": sheet.is_file(), "count": sum(len(v) for v in files.values()),
            "plan": plan, "trimmed": used or (files["videos"][0] if files["videos"] and plan is None else None),
            "video_skipped": video.get("skip") is True,
            # case.toml's entries the page cannot show (it reads them here, with the rest of case.toml's view)
            "unknown_keys": unknown_keys(root, facts)}


_verified: dict[str, tuple[int, dict[str, Any]]] = {}


def _verify(package: Path) -> dict[str, Any]:
    """``api.verify`` of the package, remembered while its manifest stays the same (it hashes every file)."""
    stamp = (package / "manifest.json").stat().st_mtime_ns
    key = str(package.resolve())
    if key not in _verified or _verified[key][0] != stamp:
        _verified[key] = (stamp, api.verify(package).to_dict())
    return _verified[key][1]


def _chars(package: Path, relative: str) -> int | None:
    try:
        return count_chars(read_package_text(package, relative))
    except ValueError:  # see the texts in result_view
        return None


def checklist_view(root: Path, checklist: dict[str, Any]) -> dict[str, Any]:
    """The manifest's checklist as the page says it: for each kind of evidence present, the files the buyer gave
    (or how many photos and videos go into the form), never a count of the files the build made from them; gaps
    without the reason repeated before each."""
    present = []
    for kind, names in checklist.get("present", {}).items():
        if not names:
            continue
        title = i18n.gettext(EVIDENCE_TITLES[kind]) if kind in EVIDENCE_TITLES else kind.replace("_", " ")
        given = [Path(n).name for n in names if (root / n).is_file() and not Path(n).is_absolute()]
        if kind in UPLOADED_KINDS:
            detail = i18n.gettext(N_("%(n)s in the form")) % {"n": i18n.number(len(names))}
        elif given:
            detail = ", ".join(given)
        else:  # made by the build alone (a tracking page captured from its address)
            detail = i18n.gettext(N_("captured by the build"))
        present.append({"title": title, "detail": detail})
    label = str(checklist.get("reason", "")).replace("_", " ") + ": "
    rule = REASON_RULES.get(str(checklist.get("reason", "")))
    needs = {need.kind: need.missing for need in rule.needs} if rule else {}
    typed = bool(checklist.get("present", {}).get("tracking_events_typed"))
    gaps = []
    for gap in checklist.get("gaps", []):
        message = str(gap.get("message", ""))
        message = message[len(label):] if message.startswith(label) else message
        kind = gap.get("kind")
        # worded from the gap's kind: the reason's own words for the evidence (catalog entries), or the page's
        if kind in needs:
            message = i18n.gettext(needs[kind])
            if kind == "tracking" and typed:
                message += " " + i18n.gettext(N_("(the tracking events you typed in are attached as a table, but a "
                                                 "screenshot of the tracking site itself is what the articles ask "
                                                 "for)"))
        elif kind in GAP_WORDS:
            message = i18n.gettext(GAP_WORDS[kind]) % {"resolution": i18n.gettext(RESOLUTIONS["refund_only"])}
        gaps.append({**gap, "message": message[:1].upper() + message[1:]})
    return {"complete": checklist.get("complete"), "gaps": gaps, "present": present,
            "missing": [g for g in gaps if g.get("required")]}


# Why the build left a photo out (``photo_selection.left_out``: words only, matched here on the photo stage's
# few fixed forms) -> the page's words for the same status of the upload plan.
LEFT_OUT_WORDS = (
    (r"near-duplicate of (?P<twin>.+) \(hash distance \d+\)", PLAN_LABELS["duplicate"]),
    (r"the form takes \d+ photos; ranked lower than the ones uploaded",
     N_("Not uploaded: the form takes %(max)s photos and the ones ranked higher came first")),
    (r"shown in the grid image (?P<name>\S+) \(the form takes \d+ photos\)",
     N_("In the grid image %(name)s (the form takes %(max)s photos)")),
    (r"skipped by the buyer", PLAN_LABELS["skipped"]),
)


def left_out_view(left_out: list[dict[str, Any]], max_photos: int) -> list[dict[str, Any]]:
    """Each photo the build left out, with why in the buyer's language; a reason of another form stays in the
    library's English, marked ``english``."""
    import re

    shown = []
    for item in left_out:
        reason = str(item.get("reason", ""))
        for pattern, words in LEFT_OUT_WORDS:
            found = re.fullmatch(pattern, reason)
            if found:
                said = i18n.gettext(words) % {"max": i18n.number(max_photos), "twin": "", "name": "",
                                              **found.groupdict()}
                shown.append({**item, "reason": said, "english": False})
                break
        else:
            shown.append({**item, "english": i18n.current_language() != i18n.DEFAULT_LANGUAGE})
    return shown


# What verify found (``VerifyProblem.kind``), as the page says it after the file's name.
VERIFY_WORDS = {
    "hash_mismatch": N_("changed since the build: it no longer matches the package's record"),
    "limit": N_("over the form's limit"),
    "unlisted_file": N_("not in the package's record"),
    "unsupported_file": N_("a type of file the form does not take"),
    "damaged_manifest": N_("the package's record is damaged"),
    "old_schema": N_("made by an older evidence-kit, whose record cannot be checked"),
    "manifest_edited": N_("the package's record was changed after the build"),
    "bad_path": N_("named outside the package, or reached through a link"),
}


def verify_problems_view(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """verify's problems for the page: each by its kind in the buyer's language, else verify's English, marked."""
    shown = []
    for problem in problems:
        words = VERIFY_WORDS.get(str(problem.get("kind")))
        english = words is None and i18n.current_language() != i18n.DEFAULT_LANGUAGE
        shown.append({"path": problem.get("path") or "", "english": english,
                      "message": i18n.gettext(words) if words and i18n.current_language() != i18n.DEFAULT_LANGUAGE
                      else str(problem.get("message", ""))})
    return shown


def errors_view(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The build's errors (a file it could not use, a program that failed): in another language the sentence
    for the error's exit code, then the library's own words, marked as English (they say which problem exactly)."""
    if i18n.current_language() == i18n.DEFAULT_LANGUAGE:
        return [{**e, "said": "", "english": False} for e in errors]
    return [{**e, "said": i18n.gettext(FAILURE_WORDS.get(int(e.get("code") or 0), N_("The build failed."))),
             "english": True} for e in errors]


# Warnings of these stages repeat what the page already says in the buyer's language: the deadlines stage's is
# the banner's advice, the checklist stage's are the checklist's gaps.
SAID_ELSEWHERE = frozenset({"deadlines", "checklist"})


def warnings_view(warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The build's warnings as the result lists them: those the page says elsewhere left out, each in the
    buyer's language when it has a kind the catalog words (wording.warning_text, from the warning's params);
    the rest stay in the library's English, marked ``english`` (the page says so, and the buyer can hand the
    sentence to a translator: guessing a translation from a sentence that names files and numbers would
    misstate them)."""
    shown = []
    for warning in warnings:
        if warning.get("stage") in SAID_ELSEWHERE:
            continue
        translated = warning_text(warning)
        english = translated is None and i18n.current_language() != i18n.DEFAULT_LANGUAGE
        shown.append({**warning, "message": str(warning.get("message", "")) if translated is None else translated,
                      "english": english})
    return shown


def result_view(root: Path, checked_at: float | None = None) -> dict[str, Any] | None:
    """The built package as the result section shows it; None before the first build. ``checked_at``: when
    the last build of this case started (an unchanged build keeps the package, and its old manifest)."""
    package = root / PACKAGE_DIR
    # Every path of the package is read as verify reads it (model.package): never through a link, never
    # outside the package, so a manifest naming /etc/passwd or a linked text shows nothing of it.
    try:
        manifest = json.loads(read_package_text(package, MANIFEST_NAME))
    except PackagePathError as exc:
        if exc.absent:
            return None
        raise  # a linked or special manifest.json: not a package this page can show (the caller says so)
    except (OSError, ValueError):
        return None
    profile = manifest["profile"]
    limits = {"photo": profile["max_photo_bytes"], "video": profile["max_video_bytes"]}
    uploads = []
    for record in manifest["outputs"]:
        if not record.get("upload"):
            continue
        item = {"path": record["path"], "name": Path(record["path"]).name, "role": record["role"],
                "bytes": record["bytes"], "limit": limits.get(record["role"]), "chars": None}
        if record["path"].endswith(".txt"):
            item["chars"] = _chars(package, record["path"])
        item["over"] = (item["limit"] is not None and item["bytes"] > item["limit"]) or (
            item["chars"] is not None and item["chars"] > profile["max_text_chars"])
        uploads.append(item)
    texts = []
    for kind, info in manifest.get("texts", {}).items():
        try:
            text = read_package_text(package, info["path"])
        except ValueError:  # outside the package, a link, missing, not UTF-8: verify names it, nothing is shown
            text = ""
        texts.append({"kind": kind, "title": i18n.gettext(TEXT_TITLES.get(kind, kind)), "path": info["path"],
                      "text": text, "chars": count_chars(text), "limit": profile["max_text_chars"],
                      "upload": info["path"].startswith("upload/")})
    checklist = manifest.get("checklist", {})
    from .cases import media_files

    # Cheap (no hashing): any input or case.toml newer than the package means the package may be out of date.
    built = max((package / "manifest.json").stat().st_mtime, checked_at or 0.0)
    inputs = [root / "case.toml", *(root / f["path"] for files in media_files(root).values() for f in files)]
    stale = any(path.stat().st_mtime > built for path in inputs if path.exists())
    return {
        "stale": stale,
        "created": manifest.get("created"),
        "banner": deadline_banner(live_deadlines(root) or manifest.get("deadlines")),
        "uploads": uploads, "texts": texts, "profile": profile,
        "counts": {"photos": sum(1 for u in uploads if u["role"] == "photo"),
                   "videos": sum(1 for u in uploads if u["role"] == "video")},
        "warnings": warnings_view(manifest.get("warnings", [])), "errors": errors_view(manifest.get("errors", [])),
        "left_out": left_out_view(manifest.get("photo_selection", {}).get("left_out", []), profile["max_photos"]),
        "checklist": checklist_view(root, checklist),
        "summary": manifest.get("summary", {}).get("path"), "verify": (verified := _verify(package)),
        "verify_problems": verify_problems_view(verified.get("problems", [])),
    }


# --- a build's progress and failure, in the buyer's language ------------------------------------------------

# The stages' progress labels (``ProgressEvent.message``: free text, so matched here on the stages' few fixed
# forms) -> the page's words; a file name is kept as it is.
PROGRESS_WORDS = (
    (r"reading (?P<name>.+)", N_("Reading %(name)s")),
    (r"fitting (?P<name>.+)", N_("Fitting %(name)s to the form's limit")),
    (r"video: checking", N_("Checking the video")),
    (r"video: copying", N_("Copying the video")),
    (r"video: encoding", N_("Converting the video")),
    (r"video: encoding, pass (?P<n>\d+) of 2", N_("Converting the video, pass %(n)s of 2")),
    (r"video: contact sheet", N_("Making the contact sheet")),
)


def progress_text(message: str) -> str:
    """A progress event's message as the page shows it: in English as the library says it; in another language
    worded from the catalog, or left out (the stage's name and its bar still say what is going on)."""
    import re

    if i18n.current_language() == i18n.DEFAULT_LANGUAGE or not message:
        return message
    if message in TEXT_TITLES:  # the texts stage names the kind of text it writes
        return i18n.gettext(TEXT_TITLES[message])
    for pattern, words in PROGRESS_WORDS:
        found = re.fullmatch(pattern, message)
        if found:
            return i18n.gettext(words) % found.groupdict() if found.groupdict() else i18n.gettext(words)
    return ""


# A failed build's exit code (``errors.ExitCode``) -> what the page says; the library's message would name
# local paths and command-line options.
FAILURE_WORDS = {
    3: N_("A file of the case cannot be used."),
    4: N_("A program the build needs is not installed on this computer."),
    5: N_("A file cannot be made small enough for the form's limit."),
    7: N_("A file cannot be read or written (no permission, or the disk is full?)."),
    8: N_("A program the build uses (ffmpeg or Chromium) failed."),
    15: N_("A fault in evidence-kit stopped the build; the server's window shows the details."),
}


def failure_text(result: dict[str, Any], error: BaseException | None) -> str:
    """Why a build failed, for the page: the case's problems (worded as the form words them) or its exit code's
    sentence, with the library's own words after it where they help and name no local path."""
    found = getattr(error, "found", None)
    if found:
        return i18n.gettext(N_("Fix these first: %(problems)s")) % {"problems": "; ".join(problem_texts(found))}
    code = int(result.get("exit_code") or 15)
    said = i18n.gettext(FAILURE_WORDS.get(code, N_("The build failed.")))
    message = getattr(error, "message", "")  # without the path EvidenceKitError adds to str()
    if message and code in (3, 4, 5):  # which file or which program: the buyer's next step
        return f"{said} {message}" if i18n.current_language() == i18n.DEFAULT_LANGUAGE else (
            f"{said} " + i18n.gettext(N_("In English: %(message)s")) % {"message": message})
    return said
