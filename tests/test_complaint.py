"""Texts, evidence checklist and the texts stage: limits, essentials, fitting, the buyer's notes, golden texts."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_kit.model.case import load_case
from evidence_kit.dispute.checklist import check_evidence
from evidence_kit.cli import main
from evidence_kit.dispute.complaint import (KINDS, REPORT, compose, kinds_for, refund_phrase,
                                           with_tracking_facts)
from evidence_kit.errors import CaseError, LimitError
from evidence_kit.model.manifest import FileRecord, count_chars, verify_package, with_hint
from evidence_kit import api
from evidence_kit.model.options import BuildOptions
from evidence_kit.model.reasons import REASON_RULES, REASONS, RESOLUTIONS

from .conftest import EXAMPLE_CASE

GOLDEN = Path(__file__).parent / "golden"
TODAY = date(2026, 11, 25)
ORDER = "8100000000000001"

BASE_TOML = f"""
[order]
number = "{ORDER}"
store = "Test Store"
item = "Test item"
price = 20.00
currency = "USD"
ordered = 2026-10-01
shipped = 2026-10-03
delivered = 2026-10-30
protection_ends = 2026-12-01

[dispute]
reason = "damaged"
resolution = "refund_only"
seller_contacted = 2026-11-01
notes = "The box was crushed."

[[tracking]]
number = "LP00412345678901"
"""


@pytest.fixture(scope="module")
def base_case(tmp_path_factory):
    root = tmp_path_factory.mktemp("base")
    (root / "case.toml").write_text(BASE_TOML, encoding="utf-8")
    return load_case(root)


def with_facts(case, *, order=None, facts=None, **dispute):
    """A copy of ``case`` with some order, dispute and situation facts changed (tables are pydantic models)."""
    return replace(case, order=case.order.model_copy(update=order or {}),
                   dispute=case.dispute.model_copy(update=dispute), facts=case.facts.model_copy(update=facts or {}))


def record(path: str, role: str = "photo", **info) -> FileRecord:
    return FileRecord(path=path, role=role, bytes=1, sha256="0" * 64, upload=True, info=info)


EXHIBITS = [("A", record("upload/photo-1-IMG_0104.jpg", caption="Crack across the body, seen on arrival")),
            ("B", record("upload/photo-2-IMG_0101.jpg", caption="Crack, close to the handle")),
            ("C", record("upload/photo-3-IMG_0106.jpg")),
            ("D", record("upload/video.mp4", role="video"))]

LONG_ITEM = ("Universal Electric Kettle Stainless Steel 1.7 L 2200 W Fast Boil Auto Shut-Off Boil-Dry Protection "
             "Cordless 360 Degree Base LED Indicator BPA Free for Home Office Travel Kitchen Gift ") * 3
LONG_NOTES = " ".join(f"On day {i} I measured the crack at {i * 2} millimetres." for i in range(40))


def problem_variants(reason: str) -> list[str]:
    from evidence_kit.dispute.complaint import _template

    return [v.split("{")[0] for v in _template("reasons")[reason]["problem"]]


@pytest.mark.parametrize("resolution", sorted(RESOLUTIONS))
@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reason_and_resolution_fits_with_its_essentials(base_case, reason, resolution):
    case = with_facts(base_case, order={"item": LONG_ITEM}, reason=reason, resolution=resolution, notes=LONG_NOTES,
                      amount=Decimal("12.50"), seller_reply="They offered 2 dollars.")
    for kind in KINDS:
        text, _ = compose(case, kind, today=TODAY, lettered=EXHIBITS)
        assert count_chars(text.text) <= case.profile.max_text_chars, kind
        assert ORDER in text.text and "a partial refund of USD 12.50" in text.text
        assert any(start and start in text.text for start in problem_variants(reason)), (kind, text.text)
        assert text.text[-1] in ".?", text.text
        assert "notes.40" in text.dropped  # 3000 characters of notes cannot all fit


def test_short_texts_keep_everything_and_name_exhibits(base_case):
    text, warnings = compose(base_case, "dispute", today=TODAY, lettered=EXHIBITS)
    assert not text.dropped and not warnings
    assert "A) photo-1-IMG_0104.jpg, crack across the body, seen on arrival" in text.text
    assert "C) photo-3-IMG_0106.jpg; D) video.mp4, unboxing video." in text.text
    # The first date in a text is written in full, the later ones of the same year without it.
    assert "arrived damaged on 30 October 2026." in text.text
    assert "I contacted the seller on 1 November, but we could not resolve the problem." in text.text


def test_fitting_drops_notes_before_shortening_evidence(base_case):
    case = with_facts(base_case, notes="The lid does not close. The handle is loose. The cord is short.")
    full, _ = compose(case, "dispute", today=TODAY, lettered=EXHIBITS)
    tight = replace(case, profile=replace(case.profile, max_text_chars=full.chars - 30))
    text, _ = compose(tight, "dispute", today=TODAY, lettered=EXHIBITS)
    assert text.chars <= full.chars - 30
    assert "thanks" in text.dropped and "evidence" not in text.shortened
    very_tight = replace(case, profile=replace(case.profile, max_text_chars=260))
    text, _ = compose(very_tight, "dispute", today=TODAY, lettered=EXHIBITS)
    assert text.chars <= 260 and ORDER in text.text and "I request a full refund of USD 20.00" in text.text
    assert "The item" in text.text  # the problem stays, shortened if need be


def test_a_limit_too_small_for_the_essentials_is_a_clear_error(base_case):
    tiny = replace(base_case, profile=replace(base_case.profile, max_text_chars=60))
    with pytest.raises(LimitError, match=r"the dispute text needs \d+ characters even in its shortest form.*limit is 60"):
        compose(tiny, "dispute", today=TODAY)


def test_refund_phrases(base_case):
    assert refund_phrase(base_case) == "a full refund of USD 20.00"
    assert refund_phrase(with_facts(base_case, amount=Decimal("20"))) == "a full refund of USD 20.00"
    assert refund_phrase(with_facts(base_case, amount=Decimal("7.5"))) == "a partial refund of USD 7.50"
    assert refund_phrase(with_facts(base_case, order={"price": None})) == "a full refund"


def test_non_english_notes_are_kept_out_with_a_warning(base_case):
    notes = "Посылка пришла разбитой, чайник течёт.\nEl hervidor llegó roto y no funciona.\nThe lid is cracked."
    text, warnings = compose(with_facts(base_case, notes=notes), "dispute", today=TODAY)
    assert "The lid is cracked." in text.text
    assert "Посылка" not in text.text and "hervidor" not in text.text
    warned = [w for w in warnings if "2 of 3 sentences of your notes are not in English (detected: russian, "
              "spanish)" in w]
    # The words say what happened (PDF, web page); what to change in case.toml is the command line's hint only.
    assert warned and "summary PDF" in warned[0] and "notes_en" not in warned[0]
    assert "Add notes_en in [dispute]" in with_hint(warned[0])


def test_insults_and_shouting_are_flagged_with_a_suggestion(base_case):
    notes = "THIS SELLER IS A SCAMMER!!! The seller is a liar. The kettle leaks from the base."
    text, warnings = compose(with_facts(base_case, notes=notes), "seller", today=TODAY)
    assert "The kettle leaks from the base." in text.text
    assert "SCAMMER" not in text.text and "liar" not in text.text
    joined = " ".join(warnings)
    assert "scammer" in joined and "shouting" in joined and 'repeated "!"' in joined and "liar" in joined
    assert "describe what happened instead" in joined


def test_chinese_store_name_is_kept_and_text_is_clean(base_case):
    case = with_facts(base_case, order={"store": "阳光家居 Sunny Home", "item": "Cafe\u0301 kettle\x07\n 2 L"},
                      notes="It\tleaks\x00 when   filled.")
    text, _ = compose(case, "dispute", today=TODAY)
    assert "from 阳光家居 Sunny Home." in text.text
    assert '"Café kettle 2 L"' in text.text and "It leaks when filled." in text.text
    assert unicodedata.is_normalized("NFC", text.text)
    assert all(ch.isprintable() for ch in text.text)  # the dispute text is one paragraph


def test_characters_are_counted_as_the_form_counts_them(base_case):
    """UTF-16 code units with CRLF line ends (a browser's maxlength): a line end is two, an emoji two."""
    text, _ = compose(base_case, "seller", today=TODAY)
    assert text.text.startswith("Hello,\n\nI am writing again about my order") and text.text.endswith("\n\nThank you.")
    assert text.chars == len(text.text) + text.text.count("\n")
    assert count_chars("a\nb") == count_chars("a\r\nb") == 4 and count_chars("box 📦") == 6
    assert count_chars("Cafe\u0301") == 4  # NFC: one character for e and its accent


def test_no_false_claim_of_contacting_the_seller(base_case):
    text, _ = compose(with_facts(base_case, seller_contacted=None), "dispute", today=TODAY)
    assert "contacted the seller" not in text.text


hostile_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=hostile_text, notes=hostile_text, reply=st.text(max_size=120), fact=hostile_text,
       limit=st.integers(150, 1000), kind=st.sampled_from(KINDS), reason=st.sampled_from(sorted(REASONS)),
       amount=st.one_of(st.none(), st.decimals(min_value=0, max_value=20, places=2)),
       times=st.one_of(st.none(), st.integers(1, 40)), asked=st.booleans())
