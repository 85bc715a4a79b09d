"""Interface languages: one gettext catalog per language under ``templates/web/locale`` (a language is a file).

The .po files are read at run time (compiled in memory), so a fresh ``pip install`` needs no compile
step. To add a language: copy ``locale/ru/LC_MESSAGES/messages.po`` to ``locale/XX/...``, translate it and
list XX in ``LANGUAGES``. After changing strings in the templates, refresh the catalogs with:

    pybabel extract -F templates/web/babel.cfg -o templates/web/locale/messages.pot .
    pybabel update -i templates/web/locale/messages.pot -d templates/web/locale

The generated dispute texts stay English (that is what the form wants); only the interface is translated.
"""
from __future__ import annotations

import contextvars
import functools
import gettext as _gettext
import io
from importlib import resources
from pathlib import Path

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}

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
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            weighted.append((-quality, i, primary))
    return min(weighted)[2] if weighted else DEFAULT_LANGUAGE


def format_day(iso_day: str | None) -> str:
    """``2027-01-04`` as the current language writes a date (``4 January 2027`` / ``4 января 2027 г.``)."""
    if not iso_day:
        return ""
    from datetime import date

    from babel.dates import format_date

    return format_date(date.fromisoformat(iso_day), format="long", locale=_current.get())


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
    "stage_tracking": N_("Tracking"),
    "stage_deadlines": N_("Deadlines"),
    "stage_checklist": N_("Checklist"),
    "stage_texts": N_("Texts"),
    "stage_summary": N_("Summary PDF"),
}


def js_messages() -> dict[str, str]:
    return {key: gettext(message) for key, message in JS_MESSAGES.items()}
