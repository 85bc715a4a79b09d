"""A photo that must be re-encoded is written at the highest JPEG quality that fits the limit (issue 24, "Photos:
highest quality that fits"), and the names in the reasons a photo was left out are shown safely."""
from __future__ import annotations

import io
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageFile

from evidence_kit.media.photos import (PhotoAnalysis, PhotoResult, _resize, colour_ssim, fit_photo, scaled_size,
                                       select_photos)

from .conftest import SHARED_MEDIA, noisy_photo

LIMIT = 2_000_000
DRAGONFLY = "Dragonfly_by_Bolly.jpg"


def encoded_size(im: Image.Image, quality: int, subsampling: str) -> int:
    """Bytes of ``im`` as a JPEG with the settings evidence-kit encodes with (baseline, optimised tables)."""
    buffer = io.BytesIO()
    saved, ImageFile.MAXBLOCK = ImageFile.MAXBLOCK, 4 * im.width * im.height  # room for noise at q100
    try:
        im.save(buffer, "JPEG", quality=quality, subsampling=subsampling, optimize=True)
    finally:
        ImageFile.MAXBLOCK = saved
    return buffer.tell()


def assert_highest_that_fits(src: Path, result: PhotoResult, limit: int) -> None:
    """The output is under ``limit`` on disk and its quality is the highest that fits at its scale and chroma
    subsampling: one step up is over the limit, or it is already 100. The pixels encoded are the source's (at
    the output's size), so those are encoded again here."""
    assert result.method == "reencode"
    assert result.output.stat().st_size == result.bytes <= limit
    assert Image.open(result.output).format == "JPEG"
    assert result.quality is not None
    if result.quality < 100:
        source = Image.open(src).convert("RGB")
        if result.scale != 1.0:
            source = _resize(source, scaled_size(source.size, result.scale, floor=16), reducing_gap=3.0)
        assert source.size == (result.width, result.height)
        assert encoded_size(source, result.quality + 1, result.subsampling) > limit, result


def test_png_that_fits_easily_is_written_at_the_highest_quality_that_fits(tmp_path):
    # A 2 MP PNG (a screenshot, a photo saved from a messenger): at q95 it takes half the limit (0.98 MB at
    # 4:4:4, 0.57 MB at 4:2:0), where q97 fits at 4:4:4 and q100 at 4:2:0.
    src = tmp_path / "defect.png"
    noisy_photo(1800, 1200, seed=5, noise=4).save(src)
    result = fit_photo(src, tmp_path / "out.jpg", max_bytes=LIMIT)
    assert result.scale == 1.0 and result.quality is not None and result.quality > 95
    assert_highest_that_fits(src, result, LIMIT)


@pytest.mark.slow
def test_noisy_huge_png_still_fits_under_the_limit(tmp_path):
    # 12 MP of noisy texture: at 2 MB the quality comes down (about q80); at a configured 12 MB limit q96-q100
    # fit, where a 4:4:4 encode grows 1.8 MB per quality step, and the limit must still hold.
    src = tmp_path / "noisy.png"
    noisy_photo(4000, 3000, seed=11, noise=8).save(src, compress_level=1)
    for limit in (LIMIT, 12_000_000):
        result = fit_photo(src, tmp_path / f"out-{limit}.jpg", max_bytes=limit)
        assert_highest_that_fits(src, result, limit)
    assert result.quality is not None and result.quality > 95
    # Pure noise, the worst case for JPEG: still under the limit (scaled down and at a lower quality).
    noise = tmp_path / "noise.png"
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8), "RGB").save(noise, compress_level=1)
    assert_highest_that_fits(noise, fit_photo(noise, tmp_path / "noise.jpg", max_bytes=LIMIT), LIMIT)


def test_near_duplicate_reason_escapes_a_right_to_left_override_in_the_name(tmp_path):
    bits = np.random.default_rng(1).integers(0, 2, 64).astype(bool).reshape(8, 8)
    twin = PhotoAnalysis(tmp_path / "A\u202egpj.exe.jpg", imagehash.ImageHash(bits), 9.0, 800, 600)
    copy = PhotoAnalysis(tmp_path / "Z-copy.jpg", imagehash.ImageHash(bits), 1.0, 800, 600)
    selection = select_photos([twin, copy], 3)
    assert [a.path for a in selection.chosen] == [twin.path]
    (left, reason), = selection.left_out
    assert left is copy
    assert "\u202e" not in reason
    assert "near-duplicate of A\\u202egpj.exe.jpg" in reason


def highest_fitting(im: Image.Image, limit: int, subsampling: str) -> bytes:
    lo, hi, best = 1, 100, b""
    while lo <= hi:
        mid = (lo + hi) // 2
        buffer = io.BytesIO()
        im.save(buffer, "JPEG", quality=mid, subsampling=subsampling, optimize=True)
        if buffer.tell() <= limit:
            best, lo = buffer.getvalue(), mid + 1
        else:
            hi = mid - 1
    return best


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_MEDIA / DRAGONFLY).is_file(), reason="no real photos here (../shared/media)")
def test_real_photo_as_png_gets_the_better_of_both_chroma_subsamplings_at_their_highest_quality(tmp_path):
    # A real photo at 1920 px as PNG fits at q99-q100: whichever subsampling's highest fitting quality scores the
    # better colour SSIM is the one written (4:4:4 q99 0.9943 against 4:2:0 q100 0.9939; the sample scored the
    # two at their estimated qualities the other way round). The other real photos: bench/photos.py --fits-easily.
    photo = SHARED_MEDIA / DRAGONFLY
    im = Image.open(photo).convert("RGB")
    scale = 1920 / max(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    src = tmp_path / f"{photo.stem}.png"
    im.save(src)
    result = fit_photo(src, tmp_path / f"{photo.stem}.jpg", max_bytes=LIMIT)
    assert_highest_that_fits(src, result, LIMIT)
    reference = np.asarray(im)
    ours = colour_ssim(reference, np.asarray(Image.open(result.output).convert("RGB")))
    best = max(colour_ssim(reference, np.asarray(Image.open(io.BytesIO(highest_fitting(im, LIMIT, s)))
                                                 .convert("RGB"))) for s in ("4:2:0", "4:4:4"))
    assert ours >= best - 1e-4, (result.quality, result.subsampling, ours, best)
