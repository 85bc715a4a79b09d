"""Uploads streamed to disk: a multipart body is parsed as it arrives, each file written straight into a
hidden temporary file in its subfolder, so a 3 GB video never sits in memory (nor in a copy in /tmp).

All or nothing per request: files appear under their final names only once the whole body was read and
stayed within the size limit. A name that exists already gets ``-2`` (an original is never replaced);
the same content uploaded twice is kept once.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, AsyncIterator

from ...fsutil import TEMP_PREFIX, sha256_file
from ...model.case import PHOTO_SUFFIXES, RECEIPT_SUFFIXES, SUBFOLDERS, VIDEO_SUFFIXES
from . import i18n
from .cases import inside, kind_for, safe_name

FIELD = "files"
CHUNK = 1 << 20  # body bytes handed to the parser (in a worker thread) at a time

# Why a received file is turned away at once rather than "Added." and refused by the build later.
EMPTY = i18n.N_("the file is empty (0 bytes): copy it again from the phone")
NOT_PICTURE = i18n.N_("not a picture this app can read: it may be damaged, cut short while copying, or not a "
                      "picture at all")
NOT_VIDEO = i18n.N_("not a video this app can read: it may be damaged, cut short while copying, or not a video "
                    "at all")
NOT_PDF = i18n.N_("not a PDF document: it may be damaged, or another kind of file renamed")
NOT_JSON = i18n.N_("not a tracking file this app can read: the JSON in it does not parse")
ALREADY_THERE = i18n.N_("already in the case as %(path)s: not added again")


class TooLarge(Exception):
    """The body passed the configured total size."""


class BadUpload(Exception):
    """A multipart body the app cannot read (cut short, malformed)."""

    status = 422


class NotMultipart(BadUpload):
    """Not multipart/form-data at all."""

    status = 415


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    kind: str | None = None
    handle: IO[bytes] | None = None
    temp: Path | None = None
    digest: Any = None
    size: int = 0


@dataclass
class Upload:
    """What one request stored and what it turned away, with why (in the buyer's language)."""

    root: Path
    wanted_kind: str
    limit: int
    stored: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    total: int = 0
    _done: list[_Part] = field(default_factory=list)
    _part: _Part = field(default_factory=_Part)
    _headers: dict[str, bytes] = field(default_factory=dict)
    _header_field: bytes = b""
    _header_value: bytes = b""

    # python-multipart callbacks (run in a worker thread, never on the event loop)
    def on_part_begin(self) -> None:
        self._part, self._headers = _Part(), {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = self._header_value
        self._header_field = self._header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        part = self._part
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw = options.get(b"filename")
        if part.name != FIELD or raw is None:
            return  # another form field: ignored
        part.filename = raw.decode("utf-8", "replace")
        name = safe_name(part.filename)
        part.kind = kind_for(name, self.wanted_kind)
        if part.kind is None:
            self.rejected.append({"name": part.filename, "message": i18n.gettext(
                "not a photo, video, tracking page or receipt that the build can use")})
            return
        folder = self.root / SUBFOLDERS[part.kind]
        folder.mkdir(exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}upload-", dir=folder)  # hidden: the build skips it
        part.handle, part.temp, part.digest = os.fdopen(fd, "wb"), Path(temp), hashlib.sha256()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.total += end - start
        if self.total > self.limit:
            raise TooLarge()
        part = self._part
        if part.handle is not None:
            chunk = data[start:end]
            part.handle.write(chunk)
            part.digest.update(chunk)
            part.size += end - start

    def on_part_end(self) -> None:
        part = self._part
        if part.handle is not None and part.temp is not None:
            part.handle.close()
            part.handle = None
            os.chmod(part.temp, 0o644)  # as every file evidence-kit writes (mkstemp makes it private)
            self._done.append(part)

    # after the body
    def commit(self) -> None:
        """Give every received file its final name (never over an existing file). A file the build could not
        read is turned away with why; one whose bytes the folder already holds is not added again."""
        for part in self._done:  # safe_name leaves no folder in a name; this makes sure before any file moves
            assert part.temp is not None and part.filename is not None
            if not inside(self.root, part.temp.parent / safe_name(part.filename)):
                raise BadUpload(f"unsafe file name: {part.filename!r}")
        for part in self._done:
            assert part.temp is not None and part.filename is not None
            folder = part.temp.parent
            name = safe_name(part.filename)
            stem, suffix = Path(name).stem, Path(name).suffix
            why = unusable(part.temp, suffix.lower(), part.size)
            if why is not None:
                part.temp.unlink()
                self.rejected.append({"name": part.filename, "message": i18n.gettext(why)})
                continue
            twin = _twin(folder, part.size, part.digest.hexdigest())
            if twin is not None:
                part.temp.unlink()
                self.stored.append(self._record(part, twin, duplicate=True))
                continue
            n = 1
            while True:
                final = folder / (name if n == 1 else f"{stem}-{n}{suffix}")
                if final.exists() and final.stat().st_size == part.size and \
                        sha256_file(final) == part.digest.hexdigest():
                    part.temp.unlink()
                    self.stored.append(self._record(part, final, duplicate=True))
                    break
                try:
                    os.link(part.temp, final)  # fails if the name is taken: never replaces a file
                except FileExistsError:
                    n += 1
                    continue
                part.temp.unlink()
                self.stored.append(self._record(part, final, duplicate=False))
                break

    def _record(self, part: _Part, final: Path, *, duplicate: bool) -> dict[str, Any]:
        path = final.relative_to(self.root).as_posix()
        record = {"name": part.filename, "path": path, "kind": part.kind, "bytes": part.size, "duplicate": duplicate}
        if duplicate:
            record["message"] = i18n.gettext(ALREADY_THERE) % {"path": path}
        return record

    def discard(self) -> None:
        """Remove every temporary file of this request (after a failure)."""
        for part in [*self._done, self._part]:
            if part.handle is not None:
                part.handle.close()
                part.handle = None
            if part.temp is not None:
                part.temp.unlink(missing_ok=True)


def unusable(path: Path, suffix: str, size: int) -> str | None:
    """Why the build could not use a received file (its name ending in ``suffix``), as a message id, or None.

    The readers are the build's own: the photo decoder (reduced, as the photo selection reads it: a 12 MP
    JPEG takes about 0.2 s) for every picture, ffprobe for a video, the start of a PDF, the JSON parser for a
    tracking events file. A video ffprobe reads but that is cut short is left for the build's check.
    """
    if size == 0:
        return EMPTY
    if suffix in PHOTO_SUFFIXES:
        from ...media.photos import ANALYSIS_PIXELS, load_upright

        try:
            load_upright(path, max_pixels=ANALYSIS_PIXELS)
        except Exception:  # PhotoError, or anything else a decoder raises: not a picture the build can use
            return NOT_PICTURE
    elif suffix in VIDEO_SUFFIXES:
        from ...errors import MissingDependencyError
        from ...media.video import VideoError, probe_video

        try:
            probe_video(path)
        except VideoError:
            return NOT_VIDEO
        except MissingDependencyError:
            pass  # no ffprobe here: the build says so, with how to install it
    elif suffix in RECEIPT_SUFFIXES:
        with open(path, "rb") as handle:
            if b"%PDF-" not in handle.read(1024):  # readers allow a little junk before the header
                return NOT_PDF
    elif suffix == ".json":
        try:
            json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError):
            return NOT_JSON
    return None


def _twin(folder: Path, size: int, digest: str) -> Path | None:
    """A file of ``folder`` (a case's kind folder) with exactly these bytes, if there is one."""
    for existing in sorted(folder.iterdir()):
        if existing.name.startswith(".") or existing.is_symlink() or not existing.is_file():
            continue  # hidden: our own temporaries among them
        if existing.stat().st_size == size and sha256_file(existing) == digest:
            return existing
    return None


async def receive_upload(stream: AsyncIterator[bytes], content_type: str, root: Path, *, kind: str,
                         limit: int) -> Upload:
    """Parse a multipart body from ``stream`` into the case folder ``root``.

    Raises TooLarge after reading (and dropping) the rest of the body, so the client always gets the 413
    instead of a reset connection; NotMultipart, or BadUpload for a malformed body.
    """
    from python_multipart.multipart import MultipartParser, parse_options_header
    from starlette.concurrency import run_in_threadpool

    media_type, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise NotMultipart("send the files as multipart/form-data in the field 'files'")
    upload = Upload(root, kind, limit)
    callbacks = {name: getattr(upload, name) for name in
                 ("on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
                  "on_part_data", "on_part_end")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]  # a TypedDict of the same names
    failure: Exception | None = None
    pending = bytearray()
    try:
        async for chunk in stream:
            if failure is not None:
                continue  # drain: the answer comes after the body
            pending += chunk
            if len(pending) >= CHUNK:
                data, pending = bytes(pending), bytearray()
                try:
                    await run_in_threadpool(parser.write, data)
                except Exception as exc:  # TooLarge, or python-multipart's parse errors
                    failure = exc
        if failure is None:
            try:
                await run_in_threadpool(_finish, parser, bytes(pending), upload)
                await run_in_threadpool(upload.commit)
            except Exception as exc:
                failure = exc
    except BaseException:
        upload.discard()
        raise
    if failure is not None:
        upload.discard()
        if isinstance(failure, (TooLarge, BadUpload)):
            raise failure
        raise BadUpload(f"the upload could not be read: {failure}")
    return upload


def _finish(parser: Any, data: bytes, upload: Upload) -> None:
    if data:
        parser.write(data)
    parser.finalize()
    if upload._part.handle is not None:
        raise BadUpload("the upload ended in the middle of a file")
