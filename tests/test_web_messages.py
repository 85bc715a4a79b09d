"""Every message of the web app in the buyer's language (issue 23, point 8): the form's problems, the deadline
banner and its list of deadlines, the checklist's gaps, a build's progress and failure, the result's warnings.
Each names the field by the label the form shows, never by its case.toml path. Against a real server
(``tests.test_web_api.WebServer``); the CLI keeps its English, byte for byte.
"""
from __future__ import annotations

import json
import re
import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from evidence_kit import api
from evidence_kit.errors import CaseError
from evidence_kit.runners.web import i18n
from evidence_kit.runners.web.wording import (FIELD_LABELS, STAGE_WORDS, TEXT_TITLES, WARNING_WORDS,
                                               warning_text)

from .test_web_api import FACTS, WebServer, new_case

LANGUAGES = {"ru": "ru-RU,ru;q=0.9", "es": "es-ES,es;q=0.9", "pt_BR": "pt-BR,pt;q=0.9"}
TODAY = date.today()
FUTURE = (TODAY + timedelta(days=40)).isoformat()

# The library's own English phrasings of problems and advice: none may reach a page in another language.
ENGLISH_PHRASES = (
    "missing", "is before", "is more than", "order.price", "is in the future", "check the date",
    "is not used for the reason", "remove it or change the reason", "unknown value", "is not a date", "valid:",
    "only http", "You can open a dispute now", "Too early", "Urgent", "Too late", "Your dispute is open",
    "For a parcel that has not come", "the best moment", "Last day to", "First day to", "no photos",
    "no unboxing video", "no record that you contacted", "choose \"refund only\"", "Escalation to AliExpress",
    "Cannot tell", "days", "until", "screenshot",
)
# case.toml paths (not file names such as upload/dispute.txt)
PATHS = re.compile(r"\b(?:order|dispute|facts|tracking)(?:\.(?!txt\b|pdf\b)\w+|\[\d+\])")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"))
    yield running
    running.client.close()
    running.stop()


def _label(language: str, msgid: str) -> str:
    return i18n.translations(language).gettext(msgid)


