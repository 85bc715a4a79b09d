"""Photo fitting, side by side: evidence-kit vs ImageMagick (jpeg:extent) vs jpegoptim --size, in one run.

    .venv/bin/python bench/photos.py [--limit 2000000] [--no-large]

For each photo: output bytes, SSIM against the upright source (luma, Gaussian window; outputs scaled back to
the source size; the same SSIM evidence-kit ranks its candidates by) and wall time per tool; then totals and ratios. Inputs: generated photos (always) and the
real photos in ../shared/media/photos re-saved as phone-like JPEGs (quality 96), when that folder exists.
Quote the ratios, not the absolute times: machines are noisy.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from evidence_kit.media.photos import fit_photo, ssim  # noqa: E402
from tests.conftest import SHARED_MEDIA, noisy_photo  # noqa: E402

IMAGEMAGICK = "/usr/bin/convert"  # plain `convert` on PATH is a stand-in on these machines (TOOLCHAIN.md)


def make_inputs(folder: Path, large: bool) -> list[Path]:
    inputs = []
    if SHARED_MEDIA.is_dir():
        for photo in sorted(SHARED_MEDIA.glob("*.jpg")):
            target = folder / f"real-{photo.stem.split('_')[0].lower()}.jpg"
            Image.open(photo).save(target, quality=96)
            inputs.append(target)
    small = folder / "gen-small-under-limit.jpg"
    noisy_photo(1600, 1200, seed=3, noise=6).save(small, quality=90)
    inputs.append(small)
    twelve = folder / "gen-12mp-noisy.jpg"
    noisy_photo(4032, 3024, seed=1, noise=10).save(twelve, quality=95)
    inputs.append(twelve)
    if large:
        big = folder / "gen-48mp-very-noisy.jpg"
        noisy_photo(8000, 6000, seed=2, noise=25).save(big, quality=95)
        inputs.append(big)
    return inputs


def luma(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L"))


def score(source: Path, output: Path) -> float:
    reference = ImageOps.exif_transpose(Image.open(source))
    result = Image.open(output)
    if result.size != reference.size:
        result = result.resize(reference.size, Image.Resampling.BICUBIC)
    return ssim(luma(reference), luma(result))


def run_tools(src: Path, out: Path, limit: int) -> dict[str, tuple[Path, float]]:
    results = {}
    target = out / f"ek-{src.name}"
    start = time.perf_counter()
    fit_photo(src, target, max_bytes=limit)
    results["evidence-kit"] = (target, time.perf_counter() - start)

    target = out / f"im-{src.name}"
    start = time.perf_counter()
    subprocess.run([IMAGEMAGICK, str(src), "-auto-orient", "-strip", "-define", f"jpeg:extent={limit // 1024}KB",
                    str(target)], check=True, capture_output=True)
    results["imagemagick"] = (target, time.perf_counter() - start)

    target = out / f"jo-{src.name}"
    start = time.perf_counter()
    with open(target, "wb") as handle:
        subprocess.run(["jpegoptim", f"--size={limit // 1024}", "--strip-all", "--stdout", str(src)],
                       check=True, stdout=handle, stderr=subprocess.DEVNULL)
    results["jpegoptim"] = (target, time.perf_counter() - start)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2_000_000)
    parser.add_argument("--no-large", action="store_true", help="skip the 48 MP photo")
    args = parser.parse_args()
    for tool in (IMAGEMAGICK, shutil.which("jpegoptim")):
        if not tool or not Path(tool).exists():
            sys.exit("bench/photos.py needs ImageMagick (/usr/bin/convert) and jpegoptim: run `make setup`")
    tools = ("evidence-kit", "imagemagick", "jpegoptim")
    totals = {t: 0.0 for t in tools}
    wins, rows = 0, 0
    with tempfile.TemporaryDirectory(prefix="ek-bench-") as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        out.mkdir()
        inputs = make_inputs(folder, large=not args.no_large)
        print(f"limit {args.limit:,} bytes; {len(inputs)} photos\n")
        print(f"{'photo':<28} {'source':>11} | " + " | ".join(f"{t:^32}" for t in tools))
        print(f"{'':<28} {'bytes':>11} | " + " | ".join(f"{'bytes':>10} {'SSIM':>7} {'time s':>7} {'':>4}"
                                                      for _ in tools))
        for src in inputs:
            results = run_tools(src, out, args.limit)
            cells, scores = [], {}
            for tool in tools:
                path, seconds = results[tool]
                size = path.stat().st_size
                totals[tool] += seconds
                scores[tool] = (score(src, path), size <= args.limit)
                flag = "" if size <= args.limit else "OVER"
                cells.append(f"{size:>10,} {scores[tool][0]:>7.4f} {seconds:>7.2f} {flag:>4}")
            best_peer = max((s for t, (s, ok) in scores.items() if t != "evidence-kit" and ok), default=0.0)
            rows += 1
            wins += scores["evidence-kit"][0] >= best_peer - 1e-4 and scores["evidence-kit"][1]
            print(f"{src.name:<28} {src.stat().st_size:>11,} | " + " | ".join(cells))
    print("\ntotal wall time: " + ", ".join(f"{t} {totals[t]:.2f} s" for t in tools))
    print(f"ratio evidence-kit / jpegoptim time: {totals['evidence-kit'] / totals['jpegoptim']:.2f}")
    print(f"ratio evidence-kit / imagemagick time: {totals['evidence-kit'] / totals['imagemagick']:.2f}")
    print(f"evidence-kit SSIM >= best in-limit peer on {wins} of {rows} photos")


if __name__ == "__main__":
    main()
