"""Regenerate the bundled example case's media (drawn by us, so we own them).

    python examples/generate.py

Writes examples/broken-kettle/{photos,chat}/: a drawn "product" with texture and noise in several shots,
two near-duplicates, one HEIC, one stored sideways with an EXIF orientation tag, one large enough that
it must be re-encoded to fit 2 MB, and a chat screenshot.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CASE = Path(__file__).parent / "broken-kettle"


def product_shot(width: int, height: int, seed: int, angle: float = 0.0, shift: int = 0,
                 noise: float = 10.0, crack: bool = True) -> Image.Image:
    """A kettle-like product on a wooden table, drawn with texture and sensor-like noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None]
    x = np.linspace(0, 1, width)[None, :]
    grain = np.sin(x * 90 + np.sin(y * 7) * 3) * 18 + rng.normal(0, 6, (height, width))
    table = np.stack([150 + grain + y * 40, 100 + grain * 0.8 + y * 30, 60 + grain * 0.5 + y * 20], -1)
    im = Image.fromarray(np.clip(table, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    cx, cy = width // 2 + shift, height // 2 + shift // 2
    w, h = width // 4, height // 3
    draw.ellipse((cx - w, cy - h, cx + w, cy + h), fill=(205, 210, 220), outline=(60, 60, 70), width=6)
    draw.rectangle((cx - w // 3, cy - h - height // 14, cx + w // 3, cy - h + 10), fill=(40, 40, 45))
    draw.arc((cx + w - 40, cy - h // 2, cx + w + width // 10, cy + h // 2), -90, 90, fill=(40, 40, 45), width=18)
    for i in range(0, 2 * w, 24):  # brushed-metal texture
        draw.line((cx - w + i, cy - h // 2, cx - w + i + 12, cy + h // 2), fill=(190, 195, 205), width=2)
    if crack:
        random.seed(seed)
        points = [(cx - w // 3, cy - h // 4)]
        for _ in range(14):
            px, py = points[-1]
            points.append((px + random.randint(8, 30), py + random.randint(-20, 26)))
        draw.line(points, fill=(20, 20, 20), width=5)
    font = ImageFont.load_default(size=max(18, width // 40))
    draw.text((cx - w // 2, cy + h // 3), "KETTLE 1.7L", fill=(30, 30, 120), font=font)
    im = im.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(120, 90, 60)) if angle else im
    im = im.filter(ImageFilter.GaussianBlur(0.6))
    sensor = rng.normal(0, noise, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(im, dtype=np.float32) + sensor, 0, 255).astype(np.uint8), "RGB")


def main() -> None:
    photos = CASE / "photos"
    chat = CASE / "chat"
    photos.mkdir(parents=True, exist_ok=True)
    chat.mkdir(parents=True, exist_ok=True)
    product_shot(1600, 1200, 1).save(photos / "IMG_0101.jpg", quality=90)
    product_shot(1600, 1200, 2, shift=6).save(photos / "IMG_0102.jpg", quality=90)  # near-duplicate of 0101
    product_shot(1600, 1200, 3, angle=8, shift=-120, crack=False).save(photos / "IMG_0103.jpg", quality=90)
    # Stored sideways, as phones do, with the EXIF orientation tag saying "rotate 90 clockwise".
    sideways = product_shot(1200, 1600, 4, angle=-4, shift=-60).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "ExampleCam"
    exif[0xA431] = "SERIAL-0000-EXAMPLE"
    sideways.save(photos / "IMG_0104.jpg", quality=90, exif=exif.tobytes())
    # Large and noisy: over 2 MB, so it must be re-encoded to fit.
    product_shot(2800, 2100, 5, shift=80, noise=14).save(photos / "IMG_0105.jpg", quality=95)
    import pillow_heif

    pillow_heif.register_heif_opener()
    product_shot(1024, 768, 6, angle=-12, shift=40).save(photos / "IMG_0106.heic", quality=80)
    shot = Image.new("RGB", (720, 900), "white")
    draw = ImageDraw.Draw(shot)
    font = ImageFont.load_default(size=22)
    lines = [("Buyer", "Hello, the kettle arrived with a crack in the body. Photos attached."),
             ("Seller", "Please open a dispute, we will check."),
             ("Buyer", "I have a video of the unboxing. Can you refund?"),
             ("Seller", "Please confirm receipt first.")]
    y = 40
    for who, text in lines:
        colour = (220, 240, 255) if who == "Buyer" else (240, 240, 240)
        draw.rounded_rectangle((20, y, 700, y + 150), 16, fill=colour)
        draw.text((36, y + 12), who, fill="black", font=font)
        draw.multiline_text((36, y + 48), "\n".join(text[i:i + 48] for i in range(0, len(text), 48)),
                            fill="black", font=font)
        y += 190
    shot.save(chat / "chat-2026-11-12.png", optimize=True)


if __name__ == "__main__":
    main()
