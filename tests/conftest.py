"""Shared fixtures: the real test EXRs in ../shared, a small DAZ-like EXR, and a writer for arbitrary EXR layouts.

Fixtures here are visible to every test folder (tests/browser/, tests/webui/ add their own conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_EXR_DIR = REPO_ROOT.parent / "shared" / "testdata" / "exr"


def _shared_exr_names() -> list[str]:
    return sorted(p.name for p in SHARED_EXR_DIR.glob("*.exr")) if SHARED_EXR_DIR.is_dir() else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test asking for ``shared_exr_file`` runs once per file in the shared directory (new files included)."""
    if "shared_exr_file" in metafunc.fixturenames:
        names = _shared_exr_names() or ["<missing shared test data>"]
        metafunc.parametrize("shared_exr_file", names, indirect=True, ids=names)


@pytest.fixture(scope="session")
def shared_exr_dir() -> Path:
    """The real EXR files (../shared/testdata/exr relative to the repository root); fails if they are missing."""
    if not _shared_exr_names():
        pytest.fail(
            f"the shared test EXRs are missing: expected .exr files in {SHARED_EXR_DIR} "
            "(the repository is meant to sit next to ../shared/testdata/exr)",
            pytrace=False,
        )
    return SHARED_EXR_DIR


@pytest.fixture
def shared_exr_file(request: pytest.FixtureRequest, shared_exr_dir: Path) -> Path:
    """One file of the shared directory (parametrized over its listing by ``pytest_generate_tests``)."""
    return shared_exr_dir / request.param


@pytest.fixture
def daz_exr(tmp_path: Path) -> Path:
    """A small DAZ-like depth EXR (float Y, figure 170..~260 cm, backdrop 598..606 cm, 24 +inf pixels)."""
    from tests.synthetic import daz_like_depth, write_depth_exr

    path = tmp_path / "figure.exr"
    write_depth_exr(path, daz_like_depth(240, 192, seed=3))
    return path


# ----------------------------------------------------------------------------------------------------------------
# Writing arbitrary EXR files


@dataclass
class ExrPart:
    """One part of an EXR to write.

    ``channels`` maps channel names to 2-D arrays of the data window's size (float32, or float16 for half);
    ``origin`` is the data window's top-left corner; ``display`` is ``(xmin, ymin, xmax, ymax)`` (inclusive),
    ``None`` for the data window itself.
    """

    channels: Mapping[str, np.ndarray]
    name: str = ""
    origin: tuple[int, int] = (0, 0)
    display: tuple[int, int, int, int] | None = None
    half: bool = False
    header: dict = field(default_factory=dict)


def write_exr(path: str | os.PathLike[str], parts: ExrPart | Sequence[ExrPart]) -> Path:
    """Write a single- or multi-part scanline EXR with the official bindings (``OpenEXR.File`` / ``OpenEXR.Part``)."""
    import OpenEXR

    parts = [parts] if isinstance(parts, ExrPart) else list(parts)
    built = []
    for index, part in enumerate(parts):
        dtype = np.float16 if part.half else np.float32
        channels = {name: np.ascontiguousarray(array, dtype=dtype) for name, array in part.channels.items()}
        height, width = next(iter(channels.values())).shape
        x0, y0 = part.origin
        data = (x0, y0, x0 + width - 1, y0 + height - 1)
        display = part.display or data
        header = {
            "compression": OpenEXR.ZIP_COMPRESSION,
            "type": OpenEXR.scanlineimage,
            "dataWindow": (np.array(data[:2], np.int32), np.array(data[2:], np.int32)),
            "displayWindow": (np.array(display[:2], np.int32), np.array(display[2:], np.int32)),
            **part.header,
        }
        built.append((header, channels, part.name or f"part{index}"))
    if len(built) == 1 and not parts[0].name:
        header, channels, _ = built[0]
        exr = OpenEXR.File(header, channels)
    else:
        exr = OpenEXR.File([OpenEXR.Part(header, channels, name) for header, channels, name in built])
    exr.write(str(path))
    return Path(path)


@pytest.fixture(scope="session")
def exr_writer() -> Callable[..., Path]:
    """``exr_writer(path, ExrPart(...) or [ExrPart, ...])`` writes an EXR (session scope: usable with hypothesis)."""
    return write_exr


@pytest.fixture(scope="session")
def exr_part() -> type[ExrPart]:
    """The :class:`ExrPart` description used by ``exr_writer``."""
    return ExrPart


# ----------------------------------------------------------------------------------------------------------------
# Running the package in a child process (a crash or hang fails one test instead of killing pytest)


def run_python(args: Sequence[str], timeout: float = 60, cwd: str | os.PathLike[str] | None = None):
    """Run ``python ARGS`` with the repository importable; returns the CompletedProcess (text output)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, *args],
        cwd=str(cwd or REPO_ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def png_reader() -> Callable[[str | os.PathLike[str]], np.ndarray]:
    """``png_reader(path)``: a PNG decoded as it is stored (uint8 or uint16, grey stays 2-D), via OpenCV."""

    def read(path: str | os.PathLike[str]) -> np.ndarray:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert image is not None, f"{path} is not a readable PNG"
        return image

    return read


@pytest.fixture(scope="session")
def python_runner() -> Callable[..., subprocess.CompletedProcess]:
    """``python_runner(["-m", "daz_depthmap", ...], timeout=...)``: a child Python that imports this checkout."""
    return run_python
