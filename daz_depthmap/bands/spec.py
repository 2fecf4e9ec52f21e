"""The ``--bands`` text form of a band plan.

Items separated by commas, near to far, one per band::

    DEPTH[:LEVELS[:LABEL[:COLOUR]]][@REGION]

``DEPTH``
    The band's far edge: a split depth. The last item has ``*`` instead: the band behind the last split, which
    ends at the far cutoff. Splits run from near to far (growing, or shrinking with inverted input).
``LEVELS``
    How many of the 256 8-bit levels the band gets (0..256). Bands given levels are locked; leave it out (or
    empty, ``170::desk``) to have the levels allocated (by depth span, pixel share or equally). When every band
    has levels they must add up to 256.
``LABEL``
    What the band holds, for messages and region prompts (any text without ``,`` ``:`` ``@``).
``COLOUR``
    Test colour: a CSS colour name or ``#rrggbb``.
``REGION``
    Regional Prompter region number, 0..359.

Examples: ``132:90,153.8:4,170:60,210:90,*:12`` (the original tool's five splits: person, desk, mirror frame,
reflection, background), ``132:90:face:orange@0,153.8:4:desk,170:60:mirror frame@1,210:90:reflection@2,*:12``,
``265,*`` (two bands, levels to allocate).
"""

from __future__ import annotations

import math
import re

from .colours import parse_colour
from .plan import MAX_REGION, TOTAL_LEVELS, Band, BandPlan

#: Characters a label cannot hold in the text form.
SPEC_SEPARATORS = ",:@"
_WHOLE = re.compile(r"[0-9]+")


class BandSpecError(ValueError):
    """A ``--bands`` text that cannot be read; ``str()`` names the item and what is wrong with it."""


def parse_band_spec(text: str, invert: bool = False, source: str = "--bands") -> BandPlan:
    """Read a plan from its text form (see the module docstring).

    ``invert``: the input grows toward the camera, so the splits must shrink from near to far. ``source`` names
    the text in messages (``"--bands item 3 '170:sixty': levels must be a whole number"``).

    Raises
    ------
    BandSpecError
        Naming the item (counted from 1) and what is wrong with it.
    """
    items = [item.strip() for item in text.split(",")]
    splits: list[float] = []
    bands: list[Band] = []
    given = 0
    for number, item in enumerate(items, start=1):
        where = f"{source} item {number} {item!r}"
        if not item:
            raise BandSpecError(f"{source} item {number} is empty (two commas in a row, or one at an end?)")
        last = number == len(items)
        depth, band = _parse_item(item, where, last)
        if depth is not None:
            if splits and not (depth > splits[-1] if not invert else depth < splits[-1]):
                relation = "farther than" if not invert else "farther (smaller, since inverted) than"
                raise BandSpecError(
                    f"{where}: the split {depth:g} must be {relation} the one before it, {splits[-1]:g}"
                )
            splits.append(depth)
        bands.append(band)
        given += band.levels
    total_given = all(band.locked for band in bands)
    if total_given and given != TOTAL_LEVELS:
        left = TOTAL_LEVELS - given
        rest = f"{left} left to give" if left > 0 else f"{-left} too many"
        raise BandSpecError(f"{source}: levels add up to {given} of {TOTAL_LEVELS}: {rest}")
    if given > TOTAL_LEVELS:
        raise BandSpecError(f"{source}: the levels given add up to {given}, more than the {TOTAL_LEVELS} there are")
    return BandPlan(tuple(splits), tuple(bands))


def _parse_item(item: str, where: str, last: bool) -> tuple[float | None, Band]:
    main, at, region_text = item.partition("@")
    if "@" in region_text:
        raise BandSpecError(f"{where}: only one '@REGION' per item")
    fields = [field.strip() for field in main.split(":")]
    if len(fields) > 4:
        raise BandSpecError(f"{where}: too many ':' parts; an item is DEPTH:LEVELS:LABEL:COLOUR@REGION")
    depth_text, levels_text, label, colour = (*fields, "", "", "")[:4]
    depth: float | None = None
    if depth_text == "*":
        if not last:
            raise BandSpecError(f"{where}: only the last item can be '*' (the band that ends at the far cutoff)")
    elif last:
        raise BandSpecError(
            f"{where}: the last item must start with '*': the band from the last split to the far cutoff"
        )
    else:
        try:
            depth = float(depth_text)
        except ValueError:
            raise BandSpecError(f"{where}: the split depth must be a number (or '*' for the last band)") from None
        if not math.isfinite(depth):
            raise BandSpecError(f"{where}: the split depth must be a finite number")
    levels = 0
    if levels_text:
        if not _WHOLE.fullmatch(levels_text):
            raise BandSpecError(f"{where}: levels must be a whole number 0..{TOTAL_LEVELS}")
        levels = int(levels_text)
        if levels > TOTAL_LEVELS:
            raise BandSpecError(f"{where}: levels must be at most {TOTAL_LEVELS}, not {levels}")
    if colour:
        try:
            parse_colour(colour)
        except ValueError as error:
            raise BandSpecError(f"{where}: {error}") from None
    region = None
    if at:
        region_text = region_text.strip()
        if not _WHOLE.fullmatch(region_text) or int(region_text) > MAX_REGION:
            raise BandSpecError(f"{where}: the region after '@' must be a whole number 0..{MAX_REGION}")
        region = int(region_text)
    return depth, Band(levels, label, colour, region, locked=bool(levels_text))


def format_band_spec(plan: BandPlan) -> str:
    """The text form of ``plan``: levels written for locked bands and bands that have some; empty otherwise.

    ``parse_band_spec(format_band_spec(plan))`` gives the plan back, with the bands written with levels locked.

    Raises
    ------
    ValueError
        If a label holds a character the text form uses as a separator (``,`` ``:`` ``@``).
    """
    items = []
    for i, band in enumerate(plan.bands):
        if any(c in band.label for c in SPEC_SEPARATORS):
            raise ValueError(f"{plan.name(i)}: a label in --bands cannot hold ',', ':' or '@'")
        depth = _number(plan.splits[i]) if i < len(plan.splits) else "*"
        levels = str(band.levels) if band.locked or band.levels else ""
        fields = [depth, levels, band.label, band.colour]
        while len(fields) > 1 and not fields[-1]:
            fields.pop()
        region = "" if band.region is None else f"@{band.region}"
        items.append(":".join(fields) + region)
    return ",".join(items)


def _number(value: float) -> str:
    """Shortest text that reads back as the same float: ``132``, ``153.8``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
