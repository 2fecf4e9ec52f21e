"""Depth to grey levels with a band plan: every band spread over its own levels, nearer never darker.

Levels
    The nearest band gets the brightest levels, each band the next ones down. An 8-bit level ``k`` stands for
    the 16-bit levels ``k*256 .. k*256+255``, so a band of ``n`` levels gets ``n*256`` 16-bit levels and
    ``map16 >> 8`` always stays inside the band's 8-bit levels (:func:`band_levels`).

Linear bands
    Within band ``b`` (``start`` included, ``end`` excluded, in depth), computed in float64 and rounded half up::

        t = clip((end - d) / (end - start), 0, 1)
        level = min(floor(bottom + t * (top - bottom) + 0.5), high)

    ``top`` and ``bottom`` are the band's highest and lowest level plus and minus half a level, except at the
    ends of the whole range, where they are exactly the top level and 0. Half a level on each side of every split
    makes the levels continuous across bands: a plan of one band of 256 levels is exactly the linear map
    ``floor((far - d) / (far - near) * L + 0.5)`` (L = 255 or 65535), and bands allocated by depth span give the
    linear map up to the rounding at the splits. A depth exactly at a split is in the farther band and gets its
    highest level (``min(..., high)``).

Ranked bands (``compress_map``)
    The distinct depths of each band (:class:`~daz_depthmap.depth.mapping.DepthRanks`) are spread evenly over its own
    levels, nearest at its highest level and farthest at its lowest: ``t = (last - rank) / (last - first)``,
    ``level = floor(low + t * (high - low) + 0.5)`` (a band holding a single depth gives it its highest level).
    One band is ``map_ranked`` under the float64 rule. As there, depths nearer than the near cutoff share the
    first rank and depths at or beyond the far cutoff the last (the cutoffs compared exactly, not rounded to
    float32).

Speed
    The level depends on the depth alone and never decreases toward the camera, so it is a step function with at
    most 256 (65536) steps. For float32 depth, :func:`map_bands` finds the exact bit pattern where each level
    starts (evaluating the formula above, in float64, around where it predicts the step) and tabulates the
    levels in cells of patterns holding at most one step each, so each pixel costs one table lookup and a few
    integer operations. For ``compress_map`` the steps fall on rank positions, and the table holds the level of
    every distinct depth. The results are identical to evaluating the formula per pixel, which is what happens
    for other dtypes and for levels packed more tightly than float32 depth can tell apart
    (:func:`band_level_of` evaluates it for any depths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..chunks import CHUNK_PIXELS, pixel_slices
from ..depth.mapping import DepthRanks, DepthWindow, float32_edge
from ..params import BITS, SENTINEL_DEPTH
from .plan import TOTAL_LEVELS, BandPlan, _count, band_counts, band_index, check_levels, check_window

#: The largest float32 bit pattern of a valid depth (below the 1e9 sentinel).
_MAX_PATTERN = int(np.float32(SENTINEL_DEPTH).view(np.int32)) - 1
#: A pattern table may always have this many cells; beyond it, no more than one per pixel (else: the formula).
_MIN_TABLE_CELLS = 1 << 16
_NO_STEP = np.iinfo(np.int32).max


@dataclass(frozen=True)
class BandLevels:
    """The output levels of every band in a map of some bit depth: band ``i`` holds ``low[i] .. high[i]``
    (none when ``low[i] > high[i]``, a band of 0 levels), ``top`` is white."""

    low: np.ndarray
    high: np.ndarray
    top: int


def band_levels(plan: BandPlan, bits: int = 8) -> BandLevels:
    """Each band's levels at ``bits`` bits: 8-bit level ``k`` covers 16-bit levels ``k*256 .. k*256+255``."""
    if bits not in BITS:
        raise ValueError(f"bits must be 8 or 16, not {bits}")
    counts = np.array([band.levels for band in plan.bands], np.int64)
    high8 = (TOTAL_LEVELS - 1) - np.concatenate(([0], np.cumsum(counts)[:-1]))
    low8 = high8 - counts + 1
    if bits == 8:
        return BandLevels(low8, high8, 255)
    return BandLevels(low8 << 8, (high8 << 8) + 255, 65535)


