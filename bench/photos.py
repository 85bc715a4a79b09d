"""Photo fitting, side by side: evidence-kit vs ImageMagick (jpeg:extent) vs jpegoptim --size, in one run.

    .venv/bin/python bench/photos.py [--limit 2000000] [--no-large] [--photos DIR]

For each photo and tool: output bytes (and OVER when past the limit), colour SSIM (mean of the R, G and B
planes' SSIM, the metric evidence-kit ranks its candidates by), luma SSIM (both Gaussian window, against the
upright source, outputs scaled back to the source size), colour SSIM at screen size (source and output both
scaled to a long side of 1920 px, as a mediator sees a photo on a screen) and wall time; then totals, time
ratios and on how many photos evidence-kit's colour and luma SSIM (and colour SSIM at screen size) are at least
the best in-limit peer's. Inputs: generated photos (always) and real photos (``--photos``, default
../shared/media/photos) re-saved as phone-like JPEGs (quality 96), when that folder exists. Quote the ratios, not the absolute times: machines are noisy.
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
from evidence_kit.media.photos import colour_ssim, fit_photo, ssim  # noqa: E402
from tests.conftest import SHARED_MEDIA, colour_detail_photo, noisy_photo  # noqa: E402

IMAGEMAGICK = "/usr/bin/convert"  # plain `convert` on PATH is a stand-in on these machines (TOOLCHAIN.md)


def make_inputs(folder: Path, large: bool, photos: Path) -> list[Path]:
    inputs = []
    if photos.is_dir():
        for photo in sorted(photos.glob("*.jpg")):
            target = folder / f"real-{photo.stem.split('_')[0].lower()}.jpg"
            Image.open(photo).save(target, quality=96)
            inputs.append(target)
    small = folder / "gen-small-under-limit.jpg"
    noisy_photo(1600, 1200, seed=3, noise=6).save(small, quality=90)
    inputs.append(small)
    colour = folder / "gen-20mp-colour-detail.jpg"
    colour_detail_photo(5184, 3888).save(colour, quality=95, subsampling="4:4:4")
    inputs.append(colour)
    twelve = folder / "gen-12mp-noisy.jpg"
    noisy_photo(4032, 3024, seed=1, noise=10).save(twelve, quality=95)
    inputs.append(twelve)
    if large:
        big = folder / "gen-48mp-very-noisy.jpg"
        noisy_photo(8000, 6000, seed=2, noise=25).save(big, quality=95)
        inputs.append(big)
    return inputs


def upright(source: Path) -> Image.Image:
    """The source as the scores compare against it: turned upright, RGB. Decoded once per photo."""
    return ImageOps.exif_transpose(Image.open(source)).convert("RGB")


SCREEN_LONG_SIDE = 1920


def on_screen(image: Image.Image) -> Image.Image:
    """``image`` at the size a screen shows it whole: long side SCREEN_LONG_SIDE px (never enlarged)."""
    scale = min(1.0, SCREEN_LONG_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def score(reference: Image.Image, reference_on_screen: Image.Image,
          result: Image.Image) -> tuple[float, float, float]:
    """(colour SSIM, luma SSIM, colour SSIM at screen size) of ``result`` against the RGB ``reference``: the first
    two with ``result`` resized back when scaled, the third with both at ``reference_on_screen``'s size."""
    result = result.convert("RGB")
    seen = result if result.size == reference_on_screen.size else result.resize(reference_on_screen.size,
                                                                                  Image.Resampling.LANCZOS)
    if result.size != reference.size:
        result = result.resize(reference.size, Image.Resampling.BICUBIC)
    colour = colour_ssim(np.asarray(reference), np.asarray(result))
    return (colour, ssim(np.asarray(reference.convert("L")), np.asarray(result.convert("L"))),
            colour_ssim(np.asarray(reference_on_screen), np.asarray(seen)))


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
    parser.add_argument("--photos", type=Path, default=SHARED_MEDIA, help="folder of real JPEG photos")
    args = parser.parse_args()
    for tool in (IMAGEMAGICK, shutil.which("jpegoptim")):
        if not tool or not Path(tool).exists():
            sys.exit("bench/photos.py needs ImageMagick (/usr/bin/convert) and jpegoptim: run `make setup`")
    tools = ("evidence-kit", "imagemagick", "jpegoptim")
    totals = {t: 0.0 for t in tools}
    colour_wins = luma_wins = screen_wins = over = rows = 0
    with tempfile.TemporaryDirectory(prefix="ek-bench-") as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        out.mkdir()
        inputs = make_inputs(folder, large=not args.no_large, photos=args.photos)
        print(f"limit {args.limit:,} bytes; {len(inputs)} photos; RGB = colour SSIM, Y = luma SSIM, "
              f"RGB@{SCREEN_LONG_SIDE} = colour SSIM at screen size; "
              "t/IM, t/JO = evidence-kit's time over ImageMagick's, jpegoptim's\n")
        print(f"{'photo':<26} {'source':>10} | " + " | ".join(f"{t:^46}" for t in tools) + f" | {'t/IM':>5} {'t/JO':>5}")
        print(f"{'':<26} {'bytes':>10} | " + " | ".join(
            f"{'bytes':>10} {'RGB':>6} {'Y':>6} {f'RGB@{SCREEN_LONG_SIDE}':>8} {'time s':>6} {'':>4}"
            for _ in tools) + " |")
        for src in inputs:
            results = run_tools(src, out, args.limit)
            cells, scores = [], {}
            reference = upright(src)
            reference_on_screen = on_screen(reference)
            for tool in tools:
                path, seconds = results[tool]
                size = path.stat().st_size
                totals[tool] += seconds
                colour, luma, screen = score(reference, reference_on_screen, Image.open(path))
                scores[tool] = (colour, luma, screen, size <= args.limit)
                flag = "" if size <= args.limit else "OVER"
                cells.append(f"{size:>10,} {colour:>6.4f} {luma:>6.4f} {screen:>8.4f} {seconds:>6.2f} {flag:>4}")
            peers = [s for t, s in scores.items() if t != "evidence-kit" and s[3]]
            ours = scores["evidence-kit"]
            rows += 1
            over += not ours[3]
            colour_wins += ours[3] and ours[0] >= max((p[0] for p in peers), default=0.0) - 1e-4
            luma_wins += ours[3] and ours[1] >= max((p[1] for p in peers), default=0.0) - 1e-4
            screen_wins += ours[3] and ours[2] >= max((p[2] for p in peers), default=0.0) - 1e-4
            ratios = (results["evidence-kit"][1] / results["imagemagick"][1],
                      results["evidence-kit"][1] / results["jpegoptim"][1])
            print(f"{src.name:<26} {src.stat().st_size:>10,} | " + " | ".join(cells)
                  + f" | {ratios[0]:>5.2f} {ratios[1]:>5.2f}")
    print("\ntotal wall time: " + ", ".join(f"{t} {totals[t]:.2f} s" for t in tools))
    print(f"ratio evidence-kit / jpegoptim time: {totals['evidence-kit'] / totals['jpegoptim']:.2f}")
    print(f"ratio evidence-kit / imagemagick time: {totals['evidence-kit'] / totals['imagemagick']:.2f}")
    print(f"evidence-kit colour SSIM >= best in-limit peer on {colour_wins} of {rows} photos, "
          f"luma SSIM on {luma_wins} of {rows}, colour SSIM at screen size on {screen_wins} of {rows}; "
          f"evidence-kit over the limit on {over}")


if __name__ == "__main__":
    main()
