"""Command line, compatible with the original ``format_depthmap.py``.

python -m daz_depthmap [--depth_cutoff N|histo|auto] [--compress_map] [--noise] [--mask] FILE.exr [FILE.exr ...]

The options' flags, help texts and bounds come from :data:`daz_depthmap.params.OPTIONS`.

Canvas sets
-----------
The files given are grouped by :func:`daz_depthmap.canvas.sets.group_canvases`: the canvases of one DAZ Studio render
(``scene-Canvas2-Depth.exr``, ``scene-Canvas3-Normal.exr``, ``scene-Canvas1-Beauty.exr``, and ``scene.png`` as the
render) are one item of the batch, named after the scene, at the position of its first file among the arguments.
Its outputs are named after the scene: ``scene.depth.png`` (and ``.mask``, ``.regions``, ``.test``) from its Depth
canvas, ``scene.normal.png`` with ``--normal`` (or ``--normal_from_depth``), ``scene.beauty.png`` from a Beauty
canvas (a PNG/JPEG render is not rewritten). Any other ``.exr`` is a plain depth file, mapped and named as before;
a file that fits nothing is one error line.

A set fails as a whole: when any part it writes cannot be read or made (its Depth canvas, its Normal canvas with
``--normal``, its Beauty canvas; sizes that differ inside the set), it is one error line naming the file and the
problem, and nothing is written for it: every output of a set is encoded first and written by one
:func:`~daz_depthmap.output.png.save_outputs` call at the end. ``--normal`` for a set without a Normal canvas (and
without ``--normal_from_depth``) is a warning, not a failure.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from ..bands.plan import (
    Allocation,
    BandPlan,
    band_counts,
    band_index,
    number_regions,
    paint_bands,
    plan_for_image,
)
from ..bands.regions import region_map
from ..bands.spec import parse_band_spec
from ..canvas.beauty import read_beauty
from ..canvas.normals import LARGE_ERROR_DEG, NormalMap
from ..canvas.normals.options import BACKGROUNDS, CONVENTIONS, NormalOptions, describe_normals, set_normal_map
from ..canvas.sets import CanvasFile, CanvasGrouping, CanvasSet, group_canvases
from ..depth.histogram import advice_lines
from ..depth.mapping import DepthWindow, depth_stats, to_8bit
from ..exr import DepthImage, DepthReadError, MissingBindingsError, NoDepthChannelError, read_depth
from ..exr.library_output import native_stderr_silenced
from ..output.names import (
    BEAUTY_SUFFIX,
    NORMAL_SUFFIX,
    REGIONS_SUFFIX,
    TEST_SUFFIX,
    StemClaims,
    output_path,
    output_paths,
    stem_of,
)
from ..output.png import save_outputs, write_atomic
from ..params import OPTIONS, DepthParams
from ..printable import shown_name
from ..render.pipeline import DepthMap, NoDepthError, render, window_of
from ..render.recipe import RecipeError, freeze_recipe, recipe_from_json, recipe_to_json
from .options import add_max_pixels_argument, add_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m daz_depthmap",
        description="Turn depth EXRs (DAZ Studio Iray depth canvas, Blender Z, ...) into ControlNet depth maps: "
        "near is white, far is black. Writes NAME.depth.png (and NAME.mask.png) next to each input. The canvases of "
        "one DAZ Studio render given together (SCENE-Canvas2-Depth.exr, SCENE-Canvas3-Normal.exr, "
        "SCENE-Canvas1-Beauty.exr, SCENE.png) are one set, whose outputs are named SCENE.*.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE.exr",
        help="one or more .exr files: depth files, and canvases named SCENE-CANVAS-TYPE.exr (with the render "
        "SCENE.png or .jpg, which must come with its canvases)",
    )
    for option in OPTIONS:
        add_option(parser, option)
    bands = parser.add_argument_group("depth bands and region maps")
    bands.add_argument(
        "--bands",
        default=None,
        metavar="SPEC|auto",
        help="split the depth window into bands, each with its own levels, near to far: DEPTH[:LEVELS[:LABEL"
        "[:COLOUR]]][@REGION],...,*[:LEVELS...] (e.g. '265:150:near figure@0,*:106:far figure@1'); bands without "
        "LEVELS share what is left by --allocate; 'auto' splits at the histogram's gaps",
    )
    bands.add_argument(
        "--allocate",
        choices=[mode.value for mode in Allocation],
        default=None,
        help="how bands without levels share them: by pixel share (default), depth span (the linear map), equally",
    )
    bands.add_argument(
        "--recipe",
        type=Path,
        default=None,
        metavar="FILE.json",
        help="map with a saved recipe: cutoffs, options, bands",
    )
    bands.add_argument(
        "--save_recipe",
        "--save-recipe",
        type=Path,
        default=None,
        metavar="FILE.json",
        help="save the recipe the first file was mapped with (both cutoffs fixed), to map other frames the same way",
    )
    bands.add_argument(
        "--regions",
        action="store_true",
        help="also write NAME.regions.png for Regional Prompter's Mask mode: each band with a region number in its "
        "colour (without numbers, every band holding pixels is a region, 0, 1, 2... from near to far)",
    )
    bands.add_argument(
        "--split_parts", "--split-parts", action="store_true", help="make each connected part of a region its own"
    )
    bands.add_argument(
        "--min_area", "--min-area", type=int, default=0, metavar="PX", help="parts smaller than this are no region"
    )
    bands.add_argument(
        "--region_size",
        "--region-size",
        type=_size,
        default=None,
        metavar="WxH",
        help="region map size (the " "generation's, e.g. 512x768; nearest-neighbour)",
    )
    bands.add_argument(
        "--test_colours",
        "--test-colours",
        action="store_true",
        help="also write NAME.test.png: each band in its colour",
    )
    add_normal_arguments(parser)
    parser.add_argument("--out_dir", "--out-dir", type=Path, default=None, help="write outputs here")
    add_max_pixels_argument(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems and histogram advice")
    return parser


def add_normal_arguments(parser: argparse.ArgumentParser) -> None:
    """The "canvas sets: normal maps" group: ``--normal`` and how the map is made."""
    normals = parser.add_argument_group(
        "canvas sets: normal maps",
        "A set is recognised from the file names given: SCENE-CANVAS-TYPE.exr, TYPE Depth, Normal or Beauty. It "
        "writes SCENE.depth.png (and the other depth outputs) from its Depth canvas, SCENE.normal.png with "
        "--normal, SCENE.beauty.png from a Beauty canvas (sRGB, 8-bit; a PNG/JPEG render is not rewritten). A set "
        "fails as a whole: if any part it writes cannot be read or made, or its canvases differ in size, nothing "
        "is written for it and the batch goes on. The options below need --normal or --normal_from_depth.",
    )
    normals.add_argument(
        "--normal",
        action="store_true",
        help="also write SCENE.normal.png from each set's Normal canvas (a set without one is a warning)",
    )
    normals.add_argument(
        "--normal_from_depth",
        "--normal-from-depth",
        action="store_true",
        help="implies --normal; compute the normals from the depth when a set has no Normal canvas (a plain "
        "depth file gets NAME.normal.png too)",
    )
    normals.add_argument(
        "--normal_convention",
        "--normal-convention",
        choices=list(CONVENTIONS),
        default=None,
        help="bae: control_v11p_sd15_normalbae / DSINE colours (default); sd15: ControlNet 1.0's channel order",
    )
    normals.add_argument(
        "--normal_background",
        "--normal-background",
        choices=list(BACKGROUNDS),
        default=None,
        help="pixels without a normal: the colour of a camera-facing normal (camera, the default) or black",
    )
    normals.add_argument(
        "--focal_mm",
        "--focal-mm",
        type=_millimetres,
        default=None,
        metavar="MM",
        help="the camera's focal length (default: the EXR header's, else DAZ Studio's 65 mm)",
    )
    normals.add_argument(
        "--film_mm",
        "--film-mm",
        type=_millimetres,
        default=None,
        metavar="MM",
        help="the camera's film width (default: the EXR header's, else 36 mm)",
    )


def _millimetres(text: str) -> float:
    """An argparse type: a positive, finite number of millimetres."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of millimetres, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of millimetres, got {text!r}")
    return value


