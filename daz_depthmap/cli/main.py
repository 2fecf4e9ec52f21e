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
import contextlib
import importlib.util
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from ..bands.plan import Allocation, BandPlan
from ..bands.spec import parse_band_spec
from ..canvas.normals.options import BACKGROUNDS, CONVENTIONS, NormalOptions
from ..canvas.sequences import group_frames, unrecognised_series
from ..canvas.sets import group_canvases
from ..exr import MissingBindingsError
from ..output.names import StemClaims
from ..output.png import write_atomic
from ..params import OPTIONS, DepthParams
from ..printable import one_line, shown_name
from ..render.job import Job
from ..render.recipe import freeze_recipe, read_recipe_file, recipe_to_json
from .batch import Outcome, Task, batch_items
from .options import add_max_pixels_argument, add_option
from .pool import cpu_count, outcomes


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
    parser.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        default=None,
        metavar="N",
        help="convert the files and sets in N worker processes (default: the number of CPUs; 1: one after the "
        "other in this process); results are printed in the order given",
    )
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


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of worker processes, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more worker processes, got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 512x768, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return width, height


def _recipe_job(args: argparse.Namespace, params: DepthParams) -> tuple[DepthParams, BandPlan]:
    """The options and bands a recipe file holds; flags that would change them are refused (say one or the
    other)."""
    given = [option.flags[0] for option in OPTIONS if getattr(args, option.name) != option.default]
    given += [flag for flag, value in (("--bands", args.bands), ("--allocate", args.allocate)) if value is not None]
    if given:
        raise ValueError(f"--recipe sets the cutoffs, options and bands: leave out {', '.join(given)}")
    try:
        recipe = read_recipe_file(args.recipe)
    except OSError as exc:
        raise OSError(f"--recipe {shown_name(str(args.recipe))}: {exc.strerror or exc}") from None
    except ValueError as exc:  # RecipeError too
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


#: The exit status after Ctrl+C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


@dataclass
class _Done:
    """How far a batch got: items finished (written or failed) of all."""

    items: int = 0
    total: int = 0


def _first_frames(tasks: list[Task], jobs: int) -> tuple[dict[int, Outcome], list[str]]:
    """Convert the first frame of each frame sequence among ``tasks`` (see
    :mod:`daz_depthmap.canvas.sequences`) and give its other frames the first frame's settings frozen (both cutoffs
    fixed at its window, the bands' levels as it got them), so that the depth does not flicker from frame to frame.
    A first frame that fails hands the part on to the next frame. Changes ``tasks``; returns the outcomes of the
    frames converted (by task index) and the summary's line for each sequence."""
    ahead: dict[int, Outcome] = {}
    notes: list[str] = []
    waiting = [(sequence, 0) for sequence in group_frames([task.item.stem for task in tasks])]
    while waiting:
        with contextlib.closing(outcomes([tasks[s.positions[k]] for s, k in waiting], jobs)) as results:
            converted = list(results)
        still = []
        for (sequence, k), outcome in zip(waiting, converted, strict=True):
            first = tasks[sequence.positions[k]]
            ahead[sequence.positions[k]] = outcome
            if outcome.window is None or outcome.report is None:
                if len(sequence.positions) - k > 2:  # two frames or more left: the next one leads
                    still.append((sequence, k + 1))
                continue
            recipe = freeze_recipe(first.job.params, outcome.report.plan or BandPlan(), outcome.window)
            frozen = replace(first.job, params=recipe.params, bands=recipe.plan, allocate=None)
            for position in sequence.positions[k + 1 :]:
                tasks[position] = replace(tasks[position], job=frozen)
            notes.append(
                f"sequence {shown_name(sequence.name)}: {len(sequence.positions) - k} frames mapped the way its "
                f"first frame {shown_name(first.item.name)} was (window {outcome.window.near:g}.."
                f"{outcome.window.far:g}, both cutoffs fixed, bands and levels kept), so the depth does not "
                "flicker; --recipe FILE.json maps them otherwise"
            )
        waiting = still
    return ahead, notes


