"""What reading an EXR file raises: :class:`DepthReadError` (the file and the problem, on one line), its
:class:`NoDepthChannelError` (with the channels to choose from), and :class:`MissingBindingsError` when OpenEXR's
Python bindings are not installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..printable import shown_name


class DepthReadError(Exception):
    """A file could not be read as depth; ``str()`` names the file (quoted if its name holds a line break) and the
    problem, on one line."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(problem.split("\n"))
        super().__init__(f"{shown_name(self.path.name)}: {self.problem}")


class MissingBindingsError(ImportError):
    """OpenEXR's Python bindings are not installed for this Python."""

    def __init__(self) -> None:
        super().__init__(
            f"OpenEXR's Python bindings are not installed for this Python ({sys.executable}): run "
            f'`{sys.executable} -m pip install "OpenEXR>=3.3,<4"`, or use the Python of the project\'s .venv '
            "(`.venv/bin/python -m daz_depthmap`, made by `make run` or `make test`)"
        )


class NoDepthChannelError(DepthReadError):
    """No channel looks like depth; ``channels`` lists what the file has, so a caller can offer a choice."""

    def __init__(self, path: str | os.PathLike[str], problem: str, channels: Sequence[str]) -> None:
        super().__init__(path, problem)
        self.channels = tuple(channels)
