"""Depth to grey levels: near is white, the far cutoff and the background are black.

All functions take and return numpy arrays and are vectorised. The expensive per-file part of ``compress_map``
(ranking the distinct depths) is separated out in :func:`rank_depths`, so moving the cutoff only costs a few
passes over the pixels.

The per-pixel arithmetic runs over :func:`~daz_depthmap.chunks.pixel_slices` of the flattened image: each step's
temporaries are small enough to stay in the CPU cache, and no step allocates a full-size float array (which costs
more in page faults than the arithmetic itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..chunks import pixel_slices

#: :func:`rank_depths` ranks by a table over the depths' bit patterns when it has at most this many entries
#: (64 MB), or two per pixel; wider spans are sorted.
_RANK_TABLE_ENTRIES = 1 << 24


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
    #: ``far`` is a cutoff the user chose (not merely the farthest depth): what lies at it is the far plane.
    cutoff: bool = False
    #: the image's nearest valid depth (its largest value with ``invert``), when the window was made for an image:
    #: with a near cutoff, ``near`` is the cutoff and says nothing about where the image's depths lie
    nearest: float | None = field(default=None, compare=False)

    @property
    def beyond_everything(self) -> bool:
        """Every valid pixel lies at or beyond the far cutoff, so all of them are clamped to the far plane."""
        edge = self.nearest if self.cutoff and self.nearest is not None else self.near  # the nearest depth there is
        if self.cutoff and self.far == edge:
            return True
        return self.far < edge if not self.invert else self.far > edge

    @property
    def nearest_depth(self) -> float:
        """The nearest valid depth when known, else the near end of the window."""
        return self.near if self.nearest is None else self.nearest


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
        return DepthWindow(nearest, far, invert, far_cutoff is not None, nearest)
    near = float(near_cutoff)
    if (near >= far) if not invert else (near <= far):
        relation = "nearer" if not invert else "nearer (larger, since inverted)"
        raise ValueError(f"the near cutoff {near:g} must be {relation} than the far end {far:g}")
    return DepthWindow(near, far, invert, far_cutoff is not None, nearest)


def _white_where(valid: np.ndarray, levels: int, dtype: type[np.unsignedinteger]) -> np.ndarray:
    """``levels`` where valid, 0 elsewhere, in the output's dtype (no wider temporary: 100 MP stay 100-200 MB)."""
    out = valid.astype(dtype)
    out *= dtype(levels)
    return out


def _output_dtype(levels: int) -> type[np.unsignedinteger]:
    if levels == 255:
        return np.uint8
    if levels == 65535:
        return np.uint16
    raise ValueError(f"levels must be 255 or 65535, not {levels}")


def map_linear(depth: np.ndarray, valid: np.ndarray, window: DepthWindow, levels: int = 255) -> np.ndarray:
    """Spread the window linearly over ``0..levels``: near -> ``levels``, far -> 0.

    The rule, exactly: ``level = floor(clip((far - d) / (far - near), 0, 1) * levels + 0.5)`` in float64 (round half
    up), the same at 8 and 16 bits. Depths beyond the window are clamped to it; background pixels are 0. A flat image
    (a zero-width window without a cutoff) makes every valid pixel white; a far cutoff at or nearer than the near end
    makes every pixel black.
    """
    dtype = _output_dtype(levels)
    if window.beyond_everything:
        return np.zeros(depth.shape, dtype)
    far, span = float(window.far), float(window.far) - float(window.near)
    if span == 0:  # zero width: one plane
        return _white_where(valid, levels, dtype)
    out = np.zeros(depth.shape, dtype)
    flat_depth, flat_valid, flat_out = depth.ravel(), valid.ravel(), out.reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):  # background values (inf, NaN) are computed, never stored
        for part in pixel_slices(out.size):
            x = np.subtract(far, flat_depth[part], dtype=np.float64)
            x /= span
            np.clip(x, 0.0, 1.0, out=x)
            x *= levels
            x += 0.5
            np.copyto(flat_out[part], x, casting="unsafe", where=flat_valid[part])  # truncation: floor of x >= 0
    return out


def rank_depths(depth: np.ndarray, valid: np.ndarray) -> DepthRanks:
    """Sort the distinct valid depths once per image; reuse the result for every cutoff."""
    ranks = _rank_by_table(depth, valid)
    if ranks is None:
        values, inverse = np.unique(depth[valid], return_inverse=True)
        index = np.zeros(depth.shape, np.int32)
        index[valid] = inverse
        ranks = DepthRanks(values, index)
    return ranks


