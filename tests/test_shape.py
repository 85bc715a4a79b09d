"""The package's shape: dependencies point one way, and the front door is cheap to import."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import evidence_kit

PACKAGE = Path(evidence_kit.__file__).parent
# Lower numbers sit lower; a module may import its own layer or any layer below, never one above.
LAYERS = {
    0: ("errors", "names", "fsutil", "progress", "model", "tools"),
    1: ("media", "dispute", "report"),
    2: ("stage", "stages"),
    3: ("api",),
    4: ("runners", "cli", "console"),
}
RANK = {name: rank for rank, names in LAYERS.items() for name in names}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(p for p in parts if p != "__init__")


def _imports(path: Path) -> set[str]:
    """Every evidence_kit module ``path`` imports (at the top or inside a function), as dotted names."""
    here = _module(path).split(".") if _module(path) else []
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith("evidence_kit"):
                target = node.module.removeprefix("evidence_kit").lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            subs = [f"{target}.{n}".lstrip(".") for n in names
                    if (PACKAGE / Path(*f"{target}.{n}".lstrip(".").split("."))).with_suffix(".py").is_file()
                    or (PACKAGE / Path(*f"{target}.{n}".lstrip(".").split("."))).is_dir()]
            found.update(subs or [target])
    return {f for f in found if f and f != "__version__"}


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in PACKAGE.rglob("*.py") if _module(p)}


def _rank(module: str) -> int | None:
    return RANK.get(module.split(".")[0])


def test_every_module_has_a_layer() -> None:
    assert [m for m in _graph() if _rank(m) is None] == []


def test_no_import_points_upward() -> None:
    upward = [f"{m} (layer {_rank(m)}) imports {t} (layer {_rank(t)})" for m, targets in _graph().items()
              for t in targets if t and _rank(t) is not None and _rank(t) > _rank(m)]
    assert upward == []


def test_no_import_circle() -> None:
    graph = _graph()
    # Package __init__ modules that only hold a docstring add no edges; a circle is a path back to a module.
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target] if target in path else [module, target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_shape_test_sees_a_planted_upward_import(tmp_path: Path) -> None:
    """The checks above must be able to fail: an upward import in a lower layer is found."""
    planted = PACKAGE / "model" / "_planted_for_test.py"
    planted.write_text("from ..api import build\n", encoding="utf-8")
    try:
        assert "api" in _imports(planted)
        assert _rank("model._planted_for_test") < _rank("api")
    finally:
        planted.unlink()


def test_importing_the_front_door_loads_no_heavy_library() -> None:
    code = ("import sys, evidence_kit.api, evidence_kit.cli; "
            "print(','.join(sorted(m for m in ('reportlab', 'playwright', 'numpy', 'scipy', 'PIL', 'ffmpeg', "
            "'lingua', 'watchdog', 'imagehash', 'rich') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_fitting_photos_does_not_load_the_pdf_browser_or_scipy_stack(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 30, 30)).save(tmp_path / "a.png")
    code = (f"import sys; from evidence_kit import api; api.fit_photos([{str(tmp_path / 'a.png')!r}], "
            f"{str(tmp_path / 'out')!r}); "
            "print(','.join(m for m in ('reportlab', 'playwright', 'lingua', 'watchdog', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
