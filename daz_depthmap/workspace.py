"""One user's session in the tab: the loaded files, each with its own options and cached data.

Plain Python and numpy, no gradio: the UI keeps one :class:`Workspace` per browser tab (in a ``gr.State``) and its
handlers only call the methods here. Everything a slider move needs is prepared once per file at load time: the
statistics, a fine histogram, the suggested cutoffs and a preview-sized copy of the depth, so a preview update
maps about half a million pixels instead of the full image.

A loaded file keeps only that light data (a few MiB at 4096², against 83 MiB for the full depth and its mask): the
WebUI's gradio keeps every session's state for as long as the server runs. Full resolution is read again from the
file when an output needs it (Save, Process all, Send to ControlNet) and dropped afterwards.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .context import FullMaps
from .exr import DepthImage, DepthReadError, NoDepthChannelError, read_depth
from .histogram import Histogram, Suggestion, depth_histogram, suggest_cutoff
from .mapping import DepthRanks, DepthStats, DepthWindow, depth_stats, depth_window, rank_depths, rank_index
from .output import DEPTH_SUFFIX, MASK_SUFFIX, safe_stem, save_outputs
from .params import DEFAULT_MAX_PIXELS, DepthParams
from .pipeline import map_depth, render

#: Long side of the preview copy in pixels (images up to this size are previewed whole).
PREVIEW_SIDE = 768
#: Bins of the histogram sent to the browser.
HISTOGRAM_BINS = 512
#: The cutoff slider moves in about this many steps over the depth range.
SLIDER_STEPS = 1000
#: A file without a recognisable depth channel: at most this many of its channels are tried for valid depth.
MAX_CHANNEL_TRIES = 8

#: ``progress(done, total, name)``: called before each file of :meth:`Workspace.write_all` and once at the end.
Progress = Callable[[int, int, str], None]


# --------------------------------------------------------------------------------------------------------------
# Small pure helpers


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


def format_depth(value: float) -> str:
    """A depth for messages: 4 significant digits at least, no exponent for ordinary scene units."""
    return f"{value:.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


# --------------------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Preview:
    """An 8-bit preview of the current file: depth map and mask at preview size, and what the cutoffs clip."""

    depth: np.ndarray  # uint8 (h, w), near = white; 8-bit levels whatever the output bits
    mask: np.ndarray  # uint8 0/255, far plane black
    window: DepthWindow
    clipped_far: float  # share of the valid preview pixels at or beyond the far cutoff
    clipped_near: float  # share of the valid preview pixels at or before the near cutoff


@dataclass(frozen=True)
class PixelInfo:
    """What lies under a point of the preview."""

    x: int  # full-resolution column
    y: int  # full-resolution row
    depth: float | None  # None: background (no valid depth)


@dataclass(frozen=True)
class LoadResult:
    """Keys of the files that loaded, one message per file that did not, and warnings about loaded ones."""

    loaded: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WriteResult:
    """Paths written and one message per file that failed."""

    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def distinct_ranks(depth: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> DepthRanks:
    """The ranking ``compress_map`` uses, kept light: the full image's sorted distinct depths, and the rank of each
    preview pixel (the pixels at ``rows`` x ``cols``) among them. The full-size rank index is not kept."""
    return rank_index(rank_depths(depth, valid), depth[np.ix_(rows, cols)])  # the full-size index is dropped here


# --------------------------------------------------------------------------------------------------------------
# One loaded file


class FileGoneError(DepthReadError):
    """The file a loaded entry came from can no longer be read for a full-resolution output."""


class LoadedFile:
    """One depth file with everything a preview update needs, computed at load time; the full image is not kept.

    ``params`` is the only part that changes (replaced whole, never mutated). What ``compress_map`` previews need
    from the full-resolution ranking is computed on first use and kept (:func:`distinct_ranks`). Outputs read the
    file again (:meth:`read_full`), with the channel in use and the same pixel limit.
    """

    def __init__(
        self,
        key: str,
        source: Path,
        image: DepthImage,
        params: DepthParams,
        preview_side: int,
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
            raise DepthReadError(
                Path(self.name),
                f"no valid depth: all {self.stats.invalid_count} pixels are background (inf, NaN, <= 0 or >= 1e9)",
            )
        self.histogram: Histogram = depth_histogram(image.depth, self.stats, HISTOGRAM_BINS)
        #: the suggested far cutoff for depth (``False``) and for inverted input (``True``)
        self.suggestions: dict[bool, Suggestion] = {
            invert: suggest_cutoff(image.depth, self.stats, invert) for invert in (False, True)
        }
        self.rows, self.cols = preview_indices(image.height, image.width, preview_side)
        self.preview_depth = image.depth[np.ix_(self.rows, self.cols)]
        self.preview_valid = image.valid[np.ix_(self.rows, self.cols)]
        self.step = slider_step(self.stats)
        self.params = params
        self.stem = safe_stem(self.name)
        self._preview_ranks: DepthRanks | None = None
        self._lock = threading.Lock()

    @property
    def suggestion(self) -> Suggestion:
        """The suggested far cutoff for the current ``invert`` option."""
        return self.suggestions[self.params.invert]

    @property
    def nbytes(self) -> int:
        """Memory held by the file's arrays."""
        arrays = [self.preview_depth, self.preview_valid, self.rows, self.cols, self.histogram.counts]
        arrays.append(self.histogram.edges)
        size = sum(int(a.nbytes) for a in arrays)
        if self._preview_ranks is not None:
            values = self._preview_ranks.values
            size += int(self._preview_ranks.index.nbytes) + int(values.nbytes)
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

    @property
    def message(self) -> str:
        """What a user wants to know about the file: size, channel, depth range, background, reader notes."""
        stats = self.stats
        share = stats.invalid_count / max(self.width * self.height, 1) * 100
        lines = [
            f"{self.width} × {self.height} px · channel {self.channel} · depth "
            f"{format_depth(stats.nearest)} – {format_depth(stats.farthest)} · "
            f"{stats.invalid_count:,} background px ({share:.2g} %)",
        ]
        notes = [n for n in self.notes if not n.startswith(f"channel {self.channel}")]
        lines.extend(notes)
        lines.append(f"Suggested cutoff: {self.suggestion.reason}")
        return "\n".join(lines)

    # ----------------------------------------------------------------------------------------------------------

    def window(self, params: DepthParams | None = None) -> DepthWindow:
        params = params or self.params
        return depth_window(self.stats, params.depth_cutoff, params.near_cutoff, params.invert)  # type: ignore[arg-type]

    def far_value(self) -> float:
        """The far cutoff as a number: the far end of the valid range when there is none."""
        cutoff = self.params.depth_cutoff
        if isinstance(cutoff, (int, float)):
            return float(cutoff)
        return self.stats.nearest if self.params.invert else self.stats.farthest

    def near_value(self) -> float | None:
        return self.params.near_cutoff

    def render_preview(self) -> Preview:
        """Map the preview copy with the current options (always 8-bit; the mask is always made)."""
        params = self.params.with_(bits=8, mask=True)
        window = self.window(params)
        ranks = self.preview_ranks() if params.compress_map else None
        depth, mask = map_depth(self.preview_depth, self.preview_valid, window, params, ranks)
        assert mask is not None
        valid = self.preview_valid
        count = max(int(np.count_nonzero(valid)), 1)
        with np.errstate(invalid="ignore"):
            if window.invert:
                beyond, before = self.preview_depth <= window.far, self.preview_depth >= window.near
            else:
                beyond, before = self.preview_depth >= window.far, self.preview_depth <= window.near
        near_given = params.near_cutoff is not None
        return Preview(
            depth,
            mask,
            window,
            float(np.count_nonzero(beyond & valid)) / count,
            float(np.count_nonzero(before & valid)) / count if near_given else 0.0,
        )

    def full_maps(self) -> FullMaps:
        """The full-resolution depth map and mask with the current options (the file is read again)."""
        params = self.params.with_(mask=True)
        result = render(self.read_full(), params, self.stats)
        assert result.mask is not None
        return FullMaps(self.stem, result.depth, result.mask, self.params)

    def pixel(self, x: int, y: int) -> PixelInfo:
        """The depth under preview pixel ``(x, y)`` (clamped into the preview): a full-resolution pixel."""
        column = min(max(int(x), 0), len(self.cols) - 1)
        row = min(max(int(y), 0), len(self.rows) - 1)
        valid = bool(self.preview_valid[row, column])
        depth = float(self.preview_depth[row, column]) if valid else None
        return PixelInfo(int(self.cols[column]), int(self.rows[row]), depth)

    def histogram_payload(self) -> dict[str, Any]:
        """What the browser needs to draw the histogram and place the cutoffs (JSON-ready)."""
        stats, hist = self.stats, self.histogram
        suggestion = self.suggestion.cutoff
        lo = math.floor(stats.nearest / self.step) * self.step
        hi = math.ceil(stats.farthest / self.step) * self.step
        return {
            "key": self.key,
            "lo": float(hist.edges[0]),
            "hi": float(hist.edges[-1]),
            "counts": [int(c) for c in hist.counts],
            "valid": stats.valid_count,
            "invalid": stats.invalid_count,
            "nearest": stats.nearest,
            "farthest": stats.farthest,
            "far": self.far_value(),
            "near": self.near_value(),
            "invert": self.params.invert,
            "suggestion": None if suggestion is None else round_to_step(suggestion, self.step / 10),
            "suggestion_reason": self.suggestion.reason,
            "step": self.step,
            "slider_min": round_to_step(lo, self.step),
            "slider_max": round_to_step(hi, self.step),
        }


