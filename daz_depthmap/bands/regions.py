"""Region maps for Regional Prompter's Mask mode, painted from the bands of a plan.

Regional Prompter (hako-mikan/sd-webui-regional-prompter) recognises a region by its exact colour: region ``i``
is ``uint8(hsv_to_rgb(h(i), 0.5, 0.5) * 256)`` with hue ``h(0) = 0`` and, for ``i >= 1`` with
``c = ceil(log2(i + 1))``, ``h(i) = (2 * (i - 2**(c-1)) + 1) / 2**c`` turns (0, 1/2, 1/4, 3/4, 1/8, ...). Any
other colour, black included, is "no region". So the map is painted in exactly these colours, never smoothed, and
resized only nearest-neighbour (an anti-aliased edge pixel would be no region).

Regional Prompter deals the region prompts to the colours present by rank: the lowest region number present gets
the first prompt, and so on. Region numbers are therefore renumbered 0, 1, 2, ... over what the map holds, in the
order of the plan's numbers (and of the parts, left to right, when a band's region is split into its connected
parts); :attr:`RegionMap.notes` says what changed. Without "Use base prompt", every pixel in no region goes to the
first region's prompt; with it, the first prompt chunk is the base prompt and uncoloured pixels get it alone.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..chunks import pixel_slices
from ..printable import shown_label
from .colours import RGB
from .plan import MAX_REGION, BandPlan, band_counts

#: What Regional Prompter reads as "no region" (any colour outside its table; black is the plain choice).
NO_REGION: RGB = (0, 0, 0)
#: The separator between prompt chunks in Mask mode.
BREAK = " BREAK\n"


def region_colour(number: int) -> RGB:
    """Regional Prompter's colour of region ``number`` (0..359), exactly as its ``deterministic_colours``."""
    if not 0 <= number <= MAX_REGION:
        raise ValueError(f"a region number must be 0..{MAX_REGION}, not {number}")
    if number == 0:
        hue = 0.0
    else:
        c = number.bit_length()  # ceil(log2(number + 1))
        hue = (2 * (number - 2 ** (c - 1)) + 1) / 2**c
    red, green, blue = (int(v * 256) for v in colorsys.hsv_to_rgb(hue, 0.5, 0.5))  # truncated, as RP's cast
    return red, green, blue


@dataclass(frozen=True)
class Region:
    """One region of a region map.

    Attributes
    ----------
    number:
        The region number in the map (0, 1, 2, ... without holes): the rank Regional Prompter gives it.
    requested:
        The region number the plan's bands asked for.
    part:
        1, 2, ... left to right when the region was split into its connected parts; 0 when it was not.
    bands:
        The plan's bands (0 = nearest) painted in this region.
    label:
        The bands' labels (plus the part number), or ``region N``: the region's line of the prompt skeleton.
    pixels:
        Its pixel count in the map.
    colour:
        Its RGB colour.
    """

    number: int
    requested: int
    part: int
    bands: tuple[int, ...]
    label: str
    pixels: int
    colour: RGB


@dataclass(frozen=True)
class RegionMap:
    """An RGB region map (``(height, width, 3)`` uint8), its regions in number order, and what was changed."""

    image: np.ndarray
    regions: tuple[Region, ...]
    notes: tuple[str, ...]

    @property
    def renumbered(self) -> dict[int, tuple[int, ...]]:
        """For each region number asked for and present, the numbers it got (several when split into parts)."""
        out: dict[int, tuple[int, ...]] = {}
        for region in self.regions:
            out[region.requested] = (*out.get(region.requested, ()), region.number)
        return out


