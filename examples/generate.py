"""Regenerate the bundled example case's media (drawn by us, so we own them).

    python examples/generate.py

Writes examples/broken-kettle/{photos,chat,video}/: a drawn "product" with texture and noise in several shots,
two near-duplicates, one HEIC, one stored sideways with an EXIF orientation tag, one large enough that
it must be re-encoded to fit 2 MB, a chat screenshot and a short drawn unboxing video.
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
    product_shot(1280, 960, 1).save(photos / "IMG_0101.jpg", quality=90)
    product_shot(1280, 960, 2, shift=5).save(photos / "IMG_0102.jpg", quality=90)  # near-duplicate of 0101
    product_shot(1280, 960, 3, angle=8, shift=-100, crack=False).save(photos / "IMG_0103.jpg", quality=90)
    # Stored sideways, as phones do, with the EXIF orientation tag saying "rotate 90 clockwise".
    sideways = product_shot(960, 1280, 4, angle=-4, shift=-50).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "ExampleCam"
    exif[0xA431] = "SERIAL-0000-EXAMPLE"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 1.5), 3: "E", 4: (4.0, 53.0, 42.0)})  # made-up GPS
    sideways.save(photos / "IMG_0104.jpg", quality=90, exif=exif.tobytes())
    # Large and noisy: over 2 MB, so it must be re-encoded to fit.
    product_shot(2400, 1800, 5, shift=70, noise=14).save(photos / "IMG_0105.jpg", quality=95)
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
    unboxing_video(CASE / "video" / "unboxing.mp4")


def unboxing_video(path: Path, seconds: float = 12.0, fps: int = 15) -> None:
    """A drawn, one-take unboxing (640x360 H.264/AAC, under 1.5 MB): a taped box opens, the kettle comes out,
    the camera moves in on the crack. Frames are drawn with Pillow and piped into the real ffmpeg."""
    import ffmpeg

    width, height = 640, 360
    rng = np.random.default_rng(11)
    y, x = np.linspace(0, 1, height)[:, None], np.linspace(0, 1, width)[None, :]
    grain = np.sin(x * 60 + np.sin(y * 5) * 3) * 14
    table = np.clip(np.stack([150 + grain + y * 40, 100 + grain * 0.8 + y * 30, 60 + grain * 0.5 + y * 20], -1),
                    0, 255).astype(np.uint8)  # the wooden table of the photos, without the kettle
    kettle = product_shot(480, 360, 1, noise=0)  # the same cracked kettle as the photos
    total = int(seconds * fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder = (ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=fps)
               .output(ffmpeg.input("anoisesrc=a=0.01:d=%g" % seconds, f="lavfi").audio, str(path),
                       vcodec="libx264", crf=28, preset="slow", pix_fmt="yuv420p", acodec="aac", audio_bitrate="48k",
                       movflags="+faststart", shortest=None, metadata="creation_time=2026-11-18T16:05:00Z")
               .overwrite_output().global_args("-v", "error").run_async(pipe_stdin=True))
    for i in range(total):
        t = i / total
        frame = Image.fromarray(table)
        draw = ImageDraw.Draw(frame)
        sway = int(6 * np.sin(i / 9))  # a hand-held camera never stands still
        if t < 0.55:  # the box: taped shut, then the flaps swing open and the kettle rises out
            open_by = max(0.0, (t - 0.15) / 0.25)
            bx, by = 170 + sway, 150
            draw.rectangle((bx, by, bx + 300, by + 170), fill=(176, 134, 86), outline=(90, 60, 30), width=4)
            lift = int(max(0.0, (t - 0.35) / 0.2) * 120)
            if open_by > 0:
                small = kettle.resize((200, 150))
                frame.paste(small, (bx + 50, by + 20 - lift))
                flap = int(70 * min(1.0, open_by))
                draw.polygon([(bx, by), (bx + 150, by), (bx + 150 - flap, by - flap), (bx - flap, by - flap)],
                             fill=(160, 120, 75), outline=(90, 60, 30))
                draw.polygon([(bx + 150, by), (bx + 300, by), (bx + 300 + flap, by - flap), (bx + 150 + flap, by - flap)],
                             fill=(160, 120, 75), outline=(90, 60, 30))
                draw.rectangle((bx, by + 20, bx + 300, by + 170), fill=(176, 134, 86), outline=(90, 60, 30), width=4)
            else:
                draw.rectangle((bx + 140, by, bx + 160, by + 170), fill=(200, 190, 150))  # tape
            draw.text((bx + 20, by + 120), "FRAGILE", fill=(150, 20, 20), font=ImageFont.load_default(size=28))
        else:  # the kettle on the table, the camera moving in on the crack
            zoom = 1.0 + 1.2 * min(1.0, (t - 0.55) / 0.35)
            w, h = int(400 * zoom), int(300 * zoom)
            close = kettle.resize((w, h))
            frame.paste(close, ((width - w) // 2 + sway - int((zoom - 1) * 60), (height - h) // 2 + 10))
        pixels = np.asarray(frame, dtype=np.float32) + rng.normal(0, 3, (height, width, 3))
        encoder.stdin.write(np.clip(pixels, 0, 255).astype(np.uint8).tobytes())
    encoder.stdin.close()
    if encoder.wait() != 0:
        raise RuntimeError("ffmpeg could not encode the example video")


if __name__ == "__main__":
    main()
