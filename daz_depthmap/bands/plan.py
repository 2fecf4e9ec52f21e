"""Band plans: the depth window cut into bands near to far, each band spread over its own grey levels.

A plan holds the split depths and, per band, a level count, a label ("face", "desk"), a test colour and a region
number. Band ``i`` holds the depths from its near edge (included) to its far edge (excluded): the near cutoff and
the splits, then the splits and the far cutoff; the last band includes the far cutoff, and what lies beyond it is
the far plane (black). Depths nearer than the near cutoff belong to the first band. The plan keeps only the split
depths, so its first and last bands follow the window (:class:`~daz_depthmap.depth.mapping.DepthWindow`) they are used
with; :meth:`BandPlan.ranges` resolves them.

Levels are counted in 8-bit terms: the bands of a plan share :data:`TOTAL_LEVELS` (256) levels, the nearest band
the brightest. :func:`allocate` fills the counts of the bands that are not locked: by depth span (what a plain
linear map gives them), by pixel share (levels where the pixels are) or equally, with largest-remainder rounding so
the total is exact. The mapping itself is in :mod:`daz_depthmap.bands.levels`, the ``--bands`` text form in
:mod:`daz_depthmap.bands.spec`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from itertools import pairwise

import numpy as np

from ..chunks import pixel_slices
from ..depth.histogram import suggest_splits
from ..depth.mapping import DepthStats, DepthWindow, float32_edge
from ..printable import shown_label
from .colours import RGB, palette_colour, parse_colour

#: The levels a plan shares out, counted in 8-bit terms (a 16-bit map gives each of them 256 levels).
TOTAL_LEVELS = 256
#: The most bands a plan may have.
MAX_BANDS = 256
#: Regional Prompter's highest region number (its region slider runs to 359).
MAX_REGION = 359
#: Test colour of the far plane and the background: dark grey, so the far plane shows as "no band".
FAR_COLOUR: RGB = (32, 32, 32)
#: Test colours are shaded by the map's level: ``colour * (SHADE_FLOOR + (1 - SHADE_FLOOR) * level / 255)``.
SHADE_FLOOR = 0.35


@dataclass(frozen=True)
class Band:
    """One band of a plan (its depths come from the plan's splits).

    Attributes
    ----------
    levels:
        How many of the 256 8-bit levels the band gets (0 only if it holds no pixel).
    label:
        What the band holds ("face", "mirror frame"): shown in messages and used for region prompts. One line.
    colour:
        Test colour: a CSS colour name or ``#rrggbb``; empty for the default palette.
    region:
        Regional Prompter region number (0..359) for the region map, or ``None`` for no region.
    locked:
        :func:`allocate` keeps this band's levels as they are.
    """

    levels: int = 0
    label: str = ""
    colour: str = ""
    region: int | None = None
    locked: bool = False

    def __post_init__(self) -> None:
        if not _is_whole(self.levels) or not 0 <= self.levels <= TOTAL_LEVELS:
            raise ValueError(f"levels must be a whole number 0..{TOTAL_LEVELS}, not {self.levels!r}")
        object.__setattr__(self, "levels", int(self.levels))
        if not isinstance(self.label, str) or any(c in self.label for c in "\r\n"):
            raise ValueError(f"a band label must be one line of text, not {self.label!r}")
        object.__setattr__(self, "label", self.label.strip())
        if self.colour:
            parse_colour(self.colour)
        if self.region is not None:
            if not _is_whole(self.region) or not 0 <= self.region <= MAX_REGION:
                raise ValueError(f"a region number must be a whole number 0..{MAX_REGION}, not {self.region!r}")
            object.__setattr__(self, "region", int(self.region))


def _is_whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class BandPlan:
    """Split depths (near to far) and one :class:`Band` more than there are splits.

    The default plan is one band of all 256 levels: the plain linear map. Plans are immutable; the ``with_``
    methods return changed copies.
    """

    splits: tuple[float, ...] = ()
    bands: tuple[Band, ...] = (Band(TOTAL_LEVELS),)

    def __post_init__(self) -> None:
        splits = tuple(float(s) for s in self.splits)
        bands = tuple(self.bands)
        object.__setattr__(self, "splits", splits)
        object.__setattr__(self, "bands", bands)
        if len(bands) != len(splits) + 1:
            raise ValueError(f"a plan with {len(splits)} splits needs {len(splits) + 1} bands, not {len(bands)}")
        if len(bands) > MAX_BANDS:
            raise ValueError(f"a plan can have at most {MAX_BANDS} bands, not {len(bands)}")
        for i, split in enumerate(splits):
            if not math.isfinite(split):
                raise ValueError(f"split {i + 1} must be a finite depth, not {split}")
        steps = np.diff(splits)
        if len(steps) and not (np.all(steps > 0) or np.all(steps < 0)):
            raise ValueError(
                "the splits must run from near to far without repeats or turning back: "
                + ", ".join(f"{s:g}" for s in splits)
            )

    @property
    def total_levels(self) -> int:
        """The levels given out so far (a usable plan gives out exactly :data:`TOTAL_LEVELS`)."""
        return sum(band.levels for band in self.bands)

    def name(self, i: int) -> str:
        """How messages name band ``i``: ``band 2 (desk)``, counted from 1 at the near end (the label as a one-line
        message shows it: escapes written out, a long one cut)."""
        label = self.bands[i].label
        return f"band {i + 1} ({shown_label(label)})" if label else f"band {i + 1}"

    def ranges(self, window: DepthWindow) -> tuple[tuple[float, float], ...]:
        """``(start, end)`` of every band in ``window``: start included, end excluded (but for the last band).

        Raises
        ------
        ValueError
            If the splits do not lie strictly between the window's near end and far cutoff, in order.
        """
        check_window(self, window)
        edges = (window.near, *self.splits, window.far)
        return tuple(pairwise(edges))

    def with_band(self, i: int, **changes: object) -> BandPlan:
        """A copy with band ``i`` changed (``levels=90``, ``label="face"``, ...)."""
        bands = list(self.bands)
        bands[i] = replace(bands[i], **changes)  # type: ignore[arg-type]
        return BandPlan(self.splits, tuple(bands))

    def with_split(self, depth: float, window: DepthWindow) -> BandPlan:
        """A copy split at ``depth``: the band holding it keeps its near part, the far part is a new empty band.

        The new band starts with 0 levels, unlocked, as in the original tool's ``add``.
        """
        if not _between(depth, window.near, window.far, window.invert):
            raise ValueError(
                f"a split at {depth:g} must lie between the near end {window.near:g} and the far cutoff "
                f"{window.far:g}"
            )
        at = sum(1 for s in self.splits if (s < depth if not window.invert else s > depth))
        if at < len(self.splits) and self.splits[at] == depth:
            raise ValueError(f"there is already a split at {depth:g}")
        splits = (*self.splits[:at], float(depth), *self.splits[at:])
        return BandPlan(splits, (*self.bands[: at + 1], Band(), *self.bands[at + 1 :]))

    def without_split(self, i: int) -> BandPlan:
        """A copy with split ``i`` (0-based) removed: its two bands merge, keeping the nearer one's label, colour
        and region, with the levels of both."""
        if not 0 <= i < len(self.splits):
            raise ValueError(f"there is no split {i + 1}: the plan has {len(self.splits)}")
        near, far = self.bands[i], self.bands[i + 1]
        merged = replace(near, levels=near.levels + far.levels, locked=near.locked and far.locked)
        return BandPlan(self.splits[:i] + self.splits[i + 1 :], (*self.bands[:i], merged, *self.bands[i + 2 :]))

    def with_split_moved(self, i: int, depth: float, window: DepthWindow) -> BandPlan:
        """A copy with split ``i`` (0-based) moved to ``depth``; refused when it would pass a neighbouring split or
        leave the window (to remove a band, use :meth:`without_split`)."""
        if not 0 <= i < len(self.splits):
            raise ValueError(f"there is no split {i + 1}: the plan has {len(self.splits)}")
        edges = (window.near, *self.splits, window.far)
        if not _between(depth, edges[i], edges[i + 2], window.invert):
            raise ValueError(
                f"split {i + 1} can move between {edges[i]:g} and {edges[i + 2]:g} (not onto them), not to "
                f"{depth:g}: are you trying to remove a band?"
            )
        return BandPlan((*self.splits[:i], float(depth), *self.splits[i + 1 :]), self.bands)


def _between(value: float, near: float, far: float, invert: bool) -> bool:
    return (near < value < far) if not invert else (far < value < near)


def check_window(plan: BandPlan, window: DepthWindow) -> None:
    """Check that the plan's splits lie strictly between ``window``'s near end and far cutoff, near to far.

    Raises
    ------
    ValueError
        Naming the first split that does not, and the window.
    """
    relation = "farther" if not window.invert else "farther (smaller, since inverted)"
    before = window.near
    for i, split in enumerate(plan.splits):
        if not _between(split, before, window.far, window.invert):
            if not _between(split, window.near, window.far, window.invert):
                raise ValueError(
                    f"split {i + 1} at {split:g} lies outside the window from the near end {window.near:g} to the "
                    f"far cutoff {window.far:g}: move the cutoffs or the split"
                )
            raise ValueError(f"split {i + 1} at {split:g} must be {relation} than {before:g} before it")
        before = split


@dataclass(frozen=True)
class FittedPlan:
    """The part of a plan that lies in a window: ``plan`` holds bands ``first .. first + len(plan.bands) - 1`` of
    the plan it came from; ``outside`` are the splits (0-based) that lie outside the window, ignored."""

    plan: BandPlan
    first: int
    outside: tuple[int, ...]


def fit_plan(plan: BandPlan, window: DepthWindow) -> FittedPlan:
    """The bands of ``plan`` that lie in ``window``: splits at or beyond either cutoff are left out with the bands
    wholly beyond them (an interactive plan keeps them for when the cutoffs move back).

    The levels of the bands left out are freed; the kept bands keep theirs, locks included.
    """
    edge = (lambda s: s <= window.near) if not window.invert else (lambda s: s >= window.near)
    first = sum(1 for s in plan.splits if edge(s))
    kept = [i for i, s in enumerate(plan.splits) if _between(s, window.near, window.far, window.invert)]
    outside = tuple(i for i in range(len(plan.splits)) if i not in kept)  # the splits run in order: kept = first..
    bands = plan.bands[first : first + len(kept) + 1]
    return FittedPlan(BandPlan(tuple(plan.splits[i] for i in kept), bands), first, outside)


def split_plan(splits: Sequence[float]) -> BandPlan:
    """A plan with these splits (near to far) and empty, unlocked bands, for :func:`allocate` to fill."""
    return BandPlan(tuple(splits), tuple(Band() for _ in range(len(splits) + 1)))


# --------------------------------------------------------------------------------------------------------------
# Allocating levels


class Allocation(str, Enum):
    """How :func:`allocate` shares the levels among the bands that are not locked."""

    #: In proportion to each band's depth span: a plan allocated so gives about today's linear map.
    DEPTH = "depth"
    #: In proportion to each band's pixel count: levels go where the pixels are.
    PIXELS = "pixels"
    #: The same number for every band.
    EQUAL = "equal"


def level_problem(plan: BandPlan, counts: Sequence[int] | np.ndarray | None = None) -> str | None:
    """What keeps ``plan`` from being used, in words, or ``None`` when its levels are in order.

    The levels must add up to exactly 256 ("levels add up to 244 of 256: 12 left to give"), and with ``counts``
    (pixels per band, :func:`band_counts`) a band that holds pixels must have at least one level.
    """
    total = plan.total_levels
    if total < TOTAL_LEVELS:
        return f"levels add up to {total} of {TOTAL_LEVELS}: {TOTAL_LEVELS - total} left to give"
    if total > TOTAL_LEVELS:
        return f"levels add up to {total} of {TOTAL_LEVELS}: {total - TOTAL_LEVELS} too many"
    if counts is not None:
        for i, (band, count) in enumerate(zip(plan.bands, counts, strict=True)):
            if band.levels == 0 and count > 0:
                return f"{plan.name(i)} holds {_count(int(count), 'pixel')} but has 0 levels: give it at least 1"
    return None


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"


def check_levels(plan: BandPlan, counts: Sequence[int] | np.ndarray | None = None) -> None:
    """Raise ``ValueError`` with :func:`level_problem`'s message if there is one."""
    problem = level_problem(plan, counts)
    if problem is not None:
        raise ValueError(problem)


def allocate(
    plan: BandPlan,
    mode: Allocation | str,
    window: DepthWindow,
    counts: Sequence[int] | np.ndarray | None = None,
) -> BandPlan:
    """Fill the levels of the bands that are not locked; locked bands keep theirs.

    The levels left over by the locked bands are shared among the others by ``mode``, rounded by largest
    remainder so they add up to exactly 256. With ``counts`` (pixels per band in the image, needed for
    :attr:`Allocation.PIXELS`) every band that holds pixels gets at least one level and empty bands may get
    none; without them a narrow band may round to 0 levels. By depth span, band ``i`` of a plan without locks
    gets about ``255 * span_i / window_span`` levels plus half a level at each end of the window: what the plain
    linear map gives the same depths.

    Raises
    ------
    ValueError
        If the locked bands leave too few levels (or too many, when every band is locked), or the mode needs
        counts that were not given.
    """
    mode = Allocation(mode)
    check_window(plan, window)
    bands = plan.bands
    if counts is not None and len(counts) != len(bands):
        raise ValueError(f"counts has {len(counts)} entries for {len(bands)} bands")
    free = [i for i, band in enumerate(bands) if not band.locked]
    locked_total = sum(band.levels for band in bands if band.locked)
    left = TOTAL_LEVELS - locked_total
    if left < 0:
        raise ValueError(f"the locked bands take {locked_total} of {TOTAL_LEVELS} levels: {-left} too many")
    if not free:
        check_levels(plan, counts)
        return plan
    if counts is not None:
        for i, band in enumerate(bands):
            if band.locked and band.levels == 0 and counts[i] > 0:
                raise ValueError(f"{plan.name(i)} is locked at 0 levels but holds {_count(int(counts[i]), 'pixel')}")
    minimum = np.array([1 if counts is not None and counts[i] > 0 else 0 for i in free])
    if minimum.sum() > left:
        raise ValueError(
            f"{int(minimum.sum())} unlocked bands hold pixels but the locked bands leave only {left} levels"
        )
    spans = _span_weights(plan, window)[free]
    if mode is Allocation.PIXELS:
        if counts is None:
            raise ValueError("allocating by pixel share needs the pixel count of every band (band_counts)")
        weights = np.array([float(counts[i]) for i in free])
        if weights.sum() == 0:  # no pixels in any unlocked band: nothing to follow, fall back to depth
            weights = spans
    elif mode is Allocation.EQUAL:
        weights = np.ones(len(free))
    else:
        weights = spans
    levels = apportion(weights, left, minimum)
    new = list(bands)
    for i, n in zip(free, levels, strict=True):
        new[i] = replace(bands[i], levels=int(n))
    return BandPlan(plan.splits, tuple(new))


def _span_weights(plan: BandPlan, window: DepthWindow) -> np.ndarray:
    """What the linear map gives each band, in 8-bit levels: 255 * span share, plus half a level per window end
    (the white and black levels are half as wide as the others)."""
    edges = np.array([window.near, *plan.splits, window.far], np.float64)
    spans = np.abs(np.diff(edges))
    total = spans.sum()
    weights = (TOTAL_LEVELS - 1) * spans / total if total > 0 else np.zeros(len(spans))
    weights[0] += 0.5
    weights[-1] += 0.5
    return weights


def apportion(
    weights: np.ndarray | Sequence[float], total: int, minimum: np.ndarray | Sequence[int] = ()
) -> np.ndarray:
    """Whole numbers in proportion to ``weights`` that add up to ``total`` (largest-remainder rounding).

    Each share is its quota rounded down, the rest going one by one to the largest remainders (ties to the
    nearer band). ``minimum`` (per share) is honoured first; what it costs is taken back from the shares that
    are most above their quota. All-zero weights share equally.
    """
    weights = np.asarray(weights, np.float64)
    floor = np.zeros(len(weights), np.int64) if len(minimum) == 0 else np.asarray(minimum, np.int64)
    if len(weights) == 0:
        if total:
            raise ValueError(f"{total} levels to share but no band to take them")
        return np.zeros(0, np.int64)
    if floor.sum() > total:
        raise ValueError(f"the minimum shares add up to {int(floor.sum())}, more than the {total} to share")
    if weights.sum() <= 0:
        weights = np.ones(len(weights))
    quota = weights / weights.sum() * total
    shares = np.maximum(np.floor(quota).astype(np.int64), floor)
    while shares.sum() < total:  # runs once: rounding down leaves fewer levels missing than there are bands
        order = np.argsort(-np.round(quota - shares, 9), kind="stable")  # rounded: float noise breaks no tie
        shares[order[: total - shares.sum()]] += 1
    while shares.sum() > total:  # the minimums took too much: take it back from the most over-served
        spare = np.flatnonzero(shares > floor)
        order = spare[np.argsort(np.round(quota[spare] - shares[spare], 9), kind="stable")]
        shares[order[: shares.sum() - total]] -= 1
    return shares


# --------------------------------------------------------------------------------------------------------------
# Which band each pixel is in


def band_index(depth: np.ndarray, valid: np.ndarray, plan: BandPlan, window: DepthWindow) -> np.ndarray:
    """Per pixel, the band it is in (0 = nearest), as int16; -1 for the far plane (beyond the far cutoff) and
    background pixels. Pixels nearer than the near end are in band 0.

    Raises
    ------
    ValueError
        If the splits do not fit the window (:func:`check_window`).
    """
    out = np.full(depth.shape, -1, np.int16)
    if window.beyond_everything:
        return out
    check_window(plan, window)
    exact = depth.dtype == np.float32  # compare float32 with float32 thresholds: same result, half the work
    up = not window.invert
    splits = [float32_edge(s, up) if exact else s for s in plan.splits]
    far = float32_edge(window.far, not up) if exact else window.far
    flat_depth, flat_valid, flat_out = depth.ravel(), valid.ravel(), out.reshape(-1)
    compare, beyond = (np.greater_equal, np.greater) if up else (np.less_equal, np.less)
    with np.errstate(invalid="ignore"):
        for part in pixel_slices(out.size):
            values = flat_depth[part]
            count = np.zeros(len(values), np.int16)
            for split in splits:
                count += compare(values, split)
            inside = flat_valid[part] & ~beyond(values, far)
            np.copyto(flat_out[part], count, where=inside)
    return out


def band_counts(index: np.ndarray, bands: int) -> np.ndarray:
    """Pixels per band (int64, length ``bands``) of a :func:`band_index` image; -1 pixels are not counted."""
    counts = np.zeros(bands + 1, np.int64)
    flat = index.ravel()
    for part in pixel_slices(flat.size):
        counts += np.bincount(flat[part] + 1, minlength=bands + 1)[: bands + 1]
    return counts[1:]


# --------------------------------------------------------------------------------------------------------------
# Suggested plans, regions from bands, test colours


def suggested_plan(
    depth: np.ndarray,
    valid: np.ndarray,
    stats: DepthStats,
    window: DepthWindow,
    mode: Allocation | str = Allocation.PIXELS,
) -> BandPlan:
    """A plan in one click: split at the middle of each near-empty gap (:func:`~daz_depthmap.depth.histogram.
    suggest_splits`), levels by ``mode``, and every band that holds pixels a region (:func:`number_regions`)."""
    plan = split_plan(suggest_splits(depth, stats, window))
    counts = band_counts(band_index(depth, valid, plan, window), len(plan.bands))
    return number_regions(allocate(plan, mode, window, counts), counts)


def filled_plan(
    plan: BandPlan,
    depth: np.ndarray,
    valid: np.ndarray,
    window: DepthWindow,
    mode: Allocation | str | None = Allocation.PIXELS,
) -> BandPlan:
    """``plan`` ready for an image: the levels of its unlocked bands allocated by ``mode`` over this image's
    pixels. A plan whose levels are all locked, or any plan with ``mode`` None (a recipe's: its levels as saved),
    is only checked.

    Raises
    ------
    ValueError
        If the splits do not fit the window, or the levels cannot be given out (the message says why).
    """
    check_window(plan, window)
    counts = band_counts(band_index(depth, valid, plan, window), len(plan.bands))
    if mode is None or all(band.locked for band in plan.bands):
        check_levels(plan, counts)
        return plan
    return allocate(plan, mode, window, counts)


def plan_for_image(
    bands: BandPlan | str | None,
    depth: np.ndarray,
    valid: np.ndarray,
    stats: DepthStats,
    window: DepthWindow,
    mode: Allocation | str | None = Allocation.PIXELS,
) -> BandPlan | None:
    """The plan an image is mapped with: ``bands`` given (levels allocated by ``mode`` over its pixels; ``mode``
    None keeps a recipe's levels), the suggested one for ``"auto"``, or ``None`` (one band) for ``None``."""
    if bands is None:
        return None
    if isinstance(bands, str):
        if bands != "auto":
            raise ValueError(f"expected a band plan or 'auto', got {bands!r}")
        return suggested_plan(depth, valid, stats, window, mode or Allocation.PIXELS)
    return filled_plan(bands, depth, valid, window, mode)


def number_regions(plan: BandPlan, counts: Sequence[int] | np.ndarray) -> BandPlan:
    """A copy in which every band that holds pixels is a region, numbered 0, 1, 2, ... from near to far, and the
    empty bands are no region (for plans whose bands were given no region numbers)."""
    bands, number = [], 0
    for band, count in zip(plan.bands, counts, strict=True):
        bands.append(replace(band, region=number if count > 0 else None))
        number += 1 if count > 0 else 0
    return BandPlan(plan.splits, tuple(bands))


def band_colours(plan: BandPlan) -> np.ndarray:
    """The test colour of every band, ``(bands, 3)`` uint8 RGB: its own, or the default palette's."""
    return np.array([parse_colour(b.colour or palette_colour(i)) for i, b in enumerate(plan.bands)], np.uint8)


def paint_bands(mapped: np.ndarray, index: np.ndarray, plan: BandPlan, far_colour: RGB = FAR_COLOUR) -> np.ndarray:
    """An RGB image (``(height, width, 3)`` uint8) painting each band in its test colour over the depth map.

    Each band pixel is its colour shaded by the map's level (``SHADE_FLOOR`` at black up to full at white; the
    top 8 bits of a 16-bit map), so shapes stay readable; the far plane and background are ``far_colour``.
    ``index`` is the :func:`band_index` image of the same pixels.
    """
    if mapped.shape != index.shape:
        raise ValueError(f"the map {mapped.shape} and the band index {index.shape} must have the same size")
    shade = SHADE_FLOOR + (1 - SHADE_FLOOR) * np.arange(256) / 255
    # one row of 256 shades per band, row 0 for the far plane: a single lookup per pixel
    table = np.empty((len(plan.bands) + 1, 256, 3), np.uint8)
    table[0] = far_colour
    table[1:] = np.floor(band_colours(plan)[:, None, :] * shade[None, :, None] + 0.5)
    table = table.reshape(-1, 3)
    out = np.empty((*mapped.shape, 3), np.uint8)
    flat_map, flat_index, flat_out = mapped.ravel(), index.ravel(), out.reshape(-1, 3)
    top = 8 if mapped.dtype == np.uint16 else 0
    for part in pixel_slices(flat_map.size):
        row = flat_index[part].astype(np.intp) + 1
        row <<= 8
        row += flat_map[part] >> top if top else flat_map[part]
        np.take(table, row, axis=0, out=flat_out[part])
    return out