def region_map(
    index: np.ndarray,
    plan: BandPlan,
    size: tuple[int, int] | None = None,
    split_parts: bool = False,
    min_area: int = 0,
) -> RegionMap:
    """Paint every band that has a region number in Regional Prompter's colour; all else is black (no region).

    Parameters
    ----------
    index:
        The :func:`~daz_depthmap.bands.plan.band_index` image (-1 for the far plane and background: no region).
    plan:
        The plan whose bands' ``region`` numbers are painted; bands sharing a number share the region.
    size:
        ``(width, height)`` of the map, the generation's size; resized nearest-neighbour. ``None``: as ``index``.
    split_parts:
        Make each connected part (8-connected) of a region a region of its own, numbered left to right by its
        leftmost pixel (then its top): two figures side by side at the same depth.
    min_area:
        Connected parts smaller than this many pixels (before resizing) are specks: left as no region.

    Raises
    ------
    ValueError
        If the map would hold more regions than Regional Prompter's 360, or ``size`` is not positive.
    """
    requested = np.array([-1 if band.region is None else band.region for band in plan.bands] + [-1], np.int32)
    notes: list[str] = []
    in_band = band_counts(index, len(plan.bands))
    present = sorted({int(requested[b]) for b in np.flatnonzero(in_band) if requested[b] >= 0})
    if size is not None:
        width, height = size
        if width < 1 or height < 1:
            raise ValueError(f"the region map size must be positive, not {width}x{height}")
    keys: list[tuple[int, int]] = []  # (requested region, part) per key, in key order
    if split_parts or min_area > 0:
        key_image = _part_keys(index, requested, present, plan, split_parts, min_area, keys, notes)
        if size is not None and (height, width) != key_image.shape:
            key_image = cv2.resize(key_image, (width, height), interpolation=cv2.INTER_NEAREST)
        pixels = band_counts(key_image, len(keys))
        per_key = key_image
        band_key = None
    else:  # a band's pixels are all one key: the map is painted from the band index itself, no key image
        key_of = np.full(MAX_REGION + 2, -1, np.int16)
        key_of[present] = np.arange(len(present))
        band_key = key_of[requested]  # per band, and last for index -1: no region
        keys = [(region, 0) for region in present]
        counts = in_band
        if size is not None and (height, width) != index.shape:
            index = cv2.resize(index, (width, height), interpolation=cv2.INTER_NEAREST)
            counts = band_counts(index, len(plan.bands))
        pixels = np.zeros(len(keys), np.int64)
        np.add.at(pixels, band_key[:-1][band_key[:-1] >= 0], counts[band_key[:-1] >= 0])
        per_key = index
    shown = np.flatnonzero(pixels)
    if len(shown) > MAX_REGION + 1:
        raise ValueError(_too_many(len(shown)))
    palette = np.zeros((len(keys) + 1, 3), np.uint8)  # the last row, for key -1, stays black
    regions = []
    for number, key in enumerate(shown):
        region, part = keys[key]
        palette[key] = region_colour(number)
        bands = tuple(i for i, band in enumerate(plan.bands) if band.region == region)
        label = ", ".join(dict.fromkeys(plan.bands[i].label for i in bands if plan.bands[i].label))
        label = f"{label} {part}" if label and part else label or f"region {number}"
        regions.append(Region(number, region, part, bands, label, int(pixels[key]), region_colour(number)))
    notes.extend(_renumbering_notes(plan, regions))
    if band_key is not None:  # a colour per band (the band index's -1, last, stays black)
        palette = palette[band_key]
    image = _paint(per_key, palette)
    return RegionMap(image, tuple(regions), tuple(notes))


