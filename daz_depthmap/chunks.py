"""Loops over the flat pixels of an image in cache-sized steps (every stage that walks full-size arrays uses them)."""

from __future__ import annotations

from collections.abc import Iterator

#: Pixels per step of the loops over :func:`pixel_slices` (1 MB of float32).
CHUNK_PIXELS = 1 << 18


def pixel_slices(size: int) -> Iterator[slice]:
    """Consecutive slices of at most :data:`CHUNK_PIXELS` covering ``range(size)``, for loops over flat pixels."""
    for start in range(0, size, CHUNK_PIXELS):
        yield slice(start, min(start + CHUNK_PIXELS, size))
