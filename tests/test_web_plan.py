"""``api.plan_upload``: what the page shows before Build is what the build uploads, in the same order."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from PIL import Image

from evidence_kit import api
from evidence_kit.model.options import BuildOptions
from evidence_kit.stages.plan import DUPLICATE, GRID, SKIPPED, UPLOAD

from .conftest import CASE_TOML, noisy_photo

TURNS = (None, Image.Transpose.ROTATE_90, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_270,
         Image.Transpose.FLIP_LEFT_RIGHT)


def photos(make_case, count: int, toml: str = CASE_TOML) -> Path:
    images = {}
    for i in range(count):
        image = noisy_photo(400, 300, seed=i)
        images[f"p{i}.jpg"] = image.transpose(TURNS[i]) if TURNS[i] is not None else image
    return make_case(toml=toml, photos=images, quality=88)


def uploaded_sources(package: Path) -> list[str]:
    """The photo inputs of the built package, in upload order (a grid counts as its members)."""
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    return [r.get("source") or "grid:" + ",".join(r["info"]["combines"]) for r in manifest["outputs"]
            if r["role"] == "photo" and r["upload"]]


def test_the_plan_is_the_builds_order_with_a_skip_a_rank_and_a_duplicate(make_case):
    toml = CASE_TOML + '\n[[photos]]\nfile = "photos/p3.jpg"\nrank = 1\n\n[[photos]]\nfile = "photos/p0.jpg"\nskip = true\n'
    root = photos(make_case, 4, toml)
    shutil.copy(root / "photos" / "p1.jpg", root / "photos" / "p1-again.jpg")  # the same shot twice
    plan = api.plan_upload(root, options=BuildOptions(grid=False))
    by_status = {p.path.name: p.status for p in plan.photos}
    assert by_status["p0.jpg"] == SKIPPED and plan.photos[0].path.name == "p3.jpg" and plan.photos[0].slot == 1
    assert DUPLICATE in by_status.values()
    build = api.build(root, options=BuildOptions(grid=False), reuse_unchanged=False).result
    planned = [f"photos/{p.path.name}" for p in plan.photos if p.status == UPLOAD]
    assert planned == uploaded_sources(build.package)
    left_out = {r["path"]: r["reason"] for r in build.manifest.sections["photo_selection"]["left_out"]}
    assert left_out["photos/p0.jpg"] == "skipped by the buyer"


def test_the_plan_names_the_grid_and_its_members(make_case):
    root = photos(make_case, 5)
    plan = api.plan_upload(root, options=BuildOptions(grid=True))
    assert plan.grid and [p.slot for p in plan.photos] == [1, 2, 3, 3, 3]
    build = api.build(root, options=BuildOptions(grid=True), reuse_unchanged=False).result
    sources = uploaded_sources(build.package)
    assert sources[:2] == [f"photos/{p.path.name}" for p in plan.photos if p.status == UPLOAD]
    assert sources[2] == "grid:" + ",".join(f"photos/{p.path.name}" for p in plan.photos if p.status == GRID)


def test_two_videos_the_chosen_one_is_used_and_skip_uploads_none(make_case):
    root = photos(make_case, 1)
    (root / "video").mkdir()
    for name in ("a.mp4", "b.mp4"):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(root / "video" / name)],
                       check=True)
    assert [(v.path.name, v.used, v.why) for v in api.plan_upload(root).videos] == [
        ("a.mp4", True, "first"), ("b.mp4", False, "other")]
    toml = root / "case.toml"
    toml.write_text(toml.read_text() + '\n[video]\nfile = "video/b.mp4"\n')
    assert [v.used for v in api.plan_upload(root).videos] == [False, True]
    built = api.build(root, reuse_unchanged=False).result
    assert built.manifest.sections["video"]["source"] == "video/b.mp4"
    toml.write_text(toml.read_text().replace('file = "video/b.mp4"', "skip = true"))
    assert not any(v.used for v in api.plan_upload(root).videos)
    built = api.build(root, reuse_unchanged=False).result
    assert not [r for r in built.manifest.outputs if r.role == "video"]