def _part_keys(
    index: np.ndarray,
    requested: np.ndarray,
    present: list[int],
    plan: BandPlan,
    split_parts: bool,
    min_area: int,
    keys: list[tuple[int, int]],
    notes: list[str],
) -> np.ndarray:
    """The key of every pixel (int16, -1: no region) when regions are split into their connected parts or specks
    are dropped; ``keys`` and ``notes`` are filled in. One region's mask and connected parts at a time, every other
    step a slice of pixels at a time."""
    key_image = np.full(index.shape, -1, np.int16)
    flat_index, flat_keys = index.reshape(-1), key_image.reshape(-1)
    mask = np.empty(index.shape, np.uint8)
    flat_mask = mask.reshape(-1)
    for region in present:
        in_region = (requested == region).view(np.uint8)  # per band, and last for index -1 (never)
        for part in pixel_slices(flat_index.size):
            np.take(in_region, flat_index[part], out=flat_mask[part])
        count, components, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)
        area = stats[1:, cv2.CC_STAT_AREA]
        kept = np.flatnonzero(area >= min_area) + 1
        specks = count - 1 - len(kept)
        if specks:
            what = "1 speck" if specks == 1 else f"{specks} specks"
            notes.append(f"{_name(plan, region)}: {what} under {min_area} pixels left as no region")
        if len(keys) + (len(kept) if split_parts else 1) > MAX_REGION + 1:
            raise ValueError(_too_many(len(keys) + len(kept)))
        lookup = np.full(count, -1, np.int16)
        if split_parts:
            kept = kept[np.lexsort((stats[kept, cv2.CC_STAT_TOP], stats[kept, cv2.CC_STAT_LEFT]))]
            parts = len(kept) if len(kept) > 1 else 0
            for number, component in enumerate(kept, start=1):
                lookup[component] = len(keys)
                keys.append((region, number if parts else 0))
        elif len(kept):
            lookup[kept] = len(keys)
            keys.append((region, 0))
        flat_components = components.reshape(-1)
        for part in pixel_slices(flat_index.size):
            np.copyto(flat_keys[part], lookup[flat_components[part]], where=flat_mask[part].view(bool))
        del components, flat_components
    return key_image


def _paint(key_image: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """``palette[key]`` per pixel (key -1 takes the last row), a slice of pixels at a time."""
    out = np.empty((*key_image.shape, 3), np.uint8)
    flat_keys, flat_out = key_image.reshape(-1), out.reshape(-1, 3)
    for part in pixel_slices(flat_keys.size):
        np.take(palette, flat_keys[part], axis=0, out=flat_out[part])
    return out


def _name(plan: BandPlan, region: int) -> str:
    labels = [shown_label(band.label) for band in plan.bands if band.region == region and band.label]
    return f"region {region} ({', '.join(dict.fromkeys(labels))})" if labels else f"region {region}"


def _too_many(count: int) -> str:
    return (
        f"the region map would hold {count} regions, but Regional Prompter takes at most {MAX_REGION + 1}: "
        "raise the minimum area of a part or split fewer regions"
    )


def _renumbering_notes(plan: BandPlan, regions: Sequence[Region]) -> list[str]:
    notes = []
    for region in sorted({band.region for band in plan.bands if band.region is not None}):
        numbers = [r.number for r in regions if r.requested == region]
        if not numbers:
            notes.append(f"{_name(plan, region)} holds no pixels in the map and is left out")
        elif len(numbers) > 1:
            notes.append(f"{_name(plan, region)} is {len(numbers)} parts, left to right regions "
                         f"{', '.join(map(str, numbers))}")  # fmt: skip
        elif numbers[0] != region:
            notes.append(f"{_name(plan, region)} is region {numbers[0]} in the map")
    return notes


def resize_nearest(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` = ``(width, height)`` nearest-neighbour: no new colours appear."""
    width, height = size
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)


def region_prompt(regions: Sequence[Region], base: str | None = None) -> str:
    """A prompt skeleton for Mask mode: one chunk per region, in region order, joined by ``BREAK``.

    ``"face BREAK\\nmirror frame BREAK\\nreflection"``. Without a base, Regional Prompter gives every pixel in no
    region to the first chunk (the first region's prompt). With ``base`` (tick "Use base prompt"), ``base`` is
    the first chunk: uncoloured pixels get it alone, and it is mixed into every region by the base ratio.
    """
    chunks = [region.label for region in regions]
    if base is not None:
        chunks.insert(0, base)
    return BREAK.join(chunks)