def test_property_any_facts_give_a_whole_text_within_the_limit(base_case, item, notes, reply, fact, limit, kind,
                                                               reason, amount, times, asked):
    facts = {"defect": fact, "missing": fact, "listing_said": fact, "received": fact, "received_size": fact,
             "ordered_size": fact, "delivered_to": fact, "tracking_last_status": fact, "times_asked_to_wait": times,
             "tracking_last_update": date(2026, 10, 10), "seller_asked_to_confirm_receipt": asked,
             "seller_asked_to_wait_until": date(2026, 11, 20) if times else None}
    case = with_facts(base_case, order={"item": item}, reason=reason, notes=notes, seller_reply=reply, amount=amount,
                      facts=facts)
    kind = REPORT if asked and kind == "appeal" and REPORT in kinds_for(case, TODAY) else kind
    case = replace(case, profile=replace(case.profile, max_text_chars=limit))
    try:
        text, _ = compose(case, kind, today=TODAY, lettered=EXHIBITS)
    except LimitError as exc:
        assert "even in its shortest form" in exc.message
        return
    assert count_chars(text.text) <= limit
    assert ORDER in text.text and text.text[-1] in '.?!"…)\'”’'  # ends a sentence, never mid-word
    assert unicodedata.is_normalized("NFC", text.text)
    assert all(ch.isprintable() or ch == "\n" for ch in text.text)
    if kind != "seller":  # only the seller message has paragraphs (greeting, body, thanks)
        assert "\n" not in text.text


def test_checklist_gaps_in_plain_words(make_case):
    not_received = load_case(make_case(BASE_TOML.replace('reason = "damaged"', 'reason = "not_received"')
                                       .replace("delivered = 2026-10-30\n", "")
                                       .replace('seller_contacted = 2026-11-01\n', ""), name="nr"))
    messages = [g.message for g in check_evidence(not_received).gaps]
    assert "not received: no tracking screenshot showing the parcel never reached your city" in messages
    assert "not received: no screenshot of the chat asking the seller to extend buyer protection" in messages
    assert any("no record that you contacted the seller first" in m for m in messages)

    damaged_root = make_case(BASE_TOML, name="dm")
    damaged = check_evidence(load_case(damaged_root))
    assert "damaged: no unboxing video (ideally filmed from the unopened parcel)" in [g.message for g in damaged.gaps]
    assert not damaged.complete
    (damaged_root / "video").mkdir()
    (damaged_root / "video" / "unboxing.mp4").write_bytes(b"\0" * 10)
    (damaged_root / "photos" / "a.jpg").write_bytes(b"\0" * 10)
    on_disk = check_evidence(load_case(damaged_root))
    assert on_disk.complete and on_disk.present["video"] == ["video/unboxing.mp4"]
    # Once built, only what was written counts: a video that failed to convert leaves the gap open.
    built = check_evidence(load_case(damaged_root), [record("upload/photo-1-a.jpg")])
    assert [g.kind for g in built.gaps if g.required] == ["video"]


def test_refund_only_is_the_default_when_the_parcel_never_came(make_case):
    for reason, rule in REASON_RULES.items():
        toml = BASE_TOML.replace('reason = "damaged"', f'reason = "{reason}"').replace('resolution = "refund_only"\n', "")
        if rule.parcel_arrived:
            with pytest.raises(CaseError, match="dispute.resolution: missing"):
                load_case(make_case(toml, name=f"r-{reason}"))
        else:
            assert load_case(make_case(toml, name=f"r-{reason}")).dispute.resolution == "refund_only"
    returned = BASE_TOML.replace('reason = "damaged"', 'reason = "not_received"').replace(
        '"refund_only"', '"return_and_refund"')
    gaps = check_evidence(load_case(make_case(returned, name="ret"))).gaps
    assert any('choose "refund only" when the parcel never came' in g.message for g in gaps)


