"""The case summary PDF, checked with the real tools a reader's machine would use: qpdf, pdftotext, pdftoppm."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from evidence_kit.model.case import load_case
from evidence_kit.errors import MissingDependencyError
from evidence_kit.model.manifest import FileRecord, Manifest, exhibits, summary_hash, verify_package
from evidence_kit import api
from evidence_kit.dispute.checklist import Checklist, Gap
from evidence_kit.model.options import BuildOptions
from evidence_kit.report.summary import SUMMARY_NAME, render_summary
from evidence_kit.stage import PhotoSlots, StageContext
from evidence_kit.stages import needed_programs
from evidence_kit.stages import photos as photo_stage
from evidence_kit.stages import summary as summary_stage
from evidence_kit.stages import video as video_stage
from evidence_kit.tools import preflight

from .conftest import noisy_photo

TODAY = date(2026, 11, 25)

UNICODE_TOML = """
title = "Сломанный чайник / Hervidor roto / 破损的水壶"

[order]
number = "8204417765390127"
store = "Sunny Home Appliance Store 阳光家居旗舰店"
item = "Электрочайник 1,7 л, нержавеющая сталь"
price = 34.90
currency = "USD"
ordered = 2026-10-20
shipped = 2026-10-22
delivered = 2026-11-18
protection_ends = 2026-12-20

[dispute]
reason = "damaged"
resolution = "refund_only"
amount = 34.90
seller_contacted = 2026-11-18
seller_reply = "请先确认收货 (confirm receipt first)"
notes = \"\"\"
Посылка пришла 18 ноября, корпус чайника треснул и протекает.
El hervidor llegó roto: ¿cómo es posible? Añadí fotos y el vídeo del desembalaje.
\"\"\"
"""

BARE_TOML = """
[order]
number = "8100000000000002"
store = "Plain Store"
item = "USB cable"
price = 3.10
currency = "EUR"
ordered = 2026-10-01
shipped = 2026-10-03

[dispute]
reason = "not_received"
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


def pdf_text(pdf: Path) -> str:
    done = _run("pdftotext", "-layout", str(pdf), "-")
    assert done.returncode == 0, done.stderr
    return done.stdout


def page_count(pdf: Path) -> int:
    info = _run("pdfinfo", str(pdf)).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def assert_sound_pdf(pdf: Path, tmp_path: Path) -> None:
    """qpdf finds no damage, every page renders with pdftoppm, and every font is embedded."""
    check = _run("qpdf", "--check", str(pdf))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout
    out = tmp_path / "pages"
    out.mkdir(exist_ok=True)
    render = _run("pdftoppm", "-r", "30", "-png", str(pdf), str(out / "page"))
    assert render.returncode == 0, render.stderr
    assert len(list(out.glob("page-*.png"))) == page_count(pdf)
    fonts = _run("pdffonts", str(pdf)).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), "\n".join(fonts)  # the "emb" column


def tall_tracking_page(path: Path, height: int = 9000) -> None:
    """A long phone-width tracking page: one dated event every 150 px, drawn text included."""
    im = Image.new("RGB", (900, height), "white")
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=28)
    for i, y in enumerate(range(40, height - 60, 150)):
        draw.rectangle((30, y, 870, y + 120), outline=(200, 205, 215), width=2)
        draw.text((50, y + 20), f"2026-11-{1 + i % 28:02d} 10:{i % 60:02d}  Event {i}: parcel in transit", fill="black",
                  font=font)
    im.save(path)


def distinct_photo(i: int) -> Image.Image:
    """An 8 MP photo unlike the others (a dark shape in a different place), so none is taken for a duplicate."""
    im = noisy_photo(3200, 2400, seed=i + 1)
    draw = ImageDraw.Draw(im)
    x, y = [(240, 240), (1760, 1120), (480, 1360)][i]
    draw.ellipse((x, y, x + 1120, y + 880), fill=(20 + 60 * i, 30, 40))
    draw.rectangle((2400 - 720 * i, 160, 2880 - 720 * i, 2240), fill=(230, 220 - 50 * i, 90))
    return im


