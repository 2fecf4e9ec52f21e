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
    launch = Launch({"OpenEXR"})
    _run_install(monkeypatch, launch)  # this venv's OpenEXR is 3.4
    assert launch.pip == []
    assert capsys.readouterr() == ("", "")


def test_only_the_missing_packages_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    launch = Launch(set())
    _run_install(monkeypatch, launch)
    assert [command for command, _ in launch.pip] == ['install "OpenEXR>=3.3"']


def test_opencv_is_neither_checked_nor_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension does not use OpenCV: install.py must not pull it (or another build of it) in."""
    launch = Launch(set())
    _run_install(monkeypatch, launch)
    assert "cv2" not in launch.asked
    assert not any("opencv" in command for command, _ in launch.pip)


def test_the_old_openexr_bindings_are_upgraded(monkeypatch: pytest.MonkeyPatch) -> None:
    launch = Launch({"OpenEXR"})
    _run_install(monkeypatch, launch, openexr_version="1.3.9")  # the pre-3.x bindings, no OpenEXR.File
    assert [command for command, _ in launch.pip] == ['install "OpenEXR>=3.3"']


def test_skip_install_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    launch = Launch(set(), skip_install=True)
    _run_install(monkeypatch, launch)
    assert launch.pip == [] and launch.asked == []


@pytest.mark.parametrize(
    ("text", "expected"), [("3.4.17", (3, 4, 17)), ("3.3", (3, 3)), ("3.3rc1", (3,)), ("1.3.9", (1, 3, 9))]
)
def test_version_numbers_compare_as_numbers(text: str, expected: tuple[int, ...]) -> None:
    version_tuple = runpy.run_path(str(INSTALL))["version_tuple"]
    assert version_tuple(text) == expected
