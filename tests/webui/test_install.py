"""install.py with a stand-in ``launch`` module: it installs only what is missing, quietly, and never with
``--skip-install``."""

from __future__ import annotations

import argparse
import importlib.metadata
import runpy
import sys
import types
from pathlib import Path

import pytest

INSTALL = Path(__file__).resolve().parents[2] / "install.py"


class Launch(types.ModuleType):
    """The WebUI's ``launch`` as install.py sees it: ``args``, ``is_installed``, ``run_pip``."""

    def __init__(self, present: set[str], skip_install: bool = False) -> None:
        super().__init__("launch")
        self.args = argparse.Namespace(skip_install=skip_install)
        self.present = present
        self.asked: list[str] = []
        self.pip: list[tuple[str, str]] = []

    def is_installed(self, package: str) -> bool:
        self.asked.append(package)
        return package in self.present

    def run_pip(self, command: str, desc: str | None = None, live: bool = False) -> str:
        self.pip.append((command, desc or ""))
        return "pip output"


def _run_install(monkeypatch: pytest.MonkeyPatch, launch: Launch, openexr_version: str | None = None) -> None:
    monkeypatch.setitem(sys.modules, "launch", launch)
    if openexr_version is not None:
        real = importlib.metadata.version
        monkeypatch.setattr(
            importlib.metadata, "version", lambda name: openexr_version if name == "OpenEXR" else real(name)
        )
    runpy.run_path(str(INSTALL), run_name="__main__")  # the WebUI runs it as a script


def test_nothing_happens_and_nothing_is_printed_when_all_is_there(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    launch = Launch({"OpenEXR", "cv2"})
    _run_install(monkeypatch, launch)  # this venv's OpenEXR is 3.4
    assert launch.pip == []
    assert capsys.readouterr() == ("", "")


NUMPY = importlib.metadata.version("numpy")


def test_only_the_missing_packages_are_installed_with_the_webuis_numpy_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    launch = Launch(set())
    _run_install(monkeypatch, launch)
    assert [command for command, _ in launch.pip] == [
        f'install "OpenEXR>=3.3,<4" "numpy=={NUMPY}"',
        f'install "opencv-python-headless>=4.8" "numpy=={NUMPY}"',
    ]


def test_the_webuis_own_opencv_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The WebUI ships opencv-python: any module cv2 will do, and no other build of it is pulled in."""
    launch = Launch({"OpenEXR", "cv2"})
    _run_install(monkeypatch, launch)
    assert "cv2" in launch.asked
    assert launch.pip == []


@pytest.mark.parametrize("version", ["1.3.9", "3.2.4", "4.0.0", "not-a-version"])
def test_bindings_out_of_range_are_replaced(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    launch = Launch({"OpenEXR", "cv2"})
    _run_install(monkeypatch, launch, openexr_version=version)
    assert [command for command, _ in launch.pip] == [f'install "OpenEXR>=3.3,<4" "numpy=={NUMPY}"']


@pytest.mark.parametrize("version", ["3.3.0", "3.4.17", "3.5.3", "3.4.0rc1", "3.6.0.dev2"])
def test_bindings_in_range_stay_pre_releases_too(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """A pre-release once read as (3,) and was reinstalled at every start."""
    launch = Launch({"OpenEXR", "cv2"})
    _run_install(monkeypatch, launch, openexr_version=version)
    assert launch.pip == []


def test_skip_install_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    launch = Launch(set(), skip_install=True)
    _run_install(monkeypatch, launch)
    assert launch.pip == [] and launch.asked == []


def test_a_failed_pip_is_one_line_and_the_webui_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    launch = Launch({"cv2"})

    def refuse(command: str, desc: str | None = None, live: bool = False) -> str:
        raise RuntimeError("Couldn't install OpenEXR for DAZ depthmap.\nCommand: ...\nError code: 1")

    launch.run_pip = refuse  # type: ignore[method-assign]
    _run_install(monkeypatch, launch)
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [
        'DAZ Depth: could not run pip install "OpenEXR>=3.3,<4" "numpy=='
        + NUMPY
        + "\" (Couldn't install OpenEXR for DAZ depthmap.); the tab cannot read EXR files until it is"
    ]
