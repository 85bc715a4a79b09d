"""Fonts for the summary PDF: embedded Noto fonts with a per-character fallback chain for any script.

The base faces are Noto Sans (Latin, Greek, Cyrillic) and Noto Sans Mono, found with ``fc-match``.
A character the base face lacks is looked up with ``fc-list :charset=...`` (Noto Sans faces first),
so a Chinese store name is set in Noto Sans CJK and a Hebrew note in Noto Sans Hebrew. reportlab can
only embed TrueType outlines, and Debian's Noto Sans CJK is CFF (PostScript outlines): such a face is
subset to the characters this document uses and converted to TrueType with fontTools first.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import unicodedata
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from xml.sax.saxutils import escape

from fontTools import subset as ft_subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont as FontFile
from fontTools.ttLib import TTLibError, newTable
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.lib.fonts import addMapping

from ..errors import MissingDependencyError
from ..tools import fontconfig

FONT_HINT = "install them with: sudo apt-get install fontconfig fonts-noto-core fonts-noto-cjk"
REPLACEMENT = "?"  # shown (and reported) for a character no installed font has


@dataclass(frozen=True)
class Face:
    """One font file (and face index inside a .ttc collection)."""

    file: str
    index: int
    format: str  # "TrueType" or "CFF"
    family: str

    @property
    def name(self) -> str:
        """The name reportlab knows it by: unique per file and face."""
        stem = self.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return f"EK-{stem}-{self.index}"


def _match(pattern: str) -> Face | None:
    line = fontconfig.match(pattern, "%{file}|%{index}|%{fontformat}|%{family[0]}").strip()
    parts = line.split("|")
    if len(parts) != 4 or not parts[0]:
        return None
    return Face(parts[0], int(parts[1] or 0), parts[2], parts[3])


@lru_cache(maxsize=None)
def _cmap(face: Face) -> frozenset[int]:
    try:
        with FontFile(face.file, fontNumber=face.index, lazy=True) as font:
            return frozenset(font.getBestCmap() or {})
    except (OSError, TTLibError):
        return frozenset()


def _ranked_candidates(codepoint: int, style: str | None) -> list[Face]:
    """Faces that have ``codepoint`` (in ``style``, or any style for None), best first: Noto Sans, plain
    (not Mono/Serif), TrueType."""
    out = fontconfig.list_fonts("-f", "%{file}|%{index}|%{fontformat}|%{family[0]}\n",
                                f":charset={codepoint:x}" + (f":style={style}" if style else ""))
    faces = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 4 and parts[2] in ("TrueType", "CFF"):
            faces.append(Face(parts[0], int(parts[1] or 0), parts[2], parts[3]))

    def rank(face: Face) -> tuple[int, int, int, int, int]:
        family = face.family
        return (not family.startswith("Noto Sans"), any(w in family for w in ("Mono", "Serif", "Display", "Emoji")),
                # Han characters on this platform are mostly store names from mainland China: Simplified first.
                "CJK" in family and not family.endswith(" SC"), face.format != "TrueType", len(family))

    return sorted(faces, key=rank)


def _cff_to_truetype(face: Face, text: str, tag: str) -> io.BytesIO:
    """Subset a CFF face to ``text`` and redraw its outlines as TrueType quadratics (reportlab needs glyf).

    The subset's PostScript name gets ``tag``: reportlab shares one font object among all registrations
    whose PostScript names match, so without it a later document would get an earlier one's glyphs.
    """
    font = FontFile(face.file, fontNumber=face.index, lazy=True)
    options = ft_subset.Options()
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.hinting = False
    options.layout_features = []
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for glyph_name in order:
        pen = TTGlyphPen(None)
        glyph_set[glyph_name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[glyph_name] = pen.glyph()
    font["glyf"], font["loca"] = glyf, newTable("loca")
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attribute in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                      "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attribute, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0  # no glyph names: CID-keyed fonts have none worth keeping
    font.sfntVersion = "\x00\x01\x00\x00"
    for record in font["name"].names:
        if record.nameID == 6:
            record.string = f"{record.toUnicode()}-{tag}"
    buffer = io.BytesIO()
    font.save(buffer)
    buffer.seek(0)
    return buffer


def _map_as_family(name: str) -> None:
    """Let <font name=...> markup use ``name``: reportlab's parser asks for its bold/italic variants.

    Each face stands for itself: bold text already picks a bold face (``markup(bold=True)``).
    """
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(name, bold, italic, name)


@dataclass
class FontChain:
    """Registered base faces plus the fallbacks the document's text needs.

    Call ``markup`` for every piece of text before building, then ``register_fallbacks`` once.
    """

    regular: Face
    bold: Face
    mono: Face
    fallbacks: dict[tuple[int, bool], Face | None] = field(default_factory=dict)  # (codepoint, bold) -> face
    used: dict[Face, set[str]] = field(default_factory=dict)  # fallback face -> characters set in it
    used_for_bold: dict[Face, bool] = field(default_factory=dict)  # which weight a fallback face stands in for
    missing: set[str] = field(default_factory=set)
    # A converted CFF subset holds only this document's characters: its name is this document's own, so
    # two documents built at once in one process never swap subsets.
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def name_of(self, face: Face) -> str:
        return f"{face.name}-{self.token}" if face.format == "CFF" else face.name

    @classmethod
    def discover(cls) -> "FontChain":
        regular, bold, mono = _match("Noto Sans:style=Regular"), _match("Noto Sans:style=Bold"), _match(
            "Noto Sans Mono:style=Regular")
        faces = (regular, bold, mono)
        if any(f is None or f.format != "TrueType" or not f.family.startswith("Noto Sans") for f in faces):
            raise MissingDependencyError(f"the Noto Sans fonts are not installed; {FONT_HINT}")
        chain = cls(regular, bold, mono)  # type: ignore[arg-type]
        for face in faces:
            if face.name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(face.name, face.file, subfontIndex=face.index))
        for face in faces:
            _map_as_family(face.name)
        return chain

    def _face_for(self, char: str, bold: bool, base: Face) -> Face | None:
        codepoint = ord(char)
        if codepoint in _cmap(base) or char in "\n\t":
            return base
        key = (codepoint, bold)
        if key not in self.fallbacks:
            known = [f for f in self.used if self.used_for_bold[f] == bold and codepoint in _cmap(f)]
            found = known[0] if known else None
            if found is None:
                # Some faces name their regular style "Book" (DejaVu): any style is the last resort.
                for style in (("Bold", "Regular", None) if bold else ("Regular", None)):
                    found = next((f for f in _ranked_candidates(codepoint, style) if codepoint in _cmap(f)), None)
                    if found:
                        break
            self.fallbacks[key] = found
        return self.fallbacks[key]

    def markup(self, text: str, *, bold: bool = False, mono: bool = False) -> str:
        """``text`` as Paragraph markup: escaped, line breaks kept, runs in fallback faces wrapped in <font>."""
        base = self.mono if mono else (self.bold if bold else self.regular)
        runs: list[tuple[Face | None, str]] = []
        for char in text.replace("\r\n", "\n").replace("\t", "    "):
            if char != "\n" and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
                continue  # control and invisible format characters: nothing to draw
            face = self._face_for(char, bold, base)
            if face is None:
                self.missing.add(char)
                face, char = base, REPLACEMENT
            elif face != base:
                if face not in self.used:
                    _map_as_family(self.name_of(face))
                    self.used_for_bold[face] = bold
                self.used.setdefault(face, set()).add(char)
            if runs and runs[-1][0] == face:
                runs[-1] = (face, runs[-1][1] + char)
            else:
                runs.append((face, char))
        parts = []
        for face, chunk in runs:
            escaped = escape(chunk).replace("\n", "<br/>")
            parts.append(escaped if face == base else f'<font name="{self.name_of(face)}">{escaped}</font>')
        return "".join(parts)

    def register_fallbacks(self) -> None:
        """Register every fallback face used so far (CFF faces subset and converted to TrueType)."""
        for face, chars in self.used.items():
            if face.format == "CFF":
                pdfmetrics.registerFont(TTFont(self.name_of(face), _cff_to_truetype(face, "".join(sorted(chars)),
                                                                                     self.token)))
            elif face.name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(face.name, face.file, subfontIndex=face.index))