def _english_left(text: str) -> list[str]:
    return [p for p in ENGLISH_PHRASES if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", text)]


def _mistakes() -> list[dict[str, Any]]:
    """Two forms a hurried buyer might send: the field problems, then the problems across fields."""
    fields = json.loads(json.dumps(FACTS))
    fields["order"].update(number="", shipped="2026-13-40")
    fields["dispute"]["reason"] = "broken"
    fields["tracking"] = [{"url": "ftp://example.com/x"}]
    across = json.loads(json.dumps(FACTS))
    across["order"].update(ordered="2026-10-05", shipped="2026-10-01", delivered=FUTURE, price="34.90")
    across["dispute"]["amount"] = "40.00"
    across["facts"] = {"missing": "the power cable"}  # a fact of another reason (incomplete, not damaged)
    return [fields, across]


# path -> the label the form shows for it (msgid)
LABELS = {"order.number": "Order number", "order.shipped": "Shipped on", "dispute.reason": "Reason",
          "tracking.0.url": "Tracking page address", "dispute.amount": "Refund asked for",
          "order.delivered": "Delivered on", "facts.missing": "What is missing from the parcel (in English)"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_problem_of_the_form_is_in_the_buyers_language_with_the_fields_label(server: WebServer,
                                                                                    language: str) -> None:
    headers = {"accept-language": LANGUAGES[language]}
    seen: set[str] = set()
    for facts in _mistakes():
        response = server.client.post("/api/cases", json=facts, headers=headers)
        assert response.status_code == 422, response.text
        body = response.json()
        problems, fields = body["problems"], body["fields"]
        assert problems and len(problems) == sum(len(v) for v in fields.values())
        for problem in problems:
            assert not PATHS.search(problem), problem  # no "dispute.amount", no "order.shipped"
            assert _english_left(problem) == [], problem
        for path, messages in fields.items():
            seen.add(path)
            if path in LABELS:  # filed under its form field, and starting with that field's label
                assert all(m.startswith(_label(language, LABELS[path]) + ": ") for m in messages), messages
    assert set(LABELS) <= seen
    # the amount against the price, written as the language writes money; dates as it writes dates
    across = server.client.post("/api/cases", json=_mistakes()[1], headers=headers).json()["fields"]
    assert "40,00" in across["dispute.amount"][0] and "34,90" in across["dispute.amount"][0]
    from babel.dates import format_date

    assert format_date(date.fromisoformat(FUTURE), "long", locale=language) in across["order.delivered"][0]
    # the fact's reason said by its title, as the reason select shows it
    assert _label(language, "Item arrived damaged") in across["facts.missing"][0]


def test_the_clis_english_problems_are_unchanged(tmp_path: Path) -> None:
    """The library words its problems as ever (the web app adds kinds beside them, not instead)."""
    (tmp_path / "case.toml").write_text(textwrap.dedent(f"""
        [order]
        number = "8100"
        price = 34.90
        ordered = 2026-10-05
        shipped = 2026-10-01
        delivered = {FUTURE}
        [dispute]
        reason = "damaged"
        resolution = "refund_only"
        amount = 40.00
        [facts]
        missing = "the power cable"
        [[tracking]]
        url = "ftp://example.com/x"
        """), encoding="utf-8")
    with pytest.raises(CaseError) as raised:
        api.load_case(tmp_path)
    assert raised.value.problems == [
        "order.shipped: is before order.ordered",
        "tracking[1].url: only http:// and https:// addresses are accepted, got 'ftp://example.com/x'",
        "dispute.amount: 40.0 is more than order.price 34.9",
        "facts.missing: is not used for the reason 'damaged' (it is for: incomplete); remove it or change the reason",
        f"order.delivered: {FUTURE} is in the future (today is {TODAY.isoformat()}): check the date",
    ]
    (tmp_path / "case.toml").write_text('[order]\nnumber = ""\nshipped = "2026-13-40"\n[dispute]\nreason = "broken"\n',
                                        encoding="utf-8")
    with pytest.raises(CaseError) as raised:
        api.load_case(tmp_path)
    assert raised.value.problems == [
        "order.number: must not be empty",
        "order.shipped: '2026-13-40' is not a date (write it as 2026-11-25)",
        "dispute.reason: unknown value 'broken' (valid: not_received, damaged, defective, not_as_described, "
        "wrong_item, wrong_size, wrong_colour, incomplete, counterfeit, expired, late_delivery, invalid_tracking, "
        "delivered_elsewhere, returned_to_seller, customs)",
        "dispute.resolution: missing",
    ]


def _result_text(page: str) -> str:
    """What the buyer reads in the page's result section (its text, without markup)."""
    import html

    section = page[page.index('id="result-section"'):]
    # the texts to paste are English on purpose (the form wants them so), and so are the build's warnings
    # marked as English (lang="en"): neither is the page's own words
    section = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", section, flags=re.S)
    section = re.sub(r'<span lang="en">.*?</span>', " ", section, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section)))


def _built(server: WebServer, facts: dict[str, Any]) -> str:
    case_id = new_case(server, facts)
    job = server.client.post(f"/api/cases/{case_id}/build").json()["job"]
    assert server.events(job)[-1][1]["status"] == "built"
    return case_id


def _relative(facts: dict[str, Any], **days: int) -> dict[str, Any]:
    """``facts`` with its order's dates so many days from today (the banner is about today)."""
    copy = json.loads(json.dumps(facts))
    copy["order"] = {k: v for k, v in copy["order"].items() if k not in ("delivered", *days)}
    copy["order"].update({k: (TODAY + timedelta(days=n)).isoformat() for k, n in days.items() if n is not None})
    return copy


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_case_page_says_the_advice_the_deadlines_and_the_gaps_in_the_buyers_language(server: WebServer,
                                                                                       language: str) -> None:
    headers = {"accept-language": LANGUAGES[language]}
    lost = _relative({**FACTS, "title": "Lost lamp", "dispute": {"reason": "not_received", "resolution": "refund_only"}},
                     ordered=-32, shipped=-30, protection_ends=20)
    damaged = _relative({**FACTS, "title": "Broken lamp"}, ordered=-30, shipped=-28, delivered=-5, protection_ends=2)
    for facts, gaps in ((lost, ["no tracking screenshot showing the parcel never reached your city",
                                "no screenshot of the chat asking the seller to extend buyer protection"]),
                        (damaged, ["no photos where the problem is clearly visible",
                                   "no unboxing video (ideally filmed from the unopened parcel)"])):
        case_id = _built(server, facts)
        text = _result_text(server.client.get(f"/cases/{case_id}", headers=headers).text)
        assert _english_left(text) == [], (facts["title"], _english_left(text))
        assert not PATHS.search(text), PATHS.search(text)
        catalog = i18n.translations(language)
        for gap in gaps:  # the reason's own words for each missing piece, from the catalog
            russian = catalog.gettext(gap)
            assert russian != gap and russian[:1].upper() + russian[1:] in text, gap
        assert catalog.gettext("All deadlines") in text
        for title in ("First day to open a dispute", "Last day to open a dispute"):
            assert catalog.gettext(title) in text
        from babel.dates import format_date

        last = TODAY + timedelta(days=(20 if facts is lost else 2) + 15)
        # the last day to open, as the language writes it (a narrow space read as a space)
        assert re.sub(r"\s+", " ", format_date(last, "long", locale=language)) in text
        page = server.client.get(f"/cases/{case_id}", headers=headers).text
        if facts is lost:  # the advice names the best window for a parcel that has not come
            best = catalog.gettext("For a parcel that has not come, the best moment is from %(start)s to %(day)s.")
            assert best.split("%(")[0] in text
            # the build's warning about the tracking number is worded from its kind and number; the checklist's
            # and the deadlines' warnings are not repeated in English under the translated checklist and banner
            assert "was not looked up online" not in page
            assert catalog.gettext("Tracking number %(number)s was not looked up online, so the package has no "
                                   "screenshot of its tracking page.") % {"number": "LP00412345678901"} in text
            assert catalog.gettext("Some of these warnings are only in English, as the build wrote them.") not in page
        assert "not received:" not in page and "damaged:" not in page and "deadlines:" not in page
    english = _result_text(server.client.get(f"/cases/{_built(server, lost)}", headers={"accept-language": "en"}).text)
    assert "For a parcel that has not come, the best moment is" in english  # the same advice, in English


