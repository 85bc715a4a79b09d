"""A large HEIC/HEIF decoded straight to a reduced size, so Pillow never holds it at full size.

Decoded whole, a 200 MP phone HEIC peaked at 1431 MiB (VmHWM): libheif's YCbCr planes (1.5 bytes a pixel)
next to its RGB (3 bytes), then Pillow's copy (4 bytes). Phones store photos this large as grids of small HEVC
tiles (512 px on iPhones), and libheif decodes one tile at a time (``heif_image_handle_decode_image_tile``);
pillow-heif does not expose that, so it is called through ctypes in the libheif pillow-heif has loaded. Rows of
tiles are resized as they arrive (382 MiB for all of fit_photo). Where that cannot be done (no grid, an alpha
channel, a crop, a libheif without the call, or an error in it), pillow-heif decodes the whole image and it is
resized from libheif's own buffer a band at a time, so the full-size RGB exists once (956 MiB).
"""
from __future__ import annotations

import ctypes
import functools
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

from PIL import Image

BAND = 512  # rows of a whole decode turned into Pillow memory at a time

# libheif's C API (heif_image.h, heif_decoding.h, heif_properties.h): values fixed by the ABI.
_RGB, _INTERLEAVED_RGB, _CHANNEL_INTERLEAVED = 1, 10, 10
_IROT, _IMIR = (int.from_bytes(code, "big") for code in (b"irot", b"imir"))
# What each property does to the image, as Pillow transposes: irot counts counter-clockwise, as Pillow does;
# libheif's mirror directions are 0 "vertical" (top-bottom) and 1 "horizontal" (left-right), checked against
# its own decode for all eight EXIF orientations (tests/test_photos.py).
_ROTATIONS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
_MIRRORS = {0: Image.Transpose.FLIP_TOP_BOTTOM, 1: Image.Transpose.FLIP_LEFT_RIGHT}


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("subcode", ctypes.c_int), ("message", ctypes.c_char_p)]


class _DecodingOptions(ctypes.Structure):
    """The head of ``heif_decoding_options`` (versions 1-2); libheif allocates the whole struct."""

    _fields_ = [("version", ctypes.c_uint8), ("ignore_transformations", ctypes.c_uint8),
                ("start_progress", ctypes.c_void_p), ("on_progress", ctypes.c_void_p),
                ("end_progress", ctypes.c_void_p), ("progress_user_data", ctypes.c_void_p),
                ("convert_hdr_to_8bit", ctypes.c_uint8)]


_P, _U32, _INT = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int
_SIGNATURES = {
    "heif_context_alloc": (_P, []),
    "heif_context_free": (None, [_P]),
    "heif_context_read_from_file": (_Error, [_P, ctypes.c_char_p, _P]),
    "heif_context_get_primary_image_handle": (_Error, [_P, ctypes.POINTER(_P)]),
    "heif_image_handle_release": (None, [_P]),
    "heif_image_handle_has_alpha_channel": (_INT, [_P]),
    "heif_image_handle_get_item_id": (_U32, [_P]),
    "heif_image_handle_get_image_tiling": (_Error, [_P, _INT, _P]),
    "heif_item_get_transformation_properties": (_INT, [_P, _U32, ctypes.POINTER(_U32), _INT]),
    "heif_item_get_property_type": (_U32, [_P, _U32, _U32]),
    "heif_item_get_property_transform_rotation_ccw": (_INT, [_P, _U32, _U32]),
    "heif_item_get_property_transform_mirror": (_INT, [_P, _U32, _U32]),
    "heif_decoding_options_alloc": (ctypes.POINTER(_DecodingOptions), []),
    "heif_decoding_options_free": (None, [ctypes.POINTER(_DecodingOptions)]),
    "heif_image_handle_decode_image_tile": (_Error, [_P, ctypes.POINTER(_P), _INT, _INT,
                                                     ctypes.POINTER(_DecodingOptions), _U32, _U32]),
    "heif_image_get_plane_readonly": (_P, [_P, _INT, ctypes.POINTER(_INT)]),
    "heif_image_get_width": (_INT, [_P, _INT]),
    "heif_image_get_height": (_INT, [_P, _INT]),
    "heif_image_release": (None, [_P]),
}


@functools.lru_cache(maxsize=None)
def _libheif() -> ctypes.CDLL | None:
    """The libheif pillow-heif is linked to (the wheel bundles its own), when it has the tile calls."""
    import _pillow_heif  # noqa: F401  (maps the library into this process)

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {fields[5].strip() for fields in (line.split(maxsplit=5) for line in maps) if len(fields) == 6}
    except OSError:  # not Linux: the whole decode
        return None
    found = [p for p in paths if os.path.basename(p).startswith("libheif") and ".so" in p]
    if len(found) != 1:
        return None
    try:
        lib = ctypes.CDLL(found[0])  # the copy already loaded, initialised by pillow-heif
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
    except (OSError, AttributeError):  # an older libheif, without the tile calls
        return None
    return lib


