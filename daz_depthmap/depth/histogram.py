"""Depth histograms and the suggested cutoff.

The original tool printed a 20-bucket histogram and asked the user to spot "the sharp dropoff" between the
subject and the backdrop. :func:`suggest_cutoff` does that spotting: it looks for the empty or near-empty stretch
of depth behind the subject and suggests the subject's far edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mapping import DepthStats, DepthWindow

ADVICE_HEADER = "** providing cutting histogram advice, but leaving depthmap unchanged"


@dataclass(frozen=True)
class Histogram:
    """Pixel counts of the valid depths in ``len(counts)`` equal bins; ``edges`` has one more entry."""

    counts: np.ndarray
    edges: np.ndarray

    @property
    def total(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class Suggestion:
    """A suggested far cutoff, or ``None`` with the reason why there is none.

    ``gap`` is the near-empty depth stretch found behind the subject, ``backdrop`` the far mode behind it
    (``None`` when the gap runs out to the farthest depth, as with Blender's invalid 1e10 background).
    """

    cutoff: float | None
    reason: str
    gap: tuple[float, float] | None = None
    backdrop: tuple[float, float] | None = None


def depth_histogram(depth: np.ndarray, stats: DepthStats, bins: int = 256, upper: float | None = None) -> Histogram:
    """Histogram of the valid depths over ``[nearest, upper or farthest]``.

    Background values never fall inside that range (they are <= 0, >= 1e9 or not finite), so no mask is needed.
    """
    if stats.empty:
        return Histogram(np.zeros(bins, np.int64), np.zeros(bins + 1))
    lo, hi = stats.nearest, stats.farthest if upper is None else upper
    if hi <= lo:  # a flat image: one bin holds everything
        hi = lo + max(abs(lo) * 1e-6, 1e-12)
    counts, edges = np.histogram(depth, bins=bins, range=(lo, hi))
    return Histogram(counts, edges)


def advice_lines(depth: np.ndarray, stats: DepthStats, buckets: int = 20) -> list[str]:
    """The original tool's 20-bucket advice: ``** - 07 - 0.82% - 269.3339698791504`` (index, share, lower edge)."""
    if stats.empty:
        return [ADVICE_HEADER, "** no valid depth in this image"]
    hist = depth_histogram(depth, stats, buckets)
    share = hist.counts / max(stats.valid_count, 1) * 100.0
    step = (stats.farthest - stats.nearest) / buckets
    lines = [ADVICE_HEADER]
    for i in range(buckets):
        lines.append(f"** - {i:02d} - {share[i]:.2f}% - {stats.nearest + i * step}")
    return lines


# --------------------------------------------------------------------------------------------------------------
# Suggested cutoff

#: A bin is near-empty when it holds less than this share of an average occupied bin.
_SPARSE = 0.2
#: A gap must span at least this share of the depth range being examined...
_MIN_GAP = 0.04
#: ...and what lies beyond a gap that runs out to the end must be this small a share of the pixels (a tail).
_MAX_TAIL = 0.10
#: A run of near-empty bins holding more than this share of the pixels may hide a subject: a backdrop spike
#: inflates the average bin, so a second figure's bins can look near-empty beside it. Such a run is examined again
#: on its own (against its own average bin); only when nothing stands out inside it is it a gap as a whole.
_GAP_SHARE = 0.01
_BINS = 256
#: The subject's edge is where the density falls to this many times the gap's.
_EDGE_OVER_GAP = 2
_MAX_SAMPLES = 4_000_000


@dataclass(frozen=True)
class _Gap:
    start: int  # first near-empty bin
    stop: int  # one past the last near-empty bin


def _find_gaps(counts: np.ndarray) -> list[_Gap]:
    """Every wide run of near-empty bins that has depth in front of it and a backdrop or a thin tail behind it.

    Near to far. A bin is near-empty when it holds under :data:`_SPARSE` of an average occupied bin; a run counts
    when it is at least :data:`_MIN_GAP` of the bins wide, does not start at the first bin, and either ends before
    the last bin or leaves at most :data:`_MAX_TAIL` of the pixels in the run that reaches the end. A run that does
    not reach the end and holds more than :data:`_GAP_SHARE` of the pixels is looked into first (:func:`_gaps_in`,
    against the average bin of that stretch): the gaps inside it, around the subjects it hid, take its place, so
    every cluster with a real share of the pixels stays between gaps. (A run can hide subjects because one backdrop
    bin holding most pixels inflates the average; when every subject's bins look sparse beside it, the run even
    starts at the first bin.)
    """
    total = int(counts.sum())
    min_width = max(2, int(np.ceil(_MIN_GAP * len(counts))))
    return _gaps_in(counts, 0, len(counts), total, min_width) if total else []


def _gaps_in(counts: np.ndarray, lo: int, hi: int, total: int, min_width: int) -> list[_Gap]:
    """The gaps among ``counts[lo:hi]``, near-empty judged against the average occupied bin of that stretch."""
    part = counts[lo:hi]
    occupied = np.count_nonzero(part)
    if occupied < 2:
        return []
    sparse = part < _SPARSE * part.sum() / occupied
    # runs of sparse bins: starts and stops
    edges = np.diff(np.concatenate(([0], sparse.view(np.int8), [0])))
    starts, stops = lo + np.flatnonzero(edges == 1), lo + np.flatnonzero(edges == -1)
    gaps = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        tail = stop == len(counts)
        if tail and counts[start:].sum() > _MAX_TAIL * total:
            continue
        if not tail and counts[start:stop].sum() > _GAP_SHARE * total:  # a tail is not looked into
            inside = _gaps_in(counts, start, stop, total, min_width)
            if inside:
                gaps.extend(inside)
                continue
        if start == 0 or stop - start < min_width:
            continue  # no subject in front, or too narrow to be a gap
        gaps.append(_Gap(start, stop))
    return gaps


def suggest_cutoff(depth: np.ndarray, stats: DepthStats, invert: bool = False) -> Suggestion:
    """Suggest the far cutoff: the far edge of the subject, in front of the gap before the backdrop.

    With ``invert`` (input that grows toward the camera, e.g. disparity) the same search runs on the mirrored
    depth, so the suggestion is the subject's far edge on the small-value side.

    The valid depths are binned; bins holding under a fifth of an average occupied bin are near-empty. The
    farthest run of near-empty bins at least 4 % of the range wide, with subject in front of it and either a backdrop
    behind it or only a thin tail (< 10 % of the pixels, e.g. a floor fading away in front of Blender's invalid
    background), is the gap. A run that still holds over 1 % of the pixels is looked into against its own average
    bin, because a backdrop spike makes a second figure's bins look near-empty: the gap is then the one behind the
    last figure, and every subject with a real share of the pixels stays in front of the cutoff. The histogram is
    then redone over the subject's range alone to place the edge finely.
    When no such gap exists, the depth is spread continuously (no backdrop): no cutoff is suggested and the full
    range is kept.
    """
    if stats.empty:
        return Suggestion(None, "no valid depth in this image")
    if stats.farthest <= stats.nearest:
        return Suggestion(None, "the image is flat: all valid pixels lie at one depth")
    if not invert:
        found = _suggest(depth, stats)
        near, far = stats.nearest, stats.farthest
    else:  # mirrored: the background stays outside the range (it becomes >= 0, <= -1e9 or not finite)
        mirrored = _suggest(np.negative(depth), DepthStats(-stats.farthest, -stats.nearest, stats.valid_count, 0))
        flip = lambda pair: None if pair is None else (-pair[0], -pair[1])  # noqa: E731
        found = None if mirrored is None else _described(-mirrored.cutoff, flip(mirrored.gap), flip(mirrored.backdrop))
        near, far = stats.farthest, stats.nearest
    if found is None:
        return Suggestion(
            None,
            f"no empty depth range behind the subject: depth runs continuously from {near:g} to {far:g}; "
            "keeping the full range",
        )
    return found


def _described(cutoff: float, gap: tuple[float, float] | None, backdrop: tuple[float, float] | None) -> Suggestion:
    where = "in front of the backdrop" if backdrop else "behind which only a thin tail of depth remains"
    gap_text = f"; near-empty gap {gap[0]:g} to {gap[1]:g} {where}" if gap else ""
    return Suggestion(cutoff, f"subject ends at {cutoff:g}{gap_text}", gap, backdrop)


def _suggest(depth: np.ndarray, stats: DepthStats) -> Suggestion | None:
    """:func:`suggest_cutoff` for depth that grows away from the camera, on a non-flat, non-empty image; ``None``
    when there is no gap."""
    sample = _sample(depth)
    hist = depth_histogram(sample, stats, _BINS)
    gaps = _find_gaps(hist.counts)
    if not gaps:
        return None
    gap = gaps[-1]  # the farthest: in front of the backdrop
    gap_from, gap_to = float(hist.edges[gap.start]), float(hist.edges[gap.stop])
    backdrop = None if gap.stop == len(hist.counts) else (gap_to, stats.farthest)
    # The coarse bins place the edge only to 1/256 of the whole range (poor when the backdrop is far): redo the
    # histogram over the subject's range and end it where the density falls to about that of what lies just behind it.
    bin_width = float(hist.edges[1] - hist.edges[0])
    # what lies just behind the subject: the first quarter of the gap (a receding floor thins out further on)
    behind = hist.counts[gap.start : gap.start + max(3, (gap.stop - gap.start) // 4)]
    gap_density = float(np.median(behind)) / bin_width
    cutoff, upper = gap_from, gap_to
    for _ in range(2):
        zoom = depth_histogram(sample, stats, _BINS, upper=upper)
        width = float(zoom.edges[1] - zoom.edges[0])
        low = zoom.counts <= _EDGE_OVER_GAP * gap_density * width + 1
        # the run of thin bins that holds the current edge (or the first one after it) starts at the subject's end
        k = min(int(np.searchsorted(zoom.edges, cutoff, "right")) - 1, len(low) - 1)
        while k < len(low) - 1 and not low[k]:
            k += 1
        while k > 0 and low[k - 1]:
            k -= 1
        if k == 0 or not low[k]:
            break
        cutoff = float(zoom.edges[k])
        upper = min(upper, cutoff + 8 * width)
    return _described(cutoff, (cutoff, gap_to), backdrop)


def _sample(depth: np.ndarray) -> np.ndarray:
    """The depth, or a regular subsample of at most about :data:`_MAX_SAMPLES` pixels (plenty for 256 bins)."""
    if depth.size <= _MAX_SAMPLES:
        return depth
    step = int(np.ceil(np.sqrt(depth.size / _MAX_SAMPLES)))
    return depth[::step, ::step]


# --------------------------------------------------------------------------------------------------------------
# Suggested splits for a band plan


def suggest_splits(depth: np.ndarray, stats: DepthStats, window: DepthWindow) -> tuple[float, ...]:
    """Split depths for a band plan: the middle of each near-empty gap between subjects inside ``window``.

    The same near-empty runs as :func:`suggest_cutoff` finds (bins under a fifth of an average occupied bin, at
    least 4 % of the range wide), but over the window from its near end to its far cutoff, and only gaps with
    depth behind them: a gap that runs out to the far cutoff separates nothing. The middle of a gap (rather than
    its near edge, where :func:`suggest_cutoff` ends the subject) keeps the split as far as possible from both
    subjects, so it still holds when the next frame moves a little, and the thin silhouette pixels in the gap are
    shared between the bands on either side.

    Returned near to far (descending with ``window.invert``); empty when there is no gap or no valid depth.
    """
    if stats.empty or window.beyond_everything or window.near == window.far:
        return ()
    sign = -1.0 if window.invert else 1.0  # mirrored, inverted depth grows away from the camera like plain depth
    near, far = sign * window.near, sign * window.far
    sample = _sample(depth)
    if window.invert:
        sample = np.negative(sample)  # the background stays outside the range (>= 0, <= -1e9 or not finite)
    hist = depth_histogram(sample, DepthStats(near, far, stats.valid_count, 0), _BINS)
    splits = []
    for gap in _find_gaps(hist.counts):
        if gap.stop < len(hist.counts):
            splits.append(sign * float(hist.edges[gap.start] + hist.edges[gap.stop]) / 2)
    return tuple(splits)
