"""The interface languages: every catalog complete and faithful to the template, the template faithful to the
sources, the pages in Spanish and Brazilian Portuguese free of English, money typed the local way, and at 360 px
nothing cut off or sideways in Spanish, Portuguese and Russian (a real Chromium)."""
from __future__ import annotations

import gettext
import html
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest
from babel.dates import format_date
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from evidence_kit.runners.web import i18n

from .test_web_api import FACTS, WebServer, new_case
from .test_web_browser import browser, no_sideways_scroll  # noqa: F401 - browser is a fixture

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "templates" / "web" / "locale"
TRANSLATED = ("ru", "es", "pt_BR")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]*\}")
SAME_IN_EVERY_LANGUAGE = {"%(n)s MB", "%(n)s kB"}  # units, not words


def _id(message: Any) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _template() -> Any:
    with open(LOCALE / "messages.pot", "rb") as handle:
        return read_po(handle)


def _catalog(language: str) -> Any:
    with open(LOCALE / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=language)


def test_the_template_holds_every_string_of_the_sources() -> None:
    """messages.pot is what babel.cfg extracts today: a string added to a page, a web module or the library's
    reasons without refreshing the template would reach no catalog."""
    with open(ROOT / "templates" / "web" / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    extracted = {m if isinstance(m, str) else m[0]
                 for _, _, m, *_ in extract_from_dir(str(ROOT), method_map, options_map)}
    template = {_id(m) for m in _template() if m.id}
    assert sorted(extracted - template) == [] and sorted(template - extracted) == []
    assert i18n.library_messages() <= template  # the reasons and resolutions the form shows
    assert len(template) > 200


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_catalog_translates_every_string_with_its_placeholders(language: str) -> None:
    catalog = _catalog(language)
    by_id = {_id(m): m for m in catalog if m.id}
    missing, fuzzy, empty, english, placeholders = [], [], [], [], []
    for wanted in (m for m in _template() if m.id):
        message = by_id.get(_id(wanted))
        if message is None:
            missing.append(_id(wanted))
            continue
        strings = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
        ids = list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]
        if message.fuzzy:
            fuzzy.append(_id(message))
        if not all(strings) or len(strings) != (catalog.num_plurals if message.pluralizable else 1):
            empty.append(_id(message))
        if message.id not in SAME_IN_EVERY_LANGUAGE and any(s == ids[0] for s in strings):
            english.append(_id(message))
        for text in strings:  # each form holds the placeholders of the msgid (a plural's of its plural)
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(ids[-1] if message.pluralizable
                                                                              else ids[0])):
                placeholders.append((_id(message), text))
    assert (missing, fuzzy, empty, english, placeholders) == ([], [], [], [], [])
    # The plural rule of the header is the language's (CLDR, as Babel has it), for every count a page shows.
    number, rule = get_plural(language)
    assert catalog.num_plurals == number
    ours, theirs = gettext.c2py(catalog.plural_expr), gettext.c2py(rule)
    assert [ours(n) for n in range(1, 1001)] == [theirs(n) for n in range(1, 1001)]
    i18n.translations.cache_clear()
    assert i18n.translations(language).gettext("Reason") == by_id["Reason"].string  # it loads as the app loads it


def test_the_browser_language_picks_spanish_and_portuguese() -> None:
    assert i18n.negotiate("es-MX,es;q=0.9,en;q=0.5") == "es"
    assert i18n.negotiate("pt-BR,pt;q=0.9") == "pt_BR"
    assert i18n.negotiate("pt-PT") == "pt_BR"  # the nearest catalog
    assert i18n.negotiate("de-DE,pt;q=0.7,ru;q=0.6") == "pt_BR"
    assert set(i18n.LANGUAGE_NAMES) == set(i18n.LANGUAGES) == {"en", "ru", "es", "pt_BR"}


@pytest.mark.parametrize(("language", "typed", "expected"), [
    ("pt_BR", "2.990,00", "2990.00"), ("es", "2.990,00", "2990.00"), ("pt_BR", "1.500", "1500"),
    ("es", "34,90", "34.90"), ("pt_BR", "2 990,00", "2990.00"), ("en", "1.500", "1.500"),
])
def test_money_is_read_as_the_language_writes_it(language: str, typed: str, expected: str) -> None:
    i18n.set_language(language)
    try:
        assert str(i18n.parse_amount(typed)) == expected
    finally:
        i18n.set_language("en")


# --- the pages through the HTTP API ------------------------------------------------------------------------

# What a buyer reads on the start page and a case page, in English; none may be left in the other languages.
ENGLISH = ("Your cases", "New case", "Order number", "Reason", "Price paid", "Choose the reason", "Item not received",
           "Refund only", "Create the case", "Save", "Build", "Choose files", "Skip to content", "Language",
           "The order", "The dispute", "Tracking number", "Drop photos", "Open the dispute", "Deadline",
           "Photos", "Not built yet", "Your files", "All cases", "Saved.", "Uploading")
LANGUAGE_HEADERS = {"es": "es-ES,es;q=0.9,en;q=0.5", "pt_BR": "pt-BR,pt;q=0.9,en;q=0.5"}


