"""Interface languages: one gettext catalog per language under ``templates/web/locale`` (a language is a file).

The .po files are read at run time (compiled in memory), so a fresh ``pip install`` needs no compile
step. After changing strings (templates, the web modules, or the library's words in ``library_messages``),
refresh the template and every catalog from the checkout's root with

    python -m evidence_kit.runners.web.i18n

(``pybabel extract`` with templates/web/babel.cfg, then ``pybabel update`` without guessed "fuzzy"
translations) and translate what came out empty; tests/test_web_i18n.py fails on a msgid missing from a
catalog, or on a template behind the sources. To add a language: ``python -m evidence_kit.runners.web.i18n XX``
starts its catalog; list XX in ``LANGUAGES`` and ``PRIMARY``.

The generated dispute texts stay English (that is what the form wants); only the interface is translated.
"""
from __future__ import annotations

import contextvars
import functools
import gettext as _gettext
import io
import re
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "ru", "es", "pt_BR")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "es": "Español", "pt_BR": "Português (Brasil)"}
# Accept-Language's primary tags -> our catalogs (a buyer in Portugal reads Brazilian Portuguese well enough).
PRIMARY = {"en": "en", "ru": "ru", "es": "es", "pt": "pt_BR"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("evidence_kit_web_language", default=DEFAULT_LANGUAGE)


def web_root() -> Path:
    """The folder with the templates, static files and catalogs (shipped inside the package)."""
    return Path(str(resources.files("evidence_kit.templates") / "web"))


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalog of ``language`` (English is the source language: no catalog)."""
    if language == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with open(web_root() / "locale" / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def set_language(language: str) -> None:
    _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional marker for "translate later"
    """Marks a string for extraction; it is translated where it is shown."""
    return message


class Worded(str):
    """A message as the buyer reads it, remembering the case.toml path and the kind of problem it is about (the
    API files it under its form field, ``cases.field_of``; the case page tells a mistyped key apart)."""

    path: str
    kind: str

    def __new__(cls, text: str, path: str = "", kind: str = "") -> "Worded":
        worded = super().__new__(cls, text)
        worded.path, worded.kind = path, kind
        return worded


def library_messages() -> set[str]:
    """The library's own English words that the pages show translated (views.py hands them to gettext): each
    reason's title, what it can win and its caveat, the evidence it needs (as a gap says it), and the resolutions. The library stays free of gettext."""
    from ...model.reasons import REASON_RULES, RESOLUTIONS

    texts = {text for r in REASON_RULES.values() for text in (r.title, r.wins, r.caveat) if text}
    missing = {need.missing for r in REASON_RULES.values() for need in r.needs}  # the checklist's gaps
    return texts | missing | set(RESOLUTIONS.values())


def extract_library(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Any:
    """A Babel extraction method (babel.cfg's ``library``): the strings of a library module that are among
    ``library_messages``, at the line they start on, so the template lists them like any marked string."""
    import ast

    wanted = library_messages()
    found = [(node.lineno, node.value) for node in ast.walk(ast.parse(fileobj.read()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in wanted]
    for lineno, text in sorted(found):
        yield lineno, "", text, []


def negotiate(accept_language: str | None) -> str:
    """The best of ``LANGUAGES`` for an Accept-Language header (``ru-RU,ru;q=0.9,en;q=0.8``)."""
    weighted = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = PRIMARY.get(tag.strip().lower().split("-")[0])
        if primary and quality > 0:
            weighted.append((-quality, i, primary))
    return min(weighted)[2] if weighted else DEFAULT_LANGUAGE


def format_day(iso_day: str | None) -> str:
    """``2027-01-04`` as the current language writes a date (``4 January 2027`` / ``4 января 2027 г.``)."""
    if not iso_day:
        return ""
    from datetime import date

    from babel.dates import format_date

    return format_date(date.fromisoformat(iso_day), format="long", locale=_current.get())


def day_in_words(value: object) -> str:
    """A date field's value as the page's language writes it, "" while it is no day (empty, mistyped by hand).

    A date input shows its day in the browser's own format, which need not be the page's language (an English
    browser writes 04/01/2027 on a Russian page); the words under it say which day that is."""
    from datetime import date

    if isinstance(value, date):
        value = value.isoformat()
    try:
        return format_day(value) if isinstance(value, str) else ""
    except ValueError:
        return ""


def html_lang() -> str:
    """The current language as HTML and BCP 47 write it (``pt-BR``)."""
    return _current.get().replace("_", "-")


def number(value: float | int) -> str:
    """A whole number in the current language (``12 345`` in Russian, ``12.345`` in Spanish)."""
    from babel.numbers import format_decimal

    return format_decimal(value, locale=_current.get())


def decimal(value: float | Decimal | str, places: int) -> str:
    """A number with exactly ``places`` decimals in the current language (``0,40``)."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=_current.get(), decimal_quantization=True)


def amount(value: Any) -> str:
    """An amount of money as typed into the form, with its own precision kept (``2990.00`` -> ``2 990,00``);
    text that is not a number comes back as it is."""
    try:
        number_ = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "" if value is None else str(value)
    if not number_.is_finite():
        return str(value)
    places = max(0, -int(number_.as_tuple().exponent))  # type: ignore[arg-type]
    return decimal(number_, places)


def megabytes(size: int) -> str:
    return decimal(size / 1e6, 2)


def file_size(size: int) -> str:
    """A size as the CLI prints it (MB from 0.1 MB, else kB), in the current language."""
    if size >= 100_000:
        return gettext("%(n)s MB") % {"n": decimal(size / 1e6, 2)}
    return gettext("%(n)s kB") % {"n": decimal(size / 1000, 1)}


_SPACES = re.compile(r"[\s\u00a0\u202f'’]")


def parse_amount(text: str) -> Decimal | None:
    """An amount typed in the current language's way, or any common way: ``2 990,00`` and ``2.990,00`` in
    Russian or Spanish, ``2,990.00`` in English, ``34,90`` anywhere. None when it is not a number."""
    from babel.numbers import get_decimal_symbol

    plain = _SPACES.sub("", text.strip())
    if not re.fullmatch(r"\d[\d.,]*", plain or "x"):
        return None
    dots, commas = plain.count("."), plain.count(",")
    if dots and commas:  # both: the last one is the decimal mark
        point = "." if plain.rfind(".") > plain.rfind(",") else ","
    elif dots + commas == 1:
        mark = "." if dots else ","
        decimals = len(plain) - plain.index(mark) - 1
        # one mark and three digits after it is either way round ("1.500"): the language decides
        point = mark if decimals != 3 or get_decimal_symbol(_current.get()) == mark else ""
    else:
        point = ""  # none, or the same mark repeated: thousands
    whole, _, fraction = plain.partition(point) if point else (plain, "", "")
    if point and (not fraction or not fraction.isdigit()):
        return None
    if not whole.isdigit() and not re.fullmatch(r"\d{1,3}([.,]\d{3})+", whole):
        return None  # thousands come in threes: "1.2.3" is no amount
    digits = re.sub(r"[.,]", "", whole) + (f".{fraction}" if point else "")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def template_globals() -> dict[str, Any]:
    """The formatting helpers the templates call (each in the current language)."""
    return {"format_day": format_day, "day_in_words": day_in_words, "megabytes": megabytes, "size": file_size,
            "number": number, "decimal": decimal, "amount": amount, "html_lang": html_lang}


# Strings the page's JavaScript shows; handed to it translated, as JSON.
JS_MESSAGES = {
    "saved": N_("Saved."),
    "saving": N_("Saving…"),
    "fix_problems": N_("Please fix the problems marked below."),
    "uploading": N_("Uploading…"),
    "uploaded": N_("Added."),
    "too_big": N_("These files are larger than the upload limit of this app:"),
    "queued": N_("Waiting for a free worker…"),
    "started": N_("Building…"),
    "built": N_("Done: a new package was built."),
    "unchanged": N_("Nothing changed since the last build: the package was kept."),
    "failed": N_("The build failed."),
    "busy": N_("This case is already being built; showing that build."),
    "copied": N_("Copied."),
    "copy_failed": N_("Could not copy: select the text and press Ctrl+C."),
    "chars": N_("characters"),
    "over_limit": N_("over the limit"),
    "network": N_("The app did not answer. Is evidence-kit serve still running?"),
    "delete_confirm": N_("Remove this file from the case?"),
    "files_pending": N_("files will be added when you save the case"),
    "stage_photos": N_("Photos"),
    "stage_video": N_("Video"),
    "stage_chat": N_("Chat screenshots"),  # the same words as the files' heading for chat/
    "stage_tracking": N_("Tracking"),
    "stage_deadlines": N_("Deadlines"),
    "stage_checklist": N_("Checklist"),
    "stage_texts": N_("Texts"),
    "stage_summary": N_("Summary PDF"),
}


def js_messages() -> dict[str, str]:
    return {key: gettext(message) for key, message in JS_MESSAGES.items()}


def refresh_catalogs(root: Path, new_language: str | None = None) -> None:
    """The template extracted anew from the sources under ``root`` (a checkout), and every catalog merged
    with it; ``new_language`` first gets a catalog of its own."""
    from babel.messages.frontend import CommandLineInterface

    locale = root / "templates" / "web" / "locale"
    template = locale / "messages.pot"
    run = CommandLineInterface().run
    run(["pybabel", "-q", "extract", "-F", str(root / "templates" / "web" / "babel.cfg"), "-o", str(template),
         "-w", "120", "--no-location", "--project", "evidence-kit", "--version", "0.1.0", "--header-comment",
         "# The interface strings of evidence-kit serve: python -m evidence_kit.runners.web.i18n writes this file.",
         str(root)])
    if new_language:
        run(["pybabel", "-q", "init", "-i", str(template), "-d", str(locale), "-l", new_language, "-w", "120"])
    run(["pybabel", "-q", "update", "-i", str(template), "-d", str(locale), "-w", "120", "--no-fuzzy-matching"])


if __name__ == "__main__":
    import sys

    refresh_catalogs(Path.cwd(), *sys.argv[1:2])
