"""One loaded depth file: what a preview update needs, prepared once at load time.

A loaded file keeps only light data — statistics, a fine histogram, the suggested cutoffs and a preview-sized copy
of the depth (a few MiB at 4096², against 83 MiB for the full depth and its mask) — because a long-running WebUI
serves many sessions. Full resolution is read again from the file when an output needs it and dropped afterwards.
Everything here is immutable except the lazily computed ranking for ``compress_map`` previews.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bands.plan import Allocation, BandPlan, band_index, paint_bands, suggested_plan
from ..bands.regions import RegionMap, region_map
from ..depth.histogram import Histogram, Suggestion, depth_histogram, suggest_cutoff
from ..depth.mapping import (
    DepthRanks,
    DepthStats,
    DepthWindow,
    depth_stats,
    depth_window,
    rank_depths,
    rank_index,
    to_8bit,
)
from ..exr import DepthImage, DepthReadError, read_depth
from ..params import DEFAULT_MAX_PIXELS, DepthParams
from ..render.job import Job, map_depth_image
from ..render.pipeline import DepthMap, map_depth, no_depth_message
from .banding import LOOKS, BandSettings, LevelMode, SettledBands, settle

#: Long side of the preview copy in pixels (images up to this size are previewed whole).
PREVIEW_SIDE = 768
#: Bins of the histogram sent to the browser.
HISTOGRAM_BINS = 512
#: The cutoff slider moves in about this many steps over the depth range.
SLIDER_STEPS = 1000


def preview_indices(height: int, width: int, side: int = PREVIEW_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the full image that make a preview whose long side is at most ``side``.

    Nearest-neighbour sampling at the centres of the preview pixels: every preview pixel *is* a full-resolution
    pixel, so the preview shows exactly the levels the output has there.
    """
    scale = min(1.0, side / max(height, width))
    rows_n, cols_n = max(1, round(height * scale)), max(1, round(width * scale))
    rows = ((np.arange(rows_n) + 0.5) * (height / rows_n)).astype(np.intp)
    cols = ((np.arange(cols_n) + 0.5) * (width / cols_n)).astype(np.intp)
    return np.minimum(rows, height - 1), np.minimum(cols, width - 1)


def slider_step(stats: DepthStats, steps: int = SLIDER_STEPS) -> float:
    """The largest round step (1, 2 or 5 times a power of ten) that divides the depth range into ``steps`` or more."""
    span = stats.farthest - stats.nearest if not stats.empty else 0.0
    if not span > 0:
        return 1.0 if stats.empty or stats.nearest == 0 else 10.0 ** math.floor(math.log10(abs(stats.nearest)) - 3)
    raw = span / steps
    power = 10.0 ** math.floor(math.log10(raw))
    factor = max(f for f in (1.0, 2.0, 5.0) if f * power <= raw * (1 + 1e-9))
    return factor * power


def round_to_step(value: float, step: float) -> float:
    """``value`` rounded to the decimals of ``step`` (so 231.20000000000002 shows as 231.2)."""
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 6
    return round(float(value), decimals)


