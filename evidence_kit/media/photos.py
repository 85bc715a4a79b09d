"""Photo stage: decode any phone format, make it upright sRGB, strip private metadata, fit under the limit.

Public calls: ``fit_photo`` (one file), ``fit_image`` (an already decoded image, used by other stages),
``analyse_photo`` and ``select_photos`` (choose what to upload), ``make_grid`` (the leftovers in one image).
"""
from __future__ import annotations

import functools
import heapq
import io
import os
import struct
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from math import ceil, sqrt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from PIL import (ExifTags, Image, ImageCms, ImageDraw, ImageFile, ImageFilter, ImageFont, ImageOps, ImageStat,
                 JpegImagePlugin)

from ..errors import InputError, LimitError
from ..fsutil import atomic_path
from ..names import shown
from ..tools import jpegtran

# numpy (0.07 s to import) is imported in the functions that measure pixels: a photo copied losslessly, the
# common case of one `evidence-kit photos` run, never needs it.
if TYPE_CHECKING:
    import numpy as np
    import imagehash


@functools.lru_cache(maxsize=None)
def _register_heif() -> None:
    """HEIC/HEIF/AVIF from phones: Pillow's opener is registered on the first photo read, not on import."""
    import pillow_heif

    pillow_heif.register_heif_opener()

# A 200 MP phone photo is the largest real input; anything bigger is treated as a decompression bomb.
# Checked by ``_open_lazy``; Pillow's own global limit is never changed (other libraries share it).
MAX_PIXELS = 200_000_000

# Below this JPEG quality the image is scaled down instead: measured on real photos (TOOLCHAIN.md),
# q34 at full size scored SSIM 0.932 while 0.75x at q68 scored 0.940.
QUALITY_FLOOR = 60
# For evidence the best quality that fits is the default, up to libjpeg's top (all quantisers 1): a photo that
# fits easily (a PNG, WebP or HEIC source of a few MP) was written at a q95 cap using a fraction of the limit.
QUALITY_MAX = 100
# Re-encodes are baseline (sequential) JPEGs with optimised Huffman tables, which every decoder reads.
# Measured on a 13 MP photo at q85: optimised tables save 2.8 % over standard ones for 2x a 0.04 s encode;
# progressive would save another 2.7 % but costs 2.2x the encode time and is not baseline; 4:4:4 chroma
# costs 22 % more bytes, so it is chosen per photo by measured colour SSIM (bench/photos.py).
ENCODER = {"optimize": True}
# Small images are encoded whole; larger ones are first measured on a sample of MCU-aligned tiles.
SAMPLE_MIN_PIXELS = 2_000_000
SAMPLE_FRACTION = 0.125
# 0.75 MP: on the bench photos 1.5 MP and 0.75 MP chose the same settings (0.75 MP needed fewer full encodes
# on two of them) in 0.75x the time; 0.5 MP chose lower qualities on two photos.
SAMPLE_MAX_PIXELS = 750_000
CANDIDATE_QUALITIES = 3  # qualities measured (from the highest that fits down) for the best setting
FULL_ENCODE_ATTEMPTS = 4
TILE = 128  # a multiple of the 16-pixel MCU, so tile blocks encode exactly as they do in the full image
# Mosaic seams are not in the image, yet chroma upsampling blurs across them and so made 4:2:0 score below
# 4:4:4 on the sample where the full image says the opposite (a 13 MP photo: sample 0.9925 vs 0.9931, full
# 0.9946 vs 0.9925). Leaving this many pixels at each tile edge out of the score gives the full-image values.
SEAM = 6
SCORE_ROWS_FROM = 6  # tile rows in a mosaic from which only every other row is scored
# The sample's SSIM maps are computed on every 4th row and column (SsimReference): on the bench photos steps
# 1, 2, 3 and 4 chose the same setting each time, and step 4 scores a candidate 5x faster than step 1.
SCORE_STEP = 4

# Pillow raises these for hostile or broken files, some only at load() (Pillow's own corpus tests).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, KeyError,
                 ZeroDivisionError, MemoryError, Image.DecompressionBombError, ImageCms.PyCMSError)

_ORIENTATION = 0x0112
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_DEVICE_TAGS = {0xA431: "BodySerialNumber", 0xA435: "LensSerialNumber", 0xA430: "CameraOwnerName",
                0xA420: "ImageUniqueID", 0x927C: "MakerNote"}
_JPEGTRAN_OPS = {2: ["-flip", "horizontal"], 3: ["-rotate", "180"], 4: ["-flip", "vertical"], 5: ["-transpose"],
                 6: ["-rotate", "90"], 7: ["-transverse"], 8: ["-rotate", "270"]}
_SRGB = ImageCms.createProfile("sRGB")


class PhotoError(InputError):
    """A photo that cannot be read or used; the message is written for the buyer."""


@dataclass
class SourceFacts:
    """What the original file said about itself (kept for the manifest, never copied to uploads)."""

    format: str
    width: int
    height: int
    mode: str
    orientation: int = 1
    captured: str | None = None
    had_gps: bool = False
    had_device_ids: list[str] = field(default_factory=list)
    icc_profile: str | None = None


@dataclass
class PhotoResult:
    source: Path
    output: Path
    bytes: int
    width: int
    height: int
    method: str  # "lossless" (pixels untouched) or "reencode"
    quality: int | None
    scale: float
    facts: SourceFacts
    stripped: list[str]
    subsampling: str = ""

    def transform(self) -> dict[str, Any]:
        return {"method": self.method, "quality": self.quality, "scale": round(self.scale, 4),
                "width": self.width, "height": self.height, "subsampling": self.subsampling,
                "orientation_applied": self.facts.orientation, "colour": "sRGB",
                "stripped": self.stripped, "source_format": self.facts.format,
                "captured": self.facts.captured}


@dataclass
class Encoded:
    data: bytes
    quality: int
    scale: float
    width: int
    height: int
    subsampling: str


# --- decoding -------------------------------------------------------------------------------------------------