@dataclass(frozen=True)
class _Layout:
    """Per-band tables of the linear formula (float64), for one plan, window and bit depth."""

    splits: np.ndarray  # ascending, for searchsorted
    invert: bool
    end: np.ndarray
    span: np.ndarray  # end - start (negative when inverted)
    width: np.ndarray  # top - bottom
    offset: np.ndarray  # bottom + 0.5
    cap: np.ndarray  # highest level
    levels: BandLevels

    def band_of(self, x: np.ndarray) -> np.ndarray:
        """The band of each float64 depth, clamped to the first and last band."""
        if not self.invert:
            return np.searchsorted(self.splits, x, "right")
        return (len(self.splits) - np.searchsorted(self.splits, x, "left")).astype(np.intp)


def _layout(plan: BandPlan, window: DepthWindow, bits: int) -> _Layout:
    levels = band_levels(plan, bits)
    low, high, top = levels.low.astype(np.float64), levels.high.astype(np.float64), levels.top
    edges = np.array([window.near, *plan.splits, window.far], np.float64)
    upper = np.where(high == top, top, high + 0.5)
    lower = np.where(low == 0, 0.0, low - 0.5)
    empty = low > high
    cap = np.maximum(high, 0.0)  # a band of 0 levels (holding no pixel) sits at the level below the band before it
    width = np.where(empty, 0.0, upper - lower)
    offset = np.where(empty, cap + 0.5, lower + 0.5)
    splits = np.array(plan.splits, np.float64)
    return _Layout(splits[::-1] if window.invert else splits, window.invert, edges[1:],
                   edges[1:] - edges[:-1], width, offset, cap, levels)  # fmt: skip


def _linear_levels(x: np.ndarray, layout: _Layout) -> np.ndarray:
    """The exact linear band formula for float64 depths ``x`` (any values; NaN gives garbage), as int64."""
    band = layout.band_of(x)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t = layout.end[band] - x
        t /= layout.span[band]
        np.clip(t, 0.0, 1.0, out=t)
        t *= layout.width[band]
        t += layout.offset[band]
        np.floor(t, out=t)
        np.minimum(t, layout.cap[band], out=t)
        return t.astype(np.int64)


def band_level_of(depth: np.ndarray | float, plan: BandPlan, window: DepthWindow, bits: int = 8) -> np.ndarray:
    """The linear band formula for any depths (float64 arithmetic, no validity mask): the reference of
    :func:`map_bands`, and what a depth maps to (e.g. under the cursor)."""
    check_window(plan, window)
    x = np.asarray(depth, np.float64)
    return _linear_levels(x.ravel(), _layout(plan, window, bits)).reshape(x.shape)


# --------------------------------------------------------------------------------------------------------------
# Mapping


def map_bands(
    depth: np.ndarray,
    valid: np.ndarray,
    plan: BandPlan,
    window: DepthWindow,
    bits: int = 8,
    ranks: DepthRanks | None = None,
) -> np.ndarray:
    """Map depth to a uint8 (``bits=8``) or uint16 grey image with a band plan: near white, far cutoff black.

    ``ranks`` (the image's :class:`~daz_depthmap.depth.mapping.DepthRanks`, or
    :func:`~daz_depthmap.depth.mapping.rank_index` of them for a preview) switch to ``compress_map``: each band's
    distinct depths spread evenly over its levels.
    Background pixels are 0; so are all pixels when the far cutoff is at or nearer than the near end. A flat
    image (zero-width window without a cutoff) is white where valid.

    Raises
    ------
    ValueError
        If the levels do not add up to 256, a band with 0 levels holds pixels, or the splits do not fit the
        window; the message names the band or split.
    """
    if bits not in BITS:
        raise ValueError(f"bits must be 8 or 16, not {bits}")
    dtype = np.uint8 if bits == 8 else np.uint16
    out = np.zeros(depth.shape if ranks is None else ranks.index.shape, dtype)
    if window.beyond_everything:
        return out
    check_levels(plan)
    check_window(plan, window)
    layout = _layout(plan, window, bits)
    if ranks is not None:
        _map_ranked(ranks, valid, _rank_layout(ranks.values, plan, window, layout.levels), out)
        return out
    if window.near == window.far:  # a flat image: one band (a split could not fit)
        out[valid] = layout.levels.top
        return out
    if any(band.levels == 0 for band in plan.bands):
        check_levels(plan, band_counts(band_index(depth, valid, plan, window), len(plan.bands)))
    table = _pattern_table(layout, window, depth.size) if depth.dtype == np.float32 else None
    if table is not None:
        table.apply(depth, valid, out)
        return out
    flat_depth, flat_valid, flat_out = depth.ravel(), valid.ravel(), out.reshape(-1)
    for part in pixel_slices(out.size):
        levels = _linear_levels(flat_depth[part].astype(np.float64), layout)
        np.copyto(flat_out[part], levels, where=flat_valid[part], casting="unsafe")
    return out


