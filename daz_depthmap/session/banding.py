"""A file's band plan as the tab edits it, and the plan a map is made with.

The plan a user edits may hold splits the current cutoffs leave outside the window (dragging the far cutoff nearer
must not destroy the bands behind it): they are kept, shown dimmed and ignored until the window holds them again.
:func:`settle` turns the user's plan into the one the map uses — the bands inside the window, the levels of the
unlocked ones allocated over the preview's pixels (or all of them as typed, in manual mode) — or says in words why
it cannot be used. A preview, Save, Process all and a send all use the settled plan, so what the page shows is what
is written.

Pure: numpy and the core, no gradio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np

from ..bands.colours import palette_colour, parse_colour
from ..bands.plan import (
    TOTAL_LEVELS,
    Allocation,
    Band,
    BandPlan,
    allocate,
    band_counts,
    band_index,
    check_levels,
    fit_plan,
)
from ..depth.mapping import DepthWindow


class LevelMode(str, Enum):
    """How the levels of a plan's bands are given: allocated by one of :class:`~daz_depthmap.bands.plan.Allocation`'s
    rules (locked bands kept), or all as typed."""

    PIXELS = Allocation.PIXELS.value
    DEPTH = Allocation.DEPTH.value
    EQUAL = Allocation.EQUAL.value
    MANUAL = "manual"


#: Views of the preview: the depth map, the bands in their test colours, the region map.
LOOKS = ("depth", "test", "regions")


@dataclass(frozen=True)
class BandSettings:
    """A file's bands as the user set them.

    Attributes
    ----------
    plan:
        The user's plan; its splits may lie outside the current window (ignored then).
    mode:
        How levels are given (:class:`LevelMode`).
    split_parts:
        The region map gives each connected part of a region its own number, left to right.
    min_area:
        Parts smaller than this many full-resolution pixels are no region.
    region_size:
        ``(width, height)`` of the region map written by Save; ``None``: the depth map's size.
    """

    plan: BandPlan = field(default_factory=BandPlan)
    mode: LevelMode = LevelMode.PIXELS
    split_parts: bool = False
    min_area: int = 0
    region_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", LevelMode(self.mode))
        if not isinstance(self.min_area, int) or self.min_area < 0:
            raise ValueError(f"the minimum part area must be a whole number of pixels, 0 or more, not {self.min_area}")
        if self.region_size is not None and (len(self.region_size) != 2 or min(self.region_size) < 1):
            raise ValueError(f"the region map size must be two positive numbers, not {self.region_size}")

    @property
    def banded(self) -> bool:
        """More than one band: the map is not the plain one."""
        return len(self.plan.bands) > 1


@dataclass(frozen=True)
class SettledBands:
    """The plan a map is made with, and what the page shows about the user's plan.

    Attributes
    ----------
    settings:
        The user's settings, with the levels in use written into the bands inside the window.
    plan:
        The plan to map with (bands inside the window, levels given, test colours resolved); ``None`` when the
        bands cannot be used (``problem`` says why) and the plain map is made instead.
    first:
        The user's band that is the first inside the window.
    inside:
        How many of the user's bands lie inside the window.
    counts:
        Sampled pixels per band of the user's plan (0 for bands outside the window).
    outside:
        The user's splits (0-based) outside the window.
    problem:
        Why the bands are not used, in words.
    """

    settings: BandSettings
    plan: BandPlan | None
    first: int
    inside: int
    counts: tuple[int, ...]
    outside: tuple[int, ...]
    problem: str | None

    @property
    def active(self) -> tuple[bool, ...]:
        """Per band of the user's plan: inside the window."""
        return tuple(self.first <= i < self.first + self.inside for i in range(len(self.settings.plan.bands)))

    @property
    def banded(self) -> bool:
        """The map is made with more than one band."""
        return self.plan is not None and len(self.plan.bands) > 1

    @property
    def regions(self) -> bool:
        """The plan in use paints a region map (a band in the window has a region number)."""
        return self.plan is not None and any(band.region is not None for band in self.plan.bands)

    def notes(self) -> list[str]:
        """What the page says besides the problem: splits ignored."""
        if not self.outside:
            return []
        splits = self.settings.plan.splits
        where = ", ".join(f"{i + 1} ({splits[i]:g})" for i in self.outside)
        word = "split" if len(self.outside) == 1 else "splits"
        return [f"{word} {where} outside the cutoffs: ignored until the cutoffs take them in again"]


