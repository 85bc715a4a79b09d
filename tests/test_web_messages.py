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
PATHS = re.compile(r"\b(?:order|dispute|facts|tracking)(?:\.\w+|\[\d+\])")


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
