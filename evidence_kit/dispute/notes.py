"""The buyer's own words: clean them, split them into sentences, tell English from other languages, flag tone.

Language: lingua (lingua-language-detector), offline and built for short text, limited to the languages
buyers most often write in so that a two-word note is not taken for Estonian. A sentence written mostly in
a non-Latin script is not English without asking it. Sentences of fewer than three words are judged with
the whole note, because no detector is reliable on "Funciona mal".
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ..model.manifest import Hinted

# Tone: words that insult or carry emotion rather than facts (004: "Do not use insults and emotional expressions").
_INSULTS = re.compile(
    r"\b(scam\w*|fraud\w*|liars?|lying|thie(f|ves)|cheat\w*|idiots?|stupid|morons?|criminals?|crooks?|"
    r"robb(ed|ery|ers?)|incompetent|pathetic|useless|disgusting|garbage|trash|crap\w*|shit\w*|fuck\w*|damn\w*|"
    r"bastards?|hate|hated|furious|angry|outraged?|ridiculous|worst|horrible|terrible|awful|shameful|"
    r"unacceptable|joke)\b", re.IGNORECASE)
_WORD = re.compile(r"\b\w{3,}\b")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def clean(text: str) -> str:
    """NFC, printable only (control characters dropped), runs of spaces collapsed; newlines kept."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(ch if ch == "\n" or ch.isprintable() else " " for ch in text)
    return "\n".join(re.sub(r"\s+", " ", line).strip() for line in text.split("\n")).strip()


def sentences(text: str) -> list[str]:
    """Split cleaned text into sentences, each ending with punctuation."""
    parts = [p.strip() for p in _SENTENCE_END.split(clean(text)) if p and p.strip()]
    return [p if p[-1] in ".!?…\"'”’)" else p + "." for p in parts]


def latin_share(text: str) -> float | None:
    """The share of letters in Latin script, None when there are no letters."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    return sum(unicodedata.name(ch, "").startswith("LATIN") for ch in letters) / len(letters)


@lru_cache(maxsize=1)
def _detector():  # type: ignore[no-untyped-def]
    from lingua import Language, LanguageDetectorBuilder

    buyers_languages = [
        Language.ENGLISH, Language.SPANISH, Language.PORTUGUESE, Language.FRENCH, Language.GERMAN, Language.ITALIAN,
        Language.DUTCH, Language.POLISH, Language.CZECH, Language.TURKISH, Language.RUSSIAN, Language.UKRAINIAN,
        Language.CHINESE, Language.JAPANESE, Language.KOREAN, Language.ARABIC, Language.HEBREW]
    return LanguageDetectorBuilder.from_languages(*buyers_languages).build()


# The detector's time grows with the text; a few sentences decide a language as well as a whole story does.
DETECT_SAMPLE_CHARS = 2_000


@lru_cache(maxsize=4096)  # the texts ask about the same sentences many times while they fit the limit
def language_of(text: str) -> str | None:
    """Lower-case English name of the language of ``text`` ("english", "russian"), None when there are no words."""
    from lingua import Language

    text = text[:DETECT_SAMPLE_CHARS]

    if latin_share(text) is None:
        return None
    detected = _detector().detect_language_of(text)
    if detected is None:
        return None
    if detected != Language.ENGLISH and latin_share(text) >= 0.5:
        # Latin script: only call it foreign when English is clearly unlikely (short English is often mistaken,
        # above all next to a foreign place name: "I live in Bordeaux." reads as French to the detector).
        if _detector().compute_language_confidence(text, Language.ENGLISH) >= 0.15 or _english_grammar(text):
            return "english"
    return detected.name.lower()


# Grammar words of English that the other languages buyers write in do not use as words of their own.
_ENGLISH_WORDS = frozenset("i my me the is was were has have had it its and not did does with from this that in on "
                           "they them their we our you your at by for of to".split())


def _english_grammar(text: str) -> bool:
    """At least two English grammar words, and at least two in five words: English around a foreign name."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    hits = sum(w in _ENGLISH_WORDS for w in words)
    return hits >= 2 and hits * 5 >= len(words) * 2


def is_english(text: str) -> bool:
    return language_of(text) in (None, "english")


# Words in capitals that are names or units, not shouting.
_NAMES_IN_CAPITALS = frozenset("USB LED LCD DHL UPS EMS TNT DPD GLS USPS CAINIAO YANWEN EU UK USA USD EUR GBP RUB CNY "
                               "PDF SMS GPS SIM HDMI ASAP".split())