def _events(server: WebServer, job: str, language: str) -> list[tuple[str, dict[str, Any]]]:
    """The job's server-sent events as a page in ``language`` receives them."""
    events, name = [], None
    with server.client.stream("GET", f"/api/jobs/{job}/events",
                              headers={"accept-language": LANGUAGES[language]}) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


@pytest.mark.slow
def test_a_builds_progress_and_failure_are_in_the_buyers_language(server: WebServer) -> None:
    from .test_web_api import jpeg_bytes

    case_id = new_case(server, {**FACTS, "title": "Progress"})
    files = [("files", (f"IMG_{i}.jpg", jpeg_bytes(20 + i))) for i in range(5)]  # more than the form takes
    assert server.client.post(f"/api/cases/{case_id}/files", files=files).status_code == 201
    job = server.client.post(f"/api/cases/{case_id}/build").json()["job"]
    catalog = i18n.translations("ru")
    events = _events(server, job, "ru")
    said = [data["message"] for name, data in events if name == "progress" and data.get("message")]
    reading = catalog.gettext("Reading %(name)s") % {"name": "IMG_0.jpg"}
    assert reading != "Reading IMG_0.jpg" and reading in said, said
    assert not [m for m in said if re.match(r"(reading|fitting|video:|seller$|dispute$)", m)], said
    english = [d["message"] for n, d in server.events(job) if n == "progress" and d.get("message")]
    assert "reading IMG_0.jpg" in english  # a script (or an English page) gets the library's words
    # why photos were left out, as the upload plan says it (no "ranked lower", no "hash distance")
    page = server.client.get(f"/cases/{case_id}", headers={"accept-language": LANGUAGES["ru"]}).text
    left_out = page[page.index(catalog.gettext("Photos not uploaded, and why")):]
    left_out = left_out[:left_out.index("</details>")]
    assert left_out.count("<li>") == 2 and 'lang="en"' not in left_out, left_out
    assert not _english_left(left_out) and "ranked lower" not in left_out and "hash distance" not in left_out

    (server.workspace / case_id / "case.toml").write_text('[order]\nnumber = "81"\nshipped = "2026-13-40"\n',
                                                          encoding="utf-8")
    job = server.client.post(f"/api/cases/{case_id}/build").json()["job"]
    for language in LANGUAGES:
        done = _events(server, job, language)[-1][1]
        assert done["status"] == "failed" and done["problems"][0] == "order.shipped: '2026-13-40' is not a date " \
                                                                     "(write it as 2026-11-25)"
        text = done["said"]
        assert _label(language, "Shipped on") in text and _label(language, "The dispute") in text, text
        assert not PATHS.search(text) and "[dispute]" not in text and str(server.workspace) not in text, text
        assert _english_left(text) == [], text


