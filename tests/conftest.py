"""Shared fixtures: tests make their own inputs (images drawn with numpy, cases written as TOML)."""
from __future__ import annotations

import shutil
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def installed_cli() -> Path:
    """The ``evidence-kit`` console script of the environment running the tests (the installed entry point)."""
    from importlib.metadata import entry_points

    assert [ep for ep in entry_points(group="console_scripts") if ep.name == "evidence-kit"], "not installed"
    return Path(sysconfig.get_path("scripts")) / "evidence-kit"


EXAMPLE_CASE = ROOT / "examples" / "broken-kettle"
SHARED_MEDIA = ROOT.parent / "shared" / "media" / "photos"

CASE_TOML = """
[order]
number = "8100000000000001"
store = "Test Store"
item = "Test item"
price = 20.00
currency = "USD"
ordered = 2026-10-01
shipped = 2026-10-03
delivered = 2026-10-30
protection_ends = 2026-12-01

[dispute]
reason = "damaged"
resolution = "refund_only"
amount = 20.00
notes = "Arrived broken."
"""


def noisy_photo(width: int, height: int, seed: int = 0, noise: float = 12.0) -> Image.Image:
    """A textured, noisy RGB image: gradients and shapes (compressible structure) plus sensor noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    channels = [120 + 90 * np.sin(x * 9 + seed) + 0 * y, 100 + 80 * np.cos(y * 7 + x * 3),
                90 + 60 * np.sin((x + y) * 5 + seed * 0.3)]
    base = np.stack([np.broadcast_to(c, (height, width)) for c in channels], -1)
    base = base + rng.normal(0, noise, (height, width, 3)).astype(np.float32)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def colour_detail_photo(width: int, height: int) -> Image.Image:
    """A photo-like image whose detail is in colour: fine, saturated stripes and rings (fabric, printed labels)
    over a noisy gradient, in patches; where 4:2:0 chroma subsampling loses what luma SSIM cannot see."""
    base = np.asarray(noisy_photo(width, height, seed=4, noise=5), dtype=np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    patches = ((x // 384 + y // 384) % 2 == 0)[..., None]
    hue = np.stack([np.sin(x / 2.1), np.sin(x / 2.1 + 2.1), np.sin((x * x + y * y) ** 0.5 / 1.7)], -1)
    detail = 128 + 100 * hue
    return Image.fromarray(np.clip(np.where(patches, 0.6 * detail + 0.4 * base, base), 0, 255).astype(np.uint8))


@pytest.fixture
def make_case(tmp_path: Path):
    """Write a case folder: ``make_case(toml=..., photos={"a.jpg": image})`` -> its path."""

    def make(toml: str = CASE_TOML, photos: dict[str, Image.Image] | None = None, name: str = "case",
             **save_options) -> Path:
        root = tmp_path / name
        (root / "photos").mkdir(parents=True)
        (root / "case.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
        for filename, image in (photos or {}).items():
            image.save(root / "photos" / filename, **save_options)
        return root

    return make


@pytest.fixture
def example_case(tmp_path: Path) -> Path:
    """A private copy of the bundled example case (tests never write into the checkout)."""
    target = tmp_path / "broken-kettle"
    shutil.copytree(EXAMPLE_CASE, target, ignore=shutil.ignore_patterns("evidence-package*", ".ek-tmp-*"))
    return target