def _bad(path: Path, exc: BaseException) -> PhotoError:
    if isinstance(exc, (Image.DecompressionBombError, MemoryError)):
        return PhotoError(f"too large to be a photo (over {MAX_PIXELS // 1_000_000} megapixels); "
                          "it may be a malicious file", path=str(path))
    if isinstance(exc, FileNotFoundError):
        return PhotoError("file not found", path=str(path))
    if isinstance(exc, PermissionError):
        return PhotoError("cannot read this file (permission denied)", path=str(path))
    if path.exists() and path.stat().st_size == 0:
        return PhotoError("the file is empty (0 bytes): copy it again from the phone", path=str(path))
    # The decoder's own text ("cannot identify image file '/home/…'") carries the full local path and
    # library words; the buyer gets what it means instead.
    detail = "the file ends early" if "truncated" in str(exc) else "its content is not a picture format"
    return PhotoError(f"not a photo evidence-kit can read ({detail}); it may be damaged or incompletely "
                      "copied: copy it again from the phone", path=str(path))


def _open_unchecked_by_pillow(path: Path) -> Image.Image:
    """Open ``path`` lazily through the plugin that recognises it, without Pillow's decompression-bomb check.

    Pillow's check reads its module global ``Image.MAX_IMAGE_PIXELS`` (a warning over 89 MP, a refusal over
    179 MP), below the 200 MP that phones make. Raising that global would change it for every library in
    the process, and setting it only around our own call would still change it for other threads while we
    hold it, so it is left alone: Pillow's warning is ignored, its refusal answered by opening the file again
    through the plugin registry Image.open itself walks (which does not check), and ``_open_lazy`` applies
    our own limit.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except Image.DecompressionBombError:
            pass
    with open(path, "rb") as handle:
        prefix = handle.read(16)
    for format_id in Image.ID:
        factory, accept = Image.OPEN[format_id]
        accepted = accept(prefix) if accept else True
        if accepted and not isinstance(accepted, str):  # a string is Pillow's reason for refusing
            try:
                return factory(str(path))
            except (SyntaxError, IndexError, TypeError, struct.error):
                continue
    raise Image.UnidentifiedImageError(f"cannot identify image file {str(path)!r}")


def _open_lazy(path: Path) -> Image.Image:
    """Open without decoding; anything over MAX_PIXELS is refused as a decompression bomb."""
    _register_heif()
    im = _open_unchecked_by_pillow(path)
    if im.width * im.height > MAX_PIXELS:
        im.close()
        raise Image.DecompressionBombError(f"{im.width}x{im.height}")
    return im


# Photo-sized resizes are split into bands of output rows resized on every core at once: Pillow releases the GIL
# while it resamples, and each band reads its source rows (with the filter's reach) through ``box``, so there is
# no seam. 20 MP -> 9 MP with LANCZOS: 0.51-0.59 s whole, 0.30-0.32 s in two bands on 2 cores. The pixels are a
# whole resize's at most scales; at some (0.88) Pillow's fixed-point rounding differs by a level or two, as close
# to a floating-point resize as the whole one is (mean error 0.208 against 0.207).
PARALLEL_RESIZE_PIXELS = 2_000_000


def _resize(im: Image.Image, size: tuple[int, int], reducing_gap: float | None = None) -> Image.Image:
    """``im.resize(size, LANCZOS, reducing_gap=...)``, on several cores for a large result."""
    workers = min(4, os.cpu_count() or 1)
    if workers < 2 or size[0] * size[1] < PARALLEL_RESIZE_PIXELS or size[1] < 2 * workers:
        return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=reducing_gap)
    im.load()  # once, here: the threads must not each start a lazy decode
    rows_per_row = im.height / size[1]
    cuts = [round(size[1] * i / workers) for i in range(workers + 1)]

    def band(top: int, bottom: int) -> Image.Image:
        return im.resize((size[0], bottom - top), Image.Resampling.LANCZOS,
                         box=(0, top * rows_per_row, im.width, bottom * rows_per_row), reducing_gap=reducing_gap)

    out = Image.new(im.mode, size)
    with ThreadPoolExecutor(workers) as pool:
        for top, part in zip(cuts, pool.map(band, cuts[:-1], cuts[1:])):
            out.paste(part, (0, top))
    return out


def _reduced_size(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """``size`` scaled (aspect kept) to at most ``max_pixels``; unchanged when already within."""
    width, height = size
    if width * height <= max_pixels:
        return size
    scale = sqrt(max_pixels / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _open(path: Path, max_pixels: int | None = None) -> tuple[Image.Image, SourceFacts]:
    """Open and fully load the first frame and read its facts, turning every decoder failure into a PhotoError.

    With ``max_pixels``, a larger photo is decoded reduced where the format allows (JPEG: libjpeg's DCT
    scaling, 1/2 to 1/8, never below the size asked for, so a 200 MP photo never exists in memory at full
    size; HEIC: an embedded thumbnail at least that large, when there is one, else resized to that size as
    it is decoded, see ``heif_reduced``); ``_upright`` finishes.
    """
    try:
        im = _open_lazy(path)
        facts = _facts(im)
        if max_pixels and im.width * im.height > max_pixels:
            size = _reduced_size(im.size, max_pixels)
            if im.draft(None, size) is None and im.format == "HEIF" and im.mode == "RGB":
                from .heif_reduced import decode_reduced

                reduced = decode_reduced(path, size)
                if reduced is not None:
                    reduced.info = dict(im.info)  # ICC profile and EXIF, as the full decode has them
                    im.close()
                    return reduced, facts
        im.load()
    except DECODE_ERRORS as exc:
        raise _bad(path, exc) from None
    return im, facts


def _facts(im: Image.Image) -> SourceFacts:
    exif = im.getexif()
    captured = exif.get_ifd(ExifTags.IFD.Exif).get(_DATETIME_ORIGINAL) or exif.get(0x0132)
    device = [name for tag, name in _DEVICE_TAGS.items() if tag in exif or tag in exif.get_ifd(ExifTags.IFD.Exif)]
    icc = im.info.get("icc_profile")
    icc_name = None
    if icc:
        try:
            icc_name = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
        except (ImageCms.PyCMSError, OSError, TypeError):
            icc_name = "unreadable"
    orientation = exif.get(_ORIENTATION, 1)
    return SourceFacts(format=im.format or "unknown", width=im.width, height=im.height, mode=im.mode,
                       orientation=orientation if orientation in range(1, 9) else 1,
                       captured=str(captured).strip("\x00 ") if captured else None,
                       had_gps=bool(exif.get_ifd(_GPS_IFD)) or _GPS_IFD in exif, had_device_ids=device,
                       icc_profile=icc_name)


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert any mode to 8-bit RGB or L in sRGB, flattening transparency on white."""
    import numpy as np
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale: keep the high byte (Pillow's convert("L") clips instead of scaling).
        array = np.asarray(im, dtype=np.uint32)
        im = Image.fromarray((array >> 8 if array.max() > 255 else array).astype(np.uint8), "L")
    elif im.mode == "F":
        im = Image.fromarray(np.clip(np.asarray(im), 0, 255).astype(np.uint8), "L")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode in ("P", "PA"):
        im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        im = flat
        icc = icc if icc and b"GRAY" not in icc[12:20] else None
    if icc and im.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if im.mode == "CMYK" or "srgb" not in ImageCms.getProfileDescription(source).lower():
                im = ImageCms.profileToProfile(im, source, _SRGB, outputMode="RGB",
                                               renderingIntent=ImageCms.Intent.PERCEPTUAL)
        except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
            pass  # a broken profile: fall back to treating the pixels as sRGB, as browsers do
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    return im


# What ImageOps.exif_transpose does for each orientation tag, applied after any shrinking (cheaper, smaller).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}

# The largest photo written. Measured on the real photos of bench/photos.py (8-13 MP): at q85, 2 MB carries
# 9-28 MP of them (median 21 MP; 4:4:4 about 15 % fewer), so past ~24 MP the limit is met only by lowering the
# quality. 24 MP is also well past what a mediator's screen shows at once (4K 8.3 MP, 5K 14.7 MP) and far
# below default Pillow's bomb warning (89 MP), which a 200 MP original written at full size set off.
MAX_OUTPUT_PIXELS = 24_000_000


def _upright(im: Image.Image, facts: SourceFacts, icc: bytes | None, max_pixels: int | None = None) -> Image.Image:
    """Upright 8-bit sRGB (RGB or L), scaled down to at most ``max_pixels`` first when given."""
    im = _to_srgb(im, icc)
    if max_pixels:
        size = _reduced_size(im.size, max_pixels)
        if size != im.size:
            im = _resize(im, size, reducing_gap=3.0)
    return im.transpose(_UPRIGHT[facts.orientation]) if facts.orientation in _UPRIGHT else im


def load_upright(path: str | Path, max_pixels: int | None = None) -> tuple[Image.Image, SourceFacts]:
    """Decode ``path`` to an upright 8-bit sRGB image (RGB or L) and the facts read from it.

    With ``max_pixels``, the image is scaled down to at most that many pixels (decoded reduced where the
    format allows).
    """
    path = Path(path)
    im, facts = _open(path, max_pixels)
    try:
        return _upright(im, facts, im.info.get("icc_profile"), max_pixels), facts
    except DECODE_ERRORS as exc:
        raise _bad(path, exc) from None


# --- encoding -------------------------------------------------------------------------------------------------

def _encode(im: Image.Image, quality: int, subsampling: str = "4:2:0", exif: bytes | None = None) -> bytes:
    quality = max(1, quality)
    buffer = io.BytesIO()
    options: dict[str, Any] = {"quality": quality, "subsampling": subsampling, **ENCODER}
    if exif:
        options["exif"] = exif
    # Progressive/optimised output is written in one shot, and Pillow sizes that buffer at one byte per
    # pixel, which a noisy image at high quality exceeds ("broken data stream"): make room for the worst case.
    saved_block = ImageFile.MAXBLOCK
    ImageFile.MAXBLOCK = max(saved_block, 3 * im.width * im.height + len(exif or b"") + 4096)
    try:
        im.save(buffer, "JPEG", **options)
    finally:
        ImageFile.MAXBLOCK = saved_block
    return buffer.getvalue()


# SSIM's window: a Gaussian of sigma 1.5 cut at 4 sigma (13 taps), edges mirrored, as scipy.ndimage's
# gaussian_filter computes it (equal to within 3e-5 on 8-bit data). Written out in numpy because importing
# scipy.ndimage took 0.2-0.45 s of every run that re-encodes a photo, and this is no slower (8 ms vs 10 ms
# for a 0.74 MP plane here).
_SSIM_RADIUS = 6


@functools.lru_cache(maxsize=1)
def _ssim_weights() -> tuple[float, ...]:
    import numpy as np
    offsets = np.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1)
    weights = np.exp(-offsets ** 2 / (2 * 1.5 ** 2))
    return tuple(float(w) for w in weights / weights.sum())