def distinct_ranks(depth: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> DepthRanks:
    """The ranking ``compress_map`` uses, kept light: the full image's sorted distinct depths, and the rank of each
    preview pixel (the pixels at ``rows`` x ``cols``) among them. The full-size rank index is not kept."""
    return rank_index(rank_depths(depth, valid), depth[np.ix_(rows, cols)])


@dataclass(frozen=True)
class Preview:
    """A preview of one file with one set of options: what the page shows."""

    depth: np.ndarray  # uint8 (h, w), near = white: the output's levels, 16-bit ones as ControlNet gets them
    levels: np.ndarray  # the output's own levels at the preview pixels (uint8 or uint16)
    mask: np.ndarray  # uint8 0/255, defined in depth (valid and nearer than the far cutoff)
    window: DepthWindow
    params: DepthParams
    clipped_far: float  # share of the valid preview pixels at or beyond the far cutoff
    clipped_near: float  # share of the valid preview pixels at or before the near cutoff
    bands: SettledBands  # the plan the map was made with, and what the page shows about the user's plan
    look: str = "depth"  # what ``image`` shows: "depth", "test" (bands in their colours) or "regions"
    image: np.ndarray | None = None  # the picture for the page: ``depth``, or an RGB test-colour or region map
    region_notes: tuple[str, ...] = ()  # what the region map changed (parts, specks, renumbering)

    @property
    def picture(self) -> np.ndarray:
        """The picture the page shows for ``look``."""
        return self.depth if self.image is None else self.image


@dataclass(frozen=True)
class PixelInfo:
    """What lies under a point of the preview."""

    x: int  # full-resolution column
    y: int  # full-resolution row
    depth: float | None  # None: background (no valid depth)


@dataclass(frozen=True)
class FullRender:
    """A file's full-resolution outputs: the depth map and mask, the plan they were made with, the region map."""

    map: DepthMap
    bands: SettledBands
    regions: RegionMap | None


class FileGoneError(DepthReadError):
    """The file a loaded entry came from can no longer be read for a full-resolution output."""


class LoadedFile:
    """One depth file with everything a preview update needs, computed at load time; the full image is not kept.

    Immutable apart from the ranking ``compress_map`` previews need, computed on first use (the file is read again
    once) and kept. Outputs read the file again (:meth:`read_full`), with the channel in use and the same limit.
    """

    def __init__(
        self,
        key: str,
        source: Path,
        image: DepthImage,
        preview_side: int = PREVIEW_SIDE,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        uploaded: bool = False,
    ) -> None:
        self.key = key
        self.source = source
        self.uploaded = uploaded
        self.max_pixels = max_pixels
        self.name = image.name or source.name
        self.channel = image.channel
        self.channels = image.channels or (image.channel,)
        self.notes = image.notes
        self.height, self.width = image.height, image.width
        self.stats = depth_stats(image.depth, image.valid)
        if self.stats.empty:
            raise DepthReadError(Path(self.name), no_depth_message(self.stats))
        self.histogram: Histogram = depth_histogram(image.depth, self.stats, HISTOGRAM_BINS)
        #: the suggested far cutoff for depth (``False``) and for inverted input (``True``)
        self.suggestions: dict[bool, Suggestion] = {
            invert: suggest_cutoff(image.depth, self.stats, invert) for invert in (False, True)
        }
        self.rows, self.cols = preview_indices(image.height, image.width, preview_side)
        self.preview_depth = image.depth[np.ix_(self.rows, self.cols)]
        self.preview_valid = image.valid[np.ix_(self.rows, self.cols)]
        self.step = slider_step(self.stats)
        self._preview_ranks: DepthRanks | None = None
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Memory held by the file's arrays."""
        arrays = [self.preview_depth, self.preview_valid, self.rows, self.cols, self.histogram.counts]
        arrays.append(self.histogram.edges)
        size = sum(int(a.nbytes) for a in arrays)
        ranks = self._preview_ranks
        if ranks is not None:
            size += int(ranks.index.nbytes) + int(ranks.values.nbytes)
        return size

    def require_source(self) -> None:
        """Raise :class:`FileGoneError` (naming the file) when the file it was loaded from is gone."""
        if not self.source.is_file():
            problem = (
                "the uploaded file is no longer available; upload it again"
                if self.uploaded
                else f"the file is no longer available at {self.source}; load it again"
            )
            raise FileGoneError(Path(self.name), problem)

    def read_full(self) -> DepthImage:
        """The full-resolution depth, read again from the file (same channel and pixel limit).

        Raises
        ------
        DepthReadError
            Naming the file: it is gone (:class:`FileGoneError`), can no longer be read, or changed since it was
            loaded.
        """
        self.require_source()
        try:
            image = read_depth(self.source, self.channel, self.max_pixels)
        except DepthReadError as exc:
            raise DepthReadError(Path(self.name), exc.problem) from None
        stats = depth_stats(image.depth, image.valid) if image.depth.shape == (self.height, self.width) else None
        if stats != self.stats:
            raise DepthReadError(Path(self.name), "the file changed since it was loaded; load it again")
        return DepthImage(image.depth, image.valid, image.channel, image.channels, self.name, image.notes)

    def preview_ranks(self) -> DepthRanks:
        """The full-resolution ranking as the preview needs it (the file is read again once, on first use)."""
        with self._lock:
            if self._preview_ranks is None:
                image = self.read_full()
                self._preview_ranks = distinct_ranks(image.depth, image.valid, self.rows, self.cols)
            return self._preview_ranks

    def suggestion(self, invert: bool) -> Suggestion:
        """The suggested far cutoff for depth, or for inverted input."""
        return self.suggestions[invert]

    # ----------------------------------------------------------------------------------------------------------

    def window(self, params: DepthParams) -> DepthWindow:
        return depth_window(self.stats, params.depth_cutoff, params.near_cutoff, params.invert)  # type: ignore[arg-type]

    def far_value(self, params: DepthParams) -> float:
        """The far cutoff as a number: the far end of the valid range when there is none."""
        cutoff = params.depth_cutoff
        if isinstance(cutoff, (int, float)):
            return float(cutoff)
        return self.stats.nearest if params.invert else self.stats.farthest

    def settle(self, params: DepthParams, bands: BandSettings) -> SettledBands:
        """The plan a map of this file is made with: levels allocated over the preview's pixels (a sample of the
        image, so that preview and outputs agree exactly)."""
        return settle(bands, self.preview_depth, self.preview_valid, self.window(params))

    def suggest_bands(self, params: DepthParams, mode: LevelMode) -> BandPlan:
        """Bands in one click: split at the near-empty gaps of the preview's depths inside the window, every band
        that holds pixels a region (near to far), levels by ``mode`` (by pixels for manual)."""
        allocation = Allocation.PIXELS if mode is LevelMode.MANUAL else Allocation(mode.value)
        return suggested_plan(self.preview_depth, self.preview_valid, self.stats, self.window(params), allocation)

    def render_preview(self, params: DepthParams, bands: BandSettings | None = None, look: str = "depth") -> Preview:
        """Map the preview copy with ``params`` and the bands at the output's bit depth; the mask is always made.

        ``depth`` holds 8-bit levels for the page: 8-bit outputs as they are, 16-bit outputs converted the way a
        send to ControlNet converts them. ``levels`` equals the full-resolution output at the preview pixels.
        ``look`` "test" also paints the bands in their test colours, "regions" the region map, into ``image``.
        """
        params = params.with_(mask=True)
        window = self.window(params)
        settled = self.settle(params, bands or BandSettings())
        ranks = self.preview_ranks() if params.compress_map else None
        plan = settled.plan if settled.banded else None
        levels, mask = map_depth(self.preview_depth, self.preview_valid, window, params, ranks, plan)
        assert mask is not None
        image, notes = self._look(look, to_8bit(levels), settled, window)
        valid = self.preview_valid
        count = max(int(np.count_nonzero(valid)), 1)
        beyond = np.count_nonzero(valid & (mask == 0))
        with np.errstate(invalid="ignore"):
            near = window.near
            before = self.preview_depth >= near if window.invert else self.preview_depth <= near
        near_given = params.near_cutoff is not None
        return Preview(
            to_8bit(levels),
            levels,
            mask,
            window,
            params,
            float(beyond) / count,
            float(np.count_nonzero(before & valid)) / count if near_given else 0.0,
            settled,
            look,
            image,
            notes,
        )

    def _look(
        self, look: str, depth: np.ndarray, settled: SettledBands, window: DepthWindow
    ) -> tuple[np.ndarray | None, tuple[str, ...]]:
        """The test-colour or region picture of the preview (``None`` for the depth look) and the region notes."""
        if look not in LOOKS:
            raise ValueError(f"the preview shows one of {', '.join(LOOKS)}, not {look!r}")
        if look == "depth":
            return None, ()
        plan = settled.plan or BandPlan()
        index = band_index(self.preview_depth, self.preview_valid, plan, window)
        if look == "test":
            return paint_bands(depth, index, plan), ()
        if not settled.regions:
            return np.zeros((*depth.shape, 3), np.uint8), ()
        options = settled.settings
        scale = index.size / (self.width * self.height)  # a part's area in preview pixels
        min_area = max(1, round(options.min_area * scale)) if options.min_area else 0
        regions = region_map(index, plan, None, options.split_parts, min_area)
        return regions.image, regions.notes

    def render_full(self, params: DepthParams, bands: BandSettings | None = None) -> FullRender:
        """The full-resolution depth map and mask with ``params`` and the bands as the preview settles them, and
        the region map when a band in use has a region number (the file is read again)."""
        settled = self.settle_for_output(params, bands)
        made = map_depth_image(self.read_full(), self.job(params.with_(mask=True), settled), self.stats)
        return FullRender(made.map, settled, made.regions)

    def settle_for_output(self, params: DepthParams, bands: BandSettings | None = None) -> SettledBands:
        """The bands as the preview settles them, refused when the user's bands cannot be used for an output."""
        settled = self.settle(params, bands or BandSettings())
        if settled.problem is not None and settled.settings.banded:
            raise ValueError(f"the bands cannot be used: {settled.problem}")
        return settled

    @staticmethod
    def job(params: DepthParams, settled: SettledBands) -> Job:
        """The job of a full-resolution output: ``params``, the plan with the levels the preview settled, and the
        region map when a band in use has a region number."""
        options = settled.settings
        return Job(
            params,
            settled.plan,
            None,
            settled=True,
            regions=settled.regions,
            split_parts=options.split_parts,
            min_area=options.min_area,
            region_size=options.region_size,
        )

    def pixel(self, x: int, y: int) -> PixelInfo:
        """The depth under preview pixel ``(x, y)`` (clamped into the preview): a full-resolution pixel."""
        column = min(max(int(x), 0), len(self.cols) - 1)
        row = min(max(int(y), 0), len(self.rows) - 1)
        valid = bool(self.preview_valid[row, column])
        depth = float(self.preview_depth[row, column]) if valid else None
        return PixelInfo(int(self.cols[column]), int(self.rows[row]), depth)
