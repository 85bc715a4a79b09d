"""case.toml validation, init, the photos/build/verify commands, exit codes, originals, and the wheel."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from evidence_kit import api
from evidence_kit.model.case import load_case, validate_case_data
from evidence_kit.cli import main
from evidence_kit.errors import CaseError, ExitCode
from evidence_kit.fsutil import sha256_file
from evidence_kit.model.manifest import MANIFEST_NAME, verify_package
from evidence_kit.model.options import BuildOptions
from evidence_kit.model.profile import builtin_profile_text, builtin_profiles, load_profile, validated_profile

from .conftest import CASE_TOML, ROOT, noisy_photo

LIMIT = 2_000_000


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.mark.parametrize("broken,expected", [
    (CASE_TOML.replace("shipped = 2026-10-03", 'shipped = "2026-13-45"'), "order.shipped: '2026-13-45' is not a date"),
    (CASE_TOML.replace('reason = "damaged"', 'reason = "broken"'), "dispute.reason: unknown value 'broken' (valid: "),
    (CASE_TOML.replace("amount = 20.00", "amount = -5"), "dispute.amount: must not be negative"),
    (CASE_TOML.replace('store = "Test Store"', 'store = "Test Store"\nstor = "x"'), "order.stor: unknown key (did you mean 'store'?)"),
    (CASE_TOML.replace('number = "8100000000000001"', ""), "order.number: missing"),
    (CASE_TOML + "\n[profile]\nmax_photo_bytes = -1\n", "profile.max_photo_bytes: must be a positive whole number"),
    ("[order\nnumber = 1", "not valid TOML"),
    (CASE_TOML + "\n[facts]\ntimes_asked_to_wait = 0\n", "facts.times_asked_to_wait: must be a positive whole number"),
    (CASE_TOML + "\n[facts]\nworks = \"no\"\n", "facts.works: must be true or false, got 'no'"),
    (CASE_TOML.replace('reason = "damaged"', 'reason = "wrong_size"') + "\n[facts]\nworks = false\n",
     "facts.works: is not used for the reason 'wrong_size' (it is for: damaged, defective)"),
    (CASE_TOML + "\n[facts]\nrecieved_size = \"S\"\n", "facts.recieved_size: unknown key (did you mean 'received_size'?)"),
    (CASE_TOML + "\n[facts]\nreceived_size = \"S\"\n",
     "facts.received_size: is not used for the reason 'damaged' (it is for: wrong_size)"),
    (CASE_TOML + "\n[facts]\nseller_offered = \"a coupon\"\n",
     "facts.seller_offered: 'a coupon' is neither an amount nor \"replacement\""),
])
def test_invalid_case_names_file_field_and_problem(make_case, broken, expected):
    root = make_case(broken)
    with pytest.raises(CaseError) as caught:
        load_case(root)
    assert expected in str(caught.value)
    assert str(root / "case.toml") in str(caught.value)
    done = run_cli("build", str(root))
    assert done.returncode == ExitCode.INPUT_ERROR
    assert expected in done.stderr and "Traceback" not in done.stderr


def test_every_problem_at_once_with_its_place(tmp_path):
    data = tomllib.loads(CASE_TOML.replace('reason = "damaged"', 'reason = "broken"')
                         .replace("shipped = 2026-10-03", 'shipped = "soon"'))
    data["facts"] = {"works": 1}
    data["tracking"] = [{"carrier": "cainiao"}]
    problems = validate_case_data(data, tmp_path)
    assert [(p.path, p.message.split(" (")[0]) for p in problems] == [
        ("order.shipped", "'soon' is not a date"), ("dispute.reason", "unknown value 'broken'"),
        ("facts.works", "must be true or false, got 1"),
        ("tracking[1]", "needs a number or a url")]
    assert str(problems[0]) == "order.shipped: 'soon' is not a date (write it as 2026-11-25)"


def test_validate_case_data_gives_the_case_with_its_facts(tmp_path):
    data = tomllib.loads(CASE_TOML.replace('reason = "damaged"', 'reason = "not_received"')
                         .replace("delivered = 2026-10-30\n", "").replace('resolution = "refund_only"\n', ""))
    data["dispute"]["notes_en"] = " The parcel never came. "
    data["facts"] = {"tracking_last_update": "2026-10-10", "times_asked_to_wait": 3, "seller_offered": "replacement",
                     "seller_asked_to_confirm_receipt": True}
    case = validate_case_data(data, tmp_path)
    assert not isinstance(case, list), case
    assert case.dispute.resolution == "refund_only" and case.dispute.notes_en == "The parcel never came."
    assert case.facts.tracking_last_update == date(2026, 10, 10) and case.facts.times_asked_to_wait == 3
    assert case.facts.given() == ["tracking_last_update", "times_asked_to_wait", "seller_asked_to_confirm_receipt",
                                  "seller_offered"]
    assert case.order.price == Decimal("20.00") and case.root == tmp_path


def test_unknown_reason_lists_every_valid_one(make_case):
    root = make_case(CASE_TOML.replace('reason = "damaged"', 'reason = "meh"'))
    with pytest.raises(CaseError) as caught:
        load_case(root)
    assert "not_received" in str(caught.value) and "delivered_elsewhere" in str(caught.value)


@pytest.mark.parametrize("name", builtin_profiles())
def test_every_builtin_profile_passes_the_validation_user_profiles_get(name):
    # Built-in profiles are read without pydantic (start-up); this is the check they skip.
    data = tomllib.loads(builtin_profile_text(name))
    assert validated_profile(data, name) == load_profile(name)


@pytest.mark.parametrize("text,problem", [
    ("max_photo_bytes = true", "max_photo_bytes: must be a positive whole number, got True"),
    ("max_photo_bytes = 2.5", "max_photo_bytes: must be a positive whole number, got 2.5"),
    ('max_photo_bytes = "2MB"', "max_photo_bytes: must be a positive whole number, got '2MB'"),
    ("max_photo_bytes = 0", "max_photo_bytes: must be a positive whole number, got 0"),
    ("max_photo_byte = 5", "max_photo_byte: unknown key (did you mean 'max_photo_bytes'?)"),
    ("", "name: missing")])
def test_a_profile_file_is_checked_field_by_field(tmp_path, text, problem):
    path = tmp_path / "mine.toml"
    path.write_text(("" if "name" in problem else 'name = "mine"\n') + text + "\n", encoding="utf-8")
    with pytest.raises(CaseError) as caught:
        load_profile(path)
    assert caught.value.problems == [f"profile.{problem}"]


@pytest.mark.slow
def test_profile_overrides_in_case_toml_reach_the_stages(make_case):
    root = make_case(CASE_TOML + "\n[profile]\nname = \"aliexpress\"\nmax_photo_bytes = 150_000\nmax_photos = 2\n",
                     photos={f"p{i}.png": noisy_photo(900, 700, seed=i * 31, noise=20) for i in range(3)})
    result = api.build(root, reuse_unchanged=False).result
    uploads = [r for r in result.manifest.outputs if r.role == "photo" and r.upload]
    assert len(uploads) == 2 and all(r.bytes <= 150_000 for r in uploads)
    assert result.manifest.to_dict()["profile"]["max_photo_bytes"] == 150_000


def test_init_writes_a_template_that_loads(tmp_path):
    assert main(["init", str(tmp_path / "new")]) == 0
    case = load_case(tmp_path / "new")
    assert case.order.number and case.dispute.reason == "not_received"
    assert (tmp_path / "new" / "photos").is_dir()
    assert main(["init", str(tmp_path / "new")]) == ExitCode.BAD_ARGS  # never overwrites without --force


@pytest.mark.slow
def test_build_keeps_originals_byte_identical_and_strips_gps(example_case):
    before = {p: sha256_file(p) for p in example_case.rglob("*") if p.is_file()}
    result = api.build(example_case, options=BuildOptions(grid=True), reuse_unchanged=False).result
    after = {p: sha256_file(p) for p in example_case.rglob("*") if p.is_file() and result.package not in p.parents}
    assert before == after
    for upload in result.uploads:
        if upload.suffix == ".jpg":
            exif = Image.open(upload).getexif()
            assert not exif.get_ifd(0x8825) and b"SERIAL-0000-EXAMPLE" not in upload.read_bytes()
    assert not list(example_case.glob(".ek-tmp-*"))


@pytest.mark.slow
def test_rebuild_replaces_the_package_whole(example_case):
    first = api.build(example_case, reuse_unchanged=False).result
    (first.package / "stale.txt").write_text("from an older build")
    second = api.build(example_case, reuse_unchanged=False).result
    assert not (second.package / "stale.txt").exists()
    assert verify_package(second.package).ok


def test_photos_command_names_outputs_and_survives_bad_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    noisy_photo(400, 300, seed=1).save(tmp_path / "a" / "IMG_0042.png")
    noisy_photo(400, 300, seed=2).save(tmp_path / "b" / "IMG_0042.jpg", quality=90)
    noisy_photo(400, 300, seed=3).save(tmp_path / "IMG_0043.webp")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    out = tmp_path / "out"
    done = run_cli("photos", str(tmp_path / "a" / "IMG_0042.png"), str(tmp_path / "broken.jpg"),
                   str(tmp_path / "b" / "IMG_0042.jpg"), str(tmp_path / "IMG_0043.webp"), "--out", str(out), "--json")
    assert done.returncode == ExitCode.SOME_INPUTS_FAILED, done.stderr
    data = json.loads(done.stdout)
    assert {Path(r["path"]).name for r in data["outputs"]} == {"IMG_0042.jpg", "IMG_0042-2.jpg", "IMG_0043.jpg"}
    assert {r["source"] for r in data["outputs"]} == {str(tmp_path / "a" / "IMG_0042.png"),
                                                      str(tmp_path / "b" / "IMG_0042.jpg"),
                                                      str(tmp_path / "IMG_0043.webp")}
    assert data["errors"][0]["path"] == str(tmp_path / "broken.jpg")
    assert "damaged or incompletely copied" in data["errors"][0]["message"]
    assert all((out / r["path"]).stat().st_size <= LIMIT for r in data["outputs"])
    human = run_cli("photos", str(tmp_path / "broken.jpg"), "--out", str(tmp_path / "out-2"))  # one run per --out
    assert human.returncode == ExitCode.SOME_INPUTS_FAILED
    assert "broken.jpg" in human.stderr and "Traceback" not in human.stderr


@pytest.mark.slow
def test_verify_catches_tampering_and_oversize(example_case, tmp_path):
    package = api.build(example_case, out=tmp_path / "pkg", reuse_unchanged=False).result.package
    assert run_cli("verify", str(package)).returncode == 0
    photo = next((package / "upload").glob("photo-1-*.jpg"))
    original = photo.read_bytes()
    photo.write_bytes(original[:-10] + b"0123456789")
    done = run_cli("verify", str(package), "--json")
    assert done.returncode == ExitCode.VERIFY_FAILED
    assert any("SHA-256 differs" in p["message"] for p in json.loads(done.stdout)["problems"])

    # An oversized photo whose manifest entry was "fixed up" to match still breaks the profile's limit.
    big = noisy_photo(3000, 2000, noise=40)
    big.save(photo, quality=100)
    manifest = json.loads((package / MANIFEST_NAME).read_text())
    for record in manifest["outputs"]:
        if record["path"].endswith(photo.name):
            record["bytes"], record["sha256"] = photo.stat().st_size, sha256_file(photo)
    (package / MANIFEST_NAME).write_text(json.dumps(manifest))
    report = verify_package(package)
    assert not report.ok and any("over the photo limit" in str(p) for p in report.problems)

    assert run_cli("verify", str(tmp_path)).returncode == ExitCode.VERIFY_FAILED  # not a package at all


def test_missing_case_folder_is_an_input_error(tmp_path):
    done = run_cli("build", str(tmp_path / "nope"))
    assert done.returncode == ExitCode.INPUT_ERROR and "no such case folder" in done.stderr


def test_console_script_and_cli_py_agree(example_case, tmp_path):
    script = Path(sys.executable).parent / "evidence-kit"
    assert script.exists()
    a = subprocess.run([str(script), "verify", str(tmp_path)], capture_output=True, text=True)
    b = run_cli("verify", str(tmp_path))
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
    assert subprocess.run([str(script), "--help"], capture_output=True, text=True).stdout == \
        run_cli("--help").stdout.replace("cli.py", "evidence-kit")


@pytest.mark.slow
def test_wheel_ships_templates_and_profiles(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "evidence-package"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(wheels), str(source)], check=True, timeout=300)
    wheel = next(wheels.glob("evidence_kit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "evidence_kit/templates/case.toml" in names and "evidence_kit/model/profiles/aliexpress.toml" in names
    modules = {f"evidence_kit/{p.relative_to(ROOT / 'evidence_kit').as_posix()}"
               for p in (ROOT / "evidence_kit").rglob("*.py")}
    assert modules - set(names) == set()  # every subpackage is listed in pyproject.toml
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    # Run from the installed copy only: the checkout must not be importable.
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = "import evidence_kit, sys; print(evidence_kit.__file__); sys.exit(evidence_kit.cli.main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", f"import evidence_kit.cli; {code}", "init", str(tmp_path / "c")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert str(target) in done.stdout
    assert load_case(tmp_path / "c").profile.max_photo_bytes == LIMIT


def test_verify_refuses_more_photos_than_the_form_takes(make_case, tmp_path):
    photos = {f"p{i}.png": noisy_photo(500, 400, seed=i * 13, noise=30) for i in range(5)}
    package = api.build(make_case(photos=photos), out=tmp_path / "pkg", reuse_unchanged=False).result.package
    manifest = json.loads((package / MANIFEST_NAME).read_text())
    uploaded = [r for r in manifest["outputs"] if r["role"] == "photo" and r["upload"]]
    assert len(uploaded) == 3  # the profile's count, though five distinct photos were given
    extra = package / "upload" / "photo-4-extra.jpg"
    noisy_photo(300, 200).save(extra, quality=80)
    manifest["outputs"].append({**uploaded[0], "path": "upload/photo-4-extra.jpg", "bytes": extra.stat().st_size,
                                "sha256": sha256_file(extra)})
    (package / MANIFEST_NAME).write_text(json.dumps(manifest))
    report = verify_package(package)
    assert not report.ok and "upload/: 4 photos in upload/; the form takes 3" in map(str, report.problems)