def shown_text(page: str) -> str:
    """What a person reads on a page: its text and its labels for the ear and the eye, without the case's own
    data (the facts the buyer typed, handed to the script)."""
    page = re.sub(r'<script type="application/json" id="initial-facts">.*?</script>', "", page, flags=re.S)
    labels = re.findall(r'\s(?:aria-label|title|alt|placeholder|data-wins|data-caveat)="([^"]*)"', page)
    messages = re.findall(r'<script type="application/json" id="messages">(.*?)</script>', page, flags=re.S)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(" ".join([re.sub(r"<[^>]+>", " ", page), *labels, *messages]))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"))
    yield running
    running.client.close()
    running.stop()


@pytest.mark.parametrize("language", ["es", "pt_BR"])
def test_the_start_page_and_a_case_page_have_no_english_left(server: WebServer, language: str) -> None:
    headers = {"accept-language": LANGUAGE_HEADERS[language]}
    case_id = new_case(server)
    pages = {"start": server.client.get("/", headers=headers), "case": server.client.get(f"/cases/{case_id}",
                                                                                          headers=headers)}
    for name, response in pages.items():
        assert response.status_code == 200, (name, response.text[:500])
        assert f'<html lang="{language.replace("_", "-")}">' in response.text
        text = shown_text(response.text)
        left = [word for word in ENGLISH if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)]
        assert left == [], (name, left)
        assert i18n.translations(language).gettext("Reason") in text
    # The case's deadline on the start page is written as the language writes a date (Babel), not 2026-12-16.
    row = next(c for c in server.client.get("/api/cases").json()["cases"] if c["id"] == case_id)
    days = {format_date(date.fromisoformat(d["day"]), "long", locale=language)
            for d in row["deadline"]["deadlines"] if d.get("day")}
    start = shown_text(pages["start"].text)
    assert any(day in start for day in days) and not re.search(r"\b\d{4}-\d\d-\d\d\b", start)


@pytest.mark.parametrize("language", ["es", "pt_BR"])
def test_a_price_typed_the_local_way_is_stored_as_a_number(server: WebServer, language: str) -> None:
    facts = {**FACTS, "title": f"Price {language}", "order": {**FACTS["order"], "price": "2.990,00"},
             "dispute": {**FACTS["dispute"], "amount": "2.990"}}
    response = server.client.post("/api/cases", json=facts, headers={"accept-language": LANGUAGE_HEADERS[language]})
    assert response.status_code == 201, response.text
    text = (server.workspace / response.json()["id"] / "case.toml").read_text(encoding="utf-8")
    stored = tomllib.loads(text)
    assert (stored["order"]["price"], stored["dispute"]["amount"]) == (2990, 2990)
    # written with the price's precision, as typed: "2990.00" both
    assert re.findall(r"^(?:price|amount) = (.*)$", text, flags=re.M) == ["2990.00", "2990.00"]


# --- at 360 px in a real Chromium --------------------------------------------------------------------------

# For each option of the reason select: is its title shown whole when it is the chosen one? A copy of the
# select's text box (same font, the width the select leaves for text beside its arrow, the select's own
# wrapping: a native select never wraps) must not overflow sideways and must fit in the select's height.
# Then, with the list open, each option must lie inside the window and not overflow its own box.
CUT_REASONS = """(lang) => {
    const select = document.getElementById("f-dispute.reason");
    const style = getComputedStyle(select);
    const wraps = style.appearance === "base-select" && !["nowrap", "pre"].includes(style.whiteSpace);
    const icon = wraps ? (parseFloat(getComputedStyle(select, "::picker-icon").width) || 0) : 20;
    const gap = parseFloat(style.columnGap) || 0;
    const box = document.createElement("div");
    Object.assign(box.style, {position: "absolute", visibility: "hidden", font: style.font,
        letterSpacing: style.letterSpacing, lineHeight: style.lineHeight, whiteSpace: wraps ? "normal" : "nowrap",
        overflowWrap: style.overflowWrap, boxSizing: "content-box", overflow: "hidden",
        width: (select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
                - icon - gap) + "px"});
    document.body.appendChild(box);
    const cut = [];
    const chosen = select.value;
    for (const option of select.options) {
        select.value = option.value;
        box.textContent = option.text;
        const room = select.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
        if (box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > room + 1) cut.push(option.text);
    }
    select.value = chosen;
    box.remove();
    return {cut, count: select.options.length, wraps};
}"""
OPEN_OPTIONS = """() => [...document.getElementById("f-dispute.reason").options].filter((o) => {
    const r = o.getBoundingClientRect();
    return r.width === 0 || r.left < 0 || r.right > window.innerWidth || o.scrollWidth > o.clientWidth + 1;
}).map((o) => o.text)"""


