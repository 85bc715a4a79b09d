"""verify trusts nothing in the package: real packages from the real pipeline, then tampered with.

One package is built per test module from two small generated photos; each test tampers with its own copy.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evidence_kit import api
from evidence_kit.errors import ExitCode
from evidence_kit.fsutil import sha256_file
from evidence_kit.model.manifest import MANIFEST_NAME, SCHEMA_VERSION, manifest_sha256, summary_hash, verify_package

from .conftest import CASE_TOML, ROOT, noisy_photo


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("verify") / "case"
    (root / "photos").mkdir(parents=True)
    (root / "case.toml").write_text(CASE_TOML, encoding="utf-8")
    for i in range(2):
        noisy_photo(400, 300, seed=i * 7).save(root / "photos" / f"p{i}.jpg", quality=90)
    outcome = api.build(root, out=root.parent / "package", reuse_unchanged=False)
    assert outcome.exit_code == 0
    return outcome.package


@pytest.fixture
def package(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "package"
    shutil.copytree(built, copy)
    return copy


def kinds(package: Path) -> dict[str, list[str]]:
    report = verify_package(package)
    found: dict[str, list[str]] = {}
    for problem in report.to_dict()["problems"]:
        found.setdefault(problem["kind"], []).append(f"{problem['path']}: {problem['message']}")
    return found


def cli_verify(package: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "verify", str(package), "--json"],
                          capture_output=True, text=True, timeout=120)


def rewrite(package: Path, edit) -> dict:
    """Edit manifest.json and write it back the way a person with an editor would (hash untouched)."""
    path = package / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return data


def test_a_fresh_package_verifies_and_carries_its_own_hashes(built):
    data = json.loads((built / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["manifest_sha256"] == manifest_sha256(data)
    summary = next(r for r in data["outputs"] if r["role"] == "summary")
    # The hash printed in the PDF's footer is recomputable from manifest.json alone.
    assert summary["info"]["manifest_hash"] == summary_hash(data) == data["summary"]["manifest_hash"]
    assert "photo_selection" in data and "tools" in data and "root" not in data["case"]
    report = verify_package(built)
    assert report.ok, report.to_dict()
    assert cli_verify(built).returncode == 0


@pytest.mark.parametrize("extra", ["fourth photo", "text file", "subfolder", "linked folder"])
def test_anything_in_upload_the_manifest_does_not_list_fails(package, extra):
    upload = package / "upload"
    if extra == "fourth photo":  # 2.6 MB: over the photo limit as well
        noisy_photo(2400, 1800, seed=99, noise=60).save(upload / "photo-4-extra.jpg", quality=100)
        assert (upload / "photo-4-extra.jpg").stat().st_size > 2_000_000
    elif extra == "text file":
        (upload / "notes.txt").write_text("hello", encoding="utf-8")
    elif extra == "linked folder":
        (package.parent / "elsewhere").mkdir()
        (package / "texts" / "more").symlink_to(package.parent / "elsewhere")
    else:
        (upload / "more").mkdir()
        (upload / "more" / "x.jpg").write_bytes((upload / next(p.name for p in upload.glob("photo-1-*"))).read_bytes())
    found = kinds(package)
    assert "unlisted_file" in found, found
    if extra == "fourth photo":
        assert any("over the photo limit" in m for m in found["limit"]), found
    done = cli_verify(package)
    assert done.returncode == ExitCode.VERIFY_FAILED
    reported = json.loads(done.stdout)
    assert reported["ok"] is False and {"kind", "path", "message"} <= set(reported["problems"][0])


def test_limits_are_counted_on_what_upload_actually_holds(package):
    # Two extra photos written into upload/ and listed in the manifest, with the manifest's hash
    # recomputed: the manifest is consistent, but the form would get 4 photos.
    upload = package / "upload"
    for n in (3, 4):
        noisy_photo(300, 200, seed=n).save(upload / f"photo-{n}-extra.jpg", quality=80)

    def add(data):
        template = next(r for r in data["outputs"] if r["role"] == "photo")
        for n in (3, 4):
            file = upload / f"photo-{n}-extra.jpg"
            data["outputs"].append({**template, "path": f"upload/{file.name}", "bytes": file.stat().st_size,
                                    "sha256": sha256_file(file)})
        data["manifest_sha256"] = manifest_sha256(data)

    rewrite(package, add)
    found = kinds(package)
    assert any("4 photos in upload/; the form takes 3" in m for m in found["limit"]), found


@pytest.mark.parametrize("field,value", [(("case", "title"), "Something else"),
                                         (("case", "order_number"), "8100000000000999")])
def test_editing_facts_in_the_manifest_is_detected(package, field, value):
    rewrite(package, lambda data: data[field[0]].__setitem__(field[1], value))
    found = kinds(package)
    assert "manifest_edited" in found, found
    assert cli_verify(package).returncode == ExitCode.VERIFY_FAILED


def test_recomputing_the_manifest_hash_after_an_edit_still_breaks_the_pdf_link(package):
    # Anyone can recompute manifest_sha256 (it is not a signature), but the summary PDF already printed
    # the hash of the manifest it was made from.
    def edit(data):
        data["case"]["order_number"] = "8100000000000999"
        data["manifest_sha256"] = manifest_sha256(data)

    rewrite(package, edit)
    found = kinds(package)
    assert list(found) == ["manifest_edited"] and "summary.pdf" in found["manifest_edited"][0], found


def test_changed_and_missing_files_have_their_own_kinds(package):
    photo = next((package / "upload").glob("photo-1-*.jpg"))
    photo.write_bytes(photo.read_bytes()[:-10] + b"0123456789")
    (package / "texts" / "seller-message.txt").unlink()
    found = kinds(package)
    assert any(photo.name in m for m in found["hash_mismatch"]) and any(
        "seller-message.txt" in m for m in found["missing"]), found


def test_a_manifest_path_outside_the_package_is_refused(package):
    def edit(data):
        data["outputs"][0]["path"] = "../../etc/hostname"
        data["manifest_sha256"] = manifest_sha256(data)

    rewrite(package, edit)
    assert "bad_path" in kinds(package)


def test_verifying_a_case_folder_points_to_its_package(built):
    case = built.parent / "case"
    result = cli_verify(case)
    assert result.returncode == ExitCode.VERIFY_FAILED
    assert f"its package is {case / 'evidence-package'}" in result.stderr, result.stderr


@pytest.mark.parametrize("value", ["2 MB", True, -5])
def test_a_profile_limit_edited_to_nonsense_is_a_damaged_manifest_not_a_crash(package, value):
    rewrite(package, lambda data: data["profile"].update(max_photo_bytes=value))
    done = cli_verify(package)
    assert done.returncode == ExitCode.VERIFY_FAILED, done.stderr
    assert "Traceback" not in done.stderr
    assert "damaged manifest" in done.stdout + done.stderr and "max_photo_bytes" in done.stdout + done.stderr
