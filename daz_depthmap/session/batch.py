"""Writing a session's outputs: one file, or every loaded file with its own options (Process all)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..context import FullMaps
from ..exr import DepthReadError
from ..naming import output_paths
from ..output import save_outputs
from .workspace import Shown

log = logging.getLogger(__name__)

#: ``progress(done, total, name)``: called before each file of :func:`write_all` and once at the end.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class WriteResult:
    """Paths written and one message per file that failed."""

    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def write_shown(shown: Shown, out_dir: str | os.PathLike[str], protect: Sequence[Path]) -> list[Path]:
    """Write one file's depth PNG (and mask PNG when its ``mask`` option is on) into ``out_dir``, atomically.

    The full resolution is read from the file again. Never overwrites an input in ``protect``. Raises
    ``DepthReadError``/``ValueError``/``OSError`` with a message for the user.
    """
    result = shown.file.render_full(shown.params)
    depth_path, mask_path = output_paths(shown.file.name, out_dir, shown.stem)
    outputs = [(depth_path, result.depth)]
    if shown.params.mask and result.mask is not None:
        outputs.append((mask_path, result.mask))
    return save_outputs(outputs, protect)


def write_all(
    items: Sequence[Shown], out_dir: str | os.PathLike[str], protect: Sequence[Path], progress: Progress | None = None
) -> WriteResult:
    """Write every item with its own options; a file that fails gives a message, the others go on."""
    result = WriteResult()
    for number, shown in enumerate(items):
        if progress is not None:
            progress(number, len(items), shown.file.name)
        try:
            result.written.extend(write_shown(shown, out_dir, protect))
        except DepthReadError as exc:  # its message names the file
            result.errors.append(str(exc))
        except (ValueError, OSError) as exc:
            result.errors.append(f"{shown.file.name}: {exc}")
        except MemoryError:
            result.errors.append(f"{shown.file.name}: not enough memory to write this image")
    if progress is not None:
        progress(len(items), len(items), "")
    return result


def full_maps(shown: Shown) -> FullMaps:
    """The full-resolution depth map and mask of a file with its options (for a send; the file is read again)."""
    result = shown.file.render_full(shown.params)
    assert result.mask is not None
    return FullMaps(shown.stem, result.depth, result.mask, shown.params)