def _check(error: _Error) -> None:
    if error.code:
        raise OSError(f"libheif: {(error.message or b'').decode(errors='replace')}")


def _resize_bands(bands: Iterable[Image.Image], full: tuple[int, int], size: tuple[int, int]) -> Image.Image:
    """Image.resize(size, LANCZOS) of a ``full``-size image given as full-width bands of rows, top to bottom.

    Only the rows the filter still needs are kept. Each slice of output rows is resized from a box of the
    band with the filter's reach inside the band: at most scales the pixels a resize of the whole image gives,
    and at the others as close to a floating-point resize (see photos._resize).
    """
    width, height = full
    out = Image.new("RGB", size)
    scale = height / size[1]
    reach = 3 * max(scale, 1.0) + 1  # LANCZOS spans 3 input pixels each side, times the scale when reducing
    band: Image.Image | None = None
    top = done = 0
    for rows in bands:
        if band is None:
            band = rows
        else:
            joined = Image.new("RGB", (width, band.height + rows.height))
            joined.paste(band, (0, 0))
            joined.paste(rows, (0, band.height))
            band = joined
        end = top + band.height
        ready = size[1] if end >= height else min(size[1], int((end - reach) / scale))
        if ready > done:
            box = (0, done * scale - top, width, ready * scale - top)
            out.paste(band.resize((size[0], ready - done), Image.Resampling.LANCZOS, box=box), (0, done))
            done = ready
            keep = max(top, int(done * scale - reach))
            band, top = band.crop((0, keep - top, width, band.height)), keep
    if done != size[1]:
        raise OSError(f"the image data ended at row {top + (band.height if band else 0)} of {height}")
    return out


class _Tiles:
    """The primary image of a HEIF file as libheif's tiles, in stored orientation; one libheif context, used
    by one thread at a time."""

    def __init__(self, lib: ctypes.CDLL, path: Path) -> None:
        self.lib, self.context, self.handle = lib, lib.heif_context_alloc(), _P()
        self.options = lib.heif_decoding_options_alloc()
        try:
            if not self.context or not self.options:
                raise MemoryError("libheif could not allocate a context")
            _check(lib.heif_context_read_from_file(self.context, os.fsencode(path), None))
            _check(lib.heif_context_get_primary_image_handle(self.context, ctypes.byref(self.handle)))
            tiling = (ctypes.c_uint32 * 64)()  # room for later versions of heif_image_tiling
            _check(lib.heif_image_handle_get_image_tiling(self.handle, 0, tiling))
        except BaseException:
            self.close()
            raise
        self.columns, self.rows, self.tile_width, self.tile_height, self.width, self.height = tiling[1:7]
        self.options.contents.ignore_transformations = 1  # applied to the reduced image instead
        if self.options.contents.version >= 2:
            self.options.contents.convert_hdr_to_8bit = 1

    def close(self) -> None:
        if self.handle:
            self.lib.heif_image_handle_release(self.handle)
            self.handle = _P()
        if self.options:
            self.lib.heif_decoding_options_free(self.options)
            self.options = None
        if self.context:
            self.lib.heif_context_free(self.context)
            self.context = None

    def usable(self) -> bool:
        """A grid of several tiles covering the image, without alpha (stored separately, maybe not tiled)."""
        return (self.columns * self.rows > 1 and not self.lib.heif_image_handle_has_alpha_channel(self.handle)
                and self.columns * self.tile_width >= self.width and self.rows * self.tile_height >= self.height)

    def transposes(self) -> list[Image.Transpose] | None:
        """The file's rotations and mirrors in order, or None for any other transformation (a crop)."""
        item = self.lib.heif_image_handle_get_item_id(self.handle)
        count = self.lib.heif_item_get_transformation_properties(self.context, item, None, 0)
        ids = (ctypes.c_uint32 * max(count, 1))()
        count = self.lib.heif_item_get_transformation_properties(self.context, item, ids, count)
        transposes = []
        for prop in ids[:count]:
            kind = self.lib.heif_item_get_property_type(self.context, item, prop)
            if kind == _IROT:
                angle = self.lib.heif_item_get_property_transform_rotation_ccw(self.context, item, prop)
                transpose = _ROTATIONS.get(angle) if angle else None
                if angle and transpose is None:
                    return None
            elif kind == _IMIR:
                transpose = _MIRRORS.get(self.lib.heif_item_get_property_transform_mirror(self.context, item, prop))
                if transpose is None:
                    return None
            else:
                return None
            if transpose is not None:
                transposes.append(transpose)
        return transposes

    def tile_row(self, y: int) -> Image.Image:
        row = Image.new("RGB", (self.width, min(self.tile_height, self.height - y * self.tile_height)))
        for x in range(self.columns):
            row.paste(self._tile(x, y), (x * self.tile_width, 0))
        return row

    def _tile(self, x: int, y: int) -> Image.Image:
        image, stride = _P(), _INT()
        _check(self.lib.heif_image_handle_decode_image_tile(self.handle, ctypes.byref(image), _RGB,
                                                             _INTERLEAVED_RGB, self.options, x, y))
        try:
            plane = self.lib.heif_image_get_plane_readonly(image, _CHANNEL_INTERLEAVED, ctypes.byref(stride))
            width = self.lib.heif_image_get_width(image, _CHANNEL_INTERLEAVED)
            height = self.lib.heif_image_get_height(image, _CHANNEL_INTERLEAVED)
            if not plane or width <= 0 or height <= 0 or stride.value < 3 * width:
                raise OSError(f"libheif gave no RGB pixels for tile {x},{y}")
            pixels = (ctypes.c_uint8 * (stride.value * height)).from_address(plane)
            # Pillow keeps RGB as 4 bytes a pixel, so this copies: libheif's image can be released
            return Image.frombuffer("RGB", (width, height), pixels, "raw", "RGB", stride.value, 1)
        finally:
            self.lib.heif_image_release(image)


