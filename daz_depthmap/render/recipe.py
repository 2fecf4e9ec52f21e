"""Recipes: the cutoffs, options and band plan of a depth map as a small versioned JSON document.

A recipe holds depth values, never pixels, so one recipe maps every frame of an animation the same way: with
both cutoffs given, a depth gets the same level in every frame (with ``compress_map`` the levels follow each
frame's own distinct depths, and with a cutoff left ``null`` that end follows each frame's depth range).
:func:`freeze_recipe` pins both ends of the window a frame was mapped with. The document::

    {
      "format": "daz-depthmap-recipe",
      "version": 1,
      "cutoffs": {"depth_cutoff": 420.0, "near_cutoff": 140.0},
      "options": {"compress_map": false, "mask": true, "noise": false, "seed": null, "bits": 16,
                  "invert": false, "channel": null},
      "bands": [
        {"end": 265.0, "levels": 150, "label": "near figure", "colour": "orange", "region": 0, "locked": true},
        {"end": null, "levels": 106, "label": "far figure", "region": 1}
      ]
    }

``cutoffs`` and ``options`` may leave out keys (the defaults apply) and ``bands`` may be left out (one band of
256 levels: the plain linear map). Each band's ``end`` is its far edge, a split depth; the last band's is
``null``: it ends at the far cutoff. Unknown keys and versions are refused, and every error names its place in
the document (``bands[2].levels: expected a whole number 0..256, got -3``).
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..bands.colours import parse_colour
from ..bands.plan import MAX_REGION, TOTAL_LEVELS, Band, BandPlan, check_window, level_problem
from ..depth.mapping import DepthRanks, DepthStats, DepthWindow, depth_window
from ..exr import DepthImage
from ..params import BITS, DepthParams, cutoff_problem
from .pipeline import DepthMap, render

RECIPE_FORMAT = "daz-depthmap-recipe"
RECIPE_VERSION = 1
#: A recipe file larger than this is refused unread (a real one is a few KiB).
MAX_RECIPE_BYTES = 1 << 20

_TOP_KEYS = ("format", "version", "cutoffs", "options", "bands")
_CUTOFF_KEYS = ("depth_cutoff", "near_cutoff")
_OPTION_KEYS = ("compress_map", "mask", "noise", "seed", "bits", "invert", "channel")
_BAND_KEYS = ("end", "levels", "label", "colour", "region", "locked")


class RecipeError(ValueError):
    """A recipe document that cannot be used; ``path`` is where in the document (``bands[2].levels``)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


@dataclass(frozen=True)
class Recipe:
    """The options (``params``; its ``depth_cutoff`` a number or ``None``, never ``"auto"``) and the band plan."""

    params: DepthParams = field(default_factory=DepthParams)
    plan: BandPlan = field(default_factory=BandPlan)

    def __post_init__(self) -> None:
        if isinstance(self.params.depth_cutoff, str):
            raise ValueError(
                f"a recipe holds depths: its depth_cutoff must be a number or None, not {self.params.depth_cutoff!r}"
            )

    @property
    def fixed(self) -> bool:
        """Both cutoffs are given: every frame gets the same window (and, mapped linearly, the same levels)."""
        return self.params.depth_cutoff is not None and self.params.near_cutoff is not None

    def window(self, stats: DepthStats) -> DepthWindow:
        """The window for a frame with these depth statistics (the cutoffs where given, its range otherwise)."""
        cutoff = self.params.depth_cutoff
        return depth_window(stats, cutoff, self.params.near_cutoff, self.params.invert)  # type: ignore[arg-type]


def freeze_recipe(params: DepthParams, plan: BandPlan, window: DepthWindow) -> Recipe:
    """A recipe of ``params`` and ``plan`` with both ends of ``window`` (the window a frame was mapped with) as
    its cutoffs, so that other frames are mapped exactly the same way."""
    return Recipe(params.with_(depth_cutoff=float(window.far), near_cutoff=float(window.near)), plan)


def apply_recipe(
    recipe: Recipe, image: DepthImage, stats: DepthStats | None = None, ranks: DepthRanks | None = None
) -> DepthMap:
    """Map ``image`` with the recipe: its window, bands, bit depth, mask (in depth) and noise.

    Raises
    ------
    NoDepthError
        When no pixel holds valid depth.
    ValueError
        When the cutoffs or the plan do not fit this frame (a split outside its window, a band of 0 levels that
        holds pixels).
    """
    return render(image, recipe.params, stats, ranks, recipe.plan)


