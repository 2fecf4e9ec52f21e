"""A loaded file's canvas set: the Normal canvas and the beauty render that came with its Depth canvas, their
previews and their full-resolution maps.

The tab shows a set as one entry (its depth is the :class:`~daz_depthmap.session.loaded.LoadedFile`); the normal
map does not depend on the cutoffs, so its preview is made once per set of normal options (the full map, sampled
at the preview's pixels, so the preview shows exactly the output's colours) and kept with the set. Pure: no gradio.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..canvas.beauty import BeautyImage, read_beauty
from ..canvas.normals import NormalMap
from ..canvas.normals.options import NormalOptions, describe_normals, set_normal_map
from ..exr import DepthReadError
from .loaded import LoadedFile


@dataclass(frozen=True)
class SetPart:
    """One file of a set besides its depth: where it is, the name the user knows it by, and whether the session
    owns it (an upload)."""

    path: Path
    name: str
    uploaded: bool = False


@dataclass(frozen=True)
class SetParts:
    """The rest of a loaded file's set.

    Attributes
    ----------
    scene:
        The render's name (outputs are named after it), ``None`` for a plain depth file.
    normal, beauty:
        The Normal canvas and the beauty (the render image, or a Beauty canvas to tone-map); ``None`` when absent.
    notes:
        What the grouping said (two Depth canvases of one scene...).
    """

    scene: str | None = None
    normal: SetPart | None = None
    beauty: SetPart | None = None
    notes: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[SetPart, ...]:
        return tuple(p for p in (self.normal, self.beauty) if p is not None)

    def describe(self) -> str:
        """``Depth · Normal · Beauty (render image)`` for the file info."""
        names = ["Depth"]
        if self.normal is not None:
            names.append("Normal")
        if self.beauty is not None:
            names.append("Beauty" + (" (render image)" if not self.beauty.name.lower().endswith(".exr") else ""))
        return " · ".join(names)


@dataclass(frozen=True)
class NormalPreview:
    """A normal map as the page shows it: the output's colours at the preview's pixels, and how it was made."""

    image: np.ndarray  # uint8 (h, w, 3) RGB
    summary: str
    notes: tuple[str, ...]
    options: NormalOptions

    @property
    def nbytes(self) -> int:
        return int(self.image.nbytes)


@dataclass
class SetPreviews:
    """The previews of one set's normal map and beauty, made on first use and kept (per normal options)."""

    normal: NormalPreview | None = None
    beauty: np.ndarray | None = None
    beauty_notes: tuple[str, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def nbytes(self) -> int:
        size = self.normal.nbytes if self.normal is not None else 0
        return size + (int(self.beauty.nbytes) if self.beauty is not None else 0)


def _problem(part: SetPart, exc: DepthReadError) -> DepthReadError:
    """A reading error named by the file the user knows (an upload's own name, not its temporary path)."""
    return DepthReadError(Path(part.name), exc.problem)


def full_normal_map(entry: LoadedFile, parts: SetParts, options: NormalOptions) -> NormalMap | None:
    """The set's full-resolution normal map (the Normal canvas checked against the depth, or from the depth),
    ``None`` when it has no Normal canvas and ``options.from_depth`` is off.

    Raises
    ------
    DepthReadError
        Naming the Normal canvas (or the depth file) and what is wrong.
    """
    if parts.normal is None and not options.from_depth:
        return None
    depth = entry.read_full()
    try:
        normal = None if parts.normal is None else parts.normal.path
        return set_normal_map(normal, depth, entry.source, options, entry.max_pixels)
    except DepthReadError as exc:
        if parts.normal is not None and exc.path.name == parts.normal.path.name:
            raise _problem(parts.normal, exc) from None
        raise


def full_beauty(entry: LoadedFile, parts: SetParts) -> BeautyImage | None:
    """The set's beauty as an 8-bit sRGB image (a Beauty canvas tone-mapped), ``None`` without one."""
    if parts.beauty is None:
        return None
    try:
        return read_beauty(parts.beauty.path, entry.max_pixels)
    except DepthReadError as exc:
        raise _problem(parts.beauty, exc) from None


def normal_preview(entry: LoadedFile, parts: SetParts, options: NormalOptions, cache: SetPreviews) -> NormalPreview:
    """The normal map's preview for these options (made from the full map once per options, then kept).

    Raises
    ------
    DepthReadError
        As :func:`full_normal_map`.
    ValueError
        When there is nothing to preview (no Normal canvas, normals from depth off).
    """
    with cache.lock:
        if cache.normal is not None and cache.normal.options == options:
            return cache.normal
        result = full_normal_map(entry, parts, options)
        if result is None:
            raise ValueError("no Normal canvas in this set: tick 'Normals from the depth' to compute them")
        image = np.ascontiguousarray(result.image[np.ix_(entry.rows, entry.cols)])
        cache.normal = NormalPreview(image, describe_normals(result), result.report.notes, options)
        return cache.normal


def beauty_preview(entry: LoadedFile, parts: SetParts, cache: SetPreviews) -> np.ndarray | None:
    """The beauty's preview (sampled like the depth's), ``None`` without a beauty; made once and kept."""
    if parts.beauty is None:
        return None
    with cache.lock:
        if cache.beauty is None:
            beauty = full_beauty(entry, parts)
            assert beauty is not None
            image = beauty.image
            if image.shape[:2] != (entry.height, entry.width):  # a render saved at another size: fit the preview
                rows = np.minimum((entry.rows * image.shape[0]) // entry.height, image.shape[0] - 1)
                cols = np.minimum((entry.cols * image.shape[1]) // entry.width, image.shape[1] - 1)
            else:
                rows, cols = entry.rows, entry.cols
            cache.beauty = np.ascontiguousarray(image[np.ix_(rows, cols)])
            cache.beauty_notes = beauty.notes
        return cache.beauty