KETTLE_TOML = """
[order]
number = "8204417765390127"
store = "Sunny Home Appliance Store 阳光家居"
item = "Electric kettle 1.7 L, stainless steel, 2200 W"
price = 34.90
currency = "USD"
ordered = 2026-10-20
shipped = 2026-10-22
delivered = 2026-11-18
protection_ends = 2026-12-20

[dispute]
reason = "damaged"
resolution = "refund_only"
amount = 34.90
seller_contacted = 2026-11-18
seller_reply = "Asked me to confirm receipt first, then open a dispute."
notes = \"\"\"
The parcel arrived on 18 November. I filmed the unboxing from the sealed parcel.
The body of the kettle has a long crack on the left side and it leaks when filled.
\"\"\"
"""


@pytest.fixture(scope="module")
def kettle_case(tmp_path_factory):
    """The example case's facts, kept here so that golden texts do not move when the example does."""
    root = tmp_path_factory.mktemp("kettle")
    (root / "case.toml").write_text(KETTLE_TOML, encoding="utf-8")
    return load_case(root)


# Representative cases for the tests below (the golden set itself: tests/golden/cases.toml).
NOT_ARRIVED = {"delivered": None, "store": "Best Audio Store", "item": "Wireless earbuds, black",
               "price": Decimal("12.50"), "currency": "EUR"}
GOLDEN_CASES = {
    "kettle-damaged": (dict(), EXHIBITS),
    # Russian notes, no notes_en: the facts carry the case in English.
    "not-received-ru": (dict(order=NOT_ARRIVED, reason="not_received", seller_reply="", amount=None,
                             seller_contacted=date(2026, 10, 25),
                             notes="Посылка так и не пришла. Трек не обновляется с 10 октября, продавец трижды "
                                   "просил подождать.",
                             facts={"tracking_last_update": date(2026, 10, 10),
                                    "tracking_last_status": "Departed from the sorting centre, Shenzhen",
                                    "times_asked_to_wait": 3, "seller_asked_to_wait_until": date(2026, 11, 20)}),
                        [("A", record("upload/photo-1-tracking-LP00412345678901.jpg", kind="tracking")),
                         ("B", record("upload/photo-2-chat.jpg", caption="Chat asking the seller to extend protection"))]),
    "wrong-size-appeal": (dict(order={"item": "Winter jacket", "price": Decimal("29.99"),
                                      "store": "深圳服装 Fashion Store"},
                               reason="wrong_size", resolution="return_and_refund", amount=Decimal("15.00"),
                               seller_reply="They said the size chart was correct.", opened=date(2026, 11, 3),
                               escalated_closed=date(2026, 11, 22),
                               notes="The label says S. This seller is a total scam!!!",
                               facts={"ordered_size": "L", "received_size": "S"}),
                          [("A", record("upload/photo-1-label.jpg", caption="The size label shows S")),
                           ("B", record("upload/photo-2-measure.jpg", caption="Chest width 48 cm against a tape"))]),
    # Spanish notes with the buyer's English version in notes_en; the seller offered too little.
    "defective-notes-en": (dict(order={"item": "Electric kettle 1.7 L", "store": "Casa Hogar Store"},
                                reason="defective", seller_reply="",
                                notes="La luz se enciende, pero el agua sigue fría después de diez minutos. Llegó el "
                                      "30 de octubre.",
                                notes_en="The power light comes on, but the water is still cold after ten minutes. It "
                                         "arrived on 30 October.",
                                facts={"defect": "the water does not heat", "seller_offered": Decimal("3.00")}),
                           [("A", record("upload/photo-1-light.jpg", caption="Power light on after ten minutes")),
                            ("B", record("upload/video.mp4", role="video"))]),
    "incomplete-return": (dict(order={"item": "Cordless drill set"}, reason="incomplete",
                               resolution="return_and_refund", amount=Decimal("8.00"),
                               seller_reply="The seller offered a coupon for the next order.",
                               notes="I opened the box on the day it came. The manual lists both as part of the set.",
                               facts={"missing": "the battery charger and the second battery"}),
                          [("A", record("upload/photo-1-contents.jpg", caption="Everything that was in the box"))]),
    "delivered-elsewhere": (dict(order=NOT_ARRIVED, reason="delivered_elsewhere", seller_reply="", amount=None,
                                 notes="I live in Bordeaux. No courier has called or come to my address.",
                                 facts={"delivered_to": "Lyon", "distance_km": 550}),
                            [("A", record("upload/photo-1-tracking-LP00412345678901.jpg", kind="tracking")),
                             ("B", record("upload/photo-2-map.jpg", caption="Map: 550 km from Bordeaux to Lyon"))]),
    # A fake tracking number and a request to confirm receipt before delivery: the report is written too.
    "invalid-tracking-report": (dict(order=NOT_ARRIVED, reason="invalid_tracking", amount=None,
                                     seller_reply="Asked me to confirm receipt, and said the parcel is on its way.",
                                     notes="", facts={"seller_asked_to_confirm_receipt": True}),
                                [("A", record("upload/photo-1-17track.jpg", kind="tracking")),
                                 ("B", record("upload/photo-2-chat.jpg", caption="Chat where the seller asks me to "
                                                                               "confirm receipt"))]),
    "customs-promised": (dict(order=NOT_ARRIVED, reason="customs", amount=None, seller_reply="",
                              notes="Customs in Frankfurt sent me a letter asking for the fee.",
                              facts={"customs_fee": Decimal("18.40"), "customs_promised_in": "listing",
                                     "tracking_last_update": date(2026, 11, 12),
                                     "tracking_last_status": "Held by customs"}),
                         [("A", record("upload/photo-1-listing.jpg", caption="Item description: customs fees "
                                                                            "paid by the seller"))]),
}


def golden_case(base_case, kettle_case, name):
    facts, lettered = GOLDEN_CASES[name]
    return (kettle_case if name == "kettle-damaged" else with_facts(base_case, **facts)), lettered


@pytest.fixture(scope="module")
def built_example(tmp_path_factory):
    root = tmp_path_factory.mktemp("built") / "kettle"
    shutil.copytree(EXAMPLE_CASE, root, ignore=shutil.ignore_patterns("evidence-package*", ".ek-tmp-*"))
    return api.build(root, options=BuildOptions(today=TODAY), reuse_unchanged=False).result


