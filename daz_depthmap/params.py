"""The processing options, described once for the CLI, the tab, the WebUI and the tests."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, Union

#: ``depth_cutoff`` is a number, ``"histo"`` (print advice, no clamp, as in the original tool),
#: ``"auto"`` (use the suggested cutoff) or ``None`` (no clamp: the farthest valid depth is black).
Cutoff = Union[float, Literal["histo", "auto"], None]

#: Depth values at or above this are renderer sentinels for "no hit" (Blender writes 1e10).
SENTINEL_DEPTH = 1e9

#: Images larger than this many pixels are refused before decoding (configurable).
DEFAULT_MAX_PIXELS = 100_000_000

BITS = (8, 16)


@dataclass(frozen=True)
class DepthParams:
    """How one depth image becomes a depth map.

    Attributes
    ----------
    depth_cutoff:
        Far end of the depth window in scene units; farther values are clamped to it and become black.
    near_cutoff:
        Near end of the window; nearer values are clamped to it and become white. ``None``: the nearest valid
        depth.
    compress_map:
        Rank the distinct depth values and spread them evenly over the output levels (removes empty ranges).
    mask:
        Also produce a mask: far plane (and background) black, everything else white.
    noise:
        Paint random grey levels into the far plane of the depth map (after the mask is taken).
    seed:
        Seed for the noise (0 or more); ``None`` draws a fresh one.
    bits:
        8 or 16 bits per pixel in the depth PNG.
    invert:
        The input grows toward the camera (disparity, normalised inverse depth): larger means nearer.
    channel:
        Explicit channel to read (``"Z"``, ``"depth.Z"``, or ``"part/channel"``); ``None`` picks one.
    """

    depth_cutoff: Cutoff = None
    near_cutoff: float | None = None
    compress_map: bool = False
    mask: bool = False
    noise: bool = False
    seed: int | None = None
    bits: int = 8
    invert: bool = False
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.bits not in BITS:
            raise ValueError(f"bits must be 8 or 16, not {self.bits}")
        for name in ("depth_cutoff", "near_cutoff"):
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, not {value}")
        if self.seed is not None and not (0 <= self.seed < 2**63):
            raise ValueError(f"the noise seed must be a whole number from 0 to 2**63-1, not {self.seed}")
        if isinstance(self.depth_cutoff, str) and self.depth_cutoff not in ("histo", "auto"):
            raise ValueError(f"depth_cutoff must be a number, 'histo' or 'auto', not {self.depth_cutoff!r}")

    @property
    def levels(self) -> int:
        """The brightest output level: 255 for 8-bit, 65535 for 16-bit."""
        return (1 << self.bits) - 1

    def with_(self, **changes: object) -> DepthParams:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_cutoff(text: str | float | None) -> Cutoff:
    """Parse a ``--depth_cutoff`` value: a number, ``histo`` or ``auto``.

    Raises
    ------
    ValueError
        With a message fit for the user when the text is neither.
    """
    if text is None or isinstance(text, (int, float)):
        return None if text is None else float(text)
    word = text.strip().lower()
    if word in ("histo", "auto"):
        return word  # type: ignore[return-value]
    try:
        value = float(word)
    except ValueError:
        raise ValueError(f"expected a number, 'histo' or 'auto', got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text!r}")
    return value
