"""Summary stage: ``summary.pdf``, one document a mediator can read in two minutes.

Cover (order facts, dispute, deadlines, exhibit list), the texts as they will be pasted, one section per
exhibit (lettered as ``manifest.exhibits`` letters them), supporting material that is not uploaded, the
evidence checklist, and an appendix listing every file with its SHA-256. Every page's footer carries the
page number and the manifest hash (``manifest.summary_hash``: the whole manifest without the summary's own
record and section, so the PDF can be listed in the manifest it summarises).

Public calls: ``render_summary`` (a PDF from a case and a manifest), ``summary_stage`` (the pipeline's
last stage) and ``build_summary`` (a case folder -> the PDF alone, running the other stages in a
temporary package).
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, CondPageBreak, Flowable, Frame, Image, KeepTogether, PageBreak,
                                PageTemplate, Paragraph, Spacer, Table, TableStyle)

from .. import __version__
from ..model.case import Case
from ..errors import InputError, MissingDependencyError, ToolError
from ..fsutil import atomic_path
from ..tools import pdftoppm
from ..model.manifest import FileRecord, Manifest, count_chars, exhibits, summary_hash
from ..report.fonts import FontChain
from ..dispute.checklist import without_sources
from ..dispute.complaint import asked_to_confirm_receipt, describe_exhibit
from ..model.reasons import REASON_RULES
from ..media.photos import load_upright
from ..model.reasons import REASONS, RESOLUTIONS

if TYPE_CHECKING:
    from ..dispute.checklist import Checklist
    from ..dispute.deadlines import DeadlineReport
    from ..media.tracking import CaseTracking
    from ..media.video import CaseVideo, Finding

SUMMARY_NAME = "summary.pdf"
SUMMARY_ROLE = "summary"
# 200 dpi is sharp on paper and on screen zoomed to page width; camera resolution would only add megabytes.
PRINT_DPI = 200
PHOTO_QUALITY = 85
SCREENSHOT_QUALITY = 90  # text in screenshots: higher quality, full colour resolution (4:4:4)
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
FOOTER_SPACE = 14 * mm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN
FRAME_HEIGHT = PAGE_HEIGHT - MARGIN - FOOTER_SPACE - 6 * mm
BOX_PADDING = 8
BOX_INNER_WIDTH = FRAME_WIDTH - 2 * BOX_PADDING
PHOTO_MAX_HEIGHT = 88 * mm  # two photo exhibits, each with its facts table, share a page
TALL_SCREENSHOT_WIDTH = 120 * mm  # phone screenshots: readable without filling the page with one message
SCREENSHOT_SLICE_HEIGHT = FRAME_HEIGHT - 24 * mm  # room for the part caption on every page
RECEIPT_DPI = 110  # a page drawn this size reads well at the 120 mm a tall image gets
RECEIPT_TIMEOUT = 60
PART_CAPTION_SPACE = 24  # points: the "Part i of n" line above each part of a long screenshot
SLICE_OVERLAP = 0.04  # each part of a long screenshot repeats a little of the previous one, so no line is cut

INK = colors.HexColor("#1d2733")
ACCENT = colors.HexColor("#1f4e79")
MUTED = colors.HexColor("#5f6b7a")
RULE = colors.HexColor("#c9d1db")
SHADE = colors.HexColor("#eef2f6")
WARN_SHADE = colors.HexColor("#fff4e0")
WARN_RULE = colors.HexColor("#e0a030")
OK_INK = colors.HexColor("#2e6b3a")
ALERT_INK = colors.HexColor("#a5481b")

KIND_TITLES = {"dispute": "Dispute description", "seller": "Message to the seller", "appeal": "Appeal",
               "report": "Report against the seller"}


@dataclass
class SummaryResult:
    path: Path
    bytes: int
    pages: int
    manifest_hash: str
    missing_characters: str  # characters no installed font could show (drawn as "?")

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path.name, "pages": self.pages, "manifest_hash": self.manifest_hash,
                "hash_covers": "the manifest without manifest_sha256, the summary's own record and section, "
                               "and the summary stage's problems"}


@dataclass
class SummaryInputs:
    """The earlier stages' typed results the summary shows (each None when that stage did not run)."""

    deadlines: DeadlineReport | None = None
    checklist: Checklist | None = None
    video: CaseVideo | None = None
    tracking: CaseTracking | None = None


def _size(n: int) -> str:
    return f"{n / 1_000_000:.2f} MB" if n >= 1_000_000 else f"{n / 1000:.1f} kB"


def _day(value: date | str | None) -> str:
    if not value:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return day.strftime("%d %b %Y").lstrip("0")


def _money(amount: Any, currency: str) -> str:
    return f"{amount:.2f} {currency}".strip() if amount is not None else ""


def _negotiation_words(days: int) -> str:
    """How long the seller has to answer before escalation, as a buyer would say it."""
    if days == 15:
        return f"The seller usually has 15 days to answer; some buyers report {_OTHER_NEGOTIATION_REPORTS}."
    return f"The seller has {days} days to answer before the dispute can be escalated."