@pytest.mark.slow
def test_a_build_error_and_a_failed_check_are_in_the_buyers_language(server: WebServer) -> None:
    case_id = new_case(server, {**FACTS, "title": "Bad photo"})
    root = server.workspace / case_id
    (root / "photos").mkdir(exist_ok=True)
    (root / "photos" / "IMG_9.jpg").write_bytes(b"not a picture at all")  # put there by hand, not uploaded
    job = server.client.post(f"/api/cases/{case_id}/build").json()["job"]
    server.events(job)
    (root / "evidence-package" / "upload" / "dispute.txt").write_text("changed by hand", encoding="utf-8")
    catalog = i18n.translations("ru")
    page = server.client.get(f"/cases/{case_id}", headers={"accept-language": LANGUAGES["ru"]}).text
    check = page[page.index(catalog.gettext("The package failed its check:")):]
    check = check[:check.index("</span>")]
    assert ("upload/dispute.txt: " + catalog.gettext("changed since the build: it no longer matches the package's "
                                                     "record")) in check, check
    errors = page[page.index('<ul class="errors">'):]
    errors = errors[:errors.index("</ul>")]
    assert "photos/IMG_9.jpg: " + catalog.gettext("A file of the case cannot be used.") in errors, errors
    assert re.search(r'<span lang="en">[^<]+</span> \(' + re.escape(catalog.gettext("in English")), errors)


def test_a_hand_written_case_tomls_problems_are_listed_in_the_buyers_language(server: WebServer) -> None:
    case_id = new_case(server, {**FACTS, "title": "Hand-written"})
    (server.workspace / case_id / "case.toml").write_text(textwrap.dedent("""
        [order]
        number = "8100"
        price = 34.90
        ordered = 2026-10-05
        shipped = 2026-10-01
        [dispute]
        reason = "damaged"
        resolution = "refund_only"
        amount = 40.00
        stor = "Lamp Store"
        """), encoding="utf-8")
    for language in LANGUAGES:
        page = server.client.get(f"/cases/{case_id}", headers={"accept-language": LANGUAGES[language]}).text
        box = page[page.index('id="toml-problems"'):]
        listed = re.findall(r"<li>(.*?)</li>", box[:box.index('class="unknown-keys"')], flags=re.S)
        assert len(listed) == 2, listed  # the mistyped key is said once, in its own list below
        assert listed[0].startswith(_label(language, "Shipped on") + ": ")
        assert listed[1].startswith(_label(language, "Refund asked for") + ": ")
        assert not [p for p in listed if PATHS.search(p) or _english_left(p)], listed


@pytest.mark.slow
def test_a_builds_warnings_are_in_the_buyers_language_with_the_buyers_own_words_kept(server: WebServer) -> None:
    """The warnings a build of angry notes and a seller's request gives (a sentence left out and why, the
    request to confirm receipt, the tracking number not looked up) are worded from their kind and values."""
    angry = "THE LAMP ARRIVED SMASHED AND THEY ARE SCAMMERS!!!"
    facts = _relative({**FACTS, "title": "Angry lamp",
                       "dispute": {**FACTS["dispute"], "notes": f"Arrived broken. {angry}",
                                   "seller_reply": "Please confirm receipt first and then we will see."},
                       "facts": {"defect": "трещина на крышке"}},
                      ordered=-30, shipped=-28, delivered=-5, protection_ends=10)
    case_id = _built(server, facts)
    manifest = json.loads((server.workspace / case_id / "evidence-package" / "manifest.json").read_text())
    kinds = {w["kind"] for w in manifest["warnings"]}
    assert {"note_left_out", "seller_asked_to_confirm_receipt", "tracking_not_looked_up", "fact_not_english"} <= kinds, kinds
    for language, accept in LANGUAGES.items():
        page = server.client.get(f"/cases/{case_id}", headers={"accept-language": accept}).text
        warnings = page[page.index('<ul class="warnings">'):]
        warnings = warnings[:warnings.index("</ul>")]
        assert 'lang="en"' not in warnings, (language, warnings)
        catalog = i18n.translations(language)
        import html

        shown = html.unescape(warnings)
        assert angry in shown  # the buyer's sentence as written, inside the translated words
        for msgid in ("insulting or emotional words (%(words)s): describe what happened instead",
                      "written in capitals (reads as shouting): use normal sentence case"):
            said = catalog.gettext(msgid)
            assert said != msgid and said.split("(")[0] in shown, (language, msgid)
        assert catalog.gettext("Tracking number %(number)s was not looked up online, so the package has no "
                               "screenshot of its tracking page.") % {"number": "LP00412345678901"} in shown
        defect = catalog.gettext("What is wrong with it, in short (in English)")
        assert catalog.gettext("“%(field)s” is not in English: it is left out of the English texts. Write it in "
                               "English (an automatic translator is fine).") % {"field": defect} in shown