# --------------------------------------------------------------------------------------------------------------
# To and from JSON


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as a JSON-ready dict (see the module docstring)."""
    p, plan = recipe.params, recipe.plan
    bands = []
    for i, band in enumerate(plan.bands):
        entry: dict[str, Any] = {"end": plan.splits[i] if i < len(plan.splits) else None, "levels": band.levels}
        if band.label:
            entry["label"] = band.label
        if band.colour:
            entry["colour"] = band.colour
        if band.region is not None:
            entry["region"] = band.region
        if band.locked:
            entry["locked"] = True
        bands.append(entry)
    return {
        "format": RECIPE_FORMAT,
        "version": RECIPE_VERSION,
        "cutoffs": {"depth_cutoff": p.depth_cutoff, "near_cutoff": p.near_cutoff},
        "options": {name: getattr(p, name) for name in _OPTION_KEYS},
        "bands": bands,
    }


def recipe_to_json(recipe: Recipe) -> str:
    """The recipe as JSON text (indented, ending with a newline)."""
    return json.dumps(recipe_to_dict(recipe), indent=2, allow_nan=False) + "\n"


def recipe_from_json(text: str) -> Recipe:
    """Read a recipe from JSON text (a leading byte order mark, as Notepad writes, is skipped).

    Raises
    ------
    RecipeError
        If the text is not JSON or not a recipe this program reads; the message names the place and the problem.
    """
    try:
        data = json.loads(text.removeprefix("\ufeff"), parse_constant=_no_constant)
        return recipe_from_dict(data)
    except json.JSONDecodeError as error:
        raise RecipeError("", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise RecipeError("", "not a recipe: nested too deeply") from None


def read_recipe_file(path: str | os.PathLike[str]) -> Recipe:
    """Read a recipe file: UTF-8 text (with or without a byte order mark) of at most :data:`MAX_RECIPE_BYTES`.

    Only a regular file is opened (a pipe would wait for a writer, a device never end), and no more is read than
    a recipe can hold.

    Raises
    ------
    RecipeError
        When the file holds no recipe this program reads.
    ValueError
        When it is no regular file, too large, or not UTF-8 text (the message says which).
    OSError
        When it cannot be read.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError("not a regular file (a pipe or a device?): not a recipe")
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(handle, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):  # swapped for another file meanwhile
            raise ValueError("not a regular file (a pipe or a device?): not a recipe")
        data = file.read(MAX_RECIPE_BYTES + 1)
    if len(data) > MAX_RECIPE_BYTES:
        raise ValueError(f"larger than {MAX_RECIPE_BYTES // 1024} KiB: not a recipe")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text: not a recipe") from None
    return recipe_from_json(text)


def _no_constant(name: str) -> None:
    raise RecipeError("", f"not JSON: {name} is not a JSON number")


def recipe_from_dict(data: object) -> Recipe:
    """Read a recipe from parsed JSON. Raises :class:`RecipeError` like :func:`recipe_from_json`."""
    top = _object(data, "", _TOP_KEYS, "the recipe")
    if top.get("format") != RECIPE_FORMAT:
        raise RecipeError("format", f"expected {RECIPE_FORMAT!r}, got {_show(top.get('format'))}: not a recipe")
    version = top.get("version")
    if not _whole(version):
        raise RecipeError("version", f"expected a whole number, got {_show(version)}")
    if version != RECIPE_VERSION:
        raise RecipeError("version", f"this program reads version {RECIPE_VERSION} recipes, not version {version}")
    cutoffs = _object(top.get("cutoffs", {}), "cutoffs", _CUTOFF_KEYS, "the cutoffs")
    options = _object(top.get("options", {}), "options", _OPTION_KEYS, "the options")
    values: dict[str, Any] = {}
    for name in _CUTOFF_KEYS:
        hint = " (a recipe holds depths: the cutoff a frame was mapped with)" if name == "depth_cutoff" else ""
        values[name] = _depth(cutoffs.get(name), f"cutoffs.{name}", nullable=True, hint=hint)
    for name in ("compress_map", "mask", "noise", "invert"):
        value = options.get(name, False)
        if not isinstance(value, bool):
            raise RecipeError(f"options.{name}", f"expected true or false, got {_show(value)}")
        values[name] = value
    seed = options.get("seed")
    if seed is not None and (not _whole(seed) or not 0 <= seed < 2**63):
        raise RecipeError("options.seed", f"expected null or a whole number 0..2**63-1, got {_show(seed)}")
    bits = options.get("bits", 8)
    if not _whole(bits) or bits not in BITS:
        raise RecipeError("options.bits", f"expected 8 or 16, got {_show(bits)}")
    channel = options.get("channel")
    if channel is not None and (not isinstance(channel, str) or not channel):
        raise RecipeError("options.channel", f"expected null or a channel name, got {_show(channel)}")
    params = DepthParams(seed=seed, bits=bits, channel=channel, **values)
    near, far = params.near_cutoff, params.depth_cutoff
    if near is not None and far is not None and not (near < far if not params.invert else near > far):
        relation = "nearer" if not params.invert else "nearer (larger, since inverted)"
        raise RecipeError("cutoffs.near_cutoff", f"{near:g} must be {relation} than the depth_cutoff {far:g}")
    plan = _plan(top["bands"], params) if "bands" in top else BandPlan()
    return Recipe(params, plan)


