"""The bundled example builds, three ways: library call, in-process CLI and a real subprocess."""
from __future__ import annotations

import pytest

import json
import subprocess
import sys

from evidence_kit import api
from evidence_kit.model.manifest import verify_package
from evidence_kit.cli import main
from evidence_kit.model.options import BuildOptions

from .conftest import ROOT


@pytest.mark.slow
def test_example_builds_with_library_call(example_case):
    result = api.build(example_case, options=BuildOptions(grid=True), reuse_unchanged=False).result
    photos = [r for r in result.manifest.outputs if r.role == "photo" and r.upload]
    assert len(photos) == 3
    assert all(r.bytes <= 2_000_000 for r in photos)
    assert verify_package(result.package).ok


@pytest.mark.slow
def test_example_builds_with_cli_subprocess(example_case, tmp_path):
    out = tmp_path / "pkg"
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "build", str(example_case), "--out", str(out),
                           "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["package"] == str(out)
    assert main(["verify", str(out)]) == 0