def test_at_360_px_nothing_is_cut_or_sideways_in_spanish_portuguese_and_russian(browser: Any, tmp_path: Path) -> None:
    server = WebServer(tmp_path / "workspace")
    context = browser.new_context(viewport={"width": 360, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{server.base}/?token={server.token}")  # no case yet: the start page shows the new-case form
        case_id = new_case(server)
        for language in ("es", "pt_BR", "ru"):
            for name, path in (("start", f"/?lang={language}"), ("case", f"/cases/{case_id}?lang={language}")):
                page.goto(f"{server.base}{path}")
                assert page.evaluate("document.documentElement.lang") == language.replace("_", "-")
                if name == "start":
                    page.evaluate("document.getElementById('new-case').hidden = false")  # as its button does
                page.screenshot(path=f"/tmp/i-{language}-{name}.png", full_page=True)
                no_sideways_scroll(page)
                found = page.evaluate(CUT_REASONS, language)
                assert found["count"] == 16 and found["cut"] == [], (language, name, found)
            # On the case page, the longest title chosen, then the list open: every title whole, inside the window.
            select = page.locator("[id='f-dispute.reason']")
            select.select_option("delivered_elsewhere")
            page.evaluate("document.getElementById('f-dispute.reason').scrollIntoView({block: 'center'})")
            page.screenshot(path=f"/tmp/i-{language}-reason-chosen.png")
            select.click()
            page.wait_for_timeout(300)
            page.screenshot(path=f"/tmp/i-{language}-reasons-open.png")
            assert page.evaluate(OPEN_OPTIONS) == [], language
            page.keyboard.press("Escape")
    finally:
        context.close()
        server.client.close()
        server.stop()


@pytest.mark.parametrize(("language", "price", "refund"), [("ru", "2\u00a0990,00", "100,50"),
                                                           ("pt_BR", "2.990,00", "100,50"),
                                                           ("en", "2,990.00", "100.50")])
def test_the_form_shows_money_as_the_language_writes_it_and_reads_it_back(server: WebServer, language: str,
                                                                         price: str, refund: str) -> None:
    facts = {**FACTS, "order": {**FACTS["order"], "price": "2990.00", "number": "8100000000000777"},
             "dispute": {**FACTS["dispute"], "amount": "100.50"}}
    created = server.client.post("/api/cases", json=facts)
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    page = server.client.get(f"/cases/{case_id}?lang={language}").text
    shown = {name: html.unescape(re.search(rf'id="f-{re.escape(name)}"[^>]*value="([^"]*)"', page).group(1))
             for name in ("order.price", "dispute.amount")}
    assert shown == {"order.price": price, "dispute.amount": refund}
    # Saved back as shown (the page sends what the field holds): the same amounts, at the price's precision.
    again = {**facts, "order": {**facts["order"], "price": price}, "dispute": {**facts["dispute"], "amount": refund}}
    assert server.client.put(f"/api/cases/{case_id}?lang={language}", json=again,
                             headers={"accept-language": language.replace("_", "-")}).status_code == 200
    written = (server.workspace / case_id / "case.toml").read_text(encoding="utf-8")
    assert "price = 2990.00\n" in written and "amount = 100.50\n" in written, written


@pytest.mark.parametrize("language", ["en", "ru", "es", "pt_BR"])
def test_each_date_field_says_its_day_in_the_pages_language_in_a_browser_of_another(browser: Any, server: WebServer,
                                                                                   language: str) -> None:
    """An English browser writes a date input's day as 10/30/2026 on any page; under it, the day in the page's words."""
    case_id = new_case(server, {**FACTS, "order": {**FACTS["order"], "number": "8100000000000888"}})
    context = browser.new_context(viewport={"width": 360, "height": 800}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{server.base}/?token={server.token}")
        page.goto(f"{server.base}/cases/{case_id}?lang={language}")
        words = page.locator("[id='w-order.delivered']")
        assert words.inner_text() == format_date(date(2026, 10, 30), format="long", locale=language)  # as served
        assert "w-order.delivered" in page.get_attribute("[id='f-order.delivered']", "aria-describedby").split()
        page.fill("[id='f-order.delivered']", "2027-01-04")  # the script's words (Intl) are Babel's too, but
        # Chromium's CLDR puts a plain space where Babel's puts a narrow one ("2027 г."): the same words.
        spaced = format_date(date(2027, 1, 4), format="long", locale=language)
        assert re.sub(r"\s", " ", words.inner_text()) == re.sub(r"\s", " ", spaced)
        page.fill("[id='f-order.delivered']", "")
        assert words.text_content() == "" and words.is_hidden()
        no_sideways_scroll(page)
    finally:
        context.close()


def test_a_date_mistyped_in_case_toml_leaves_its_words_empty(server: WebServer) -> None:
    case_id = new_case(server, {**FACTS, "order": {**FACTS["order"], "number": "8100000000000889"}})
    toml = server.workspace / case_id / "case.toml"
    toml.write_text(re.sub(r"delivered = \S+", 'delivered = "2026-13-45"', toml.read_text(encoding="utf-8")),
                    encoding="utf-8")
    page = server.client.get(f"/cases/{case_id}?lang=ru")
    assert page.status_code == 200
    assert re.search(r'id="w-order.delivered">\s*</p>', page.text), page.text[:200]
    assert re.search(r'id="w-order.shipped">3 октября 2026\sг\.</p>', page.text)