def _normal_options(args: argparse.Namespace) -> NormalOptions | None:
    """The normal map options, ``None`` without --normal / --normal_from_depth (then the other normal flags are
    refused: they would do nothing)."""
    given = [
        flag
        for flag, value in (
            ("--normal_convention", args.normal_convention),
            ("--normal_background", args.normal_background),
            ("--focal_mm", args.focal_mm),
            ("--film_mm", args.film_mm),
        )
        if value is not None
    ]
    if not (args.normal or args.normal_from_depth):
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise ValueError(f"{', '.join(given)} {verb} only with --normal or --normal_from_depth")
        return None
    return NormalOptions(
        args.normal_convention or "bae",
        args.normal_background or "camera",
        args.focal_mm,
        args.film_mm,
        args.normal_from_depth,
    )


def _band_spec(text: str | None, invert: bool) -> BandPlan | str | None:
    """The plan ``--bands`` gives (splits checked to run near to far, which depends on ``--invert``)."""
    if text is None or text.strip().lower() == "auto":
        return text and "auto"
    return parse_band_spec(text, invert)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 512x768, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return width, height


@dataclass(frozen=True)
class Job:
    """What the command line does with every file: options, bands and which outputs."""

    params: DepthParams
    bands: BandPlan | str | None = None  # a plan, "auto", or None (one band)
    allocate: str | None = Allocation.PIXELS.value  # None: the levels as given (a recipe's)
    regions: bool = False
    split_parts: bool = False
    min_area: int = 0
    region_size: tuple[int, int] | None = None
    test_colours: bool = False


