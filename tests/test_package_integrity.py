"""A package holds plain files only, and every reader checks it (issue 24, "Security").

The bundled example case is built once; each test attacks its own copy: links to identical copies outside,
manifest paths that leave the package, a garbage manifest, a pipe. verify, the web app's case page and the
zip download must each refuse what is not a plain file inside the package, and never read through a link.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from evidence_kit import api
from evidence_kit.errors import ExitCode
from evidence_kit.model.manifest import MANIFEST_NAME, manifest_sha256, verify_package

from .conftest import EXAMPLE_CASE, ROOT
from .test_web_api import WebServer

MARKER = "SECRET-OUTSIDE-THE-PACKAGE-7f3a"


@pytest.fixture(scope="module")
def built_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("integrity") / "kettle"
    shutil.copytree(EXAMPLE_CASE, root, ignore=shutil.ignore_patterns("evidence-package*", ".ek-tmp-*"))
    outcome = api.build(root, reuse_unchanged=False)
    assert outcome.exit_code == 0 and verify_package(outcome.package).ok
    return root


@pytest.fixture
def package(built_case: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "pkg" / "evidence-package"
    shutil.copytree(built_case / "evidence-package", copy, symlinks=True)
    return copy


def kinds(package: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in verify_package(package).problems:
        found.setdefault(problem.kind, []).append(f"{problem.path}: {problem.message}")
    return found


def cli_verify(package: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "verify", str(package), *extra],
                          capture_output=True, text=True, timeout=timeout)


def assert_plain_failure(package: Path, *words: str) -> str:
    """verify exits 6 with a plain message: no traceback, no parser's or OS's own words, no local path."""
    done = cli_verify(package)
    said = done.stdout + done.stderr
    assert done.returncode == ExitCode.VERIFY_FAILED, said
    assert "Traceback" not in said and "Errno" not in said and "char 0" not in said, said
    assert str(package.parent) not in said, said
    for word in words:
        assert word in said, said
    return said


def link_to_outside_copy(package: Path, relative: str) -> Path:
    """Move a file out of the package and leave a link to it: the bytes are identical, the file is not ours."""
    inside = package / relative
    outside = package.parent / ("outside-" + inside.name)
    shutil.move(inside, outside)
    inside.symlink_to(outside)
    return outside


def edit_manifest(package: Path, edit) -> None:
    """Change manifest.json and recompute its own hash, as an attacker would (it is not a signature)."""
    path = package / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    data["manifest_sha256"] = manifest_sha256(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


# --- verify ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("relative", ["upload/video.mp4", "upload/dispute.txt", "summary.pdf"])
def test_a_listed_file_linked_to_an_identical_copy_outside_fails(package: Path, relative: str) -> None:
    link_to_outside_copy(package, relative)
    found = kinds(package)
    assert any(m.startswith(relative + ":") for m in found.get("not_plain_file", [])), found
    assert_plain_failure(package, relative, "link")


def test_a_linked_manifest_fails_and_is_never_read(package: Path) -> None:
    link_to_outside_copy(package, MANIFEST_NAME)
    found = kinds(package)
    assert list(found) == ["not_plain_file"] and found["not_plain_file"][0].startswith(MANIFEST_NAME), found
    assert_plain_failure(package, MANIFEST_NAME, "link")


def test_a_linked_upload_folder_fails_for_every_file_through_it(package: Path) -> None:
    outside = package.parent / "outside-upload"
    shutil.move(package / "upload", outside)
    (package / "upload").symlink_to(outside)
    found = kinds(package)
    through = [m for m in found.get("not_plain_file", []) if m.startswith("upload/")]
    assert len(through) == len(list(outside.iterdir())), found
    assert_plain_failure(package, "upload", "link")


@pytest.mark.parametrize("bad", ["C:/Windows/win.ini", "upload\\..\\..\\x.jpg", "upload/x\x00.jpg", "upload//x.jpg",
                                 "./upload/dispute.txt"])
def test_an_output_path_that_is_not_a_plain_relative_path_is_bad_path(package: Path, bad: str) -> None:
    edit_manifest(package, lambda data: data["outputs"][0].update(path=bad))
    found = kinds(package)
    assert "bad_path" in found, found


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "upload/../../x.txt", "upload/photo.jpg"])
def test_a_text_path_outside_the_package_or_not_listed_is_bad_path(package: Path, bad: str) -> None:
    edit_manifest(package, lambda data: data["texts"]["dispute"].update(path=bad))
    found = kinds(package)
    assert any(m.startswith(bad + ":") for m in found.get("bad_path", [])), found
    assert_plain_failure(package, bad)


@pytest.mark.parametrize("content", [b"", b"garbage{", b"[]", b"{}", b"\xff\xfe{", b'{"schema": 5}'])
def test_an_empty_or_garbage_manifest_is_a_plain_problem(package: Path, content: bytes) -> None:
    (package / MANIFEST_NAME).write_bytes(content)
    report = verify_package(package)
    assert not report.ok and [p.kind for p in report.problems] == ["damaged_manifest"], report.to_dict()
    said = assert_plain_failure(package, MANIFEST_NAME)
    assert "Expecting" not in said and "codec" not in said, said


def test_a_pipe_in_upload_is_refused_without_hanging(package: Path) -> None:
    os.mkfifo(package / "upload" / "notes.txt")
    done = cli_verify(package, "--json", timeout=30)  # opening a pipe for reading would wait for a writer forever
    assert done.returncode == ExitCode.VERIFY_FAILED, done.stderr
    problems = json.loads(done.stdout)["problems"]
    assert any(p["path"] == "upload/notes.txt" for p in problems), problems


# --- the web app -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = WebServer(tmp_path_factory.mktemp("workspace"))
    yield running
    running.client.close()
    running.stop()


@pytest.fixture
def web_case(server: WebServer, built_case: Path, request: pytest.FixtureRequest) -> Path:
    """A copy of the built case in the server's workspace, and a file outside it holding MARKER."""
    name = "case-" + "".join(c if c.isalnum() else "-" for c in request.node.name)[-60:]
    root = server.workspace / name
    shutil.copytree(built_case, root, symlinks=True)
    (server.workspace / "secret.txt").write_text(MARKER, encoding="utf-8")
    return root