def _not_a_series(named: str) -> str:
    return (
        f"note: files named like {shown_name(named)} were mapped each with its own settings: only frames named "
        "NAME_000, NAME_001, ... (and their canvases NAME_000-CANVAS-TYPE.exr) are taken as one image series"
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 all written, 1 some file or set failed, 2 bad usage, 130
    interrupted).

    stdout carries only what was asked for (summaries, histogram advice); every problem is one line on stderr, and
    OpenEXR's own output is kept out of both. Ctrl+C stops at once with one line saying how far the batch got: the
    set being written is taken back whole (outputs are written all or nothing), so nothing half-written is left.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    done = _Done()
    try:
        return _run(argv, out, err, done)
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            out.flush()
        far = f" after {done.items} of {done.total} inputs" if done.total else ""
        print(f"interrupted{far}; no output is left half-written", file=err)
        return INTERRUPTED


def _run(argv: Sequence[str] | None, out: TextIO, err: TextIO, done: _Done) -> int:
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
    allocate = None if args.recipe is not None else Allocation(args.allocate or Allocation.PIXELS.value)
    job = Job(params, bands, allocate, regions=args.regions, split_parts=args.split_parts, min_area=args.min_area,
              region_size=args.region_size, test_colours=args.test_colours, report=params.depth_cutoff == "histo",
              normals=normals)  # fmt: skip
    problem = _out_dir_problem(args.out_dir)
    if problem is None and importlib.util.find_spec("OpenEXR") is None:
        problem = str(MissingBindingsError())
    if problem:
        print(f"error: {problem}", file=err)
        return 2
    paths = [Path(f) for f in args.files]
    items = batch_items(paths, group_canvases(paths))
    failed = 0
    done.total = len(items)
    started = time.perf_counter()
    claims = StemClaims()  # two inputs whose outputs would share a name: the second's get "-2"
    stems: list[str] = []  # each item's stem, claimed here in input order before any item is dispatched
    tasks: list[Task] = []
    for item in items:
        folder = args.out_dir if args.out_dir is not None else item.path.parent
        owner = ("set", item.path.resolve()) if item.is_set else item.path.resolve()
        stems.append("" if item.refused else claims.claim(item.stem, owner, folder))
        if not item.refused:
            tasks.append(Task(item, job, args.out_dir, args.max_pixels, tuple(paths), stems[-1], len(paths) > 1))
    jobs = args.jobs or cpu_count()
    ahead, notes = ({}, []) if args.recipe is not None else _first_frames(tasks, jobs)
    saved_recipe = False
    rest = [task for index, task in enumerate(tasks) if index not in ahead]
    with contextlib.closing(outcomes(rest, jobs)) as results:
        index = -1
        for number, (item, stem) in enumerate(zip(items, stems, strict=True), 1):
            done.items = number - 1
            name = shown_name(item.name)
            prefix = f"[{number}/{len(items)}] {name}" if len(items) > 1 else name
            if item.refused:
                failed += 1
                print(one_line(f"{prefix}: error: {item.refused}"), file=err)
                continue
            index += 1
            for conflict in item.files.conflicts if item.files is not None else ():
                print(one_line(f"{prefix}: warning: {conflict}"), file=err)
            outcome = ahead[index] if index in ahead else next(results)
            out.write(outcome.printed)
            report = outcome.report
            if report is None:
                failed += 1
                print(one_line(f"{prefix}: error: {outcome.error}"), file=err)
                continue
            for warning in report.warnings:
                print(one_line(f"{prefix}: warning: {warning}"), file=err)
            if args.save_recipe is not None and outcome.window is not None and not saved_recipe:
                recipe = freeze_recipe(params, report.plan or BandPlan(), outcome.window)
                try:
                    write_atomic(args.save_recipe, recipe_to_json(recipe).encode("utf-8"), paths)
                    saved_recipe = True
                    print(f"{prefix}: recipe saved to {shown_name(str(args.save_recipe))}", file=out)
                except OSError as exc:
                    print(one_line(f"{prefix}: error: recipe not saved: {exc}"), file=err)
            if not args.quiet:
                renamed = (
                    f" (renamed: another input in this run writes {shown_name(item.stem)}.*)"
                    if stem != item.stem
                    else ""
                )
                print(one_line(f"{prefix}: {report.summary}{renamed}"), file=out)
    if len(items) > 1 and not args.quiet:
        done = len(items) - failed
        sets = sum(item.is_set for item in items)
        what = "files" if not sets else "sets" if sets == len(items) else "sets and files"
        print(f"{done} of {len(items)} {what} written in {time.perf_counter() - started:.1f} s", file=out)
    if not args.quiet:
        for note in notes + [_not_a_series(named) for named in unrecognised_series([t.item.stem for t in tasks])]:
            print(one_line(note), file=out)
    return 1 if failed else 0