def _band_lines(plan: BandPlan, index: np.ndarray, window: DepthWindow) -> list[str]:
    """One line per band: its depths, share of the valid pixels and levels (the histogram advice's companion)."""
    counts = band_counts(index, len(plan.bands))
    valid = max(int(counts.sum()), 1)
    lines = []
    for i, ((start, end), band) in enumerate(zip(plan.ranges(window), plan.bands, strict=True)):
        region = f", region {band.region}" if band.region is not None else ""
        lines.append(
            f"** {plan.name(i)}: {start:g} to {end:g}, {counts[i] / valid * 100:.2f}% of the pixels in the window, "
            f"{band.levels} levels{region}"
        )
    return lines


@dataclass(frozen=True)
class FileReport:
    """What the command line says about a file or set it wrote: one summary line, and warnings (one line each); the
    plan and map its depth was written with (for --save_recipe)."""

    summary: str
    warnings: list[str]
    plan: BandPlan | None = None
    result: DepthMap | None = None


class NothingToWrite(Exception):
    """A canvas set with no part the command line can write (said in one line)."""


@dataclass
class _Outputs:
    """What one file or set will write (nothing is written until all of it is made), and what its line says."""

    outputs: list[tuple[Path, np.ndarray]] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    plan: BandPlan | None = None
    result: DepthMap | None = None
    image: DepthImage | None = None
    size: tuple[str, int, int] | None = None  # (what, width, height) of the first part read: the set's size

    def check_size(self, path: Path, what: str, width: int, height: int) -> None:
        """Refuse a part of another size than the set's first (naming both files)."""
        if self.size is None:
            self.size = (f"the {what} {path.name}", width, height)
            return
        other, other_width, other_height = self.size
        if (other_width, other_height) != (width, height):
            raise DepthReadError(
                path,
                f"the {what} is {width}x{height} pixels but {other} is {other_width}x{other_height}: they must come "
                "from the same render at the same size",
            )