def _fact_value(value: Any, currency: str) -> str:
    """A situation fact as the PDF shows it: dates and sums like the other rows, true/false as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return _day(value)
    if isinstance(value, Decimal):
        return _money(value, currency)
    return str(value)


def _plain_why(why: str) -> str:
    """Why a sentence is left out, without the advice meant for the person editing case.toml."""
    why = re.sub(r"(: (?:describe|use normal|end the|write|put) [^;]*)", "", why)
    return why.replace("speaks of the seller in the third person: ", "")


def _hash_lines(digest: str) -> str:
    """A SHA-256 on two lines of 32 hex digits, so hash columns stay narrow."""
    return f"{digest[:32]}\n{digest[32:]}"


def _humanise(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _describe_transform(record: FileRecord) -> str:
    """What was done to a photo, in words."""
    t = record.transform
    if not t:
        return "copied as is"
    if t.get("method") == "lossless":
        done = "kept as the original JPEG pixels (lossless re-wrap)"
        if t.get("orientation_applied", 1) not in (1, None):
            done += ", rotated upright without re-encoding"
    elif t.get("method") == "video_frame":
        done = f"frame taken from the video at {t.get('at', 0):.1f} s, JPEG quality {t.get('quality')}"
    else:
        done = f"re-encoded as JPEG, quality {t.get('quality')}" if t.get("quality") else "re-encoded as JPEG"
        if t.get("from"):
            done += f" from the {t['from']}"
        if t.get("scale") and t["scale"] < 1:
            done += f", scaled to {t['scale']:.0%}"
    if t.get("width") and t.get("height"):
        done += f"; {t['width']} × {t['height']} px"
    if t.get("source_format") and t["source_format"] not in ("JPEG", "grid"):
        done += f"; converted from {t['source_format']}"
    if t.get("stripped"):
        done += "; removed: " + ", ".join(t["stripped"])
    return done


class _FramedImage(Image):
    """A screenshot or document page with a hairline frame, so a white page does not melt into the paper."""

    def draw(self) -> None:
        super().draw()
        self.canv.saveState()
        self.canv.setStrokeColor(RULE)
        self.canv.setLineWidth(0.5)
        self.canv.rect(getattr(self, "_offs_x", 0), getattr(self, "_offs_y", 0), self.drawWidth, self.drawHeight)
        self.canv.restoreState()


class _Heading(Paragraph):
    """A heading that also becomes a PDF bookmark at ``level``."""

    def __init__(self, markup: str, style: ParagraphStyle, title: str, level: int) -> None:
        super().__init__(markup, style)
        self.outline = (title, level)


class _Document(BaseDocTemplate):
    def __init__(self, target: Any, footer_markup: str, manifest_hash: str, fonts: FontChain, **meta: Any) -> None:
        super().__init__(target, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                         bottomMargin=MARGIN + FOOTER_SPACE, **meta)
        self.footer_markup, self.manifest_hash, self.fonts = footer_markup, manifest_hash, fonts
        self.footer_style = ParagraphStyle("footer", fontName=fonts.regular.name, fontSize=7.5, leading=9,
                                           textColor=MUTED, alignment=TA_RIGHT)
        frame = Frame(MARGIN, MARGIN + FOOTER_SPACE, FRAME_WIDTH, FRAME_HEIGHT, id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._footer)])
        self._outline_keys = 0

    def _footer(self, canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        y = MARGIN + 6 * mm
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, y + 9, PAGE_WIDTH - MARGIN, y + 9)
        canvas.setFillColor(MUTED)
        canvas.setFont(self.fonts.regular.name, 7.5)
        label = f"Page {canvas.getPageNumber()} of "
        canvas.drawString(MARGIN, y, label)
        canvas.translate(MARGIN + canvas.stringWidth(label, self.fonts.regular.name, 7.5), y)
        canvas.doForm(_PageCountCanvas.FORM)  # the total, known only when the document is saved
        canvas.restoreState()
        canvas.saveState()
        label_width = FRAME_WIDTH * 0.7  # a Paragraph, so a Chinese case title finds its font too
        footer = Paragraph(self.footer_markup, self.footer_style)
        footer.wrap(label_width, 20)
        footer.drawOn(canvas, PAGE_WIDTH - MARGIN - label_width, y - (footer.style.leading - 7.5))  # same baseline
        canvas.setFillColor(MUTED)
        canvas.setFont(self.fonts.mono.name, 6.5)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, y - 9, f"manifest hash {self.manifest_hash}")
        canvas.restoreState()

    def afterFlowable(self, flowable: Flowable) -> None:
        outline = getattr(flowable, "outline", None)
        if outline:
            title, level = outline
            self._outline_keys += 1
            key = f"section-{self._outline_keys}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(title, key, level=level, closed=False)


class _PageCountCanvas(Canvas):
    """Draws the page total into a form XObject that every footer references."""

    FORM = "ek-page-count"

    def __init__(self, *args: Any, font_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.font_name = font_name
        self.pages = 0

    def save(self) -> None:
        total = self.getPageNumber() - (0 if self._code else 1)
        self.pages = total
        self.beginForm(self.FORM)
        self.setFont(self.font_name, 7.5)
        self.setFillColor(MUTED)
        self.drawString(0, 0, str(total))
        self.endForm()
        super().save()


class _Builder:
    """Collects the story (flowables) from the case and the manifest."""

    def __init__(self, case: Case, manifest: Manifest, results: SummaryInputs, package: Path, fonts: FontChain,
                 today: date) -> None:
        self.case, self.manifest, self.results, self.package, self.fonts = case, manifest, results, package, fonts
        self.today = today
        self.story: list[Flowable] = []
        self.problems: list[tuple[str, str]] = []  # (path, message) for files that could not be shown
        regular, bold, mono = fonts.regular.name, fonts.bold.name, fonts.mono.name
        self.styles = {
            "kicker": ParagraphStyle("kicker", fontName=bold, fontSize=8.5, leading=11, textColor=MUTED,
                                     spaceAfter=4),
            "title": ParagraphStyle("title", fontName=bold, fontSize=20, leading=25, textColor=INK, spaceAfter=4),
            "subtitle": ParagraphStyle("subtitle", fontName=regular, fontSize=9.5, leading=13, textColor=MUTED,
                                       spaceAfter=10),
            # keepWithNext: a heading never ends a page without what it introduces
            "h1": ParagraphStyle("h1", fontName=bold, fontSize=14, leading=18, textColor=ACCENT, spaceBefore=4,
                                 spaceAfter=8, keepWithNext=1),
            "h2": ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14, textColor=INK, spaceBefore=10,
                                 spaceAfter=5, keepWithNext=1),
            "body": ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=13.5, textColor=INK,
                                   alignment=TA_LEFT),
            "cell": ParagraphStyle("cell", fontName=regular, fontSize=8.5, leading=11.5, textColor=INK),
            "label": ParagraphStyle("label", fontName=bold, fontSize=8.5, leading=11.5, textColor=MUTED),
            "small": ParagraphStyle("small", fontName=regular, fontSize=7.5, leading=10, textColor=MUTED),
            "mono": ParagraphStyle("mono", fontName=mono, fontSize=6.5, leading=8.5, textColor=INK),
            "missing": ParagraphStyle("missing", fontName=regular, fontSize=9.5, leading=13.5,
                                      textColor=MUTED),
            "strong": ParagraphStyle("strong", fontName=bold, fontSize=9.5, leading=13, textColor=INK),
            "ok": ParagraphStyle("ok", fontName=bold, fontSize=8.5, leading=11.5, textColor=OK_INK),
            "alert": ParagraphStyle("alert", fontName=bold, fontSize=8.5, leading=11.5, textColor=ALERT_INK),
            "paste": ParagraphStyle("paste", fontName=regular, fontSize=9.5, leading=14, textColor=INK),
        }

    # --- small pieces -----------------------------------------------------------------------------------

    def para(self, text: str, style: str = "body") -> Paragraph:
        st = self.styles[style]
        return Paragraph(self.fonts.markup(text, bold=st.fontName == self.fonts.bold.name,
                                           mono=st.fontName == self.fonts.mono.name), st)

    def heading(self, text: str, level: int, bookmark: str | None = None) -> Paragraph:
        style = self.styles["h1" if level == 0 else "h2"]
        return _Heading(self.fonts.markup(text, bold=True), style, bookmark or text, level)

    def missing(self, text: str) -> Paragraph:
        return self.para(text, "missing")

    def facts_table(self, rows: list[tuple[str, str]], label_width: float = 42 * mm,
                    width: float = FRAME_WIDTH) -> Table:
        data = [[self.para(label, "label"), self.para(value or "—", "cell")] for label, value in rows]
        table = Table(data, colWidths=[label_width, width - label_width], hAlign="LEFT", splitInRow=1)
        table.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, -1), self.fonts.regular.name, 8.5),  # no unembedded Helvetica default
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 6),
        ]))
        return table

    def grid_table(self, header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
        data = [[self.para(h, "label") for h in header]]
        for row in rows:
            data.append([cell if isinstance(cell, Flowable) else self.para(str(cell), "cell") for cell in row])
        table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT", splitInRow=1)
        table.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, -1), self.fonts.regular.name, 8.5),  # no unembedded Helvetica default
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]))
        return table

    def boxed(self, flowables: list[Flowable], shade: colors.Color = SHADE, rule: colors.Color = RULE) -> Table:
        table = Table([[flowables]], colWidths=[FRAME_WIDTH], hAlign="LEFT", splitInRow=1)  # long notes run on
        table.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, -1), self.fonts.regular.name, 8.5),  # no unembedded Helvetica default
            ("BACKGROUND", (0, 0), (-1, -1), shade), ("BOX", (0, 0), (-1, -1), 0.6, rule),
            ("LEFTPADDING", (0, 0), (-1, -1), BOX_PADDING), ("RIGHTPADDING", (0, 0), (-1, -1), BOX_PADDING),
            ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
        ]))
        return table

    def _load(self, file: Path) -> PILImage.Image | Paragraph:
        try:
            im, _facts = load_upright(file)
        except InputError as exc:
            self.problems.append((self.rel(file), exc.message))
            return self.missing(f"This file could not be shown here: {exc.message}")
        return im.convert("RGB")

    def image(self, file: Path, max_width: float, max_height: float) -> Flowable:
        """A photo scaled into the box and downsampled to print resolution."""
        im = self._load(file)
        if isinstance(im, Paragraph):
            return im
        ratio = min(max_width / im.width, max_height / im.height)
        return self._embedded(im, im.width * ratio, im.height * ratio, screenshot=False)

    def screenshot(self, head: list[Flowable], file: Path) -> list[Flowable]:
        """``head`` (headings, notes) and a screenshot at a readable width; a long one cut into page-high
        parts, the first sized to share its page with ``head`` so no heading is left alone at a page end."""
        im = self._load(file)
        if isinstance(im, Paragraph):
            return [KeepTogether([*head, im])]
        max_width = TALL_SCREENSHOT_WIDTH if im.height > im.width else FRAME_WIDTH
        width_pt = min(max_width, im.width * 72 / 96)  # never enlarged past its size on a 96 dpi screen
        pt_per_px = width_pt / im.width
        head_pt = sum(f.wrap(FRAME_WIDTH, FRAME_HEIGHT)[1] + f.getSpaceBefore() + f.getSpaceAfter() for f in head)
        first_px = int(max(40 * mm, FRAME_HEIGHT - head_pt - PART_CAPTION_SPACE) / pt_per_px)
        if im.height <= first_px:
            return [KeepTogether([*head, self._embedded(im, width_pt, im.height * pt_per_px, screenshot=True)])]
        slice_px = int(SCREENSHOT_SLICE_HEIGHT / pt_per_px)
        pieces = [(0, first_px)]  # (top, height) in pixels
        while sum(pieces[-1]) < im.height:
            top = pieces[-1][0] + int(pieces[-1][1] * (1 - SLICE_OVERLAP))
            pieces.append((top, min(slice_px, im.height - top)))
        parts: list[Flowable] = []
        for i, (top, height) in enumerate(pieces, 1):
            parts.append(KeepTogether([
                *(head if i == 1 else []),
                self.para(f"Part {i} of {len(pieces)} (pixels {top}–{top + height} of {im.height})", "small"),
                Spacer(1, 2),
                self._embedded(im.crop((0, top, im.width, top + height)), width_pt, height * pt_per_px,
                               screenshot=True)]))
        return parts

    def _embedded(self, im: PILImage.Image, width_pt: float, height_pt: float, *, screenshot: bool) -> Image:
        target = (max(1, round(width_pt / 72 * PRINT_DPI)), max(1, round(height_pt / 72 * PRINT_DPI)))
        if im.width > target[0] * 1.05:
            im = im.resize(target, PILImage.Resampling.LANCZOS, reducing_gap=3.0)
        buffer = io.BytesIO()
        im.save(buffer, "JPEG", quality=SCREENSHOT_QUALITY if screenshot else PHOTO_QUALITY, optimize=True,
                subsampling="4:4:4" if screenshot else "4:2:0")
        buffer.seek(0)
        flowable = (_FramedImage if screenshot else Image)(buffer, width=width_pt, height=height_pt)
        flowable.hAlign = "LEFT"
        return flowable

    def rel(self, file: Path) -> str:
        for base in (self.package, self.case.root):
            if file.is_relative_to(base):
                return file.relative_to(base).as_posix()
        return str(file)

    # --- sections ---------------------------------------------------------------------------------------

    def build(self) -> list[Flowable]:
        self.cover()
        self.texts()
        self.exhibit_sections()
        self.supporting()
        self.checklist()
        self.own_account()
        self.appendix()
        return self.story

    def cover(self) -> None:
        case, order, dispute = self.case, self.case.order, self.case.dispute
        s = self.story
        s.append(self.para("DISPUTE EVIDENCE SUMMARY", "kicker"))
        s.append(_Heading(self.fonts.markup(case.title, bold=True), self.styles["title"], "Case overview", 0))
        s.append(self.para(f"Order {order.number} · prepared {_day(self.today)} with evidence-kit {__version__} · "
                           f"profile {case.profile.name}", "subtitle"))
        price = _money(order.price, order.currency)
        s.append(self.heading("Order", 1, "Order and dispute"))
        s.append(self.facts_table([
            ("Order number", order.number), ("Store", order.store), ("Item", order.item), ("Price paid", price),
            ("Ordered", _day(order.ordered)), ("Shipped", _day(order.shipped)),
            ("Delivered", _day(order.delivered) or "not delivered"),
            ("Buyer protection ends", _day(order.protection_ends))]))
        amount = _money(dispute.amount, order.currency)
        s.append(self.heading("Dispute", 1, "Dispute"))
        rows = [("Reason", REASONS.get(dispute.reason, dispute.reason)),
                ("Requested resolution", RESOLUTIONS.get(dispute.resolution, dispute.resolution)),
                ("Amount requested", amount)]
        rows += [(label, _day(value)) for label, value in (("Seller contacted", dispute.seller_contacted),
                                                           ("Dispute opened", dispute.opened),
                                                           ("Escalated dispute closed", dispute.escalated_closed))
                 if value]
        if dispute.seller_reply:
            rows.append(("Seller's reply", dispute.seller_reply))
        rows += [(_humanise(name), _fact_value(getattr(case.facts, name), order.currency))
                 for name in case.facts.given()]  # the situation facts the texts are written from
        s.append(self.facts_table(rows))
        s.append(Spacer(1, 8))
        s.append(KeepTogether([self.deadline_box()]))
        s.append(self.heading("Exhibits", 1, "Exhibit list"))
        lettered = exhibits(self.manifest.outputs)
        if lettered:
            rows_ex = [[self.para(letter, "label"), self.exhibit_kind(r), r.path.rsplit("/", 1)[-1], _size(r.bytes)]
                       for letter, r in lettered]
            s.append(self.grid_table(["", "What", "File (in upload/)", "Size"], rows_ex,
                                     [10 * mm, 72 * mm, FRAME_WIDTH - 102 * mm, 20 * mm]))
            s.append(Spacer(1, 3))
            s.append(self.para("Exhibits are lettered in the order they are uploaded; the texts refer to them by "
                               "these letters.", "small"))
        else:
            s.append(self.missing("No evidence files were prepared for upload in this case."))
        s.append(PageBreak())

    def exhibit_kind(self, record: FileRecord) -> str:
        kind = record.info.get("kind")
        if record.role == "video":
            return "Unboxing video"
        if record.role == "photo" and kind in ("tracking", "chat"):  # by what it is: typed table or screenshot
            words = describe_exhibit(record, REASON_RULES[self.case.dispute.reason].parcel_arrived)
            number = record.info.get("number")
            return words[0].upper() + words[1:] + (f" (tracking number {number})" if number else "")
        if record.role == "photo" and kind == "still":
            return str(record.info.get("caption") or "Frame from the video")
        if record.role == "photo":
            return "Photo" + (f": {record.info['caption']}" if record.info.get("caption") else "")
        return _humanise(kind or record.role)

    def deadline_box(self) -> Table:
        """The deadlines stage's report: today's status, the advice and each key date."""
        report = self.results.deadlines
        inner: list[Flowable] = [self.para(f"Deadlines · status on {_day(self.today)}", "label"), Spacer(1, 2)]
        if report is not None:
            if report.stage:
                inner.append(self.para(report.stage.headline, "strong"))
            if report.advice:
                inner.append(self.para(report.advice, "strong"))
            rows = []
            for item in report.deadlines:
                when = (f"{_day(item.start)} – {_day(item.day)}" if item.start else _day(item.day)) if item.day else (
                    f"unknown: {item.missing_words} not given" if item.needs else "unknown")
                rows.append((item.title, when))
            if rows:
                inner.append(Spacer(1, 4))
                inner.append(self.facts_table(rows, label_width=78 * mm, width=BOX_INNER_WIDTH))
            # For the buyer and the mediator: no configuration hints and no article numbers (those are in
            # the CLI output, the manifest and the README).
            for note in [report.negotiation_note, *report.notes]:
                inner.append(Spacer(1, 2))
                inner.append(self.para(without_sources(note), "small"))
        else:
            order = self.case.order
            key = [(label, _day(value)) for label, value in (("Shipped", order.shipped),
                                                            ("Delivered", order.delivered),
                                                            ("Buyer protection ends", order.protection_ends))
                   if value]
            inner.append(self.para("Deadlines were not worked out in this build; the key dates of the order are:",
                                   "missing"))
            if key:
                inner.append(self.facts_table(key, label_width=78 * mm, width=BOX_INNER_WIDTH))
        if asked_to_confirm_receipt(self.case):  # never confirm receipt of a problem order (000, 004)
            inner.append(Spacer(1, 3))
            inner.append(self.para("The seller asked the buyer to confirm receipt. Do not confirm receipt while the "
                                   "problem is not solved: confirming tells the platform that everything is fine.",
                                   "strong"))
        return self.boxed(inner, WARN_SHADE, WARN_RULE)

    def texts(self) -> None:
        s = self.story
        s.append(self.heading("Texts for the dispute form", 0))
        chosen: dict[str, FileRecord] = {}
        for record in self.manifest.outputs:
            if record.role != "complaint":
                continue
            kind = str(record.info.get("kind") or Path(record.path).stem)
            if kind not in chosen or (record.upload and not chosen[kind].upload):
                chosen[kind] = record  # the upload/ copy is what gets pasted
        if not chosen:
            s.append(self.missing("No texts were written in this build."))
        limit = self.case.profile.max_text_chars
        order = list(KIND_TITLES)  # the dispute text first: it is the one that goes into the form
        for kind, record in sorted(chosen.items(), key=lambda item: (order.index(item[0]) if item[0] in order
                                                                      else len(order), item[0])):
            file = self.package / record.path
            try:
                text = file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                self.problems.append((record.path, f"cannot read the text: {exc}"))
                continue
            chars = count_chars(text)
            s.append(CondPageBreak(60 * mm))
            s.append(self.heading(KIND_TITLES.get(kind, _humanise(kind)), 1))
            s.append(self.para(f"{record.path} · {chars} of {limit} characters"
                               + (" · OVER THE LIMIT" if chars > limit else ""), "small"))
            s.append(Spacer(1, 3))
            s.append(self.boxed([Paragraph(self.fonts.markup(text), self.styles["paste"])], colors.white))
        s.append(PageBreak())

    def own_account(self) -> None:
        """The buyer's notes as written, in a section of their own (after the texts, apart from them): nothing of
        the buyer's is lost, and what the texts left out is listed with why."""
        s = self.story
        notes, notes_en = self.case.dispute.notes, self.case.dispute.notes_en
        s.append(CondPageBreak(60 * mm))
        s.append(self.heading("The buyer's own account", 0))
        if notes and notes_en:
            s.append(self.para("As written by the buyer, beside the English version the texts use.", "small"))
            s.append(Spacer(1, 3))
            s.append(self.side_by_side(("As written", notes), ("In English", notes_en)))
        elif notes or notes_en:
            s.append(self.para("As written by the buyer, in the original language.", "small"))
            s.append(Spacer(1, 3))
            s.append(self.boxed([Paragraph(self.fonts.markup(notes or notes_en), self.styles["paste"])], colors.white))
        else:
            s.append(self.missing("The buyer gave no notes in this case."))
        left_out: dict[str, str] = {}
        for record in self.manifest.outputs:
            if record.role == "complaint":
                for item in record.info.get("notes_left_out") or ():
                    left_out.setdefault(str(item.get("sentence")), str(item.get("why")))
        if left_out:
            s.append(Spacer(1, 5))
            s.append(self.para("Sentences of the buyer's account that the texts do not use, and why:", "small"))
            rows = [[self.para(self.fonts.markup(sentence), "small"), self.para(_plain_why(why), "small")]
                    for sentence, why in left_out.items()]
            s.append(self.grid_table(["Sentence", "Why the texts leave it out"], rows,
                                     [FRAME_WIDTH * 0.55, FRAME_WIDTH * 0.45]))

    def side_by_side(self, left: tuple[str, str], right: tuple[str, str]) -> Table:
        """Two texts in two columns with their labels (the buyer's notes and their English version)."""
        half = FRAME_WIDTH / 2
        table = Table([[self.para(left[0], "label"), self.para(right[0], "label")],
                       [Paragraph(self.fonts.markup(left[1]), self.styles["paste"]),
                        Paragraph(self.fonts.markup(right[1]), self.styles["paste"])]],
                      colWidths=[half, half], hAlign="LEFT", splitInRow=1)
        table.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, -1), self.fonts.regular.name, 8.5),  # no unembedded Helvetica default
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 0), (-1, -1), 0.6, RULE),
            ("LINEBEFORE", (1, 0), (1, -1), 0.4, RULE), ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LEFTPADDING", (0, 0), (-1, -1), BOX_PADDING), ("RIGHTPADDING", (0, 0), (-1, -1), BOX_PADDING),
            ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ]))
        return table

    def exhibit_sections(self) -> None:
        s = self.story
        s.append(self.heading("Exhibits", 0))
        lettered = exhibits(self.manifest.outputs)
        if not lettered:
            s.append(self.missing("No evidence files were prepared for upload, so there are no exhibits."))
        has_video = any(r.role == "video" for _, r in lettered)
        for letter, record in lettered:
            title = f"Exhibit {letter}: {self.exhibit_kind(record)}"
            if record.role == "video":
                self.video_exhibit(title, record)
            else:
                self.photo_exhibit(title, record)
        if not has_video:
            s.append(CondPageBreak(30 * mm))
            s.append(self.heading("Video", 1, "Video (none)"))
            error = self.results.video.error if self.results.video else ""
            s.append(self.missing("No video in this case." if not self.case.media.videos else
                                  f"The case has a video, but it could not be prepared for upload: {error}" if error
                                  else "The case has a video, but it could not be prepared for upload."))

    def photo_exhibit(self, title: str, record: FileRecord) -> None:
        """The photo (or uploaded tracking screenshot), then what was done to it and its SHA-256."""
        file = self.package / record.path
        rows = [("Uploaded file", f"{record.path} ({_size(record.bytes)})"),
                ("Original", record.source or "made by evidence-kit"),
                ("What was done", _describe_transform(record))]
        if record.transform.get("captured"):
            rows.append(("Taken", str(record.transform["captured"])))
        if record.info.get("combines"):
            rows.append(("Combines", ", ".join(record.info["combines"])))
        rows.append(("SHA-256", record.sha256))
        facts = [Spacer(1, 5), self.facts_table(rows, label_width=30 * mm)]
        heading = self.heading(title, 1)
        if record.info.get("kind") == "tracking":  # may be long: cut into parts, the facts after the last
            self.story.extend([*self.screenshot([heading], file), KeepTogether(facts)])
        else:
            self.story.append(KeepTogether([heading, self.image(file, FRAME_WIDTH, PHOTO_MAX_HEIGHT), *facts]))

    def video_exhibit(self, title: str, record: FileRecord) -> None:
        """Facts (video stage's ``sections["video"]``: probe, done, findings), checks, contact sheet."""
        s = self.story
        s.append(self.heading(title, 1))
        report = self.results.video.report if self.results.video else None
        rows = [("Uploaded file", f"{record.path} ({_size(record.bytes)})"), ("Original", record.source or "")]
        if report is not None:
            probe, (width, height) = report.probe, report.probe.display_size
            audio = f", {probe.audio_codec.upper()} audio" if probe.audio_codec else ", no sound"
            rows.append(("Original file", f"{probe.video_codec.upper()} {width} × {height}, {probe.fps:.0f} fps, "
                                          f"{probe.duration:.1f} s{audio}, {_size(probe.bytes)}"))
            if probe.created:
                rows.append(("Filmed", probe.created))
            done, out = report.prepared, report.output_probe
            what = ("streams copied without re-encoding" if done.method == "stream_copy" else
                    f"re-encoded ({', '.join(done.reasons) or 'to fit the size limit'})")
            what += f"; kept {done.span[0]:.1f}–{done.span[1]:.1f} s of the original"
            if done.duration:
                what += f"; {done.duration:.1f} s long"
            what += "; " + " + ".join(c.upper() for c in (out.video_codec, out.audio_codec) if c)
            what += f" {out.display_size[0]} × {out.display_size[1]}"
            rows.append(("What was done", what))
            rows.append(("Removed", ", ".join(done.transform()["stripped"])))
        rows.append(("SHA-256", record.sha256))
        s.append(self.facts_table(rows, label_width=30 * mm))
        findings = report.findings if report else []
        s.append(self.heading("Checks on the video", 1, "Video checks"))
        if findings:
            finding_rows = [[f.severity.capitalize(), self._finding_text(f)] for f in findings]
            s.append(self.grid_table(["Result", "Finding"], finding_rows, [22 * mm, FRAME_WIDTH - 22 * mm]))
        else:
            s.append(self.missing("No problems were found in this video (no cuts, no damage, no black stretches)."
                                  if report else "No checks were recorded for this video."))
        sheets = [r for r in self.manifest.outputs if r.role == "contact_sheet"]
        for sheet in sheets:
            s.append(CondPageBreak(100 * mm))
            s.append(self.heading("Frames from the video (contact sheet)", 1, "Contact sheet"))
            s.append(self.image(self.package / sheet.path, FRAME_WIDTH, FRAME_HEIGHT - 40 * mm))
        if not sheets:
            s.append(self.missing("No contact sheet of frames was made for this video."))

    @staticmethod
    def _finding_text(finding: Finding) -> str:
        text = finding.message or finding.code
        if finding.at is not None:
            text += f" (at {finding.at:.1f} s" + (f" to {finding.until:.1f} s)" if finding.until is not None else ")")
        return text

    def supporting(self) -> None:
        """Material the form does not take but a mediator may ask for: tracking pages, chats, receipts."""
        s = self.story
        s.append(PageBreak())
        # The headings and notes go inside the first screenshot's KeepTogether (keepWithNext cannot reach it).
        intro: list[Flowable] = [self.heading("Supporting evidence (not uploaded in the form)", 0,
                                              "Supporting evidence"), self.heading("Tracking", 1)]
        for ref in self.case.tracking:
            intro.append(self.para(f"Tracking number {ref.number or '—'}" + (f" ({ref.carrier})" if ref.carrier else "")
                                   + (f" · {ref.url}" if ref.url else ""), "body"))
        tracking = self.results.tracking
        for item in tracking.not_looked_up if tracking else []:
            intro.append(self.para(f"Tracking number {item['number']} was not looked up online in this build.",
                                   "small"))
        for item in tracking.errors if tracking else []:
            intro.append(self.para(f"Not captured: {item['target']}: {item['message']}", "small"))
        # The tracking stage's full-page captures (role "tracking"); uploaded JPEG parts are exhibits above.
        screenshots = [r for r in self.manifest.outputs if r.role == "tracking" and not r.upload
                       and Path(r.path).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")]
        for number, record in enumerate(screenshots, 1):
            info, transform = record.info, record.transform
            title = str(info.get("title") or info.get("site") or info.get("number") or Path(record.path).name)
            if transform.get("parts", 1) > 1:
                title += f" (part {transform.get('part')} of {transform['parts']})"
            where = info.get("final_url") or info.get("url") or ("events entered by the buyer"
                                                                  if info.get("kind") == "events" else "")
            when = f"captured {info['captured_utc']}" if info.get("captured_utc") else ""
            if info.get("kept_from_earlier_build"):
                when += " (kept from an earlier build: this build could not capture it)"
            head = [*(intro if number == 1 else []), self.heading(f"Tracking screenshot {number}: {title}", 1),
                    self.para(" · ".join(x for x in (str(where), when) if x), "small"),
                    self.para(f"{record.path} · {_size(record.bytes)} · SHA-256 {record.sha256}", "small"),
                    Spacer(1, 3)]
            s.extend(self.screenshot(head, self.package / record.path))
        if not screenshots:
            s.extend([*intro, self.missing("No tracking screenshots in this case.")])
        self._input_images("Chat with the seller", "chat", "No screenshots of the chat with the seller in this case.")
        s.append(CondPageBreak(40 * mm))
        s.append(self.heading("Receipts and invoices", 1))
        receipts = [r for r in self.manifest.inputs if r.role == "receipt"]
        if receipts:
            rows = [[r.path, _size(r.bytes), self.para(_hash_lines(r.sha256), "mono")] for r in receipts]
            s.append(self.grid_table(["File", "Size", "SHA-256"], rows, [FRAME_WIDTH - 72 * mm, 22 * mm, 50 * mm]))
            s.append(self.para("Receipts are kept as the original PDF files; attach them where the form takes "
                               "documents. The first page of each follows.", "small"))
            for record in receipts:
                s.extend(self.receipt_preview(record))
        else:
            s.append(self.missing("No receipts or invoices in this case."))

    def receipt_preview(self, record: FileRecord) -> list[Flowable]:
        """The first page of a receipt PDF, drawn by poppler's pdftoppm as a PDF reader would show it."""
        head: list[Flowable] = [Spacer(1, 8), self.para(f"{record.path}: first page", "small"), Spacer(1, 3)]
        with tempfile.TemporaryDirectory(prefix=".ek-receipt-") as work:
            page = Path(work) / "page.png"
            try:
                pdftoppm.first_page_png(self.case.root / record.path, page, dpi=RECEIPT_DPI, timeout=RECEIPT_TIMEOUT)
            except MissingDependencyError:
                return [*head, self.missing("No preview: pdftoppm (poppler-utils) is not installed.")]
            except ToolError as exc:
                self.problems.append((record.path, f"receipt cannot be previewed: {exc.message}"))
                return [*head, self.missing(f"No preview: the PDF could not be read ({exc.message}).")]
            return self.screenshot(head, page)  # decoded and embedded before the folder goes

    def _input_images(self, title: str, role: str, none_text: str) -> None:
        s = self.story
        records = [r for r in self.manifest.inputs if r.role == role]
        s.append(CondPageBreak(60 * mm))
        heading = self.heading(title, 1)
        if not records:
            s.extend([heading, self.missing(none_text)])
        for index, record in enumerate(records):
            # keepWithNext cannot reach into a KeepTogether: the heading goes inside the first one
            head = [heading] if index == 0 else []
            head += [self.para(f"{record.path} · {_size(record.bytes)} · SHA-256 {record.sha256}", "small"),
                     Spacer(1, 3)]
            s.extend(self.screenshot(head, self.case.root / record.path))
            s.append(Spacer(1, 8))

    def checklist(self) -> None:
        """The checklist stage's ``sections["checklist"]``: what the reason needs, what is present, the gaps."""
        s = self.story
        s.append(CondPageBreak(70 * mm))
        s.append(self.heading("Evidence checklist", 0))
        checklist = self.results.checklist
        if checklist is None:
            s.append(self.missing("The evidence checklist was not worked out in this build."))
            return
        verdict = ("Everything the reason needs is here." if checklist.complete else
                   "Something the reason needs is missing: see below.")
        s.append(self.para(f"Reason: {checklist.title}. {verdict}", "body"))
        for label, value in (("What it can win", checklist.wins), ("Note", without_sources(checklist.caveat))):
            if value:
                s.append(self.para(f"{label}: {value}", "small"))
        s.append(Spacer(1, 5))
        rows: list[list[Any]] = []
        for kind, files in checklist.present.items():
            rows.append([self.para("Present", "ok"), _humanise(kind), ", ".join(files)])
        for gap in checklist.gaps:
            status = "Missing" if gap.required else "Recommended"
            rows.append([self.para(status, "alert"), _humanise(gap.kind), gap.message])
        if rows:
            s.append(self.grid_table(["Status", "Evidence", "Details"], rows,
                                     [28 * mm, 30 * mm, FRAME_WIDTH - 58 * mm]))

    def appendix(self) -> None:
        s = self.story
        s.append(PageBreak())
        s.append(self.heading("Appendix: manifest of every file", 0, "Appendix: manifest"))
        s.append(self.para("Every file the package was made from and every file it contains, with its size and "
                           "SHA-256. To check that nothing was changed since, run:", "body"))
        s.append(Spacer(1, 3))
        s.append(self.boxed([self.para("evidence-kit verify evidence-package", "mono")]))
        s.append(Spacer(1, 3))
        s.append(self.para(
            "It recomputes every hash below, re-checks every upload limit of the profile, and checks the manifest "
            "hash printed in this document's footer. That hash is the SHA-256 of manifest.json as it was when this "
            "document was made (every fact, file and problem, without this summary's own entry): it identifies "
            "exactly which facts and files this document describes. It is not a signature: it shows a change, not "
            "who made the package.", "small"))
        for title, records, base in (("Evidence as given (inputs)", self.manifest.inputs, "case folder"),
                                     ("Package contents (outputs)", [r for r in self.manifest.outputs
                                                                     if r.role != SUMMARY_ROLE], "package")):
            s.append(self.heading(title, 1))
            if not records:
                s.append(self.missing("None."))
                continue
            rows = [[r.path + (" (uploaded)" if r.upload else ""), r.role, _size(r.bytes),
                     self.para(_hash_lines(r.sha256), "mono")] for r in records]
            s.append(self.grid_table([f"Path (in the {base})", "Role", "Size", "SHA-256"], rows,
                                     [FRAME_WIDTH - 96 * mm, 28 * mm, 18 * mm, 50 * mm]))
        problems = [*self.manifest.errors, *self.manifest.warnings]
        if problems:
            s.append(self.heading("Problems recorded while building", 1))
            rows = [[p.path or f"{p.stage} stage", p.message] for p in problems]
            s.append(self.grid_table(["Where", "Problem"], rows, [55 * mm, FRAME_WIDTH - 55 * mm]))


def render_summary(case: Case, manifest: Manifest, package: str | Path, destination: str | Path, *,
                   results: SummaryInputs | None = None, today: date | None = None) -> SummaryResult:
    """Write the summary PDF for ``case`` from ``manifest`` (whose outputs live under ``package``).

    The PDF is written atomically. Files that cannot be shown are noted in the PDF and recorded as
    manifest warnings; a missing font setup raises MissingDependencyError.
    """
    package, destination = Path(package), Path(destination)
    today = today or datetime.now(timezone.utc).date()
    # Embed JPEGs byte for byte: reportlab's default ASCII85 wrap costs +25 % and seconds (TOOLCHAIN.md). Set
    # here, where it is used, and never flipped back, so concurrent builds in one process agree.
    rl_config.useA85 = 0
    fonts = FontChain.discover()
    digest = summary_hash(manifest.body())
    builder = _Builder(case, manifest, results or SummaryInputs(), package, fonts, today)
    story = builder.build()
    default_title = case.title == f"Order {case.order.number}"
    footer = fonts.markup(case.title if default_title else f"{case.title} · order {case.order.number}")
    fonts.register_fallbacks()
    meta = {"title": f"Dispute evidence summary: {case.title}",
            "subject": f"Order {case.order.number}: {REASONS.get(case.dispute.reason, case.dispute.reason)}",
            "author": "", "creator": f"evidence-kit {__version__}",
            "keywords": f"order {case.order.number}, manifest hash {digest}"}
    canvases: list[_PageCountCanvas] = []

    def make_canvas(*args: Any, **kwargs: Any) -> _PageCountCanvas:
        kwargs["initialFontName"] = fonts.regular.name  # no unembedded Helvetica in the page resources
        canvas = _PageCountCanvas(*args, font_name=fonts.regular.name, **kwargs)
        canvases.append(canvas)
        return canvas

    with atomic_path(destination) as tmp:
        doc = _Document(str(tmp), footer, digest, fonts, **meta)
        doc.build(story, canvasmaker=make_canvas)
    pages = canvases[-1].pages
    for path, message in builder.problems:
        manifest.warn(f"not shown in the summary PDF: {message}", path, "summary")
    if fonts.missing:
        manifest.warn("no installed font has these characters, shown as '?' in the summary PDF: "
                      + " ".join(f"U+{ord(c):04X}" for c in sorted(fonts.missing)), stage="summary")
    return SummaryResult(destination, destination.stat().st_size, pages, digest, "".join(sorted(fonts.missing)))
