"""Reading the depth channel of an EXR file (a Depth canvas) into an array the size of the display window.

:func:`read_depth` picks the channel by name (``Y``, ``Z``, depth-like names, ``V``), else ``R`` where R, G and B
agree, else a lone channel, and pastes the part's data window into its display window; :func:`depth_image` wraps
an array already in memory. :func:`header_attributes` reads a file's header alone (a renderer's camera).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..chunks import pixel_slices
from ..params import DEFAULT_MAX_PIXELS, SENTINEL_DEPTH
from .errors import DepthReadError, NoDepthChannelError
from .layout import FileLayout
from .open import Candidate, Part, channel_list, check_decoded, check_file, decode_part, open_exr, prepared, qualified


@dataclass(frozen=True)
class DepthImage:
    """One depth channel, pasted into the display window.

    Attributes
    ----------
    depth:
        float32 array (height, width) of raw depth; only pixels where ``valid`` is true mean anything.
    valid:
        bool array: finite, > 0 and below the 1e9 "no hit" sentinel. Everything else is background.
    channel:
        The channel used, qualified with its part name in multi-part files (``"depth_left/Z"``).
    channels:
        Every channel of the file (same naming), for a channel chooser.
    name:
        The file's name (no folder), for messages and output names.
    notes:
        What the reader did that a user may want to know (window pasting, channel choice).
    """

    depth: np.ndarray
    valid: np.ndarray
    channel: str
    channels: tuple[str, ...] = ()
    name: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def height(self) -> int:
        return int(self.depth.shape[0])

    @property
    def width(self) -> int:
        return int(self.depth.shape[1])

    @property
    def invalid_count(self) -> int:
        """Pixels that are background: inf, NaN, <= 0, >= 1e9, or outside the data window."""
        return int(self.valid.size - np.count_nonzero(self.valid))


def valid_depth(depth: np.ndarray) -> np.ndarray:
    """Where ``depth`` is a real distance: finite, > 0 and below the sentinel (NaN compares false)."""
    valid = np.empty(np.shape(depth), bool)
    flat_depth, flat_valid = np.ravel(depth), valid.reshape(-1)
    with np.errstate(invalid="ignore"):
        for part in pixel_slices(flat_valid.size):
            values = flat_depth[part]
            np.logical_and(values > 0, values < SENTINEL_DEPTH, out=flat_valid[part])
    return valid


def depth_image(
    depth: np.ndarray, channel: str = "depth", name: str = "", channels: Sequence[str] = (), notes: Sequence[str] = ()
) -> DepthImage:
    """Wrap an in-memory depth array (any float dtype) as a :class:`DepthImage`."""
    array = np.asarray(depth, dtype=np.float32)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"depth must be a non-empty 2-D array, got shape {array.shape}")
    return DepthImage(array, valid_depth(array), channel, tuple(channels) or (channel,), name, tuple(notes))


# --------------------------------------------------------------------------------------------------------------
# Channel choice


def _named_candidates(candidates: Sequence[Candidate]) -> tuple[list[Candidate], str]:
    """The best tier of channels chosen by name alone, and why."""

    def by(pred: Any) -> list[Candidate]:
        return [c for c in candidates if pred(c[1], c[2])]

    def depthish(part: Part, ch: str) -> bool:
        return "depth" in ch.lower() or "depth" in part.name.lower()

    for label, found in (
        ("Y channel", by(lambda p, ch: ch == "Y")),
        ("Z channel", by(lambda p, ch: ch == "Z")),
    ):
        if found:
            return sorted(found, key=lambda c: not depthish(c[1], c[2])), label
    zlike = by(lambda p, ch: ch.endswith(".Z") or ch.lower() in ("depth", "z") or ch.lower().endswith(".depth"))
    if zlike:
        return sorted(zlike, key=lambda c: not depthish(c[1], c[2])), "depth-like channel name"
    named = by(depthish)
    if named:
        return named, "'depth' in the name"
    found = by(lambda p, ch: ch == "V")
    if found:
        return found, "V channel"
    return [], ""


def _grey_rgb(path: Path, layout: FileLayout, candidates: Sequence[Candidate], max_pixels: int) -> Candidate | None:
    """R of the first part whose R, G and B agree (depth copied into colour channels)."""
    for part in {c[1].index: c[1] for c in candidates}.values():
        if not {"R", "G", "B"} <= set(part.channels):
            continue
        check_decoded(path, layout, part, max_pixels)
        pixels = decode_part(path, layout, part)
        r, g, b = (np.asarray(pixels[k], dtype=np.float32) for k in ("R", "G", "B"))
        both = np.isfinite(r) & np.isfinite(g) & np.isfinite(b)
        if not both.any():
            continue
        scale = float(np.max(np.abs(r[both]))) or 1.0
        if max(float(np.max(np.abs(r[both] - g[both]))), float(np.max(np.abs(r[both] - b[both])))) <= 1e-3 * scale:
            return next(c for c in candidates if c[1].index == part.index and c[2] == "R")
    return None


# --------------------------------------------------------------------------------------------------------------


def read_depth(
    path: str | os.PathLike[str], channel: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> DepthImage:
    """Read the depth channel of an EXR file into a display-window-sized float32 array.

    Parameters
    ----------
    path:
        The ``.exr`` file.
    channel:
        Channel to use, by name (``"Z"``) or qualified by part (``"depth_left/Z"``); ``None`` picks one: ``Y``, then
        ``Z``, then ``*.Z``/``*depth*`` names (parts named depth too), then ``V``, then ``R`` when R=G=B, then a lone
        channel.
    max_pixels:
        Refuse images above this many pixels before decoding anything.

    Raises
    ------
    DepthReadError
        For anything wrong with the file: missing, not an EXR, damaged, deep, too large, no usable channel
        (:class:`NoDepthChannelError`, which lists the channels to choose from).
    ValueError
        When ``max_pixels`` is not positive.
    """
    path = Path(path)
    parts, layout, _ = prepared(path, max_pixels)
    everything = qualified(parts)
    flat = [c for c in everything if not c[1].deep]
    if not flat:
        raise DepthReadError(
            path, "deep EXR (a list of depth samples per pixel) is not supported: flatten it to one Z value first"
        )
    if channel is not None:
        chosen = [c for c in flat if channel in (c[0], c[2])] or [
            c for c in flat if channel.lower() in (c[0].lower(), c[2].lower())
        ]
        if not chosen:
            raise DepthReadError(path, f"no channel named {channel!r}; channels: {channel_list(flat)}")
        pick, why = chosen[0], "chosen"
    else:
        tier, why = _named_candidates(flat)
        if tier:
            pick = tier[0]
        else:
            grey = _grey_rgb(path, layout, flat, max_pixels)
            if grey is not None:
                pick, why = grey, "R = G = B"
            elif len(flat) == 1:
                pick, why = flat[0], "the only channel"
            else:
                raise NoDepthChannelError(
                    path,
                    f"no depth channel found (no Y, Z, *.Z, depth or V, and R, G, B differ); channels: "
                    f"{channel_list(flat)}; choose one explicitly",
                    [c[0] for c in flat],
                )
    label, part, name = pick
    check_decoded(path, layout, part, max_pixels)
    pixels = decode_part(path, layout, part).get(name)
    if pixels is None:
        raise DepthReadError(path, f"damaged or truncated EXR pixel data: channel {label!r} could not be decoded")
    if pixels.dtype == object:
        raise DepthReadError(path, f"channel {label!r} holds deep samples, which are not supported")
    depth, notes = paste(path, pixels.astype(np.float32, copy=False), part)
    notes = [f"channel {label} ({why})", *notes]
    return DepthImage(depth, valid_depth(depth), label, tuple(c[0] for c in flat), path.name, tuple(notes))


def header_attributes(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The attributes of an EXR file's first part, but its channel list (a renderer's camera, ``worldToCamera``);
    empty for a file whose header cannot be read (the read that needs its pixels says why)."""
    path = Path(path)
    try:
        check_file(path)
        head = open_exr(path, header_only=True)
        return {str(k): v for k, v in head.parts[0].header.items() if k != "channels"}
    except (DepthReadError, IndexError, AttributeError):
        return {}