def _depth_outputs(
    path: Path, job: Job, out_dir: Path | None, max_pixels: int, out: TextIO, protect: Sequence[Path], stem: str | None
) -> _Outputs:
    """Read and map one depth file: the depth map and what the options add (mask, regions, test colours)."""
    params = job.params
    image = read_depth(path, params.channel, max_pixels)
    stats = depth_stats(image.depth, image.valid)
    try:
        window, _ = window_of(image, params, stats)
        plan = plan_for_image(job.bands, image.depth, image.valid, stats, window, job.allocate)
        index = None  # which band each pixel is in (int16, 2 bytes a pixel): only for what needs it
        if job.regions or job.test_colours or (plan and params.depth_cutoff == "histo"):
            index = band_index(image.depth, image.valid, plan or BandPlan(), window)
        if params.depth_cutoff == "histo":
            if len(protect) > 1:
                print(f"== {path.name}", file=out)
            advice = advice_lines(image.depth, stats)
            print("\n".join([*advice, *(_band_lines(plan, index, window) if plan and index is not None else [])]),
                  file=out)  # fmt: skip
        result = render(image, params, stats, plan=plan)
    except (NoDepthError, ValueError) as exc:
        raise DepthReadError(path, str(exc)) from None
    depth_path, mask_path = output_paths(path, out_dir, stem)
    outputs = [(depth_path, result.depth)] + ([(mask_path, result.mask)] if result.mask is not None else [])
    notes = []
    if job.regions and index is not None:
        painted = plan or BandPlan()
        if not any(band.region is not None for band in painted.bands):
            painted = number_regions(painted, band_counts(index, len(painted.bands)))
        regions = region_map(index, painted, job.region_size, job.split_parts, job.min_area)
        outputs.append((output_path(path, REGIONS_SUFFIX, out_dir, stem), regions.image))
        named = [f"{r.number} {r.label}" for r in regions.regions if r.label != f"region {r.number}"]
        notes.append(f"{len(regions.regions)} regions" + (f" ({', '.join(named)})" if named else ""))
        notes.extend(regions.notes)
    if job.test_colours and index is not None:
        test = paint_bands(to_8bit(result.depth), index, plan or BandPlan())
        outputs.append((output_path(path, TEST_SUFFIX, out_dir, stem), test))
    parts = [
        f"channel {image.channel}",
        f"{image.width}x{image.height}",
        f"depth {stats.nearest:g}..{stats.farthest:g}",
        f"window {result.window.near:g}..{result.window.far:g}",
    ]
    if stats.invalid_count:
        parts.append(f"{stats.invalid_count} background px")
    if result.suggestion is not None:
        parts.append(f"auto: {result.suggestion.reason}")
    if plan is not None:
        splits = ", ".join(f"{split:g}" for split in plan.splits)
        levels = ", ".join(str(band.levels) for band in plan.bands)
        parts.append(f"{len(plan.bands)} bands split at {splits} ({levels} levels)")
    parts.extend(notes)
    made = _Outputs(outputs, parts, list(result.warnings), plan, result, image)
    made.check_size(path, "Depth canvas", image.width, image.height)
    return made


def _normal_warnings(result: NormalMap) -> list[str]:
    """The notes of a normal map a user must hear (on stderr, also with -q): the ones
    :func:`~daz_depthmap.canvas.normals.normal_map_from_canvas` puts first (world space found or a rotation applied, a
    large disagreement with the depth, an empty canvas) and the count of NaN or infinite pixels (its last note)."""
    report = result.report
    height, width = result.image.shape[:2]
    leading = sum(
        (
            report.looks_world or (report.rotation is not None and report.rotation_source != "given"),
            report.depth_error_deg is not None and report.depth_error_deg > LARGE_ERROR_DEG,
            report.background_pixels >= height * width,
        )
    )
    warnings = list(report.notes[:leading])
    if report.nonfinite_pixels and report.notes and report.notes[-1] not in warnings:
        warnings.append(report.notes[-1])
    return warnings


def _no_normal_hint(scene: str | None, has_depth: bool) -> str:
    """Why a file or set asked for a normal map has none, and how to get one."""
    if scene is None:
        return (
            "no normal map: a plain depth file has no Normal canvas; add --normal_from_depth to compute the normals "
            "from its depth, or give the render's canvases as SCENE-CanvasN-Depth.exr and SCENE-CanvasN-Normal.exr"
        )
    if not has_depth:
        return "no normal map: the set has no Normal canvas, and no Depth canvas to compute one from"
    return (
        f"no normal map: the set has no Normal canvas (give {scene}-CanvasN-Normal.exr of the same render with it), "
        "or add --normal_from_depth to compute the normals from the depth"
    )