# --------------------------------------------------------------------------------------------------------------
# compress_map: levels by rank position


@dataclass(frozen=True)
class _RankLayout:
    """Per-band tables of the ranked formula, over positions counted from the nearest distinct depth."""

    count: int
    invert: bool
    begin: int  # nearer positions (at or before the near cutoff) share this one
    last: int  # farther positions (at or beyond the far cutoff) share this one
    starts: np.ndarray  # each band's first position
    end: np.ndarray  # each band's last position (one more for a band of a single depth, which is then white)
    span: np.ndarray  # last - first position, at least 1
    width: np.ndarray  # high - low
    offset: np.ndarray  # low + 0.5
    levels: BandLevels


def _rank_layout(values: np.ndarray, plan: BandPlan, window: DepthWindow, levels: BandLevels) -> _RankLayout:
    """The ranked formula's tables for the sorted distinct depths ``values``, clamped to the window as
    ``map_ranked`` clamps them."""
    count = len(values)

    def at_or_after(depth: float | tuple[float, ...], side: str) -> np.ndarray:
        """How many values lie before ``depth`` (``left``) or at or before it (``right``), compared exactly."""
        keys = np.atleast_1d(np.asarray(depth, np.float64))
        if values.dtype == np.float32:  # compare with float32 keys: the same answer without a float64 copy
            keys = np.array([float32_edge(key, side == "left") for key in keys], np.float32)
        return np.searchsorted(values, keys, side)

    if not window.invert:
        first = int(at_or_after(window.near, "right")[0])
        last = int(at_or_after(window.far, "left")[0])
        starts = at_or_after(plan.splits, "left")
    else:
        first = count - int(at_or_after(window.near, "left")[0])
        last = count - int(at_or_after(window.far, "right")[0])
        starts = count - at_or_after(plan.splits, "right")
    begin, last = max(first - 1, 0), max(min(last, count - 1), 0)
    starts = np.clip(np.concatenate(([begin], np.asarray(starts, np.int64))), begin, last + 1)
    ends = np.concatenate((starts[1:] - 1, [last]))  # each band's last position, inclusive
    for i, band in enumerate(plan.bands):
        if band.levels == 0 and ends[i] >= starts[i] and count:
            held = _count(int(ends[i] - starts[i] + 1), "distinct depth")
            raise ValueError(f"{plan.name(i)} holds {held} but has 0 levels: give it at least 1")
    single = ends == starts
    low, high = levels.low.astype(np.float64), levels.high.astype(np.float64)
    return _RankLayout(count, window.invert, begin, last, starts, (ends + single).astype(np.float64),
                       np.maximum(ends - starts, 1).astype(np.float64), high - low, low + 0.5, levels)  # fmt: skip


def _ranked_levels(position: np.ndarray, layout: _RankLayout) -> np.ndarray:
    """The exact ranked formula for int64 positions (0 = the nearest distinct depth), as int64 levels."""
    position = np.clip(position, layout.begin, layout.last)
    if len(layout.starts) <= 8:  # a few comparisons beat a binary search per pixel
        band = np.zeros(len(position), np.intp)
        for start in layout.starts[1:]:
            band += position >= start
    else:
        band = np.searchsorted(layout.starts[1:], position, "right")
    t = layout.end[band] - position
    t /= layout.span[band]
    t *= layout.width[band]
    t += layout.offset[band]
    return np.floor(t, out=t).astype(np.int64)


def _map_ranked(ranks: DepthRanks, valid: np.ndarray, layout: _RankLayout, out: np.ndarray) -> None:
    """``compress_map`` into ``out``: a table of the level of every distinct depth, looked up per pixel."""
    if layout.count == 0:
        return
    table = _rank_table(layout, out.dtype)
    flat_index, flat_valid, flat_out = ranks.index.ravel(), valid.ravel().view(np.uint8), out.reshape(-1)
    for part in pixel_slices(out.size):
        np.take(table, flat_index[part], out=flat_out[part], mode="clip")
        np.multiply(flat_out[part], flat_valid[part], out=flat_out[part])  # background: 0