# --------------------------------------------------------------------------------------------------------------
# The session


class Workspace:
    """The files one user has loaded, in order, and which one is shown.

    Parameters
    ----------
    defaults:
        Options every new file starts with. ``depth_cutoff``: a number is used as is; ``"auto"`` or ``None``
        start at the suggested cutoff (the full range when there is none); ``"histo"`` starts at the full range.
    max_pixels:
        Larger images are refused before decoding.
    preview_side:
        Long side of the preview copies.
    seed_source:
        Draws the noise seed of a new file when ``defaults.seed`` is ``None`` (so preview and output match).
    """

    def __init__(
        self,
        defaults: DepthParams | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        preview_side: int = PREVIEW_SIDE,
        seed_source: np.random.Generator | None = None,
    ) -> None:
        self.defaults = defaults or DepthParams()
        self.max_pixels = max_pixels
        self.preview_side = preview_side
        self.files: list[LoadedFile] = []
        self.current_key: str | None = None
        self.picked: PixelInfo | None = None
        self._rng = seed_source or np.random.default_rng()
        self._lock = threading.RLock()

    # ----------------------------------------------------------------------------------------------------------
    # Files

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.files]

    @property
    def current(self) -> LoadedFile | None:
        with self._lock:
            return next((f for f in self.files if f.key == self.current_key), None)

    def require_current(self) -> LoadedFile:
        """The file shown; raises ``ValueError`` with a message for the user when nothing is loaded."""
        entry = self.current
        if entry is None:
            raise ValueError("no file loaded: drop one or more depth .exr files above first")
        return entry

    def get(self, key: str) -> LoadedFile:
        entry = next((f for f in self.files if f.key == key), None)
        if entry is None:
            raise ValueError(f"no loaded file is called {key!r}")
        return entry

    def _unique_key(self, name: str) -> str:
        taken = set(self.keys)
        if name not in taken:
            return name
        number = 2
        while f"{name} ({number})" in taken:
            number += 1
        return f"{name} ({number})"

    def _unique_stem(self, entry: LoadedFile) -> None:
        taken = {f.stem for f in self.files if f is not entry}
        stem, number = entry.stem, 2
        while entry.stem in taken:
            entry.stem = f"{stem}-{number}"
            number += 1

    def _initial_params(self, entry: LoadedFile, channel: str | None) -> DepthParams:
        defaults = self.defaults
        stats, suggestion = entry.stats, entry.suggestions[defaults.invert]
        cutoff: float | None
        if isinstance(defaults.depth_cutoff, (int, float)):
            cutoff = float(defaults.depth_cutoff)
        elif defaults.depth_cutoff == "histo":
            cutoff = None
        elif suggestion.cutoff is not None:  # rounded as the slider shows it, so preview and slider agree
            cutoff = round_to_step(suggestion.cutoff, entry.step / 10)
        else:
            cutoff = None
        seed = defaults.seed if defaults.seed is not None else int(self._rng.integers(0, 2**31 - 1))
        near = defaults.near_cutoff
        params = defaults.with_(depth_cutoff=cutoff, near_cutoff=None, seed=seed, channel=channel)
        if near is not None:
            try:
                depth_window(stats, cutoff, near, params.invert)
                params = params.with_(near_cutoff=near)
            except ValueError:
                pass  # a default near cutoff that does not fit this file is dropped
        return params

    def _read(self, path: Path, name: str, channel: str | None) -> DepthImage:
        image = read_depth(path, channel, self.max_pixels)
        if name and name != image.name:
            image = DepthImage(image.depth, image.valid, image.channel, image.channels, name, image.notes)
        return image

    def load(self, sources: Iterable[str | os.PathLike[str] | tuple[str | os.PathLike[str], str]]) -> LoadResult:
        """Load files in order; a file that fails gives a message and the others still load.

        ``sources`` are paths or ``(path, shown name)`` pairs (an upload's temporary path and its original name).
        The first file loaded becomes the current one. A file without a recognisable depth channel is shown on
        its R channel (or its first one) with a warning, so the user can choose another.
        """
        result = LoadResult()
        for source in sources:
            uploaded = isinstance(source, tuple)
            path, name = (Path(source[0]), source[1]) if isinstance(source, tuple) else (Path(source), "")
            name = name or path.name
            try:
                if not name.lower().endswith(".exr"):
                    raise DepthReadError(Path(name), "not an .exr file (only OpenEXR depth files can be loaded)")
                try:
                    image = self._read(path, name, self.defaults.channel)
                    entry = self._make_entry(self._unique_key(name), path, image, uploaded)
                except NoDepthChannelError as exc:
                    entry = self._load_any_channel(self._unique_key(name), path, name, uploaded, exc)
                    result.warnings.append(f"{name}: {entry.notes[0]}")
            except DepthReadError as exc:
                result.errors.append(str(exc).replace(str(path), name))
                continue
            except MemoryError:
                result.errors.append(f"{name}: not enough memory to load this image")
                continue
            except Exception as exc:  # a damaged file may make the bindings fail in any way: report, keep going
                result.errors.append(f"{name}: could not be read ({type(exc).__name__}: {exc})")
                continue
            with self._lock:
                self.files.append(entry)
                self._unique_stem(entry)
                if not result.loaded:
                    self.current_key = entry.key
                    self.picked = None
            result.loaded.append(entry.key)
        return result

    def _make_entry(self, key: str, path: Path, image: DepthImage, uploaded: bool) -> LoadedFile:
        entry = LoadedFile(key, path, image, DepthParams(), self.preview_side, self.max_pixels, uploaded)
        entry.params = self._initial_params(entry, self.defaults.channel)
        return entry

    def _load_any_channel(
        self, key: str, path: Path, name: str, uploaded: bool, problem: NoDepthChannelError
    ) -> LoadedFile:
        """The file on the first of its channels that holds valid depth, R first; a note says so."""
        red = [c for c in problem.channels if c == "R" or c.endswith((".R", "/R"))]
        for channel in [*red, *(c for c in problem.channels if c not in red)][:MAX_CHANNEL_TRIES]:
            try:
                image = self._read(path, name, channel)
            except DepthReadError:
                continue
            warning = (
                f"no depth channel recognised; showing {image.channel} — pick the depth channel in the Channel menu"
            )
            notes = (warning, *image.notes)
            image = DepthImage(image.depth, image.valid, image.channel, image.channels, image.name, notes)
            try:
                return self._make_entry(key, path, image, uploaded)
            except DepthReadError:
                continue  # no valid depth in this channel: try the next
        raise problem

    def select(self, key: str) -> LoadedFile:
        """Show another loaded file."""
        with self._lock:
            entry = self.get(key)
            self.current_key = key
            self.picked = None
            return entry

    def remove(self, key: str) -> None:
        """Forget a file (frees its memory); the next one (or the previous) becomes current."""
        with self._lock:
            index = self.keys.index(self.get(key).key)
            del self.files[index]
            if self.current_key == key:
                self.current_key = self.files[min(index, len(self.files) - 1)].key if self.files else None
                self.picked = None

    def set_channel(self, channel: str) -> LoadedFile:
        """Read the current file again with another channel; its options are kept, cutoffs start afresh."""
        entry = self.require_current()
        if channel == entry.channel:
            return entry
        entry.require_source()
        image = self._read(entry.source, entry.name, channel)
        fresh = self._make_entry(entry.key, entry.source, image, entry.uploaded)
        fresh.params = self._initial_params(fresh, image.channel).with_(
            compress_map=entry.params.compress_map,
            mask=entry.params.mask,
            noise=entry.params.noise,
            seed=entry.params.seed,
            bits=entry.params.bits,
            invert=entry.params.invert,
        )
        fresh.stem = entry.stem
        with self._lock:
            self.files[self.files.index(entry)] = fresh
            self.picked = None
        return fresh

    # ----------------------------------------------------------------------------------------------------------
    # Options

    def update(self, **changes: Any) -> LoadedFile:
        """Change options of the current file (``DepthParams`` field names).

        Cutoffs at or beyond the ends of the valid range mean "no cutoff" and are stored as ``None``.

        Raises
        ------
        ValueError
            With a message for the user: nothing loaded, a bad value, or a near cutoff not nearer than the far one.
        """
        with self._lock:
            entry = self.require_current()
            params = entry.params.with_(**changes)
            stats = entry.stats
            far, near = params.depth_cutoff, params.near_cutoff
            nearest, farthest = (stats.farthest, stats.nearest) if params.invert else (stats.nearest, stats.farthest)
            beyond = (lambda a, b: a >= b) if not params.invert else (lambda a, b: a <= b)
            if isinstance(far, (int, float)) and beyond(far, farthest):
                far = None
            if near is not None and beyond(nearest, near):
                near = None
            params = params.with_(depth_cutoff=far, near_cutoff=near)
            depth_window(stats, params.depth_cutoff, params.near_cutoff, params.invert)  # type: ignore[arg-type]
            entry.params = params
            return entry

    # ----------------------------------------------------------------------------------------------------------
    # Preview and picking

    def preview(self) -> Preview:
        return self.require_current().render_preview()

    def pick(self, x: int, y: int) -> PixelInfo:
        """Remember and return what lies under preview pixel ``(x, y)`` of the current file."""
        info = self.require_current().pixel(x, y)
        self.picked = info
        return info

    # ----------------------------------------------------------------------------------------------------------
    # Outputs

    def full_maps(self) -> FullMaps:
        """Full-resolution maps of the current file (raises ``ValueError`` when nothing is loaded)."""
        return self.require_current().full_maps()

    def _protected(self) -> list[Path]:
        return [f.source for f in self.files]

    def write(self, entry: LoadedFile, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write one file's depth PNG (and mask PNG when its ``mask`` option is on) into ``out_dir``, atomically.

        Never overwrites a loaded input. Raises ``ValueError``/``OSError`` with a message for the user.
        """
        maps = entry.full_maps()
        folder = Path(out_dir)
        depth_path, mask_path = folder / f"{entry.stem}{DEPTH_SUFFIX}", folder / f"{entry.stem}{MASK_SUFFIX}"
        return save_outputs(
            maps.depth, maps.mask if entry.params.mask else None, depth_path, mask_path, self._protected()
        )

    def write_current(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        return self.write(self.require_current(), out_dir)

    def write_all(self, out_dir: str | os.PathLike[str], progress: Progress | None = None) -> WriteResult:
        """Write every loaded file with its own options; a file that fails gives a message, the others go on."""
        with self._lock:
            files = list(self.files)
        result = WriteResult()
        for number, entry in enumerate(files):
            if progress is not None:
                progress(number, len(files), entry.name)
            try:
                result.written.extend(self.write(entry, out_dir))
            except DepthReadError as exc:  # its message names the file
                result.errors.append(str(exc))
            except (ValueError, OSError) as exc:
                result.errors.append(f"{entry.name}: {exc}")
            except MemoryError:
                result.errors.append(f"{entry.name}: not enough memory to write this image")
        if progress is not None:
            progress(len(files), len(files), "")
        return result