def _decode_threads() -> int:
    """Two at most: fit_photo of a 200 MP photo (768 tiles, ~8.5 s of decoding) took 8.9 s with one, 7.3 s
    with two, when the 3 s of resizing in the calling thread is left; each more row decoded ahead costs 33 MB."""
    import pillow_heif

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(2, pillow_heif.options.DECODE_THREADS, cpus))


def _tile_rows(decoders: list[_Tiles]) -> Iterator[Image.Image]:
    """Rows of tiles, top to bottom, decoded ahead by one thread per decoder (each with its own libheif
    context) while the caller resizes; libheif and Pillow's resize both release the GIL. Closing this
    generator waits for the rows still being decoded, so the contexts can then be freed."""
    rows = decoders[0].rows
    with ThreadPoolExecutor(len(decoders), thread_name_prefix="heif-tiles") as pool:
        pending = deque(pool.submit(decoders[y].tile_row, y) for y in range(min(len(decoders), rows)))
        for y in range(len(pending), rows + len(pending)):
            row = pending.popleft().result()
            if y < rows:  # its decoder finished row y - len(decoders) just now
                pending.append(pool.submit(decoders[y % len(decoders)].tile_row, y))
            yield row


def _from_tiles(path: Path, size: tuple[int, int]) -> Image.Image | None:
    lib = _libheif()
    if lib is None:
        return None
    decoders = [_Tiles(lib, path)]
    try:
        transposes = decoders[0].transposes()
        if transposes is None or not decoders[0].usable():
            return None
        decoders += [_Tiles(lib, path) for _ in range(min(_decode_threads(), decoders[0].rows) - 1)]
        turned = sum(t in (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270) for t in transposes) % 2
        rows = _tile_rows(decoders)
        try:
            reduced = _resize_bands(rows, (decoders[0].width, decoders[0].height), size[::-1] if turned else size)
        finally:
            rows.close()
    finally:
        for decoder in decoders:
            decoder.close()
    for transpose in transposes:
        reduced = reduced.transpose(transpose)
    return reduced


def _from_whole(path: Path, size: tuple[int, int]) -> Image.Image | None:
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=True, remove_stride=False)
        image = heif[heif.primary_index]
        if image.mode != "RGB":
            return None
        data, stride = image.data, image.stride  # libheif's buffer itself (a memoryview), upright
    except RuntimeError as exc:  # pillow-heif's word for some libheif failures; the caller expects OSError
        raise OSError(str(exc)) from None
    width, height = image.size
    bands = (Image.frombuffer("RGB", (width, min(BAND, height - top)),
                              data[top * stride:min(top + BAND, height) * stride], "raw", "RGB", stride, 1)
             for top in range(0, height, BAND))
    return _resize_bands(bands, image.size, size)


def decode_reduced(path: str | Path, size: tuple[int, int]) -> Image.Image | None:
    """The primary image of the HEIF file at ``path``, upright 8-bit RGB, resized (LANCZOS) to ``size``.

    None when the image is not RGB (alpha, greyscale), to be decoded by Pillow as usual. Raises OSError (or
    pillow-heif's ValueError, EOFError) for a file libheif cannot decode.
    """
    path = Path(path)
    try:
        reduced = _from_tiles(path, size)
    except OSError:  # libheif's tile calls are young: its whole decode has the last word on a file
        reduced = None
    return reduced if reduced is not None else _from_whole(path, size)
