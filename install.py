"""Run by the WebUI at start-up and after installing from the Extensions tab: installs what is missing.

Only OpenEXR's bindings (3.3 or newer, below 4: ``OpenEXR.File``) are needed beyond what the WebUI ships. They are
installed with the WebUI's own numpy pinned in the same pip command, so pip can never replace it (if no OpenEXR
release fits that numpy, pip refuses and this says so in one line). OpenCV (region maps) comes with the WebUI; only
a WebUI without any ``cv2`` gets the headless build, numpy pinned too. numpy, Pillow, torch and gradio are the
WebUI's and are never touched. Quiet when everything is there; nothing with ``--skip-install``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable

try:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version
except ImportError:  # every WebUI has pip, which carries packaging
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[no-redef]
    from pip._vendor.packaging.version import InvalidVersion, Version  # type: ignore[no-redef]

#: The OpenEXR bindings the extension works with (OpenEXR.File came with 3.3; 4 may change the API).
OPENEXR = "OpenEXR>=3.3,<4"
#: OpenCV for a WebUI that has none (the WebUI ships opencv-python; any build providing cv2 will do).
OPENCV = "opencv-python-headless>=4.8"


def satisfies(version: str | None, requirement: str) -> bool:
    """Whether an installed version (``None``: not installed) meets ``requirement``'s range, pre-releases included
    (``3.4.0rc1`` is a 3.4)."""
    if version is None:
        return False
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    specifier = SpecifierSet(requirement.split(" ")[0].removeprefix("OpenEXR"), prereleases=True)
    return parsed in specifier


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def missing(is_installed: Callable[[str], bool], version_of: Callable[[str], str | None]) -> list[tuple[str, str, str]]:
    """``(pip arguments, description, what fails without it)`` for each requirement that is absent or out of range;
    the WebUI's numpy is pinned alongside, so installing cannot change it."""
    needed = []
    numpy = version_of("numpy")
    keep = f' "numpy=={numpy}"' if numpy else ""
    openexr = version_of("OpenEXR") if is_installed("OpenEXR") else None
    if not satisfies(openexr, OPENEXR):
        needed.append((f'install "{OPENEXR}"{keep}', "OpenEXR for DAZ depthmap", "the tab cannot read EXR files"))
    if not is_installed("cv2"):
        needed.append((f'install "{OPENCV}"{keep}', "OpenCV for DAZ depthmap", "the tab cannot start"))
    return needed


def main() -> None:
    import launch

    if getattr(getattr(launch, "args", None), "skip_install", False):
        return
    for arguments, description, without in missing(launch.is_installed, installed_version):
        try:
            launch.run_pip(arguments, description)
        except Exception as exc:  # pip's own report is in the log above; the WebUI must go on starting
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"DAZ Depth: could not run pip {arguments} ({first}); {without} until it is")


if __name__ == "__main__":
    main()