@pytest.mark.slow
def test_build_writes_the_texts_deadlines_and_checklist(built_example):
    package, manifest = built_example.package, built_example.manifest
    texts = {r.info["kind"]: r for r in manifest.outputs if r.role == "complaint"}
    assert set(texts) == {"seller", "dispute"}  # talking to the seller: no appeal before a decision
    assert texts["dispute"].path == "upload/dispute.txt" and texts["dispute"].upload
    assert texts["seller"].path == "texts/seller-message.txt" and not texts["seller"].upload
    assert manifest.sections["deadlines"]["stage"]["key"] == "talking_to_seller"
    for rec in texts.values():
        written = (package / rec.path).read_text(encoding="utf-8")
        assert count_chars(written) == rec.info["chars"] <= manifest.profile.max_text_chars
        assert "8204417765390127" in written
    dispute = (package / "upload/dispute.txt").read_text(encoding="utf-8")
    assert "A) photo-1-IMG_0104.jpg, crack across the body, seen on arrival" in dispute
    data = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert data["deadlines"]["status"] == "open_now" and data["deadlines"]["negotiation_days"] == 15
    assert data["checklist"]["reason"] == "damaged" and data["texts"]["dispute"]["path"] == "upload/dispute.txt"
    # The notes sentence that only repeats the delivery date is left out, and the manifest says so.
    assert data["texts"]["dispute"]["repeated_notes_left_out"] == ["The parcel arrived on 18 November."]
    assert "The parcel arrived on 18 November." not in dispute and "in short" not in dispute
    assert any("Do not confirm receipt" in w["message"] for w in data["warnings"])
    assert verify_package(package).ok


