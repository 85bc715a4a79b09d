"""Small previews for the case page: a photo thumbnail, a video's poster frame and duration.

They are the page's, not the package's: cached under the workspace's hidden app folder by path, size and
modification time, and never written into a case folder.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from ...fsutil import atomic_write_bytes, atomic_write_text

SIZE = 320  # pixels on the longer side: sharp at two columns on a phone


def _key(path: Path, what: str) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{what}".encode()).hexdigest()[:32]


def photo_thumbnail(path: Path, cache: Path) -> Path:
    """A JPEG of at most SIZE pixels, upright and in sRGB; HEIC included.

    Decoded as the build decodes (``load_upright``): reduced while decoding where the format allows, and a
    file over the library's pixel limit (a decompression bomb) is refused with PhotoError before any pixel
    is decoded, as is anything that is not a readable picture.
    """
    target = cache / f"{_key(path, 'thumb')}.jpg"
    if target.is_file():
        return target
    import io

    from ...media.photos import load_upright

    small, _ = load_upright(path, max_pixels=4 * SIZE * SIZE)  # twice the side: the resize stays sharp
    small.thumbnail((SIZE, SIZE))
    buffer = io.BytesIO()
    small.convert("RGB").save(buffer, "JPEG", quality=80)
    atomic_write_bytes(target, buffer.getvalue())
    return target


def video_info(path: Path, cache: Path) -> dict[str, Any]:
    """``{"duration": seconds or None, "poster": Path or None}``; a file ffmpeg cannot read gets Nones."""
    record = cache / f"{_key(path, 'video')}.json"
    if record.is_file():
        data = json.loads(record.read_text(encoding="utf-8"))
        return {"duration": data["duration"], "poster": Path(data["poster"]) if data["poster"] else None}
    from ...tools import ffmpeg

    duration = None
    poster: Path | None = None
    try:
        duration = float(ffmpeg.probe(str(path))["format"]["duration"])
    except Exception:  # ffprobe missing, or a file it cannot read: the page shows the name only
        duration = None
    if duration is not None:
        target = cache / f"{_key(path, 'poster')}.jpg"
        cache.mkdir(parents=True, exist_ok=True)
        at = f"{min(1.0, duration / 2):.2f}"  # a second in: past a black first frame, inside a short clip
        done = subprocess.run([ffmpeg.FFMPEG.path() or "ffmpeg", "-v", "error", "-y", "-ss", at, "-i", str(path),
                               "-frames:v", "1", "-vf", f"scale='min({SIZE},iw)':-2", "-f", "image2", str(target)],
                              capture_output=True, timeout=60)
        poster = target if done.returncode == 0 and target.is_file() else None
    atomic_write_text(record, json.dumps({"duration": duration, "poster": str(poster) if poster else None}))
    return {"duration": duration, "poster": poster}