def _add_normals(
    made: _Outputs,
    normal: Path | None,
    depth_path: Path | None,
    options: NormalOptions,
    max_pixels: int,
    target: Path,
    scene: str | None = None,
) -> str | None:
    """Make the normal map (from the Normal canvas, or from the depth with --normal_from_depth) into ``made``;
    returns how it was made, for the summary. Without a source it is ``None`` and a warning saying how to get one
    (``scene``: the set's, ``None`` for a plain depth file)."""
    depth = made.image
    try:
        result = set_normal_map(normal, depth, depth_path if depth is not None else None, options, max_pixels)
    except ValueError as exc:
        raise DepthReadError(normal or depth_path or target, str(exc)) from None
    if result is None:
        made.warnings.append(_no_normal_hint(scene, depth is not None))
        return None
    height, width = result.image.shape[:2]
    if normal is not None:
        made.check_size(normal, "Normal canvas", width, height)
    made.outputs.append((target, result.image))
    made.warnings.extend(_normal_warnings(result))
    return describe_normals(result)


def _add_beauty(made: _Outputs, beauty: CanvasFile, max_pixels: int, target: Path) -> str:
    """The set's beauty: a Beauty canvas tone-mapped to 8-bit sRGB into ``made``; a render image is left as it is.
    Returns what was done, for the summary."""
    name = shown_name(beauty.path.name)
    if beauty.kind == "render":
        return f"{name}, the render as saved (not rewritten)"
    try:
        image = read_beauty(beauty.path, max_pixels).image
    except ValueError as exc:
        raise DepthReadError(beauty.path, str(exc)) from None
    made.check_size(beauty.path, "Beauty canvas", image.shape[1], image.shape[0])
    made.outputs.append((target, image))
    return f"Beauty canvas {name} exposed and sRGB-encoded"


def process_file(
    path: Path,
    job: Job,
    out_dir: Path | None,
    max_pixels: int,
    out: TextIO,
    protect: Sequence[Path],
    stem: str | None = None,
    normals: NormalOptions | None = None,
) -> FileReport:
    """Read, map and write one depth file (with ``normals``: its normal map, computed from the depth with
    ``from_depth``). Raises on any problem with this file; then nothing is written."""
    if path.suffix.lower() != ".exr":
        raise DepthReadError(path, "input files must end in .exr")
    made = _depth_outputs(path, job, out_dir, max_pixels, out, protect, stem)
    if normals is not None:
        target = output_path(path, NORMAL_SUFFIX, out_dir, stem)
        described = _add_normals(made, None, path, normals, max_pixels, target)
        if described is not None:
            made.parts.append(described)
    written = save_outputs(made.outputs, protect)
    return FileReport(f"{', '.join(made.parts)} -> {', '.join(p.name for p in written)}", made.warnings,
                      made.plan, made.result)  # fmt: skip


def _listing(canvas_set: CanvasSet) -> str:
    """The files of a set, by part, and the ones it does not use."""
    named = [
        f"{f.type if f.is_canvas else 'render'} {shown_name(f.path.name)}"
        for f in (canvas_set.depth, canvas_set.normal, canvas_set.beauty)
        if f is not None
    ]
    others = ", ".join(shown_name(f.path.name) for f in canvas_set.others)
    unused = f" (not used: {others})" if others else ""
    return f"canvas set: {', '.join(named) or 'no Depth, Normal or Beauty canvas'}{unused}"


def _nothing_to_write(canvas_set: CanvasSet, asked_normal: bool) -> str:
    """Why a set wrote nothing (a set without a part, or with only a Normal canvas and no --normal)."""
    if canvas_set.normal is not None and not asked_normal:
        return "nothing to write for this set: add --normal to convert its Normal canvas"
    found = ", ".join(
        f"the {f.type} canvas {shown_name(f.path.name)}" if f.is_canvas else f"the render {shown_name(f.path.name)}"
        for f in canvas_set.files
    )
    return f"nothing to write for this set: it has no Depth, Normal or Beauty canvas, only {found}"


