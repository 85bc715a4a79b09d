"""English-or-not on short buyer sentences: evidence-kit's notes reader against plain lingua (all languages).

Accuracy, not timing. The sentences are the labelled set in tests/test_notes.py.
Run: .venv/bin/python bench/language.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from lingua import Language, LanguageDetectorBuilder  # noqa: E402
from test_notes import LABELLED  # noqa: E402

from evidence_kit.dispute.notes import read_notes  # noqa: E402


def main() -> None:
    plain = LanguageDetectorBuilder.from_all_languages().build()
    rows = []
    for name, judge in (("evidence-kit notes", lambda s: read_notes(s)[0].language == "english"),
                        ("lingua, all languages", lambda s: plain.detect_language_of(s) == Language.ENGLISH)):
        start = time.perf_counter()
        right = sum(judge(s) == (lang == "english") for lang, ss in LABELLED.items() for s in ss)
        rows.append((name, right, time.perf_counter() - start))
    total = sum(len(ss) for ss in LABELLED.values())
    print(f"{'detector':<24} {'english-or-not':>15} {'seconds (incl. model load)':>28}")
    for name, right, seconds in rows:
        print(f"{name:<24} {f'{right}/{total}':>15} {seconds:>28.2f}")


if __name__ == "__main__":
    main()