def _gaussian_blur(plane: np.ndarray, step: int = 1) -> np.ndarray:
    """``plane`` (2-D float32) blurred by SSIM's window: two 1-D passes, each tap pair summed before weighting.

    With ``step``, only every step-th row and column of the result is computed (``blurred[::step, ::step]``).
    """
    import numpy as np
    r, weights = _SSIM_RADIUS, _ssim_weights()
    height, width = plane.shape
    padded = np.pad(plane, r, mode="symmetric")
    rows = padded[:, r:r + width:step] * np.float32(weights[r])
    for k in range(r):
        rows += np.float32(weights[k]) * (padded[:, k:k + width:step] + padded[:, 2 * r - k:2 * r - k + width:step])
    out = rows[r:r + height:step] * np.float32(weights[r])
    for k in range(r):
        out += np.float32(weights[k]) * (rows[k:k + height:step] + rows[2 * r - k:2 * r - k + height:step])
    return out


class SsimReference:
    """SSIM (Wang et al. 2004, Gaussian window of sigma 1.5) against one 8-bit luma array.

    The reference's local means and variances are computed once, since many candidates are scored against it.
    With ``mask``, only the pixels where it is true are averaged (the inside of a mosaic's tiles, whose seams
    are not in the image). With ``step``, the SSIM map is computed on every step-th row and column only (its
    windows still see every pixel): a quarter of the work for step 2.
    """

    def __init__(self, reference: np.ndarray, mask: np.ndarray | None = None, step: int = 1) -> None:
        import numpy as np
        self.x = reference.astype(np.float32)
        self.step = step
        self.mask = None if mask is None else mask[::step, ::step]
        self.mu_x = _gaussian_blur(self.x, step)
        self.sxx = _gaussian_blur(self.x * self.x, step) - self.mu_x * self.mu_x

    def score(self, test: np.ndarray) -> float:
        import numpy as np
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        y = test.astype(np.float32)
        mu_y = _gaussian_blur(y, self.step)
        syy = _gaussian_blur(y * y, self.step) - mu_y * mu_y
        sxy = _gaussian_blur(self.x * y, self.step) - self.mu_x * mu_y
        value = ((2 * self.mu_x * mu_y + c1) * (2 * sxy + c2)) / (
            (self.mu_x ** 2 + mu_y ** 2 + c1) * (self.sxx + syy + c2))
        return float(value.mean() if self.mask is None else value[self.mask].mean())


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean SSIM of two 8-bit luma arrays of the same size."""
    return SsimReference(reference).score(test)


class ColourSsimReference:
    """SSIM over R, G and B (the mean of the three planes' SSIM), against one 8-bit RGB or L array.

    Luma SSIM cannot see chroma subsampling or chroma quantisation, which is where a photo at the limit loses
    most (a 20 MP photo at ~1.98 MB: 4:2:0 q81 RGB-SSIM 0.919, 4:4:4 q75 0.927, TOOLCHAIN.md), so candidates
    are ranked by this. A greyscale array is scored as its one plane.
    """

    def __init__(self, reference: np.ndarray, mask: np.ndarray | None = None, step: int = 1) -> None:
        self.planes = [SsimReference(plane, mask, step) for plane in _planes(reference)]

    def score(self, test: np.ndarray) -> float:
        import numpy as np
        return float(np.mean([ref.score(plane) for ref, plane in zip(self.planes, _planes(test))]))


def colour_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean RGB SSIM of two 8-bit arrays (H x W x 3, or H x W for greyscale) of the same size."""
    return ColourSsimReference(reference).score(test)


def _planes(array: np.ndarray) -> list[np.ndarray]:
    return [array] if array.ndim == 2 else [array[..., i] for i in range(array.shape[2])]


def _pixels(im: Image.Image) -> np.ndarray:
    import numpy as np
    return np.asarray(im if im.mode == "L" else im.convert("RGB"))


# Chroma subsampling is chosen per photo by measurement: 4:4:4 keeps colour edges at the cost of about 20 %
# more bytes (so a lower quality), which wins on colour detail and loses on photos whose chroma is smooth
# (bench/photos.py). A source JPEG stored 4:2:0 (most phones) has no full-resolution chroma left to keep:
# there 4:4:4 lost on every bench photo (13 MP: RGB-SSIM 0.9925 vs 0.9946), so it is not measured at all.
SUBSAMPLINGS = ("4:2:0", "4:4:4")


def _chroma_choices(im: Image.Image) -> tuple[str, ...]:
    """The subsamplings worth measuring for a decoded source: only 4:2:0 for a JPEG that was stored so."""
    if im.format in ("JPEG", "MPO") and JpegImagePlugin.get_sampling(im) == 2:
        return SUBSAMPLINGS[:1]
    return SUBSAMPLINGS


class _Sample:
    """A mosaic of MCU-aligned tiles spread over the image, standing in for it in trial encodes.

    Each tile's 8x8 blocks are the image's own blocks, so a trial encode of the mosaic predicts the full
    encode's size (times ``factor``, corrected by ``calibrate`` once a full encode is measured) and its SSIM,
    at a fraction of the cost.
    """

    def __init__(self, im: Image.Image, extra: int, subsamplings: Sequence[str] = SUBSAMPLINGS) -> None:
        import numpy as np
        self.extra = extra
        self.correction: dict[str, float] = {}
        pixels = im.width * im.height
        if pixels < SAMPLE_MIN_PIXELS:
            self.image, self.factor = im, 1.0
        else:
            cols, rows = im.width // TILE, im.height // TILE
            wanted = max(4, min(int(cols * rows * SAMPLE_FRACTION), SAMPLE_MAX_PIXELS // (TILE * TILE)))
            step = max(1.0, sqrt(cols * rows / wanted))
            picks = [(int(x * step + step / 2), int(y * step + step / 2))
                     for y in range(int(rows / step)) for x in range(int(cols / step))]
            side = ceil(sqrt(len(picks)))
            self.image = Image.new(im.mode, (side * TILE, ceil(len(picks) / side) * TILE))
            for i, (x, y) in enumerate(picks):
                tile = im.crop((x * TILE, y * TILE, (x + 1) * TILE, (y + 1) * TILE))
                self.image.paste(tile, ((i % side) * TILE, (i // side) * TILE))
            self.factor = pixels / (len(picks) * TILE * TILE)
        # Scores are taken on every other row of tiles of a large mosaic (still spread over the whole photo):
        # a colour SSIM costs ~0.3 s per 1.5 MP here, and the ranking it gives is the same.
        tile_rows = self.image.height // TILE if self.factor > 1 else 0
        self.score_rows = (np.concatenate([np.arange(r * TILE, (r + 1) * TILE) for r in range(0, tile_rows, 2)])
                           if tile_rows >= SCORE_ROWS_FROM else slice(None))
        mask = self._interior()[self.score_rows] if self.factor > 1 else None
        self.reference = ColourSsimReference(_pixels(self.image)[self.score_rows], mask, SCORE_STEP)
        self.subsamplings = tuple(subsamplings) if im.mode == "RGB" else SUBSAMPLINGS[:1]
        self._scaled: dict[float, Image.Image] = {1.0: self.image}
        self._encoded: dict[tuple[float, int, str], bytes] = {}
        self._similarity: dict[tuple[float, int, str], float] = {}

    def _interior(self) -> np.ndarray:
        import numpy as np
        rows, cols = np.arange(self.image.height) % TILE, np.arange(self.image.width) % TILE
        return (((rows >= SEAM) & (rows < TILE - SEAM))[:, None]) & (((cols >= SEAM) & (cols < TILE - SEAM))[None, :])

    def at(self, scale: float) -> Image.Image:
        if scale not in self._scaled:
            size = scaled_size(self.image.size, scale, floor=8)
            self._scaled[scale] = self.image.resize(size, Image.Resampling.LANCZOS)
        return self._scaled[scale]

    def encoded(self, quality: int, scale: float, subsampling: str) -> bytes:
        key = (scale, quality, subsampling)
        if key not in self._encoded:
            self._encoded[key] = _encode(self.at(scale), quality, subsampling)
        return self._encoded[key]

    def predict(self, quality: int, scale: float = 1.0, subsampling: str = "4:2:0") -> float:
        return (len(self.encoded(quality, scale, subsampling)) * self.factor * self.correction.get(subsampling, 1.0)
                + self.extra)

    def calibrate(self, actual: int, quality: int, scale: float, subsampling: str) -> None:
        """Correct later predictions by how far this one was from a measured full encode."""
        self.correction[subsampling] = (actual - self.extra) / max(
            1.0, len(self.encoded(quality, scale, subsampling)) * self.factor)

    def best_quality(self, budget: int, scale: float = 1.0, subsampling: str = "4:2:0") -> int:
        """Highest quality predicted to fit at ``scale`` (0 when none is)."""
        lo, hi = 0, QUALITY_MAX
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.predict(mid, scale, subsampling) <= budget else (lo, mid - 1)
        return lo

    def scored_above(self, quality: int, scale: float, subsampling: str) -> int | None:
        """The lowest quality above ``quality`` already scored at ``scale`` and ``subsampling``, if any."""
        return min((q for s, q, ss in self._similarity if s == scale and ss == subsampling and q > quality),
                   default=None)

    def similarity(self, quality: int, scale: float = 1.0, subsampling: str = "4:2:0") -> float:
        key = (scale, quality, subsampling)
        if key not in self._similarity:
            decoded = Image.open(io.BytesIO(self.encoded(quality, scale, subsampling)))
            if scale != 1.0:
                decoded = decoded.resize(self.image.size, Image.Resampling.BICUBIC)
            self._similarity[key] = self.reference.score(_pixels(decoded)[self.score_rows])
        return self._similarity[key]


Candidate = tuple[float, float, int, str]  # (colour SSIM on the sample, scale, quality, subsampling)


def _plan(sample: _Sample, budget: int, min_quality: int) -> list[Candidate]:
    """The settings predicted to fit, best colour SSIM first.

    For each chroma subsampling and plausible scale, the highest quality predicted to fit is scored on the
    sample; the best of those then has a few lower qualities scored too, since JPEG re-encoding is not
    monotonic in SSIM (requantising a camera JPEG at q92 can score below q90). Scaling is weighed only when
    full size would need a quality below ``min_quality``: on very detailed photos a smaller image at a higher
    quality beats full size at a low one. Settings below ``min_quality`` are dropped when any above it fits.
    Each score costs about 0.1-0.4 s, so only the most promising settings are scored.
    """
    leads: list[tuple[float, int, str]] = []  # (scale, quality, subsampling)
    for subsampling in sample.subsamplings:
        top = sample.best_quality(budget, 1.0, subsampling)
        leads.append((1.0, top, subsampling))
        if top < min_quality:
            # Scales at which the floor and a comfortable quality fit, from the byte ratio at the floor.
            ratio = (budget - sample.extra) / max(1.0, sample.predict(min_quality, 1.0, subsampling) - sample.extra)
            # On a grid of 0.02, so that the plans made after each calibration reuse the scores already taken.
            floor_scale = round(min(0.95, max(0.1, sqrt(max(ratio, 0.0)) * 0.97)) * 50) / 50
            for scale in (floor_scale, round(floor_scale * 0.8 * 50) / 50):
                leads.append((scale, sample.best_quality(budget, scale, subsampling), subsampling))
    leads = [lead for lead in leads if lead[1] > 0]
    # The best setting fits: nothing to weigh against it. At q100 full chroma keeps all 4:2:0 keeps and more.
    top = [lead for lead in leads if lead[1] == QUALITY_MAX and lead[2] == sample.subsamplings[-1]]
    if top:
        return [(1.0, *top[0])]
    if any(quality >= min_quality for _, quality, _ in leads):
        leads = [lead for lead in leads if lead[1] >= min_quality]
    candidates = [(sample.similarity(q, scale, ss), scale, q, ss) for scale, q, ss in leads]
    if candidates:
        _, scale, best, subsampling = max(candidates)
        # Requantising the source's own blocks matters most at full size; scaled candidates need fewer.
        depth = 1 if best == QUALITY_MAX else CANDIDATE_QUALITIES if scale == 1.0 else 2
        floor = min_quality if best >= min_quality else 0
        for quality in range(best - 1, max(best - depth, floor - 1, 0), -1):
            candidates.append((sample.similarity(quality, scale, subsampling), scale, quality, subsampling))
    return sorted(candidates, reverse=True)


def scaled_size(size: tuple[int, int], scale: float, *, floor: int) -> tuple[int, int]:
    """``size`` times ``scale``, with the short side kept at ``floor`` px or more (never above the original) and
    the aspect ratio kept: raising one side alone to the floor turned a 178x10 strip into 167x16."""
    width, height = size
    scale = max(scale, min(1.0, floor / min(width, height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


# A plan's best setting is checked against the other chroma subsampling's when the sample scored them this close:
# each is raised to the highest quality that fits first, and near q100 one quality step gains 0.0016-0.0028 of
# colour SSIM (median over the bench's sources, bench/photos.py --quality-curve), so a runner-up a step short
# of what fits can win once raised (a 2.8 MP photo: 4:2:0 q100 0.9939, 4:4:4 q99 0.9943).
RUNNER_UP_MARGIN = 0.004


def _highest_fitting(image: Image.Image, scale: float, subsampling: str, exif: bytes | None, max_bytes: int,
                     first: int, lo: int, hi: int, found: Encoded | None = None) -> Encoded | None:
    """The highest quality in (``lo``, ``hi``) whose full encode of ``image`` fits, or ``found`` (the encode at
    ``lo``, known to fit) when none above it does; probing ``first`` first, where the estimate puts it.

    Sizes grow with quality, so this is a bisection over full encodes to memory (12 ms per MP each here); the
    sample's size estimate is a few per cent off, so the plan's choice can sit a step or more below what fits
    (q95 at 0.98 MB where q97 fits 2 MB), and a first probe next to it usually settles it in one or two.
    """
    probe = first
    while lo < probe < hi:
        data = _encode(image, probe, subsampling, exif)
        if len(data) <= max_bytes:
            lo, found = probe, Encoded(data, probe, scale, image.width, image.height, subsampling)
        else:
            hi = probe
        probe = (lo + hi) // 2
    return found


def fit_image(im: Image.Image, max_bytes: int, *, exif: bytes | None = None,
              min_quality: int = QUALITY_FLOOR, subsamplings: Sequence[str] = SUBSAMPLINGS) -> Encoded:
    """Encode ``im`` as a JPEG of at most ``max_bytes`` at the best measured quality.

    Candidates (scale, quality, chroma subsampling) are ranked by colour SSIM on a sample of the image; the
    best is encoded in full and measured, which calibrates the sample's size estimate; a better candidate
    that the calibrated estimate now says fits is then tried, so the bytes left over are used. Scaling down
    is considered only when full size would need a quality below ``min_quality``, and a candidate below it
    is taken only when nothing at or above it fits. ``subsamplings`` are the chroma subsamplings measured.
    Raises LimitError when nothing fits.
    """
    base = im if im.mode in ("RGB", "L") else im.convert("RGB")
    sample = _Sample(base, len(exif or b"") + 700, subsamplings)
    resized: dict[float, Image.Image] = {1.0: base}
    best: Encoded | None = None
    best_score = -1.0
    tried: set[tuple[float, int, str]] = set()
    over: dict[tuple[float, str], int] = {}  # (scale, subsampling): the lowest quality measured over the limit
    whole_plan: list[Candidate] = []
    for _ in range(FULL_ENCODE_ATTEMPTS):
        whole_plan = _plan(sample, max_bytes, min_quality)
        plan = [c for c in whole_plan if c[0] > best_score and c[1:] not in tried]
        if not plan:
            break
        score, scale, quality, subsampling = plan[0]
        tried.add((scale, quality, subsampling))
        if scale not in resized:
            size = scaled_size(base.size, scale, floor=16)
            resized[scale] = _resize(base, size, reducing_gap=3.0)
        current = resized[scale]
        data = _encode(current, quality, subsampling, exif)
        sample.calibrate(len(data), quality, scale, subsampling)
        if len(data) <= max_bytes:
            best = Encoded(data, quality, scale, current.width, current.height, subsampling)
            best_score = score
        else:
            key = (scale, subsampling)
            over[key] = min(quality, over.get(key, QUALITY_MAX + 1))
    if best is not None:
        current = resized[best.scale]

        def ceiling(quality: int, subsampling: str) -> int:
            """Above ``quality``, only what was neither measured over the limit nor scored (and passed over)."""
            return min(over.get((best.scale, subsampling), QUALITY_MAX + 1),
                       sample.scored_above(quality, best.scale, subsampling) or QUALITY_MAX + 1)

        finalists = [_highest_fitting(current, best.scale, best.subsampling, exif, max_bytes, best.quality + 1,
                                      best.quality, ceiling(best.quality, best.subsampling), best), best]
        runner = next((c for c in whole_plan if c[1] == best.scale and c[3] != best.subsampling), None)
        if runner is not None and runner[0] >= best_score - RUNNER_UP_MARGIN:
            _, _, quality, subsampling = runner
            finalists.append(_highest_fitting(current, best.scale, subsampling, exif, max_bytes, quality,
                                              quality - 3, ceiling(quality, subsampling)))
        # Ranked on the sample, the plan's own best among them: a higher quality of a camera JPEG's own blocks
        # can score lower (re-quantisation), and then the plan's choice stands.
        return max((e for e in finalists if e is not None),
                   key=lambda e: sample.similarity(e.quality, e.scale, e.subsampling))
    # The estimates were off (or nothing fits): fall back to a plain bisection on shrinking full images.
    scale = 1.0
    while scale > 0.02:
        current = resized.get(scale) or _resize(base, scaled_size(base.size, scale, floor=8))
        lo, hi, found = 1, QUALITY_MAX, None
        while lo <= hi:
            mid = (lo + hi) // 2
            data = _encode(current, mid, "4:2:0", exif)
            if len(data) <= max_bytes:
                found, lo = (mid, data), mid + 1
            else:
                hi = mid - 1
        if found and (found[0] >= min_quality or current.width * current.height <= 64 * 64):
            return Encoded(found[1], found[0], scale, current.width, current.height, "4:2:0")
        scale *= 0.7
    raise LimitError(f"cannot fit an image under {max_bytes:,} bytes")


# --- metadata -------------------------------------------------------------------------------------------------

def _stripped(facts: SourceFacts) -> list[str]:
    removed = ["all EXIF/XMP metadata"]
    if facts.had_gps:
        removed.append("GPS location")
    removed.extend(facts.had_device_ids)
    return removed


def _kept_exif(im: Image.Image) -> bytes:
    """The source's EXIF with orientation reset to 1, since the pixels are already upright."""
    exif = im.getexif()
    exif[_ORIENTATION] = 1
    return exif.tobytes()


def _insert_exif(jpeg: bytes, exif: bytes) -> bytes:
    """Put an APP1 EXIF segment right after SOI (and APP0, if present)."""
    segment = b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
    position = 2
    if jpeg[2:4] == b"\xff\xe0":
        position = 4 + int.from_bytes(jpeg[4:6], "big")
    return jpeg[:position] + segment + jpeg[position:]


def _lossless_jpeg(src: Path, orientation: int, keep_metadata: bool) -> bytes | None:
    """Re-wrap a JPEG with jpegtran: DCT coefficients (pixels) untouched, metadata dropped, rotation exact.

    A rotation or flip that would move a partial edge block (a side not a multiple of the 8 or 16 pixel
    MCU, e.g. a 2988 x 5312 phone photo) cannot be done with ``-perfect``; ``-trim`` then drops that partial
    block row or column (under 16 pixels at one edge) and keeps every other block exactly. Measured on a
    2988 x 5312 q90 photo with orientation 6: trimmed RGB-SSIM 0.9989 (luma 0.9997) against the correctly
    rotated source over the kept area, where re-encoding scored 0.980-0.990 at q90-q95 (4:2:0 or 4:4:4,
    the latter over the limit) and the fitted re-encode 0.971. Returns None when jpegtran cannot transform
    the file; raises MissingDependencyError when jpegtran is not installed.
    """
    copy = "all" if keep_metadata and orientation == 1 else "icc"
    command = ["-copy", copy, "-optimize"]
    if orientation == 1:
        done = jpegtran.transform(command, str(src))
    else:
        done = jpegtran.transform([*command, "-perfect", *_JPEGTRAN_OPS[orientation]], str(src))
        if done.returncode != 0:
            done = jpegtran.transform([*command, "-trim", *_JPEGTRAN_OPS[orientation]], str(src))
    if done.returncode != 0 or not done.stdout.startswith(b"\xff\xd8"):
        return None
    return _drop_mpf(done.stdout)


def _drop_mpf(jpeg: bytes) -> bytes:
    """Remove the MPO index (an APP2 "MPF" segment that jpegtran keeps along with ICC): it would point
    at the second image of a multi-picture file, which the output no longer has."""
    position, kept = 2, [jpeg[:2]]
    while position + 4 <= len(jpeg) and jpeg[position] == 0xFF and jpeg[position + 1] not in (0xDA, 0xD9):
        length = int.from_bytes(jpeg[position + 2:position + 4], "big")
        segment = jpeg[position:position + 2 + length]
        if not (jpeg[position + 1] == 0xE2 and segment[4:8] == b"MPF\x00"):
            kept.append(segment)
        position += 2 + length
    kept.append(jpeg[position:])
    return b"".join(kept)


# --- the photo call -------------------------------------------------------------------------------------------

def fit_photo(src: str | Path, dst: str | Path, *, max_bytes: int = 2_000_000,
              keep_metadata: bool = False) -> PhotoResult:
    """Write ``src`` as an upright, sRGB JPEG of at most ``max_bytes`` to ``dst`` (atomically).

    A JPEG already under the limit keeps its pixels (lossless re-wrap); anything else is re-encoded
    at the highest quality that fits. GPS and device identifiers are removed unless ``keep_metadata``.
    Raises PhotoError for unreadable input and LimitError when nothing fits.
    """
    src, dst = Path(src), Path(dst)
    im, facts = _open(src, MAX_OUTPUT_PIXELS)
    data: bytes | None = None
    encoded: Encoded | None = None
    size = src.stat().st_size
    if (facts.format in ("JPEG", "MPO") and im.mode in ("RGB", "L") and size <= max_bytes * 1.1
            and facts.width * facts.height <= MAX_OUTPUT_PIXELS):
        data = _lossless_jpeg(src, facts.orientation, keep_metadata)
        if data is not None and keep_metadata and facts.orientation != 1:
            data = _insert_exif(data, _kept_exif(im))
        if data is not None and len(data) > max_bytes:
            data = None
    if data is None:
        try:
            upright = _upright(im, facts, im.info.get("icc_profile"), MAX_OUTPUT_PIXELS)
        except DECODE_ERRORS as exc:
            raise _bad(src, exc) from None
        try:
            encoded = fit_image(upright, max_bytes, exif=_kept_exif(im) if keep_metadata else None,
                                subsamplings=_chroma_choices(im))
        except LimitError as exc:
            raise LimitError(str(exc), path=str(src)) from None
        data = encoded.data
    if len(data) > max_bytes:  # the guarantee, checked on the bytes we are about to write
        raise LimitError(f"internal check failed: {len(data):,} bytes is over {max_bytes:,}", path=str(src))
    with atomic_path(dst) as tmp:
        tmp.write_bytes(data)
    written = dst.stat().st_size
    if written > max_bytes:  # and measured again on disk
        dst.unlink()
        raise LimitError(f"written file is {written:,} bytes, over {max_bytes:,}", path=str(src))
    # Read from the output itself: a trimmed lossless rotation is up to 15 pixels narrower than the source.
    width, height = (encoded.width, encoded.height) if encoded else Image.open(io.BytesIO(data)).size
    return PhotoResult(source=src, output=dst, bytes=written, width=width, height=height,
                       method="reencode" if encoded else "lossless", quality=encoded.quality if encoded else None,
                       scale=encoded.scale if encoded else 1.0, facts=facts,
                       stripped=[] if keep_metadata else _stripped(facts),
                       subsampling=encoded.subsampling if encoded else "as source")


# --- choosing what to upload ----------------------------------------------------------------------------------

DUPLICATE_DISTANCE = 8  # phash Hamming distance (of 64 bits) at or below which two photos show the same shot


@dataclass
class PhotoAnalysis:
    path: Path
    phash: imagehash.ImageHash
    sharpness: float
    width: int
    height: int


ANALYSIS_PIXELS = 1024 * 1024  # a decode this large hashes as the full photo does, at a tenth of the time


def analyse_photo(path: str | Path) -> PhotoAnalysis:
    """Perceptual hash and sharpness from a reduced decode (see ``_open``), in upright orientation."""
    import imagehash  # here: the photos command (no selection) never needs it

    path = Path(path)
    im, facts = _open(path, ANALYSIS_PIXELS)  # a 200 MP HEIC peaked at 1.7 GB decoded whole
    try:
        small = ImageOps.exif_transpose(im).convert("L")
        small.thumbnail((512, 512))
    except DECODE_ERRORS as exc:
        raise _bad(path, exc) from None
    edges = small.filter(ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128))
    return PhotoAnalysis(path, imagehash.phash(small), ImageStat.Stat(edges).var[0], facts.width, facts.height)


@dataclass
class Selection:
    chosen: list[PhotoAnalysis]
    left_out: list[tuple[PhotoAnalysis, str]]  # with the reason, in words
    duplicates_of: dict[Path, Path]

    def to_dict(self, relative_to: Path) -> dict[str, Any]:
        def rel(p: Path) -> str:
            return p.relative_to(relative_to).as_posix() if p.is_relative_to(relative_to) else str(p)

        return {"chosen": [rel(a.path) for a in self.chosen],
                "left_out": [{"path": rel(a.path), "reason": why} for a, why in self.left_out]}


def _hash_int(hash_: imagehash.ImageHash) -> int:
    """The hash's bits as one int, so a Hamming distance is an XOR and a popcount (imagehash's ``-`` goes
    through numpy: about 40x slower per pair)."""
    return int("".join("1" if bit else "0" for bit in hash_.hash.flatten()) or "0", 2)


def _hamming(x: int, y: int) -> int:
    """Bits in which two hashes differ (what ``ImageHash.__sub__`` returns); every comparison goes here."""
    return (x ^ y).bit_count()


class _HashIndex:
    """Hashes added one by one, found again within DUPLICATE_DISTANCE bits (multi-index hashing).

    The bits are cut into DUPLICATE_DISTANCE + 1 chunks: two hashes that differ in at most that many bits agree
    exactly on at least one chunk (pigeonhole), so only the entries sharing a chunk value are compared.
    """

    def __init__(self, bits: int) -> None:
        chunks = DUPLICATE_DISTANCE + 1
        cuts = [round(bits * i / chunks) for i in range(chunks + 1)]
        self.masks = [(shift, (1 << (top - shift)) - 1) for shift, top in zip(cuts, cuts[1:]) if top > shift]
        self.buckets: list[dict[int, list[int]]] = [{} for _ in self.masks]
        self.hashes: list[int] = []

    def add(self, value: int) -> None:
        for (shift, mask), bucket in zip(self.masks, self.buckets):
            bucket.setdefault((value >> shift) & mask, []).append(len(self.hashes))
        self.hashes.append(value)

    def first_within(self, value: int) -> tuple[int, int] | None:
        """(position, distance) of the earliest added hash within DUPLICATE_DISTANCE bits, or None."""
        near = {i for (shift, mask), bucket in zip(self.masks, self.buckets)
                for i in bucket.get((value >> shift) & mask, ())}
        for i in sorted(near):
            distance = _hamming(value, self.hashes[i])
            if distance <= DUPLICATE_DISTANCE:
                return i, distance
        return None


def _variety_score(sharpness: float, top_sharpness: float, distance: int) -> float:
    """Half sharpness (relative to the sharpest), half how far the photo is from those already chosen."""
    return 0.5 * sharpness / top_sharpness + 0.5 * min(distance, 32) / 32


def select_photos(analyses: Sequence[PhotoAnalysis], count: int,
                  ranks: dict[Path, int] | None = None) -> Selection:
    """Collapse near-duplicates, then take ``count`` photos: user's rank first, then sharp and distinct.

    Near-duplicates are found through a hash index (``_HashIndex``), not against every photo kept so far; the
    greedy choice re-scores only the photo at the top of a heap of upper bounds (a score only falls as photos
    are chosen), so a selection over 2,000 photos takes well under a second where comparing all against all
    took hours (bench/selection.py). The result is the plain greedy's (tests/test_photo_selection.py).
    """
    ranks = {p.resolve(): r for p, r in (ranks or {}).items()}
    rank_of = [ranks.get(a.path.resolve()) for a in analyses]  # resolve() is a system call: once per photo
    order = sorted(range(len(analyses)),
                   key=lambda i: (10**6 if rank_of[i] is None else rank_of[i], -analyses[i].sharpness))
    hashes = [_hash_int(a.phash) for a in analyses]
    index = _HashIndex(max((a.phash.hash.size for a in analyses), default=64))
    keepers: list[int] = []  # positions in ``analyses``, best first
    left_out: list[tuple[PhotoAnalysis, str]] = []
    duplicates_of: dict[Path, Path] = {}
    for i in order:  # best first, so each duplicate group keeps its preferred member
        found = index.first_within(hashes[i])
        if found is None:
            index.add(hashes[i])
            keepers.append(i)
        else:
            twin, distance = analyses[keepers[found[0]]], found[1]
            duplicates_of[analyses[i].path] = twin.path
            left_out.append((analyses[i], f"near-duplicate of {shown(twin.path.name)} (hash distance {distance})"))
    ranked = [k for k in keepers if rank_of[k] is not None]
    pool = [k for k in keepers if rank_of[k] is None]
    chosen = ranked[:count]
    top_sharpness = max((analyses[k].sharpness for k in pool), default=1.0) or 1.0
    # Lazy greedy: each entry is (-score, place in the pool, distance, photos chosen when it was scored). A
    # stale score is an upper bound, so a fresh entry at the top is the best; ties go to the earlier place in
    # the pool, as max() over the pool would choose.
    heap = [(-_variety_score(analyses[k].sharpness, top_sharpness, 64), place, 64, 0) for place, k in enumerate(pool)]
    heapq.heapify(heap)
    taken: set[int] = set()
    while len(chosen) < count and heap:
        _, place, distance, seen = heapq.heappop(heap)
        k = pool[place]
        if seen < len(chosen):
            distance = min([distance] + [_hamming(hashes[k], hashes[c]) for c in chosen[seen:]])
            heapq.heappush(heap, (-_variety_score(analyses[k].sharpness, top_sharpness, distance), place,
                                  distance, len(chosen)))
            continue
        chosen.append(k)
        taken.add(place)
    rest = ranked[count:] + [k for place, k in enumerate(pool) if place not in taken]
    for k in rest:
        left_out.append((analyses[k], f"the form takes {count} photos; ranked lower than the ones uploaded"))
    return Selection([analyses[k] for k in chosen], left_out, duplicates_of)


def make_grid(photos: Iterable[tuple[Path, str]], dst: str | Path, *, max_bytes: int = 2_000_000,
              width: int = 2400) -> PhotoResult:
    """Combine photos (path, caption) into one captioned grid JPEG under ``max_bytes``."""
    items = list(photos)
    if not items:
        raise InputError("no photos to combine into a grid")
    images = [load_upright(path, MAX_OUTPUT_PIXELS)[0] for path, _ in items]
    cols = ceil(sqrt(len(items)))
    rows = ceil(len(items) / cols)
    cell = width // cols
    # Cells take the widest photo's aspect ratio (capped), so landscape shots do not float in white space.
    cell_height = int(cell * min(1.0, max(0.5, min(im.height / im.width for im in images))))
    font = ImageFont.load_default(size=max(16, cell // 22))
    caption_height = int(font.size * 1.8)
    margin = 12
    sheet = Image.new("RGB", (cell * cols, (cell_height + caption_height) * rows), "white")
    draw = ImageDraw.Draw(sheet)
    for i, ((path, caption), im) in enumerate(zip(items, images)):
        im.thumbnail((cell - 2 * margin, cell_height - 2 * margin), Image.Resampling.LANCZOS)
        x, y = (i % cols) * cell, (i // cols) * (cell_height + caption_height)
        sheet.paste(im.convert("RGB"), (x + (cell - im.width) // 2, y + cell_height - margin - im.height))
        label = caption or path.name
        while draw.textlength(label, font=font) > cell - 2 * margin and len(label) > 2:
            label = label[:-2].rstrip() + "…"
        draw.text((x + cell // 2, y + cell_height + caption_height // 2), label, fill="black", font=font,
                  anchor="mm")
    encoded = fit_image(sheet, max_bytes)
    dst = Path(dst)
    with atomic_path(dst) as tmp:
        tmp.write_bytes(encoded.data)
    written = dst.stat().st_size
    if written > max_bytes:
        dst.unlink()
        raise LimitError(f"grid image is {written:,} bytes, over {max_bytes:,}", path=str(dst))
    facts = SourceFacts("grid", sheet.width, sheet.height, "RGB")
    return PhotoResult(source=Path(items[0][0]).parent, output=dst, bytes=written, width=encoded.width,
                       height=encoded.height, method="reencode", quality=encoded.quality, scale=encoded.scale,
                       facts=facts, stripped=["all EXIF/XMP metadata"], subsampling=encoded.subsampling)
