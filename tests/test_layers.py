"""The package's rooms and which way their imports run, read from the source: the core (the stages of the data's way)
imports no web framework and nothing of the outer parts, no room imports one above it, and the package imports
without gradio. A new import that runs back up fails here with the file and the line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "daz_depthmap"

#: The rooms from the floor up: a module may import from its own room and the rooms before it, never after.
FLOORS = (
    ("params", "chunks", "printable"),  # the options described once, loops over pixels, printable names
    ("output",),  # PNG encoding, atomic writes, output names
    ("exr",),  # reading EXRs
    ("depth",),  # statistics, window, mapping, histogram, suggestion
    ("bands",),  # band plans, levels, the text form, region maps, colours
    ("canvas",),  # canvas sets, camera, beauty, normal maps
    ("render",),  # the pipeline, recipes, the job
    ("session",),  # per-user state (no gradio)
    ("cli", "http", "tab"),  # the front ends
    ("webui", "app", "__main__"),  # the hosts
)
CORE = {room for floor in FLOORS[:7] for room in floor}
FRAMEWORKS = ("gradio", "fastapi", "starlette", "uvicorn", "modules", "modules_forge")


def room_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def floor_of(room: str) -> int:
    return next(i for i, floor in enumerate(FLOORS) if room in floor)


def imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in the file, relative imports resolved to ``daz_depthmap.…``."""
    package = ["daz_depthmap", *path.relative_to(PACKAGE).parent.parts]
    found = []
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if node.module is None:  # from . import x: x is a module of that package
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def problems_of(path: Path, source: str | None = None) -> list[str]:
    """What is wrong with the imports of the module at ``path`` (its text ``source``, or the file's)."""
    room = room_of(path)
    problems = []
    for line, module in imports(path, source):
        top = module.split(".")[0]
        if room in CORE | {"session"} and top in FRAMEWORKS:
            problems.append(f"line {line}: {module} (the core and the session layer import no web framework)")
        if top == "daz_depthmap" and module != "daz_depthmap":
            target = module.split(".")[1]
            if floor_of(target) > floor_of(room):
                problems.append(f"line {line}: {module} is above {room}")
    return problems


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_back_up_and_the_core_has_no_web_framework(path: Path):
    problems = problems_of(path)
    assert not problems, f"{path.relative_to(PACKAGE)}: " + "; ".join(problems)


def test_the_checker_finds_an_import_that_runs_back_up():
    mapping = PACKAGE / "depth" / "mapping.py"
    assert problems_of(mapping, "from ..chunks import pixel_slices\nfrom ..exr import read_depth\n") == []
    assert problems_of(mapping, "from ..tab.contract import TabContext\n") == [
        "line 1: daz_depthmap.tab.contract is above depth"
    ]
    assert problems_of(mapping, "import json\n\nfrom ..render import job\n") == [
        "line 3: daz_depthmap.render is above depth"
    ]
    assert problems_of(PACKAGE / "session" / "view.py", "import gradio as gr\n") == [
        "line 1: gradio (the core and the session layer import no web framework)"
    ]


def test_the_package_and_its_core_import_without_gradio():
    """The command line and the API's work import in a Python that has no gradio (a plain pip install)."""
    code = (
        "import sys; sys.modules['gradio'] = None; sys.modules['fastapi'] = None\n"
        "import daz_depthmap.cli.main, daz_depthmap.http.api, daz_depthmap.render.job, daz_depthmap.session.workspace\n"
        "print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, check=False)
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]