def paste(path: Path, pixels: np.ndarray, part: Part, fill: float = np.nan) -> tuple[np.ndarray, list[str]]:
    dx0, dy0, dx1, dy1 = part.data_window
    wx0, wy0, wx1, wy1 = part.display_window
    height, width = wy1 - wy0 + 1, wx1 - wx0 + 1
    if pixels.shape != (dy1 - dy0 + 1, dx1 - dx0 + 1):
        raise DepthReadError(
            path, f"channel data is {pixels.shape[1]}x{pixels.shape[0]}, the data window says otherwise (subsampled?)"
        )
    if part.data_window == part.display_window:
        return pixels, []
    canvas = np.full((height, width), fill, dtype=np.float32)
    x0, y0, x1, y1 = max(dx0, wx0), max(dy0, wy0), min(dx1, wx1), min(dy1, wy1)
    if x0 <= x1 and y0 <= y1:
        canvas[y0 - wy0 : y1 - wy0 + 1, x0 - wx0 : x1 - wx0 + 1] = pixels[
            y0 - dy0 : y1 - dy0 + 1, x0 - dx0 : x1 - dx0 + 1
        ]
    note = (
        f"data window {dx1 - dx0 + 1}x{dy1 - dy0 + 1} at ({dx0}, {dy0}) placed in the {width}x{height} display window;"
        " the rest is background"
    )
    return canvas, [note]
