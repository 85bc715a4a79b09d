"""The buyer's own words: language of short buyer sentences, tone flags, cleaning and sentence splitting."""
from __future__ import annotations

import pytest

from evidence_kit.dispute.notes import clean, read_notes, sentences, tone_problems

# Short sentences buyers write, labelled by hand. Short English is where detectors fail (lingua alone
# calls "Broken lid" Dutch and "It leaks" Estonian), so most of these are two to six words.
LABELLED = {
    "english": ["Broken lid.", "It leaks.", "Missing screws.", "Dead on arrival.", "Seller ignored me.",
                "Color is red not blue.", "Wrong size, too small.", "The box was crushed.",
                "The parcel arrived on 18 November.", "I filmed the unboxing from the sealed parcel.",
                "The kettle from 阳光家居 is cracked.", "The USB cable does not charge.", "Only one shoe in the box.",
                "The screen has a long scratch.", "Tracking stopped in Shenzhen.", "No refund offered.",
                "The jacket is size S, not L.", "Received a phone case instead of a charger.",
                "I live in Bordeaux.", "It was sent from Guangzhou.", "My address is in São Paulo."],
    "russian": ["Посылка пришла разбитой.", "Чайник течёт.", "Не работает.", "Продавец не отвечает на сообщения.",
                "Трек-номер не отслеживается."],
    "spanish": ["El hervidor llegó roto.", "No funciona nada.", "El paquete nunca llegó a mi ciudad.",
                "La talla es incorrecta."],
    "portuguese": ["O produto chegou quebrado.", "A encomenda não chegou."],
    "french": ["Le colis est arrivé cassé.", "Le vendeur ne répond pas."],
    "german": ["Die Lieferung ist kaputt.", "Das Paket ist nie angekommen."],
    "polish": ["Paczka dotarła uszkodzona."],
    "italian": ["Il pacco è arrivato rotto.", "I colori non sono quelli della foto."],
    "dutch": ["Het pakket is nooit aangekomen."],
    "ukrainian": ["Посилка прийшла пошкодженою."],
    "chinese": ["包裹没有收到。"],
}


@pytest.mark.parametrize("language", sorted(LABELLED))
def test_short_buyer_sentences_english_or_not(language):
    """What matters is English or not; the language named can be a close one ("No funciona nada": Portuguese)."""
    for sentence in LABELLED[language]:
        [judged] = read_notes(sentence)
        assert (judged.language == "english") == (language == "english"), (sentence, judged.language)
        assert judged.usable == (language == "english")


def test_a_short_sentence_takes_the_language_of_its_note():
    judged = read_notes("El paquete llegó roto. Funciona mal.")
    assert [n.language for n in judged] == ["spanish", "spanish"]
    judged = read_notes("The lid is broken. It leaks.")
    assert [n.usable for n in judged] == [True, True]


def test_another_script_is_foreign_even_when_short_inside_english_notes():
    judged = read_notes("The lid is broken and the base is cracked. Ужасно.")
    assert [n.usable for n in judged] == [True, False]


@pytest.mark.parametrize("sentence, flag", [
    ("The seller is a liar.", "liar"),
    ("This is a SCAM.", "scam"),
    ("THE PARCEL NEVER CAME TO ME.", "capitals"),
    ("Where is my parcel?!", 'repeated "!"'),
    ("Refund me now!!!", 'repeated "!"'),
])
def test_tone_flags_name_the_problem_and_a_suggestion(sentence, flag):
    problems = " ".join(tone_problems(sentence))
    assert flag in problems
    assert any(s in problems for s in ("instead", "sentence case", "full stop"))


@pytest.mark.parametrize("sentence", [
    "The USB-C cable from DHL arrived without its plug.", "Order 8204417765390127 was shipped by CAINIAO.",
    "The lid is cracked!", "I asked the seller on 12 November."])
def test_calm_sentences_are_not_flagged(sentence):
    assert tone_problems(sentence) == []


def test_clean_and_split():
    assert clean("Cafe\u0301\x00 kettle\r\n\tbroken  ") == "Café kettle\nbroken"
    assert sentences("It leaks\nThe lid is cracked! Is it new?") == ["It leaks.", "The lid is cracked!", "Is it new?"]
    assert read_notes("The lid is cracked!")[0].text == "The lid is cracked."


@pytest.mark.parametrize("raw, cleaned", [
    ("the box was crushed", "The box was crushed."),
    ("i didn't open it... it's been a week", "I did not open it. It has been a week."),
    ("It can't be used , the lid won't close!", "It cannot be used, the lid will not close."),
    ("I'm sure the parcel wasn't opened", "I am sure the parcel was not opened."),
])
def test_safe_cleaning_keeps_the_words(raw, cleaned):
    assert " ".join(n.text for n in read_notes(raw)) == cleaned
    assert all(n.usable for n in read_notes(raw))


@pytest.mark.parametrize("sentence, flag", [
    ("are you kidding me???", "a question"),
    ("i paid for this and i got NOTHING.", "capitals"),
    ("Refund me now.", "a demand"),
    ("You sent me the wrong item.", "speaks to someone"),
    ("Why is it broken??", 'repeated "!" or "?"'),
])
def test_what_is_not_formal_first_person_prose_is_flagged(sentence, flag):
    [judged] = read_notes(sentence)
    assert not judged.usable and any(flag in p for p in judged.problems), judged.problems
    assert judged.original == sentence


def test_the_seller_in_the_third_person_is_marked():
    judged = read_notes("The seller never answered. The lid is cracked.")
    assert [n.about_seller for n in judged] == [True, False] and all(n.usable for n in judged)