def process_set(
    canvas_set: CanvasSet,
    job: Job,
    normals: NormalOptions | None,
    out_dir: Path | None,
    max_pixels: int,
    out: TextIO,
    protect: Sequence[Path],
    stem: str,
) -> FileReport:
    """Read, map and write the parts of one canvas set, its outputs named ``stem`` beside its first part (or in
    ``out_dir``). Raises on any problem with any part it writes; then nothing of the set is written."""
    source = canvas_set.files[0].path
    depth = canvas_set.depth
    made = _depth_outputs(depth.path, job, out_dir, max_pixels, out, protect, stem) if depth else _Outputs()
    sections = [_listing(canvas_set), "depth: " + (", ".join(made.parts) if depth else "no Depth canvas, no depth map")]
    normal = canvas_set.normal.path if canvas_set.normal is not None else None
    if normals is not None:
        target = output_path(source, NORMAL_SUFFIX, out_dir, stem)
        depth_path = depth.path if depth else None
        described = _add_normals(made, normal, depth_path, normals, max_pixels, target, canvas_set.scene)
        sections.append(f"normals: {described or 'no normal map'}")
    elif normal is not None:
        sections.append("normals: the Normal canvas is not converted without --normal")
    if canvas_set.beauty is not None:
        target = output_path(source, BEAUTY_SUFFIX, out_dir, stem)
        sections.append("beauty: " + _add_beauty(made, canvas_set.beauty, max_pixels, target))
    if not made.outputs:
        raise NothingToWrite(_nothing_to_write(canvas_set, normals is not None))
    written = save_outputs(made.outputs, protect)
    return FileReport(f"{'; '.join(sections)} -> {', '.join(p.name for p in written)}", made.warnings, made.plan,
                      made.result)  # fmt: skip