def test_verify_catches_a_dispute_text_made_too_long(built_example, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(built_example.package, package)
    manifest_path = package / "manifest.json"
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    text = package / "upload/dispute.txt"
    text.write_text("x" * 1001, encoding="utf-8")
    from evidence_kit.fsutil import sha256_file

    for rec in data["outputs"]:  # records fixed up to match: the limit check catches it (the manifest's hash too)
        if rec["path"] == "upload/dispute.txt":
            rec["bytes"], rec["sha256"] = text.stat().st_size, sha256_file(text)
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    report = verify_package(package)
    assert "upload/dispute.txt: 1001 characters is over the text limit of 1000" in map(str, report.problems)


def test_build_with_a_tiny_text_limit_fails_only_the_texts(make_case):
    # The smallest limit a profile allows (250, issue 24), with an order number too long for even the shortest text.
    root = make_case(BASE_TOML.replace(ORDER, "8" * 300) + '\n[profile]\nname = "aliexpress"\nmax_text_chars = 250\n',
                     name="tiny")
    result = api.build(root, options=BuildOptions(today=TODAY), reuse_unchanged=False).result
    assert not any(r.role == "complaint" for r in result.manifest.outputs)
    # Talking to the seller: the message to the seller and the dispute description (no appeal before a decision).
    assert {e.path for e in result.manifest.errors} == {"upload/dispute.txt", "texts/seller-message.txt"}
    assert all("limit is 250" in e.message for e in result.manifest.errors)
    assert int(result.exit_code) == 1 and not (result.package / "upload" / "dispute.txt").exists()
    assert "deadlines" in result.manifest.sections and "checklist" in result.manifest.sections


def test_complaint_command(make_case, capsys):
    root = make_case(BASE_TOML.replace('notes = "The box was crushed."', 'notes = "Caja rota, no funciona nada."'))
    assert main(["complaint", str(root), "--kind", "dispute", "--today", "2026-11-25"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"This dispute concerns order {ORDER}") and "Caja" not in captured.out
    assert "dispute: " in captured.err and "/1000 characters" in captured.err and "spanish" in captured.err
    assert main(["complaint", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["kind"] for t in data["texts"]] == ["seller", "dispute"]
    assert all(t["chars"] <= 1000 for t in data["texts"])
    assert data["stage"]["key"] == "talking_to_seller" and data["stage"]["binding"]["key"] == "last_open"
    # The smallest limit a profile allows (250), with an order number too long for even the shortest text.
    tiny = make_case(BASE_TOML.replace(ORDER, "8" * 300) + '\n[profile]\nname = "aliexpress"\nmax_text_chars = 250\n',
                     name="tiny")
    assert main(["complaint", str(tiny)]) == 5
    assert "error: the seller text needs" in capsys.readouterr().err


def test_build_command_prints_the_deadline_advice_and_negotiation_value(make_case, capsys):
    root = make_case(BASE_TOML, name="cli-build")
    main(["build", str(root)])
    out = capsys.readouterr().out
    assert "Deadlines: " in out and "Negotiation before escalation: 15 days" in out
    assert "upload/dispute.txt" in out


# --- writing quality, checked on every golden text with a reading of its own (not the composer's) -------

_MONTH_NAMES = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE_IN_TEXT = re.compile(rf"\b(\d{{1,2}}) ({_MONTH_NAMES})(?: (\d{{4}}))?")
# What a sentence dates, by the words around the date.
_EVENT_OF = {"delivery": r"arriv|deliver", "shipment": r"shipped", "contact": r"contacted", "tracking": r"tracking",
             "waiting": r"wait", "closing": r"closed", "plan": r"open a dispute"}


def golden_texts():
    for path in sorted(GOLDEN.glob("*.txt")):
        yield path.name, path.read_text(encoding="utf-8")


def split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+(?=[A-Z])", text.replace("\n", " ")) if s.strip()]


def test_no_two_sentences_state_the_same_date_for_the_same_event():
    for name, text in golden_texts():
        seen: dict[tuple[str, str], str] = {}
        for sentence in split_sentences(text):
            for day, month, _ in _DATE_IN_TEXT.findall(sentence):
                for event, words in _EVENT_OF.items():
                    if re.search(words, sentence, re.IGNORECASE):
                        key = (event, f"{day} {month}")
                        assert key not in seen, f"{name}: {key} in {seen.get(key)!r} and {sentence!r}"
                        seen[key] = sentence


def test_dates_are_written_in_full_once_then_short():
    for name, text in golden_texts():
        found = _DATE_IN_TEXT.findall(text)
        if found:
            assert found[0][2], f"{name}: the first date has no year"
            assert all(year in ("", found[0][2]) for _, _, year in found[1:]) and \
                not any(year for _, _, year in found[1:] if year == found[0][2]), f"{name}: a year written twice"


def test_the_request_is_stated_once_and_the_seller_is_never_promised_a_confirmation():
    for name, text in golden_texts():
        asks = len(re.findall(r"\b(I request|please send me [^.?]*refund|agree to [^.?]*refund|grant\b|"
                              r"I will open a dispute and ask for|"
                              r"Please review)", text, re.IGNORECASE))
        assert asks == 1, f"{name}: {asks} requests"
        if name.endswith("-seller.txt"):
            assert "confirm" not in text.lower(), name


def test_sentence_openings_vary():
    """The buyer's notes may start like the sentence before them, but never three sentences in a row alike."""
    for name, text in golden_texts():
        openings = [s.split()[0] for s in split_sentences(text)]
        assert all(len({a, b, c}) > 1 for a, b, c in zip(openings, openings[1:], openings[2:])), (name, openings)


def test_kettle_reads_without_repeats_and_reports_the_seller_reply():
    dispute = (GOLDEN / "kettle-damaged-dispute.txt").read_text(encoding="utf-8")
    assert "The parcel arrived on 18 November." not in dispute and "in short" not in dispute
    assert "When I contacted the seller on 18 November, they asked me to confirm receipt first and then open a " \
           "dispute." in dispute


def test_a_notes_sentence_that_only_repeats_a_fact_is_dropped_and_recorded(kettle_case):
    text, _ = compose(kettle_case, "dispute", today=TODAY, lettered=EXHIBITS)
    assert text.repeated == ["The parcel arrived on 18 November."]
    assert text.to_dict()["repeated_notes_left_out"] == text.repeated
    # The same day with something new in the sentence is colour, not a repeat.
    notes = "The parcel arrived on 18 November and the box was torn open."
    text, _ = compose(with_facts(kettle_case, notes=notes), "dispute", today=TODAY)
    assert notes in text.text and not text.repeated


def test_the_defect_said_again_with_a_digit_and_another_light_verb_is_a_repeat(kettle_case):
    case = with_facts(kettle_case, facts={"defect": "stops heating after about two minutes and becomes very hot"},
                      notes="Kettle stops heating after 2 minutes and gets very hot. I tried three sockets.")
    text, _ = compose(case, "dispute", today=TODAY)
    assert text.repeated == ["Kettle stops heating after 2 minutes and gets very hot."]
    assert "I tried three sockets." in text.text and text.text.count("very hot") == 1


def test_russian_notes_with_facts_keep_the_facts_that_win_a_non_delivery_case(base_case):
    case, lettered = golden_case(base_case, base_case, "not-received-ru")
    text, warnings = compose(case, "dispute", today=TODAY, lettered=lettered)
    assert "Tracking has shown no movement since 10 October" in text.text
    assert "they have asked me to wait three times, most recently until 20 November" in text.text
    assert "Посылка" not in text.text
    assert any("Add notes_en in [dispute]" in with_hint(w) and "side by side" in with_hint(w) for w in warnings)


def test_notes_en_replaces_notes_in_the_texts(base_case):
    case = with_facts(base_case, notes="Посылка пришла разбитой.", notes_en="The parcel arrived crushed.")
    text, warnings = compose(case, "dispute", today=TODAY)
    assert "The parcel arrived crushed." in text.text and "Посылка" not in text.text
    assert not any("not in English" in w for w in warnings)


def test_a_reply_that_cannot_be_reported_is_quoted(base_case):
    text, _ = compose(with_facts(base_case, seller_reply="The size chart is correct."), "dispute", today=TODAY)
    assert 'When I contacted the seller on 1 November, they replied: "The size chart is correct".' in text.text


@pytest.mark.parametrize("reply", ["Please confirm receipt and I will refund you.",
                                   "Продавец просит подтвердить получение заказа."])
def test_a_request_to_confirm_receipt_is_warned_about_in_english_or_russian(base_case, reply):
    case = with_facts(base_case, seller_reply=reply)
    _, warnings = compose(case, "seller", today=TODAY)
    assert any("Do not confirm receipt of this order" in w for w in warnings)
    for kind in KINDS:
        text, _ = compose(case, kind, today=TODAY)
        assert "I will confirm" not in text.text


def test_report_against_the_seller_only_when_the_facts_support_it(base_case):
    assert kinds_for(base_case, TODAY) == ("seller", "dispute")
    with pytest.raises(ValueError, match="no Trade Rules violation"):
        compose(base_case, "report", today=TODAY)
    arrived_but_asked = with_facts(base_case, facts={"seller_asked_to_confirm_receipt": True})
    assert kinds_for(arrived_but_asked, TODAY) == ("seller", "dispute")  # bad advice, not a Trade Rules case
    pressed = with_facts(base_case, order={"delivered": None}, reason="not_received",
                         facts={"seller_asked_to_confirm_receipt": True})
    assert kinds_for(pressed, TODAY) == ("seller", "dispute", "report")
    text, _ = compose(pressed, "report", today=TODAY, lettered=GOLDEN_CASES["invalid-tracking-report"][1])
    assert "asked me to confirm receipt of the order although the parcel has not been delivered" in text.text
    assert "B) photo-2-chat.jpg" in text.text and "A) photo-1-17track.jpg" not in text.text  # only what it rests on
    assert text.chars <= 1000


def test_the_seller_message_asks_for_an_extension_and_says_when_the_dispute_comes(base_case):
    case = with_facts(base_case, order={"delivered": None}, reason="not_received")
    text, _ = compose(case, "seller", today=TODAY)
    assert "extend the buyer protection until it arrives?" in text.text
    assert "If it has not arrived by 26 November, I will open a dispute and ask for a full refund of USD 20.00." \
        in text.text  # 5 days before protection ends on 1 December (the start of the best window)


def test_tracking_events_fill_the_last_update_unless_case_toml_gives_it(base_case):
    case = with_facts(base_case, order={"delivered": None}, reason="not_received")
    events = [("2026-10-05 09:00", "Accepted"), ("10.10.2026 14:30", "Departed from the sorting centre"),
              ("not a time", "ignored")]
    filled, names = with_tracking_facts(case, events)
    assert names == ["tracking_last_status", "tracking_last_update"]
    assert filled.facts.tracking_last_update == date(2026, 10, 10)
    text, _ = compose(filled, "dispute", today=TODAY)
    assert 'since 10 October, when the last status was "Departed from the sorting centre".' in text.text
    given = with_facts(case, facts={"tracking_last_update": date(2026, 10, 20)})
    assert with_tracking_facts(given, events) == (given, [])
    assert with_tracking_facts(base_case, events) == (base_case, [])  # a damaged kettle: not a tracking fact


def test_a_fact_not_in_english_is_left_out_with_a_warning(base_case):
    case = with_facts(base_case, facts={"defect": "трещина на корпусе"})
    text, warnings = compose(case, "dispute", today=TODAY)
    assert "трещина" not in text.text and any("The defect you gave is not in English" in w for w in warnings)


def test_summary_shows_notes_beside_notes_en_and_the_confirm_receipt_advice(make_case, tmp_path):
    from evidence_kit.model.manifest import Manifest
    from evidence_kit.report.summary import SUMMARY_NAME, render_summary

    toml = BASE_TOML.replace('notes = "The box was crushed."', 'notes = "Коробка была смята."\n'
                             'notes_en = "The box was crushed."\nseller_reply = "Asked me to confirm receipt first."')
    case = load_case(make_case(toml, name="pdf"))
    result = render_summary(case, Manifest(profile=case.profile), tmp_path, tmp_path / SUMMARY_NAME, today=TODAY)
    text = subprocess.run(["pdftotext", "-layout", str(result.path), "-"], capture_output=True, text=True,
                          check=True).stdout
    row = next(line for line in text.splitlines() if "Коробка была смята." in line)
    assert "The box was crushed." in row  # the two versions side by side, on one line
    assert "As written" in text and "In English" in text
    assert "Do not confirm receipt while the problem is not solved" in " ".join(text.split())


def test_texts_stage_fills_the_last_tracking_update_from_the_events_file(make_case, tmp_path):
    """The stage itself, run on a case whose tracking.csv the buyer typed in (no browser needed for this)."""
    from evidence_kit.model.manifest import Manifest
    from evidence_kit.stage import StageContext
    from evidence_kit.stages import texts as texts_stage
    from evidence_kit.tools import preflight

    toml = (BASE_TOML.replace('reason = "damaged"', 'reason = "not_received"').replace("delivered = 2026-10-30\n", "")
            .replace('notes = "The box was crushed."', 'notes = "Tracking stopped on 12 October."'))
    root = make_case(toml, name="events")
    (root / "tracking").mkdir()
    (root / "tracking" / "tracking.csv").write_text(
        "time,place,status\n2026-10-05 09:00,Shenzhen,Accepted by carrier\n"
        "2026-10-12 18:40,Shenzhen,Departed from the sorting centre\n", encoding="utf-8")
    case = load_case(root)
    staging = tmp_path / "staging"
    staging.mkdir()
    ctx = StageContext(case, staging, BuildOptions(today=TODAY), Manifest(profile=case.profile), preflight([]))
    texts_stage.run(ctx)
    dispute = (staging / "upload" / "dispute.txt").read_text(encoding="utf-8")
    assert 'Tracking has shown no movement since 12 October, when the last status was "Departed from the sorting ' \
           'centre".' in dispute
    assert "Tracking stopped on 12 October." not in dispute  # the buyer's note only repeated it
    record = next(r for r in ctx.ledger.outputs if r.info.get("kind") == "dispute")
    assert record.info["facts_from_tracking_events"] == ["tracking_last_status", "tracking_last_update"]
    assert record.info["repeated_notes_left_out"] == ["Tracking stopped on 12 October."]


def test_what_the_buyer_and_the_mediator_read_names_no_source_article(make_case, tmp_path):
    """The PDF's deadline box and checklist: plain words, no "seed", no "(002)", no configuration hint."""
    from evidence_kit.dispute.deadlines import compute_deadlines
    from evidence_kit.model.manifest import Manifest
    from evidence_kit.report.summary import SUMMARY_NAME, SummaryInputs, render_summary

    toml = (BASE_TOML.replace('reason = "damaged"', 'reason = "delivered_elsewhere"')
            .replace("delivered = 2026-10-30\n", "").replace('"refund_only"', '"return_and_refund"'))
    case = load_case(make_case(toml, name="plain"))
    checklist = check_evidence(case)
    assert checklist.caveat and "(00" not in checklist.caveat and checklist.to_dict()["source"] == "001, 002"
    assert all("(00" not in g.message for g in checklist.gaps)
    results = SummaryInputs(deadlines=compute_deadlines(case, TODAY), checklist=checklist)
    out = render_summary(case, Manifest(profile=case.profile), tmp_path, tmp_path / SUMMARY_NAME, results=results,
                         today=TODAY).path
    text = " ".join(subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True)
                    .stdout.split())
    assert "The seller usually has 15 days to answer; some buyers report 3 to 5 days." in text
    for word in ("seed", "(000", "(001", "(002", "(004", "articles disagree", "negotiation_days"):
        assert word not in text, word


def test_complaint_command_writes_the_report_only_with_grounds(make_case, capsys):
    root = make_case(BASE_TOML, name="no-grounds")
    assert main(["complaint", str(root), "--kind", "report", "--today", "2026-11-25"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no report against the seller" in captured.err
    pressed = BASE_TOML.replace('notes = "The box was crushed."', 'notes = ""\n\n[facts]\n'
                                'seller_asked_to_cancel_dispute = true')
    assert main(["complaint", str(make_case(pressed, name="grounds")), "--today", "2026-11-25"]) == 0
    out = capsys.readouterr().out
    assert "== report (" in out and "The seller asked me to cancel my dispute instead of resolving the problem." in out


def test_what_the_seller_did_is_reported_in_one_sentence(base_case):
    case = with_facts(base_case, order={"delivered": None}, reason="not_received", seller_reply="Wait please.",
                      facts={"seller_offered": "replacement", "seller_extended_protection_to": date(2026, 12, 15),
                             "times_asked_to_wait": 12})
    text, _ = compose(case, "dispute", today=TODAY)
    assert ("When I contacted the seller on 1 November, they offered to send a replacement and extended the "
            "buyer protection to 15 December. Since then, they have also asked me to wait 12 times.") in text.text
    assert "Wait please" not in text.text  # the facts say it; the reply stays in the PDF


@pytest.mark.parametrize("limit", [600, 500, 420])
def test_under_a_tight_limit_the_facts_that_win_stay_and_room_is_given_back(base_case, limit):
    case, lettered = golden_case(base_case, base_case, "not-received-ru")
    case = replace(case, profile=replace(case.profile, max_text_chars=limit))
    text, _ = compose(case, "dispute", today=TODAY, lettered=lettered)
    assert text.chars <= limit and "asked me to wait three times, most recently until 20 November" in text.text
    assert "Tracking has shown no movement since 10 October" in text.text
    if limit == 600:  # the evidence list lost only its captions: the shortest form would leave room unused
        assert "Evidence attached: A) photo-1-tracking-LP00412345678901.jpg; B) photo-2-chat.jpg." in text.text


def test_complaint_command_reads_the_tracking_events_as_the_build_does(make_case, capsys):
    toml = BASE_TOML.replace('reason = "damaged"', 'reason = "not_received"').replace("delivered = 2026-10-30\n", "")
    root = make_case(toml, name="cli-events")
    (root / "tracking").mkdir()
    (root / "tracking" / "events.json").write_text(
        '[{"time": "2026-10-09 08:00", "place": "Shenzhen", "status": "Arrived at the sorting centre"}]',
        encoding="utf-8")
    assert main(["complaint", str(root), "--kind", "dispute", "--today", "2026-11-25"]) == 0
    assert 'since 9 October, when the last status was "Arrived at the sorting centre".' in capsys.readouterr().out


# --- issue 22: notes as material, the seller's words as facts, honest evidence, limits, plain words --------

ANGRY = ("are you kidding me??? i paid for this and i got NOTHING. the seller is a liar and a thief. "
         "the lid doesn't close. The seller never answered my second message.")


def test_notes_are_judged_cleaned_and_left_out_with_a_warning_each(base_case):
    case = with_facts(base_case, notes=ANGRY)
    dispute, warnings = compose(case, "dispute", today=TODAY)
    assert "The lid does not close." in dispute.text  # capital, contraction spelled out
    for raw in ("kidding", "NOTHING", "liar", "thief", "???"):
        assert raw not in dispute.text, raw
    for sentence in ("are you kidding me???", "i paid for this and i got NOTHING.",
                     "the seller is a liar and a thief."):
        assert any(f'"{sentence}" is left out of the texts' in w and "[facts]" not in w
                   and "notes_en" in with_hint(w) and "[facts]" in with_hint(w) for w in warnings), sentence
    assert "The seller never answered my second message." in dispute.text  # third person is right for the platform
    seller, _ = compose(case, "seller", today=TODAY)
    assert "The seller never answered" not in seller.text and "The lid does not close." in seller.text
    assert {"sentence": "The seller never answered my second message.",
            "why": "speaks of the seller in the third person: left out of the message to the seller only"} \
        in seller.notes_left_out
    assert len(dispute.notes_left_out) == 3  # every sentence left out is recorded, nothing is lost


def test_a_notes_sentence_that_a_fact_states_is_dropped_by_content(base_case):
    case = with_facts(base_case, reason="wrong_colour", order={"item": "Hoodie, navy blue, size M"},
                      notes="I got a black hoodie. The hoodie they sent is black, not navy. The stitching is loose.",
                      facts={"listing_said": "navy blue", "received": "black"})
    text, _ = compose(case, "dispute", today=TODAY)
    assert '"Hoodie, navy blue, size M" in navy blue' not in text.text  # not the colour twice in one sentence
    assert "I ordered the item in navy blue, but the one delivered on 30 October 2026 is black." in text.text
    assert "The stitching is loose." in text.text
    assert "black hoodie" not in text.text and "is black, not navy" not in text.text
    assert text.repeated == ["I got a black hoodie.", "The hoodie they sent is black, not navy."]


def test_the_seller_reply_no_answer_dates_promises_and_claims(base_case):
    quiet = compose(with_facts(base_case, seller_reply="No reply so far"), "dispute", today=TODAY)[0].text
    assert "I contacted the seller on 1 November and have had no answer." in quiet
    assert "replied" not in quiet and "No reply so far" not in quiet
    promised = with_facts(base_case, reason="counterfeit", seller_replied=date(2026, 11, 4),
                          seller_reply="Это оригинал, мы отправим новый заново.")
    text, warnings = compose(promised, "dispute", today=TODAY)
    assert ("I contacted the seller on 1 November; on 4 November, they promised to send the item again and "
            "said that the item is original.") in text.text
    assert any("the texts report what it asks, promises or claims" in w for w in warnings)


@pytest.mark.parametrize("reply", ["Please cancel the dispute first.", "Просим отменить спор, мы всё вернём."])
def test_a_cancel_request_in_the_reply_alone_draws_a_report(base_case, reply):
    case = with_facts(base_case, seller_reply=reply)
    assert "report" in kinds_for(case, TODAY)
    text, _ = compose(case, "report", today=TODAY)
    assert "The seller asked me to cancel my dispute instead of resolving the problem." in text.text


def test_exhibits_are_named_by_what_they_are_and_only_what_exists_is_claimed(base_case):
    missing = with_facts(base_case, order={"delivered": None}, reason="not_received", notes="I filmed the courier.")
    typed = [("A", record("upload/photo-1-tracking-events.jpg", kind="tracking", capture_kind="events")),
             ("B", record("upload/photo-2-tracking-page.jpg", kind="tracking", capture_kind="page",
                          site="17TRACK")),
             ("C", record("upload/photo-3-chat-1.jpg", kind="chat"))]
    text, warnings = compose(missing, "dispute", today=TODAY, lettered=typed)
    assert ("A) photo-1-tracking-events.jpg, table of the tracking events I entered; B) photo-2-tracking-page.jpg, "
            "screenshot of the tracking page on 17TRACK; C) photo-3-chat-1.jpg, screenshot of my chat with the "
            "seller.") in text.text
    assert "I filmed the courier." not in text.text  # no video in the package
    assert any("it mentions a video, but the package has none" in w for w in warnings)
    # Before a build, a tracking number alone is not an attachment.
    alone, _ = compose(missing, "dispute", today=TODAY)
    assert "attaching" not in alone.text and "tracking details" not in alone.text


def test_typed_tracking_events_do_not_stand_for_a_tracking_screenshot(make_case):
    toml = BASE_TOML.replace('reason = "damaged"', 'reason = "not_received"').replace("delivered = 2026-10-30\n", "")
    root = make_case(toml, name="typed")
    (root / "tracking").mkdir()
    (root / "tracking" / "tracking.csv").write_text("time,place,status\n2026-10-05 09:00,Shenzhen,Accepted\n",
                                                    encoding="utf-8")
    checklist = check_evidence(load_case(root))
    gap = next(g for g in checklist.gaps if g.kind == "tracking")
    assert "typed in are attached as a table" in gap.message and gap.hint.startswith("put screenshots")
    built = check_evidence(load_case(root), [record("upload/photo-1-tracking-x.jpg", kind="tracking",
                                                    capture_kind="events")])
    assert "tracking" in [g.kind for g in built.gaps] and "tracking_events_typed" in built.present


@pytest.mark.slow
def test_chat_screenshots_take_free_photo_slots_after_the_item_photos(make_case):
    from .conftest import noisy_photo

    toml = BASE_TOML.replace('notes = "The box was crushed."', 'notes = ""')
    root = make_case(toml, photos={"item.jpg": noisy_photo(640, 480, seed=1)}, name="chat-slots")
    (root / "chat").mkdir()
    noisy_photo(400, 800, seed=2).save(root / "chat" / "talk.png")
    result = api.build(root, options=BuildOptions(today=TODAY), reuse_unchanged=False).result
    uploads = [(r.path, r.info.get("kind")) for r in result.manifest.outputs if r.upload and r.role == "photo"]
    assert uploads == [("upload/photo-1-item.jpg", None), ("upload/photo-2-chat-talk.jpg", "chat")]
    # The plan the web page shows before Build says the same (api.plan_upload).
    assert [(c.path.name, c.status, c.slot) for c in api.plan_upload(root).chat] == [("talk.png", "upload", 2)]
    assert "B) photo-2-chat-talk.jpg, screenshot of my chat with the seller" in \
        (result.package / "upload/dispute.txt").read_text(encoding="utf-8")
    assert result.manifest.sections["checklist"]["present"]["chat"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-headless-shell") is None,
                    reason="needs Chromium (make test installs it)")
def test_a_required_chat_screenshot_goes_before_the_later_parts_of_a_tall_tracking_page(make_case):
    from .conftest import noisy_photo

    toml = (BASE_TOML.replace('reason = "damaged"', 'reason = "not_received"')
            .replace("delivered = 2026-10-30\n", "").replace('notes = "The box was crushed."', 'notes = ""'))
    root = make_case(toml, name="chat-before-parts")
    (root / "tracking").mkdir()
    (root / "tracking" / "page.html").write_text(  # three parts of 4000 px when captured
        '<html><body style="margin:0"><div style="height:11000px;background:#dde">In transit</div></body></html>',
        encoding="utf-8")
    (root / "chat").mkdir()
    noisy_photo(400, 800, seed=2).save(root / "chat" / "extend.png")
    [planned] = api.plan_upload(root).chat  # the slot the case page shows before Build
    result = api.build(root, options=BuildOptions(today=TODAY), reuse_unchanged=False).result
    uploads = sorted(r.path for r in result.manifest.outputs if r.upload and r.role == "photo")
    # In the form's order: the page's first part, the chat screenshot in its planned slot, then the second part.
    assert planned.slot == 2 and uploads == ["upload/photo-1-tracking-saved-page-part1.jpg",
                                             "upload/photo-2-chat-extend.jpg",
                                             "upload/photo-3-tracking-saved-page-part2.jpg"]


def test_every_sentence_dropped_for_length_is_warned_and_unique_evidence_stays(base_case):
    notes = ("The box was crushed on one corner. The post office wrote damage report 4471-2026 on arrival. "
             "The kettle was crushed on one corner too. The box corner was crushed badly.")
    case = with_facts(base_case, notes=notes)
    full, _ = compose(case, "dispute", today=TODAY, lettered=EXHIBITS)
    tight = replace(case, profile=replace(case.profile, max_text_chars=full.chars - 60))
    text, warnings = compose(tight, "dispute", today=TODAY, lettered=EXHIBITS)
    assert "damage report 4471-2026" in text.text  # a number only the buyer has outlives the repeats
    assert text.dropped_sentences and all(
        any(f'left out to stay within {full.chars - 60} characters: "{s}"' in w for w in warnings)
        for s in text.dropped_sentences)


def test_the_written_file_has_crlf_line_ends_and_is_counted_as_the_form_counts(base_case, tmp_path):
    from evidence_kit.dispute.complaint import write_text

    case = with_facts(base_case, order={"item": "Kettle 🫖"})
    text, _ = compose(case, "seller", today=TODAY)
    written = write_text(text, tmp_path)
    raw = (tmp_path / written.path).read_bytes().decode("utf-8")
    assert "\r\n" in raw and "\n" not in raw.replace("\r\n", "")
    assert written.chars == len(raw.encode("utf-16-le")) // 2 == text.chars
    over = replace(text, limit=text.chars - 1)
    with pytest.raises(LimitError, match="over the limit"):
        write_text(over, tmp_path / "over")


def test_the_pdf_uses_plain_words_and_keeps_the_buyers_account_apart(make_case, tmp_path):
    from evidence_kit.report.summary import SUMMARY_NAME

    toml = (BASE_TOML.replace('seller_contacted = 2026-11-01', 'seller_contacted = 2026-11-01\nopened = 2026-11-20')
            .replace('notes = "The box was crushed."', f'notes = "{ANGRY}"'))
    root = make_case(toml, name="plain-pdf")
    result = api.build(root, options=BuildOptions(today=TODAY), reuse_unchanged=False).result
    text = " ".join(subprocess.run(["pdftotext", str(result.package / SUMMARY_NAME), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    for word in ("evidence_kit.", "fill in", "dispute.opened", "the articles do not say", "(000", "case.toml",
                 "notes_en", "[facts]", "[dispute]", "--"):
        assert word not in text, word
    texts_section = text[text.index("Texts for the dispute form"):text.index("Exhibit A") if "Exhibit A" in text
                         else text.index("Evidence checklist")]
    assert "liar" not in texts_section and "NOTHING" not in texts_section
    account = text[text.rindex("The buyer's own account"):]
    assert "the seller is a liar and a thief." in account and "Why the texts leave it out" in account
    data = json.loads((result.package / "manifest.json").read_text(encoding="utf-8"))
    # What to change in case.toml stays with the warning, for the command line to print.
    assert any("[facts]" in w["hint"] and "notes_en" in w["hint"] and "left out of the texts" in w["message"]
               for w in data["warnings"])
    left_out = data["texts"]["dispute"]["notes_left_out"]
    assert any(item["sentence"] == "the seller is a liar and a thief." and "insulting" in item["why"]
               for item in left_out)


def test_an_item_title_that_repeats_the_listing_still_gets_the_facts_stated(base_case):
    # The fullest variant would say "genuine leather" twice (in the title and the listing): the next one that
    # still states the listing and the item received is used, not the one that only names the problem.
    case = with_facts(base_case, order={"item": "Genuine leather handbag"}, reason="not_as_described",
                      resolution="return_and_refund", notes="",
                      facts={"listing_said": "genuine leather", "received": "a bag of PU plastic"})
    text, _ = compose(case, "dispute", today=TODAY)
    assert "The listing promised genuine leather, but the item I received is a bag of PU plastic." in text.text


def test_a_month_said_again_in_the_notes_is_a_repeat_of_the_date(base_case):
    case = with_facts(base_case, order={"item": "Vitamin C face serum"}, reason="expired",
                      facts={"expiry_date": date(2026, 6, 30)},
                      notes="The serum expired in June. It smells bad and I cannot use it on my skin.")
    text, _ = compose(case, "dispute", today=TODAY)
    assert "expiry date of 30 June" in text.text and text.repeated == ["The serum expired in June."]
    assert "It smells bad and I cannot use it on my skin." in text.text


def test_the_upload_plan_leaves_out_chat_screenshots_when_the_photos_fill_the_form(make_case):
    from .conftest import noisy_photo

    toml = BASE_TOML.replace('notes = "The box was crushed."', 'notes = ""')
    photos = {f"item{i}.jpg": noisy_photo(320, 240, seed=seed) for i, seed in enumerate((1, 4, 9))}
    root = make_case(toml, photos=photos, name="chat-no-room")
    (root / "chat").mkdir()
    noisy_photo(200, 400, seed=2).save(root / "chat" / "talk.png")
    plan = api.plan_upload(root)
    assert [p.slot for p in plan.photos] == [1, 2, 3]
    assert [(c.path.name, c.status, c.slot) for c in plan.chat] == [("talk.png", "slots_full", None)]
