"""One depth image and one set of options in, a depth map (and mask) out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bands.levels import map_bands
from ..bands.plan import BandPlan
from ..depth.histogram import Suggestion, suggest_cutoff
from ..depth.mapping import (
    DepthRanks,
    DepthStats,
    DepthWindow,
    depth_stats,
    depth_window,
    map_linear,
    map_ranked,
    paint_noise,
    rank_depths,
    subject_mask,
)
from ..exr import DepthImage
from ..params import DepthParams


@dataclass(frozen=True)
class DepthMap:
    """The result: ``depth`` (uint8 or uint16, near = white), ``mask`` (uint8 0/255) when asked for."""

    depth: np.ndarray
    mask: np.ndarray | None
    window: DepthWindow
    suggestion: Suggestion | None = None

    @property
    def warnings(self) -> list[str]:
        return window_warnings(self.window)


def window_warnings(window: DepthWindow) -> list[str]:
    """What a user should hear about a window before using its map: a far cutoff at or nearer than the nearest
    depth makes the whole map black (it is still written), whether it came with a near cutoff (a recipe's) or not."""
    if window.beyond_everything:
        return [
            f"the far cutoff {window.far:g} leaves no depth in front of it (the nearest is "
            f"{window.nearest_depth:g}): the whole map is black"
        ]
    return []


class NoDepthError(ValueError):
    """The image holds no valid depth at all (every pixel is background)."""


def no_depth_message(stats: DepthStats) -> str:
    """What to tell a user about an image without valid depth."""
    return f"no valid depth: all {stats.invalid_count} pixels are background (inf, NaN, <= 0 or >= 1e9)"


def far_cutoff(params: DepthParams, suggestion: Suggestion | None) -> float | None:
    """The numeric far cutoff the options ask for: ``histo`` keeps the full range, ``auto`` takes the suggestion."""
    if params.depth_cutoff == "auto":
        return suggestion.cutoff if suggestion is not None else None
    if params.depth_cutoff == "histo":
        return None
    return params.depth_cutoff  # type: ignore[return-value]


def map_depth(
    depth: np.ndarray,
    valid: np.ndarray,
    window: DepthWindow,
    params: DepthParams,
    ranks: DepthRanks | None = None,
    plan: BandPlan | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Map (with ``plan``'s bands when it has more than one), take the mask (defined in depth), then paint noise
    outside it, as the options say. ``ranks`` are needed for ``compress_map``."""
    if params.compress_map and ranks is None:
        raise ValueError("compress_map needs the depth ranks (rank_depths)")
    if plan is not None and len(plan.bands) > 1:
        mapped = map_bands(depth, valid, plan, window, params.bits, ranks if params.compress_map else None)
    elif params.compress_map:
        assert ranks is not None
        mapped = map_ranked(ranks, valid, window, params.levels)
    else:
        mapped = map_linear(depth, valid, window, params.levels)
    mask = subject_mask(depth, valid, window) if params.mask or params.noise else None
    if params.noise:
        assert mask is not None
        mapped = paint_noise(mapped, mask, params.levels, params.seed)
    return mapped, mask if params.mask else None


def window_of(
    image: DepthImage, params: DepthParams, stats: DepthStats | None = None
) -> tuple[DepthWindow, Suggestion | None]:
    """The window the options give this image (with the suggestion it used for ``auto``).

    Raises
    ------
    NoDepthError
        When no pixel holds valid depth.
    ValueError
        When the cutoffs contradict each other.
    """
    stats = stats or depth_stats(image.depth, image.valid)
    if stats.empty:
        raise NoDepthError(no_depth_message(stats))
    suggestion = suggest_cutoff(image.depth, stats, params.invert) if params.depth_cutoff == "auto" else None
    return depth_window(stats, far_cutoff(params, suggestion), params.near_cutoff, params.invert), suggestion


def render(
    image: DepthImage,
    params: DepthParams,
    stats: DepthStats | None = None,
    ranks: DepthRanks | None = None,
    plan: BandPlan | None = None,
    window: tuple[DepthWindow, Suggestion | None] | None = None,
) -> DepthMap:
    """Make the depth map of ``image`` at full resolution (with the bands of ``plan``, if any; ``window``: what
    :func:`window_of` gave for this image and ``params``, when the caller has it — ``auto`` searches the histogram).

    Raises
    ------
    NoDepthError
        When no pixel holds valid depth.
    ValueError
        When the cutoffs contradict each other, or the plan does not fit this image (a split outside its window, a
        band of 0 levels that holds pixels).
    """
    stats = stats or depth_stats(image.depth, image.valid)
    chosen, suggestion = window or window_of(image, params, stats)
    if params.compress_map and ranks is None:
        ranks = rank_depths(image.depth, image.valid)
    mapped, mask = map_depth(image.depth, image.valid, chosen, params, ranks, plan)
    return DepthMap(mapped, mask, chosen, suggestion)