_SHOUTED = re.compile(r"\b[A-Z]{4,}\b")
_REPEATED_MARKS = re.compile(r"[!?]*![!?]*!|!\?|\?!|\?\?")
# Speaking to someone (the notes are the buyer's account, not a message).
_ADDRESSING = re.compile(r"\b(you|your|yours|u|ur)\b", re.IGNORECASE)
# A sentence that opens with a demand ("Refund me now.") belongs in the request the texts already make.
_DEMANDS = frozenset("refund give send return fix answer reply stop explain tell pay help please".split())
# The seller named in the third person: wrong inside a message to the seller (who is "you" there).
_ABOUT_SELLER = re.compile(r"\b(the |this |that |my )?(seller|store|shop|vendor)('s)?\b", re.IGNORECASE)
# Contractions written out (a formal complaint spells them), most specific first; "'s" is left alone
# except where it can only be "is"/"has".
_CONTRACTIONS = ((r"\bcan't\b", "cannot"), (r"\bwon't\b", "will not"), (r"\bshan't\b", "shall not"),
                 (r"\b(\w+)n't\b", r"\1 not"), (r"\bI'm\b", "I am"), (r"\b(\w+)'ve\b", r"\1 have"),
                 (r"\b(\w+)'ll\b", r"\1 will"), (r"\b(\w+)'re\b", r"\1 are"), (r"\bI'd\b", "I would"),
                 (r"\b(it|that|there|what)'s been\b", r"\1 has been"), (r"\b(it|that|there)'s\b", r"\1 is"))


def tone_problems(sentence: str) -> list[Hinted]:
    """Why a sentence would hurt a formal complaint, each with a suggestion; empty when it reads calmly."""
    problems = []
    words = sorted({m.group(0).lower() for m in _INSULTS.finditer(sentence)})
    if words:
        problems.append(Hinted(f"insulting or emotional words ({', '.join(words)}): describe what happened instead",
                               kind="insults", words=", ".join(words)))
    caps = [w for w in _WORD.findall(sentence) if w.isalpha() and w.isupper() and w not in _NAMES_IN_CAPITALS]
    letters = [ch for ch in sentence if ch.isalpha()]
    upper = sum(ch.isupper() for ch in letters)
    shouted = [w for w in _SHOUTED.findall(sentence) if w not in _NAMES_IN_CAPITALS]
    if shouted or len(caps) >= 3 or (len(letters) >= 10 and upper / len(letters) > 0.6):
        problems.append(Hinted("written in capitals (reads as shouting): use normal sentence case", kind="shouting"))
    if _REPEATED_MARKS.search(sentence):
        problems.append(Hinted('repeated "!" or "?": end the sentence with a full stop', kind="repeated_marks"))
    return problems


def form_problems(sentence: str) -> list[Hinted]:
    """Why an English sentence is not the buyer's formal account: a question, a demand, words to someone."""
    problems = []
    if sentence.rstrip("\"'”’) ").endswith("?"):
        problems.append(Hinted("a question: write what happened as a statement", kind="question"))
    first = re.match(r"[^\W\d_]+", sentence)
    if first and first.group(0).lower() in _DEMANDS:
        problems.append(Hinted("a demand: the texts make the request themselves; write what happened instead",
                               kind="demand"))
    if _ADDRESSING.search(sentence):
        problems.append(Hinted("speaks to someone (\"you\"): write what happened in the first person",
                               kind="addressing"))
    return problems


def formal(sentence: str) -> str:
    """The safe repairs of a buyer's sentence: contractions spelled out, a capital first letter and "I", one
    closing full stop for "!" or "...", no space before punctuation. Words and meaning stay as written."""
    text = sentence.replace("’", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"(\.\s*){2,}$|…$", ".", text.strip())
    text = re.sub(r"(?<![!?])!$", ".", text)
    if text and text[-1] not in ".?!\"'”)":
        text += "."
    return text[:1].upper() + text[1:] if text[:1].islower() else text


@dataclass(frozen=True)
class NoteSentence:
    text: str  # as it can go into a text: ``formal`` applied to what the buyer wrote
    language: str | None  # None: no words to judge
    problems: tuple[Hinted, ...]  # why it cannot go into a formal text (tone, form), each with its kind
    original: str = ""  # as the buyer wrote it
    about_seller: bool = False  # names the seller in the third person (not for the message to the seller)

    @property
    def usable(self) -> bool:
        """Goes into the English texts: English (or no words), calm and formal."""
        return self.language in (None, "english") and not self.problems


def read_notes(text: str) -> list[NoteSentence]:
    """The buyer's notes as sentences, each judged for language, tone and form."""
    parts = sentences(text)
    overall = language_of(" ".join(parts)) if parts else None
    judged = []
    for part in parts:
        language = language_of(part) if len(part.split()) >= 3 else (overall if latin_share(part) else None)
        if latin_share(part) is not None and latin_share(part) < 0.5:
            language = language_of(part)  # another script: sure even when short
        english = language in (None, "english")
        problems = (*tone_problems(part), *(form_problems(part) if english else ()))
        judged.append(NoteSentence(formal(part) if english else part, language, tuple(problems), part,
                                   bool(_ABOUT_SELLER.search(part))))
    return judged