def _rank_by_table(depth: np.ndarray, valid: np.ndarray) -> DepthRanks | None:
    """:func:`rank_depths` without sorting, for float32 depth whose valid values span few bit patterns.

    Positive float32 numbers order like their bit patterns read as integers. A table over the patterns from the
    nearest to the farthest valid depth marks those present; its running count is then each one's rank, looked up
    per pixel. ``None`` (sort instead) unless the depth is float32, the valid values positive and finite, and the
    table small enough.
    """
    if depth.dtype != np.float32:
        return None
    stats = depth_stats(depth, valid)
    if stats.empty or not (0 < stats.nearest <= stats.farthest < np.inf):
        return None
    low, high = (int(np.float32(v).view(np.int32)) for v in (stats.nearest, stats.farthest))
    if high - low >= max(_RANK_TABLE_ENTRIES, 2 * depth.size):
        return None
    codes, flat_valid = depth.ravel().view(np.int32), valid.ravel()
    table = np.zeros(high - low + 1, np.int32)
    for part in pixel_slices(codes.size):
        table[codes[part][flat_valid[part]] - low] = 1
    values = (np.flatnonzero(table) + low).astype(np.int32).view(np.float32)
    np.cumsum(table, out=table)  # rank + 1 of every pattern present
    index = np.zeros(depth.shape, np.int32)
    flat_index = index.reshape(-1)
    for part in pixel_slices(codes.size):
        at = np.clip(codes[part] - low, 0, len(table) - 1)  # background patterns lie anywhere
        np.subtract(table[at], 1, out=flat_index[part], where=flat_valid[part])
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
    if not window.invert:
        first = int(np.searchsorted(values, window.near, "right"))  # values <= near share rank 0
        last = int(np.searchsorted(values, window.far, "left"))  # values >= far share the last rank
    else:  # count from the large end: position j = count - 1 - i
        first = count - int(np.searchsorted(values, window.near, "left"))
        last = count - int(np.searchsorted(values, window.far, "right"))
    start = max(first - 1, 0)
    top = min(last, count - 1) - start
    if top <= 0:
        return _white_where(valid, levels, dtype)
    # level = floor((top - rank) / top * levels + 0.5), in exact integer arithmetic
    out = np.zeros(valid.shape, dtype)
    flat_index, flat_valid, flat_out = ranks.index.ravel(), valid.ravel(), out.reshape(-1)
    for part in pixel_slices(out.size):
        index = flat_index[part].astype(np.int64)
        if window.invert:
            np.subtract(count - 1, index, out=index)
        np.clip(index, start, last, out=index)
        index -= start  # the rank among the distinct depths of the window: 0 (near) .. top (far)
        np.subtract(top, index, out=index)
        index *= 2 * levels
        index += top
        index //= 2 * top
        np.copyto(flat_out[part], index, casting="unsafe", where=flat_valid[part])  # background stays 0
    return out


def subject_mask(depth: np.ndarray, valid: np.ndarray, window: DepthWindow) -> np.ndarray:
    """8-bit mask of the subject, defined in depth: 255 where the pixel is valid and nearer than the far end of the
    window, 0 on the far plane and the background. It does not depend on the output's bit depth or rounding.

    A flat image without a cutoff is all subject; a far cutoff at or nearer than the near end leaves no subject.
    """
    mask = np.zeros(depth.shape, np.uint8)
    if window.beyond_everything:
        return mask
    if window.far == window.near:  # flat, no cutoff: every valid pixel is white in the map, so it is the subject
        mask[valid] = 255
        return mask
    far = float32_edge(window.far, not window.invert) if depth.dtype == np.float32 else float(window.far)
    flat_depth, flat_valid, flat_mask = depth.ravel(), valid.ravel(), mask.reshape(-1)
    with np.errstate(invalid="ignore"):
        for part in pixel_slices(mask.size):
            values = flat_depth[part]
            nearer = values > far if window.invert else values < far
            nearer &= flat_valid[part]
            flat_mask[part] = nearer.view(np.uint8) * np.uint8(255)
    return mask


def float32_edge(value: float, up: bool) -> np.float32:
    """The float32 nearest ``value`` on one side: the smallest one at or above it (``up``), or the largest one at or
    below it. For float32 ``d``: ``d >= value`` exactly when ``d >= float32_edge(value, True)``, and ``d < value``
    exactly when ``d < float32_edge(value, True)`` (and likewise downwards) — comparisons of float32 depth with a
    float64 cutoff then run in float32, exactly."""
    with np.errstate(over="ignore"):
        edge = np.float32(value)
    if up and float(edge) < value:
        edge = np.nextafter(edge, np.float32(np.inf))
    elif not up and float(edge) > value:
        edge = np.nextafter(edge, np.float32(-np.inf))
    return edge


def paint_noise(mapped: np.ndarray, mask: np.ndarray, levels: int, seed: int | None = None) -> np.ndarray:
    """A copy of the map whose pixels outside the subject ``mask`` (the far plane and the background) hold uniform
    random grey levels, reproducible with ``seed``."""
    out = mapped.copy()
    far = mask == 0
    out[far] = np.random.default_rng(seed).integers(0, levels + 1, int(np.count_nonzero(far)), dtype=out.dtype)
    return out


def to_8bit(levels: np.ndarray) -> np.ndarray:
    """8-bit levels of a map: uint8 as it is, uint16 rounded half up to the nearest 8-bit level (what an 8-bit
    consumer such as ControlNet gets from a 16-bit map, and what the tab's preview shows of it)."""
    if levels.dtype == np.uint8:
        return levels
    if levels.dtype != np.uint16:
        raise ValueError(f"expected uint8 or uint16 levels, got {levels.dtype}")
    return ((levels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
