"""Photo selection at scale: the indexed select_photos gives exactly the plain greedy's result, with far fewer
hash comparisons (issue 24, "Scale")."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import imagehash
import numpy as np
import pytest

from evidence_kit.media import photos
from evidence_kit.media.photos import DUPLICATE_DISTANCE, PhotoAnalysis, Selection, select_photos


def reference_select(analyses: Sequence[PhotoAnalysis], count: int,
                     ranks: dict[Path, int] | None = None) -> Selection:
    """select_photos as it was before the index (commit f3eb25c): every photo against every keeper, then a
    greedy loop that re-scores the whole pool against everything chosen. Kept verbatim as the specification."""
    ranks = {p.resolve(): r for p, r in (ranks or {}).items()}

    def preference(a: PhotoAnalysis) -> tuple[int, float]:
        return (ranks.get(a.path.resolve(), 10**6), -a.sharpness)

    ordered = sorted(analyses, key=preference)
    keepers: list[PhotoAnalysis] = []
    left_out: list[tuple[PhotoAnalysis, str]] = []
    duplicates_of: dict[Path, Path] = {}
    for a in ordered:
        twin = next((k for k in keepers if a.phash - k.phash <= DUPLICATE_DISTANCE), None)
        if twin is None:
            keepers.append(a)
        else:
            duplicates_of[a.path] = twin.path
            left_out.append((a, f"near-duplicate of {twin.path.name} (hash distance {a.phash - twin.phash})"))
    ranked = [k for k in keepers if k.path.resolve() in ranks]
    pool = [k for k in keepers if k.path.resolve() not in ranks]
    chosen = ranked[:count]
    top_sharpness = max((k.sharpness for k in pool), default=1.0) or 1.0
    while len(chosen) < count and pool:
        def score(a: PhotoAnalysis) -> float:
            distance = min((a.phash - c.phash for c in chosen), default=64)
            return 0.5 * a.sharpness / top_sharpness + 0.5 * min(distance, 32) / 32

        best = max(pool, key=score)
        chosen.append(best)
        pool.remove(best)
    for a in ranked[count:] + pool:
        left_out.append((a, f"the form takes {count} photos; ranked lower than the ones uploaded"))
    return Selection(chosen, left_out, duplicates_of)


def random_analyses(seed: int, n: int, folder: Path) -> tuple[list[PhotoAnalysis], dict[Path, int]]:
    """``n`` analyses over few scenes: each photo a scene's hash with 0-14 bits flipped (so chains of
    near-duplicates, exact repeats and pairs just past the threshold), sharpness from a few values (ties), some
    scenes close to each other (capped distances tie too), and ranks on a few photos (some sharing a rank)."""
    rng = np.random.default_rng(seed)
    scenes = [rng.integers(0, 2, 64).astype(bool) for _ in range(max(1, n // 6))]
    for i in range(1, len(scenes), 3):  # scenes 10-20 bits from another: inside the 32-bit cap of the score
        scenes[i] = scenes[i - 1] ^ (rng.permutation(64) < rng.integers(10, 21))
    analyses = []
    for i in range(n):
        bits = scenes[rng.integers(len(scenes))] ^ (rng.permutation(64) < rng.integers(0, 15))
        sharpness = float(rng.choice([0.0, 1.0, 2.5, 2.5, 7.0, 40.0, 40.0]))
        analyses.append(PhotoAnalysis(folder / f"p{i:04d}.jpg", imagehash.ImageHash(bits.reshape(8, 8)), sharpness,
                                      800, 600))
    ranks = {folder / f"p{int(i):04d}.jpg": int(rng.integers(1, 4))
             for i in rng.choice(n, size=min(n, int(rng.integers(0, 5))), replace=False)}
    return analyses, ranks


def as_data(selection: Selection) -> dict[str, Any]:
    return {"chosen": [id(a) for a in selection.chosen],
            "left_out": [(id(a), why) for a, why in selection.left_out],
            "duplicates_of": selection.duplicates_of}


@pytest.mark.parametrize("seed", range(40))
def test_selection_is_the_plain_greedys(seed, tmp_path):
    n = [1, 2, 7, 30, 90, 160][seed % 6]
    analyses, ranks = random_analyses(seed, n, tmp_path)
    for count in sorted({0, 1, 3, 9, n - 1, n, n + 2}):
        got, want = select_photos(analyses, count, ranks), reference_select(analyses, count, ranks)
        assert as_data(got) == as_data(want), (seed, n, count)


def test_selection_equal_sharpness_and_distance_keeps_input_order(tmp_path):
    """All scores equal: the greedy keeps the pool's order (the earliest wins every tie)."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 2, 64).astype(bool)
    analyses = []
    for i in range(12):  # 9-bit steps apart along disjoint bits: pairwise 18+ bits, no duplicates
        bits = base.copy()
        bits[(i * 5) % 64:(i * 5) % 64 + 5] ^= True
        analyses.append(PhotoAnalysis(tmp_path / f"t{i}.jpg", imagehash.ImageHash(bits.reshape(8, 8)), 3.0, 10, 10))
    got, want = select_photos(analyses, 6), reference_select(analyses, 6)
    assert as_data(got) == as_data(want)


@pytest.mark.parametrize("count", [10, None])
def test_selection_compares_far_fewer_hashes(count, tmp_path, monkeypatch):
    """2,000 photos, 5 shots of each of 400 scenes: the plan's two calls (the form's 10 slots, and all photos to
    count the distinct ones). Every Hamming distance is counted, through imagehash (the old code) or the new
    ``_hamming``. The old code made ~10^6 comparisons for 10 slots and ~10^8 for all photos (it did not finish);
    the index needs about n log n to collapse duplicates, and the greedy over the 400 distinct photos at most
    k^2 / 2 for all of them (an exact greedy must check each chosen photo against those chosen before it)."""
    rng = np.random.default_rng(11)
    scenes = [rng.integers(0, 2, 64).astype(bool) for _ in range(400)]
    analyses = []
    for i in range(2000):
        bits = scenes[i % 400] ^ (rng.permutation(64) < rng.integers(0, 5))
        analyses.append(PhotoAnalysis(tmp_path / f"p{i:04d}.jpg", imagehash.ImageHash(bits.reshape(8, 8)),
                                      float(rng.random()), 800, 600))
    n, distinct = len(analyses), len(scenes)
    budget = 4 * n * math.log2(n) + (3 * count * distinct if count else distinct * distinct / 2)
    comparisons = 0

    def counted() -> None:
        nonlocal comparisons
        comparisons += 1
        if comparisons > budget:  # stop the old cubic loop here rather than after hours
            raise AssertionError(f"over {budget:,.0f} hash comparisons")

    old_sub = imagehash.ImageHash.__sub__

    def counting_sub(self, other):
        counted()
        return old_sub(self, other)

    def counting_hamming(x, y):
        counted()
        return (x ^ y).bit_count()

    monkeypatch.setattr(imagehash.ImageHash, "__sub__", counting_sub)
    monkeypatch.setattr(photos, "_hamming", counting_hamming, raising=False)
    selection = select_photos(analyses, count or n)
    assert len(selection.chosen) + len(selection.left_out) - len(selection.duplicates_of) == distinct
    print(f"{comparisons:,} comparisons for count={count or n} (budget {budget:,.0f})")
