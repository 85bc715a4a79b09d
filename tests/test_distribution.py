"""The built wheel: setuptools builds it without a warning, every file of templates/ ships inside it, and an
installed copy (not the checkout) serves the web app's pages, static files and Russian catalog and reads the
complaint templates and case.toml from itself."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow  # pip builds a wheel (and fetches setuptools for its build environment)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(sources copied, the wheel built from them, everything pip and setuptools printed)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = tmp / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("evidence_kit", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "wheels"),
                           str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return source, next((tmp / "wheels").glob("evidence_kit-*.whl")), done.stdout + done.stderr


def test_the_build_prints_no_warning(built):
    # pip shows the build backend's warnings even with -q (BuildBackendWarning, SetuptoolsDeprecationWarning...).
    assert re.findall(r"\w+Warning\b.*", built[2]) == []


def test_every_template_file_is_in_the_wheel(built):
    source, wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    files = [p.relative_to(source / "templates") for p in (source / "templates").rglob("*") if p.is_file()]
    missing = sorted({str(p.parent) for p in files if f"evidence_kit/templates/{p.as_posix()}" not in names})
    # A folder named here is missing from [tool.setuptools] packages and package-data in pyproject.toml.
    assert missing == []
    modules = {p.relative_to(source).as_posix() for p in (source / "evidence_kit").rglob("*") if p.is_file()}
    assert sorted(modules - names) == []


def test_an_installed_copy_finds_its_templates(built, tmp_path):
    source, wheel, _ = built
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    code = textwrap.dedent("""
        import sys
        from importlib import resources
        from pathlib import Path

        import evidence_kit
        from starlette.testclient import TestClient

        from evidence_kit.dispute import complaint
        from evidence_kit.runners.web.app import WebSettings, create_app

        site, source = Path(sys.argv[1]), Path(sys.argv[2])
        assert Path(evidence_kit.__file__).is_relative_to(site), evidence_kit.__file__
        shipped = resources.files("evidence_kit.templates")
        for path in (source / "templates").rglob("*"):
            if path.is_file():
                rel = path.relative_to(source / "templates").as_posix()
                assert shipped.joinpath(rel).read_bytes() == path.read_bytes(), rel
        for path in (source / "templates" / "complaint").glob("*.toml"):
            assert complaint._template(path.stem), path.stem
        settings = WebSettings(workspace=Path(sys.argv[3]), port=8765, open_browser=False)
        client = TestClient(create_app(settings, port=8765), base_url="http://127.0.0.1:8765")
        client.headers["authorization"] = f"Bearer {settings.token}"
        for path in ("/static/app.js", "/static/app.css"):
            page = client.get(path)
            assert page.status_code == 200 and page.content, path
        english, russian = client.get("/?lang=en"), client.get("/?lang=ru")
        assert english.status_code == russian.status_code == 200
        assert len(set(russian.text) & set("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")) > 10, russian.text
        print("ok")
    """)
    (tmp_path / "workspace").mkdir()
    # Run from the installed copy only: PYTHONPATH first, and a working folder outside the checkout.
    done = subprocess.run([sys.executable, "-c", code, str(site), str(source), str(tmp_path / "workspace")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(site)})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