def _rank_table(layout: _RankLayout, dtype: np.dtype) -> np.ndarray:
    """The level of every distinct depth, in ``values`` order: runs between the exact positions where the level
    steps down (found with :func:`_ranked_levels`), so it costs little more than writing the table."""

    def level_at(position: np.ndarray) -> np.ndarray:
        return _ranked_levels(np.asarray(position, np.int64), layout)

    base, end = (int(v) for v in level_at(np.array([0, layout.count - 1])))
    k = np.arange(1, layout.levels.top + 1)
    k = k[(k <= base) & (k > end)]
    band = _band_of_level(layout.levels)[k]
    at_split = k == layout.levels.low[band]  # the level steps to the next band's at its first position
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.floor(layout.end[band] - (k - layout.offset[band]) / layout.width[band] * layout.span[band]) + 1
    following = layout.starts[np.minimum(band + 1, len(layout.starts) - 1)]
    estimate = np.where(at_split, following, np.nan_to_num(inside)).astype(np.int64)
    steps = _find_steps(k, estimate, level_at, 0, layout.count - 1, falling=True)
    changes, drops = np.unique(steps, return_counts=True)
    levels = base - np.concatenate(([0], np.cumsum(drops)))
    lengths = np.diff(np.concatenate(([0], changes, [layout.count])))
    if layout.invert:  # values ascend from the farthest
        levels, lengths = levels[::-1], lengths[::-1]
    return np.repeat(levels.astype(dtype), lengths)


# --------------------------------------------------------------------------------------------------------------
# The pattern table: the exact map for float32 depth as two lookups per pixel


@dataclass(frozen=True)
class _PatternTable:
    """Levels by float32 bit pattern, in cells of ``2**shift`` patterns from ``origin``, each holding at most one
    change of level by one (the smallest distance between changes sets ``shift``).

    A pixel whose pattern is ``origin + c * 2**shift + r`` has level ``(table[c] - r) >> shift`` (level falling as
    the pattern grows) or ``(table[c] + r) >> shift`` (rising, inverted input): ``table[c]`` is the level at the
    cell's start times ``2**shift``, plus where inside the cell the level changes, so the integer division lands
    on the right level on either side of the change. The first and last cells hold no change: patterns before
    and after the table clip to them.
    """

    origin: int
    shift: int
    falling: bool
    table: np.ndarray  # int32, one per cell

    def apply(self, depth: np.ndarray, valid: np.ndarray, out: np.ndarray) -> None:
        """Map float32 ``depth`` into ``out`` where ``valid``."""
        codes = np.ascontiguousarray(depth).reshape(-1).view(np.int32)
        flat_valid, flat_out = valid.ravel().view(np.uint8), out.reshape(-1)
        size = min(len(codes), CHUNK_PIXELS)
        offset, cell, level = (np.empty(size, np.int32) for _ in range(3))
        origin, mask = np.int32(self.origin), np.int32((1 << self.shift) - 1)
        combine = np.subtract if self.falling else np.add
        for part in pixel_slices(len(codes)):
            n = part.stop - part.start
            o, c, lv = offset[:n], cell[:n], level[:n]
            np.subtract(codes[part], origin, out=o)  # background patterns wrap anywhere: zeroed at the end
            np.right_shift(o, self.shift, out=c)
            np.bitwise_and(o, mask, out=o)
            np.take(self.table, c, out=lv, mode="clip")
            combine(lv, o, out=lv)
            np.right_shift(lv, self.shift, out=flat_out[part], casting="unsafe")
            np.multiply(flat_out[part], flat_valid[part], out=flat_out[part])  # background: 0


