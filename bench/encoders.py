"""Encoder trial, side by side: evidence-kit's fit (Pillow's libjpeg-turbo, scale and chroma chosen by colour
SSIM) against Google's jpegli (PyPI ``pyjpegli``) given the same 2 MB budget, in one run.

    .venv/bin/python -m pip install pyjpegli   # not a dependency: this trial is why
    .venv/bin/python bench/encoders.py [--no-large] [--scales 1.0 0.85 0.7]

For jpegli, each scale gets the highest quality from the floor (60) up that fits; the best by colour SSIM is
its row. Scores are bench/photos.py's (colour and luma SSIM against the upright source, the result resized
back). Photos that evidence-kit keeps losslessly (already under the limit) are left out: no encoder is used.
jpegli is adopted only if it wins here. MozJPEG is not tried: the imagecodecs 2026.3.6 wheel reports
MOZJPEG unavailable.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.photos import make_inputs, on_screen, score, upright  # noqa: E402
from evidence_kit.media.photos import QUALITY_FLOOR, fit_photo  # noqa: E402
from tests.conftest import SHARED_MEDIA  # noqa: E402


def jpegli_best(reference: Image.Image, reference_on_screen: Image.Image, limit: int,
                scales: list[float]) -> tuple[float, float, float, int, float] | None:
    """(colour SSIM, luma SSIM, scale, quality, seconds) of jpegli's best fitting candidate for the upright
    ``reference``; None if none fits."""
    import pyjpegli

    best, seconds = None, 0.0
    for scale in scales:
        image = reference if scale == 1.0 else reference.resize(
            (round(reference.width * scale), round(reference.height * scale)), Image.Resampling.LANCZOS)
        raw, low, high, fitting = image.tobytes(), QUALITY_FLOOR, 98, None
        started = time.perf_counter()
        while low <= high:  # highest quality that fits
            quality = (low + high) // 2
            data = pyjpegli.encode(raw, image.width, image.height, quality)
            if len(data) <= limit:
                fitting, low = (quality, data), quality + 1
            else:
                high = quality - 1
        seconds += time.perf_counter() - started
        if fitting is None:
            continue
        colour, luma, _ = score(reference, reference_on_screen, Image.open(io.BytesIO(fitting[1])))
        if best is None or colour > best[0]:
            best = (colour, luma, scale, fitting[0])
    return None if best is None else (*best, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2_000_000)
    parser.add_argument("--no-large", action="store_true", help="skip the 48 MP photo")
    parser.add_argument("--photos", type=Path, default=SHARED_MEDIA, help="folder of real JPEG photos")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.85, 0.7, 0.6, 0.5])
    args = parser.parse_args()
    try:
        import pyjpegli  # noqa: F401
    except ImportError:
        sys.exit("bench/encoders.py needs pyjpegli: .venv/bin/python -m pip install pyjpegli")
    wins = rows = 0
    with tempfile.TemporaryDirectory(prefix="ek-bench-encoders-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        print(f"limit {args.limit:,} bytes; jpegli scales {args.scales}; RGB = colour SSIM, Y = luma SSIM\n")
        print(f"{'photo':<26} | {'evidence-kit':^32} | {'jpegli':^38} | {'time ratio':>10}")
        for src in make_inputs(folder, large=not args.no_large, photos=args.photos):
            out = Path(tmp) / f"ek-{src.name}"
            started = time.perf_counter()
            ours = fit_photo(src, out, max_bytes=args.limit)
            our_seconds = time.perf_counter() - started
            if ours.method != "reencode":
                continue
            reference = upright(src)
            reference_on_screen = on_screen(reference)
            colour, luma, _ = score(reference, reference_on_screen, Image.open(out))
            theirs = jpegli_best(reference, reference_on_screen, args.limit, args.scales)
            rows += 1
            if theirs is None:
                wins += 1
                print(f"{src.name:<26} | {colour:.4f} {luma:.4f} q{ours.quality} x{ours.scale:<5} | "
                      f"{'nothing fits at >= q' + str(QUALITY_FLOOR):^38} |")
                continue
            wins += colour >= theirs[0]
            print(f"{src.name:<26} | {colour:.4f} {luma:.4f} q{ours.quality:<3} x{ours.scale:<5} "
                  f"{ours.subsampling:<5} | "
                  f"{theirs[0]:.4f} {theirs[1]:.4f} q{theirs[3]:<3} x{theirs[2]:<5} {theirs[4]:6.1f} s | "
                  f"{our_seconds / theirs[4]:10.2f}")
    print(f"\nevidence-kit's colour SSIM >= jpegli's best on {wins} of {rows} re-encoded photos "
          "(time ratio: evidence-kit's whole fit over jpegli's encodes alone)")


if __name__ == "__main__":
    main()