def band_colour(plan: BandPlan, i: int) -> str:
    """Band ``i``'s test colour as ``#rrggbb``: its own, or the palette's for its place in the user's plan."""
    red, green, blue = parse_colour(plan.bands[i].colour or palette_colour(i))
    return f"#{red:02x}{green:02x}{blue:02x}"


def settle(settings: BandSettings, depth: np.ndarray, valid: np.ndarray, window: DepthWindow) -> SettledBands:
    """The plan to map ``depth`` with, its levels allocated over these pixels (a preview's sample of the image).

    Never raises for a plan that does not fit: the problem is returned in words and ``plan`` is ``None``. A
    window that holds a single band of the plan gives it all the levels (the plain map, in its colour).
    """
    user = settings.plan
    fitted = fit_plan(user, window)
    first, inside = fitted.first, len(fitted.plan.bands)
    bands = tuple(replace(b, colour=band_colour(user, first + j)) for j, b in enumerate(fitted.plan.bands))
    coloured = BandPlan(fitted.plan.splits, bands)
    counts = band_counts(band_index(depth, valid, coloured, window), inside)
    all_counts = [0] * len(user.bands)
    all_counts[first : first + inside] = (int(c) for c in counts)
    problem = None
    plan: BandPlan | None
    if inside == 1:
        plan = BandPlan((), (replace(bands[0], levels=TOTAL_LEVELS),))
    else:
        try:
            if settings.mode is LevelMode.MANUAL:
                check_levels(coloured, counts)
                plan = coloured
            else:
                plan = allocate(coloured, Allocation(settings.mode.value), window, counts)
        except ValueError as exc:
            plan, problem = None, str(exc)
    written = user
    if plan is not None and (inside > 1 or len(user.bands) == 1):  # one band left by the cutoffs keeps its levels
        given = list(user.bands)
        for j, band in enumerate(plan.bands):
            given[first + j] = replace(given[first + j], levels=band.levels)
        written = BandPlan(user.splits, tuple(given))
    return SettledBands(
        replace(settings, plan=written), plan, first, inside, tuple(all_counts), fitted.outside, problem
    )


def settings_from_page(data: object, invert: bool) -> BandSettings:
    """Band settings from the page's JSON (the ``bands`` of a live request, as :func:`~.view.band_view` sent them).

    Raises
    ------
    ValueError
        Saying what is wrong, with the band counted from 1.
    """
    if not isinstance(data, dict):
        raise ValueError("the bands arrived in an unknown form; reload the page")
    splits, rows = data.get("splits"), data.get("bands")
    if not isinstance(splits, list) or not isinstance(rows, list) or len(rows) != len(splits) + 1:
        raise ValueError("the bands arrived in an unknown form; reload the page")
    bands = []
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ValueError(f"band {i} arrived in an unknown form; reload the page")
        region = row.get("region")
        try:
            bands.append(
                Band(
                    levels=_whole(row.get("levels", 0), f"band {i}: levels"),
                    label=str(row.get("label") or ""),
                    colour=str(row.get("colour") or ""),
                    region=None if region in (None, "") else _whole(region, f"band {i}: region"),
                    locked=bool(row.get("locked", False)),
                )
            )
        except ValueError as exc:
            raise ValueError(str(exc) if str(exc).startswith(f"band {i}") else f"band {i}: {exc}") from None
    try:
        plan = BandPlan(tuple(float(s) for s in splits), tuple(bands))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the splits: {exc}") from None
    steps = np.diff(plan.splits)
    if len(steps) and (np.any(steps < 0) if not invert else np.any(steps > 0)):
        raise ValueError("the splits must run from near to far")
    size = data.get("region_size")
    region_size = None
    if size:
        if not isinstance(size, list) or len(size) != 2:
            raise ValueError("the region map size must be a width and a height")
        region_size = (_whole(size[0], "region map width"), _whole(size[1], "region map height"))
    mode = data.get("mode", LevelMode.PIXELS.value)
    if mode not in {m.value for m in LevelMode}:
        raise ValueError(f"levels are given by pixels, depth, equal or manual, not {mode!r}")
    return BandSettings(
        plan,
        LevelMode(mode),
        bool(data.get("split_parts", False)),
        _whole(data.get("min_area", 0) or 0, "minimum part area"),
        region_size,
    )


def _whole(value: object, what: str) -> int:
    """A whole number from the page (JSON numbers may arrive as 90.0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    if value != int(value):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    return int(value)