def _pattern_table(layout: _Layout, window: DepthWindow, pixels: int) -> _PatternTable | None:
    """Tabulate :func:`_linear_levels` over the float32 patterns of the window; ``None`` when that does not pay
    or cannot be done: more cells than the image has pixels, or levels packed so tightly that one float32 step
    skips a level (then the formula runs per pixel)."""
    low_depth, high_depth = sorted((window.near, window.far))
    first = max(int(float32_edge(low_depth, False).view(np.int32)), 1) if low_depth > 0 else 1
    last = min(int(float32_edge(high_depth, True).view(np.int32)), _MAX_PATTERN)
    if last <= first:
        return None

    def level_at(patterns: np.ndarray) -> np.ndarray:
        return _linear_levels(np.asarray(patterns, np.int32).view(np.float32).astype(np.float64), layout)

    base, end = (int(v) for v in level_at(np.array([first, last])))
    falling = not window.invert  # the level falls as the pattern (the depth) grows
    top = layout.levels.top
    k = np.arange(1, top + 1)
    k = k[(k <= base) & (k > end)] if falling else k[(k > base) & (k <= end)]
    changes, counts = np.unique(_level_steps(k, layout, level_at, first, last, falling), return_counts=True)
    if np.any(counts > 1):
        return None
    size = last - first
    gap = int(np.min(np.diff(changes))) if len(changes) > 1 else size + 1
    # 2**shift <= gap: a cell holds at most one change; level * 2**shift must fit in int32
    shift = min(gap.bit_length() - 1, 30 - top.bit_length())
    origin = first - (1 << shift)  # a first cell without change, for the patterns before the table
    cells = ((last - origin) >> shift) + 2  # and a last one for the patterns after it
    if origin < 0 or cells > max(_MIN_TABLE_CELLS, pixels):
        return None
    changes -= origin
    cell = changes >> shift
    inside = changes & ((1 << shift) - 1)
    step = -1 if falling else 1
    change = np.zeros(cells, np.int64)
    change[cell] = step
    level = base + np.cumsum(change)  # the level after each cell's change...
    level[cell[inside > 0]] -= step  # ...which is not there yet at the cell's start when it lies inside
    where = np.full(cells, 1 << shift, np.int64)  # no change: the whole cell keeps its level
    where[cell[inside > 0]] = inside[inside > 0]
    table = (level << shift) + (where - 1 if falling else (1 << shift) - where)
    return _PatternTable(origin, shift, falling, table.astype(np.int32))


def _band_of_level(levels: BandLevels) -> np.ndarray:
    """For each output level 0..top, the band that holds it."""
    counts = np.maximum(levels.high - levels.low + 1, 0)
    return np.repeat(np.arange(len(counts)), counts)[::-1]


def _level_steps(k: np.ndarray, layout: _Layout, level_at, first: int, last: int, falling: bool) -> np.ndarray:
    """The first float32 pattern at which the linear level is below ``k`` (``falling``) or at least ``k``."""
    if len(k) == 0:
        return np.zeros(0, np.int64)
    band = _band_of_level(layout.levels)[k]
    at_split = k == layout.levels.low[band]  # the level steps from this band to the next at the band's far edge
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = layout.end[band] - (k - layout.offset[band]) / layout.width[band] * layout.span[band]
    estimate = np.where(at_split, layout.end[band], inside).astype(np.float32).view(np.int32).astype(np.int64)
    return _find_steps(k, estimate, level_at, first, last, falling)


def _find_steps(k: np.ndarray, estimate: np.ndarray, level_at, first: int, last: int, falling: bool) -> np.ndarray:
    """The first code in ``first..last`` at which ``level_at`` is below ``k`` (``falling``) or at least ``k``
    (rising), for each ``k``: checked around ``estimate``, else found by bisection."""
    if len(k) == 0:
        return np.zeros(0, np.int64)
    candidates = np.clip(estimate[:, None] + np.arange(-1, 2), first, last)
    crossed = _crossed(level_at(candidates.ravel()).reshape(candidates.shape), k[:, None], falling)
    found = crossed[:, -1] & ~crossed[:, 0]
    steps = candidates[np.arange(len(k)), np.argmax(crossed, axis=1)]
    if not found.all():  # the estimate was off by more than one code: bisect between the ends
        lo = np.full(int(np.count_nonzero(~found)), first, np.int64)
        hi = np.full(len(lo), last, np.int64)
        wanted = k[~found]
        while np.any(hi - lo > 1):
            middle = (lo + hi) // 2
            over = _crossed(level_at(middle), wanted, falling)
            hi, lo = np.where(over, middle, hi), np.where(over, lo, middle)
        steps[~found] = hi
    return steps


def _crossed(levels: np.ndarray, k: np.ndarray, falling: bool) -> np.ndarray:
    return levels < k if falling else levels >= k
