"""Depth to grey levels: near is white, the far cutoff and the background are black.

All functions take and return numpy arrays and are vectorised. The expensive per-file part of ``compress_map``
(ranking the distinct depths) is separated out in :func:`rank_depths`, so moving the cutoff only costs a few
passes over the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DepthStats:
    """The valid depth range of an image and how many pixels are background."""

    nearest: float
    farthest: float
    valid_count: int
    invalid_count: int

    @property
    def empty(self) -> bool:
        return self.valid_count == 0


@dataclass(frozen=True)
class DepthWindow:
    """The depth range spread over the output levels: ``near`` becomes white, ``far`` black.

    With ``invert`` the input grows toward the camera, so ``near`` is the larger value.
    """

    near: float
    far: float
    invert: bool = False

    @property
    def beyond_everything(self) -> bool:
        """The far cutoff lies nearer than the near end: every valid pixel is clamped to the far plane."""
        return self.far < self.near if not self.invert else self.far > self.near


@dataclass(frozen=True)
class DepthRanks:
    """Distinct valid depths, sorted ascending, and each pixel's position among them (``compress_map``)."""

    values: np.ndarray
    index: np.ndarray


def depth_stats(depth: np.ndarray, valid: np.ndarray) -> DepthStats:
    """Nearest and farthest valid depth and the valid/invalid pixel counts."""
    count = int(np.count_nonzero(valid))
    if count == 0:
        return DepthStats(float("nan"), float("nan"), 0, int(valid.size))
    nearest = float(np.min(depth, where=valid, initial=np.inf))
    farthest = float(np.max(depth, where=valid, initial=-np.inf))
    return DepthStats(nearest, farthest, count, int(valid.size) - count)


def depth_window(
    stats: DepthStats, far_cutoff: float | None = None, near_cutoff: float | None = None, invert: bool = False
) -> DepthWindow:
    """The window for a mapping: the cutoffs where given, the valid range otherwise.

    Raises
    ------
    ValueError
        If ``near_cutoff`` is not nearer than the far end of the window.
    """
    nearest, farthest = (stats.farthest, stats.nearest) if invert else (stats.nearest, stats.farthest)
    far = farthest if far_cutoff is None else float(far_cutoff)
    if near_cutoff is None:
        return DepthWindow(nearest, far, invert)
    near = float(near_cutoff)
    if (near >= far) if not invert else (near <= far):
        relation = "nearer" if not invert else "nearer (larger, since inverted)"
        raise ValueError(f"the near cutoff {near:g} must be {relation} than the far end {far:g}")
    return DepthWindow(near, far, invert)


def _output_dtype(levels: int) -> type[np.unsignedinteger]:
    if levels == 255:
        return np.uint8
    if levels == 65535:
        return np.uint16
    raise ValueError(f"levels must be 255 or 65535, not {levels}")


def map_linear(depth: np.ndarray, valid: np.ndarray, window: DepthWindow, levels: int = 255) -> np.ndarray:
    """Spread the window linearly over ``0..levels``: near -> ``levels``, far -> 0, rounded half up.

    Depths beyond the window are clamped to it; background pixels are 0. A zero-width window (a flat image)
    makes every valid pixel white; a far cutoff nearer than the near end makes every pixel black.
    """
    dtype = _output_dtype(levels)
    span = window.far - window.near
    if window.beyond_everything:
        return np.zeros(depth.shape, dtype)
    if span == 0:
        return np.where(valid, levels, 0).astype(dtype)
    x = np.subtract(np.float32(window.far), depth, dtype=np.float32)
    x *= np.float32(levels / span)
    np.clip(x, 0, levels, out=x)
    x[~valid] = 0
    x += np.float32(0.5)
    return x.astype(dtype)


def rank_depths(depth: np.ndarray, valid: np.ndarray) -> DepthRanks:
    """Sort the distinct valid depths once per image; reuse the result for every cutoff."""
    values, inverse = np.unique(depth[valid], return_inverse=True)
    index = np.zeros(depth.shape, np.int32)
    index[valid] = inverse
    return DepthRanks(values, index)


def rank_index(ranks: DepthRanks, depth: np.ndarray) -> DepthRanks:
    """The same ranking applied to other pixels of the image (a preview): positions found by binary search."""
    index = np.searchsorted(ranks.values, depth).astype(np.int32)
    np.minimum(index, max(len(ranks.values) - 1, 0), out=index)
    return DepthRanks(ranks.values, index)


def map_ranked(ranks: DepthRanks, valid: np.ndarray, window: DepthWindow, levels: int = 255) -> np.ndarray:
    """``compress_map``: the distinct depths inside the window, spread evenly over ``0..levels``.

    Depths are clamped to the window first, so everything at or beyond the far cutoff shares the last rank and
    everything at or before the near cutoff the first. Order is kept; empty depth ranges take no levels.
    """
    dtype = _output_dtype(levels)
    values, count = ranks.values, len(ranks.values)
    if window.beyond_everything or count == 0:
        return np.zeros(valid.shape, dtype)
    index = ranks.index
    if not window.invert:
        first = int(np.searchsorted(values, window.near, "right"))  # values <= near share rank 0
        last = int(np.searchsorted(values, window.far, "left"))  # values >= far share the last rank
    else:  # count from the large end: position j = count - 1 - i
        first = count - int(np.searchsorted(values, window.near, "left"))
        last = count - int(np.searchsorted(values, window.far, "right"))
        index = (count - 1) - index
    start = max(first - 1, 0)
    top = min(last, count - 1) - start
    if top <= 0:
        return np.where(valid, levels, 0).astype(dtype)
    rank = np.clip(index, start, last).astype(np.float32)
    rank -= np.float32(start)
    x = np.float32(top) - rank
    x *= np.float32(levels / top)
    x[~valid] = 0
    x += np.float32(0.5)
    return x.astype(dtype)


def far_plane_mask(mapped: np.ndarray) -> np.ndarray:
    """8-bit mask of the subject: 0 where the map is at the far level (background included), 255 elsewhere."""
    return np.where(mapped > 0, np.uint8(255), np.uint8(0))


def paint_noise(mapped: np.ndarray, levels: int, seed: int | None = None) -> np.ndarray:
    """A copy of the map whose far-plane pixels hold uniform random grey levels (reproducible with ``seed``)."""
    out = mapped.copy()
    far = mapped == 0
    out[far] = np.random.default_rng(seed).integers(0, levels + 1, int(np.count_nonzero(far)), dtype=out.dtype)
    return out