# One warning of each kind the web app words, with values as the library gives them (model.manifest.Hinted).
WARNING_SAMPLES: dict[str, dict[str, Any]] = {
    "no_photos": {}, "chat_slots_full": {"count": 2, "slots": 3},
    "several_videos": {"count": 2, "name": "unboxing.mp4"}, "tracking_not_looked_up": {"number": "LP00412345678901"},
    "notes_too_long": {"chars": 12345, "used": 4000}, "notes_en_too_long": {"chars": 12345, "used": 4000},
    "notes_not_english": {"count": 3, "total": 4}, "notes_en_not_english": {"count": 1, "total": 4},
    "notes_about_the_seller": {}, "seller_asked_to_confirm_receipt": {}, "no_report_grounds": {},
    "note_left_out": {"sentence": "THEY ARE SCAMMERS!!!", "reasons": [{"kind": "insults", "params": {"words": "scammers"}},
                                                                      {"kind": "shouting", "params": {}}]},
    "seller_reply_not_english": {}, "seller_reply_reported": {},
    "seller_reply_tone": {"reasons": [{"kind": "repeated_marks", "params": {}}]},
    "fact_not_english": {"field": "facts.defect"},
    "left_out_for_length": {"text": "dispute", "limit": 1000, "sentence": "The box was wet."},
    "no_texts_for_stage": {"stage": "appeal_closed"},
    "popup_dismissed": {"said": "Welcome to the tracking site"}, "page_not_loaded": {"seconds": "30"},
    "tracker_events_missing": {"seconds": "30"}, "page_still_loading": {"seconds": "5"},
    "page_too_tall": {"height": 23456, "top": 16000},
    "saved_page_files_outside": {"names": ["../secret.png"]}, "saved_page_network": {"names": ["https://cdn.example/x.js"]},
    "saved_page_navigation": {"names": ["https://other.example/"]},
    "earlier_capture_kept": {"captured": "2026-11-30T10:20:30+00:00"},
    "video_decode_errors": {"count": 7}, "video_black": {"start": "0:01.0", "end": "0:03.5"},
    "video_frozen": {"start": "0:04.0", "end": "0:08.0"}, "video_cut": {"at": "0:12.4"},
    "video_too_short": {"seconds": "1.5"}, "video_too_long": {"length": "1:02:03"}, "video_streams": {"count": 2},
    "video_truncated": {"stops": "0:41.2", "claims": "2:00.0"},
}
# What each sample's words must show, as the current language writes it.
SHOWN = {"chars": lambda: i18n.number(12345), "height": lambda: i18n.number(23456),
         "captured": lambda: i18n.format_day("2026-11-30"), "field": lambda: i18n.gettext(FIELD_LABELS["facts.defect"]),
         "text": lambda: i18n.gettext(TEXT_TITLES["dispute"]), "stage": lambda: i18n.gettext(STAGE_WORDS["appeal_closed"])}


def _worded(language: str) -> dict[str, str | None]:
    i18n.set_language(language)
    try:
        return {kind: warning_text({"kind": kind, "params": params, "message": "the library's English"})
                for kind, params in WARNING_SAMPLES.items()}
    finally:
        i18n.set_language("en")


def test_every_warning_kind_is_worded_in_each_language_with_its_values() -> None:
    assert set(WARNING_SAMPLES) == set(WARNING_WORDS)  # a new kind needs a sample here
    english = _worded("en")
    for language in ("en", *LANGUAGES):
        worded = _worded(language)
        i18n.set_language(language)
        try:
            for kind, params in WARNING_SAMPLES.items():
                said = worded[kind]
                assert said and (language == "en" or said != english[kind]), (language, kind, said)
                for name, value in params.items():
                    if name == "reasons":
                        continue
                    expected = (SHOWN[name]() if name in SHOWN else ", ".join(value) if isinstance(value, list)
                                else i18n.number(value) if isinstance(value, int) and name != "limit" else str(value))
                    assert expected in said, (language, kind, name, said)
        finally:
            i18n.set_language("en")
    # a kind without the values its words need (a hand-edited manifest) is shown as the library wrote it
    assert warning_text({"kind": "video_cut", "params": {}, "message": "x"}) is None