def _plan(data: object, params: DepthParams) -> BandPlan:
    if not isinstance(data, list) or not data:
        raise RecipeError("bands", f"expected a list of at least one band, got {_show(data)}")
    splits, bands = [], []
    for i, entry in enumerate(data):
        path = f"bands[{i}]"
        band = _object(entry, path, _BAND_KEYS, "a band")
        last = i == len(data) - 1
        end = band.get("end")
        if last:
            if end is not None:
                raise RecipeError(
                    f"{path}.end", f"expected null (the last band ends at the far cutoff), got {_show(end)}"
                )
        else:
            end = _depth(end, f"{path}.end", nullable=False, hint=" (only the last band's end is null)")
            if splits and not (end > splits[-1] if not params.invert else end < splits[-1]):
                relation = "farther" if not params.invert else "farther (smaller, since inverted)"
                raise RecipeError(f"{path}.end", f"{end:g} must be {relation} than bands[{i - 1}].end {splits[-1]:g}")
            splits.append(end)
        bands.append(_band(band, path))
    plan = BandPlan(tuple(splits), tuple(bands))
    problem = level_problem(plan)
    if problem:
        raise RecipeError("bands", problem)
    near, far = params.near_cutoff, params.depth_cutoff
    if near is not None and far is not None:
        try:
            check_window(plan, DepthWindow(near, far, params.invert, cutoff=True))
        except ValueError as error:
            raise RecipeError("bands", str(error)) from None
    return plan


def _band(band: Mapping[str, Any], path: str) -> Band:
    if "levels" not in band:
        raise RecipeError(f"{path}.levels", "missing: every band needs its levels")
    levels = band["levels"]
    if not _whole(levels) or not 0 <= levels <= TOTAL_LEVELS:
        raise RecipeError(f"{path}.levels", f"expected a whole number 0..{TOTAL_LEVELS}, got {_show(levels)}")
    label = band.get("label", "")
    if not isinstance(label, str) or "\n" in label or "\r" in label:
        raise RecipeError(f"{path}.label", f"expected one line of text, got {_show(label)}")
    colour = band.get("colour", "")
    if not isinstance(colour, str):
        raise RecipeError(f"{path}.colour", f"expected a colour name or #rrggbb, got {_show(colour)}")
    if colour:
        try:
            parse_colour(colour)
        except ValueError as error:
            raise RecipeError(f"{path}.colour", str(error)) from None
    region = band.get("region")
    if region is not None and (not _whole(region) or not 0 <= region <= MAX_REGION):
        raise RecipeError(f"{path}.region", f"expected null or a whole number 0..{MAX_REGION}, got {_show(region)}")
    locked = band.get("locked", False)
    if not isinstance(locked, bool):
        raise RecipeError(f"{path}.locked", f"expected true or false, got {_show(locked)}")
    return Band(levels, label, colour, region, locked)


def _object(data: object, path: str, known: tuple[str, ...], what: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise RecipeError(path, f"expected {what} as a JSON object, got {_show(data)}")
    for key in data:
        if key not in known:
            where = f"in {path}" if path else "at the top level"
            raise RecipeError(f"{path}.{key}" if path else key,
                              f"unknown key {where} (known: {', '.join(known)})")  # fmt: skip
    return data


def _depth(value: object, path: str, nullable: bool, hint: str = "") -> float | None:
    if value is None and nullable:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or isinstance(value, float)
        and not math.isfinite(value)
    ):
        expected = "a number or null" if nullable else "a depth number"
        raise RecipeError(path, f"expected {expected}{hint}, got {_show(value)}")
    problem = cutoff_problem(value)
    if problem is not None:
        raise RecipeError(path, problem)
    return float(value)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: object) -> str:
    """A value as the document would spell it."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