def shown_pages(server: WebServer, root: Path) -> str:
    page = server.client.get(f"/cases/{root.name}")
    fragment = server.client.get(f"/cases/{root.name}/fragment/result")
    assert page.status_code == fragment.status_code == 200, (page.text, fragment.text)
    return page.text + fragment.text


@pytest.mark.parametrize("bad", ["../../secret.txt", "upload/../../../secret.txt", "absolute"])
def test_the_case_page_never_shows_a_file_a_text_path_points_outside_to(server: WebServer, web_case: Path,
                                                                      bad: str) -> None:
    path = str(server.workspace / "secret.txt") if bad == "absolute" else bad
    assert (web_case / "evidence-package" / path).read_text(encoding="utf-8") == MARKER  # the attack would work
    edit_manifest(web_case / "evidence-package", lambda data: data["texts"]["dispute"].update(path=path))
    shown = shown_pages(server, web_case)
    assert MARKER not in shown
    assert "The package failed its check" in shown


def test_the_case_page_never_reads_a_text_through_a_link(server: WebServer, web_case: Path) -> None:
    text = web_case / "evidence-package" / "texts" / "seller-message.txt"
    text.unlink()
    text.symlink_to(server.workspace / "secret.txt")
    shown = shown_pages(server, web_case)
    assert MARKER not in shown and "The package failed its check" in shown


def test_the_zip_never_follows_a_link_and_refuses_a_package_that_fails(server: WebServer, web_case: Path) -> None:
    (web_case / "evidence-package" / "texts" / "extra.txt").symlink_to(server.workspace / "secret.txt")
    response = server.client.get(f"/api/cases/{web_case.name}/package.zip")
    if response.status_code == 200:  # the members are deflated: look inside them, not at the zip's bytes
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert not [n for n in archive.namelist() if MARKER.encode() in archive.read(n)], archive.namelist()
    assert response.status_code == 409, response.status_code
    problems = response.json()["problems"]
    assert any("texts/extra.txt" in p and "link" in p for p in problems), problems
    assert not any(str(server.workspace) in p for p in problems), problems


def test_a_sound_package_zips_whole_with_upload_first(server: WebServer, web_case: Path) -> None:
    package = web_case / "evidence-package"
    response = server.client.get(f"/api/cases/{web_case.name}/package.zip")
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    uploads = [n for n in names if n.startswith("upload/")]
    assert names[: len(uploads)] == uploads and len(uploads) == 5
    on_disk = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert set(names) == on_disk
    assert all(archive.read(n) == (package / n).read_bytes() for n in names)


def test_one_file_of_the_package_is_never_served_through_a_link(server: WebServer, web_case: Path) -> None:
    texts = web_case / "evidence-package" / "texts"
    (texts / "inside.txt").symlink_to(texts / "seller-message.txt")  # a link that stays inside the package
    (texts / "outside.txt").symlink_to(server.workspace / "secret.txt")
    for name in ("inside.txt", "outside.txt"):
        response = server.client.get(f"/api/cases/{web_case.name}/package/texts/{name}")
        assert response.status_code == 404 and MARKER not in response.text, (name, response.status_code)
    plain = server.client.get(f"/api/cases/{web_case.name}/package/texts/seller-message.txt")
    assert plain.status_code == 200 and plain.text
