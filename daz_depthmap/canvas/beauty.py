"""The render itself as an 8-bit sRGB image, for ControlNet's pose preprocessors (OpenPose, DWPose).

A PNG or JPEG render is used as DAZ Studio saved it. A Beauty canvas is linear, unbounded float colour: it is
exposed so that the 99th percentile of luminance (Rec. 709 weights) becomes white, clipped to 0..1, encoded with
the sRGB transfer function and rounded half up. No filmic curve: pose detectors need edges and skin tones, not a
look, and a plain exposure keeps the colours as rendered. OpenEXR stores colour premultiplied by alpha, so leaving
out the alpha channel is compositing over black.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..chunks import pixel_slices
from ..exr import DepthReadError, read_vectors
from ..params import DEFAULT_MAX_PIXELS
from .sets import IMAGE_SUFFIXES

#: The luminance percentile that becomes white.
WHITE_PERCENTILE = 99.0
#: Rec. 709 (sRGB primaries) luminance weights for R, G, B.
LUMINANCE_WEIGHTS = (0.2126, 0.7152, 0.0722)
#: The exposure is measured on a regular grid of about this many pixels.
_SAMPLE_PIXELS = 250_000
#: Entries of the linear -> sRGB 8-bit table: 16 bits of linear input keep the darkest sRGB steps exact.
_TABLE_SIZE = 1 << 16


@dataclass(frozen=True, eq=False)
class BeautyImage:
    """An 8-bit RGB render: ``image`` is uint8 (height, width, 3) in RGB order; ``notes`` say what was done."""

    image: np.ndarray
    name: str = ""
    notes: tuple[str, ...] = ()


def _srgb_table() -> np.ndarray:
    """Linear 0..1 in :data:`_TABLE_SIZE` steps -> sRGB 8-bit, rounded half up."""
    linear = np.arange(_TABLE_SIZE, dtype=np.float64) / (_TABLE_SIZE - 1)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.floor(encoded * 255 + 0.5).astype(np.uint8)


def exposure_scale(rgb: np.ndarray, white_percentile: float = WHITE_PERCENTILE) -> float:
    """The factor that makes the ``white_percentile``-th percentile of luminance 1.0 (1.0 for a black image).

    Measured over a regular grid of about 250,000 pixels, ignoring NaN, infinite and black pixels.
    """
    if not 0 < white_percentile <= 100:
        raise ValueError(f"the white percentile must lie in 0 < p <= 100, not {white_percentile}")
    height, width = rgb.shape[:2]
    stride = max(1, math.ceil(math.sqrt(height * width / _SAMPLE_PIXELS)))
    sample = rgb[::stride, ::stride].reshape(-1, 3).astype(np.float64)
    with np.errstate(invalid="ignore"):
        luminance = sample @ np.asarray(LUMINANCE_WEIGHTS)
        luminance = luminance[np.isfinite(luminance) & (luminance > 0)]
    if luminance.size == 0:
        return 1.0
    white = float(np.percentile(luminance, white_percentile))
    return 1.0 / white if white > 0 else 1.0


def tone_map(rgb: np.ndarray, scale: float | None = None, white_percentile: float = WHITE_PERCENTILE) -> np.ndarray:
    """Linear float colour (height, width, 3) -> uint8 sRGB, RGB order.

    Parameters
    ----------
    rgb:
        Linear scene colour, any range. NaN and negative values become black, +inf white.
    scale:
        Exposure factor; ``None``: :func:`exposure_scale` with ``white_percentile``.
    """
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.size == 0 or array.dtype.kind != "f":
        raise ValueError(f"expected a float (height, width, 3) colour image, got {array.dtype} {array.shape}")
    if scale is None:
        scale = exposure_scale(array, white_percentile)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"the exposure scale must be a positive number, not {scale}")
    table = _srgb_table()
    out = np.empty(array.shape, np.uint8)
    flat_in, flat_out = array.reshape(-1, 3), out.reshape(-1, 3)
    for part in pixel_slices(len(flat_in)):
        values = np.array(flat_in[part], np.float32)
        np.nan_to_num(values, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
        values *= np.float32(scale * (_TABLE_SIZE - 1))
        np.clip(values, 0, _TABLE_SIZE - 1, out=values)
        values += np.float32(0.5)
        np.take(table, values.astype(np.uint16), out=flat_out[part], mode="clip")
    return out


def read_beauty(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> BeautyImage:
    """The render for pose detection: a PNG/JPEG as it is, a Beauty canvas EXR tone-mapped (:func:`tone_map`).

    Raises
    ------
    DepthReadError
        When the file cannot be read (missing, damaged, not an image, too large, an EXR without R, G, B).
    """
    path = Path(path)
    if path.suffix.lower() == ".exr":
        canvas = read_vectors(path, max_pixels=max_pixels, kind="colour")
        scale = exposure_scale(canvas.vectors)
        note = (
            f"linear colour exposed by {scale:.4g} (the {WHITE_PERCENTILE:g}th percentile of luminance is white), "
            "sRGB-encoded; alpha left out (over black)"
        )
        return BeautyImage(tone_map(canvas.vectors, scale), path.name, (*canvas.notes, note))
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DepthReadError(path, "a render must be an EXR Beauty canvas or a PNG or JPEG image")
    try:
        data = np.fromfile(path, np.uint8)  # cv2.imread cannot open non-ASCII paths on Windows
    except OSError as exc:
        raise DepthReadError(path, f"cannot be read ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DepthReadError(path, "not a readable PNG or JPEG image")
    height, width = image.shape[:2]
    if height * width > max_pixels:
        raise DepthReadError(path, f"{width}x{height} pixels is above the limit of {max_pixels:,} pixels")
    return BeautyImage(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), path.name, ("the render image, as saved",))
