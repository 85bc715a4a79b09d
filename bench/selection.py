"""Photo selection at scale: analyse + select_photos over many small photos, and a whole case build.

    .venv/bin/python bench/selection.py [--photos 2000] [--case-photos 400] [--source DIR]

Photos are generated into a temporary folder: scenes of random shapes, each shot 1-6 times (shifted,
cropped, brighter or darker, with its own sensor noise), so a large share are near-duplicates, as when a
buyer keeps every burst shot. Timed: analyse_photo over all of them, then the plan's two select_photos calls
(every photo, to count the distinct ones, and the profile's slots), then `evidence-kit build` of a case
holding the first --case-photos of them. ``--source`` is an evidence-kit checkout to import and run instead
of this one (e.g. a `git worktree` of an older commit, for a before/after ratio). Quote the ratios, not the
absolute times: the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import CASE_TOML  # noqa: E402


def scene(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A random still life: a coloured background and a dozen rectangles and ellipses."""
    im = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = (x0, y0, x0 + int(rng.integers(20, width // 2)), y0 + int(rng.integers(20, height // 2)))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=colour)
    return im


def shot(rng: np.random.Generator, base: Image.Image) -> Image.Image:
    """One more shot of ``base``: a few pixels of shift or crop, exposure and noise of its own."""
    width, height = base.size
    dx, dy = (int(v) for v in rng.integers(0, 12, 2))
    im = base.crop((dx, dy, width - int(rng.integers(0, 12)), height - int(rng.integers(0, 12)))).resize(base.size)
    pixels = np.asarray(im, dtype=np.float32) * float(rng.uniform(0.85, 1.15))
    pixels += rng.normal(0, 4, pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_photos(folder: Path, count: int, seed: int = 1) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths: list[Path] = []
    while len(paths) < count:
        base = scene(rng, 480, 360)
        for _ in range(min(int(rng.integers(1, 7)), count - len(paths))):
            path = folder / f"IMG_{len(paths):05d}.jpg"
            shot(rng, base).save(path, quality=90)
            paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--case-photos", type=int, default=400, help="photos in the built case (0: no build)")
    parser.add_argument("--source", type=Path, default=ROOT, help="evidence-kit checkout to run")
    args = parser.parse_args()
    source = args.source.resolve()
    sys.path.insert(0, str(source))
    from evidence_kit.media.photos import analyse_photo, select_photos
    from evidence_kit.model.profile import load_profile

    slots = load_profile("aliexpress").max_photos
    print(f"evidence-kit from {source}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="ek-bench-selection-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        paths = make_photos(folder, max(args.photos, args.case_photos))
        started = time.perf_counter()
        analyses = [analyse_photo(p) for p in paths[:args.photos]]
        analysed = time.perf_counter() - started
        started = time.perf_counter()
        everything = select_photos(analyses, len(analyses))
        counted = time.perf_counter() - started
        started = time.perf_counter()
        select_photos(analyses, slots)
        chosen = time.perf_counter() - started
        distinct = len(analyses) - len(everything.duplicates_of)
        print(f"{len(analyses)} photos ({distinct} distinct): analyse {analysed:.2f} s, select all (count "
              f"duplicates) {counted:.3f} s, select {slots} slots {chosen:.3f} s, "
              f"total {analysed + counted + chosen:.2f} s")
        if args.case_photos:
            case = Path(tmp) / "case"
            (case / "photos").mkdir(parents=True)
            (case / "case.toml").write_text(textwrap.dedent(CASE_TOML), encoding="utf-8")
            for path in paths[:args.case_photos]:
                shutil.copy(path, case / "photos" / path.name)
            # The CLI of --source, not the installed entry point (which imports this checkout).
            command = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                       "from evidence_kit.cli import main; sys.exit(main())", str(source), "build", str(case)]
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            built = time.perf_counter() - started
            if done.returncode != 0:
                sys.exit(f"build failed ({done.returncode}):\n{done.stderr}")
            print(f"build of a case with {args.case_photos} photos: {built:.2f} s")


if __name__ == "__main__":
    main()