def _recipe_job(args: argparse.Namespace, params: DepthParams) -> tuple[DepthParams, BandPlan]:
    """The options and bands a recipe file holds; flags that would change them are refused (say one or the
    other)."""
    given = [option.flags[0] for option in OPTIONS if getattr(args, option.name) != option.default]
    given += [flag for flag, value in (("--bands", args.bands), ("--allocate", args.allocate)) if value is not None]
    if given:
        raise ValueError(f"--recipe sets the cutoffs, options and bands: leave out {', '.join(given)}")
    try:
        text = args.recipe.read_text(encoding="utf-8")
    except OSError as exc:
        raise OSError(f"--recipe {shown_name(str(args.recipe))}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"--recipe {shown_name(str(args.recipe))}: not a text file") from None
    try:
        recipe = recipe_from_json(text)
    except RecipeError as exc:
        raise ValueError(f"--recipe {shown_name(str(args.recipe))}: {exc}") from None
    return recipe.params, recipe.plan


def _out_dir_problem(out_dir: Path | None) -> str | None:
    """Why ``--out_dir`` cannot take outputs (said once, before any file is read)."""
    if out_dir is None or not out_dir.exists():
        return None  # written beside the inputs, or created on the first write
    if not out_dir.is_dir():
        return f"--out_dir {shown_name(str(out_dir))} is not a folder"
    if not os.access(out_dir, os.W_OK):
        return f"--out_dir {shown_name(str(out_dir))} is not writable"
    return None


#: Why a file that fits no set is refused (the start of the sentence is the command line's old one).
REFUSED = "input files must end in .exr, or be a PNG/JPEG render given with its scene's canvases"


@dataclass(frozen=True)
class Item:
    """One line of a batch: a canvas set, a plain depth file, or a file that fits neither (``refused`` says why).

    ``path`` is the file given (a set's first part: its outputs go beside it)."""

    path: Path
    files: CanvasSet | None = None
    refused: str = ""

    @property
    def is_set(self) -> bool:
        """A canvas set (not a plain depth file, which is a set of one depth that is no canvas)."""
        return self.files is not None and not (self.files.depth is not None and not self.files.depth.is_canvas)

    @property
    def name(self) -> str:
        return self.files.scene if self.is_set and self.files is not None else self.path.name

    @property
    def stem(self) -> str:
        return self.name if self.is_set else stem_of(self.path.name)


def batch_items(paths: Sequence[Path], grouping: CanvasGrouping) -> list[Item]:
    """The items of a batch in the order given: a plain file or a refused file at each of its places (as before
    sets), a canvas set once, at its first file's place."""
    index_of = {f.path: i for i, found in enumerate(grouping.sets) for f in found.files}
    refused = dict(grouping.ignored)
    items: list[Item] = []
    done: set[int] = set()
    for path in paths:
        index = index_of.get(path)
        if index is None:
            items.append(Item(path, refused=f"{REFUSED} ({refused.get(path, 'not recognised')})"))
            continue
        item = Item(grouping.sets[index].files[0].path, grouping.sets[index])
        if not item.is_set:
            items.append(Item(path, item.files))
        elif index not in done:
            done.add(index)
            items.append(item)
    return items


def _problem(exc: BaseException, in_set: bool) -> str:
    """The error line's text for a failure: in a set, the file named first."""
    if isinstance(exc, DepthReadError):
        text = str(exc) if in_set else exc.problem
        return f"{text} with --channel NAME" if isinstance(exc, NoDepthChannelError) else text
    if isinstance(exc, (OSError, MemoryError, NothingToWrite)):
        return str(exc)
    return f"unexpected failure ({type(exc).__name__}: {exc})"  # a bug or an unforeseen failure: one line


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 all written, 1 some file or set failed, 2 bad usage).

    stdout carries only what was asked for (summaries, histogram advice); every problem is one line on stderr, and
    OpenEXR's own output is kept out of both.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        params = DepthParams(**{option.name: getattr(args, option.name) for option in OPTIONS})
        bands = _band_spec(args.bands, params.invert)
        if args.recipe is not None:
            params, bands = _recipe_job(args, params)
        normals = _normal_options(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    allocate = None if args.recipe is not None else args.allocate or Allocation.PIXELS.value
    job = Job(params, bands, allocate, args.regions, args.split_parts, args.min_area, args.region_size,
              args.test_colours)  # fmt: skip
    problem = _out_dir_problem(args.out_dir)
    if problem is None and importlib.util.find_spec("OpenEXR") is None:
        problem = str(MissingBindingsError())
    if problem:
        print(f"error: {problem}", file=err)
        return 2
    paths = [Path(f) for f in args.files]
    items = batch_items(paths, group_canvases(paths))
    failed = 0
    started = time.perf_counter()
    claims = StemClaims()  # two inputs whose outputs would share a name: the second's get "-2"
    saved_recipe = False
    for number, item in enumerate(items, 1):
        name = shown_name(item.name)
        prefix = f"[{number}/{len(items)}] {name}" if len(items) > 1 else name
        if item.refused:
            failed += 1
            print(f"{prefix}: error: {item.refused}", file=err)
            continue
        folder = args.out_dir if args.out_dir is not None else item.path.parent
        owner = ("set", item.path.resolve()) if item.is_set else item.path.resolve()
        stem = claims.claim(item.stem, owner, folder)
        for conflict in item.files.conflicts if item.files is not None else ():
            print(f"{prefix}: warning: {conflict}", file=err)
        try:
            with native_stderr_silenced():  # OpenEXR's C library prints per bad chunk: this process is ours
                if item.is_set and item.files is not None:
                    report = process_set(item.files, job, normals, args.out_dir, args.max_pixels, out, paths, stem)
                else:
                    report = process_file(item.path, job, args.out_dir, args.max_pixels, out, paths, stem, normals)
        except Exception as exc:  # every failure is one line, and the batch goes on
            failed += 1
            print(f"{prefix}: error: {_problem(exc, item.is_set)}", file=err)
            continue
        for warning in report.warnings:
            print(f"{prefix}: warning: {warning}", file=err)
        if args.save_recipe is not None and report.result is not None and not saved_recipe:
            recipe = freeze_recipe(params, report.plan or BandPlan(), report.result.window)
            try:
                write_atomic(args.save_recipe, recipe_to_json(recipe).encode("utf-8"), paths)
                saved_recipe = True
                print(f"{prefix}: recipe saved to {shown_name(str(args.save_recipe))}", file=out)
            except OSError as exc:
                print(f"{prefix}: error: recipe not saved: {exc}", file=err)
        if not args.quiet:
            renamed = f" (renamed: another input in this run writes {item.stem}.*)" if stem != item.stem else ""
            print(f"{prefix}: {report.summary}{renamed}", file=out)
    if len(items) > 1 and not args.quiet:
        done = len(items) - failed
        sets = sum(item.is_set for item in items)
        what = "files" if not sets else "sets" if sets == len(items) else "sets and files"
        print(f"{done} of {len(items)} {what} written in {time.perf_counter() - started:.1f} s", file=out)
    return 1 if failed else 0