def make_clip(path: Path) -> None:
    """A 2-second 320x240 H.264 clip from ffmpeg's test source."""
    made = _run("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path))
    assert made.returncode == 0, made.stderr


def invoice(path: Path) -> None:
    """A one-page PDF invoice, as a shop would send it."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica-Bold", 20)
    pdf.drawString(72, 760, "INVOICE 8204417765390127")
    pdf.setFont("Helvetica", 12)
    pdf.drawString(72, 730, "Electric kettle 1.7 L ........ 34.90 USD")
    pdf.save()


def chat_screenshot(path: Path) -> None:
    im = Image.new("RGB", (720, 1280), (245, 246, 248))
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=30)
    for i, line in enumerate(["Buyer: the kettle arrived cracked", "Seller: please confirm receipt first"]):
        draw.rounded_rectangle((30, 60 + i * 220, 690, 240 + i * 220), 24, fill=(220, 235, 250) if i % 2 == 0
                               else "white")
        draw.text((60, 120 + i * 220), line, fill="black", font=font)
    im.save(path)


@pytest.fixture(scope="module")
def rich_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A case with 3 camera-size photos, a short video (real video stage: upload + contact sheet), Unicode
    facts, a chat screenshot and the outputs the texts and tracking stages write (3 tracking screenshots,
    one very long), rendered by the real summary stage."""
    base = tmp_path_factory.mktemp("rich")
    root = base / "case"
    for folder in ("photos", "chat", "video", "receipts"):
        (root / folder).mkdir(parents=True)
    make_clip(root / "video" / "unboxing.mp4")
    invoice(root / "receipts" / "invoice.pdf")
    (root / "case.toml").write_text(UNICODE_TOML, encoding="utf-8")
    for i in range(3):  # 8 MP, well detailed: the PDF must not carry them at camera resolution
        distinct_photo(i).save(root / "photos" / f"IMG_{i}.jpg", quality=92)
    chat_screenshot(root / "chat" / "chat.png")
    case = load_case(root)
    staging = base / "package"
    staging.mkdir()
    manifest = Manifest(profile=case.profile)
    manifest.inputs = [FileRecord.of(f, root, role) for role, files in (
        ("photo", case.media.photos), ("video", case.media.videos), ("chat", case.media.chat),
        ("receipt", case.media.receipts)) for f in files]
    options = BuildOptions(today=TODAY)
    ctx = StageContext(case, staging, options, manifest, preflight(needed_programs(case, options)),
                       slots=PhotoSlots(case.profile.max_photos))
    photo_stage.run(ctx)
    video_stage.run(ctx)
    # What the tracking stage writes: full-page PNG captures, role "tracking", not uploaded.
    tracking = staging / "tracking"
    tracking.mkdir()
    tall_tracking_page(tracking / "cainiao-1.png")
    for n in (2, 3):
        tall_tracking_page(tracking / f"17track-{n}.png", height=1400)
    for png in sorted(tracking.glob("*.png")):
        ctx.add_output(png, "tracking", transform={"method": "screenshot", "parts": 1, "part": 1},
                       kind="live", number="LP00412345678901", title=f"Tracking {png.stem}",
                       captured_utc="2026-11-24T10:00:00Z", final_url=f"http://127.0.0.1/{png.stem}")
    # What the texts stage writes: role "complaint", kind dispute (uploaded) / seller / appeal.
    texts = staging / "texts"
    texts.mkdir()
    for kind, text in (("dispute", "Order 8204417765390127 arrived with a cracked body (Exhibits A-C). "
                                   "I ask for a full refund of 34.90 USD."),
                       ("seller", "Hello, the kettle arrived cracked. Please refund 34.90 USD.")):
        (texts / f"{kind}.txt").write_text(text, encoding="utf-8")
        ctx.add_output(texts / f"{kind}.txt", "complaint", upload=kind == "dispute", kind=kind)
    ctx.checklist = Checklist("damaged", "Item arrived damaged", "a full refund", None, "",
                              present={"photos": ["photo-1-IMG_0.jpg"]},
                              gaps=[Gap("video", "damaged: no unboxing video")])
    summary_stage.run(ctx)
    manifest.sections = ctx.manifest_sections()
    manifest.write(staging)
    return staging, manifest


@pytest.mark.slow
def test_rich_case_renders_every_part(rich_package: tuple[Path, Manifest], tmp_path: Path) -> None:
    package, manifest = rich_package
    pdf = package / SUMMARY_NAME
    assert_sound_pdf(pdf, tmp_path)
    text = pdf_text(pdf)
    assert "8204417765390127" in text
    assert [r.role for r in manifest.outputs if r.role in ("video", "contact_sheet")] == ["video", "contact_sheet"]
    # Every script round-trips through the embedded fonts: Chinese, Russian, Spanish accents.
    fonts = _run("pdffonts", str(pdf)).stdout
    assert "NotoSansCJKsc-Regular" in fonts and "NotoSansCJKsc-Bold" in fonts  # the title is bold, in Chinese too
    for phrase in ("破损的水壶", "阳光家居旗舰店", "请先确认收货", "Электрочайник", "корпус чайника треснул", "¿cómo es posible?",
                   "Añadí fotos"):
        assert phrase in text, phrase
    for letter in "ABC":
        assert f"Exhibit {letter}: Photo" in text
    assert "Exhibit D: Unboxing video" in text and "Exhibit E" not in text
    assert "Frames from the video (contact sheet)" in text and "Checks on the video" in text
    photos = [r for r in manifest.outputs if r.role == "photo"]
    assert len(photos) == 3
    for record in photos:  # each photo's SHA-256, whole, in its exhibit section
        assert record.sha256 in text
    summary = next(r for r in manifest.outputs if r.role == "summary")
    assert summary.info["manifest_hash"] in text  # the footer
    assert text.count(summary.info["manifest_hash"]) >= page_count(pdf)
    assert "No video in this case." not in text
    assert "Dispute description" in text and "Message to the seller" in text
    assert "damaged: no unboxing video" in text and "Missing" in text
    assert "Buyer: the kettle arrived cracked" not in text  # a chat screenshot is an image, not text
    assert "receipts/invoice.pdf: first page" in text and "INVOICE 8204417765390127" not in text  # drawn as a picture
    images = _run("pdfimages", "-list", str(pdf)).stdout.splitlines()[2:]
    assert len(images) >= 3 + 1 + 1 + 1 + 1  # photos, contact sheet, tracking parts, chat, receipt page
    assert 8 <= page_count(pdf) <= 30


def test_long_tracking_screenshot_is_split_across_pages(rich_package: tuple[Path, Manifest]) -> None:
    package, _ = rich_package
    text = pdf_text(package / SUMMARY_NAME)
    assert "Part 1 of " in text
    parts = int(text.split("Part 1 of ", 1)[1].split()[0])
    assert parts >= 3  # 9000 px tall at a readable width does not fit on one page
    assert f"Part {parts} of {parts}" in text


def test_size_bound_photos_contact_sheet_screenshots(rich_package: tuple[Path, Manifest]) -> None:
    package, manifest = rich_package
    pdf = package / SUMMARY_NAME
    camera_bytes = sum((package.parent / "case" / r.path).stat().st_size for r in manifest.inputs if r.role == "photo")
    assert pdf.stat().st_size < 10_000_000
    assert pdf.stat().st_size < camera_bytes  # downsampled to print resolution, not embedded at camera size


def test_metadata_and_bookmarks(rich_package: tuple[Path, Manifest]) -> None:
    pdf = rich_package[0] / SUMMARY_NAME
    info = _run("pdfinfo", str(pdf)).stdout
    assert "Title:           Dispute evidence summary: Сломанный чайник" in info
    assert "Subject:         Order 8204417765390127: Item arrived damaged" in info
    assert "Creator:         evidence-kit" in info
    author = next(line for line in info.splitlines() if line.startswith("Author:"))
    assert author.strip() == "Author:"  # left empty: the case names no author
    outlines = json.loads(_run("qpdf", "--json", "--json-key=outlines", str(pdf)).stdout)["outlines"]
    titles = [o["title"] for o in outlines]
    assert titles[:3] == ["Case overview", "Texts for the dispute form", "Exhibits"]
    assert "Appendix: manifest" in titles
    exhibits = next(o for o in outlines if o["title"] == "Exhibits")
    assert [k["title"] for k in exhibits["kids"]][:3] == [t for t in [k["title"] for k in exhibits["kids"]]
                                                           if t.startswith("Exhibit ")][:3]


def test_manifest_hash_is_recomputable_and_verified(rich_package: tuple[Path, Manifest], tmp_path: Path) -> None:
    package, _ = rich_package
    data = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    summary = next(r for r in data["outputs"] if r["role"] == "summary")
    assert summary_hash(data) == summary["info"]["manifest_hash"]
    assert verify_package(package).ok
    # Edit the manifest's list of inputs after the fact: the PDF no longer describes it, and verify says so.
    copy = tmp_path / "package"
    subprocess.run(["cp", "-r", str(package), str(copy)], check=True)
    data["inputs"][0]["sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    report = verify_package(copy)
    assert not report.ok
    assert any("summary.pdf: prints manifest hash" in str(p) for p in report.problems)


def test_missing_parts_are_said_plainly(make_case, tmp_path: Path) -> None:
    """No photos, no video, no tracking, no notes, no checklist: each part says so instead of vanishing."""
    root = make_case(toml=BARE_TOML)
    case = load_case(root)
    package = tmp_path / "pkg"
    package.mkdir()
    manifest = Manifest(profile=case.profile)
    result = render_summary(case, manifest, package, package / SUMMARY_NAME, today=TODAY)
    assert_sound_pdf(result.path, tmp_path)
    text = pdf_text(result.path)
    for phrase in ("No video in this case.", "No tracking screenshots in this case.",
                   "The buyer gave no notes in this case.", "No texts were written in this build.",
                   "No receipts or invoices in this case.", "not delivered",
                   "The evidence checklist was not worked out in this build."):
        assert phrase in text, phrase
    assert 3 <= result.pages <= 8


def test_unreadable_screenshot_and_unknown_characters_do_not_stop_the_pdf(make_case, tmp_path: Path) -> None:
    root = make_case(toml=BARE_TOML.replace('item = "USB cable"', 'item = "USB cable \U0010fffd"'))
    (root / "chat").mkdir()
    (root / "chat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "receipts").mkdir()
    (root / "receipts" / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a PDF")
    case = load_case(root)
    manifest = Manifest(profile=case.profile)
    manifest.inputs = [FileRecord.of(root / "chat" / "broken.png", root, "chat"),
                       FileRecord.of(root / "receipts" / "broken.pdf", root, "receipt")]
    package = tmp_path / "pkg"
    package.mkdir()
    result = render_summary(case, manifest, package, package / SUMMARY_NAME, today=TODAY)
    assert_sound_pdf(result.path, tmp_path)
    text = pdf_text(result.path)
    assert "This file could not be shown here" in text
    assert "No preview: the PDF could not be read" in text
    assert "USB cable ?" in text
    assert result.missing_characters == "\U0010fffd"
    messages = [w.message for w in manifest.warnings]
    assert any("not shown in the summary PDF" in m for m in messages)
    assert any("U+10FFFD" in m for m in messages)


def test_a_video_that_failed_says_why(make_case) -> None:
    root = make_case()
    (root / "video").mkdir()
    (root / "video" / "clip.mp4").write_bytes(b"not a video at all\n" * 50)
    result = api.build(root, options=BuildOptions(today=TODAY), reuse_unchanged=False).result
    text = " ".join(pdf_text(result.package / SUMMARY_NAME).split())
    assert "The case has a video, but it could not be prepared for upload: not a video" in text
    assert "No video in this case." not in text


@pytest.mark.slow
def test_two_documents_in_one_process_keep_their_own_cjk_glyphs(make_case, tmp_path: Path) -> None:
    """Each document's CJK subset is its own: a second PDF with other Han characters shows them, not boxes."""
    for n, store in enumerate(["阳光家居", "测试商店龙"]):
        root = make_case(toml=BARE_TOML.replace('store = "Plain Store"', f'store = "{store}"'), name=f"case{n}")
        case = load_case(root)
        out = tmp_path / f"s{n}.pdf"
        render_summary(case, Manifest(profile=case.profile), root, out, today=TODAY)
        assert store in pdf_text(out)


def test_long_texts_run_across_pages(make_case, tmp_path: Path) -> None:
    """Notes and a seller reply longer than a page split across pages instead of failing the layout."""
    notes = ("Очень длинная история о чайнике. " * 40 + "\n") * 12
    toml = BARE_TOML.replace('reason = "not_received"', f'reason = "not_received"\nseller_reply = "{"ok " * 1500}"'
                             f'\nnotes = """{notes}"""')
    case = load_case(make_case(toml=toml))
    package = tmp_path / "pkg"
    package.mkdir()
    result = render_summary(case, Manifest(profile=case.profile), package, package / SUMMARY_NAME, today=TODAY)
    assert_sound_pdf(result.path, tmp_path)
    assert result.pages >= 5
    body = [line for line in pdf_text(result.path).splitlines()  # without the footers between pages
            if not any(mark in line for mark in ("Page ", "manifest hash", "· order 8100000000000002"))]
    assert " ".join(" ".join(body).split()).count("Очень длинная история о чайнике.") == 40 * 12  # none lost


def test_no_fonts_is_a_clear_missing_dependency(make_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fontconfig on PATH: the PDF alone fails with the apt-get hint; a build keeps its uploads."""
    root = make_case(photos={"a.jpg": noisy_photo(640, 480, seed=7)}, quality=90)
    case = load_case(root)
    only_jpegtran = tmp_path / "bin"  # the photo stage's program stays: only fontconfig is missing
    only_jpegtran.mkdir()
    (only_jpegtran / "jpegtran").symlink_to(shutil.which("jpegtran"))
    monkeypatch.setenv("PATH", str(only_jpegtran))
    with pytest.raises(MissingDependencyError, match="apt-get install .*fonts-noto-core"):
        render_summary(case, Manifest(profile=case.profile), tmp_path, tmp_path / SUMMARY_NAME, today=TODAY)
    assert not (tmp_path / SUMMARY_NAME).exists()
    result = api.build(case, options=BuildOptions(today=TODAY), reuse_unchanged=False).result
    assert not (result.package / SUMMARY_NAME).exists()
    assert any(e.stage == "summary" and "fonts-noto-core" in e.message for e in result.manifest.errors)
    assert any(r.role == "photo" for r in result.manifest.outputs)
    assert int(result.exit_code) == 4  # a missing program: the most useful thing to fix


@pytest.mark.slow
def test_full_example_case(example_case: Path, tmp_path: Path) -> None:
    """The bundled example through every stage: the texts, deadlines and checklist stages' results show."""
    result = api.build(example_case, options=BuildOptions(today=TODAY, grid=True), reuse_unchanged=False).result
    pdf = result.package / SUMMARY_NAME
    summary = [r for r in result.manifest.outputs if r.role == "summary"]
    assert [r.path for r in summary] == [SUMMARY_NAME] and not summary[0].upload
    assert result.manifest.sections["summary"]["pages"] == page_count(pdf)
    assert verify_package(result.package).ok
    assert_sound_pdf(pdf, tmp_path)
    text = " ".join(pdf_text(pdf).split())
    letters = [letter for letter, _ in exhibits(result.manifest.outputs)]
    assert letters and all(f"Exhibit {letter}:" in text for letter in letters)
    assert "Appeal" not in text  # the example is at "talking to the seller": no appeal before a decision
    for phrase in ("Dispute description", "Message to the seller", "Evidence checklist", "阳光家居",
                   "Deadlines · status on 25 Nov 2026", result.manifest.sections["deadlines"]["advice"].split(".")[0]):
        assert phrase in text, phrase
    assert result.case.media.videos and "Checks on the video" in text and "No video in this case." not in text
    assert 5 <= page_count(pdf) <= 20


@pytest.mark.slow
def test_summary_command_builds_the_pdf_alone(make_case, tmp_path: Path) -> None:
    root = make_case(photos={"a.jpg": noisy_photo(640, 480, seed=6)}, quality=90)
    out = tmp_path / "out" / "kettle.pdf"
    done = subprocess.run([str(Path(sys.executable).parent / "evidence-kit"), "summary", str(root), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    assert "Exhibit A:" in pdf_text(out)
    assert not (root / "evidence-package").exists()  # built alone: no package left in the case folder
    default = api.build_summary(root, options=BuildOptions(today=TODAY)).package  # the library call, default place
    assert default == root.resolve().with_name(f"{root.name}-summary.pdf") and default.is_file()
    # A bad input is still shown in the PDF's problems, and the command says so in its exit code.
    (root / "photos" / "broken.jpg").write_bytes(b"\xff\xd8 not a photo")
    done = subprocess.run([str(Path(sys.executable).parent / "evidence-kit"), "summary", str(root), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "broken.jpg" in done.stderr and out.is_file()


@pytest.mark.slow
def test_fallback_subsets_do_not_leak_between_documents() -> None:
    """reportlab shares fonts by PostScript name: each document's CJK subset must carry all its own glyphs."""
    from reportlab.pdfbase import pdfmetrics

    from evidence_kit.report.fonts import FontChain

    for text in ("阳光家居", "阳光家居旗舰店"):
        chain = FontChain.discover()
        chain.markup(f"Store {text}")
        chain.register_fallbacks()
        (face,) = chain.used
        glyphs = pdfmetrics.getFont(chain.name_of(face)).face.charToGlyph
        assert all(ord(c) in glyphs for c in text)
