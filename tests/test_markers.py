"""The marker table in tests/conftest.py names only modules and tests that exist, with markers pyproject.toml
declares: a renamed test would otherwise drop its marker silently and run inside `make check`."""
from __future__ import annotations

import re
import tomllib

from .conftest import COMPONENTS, ROOT


def test_every_entry_names_an_existing_module_and_test():
    missing = []
    for key in COMPONENTS:
        module, _, test = key.partition("::")
        path = ROOT / "tests" / module
        if not path.is_file() or (test and not re.search(rf"^(async )?def {re.escape(test)}\(",
                                                         path.read_text(encoding="utf-8"), re.MULTILINE)):
            missing.append(key)
    assert missing == []


def test_every_marker_used_is_declared():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    names = {line.split(":")[0] for line in declared["markers"]}
    assert {"browser", "video", "cluster", "slow"} <= names
    assert {marker for markers in COMPONENTS.values() for marker in markers} - names == set()
