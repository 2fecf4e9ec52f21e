"""Run by the WebUI at start-up and after installing from the Extensions tab: installs what is missing.

Only OpenEXR (3.3 or newer: ``OpenEXR.File``) is needed beyond what the WebUI ships (the extension writes its
PNGs with zlib and does not use OpenCV); numpy, Pillow, torch and gradio are the WebUI's and are never touched.
Quiet when everything is there; nothing with ``--skip-install``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable

OPENEXR_MIN = (3, 3)


def version_tuple(version: str) -> tuple[int, ...]:
    """``"3.4.17"`` -> ``(3, 4, 17)``; stops at the first part that is not a number (``"3.3rc1"`` -> ``(3,)``)."""
    parts = []
    for part in version.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def missing(is_installed: Callable[[str], bool], version_of: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """``(pip requirement, description)`` for each requirement that is absent or too old."""
    needed = []
    openexr = version_of("OpenEXR") if is_installed("OpenEXR") else None
    if openexr is None or version_tuple(openexr) < OPENEXR_MIN:
        needed.append(("OpenEXR>=3.3", "OpenEXR for DAZ depthmap"))
    return needed


def main() -> None:
    import launch

    if getattr(getattr(launch, "args", None), "skip_install", False):
        return
    for requirement, description in missing(launch.is_installed, installed_version):
        launch.run_pip(f'install "{requirement}"', description)


if __name__ == "__main__":
    main()
