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

# What tests need beyond Python, and which are slow (markers declared in pyproject.toml). `make check` runs what is
# marked none of browser, video, cluster and slow; CI runs everything. Kept here in one table rather than in each
# module: a module that starts a browser, encodes video or starts a cluster is named alone; a test inside an otherwise
# quick module as "module::test" (all its parameters). "slow": over 3 s in `pytest --durations` on 2 cores.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "test_cluster.py": ("cluster", "video"),
    "test_cluster_faults.py": ("cluster", "video"),
    "test_tracking.py": ("browser",),
    "test_tracking_concurrent.py": ("browser",),
    "test_tracking_security.py": ("browser",),
    "test_web_browser.py": ("browser", "video"),
    "test_web_firefox.py": ("browser", "video"),
    "test_web_journey.py": ("browser",),
    "test_video.py": ("video",),
    "test_package_integrity.py": ("browser", "video"),  # every test checks a build of the example case
    # Builds of the example case (tracking capture and video) or of generated clips.
    "test_complaint.py::test_verify_catches_a_dispute_text_made_too_long": ("browser", "video", "slow"),
    "test_hardening3.py::test_no_file_of_a_built_package_holds_a_local_path": ("browser", "video", "slow"),
    "test_hardening3.py::test_a_second_video_stream_is_a_finding": ("video",),
    "test_hardening3.py::test_video_out_on_a_full_disk_is_a_write_failure_and_leaves_nothing": ("video",),
    "test_hardening3.py::test_a_file_of_only_its_index_says_it_holds_no_picture_data": ("video",),
    "test_hardening.py::test_the_video_stage_checks_free_space_before_it_writes": ("video",),
    "test_out_reuse.py::test_a_second_video_run_into_the_same_out_is_refused": ("video", "slow"),
    # rich_package: a case with a generated clip (its build is charged to the first of these that runs).
    "test_summary.py::test_long_tracking_screenshot_is_split_across_pages": ("video", "slow"),
    "test_summary.py::test_size_bound_photos_contact_sheet_screenshots": ("video", "slow"),
    "test_summary.py::test_metadata_and_bookmarks": ("video", "slow"),
    "test_summary.py::test_manifest_hash_is_recomputable_and_verified": ("video", "slow"),
    "test_watch_faults.py::test_loose_drops_name_no_local_paths": ("video", "slow"),
    "test_web_plan.py::test_two_videos_the_chosen_one_is_used_and_skip_uploads_none": ("video",),
    "test_summary.py::test_a_video_that_failed_says_why": ("video",),
    "test_web_i18n.py::test_at_360_px_nothing_is_cut_or_sideways_in_spanish_portuguese_and_russian": ("browser", "slow"),
    "test_batch.py::test_sigkill_mid_batch_then_rerun_completes_every_package": ("serial",),
    # Slow without any of those.
    "test_web_api.py::test_two_builds_of_one_case_at_once": ("slow",),
    "test_watch_faults.py::test_a_restart_does_not_rebuild_drops_whose_package_was_already_made": ("slow",),
    "test_watch_faults.py::test_a_failing_drop_whose_name_is_not_utf8_fails_plainly_and_the_watcher_goes_on":
        ("slow",),
    "test_watch_faults.py::test_loose_drops_get_the_folder_mode_case_drops_get": ("slow",),
    "test_hardening3.py::test_bidi_controls_in_file_names_are_escaped_in_every_cli_line": ("slow",),
    "test_hardening.py::test_a_read_only_output_is_exit_7_for_every_command": ("slow",),
    "test_hardening.py::test_names_that_are_not_utf8_or_hold_newlines_are_shown_escaped_and_uploaded_plain":
        ("slow",),
    "test_hardening.py::test_a_rejected_photo_is_reported_without_local_paths_or_library_words": ("slow",),
    "test_photos.py::test_rotated_jpeg_with_partial_edge_blocks_keeps_its_pixels": ("slow",),
    "test_photos.py::test_chroma_subsampling_is_chosen_by_colour_measurement": ("slow",),
    "test_photo_selection.py::test_selection_is_the_plain_greedys": ("slow",),
    "test_case_and_cli.py::test_verify_refuses_more_photos_than_the_form_takes": ("slow",),
}


def pytest_itemcollected(item: pytest.Item) -> None:
    """Marks each test with what its module (or the test itself) needs, from ``COMPONENTS``."""
    name = item.path.name
    test = getattr(item, "originalname", item.name)
    for marker in COMPONENTS.get(name, ()) + COMPONENTS.get(f"{name}::{test}", ()):
        item.add_marker(marker)


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
