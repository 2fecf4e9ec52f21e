"""Command line, compatible with the original ``format_depthmap.py``.

python -m daz_depthmap [--depth_cutoff N|histo|auto] [--compress_map] [--noise] [--mask] FILE.exr [FILE.exr ...]

The options' flags, help texts and bounds come from :data:`daz_depthmap.params.OPTIONS`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .band_spec import parse_band_spec
from .bands import (
    Allocation,
    BandPlan,
    band_counts,
    band_index,
    filled_plan,
    number_regions,
    paint_bands,
    suggested_plan,
)
from .exr import DepthImage, DepthReadError, MissingBindingsError, NoDepthChannelError, read_depth
from .histogram import advice_lines
from .library_output import native_stderr_silenced
from .mapping import DepthStats, DepthWindow, depth_stats, to_8bit
from .naming import REGIONS_SUFFIX, TEST_SUFFIX, StemClaims, output_path, output_paths, shown_name, stem_of
from .output import save_outputs, write_atomic
from .params import MAX_PIXELS, OPTIONS, DepthParams, Option, parse_cutoff
from .pipeline import DepthMap, NoDepthError, render, window_of
from .recipe import RecipeError, freeze_recipe, recipe_from_json, recipe_to_json
from .regions import region_map


def _bounded(option: Option) -> Callable[[str], int]:
    """An argparse type: a whole number within the option's bounds."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if option.minimum is not None and value < option.minimum:
            raise argparse.ArgumentTypeError(f"expected {option.minimum} or more, got {value}")
        if option.maximum is not None and value > option.maximum:
            raise argparse.ArgumentTypeError(f"expected {option.maximum} or less, got {value}")
        return value

    return whole_number


def _cutoff(text: str) -> object:
    try:
        return parse_cutoff(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """Add one described option to a parser (its flags, help, type and bounds)."""
    kwargs: dict[str, Any] = {"help": option.help, "dest": option.name}
    if option.kind == "bool":
        kwargs["action"] = "store_true"
    else:
        kwargs["default"] = option.default
        kwargs["metavar"] = option.metavar
        if option.kind == "cutoff":
            kwargs["type"] = _cutoff
        elif option.kind == "int":
            kwargs["type"] = _bounded(option)
        elif option.kind == "float":
            kwargs["type"] = float
        elif option.kind == "choice":
            kwargs["type"] = type(option.choices[0])
            kwargs["choices"] = option.choices
            kwargs.pop("metavar")
    parser.add_argument(*option.flags, **kwargs)


def add_max_pixels_argument(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels``: the size limit checked from the header, shared by the command line and the app."""
    add_option(parser, MAX_PIXELS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m daz_depthmap",
        description="Turn depth EXRs (DAZ Studio Iray depth canvas, Blender Z, ...) into ControlNet depth maps: "
        "near is white, far is black. Writes NAME.depth.png (and NAME.mask.png) next to each input.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE.exr", help="one or more .exr files")
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
    parser.add_argument("--out_dir", "--out-dir", type=Path, default=None, help="write outputs here")
    add_max_pixels_argument(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems and histogram advice")
    return parser


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


def _plan_for(job: Job, image: DepthImage, stats: DepthStats, window: DepthWindow) -> BandPlan | None:
    """The band plan for this image: the spec's (levels allocated over its pixels), the suggested one, or none."""
    if job.bands is None:
        return None
    if job.bands == "auto":
        return suggested_plan(image.depth, image.valid, stats, window, job.allocate or Allocation.PIXELS)
    assert isinstance(job.bands, BandPlan)
    return filled_plan(job.bands, image.depth, image.valid, window, job.allocate)


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
    """What the command line says about a file it wrote: one summary line, and warnings (one line each); the plan
    and map it was written with (for --save_recipe)."""

    summary: str
    warnings: list[str]
    plan: BandPlan | None = None
    result: DepthMap | None = None


def process_file(
    path: Path,
    job: Job,
    out_dir: Path | None,
    max_pixels: int,
    out: TextIO,
    protect: Sequence[Path],
    stem: str | None = None,
) -> FileReport:
    """Read, map and write one file. Raises on any problem with this file."""
    params = job.params
    if path.suffix.lower() != ".exr":
        raise DepthReadError(path, "input files must end in .exr")
    image = read_depth(path, params.channel, max_pixels)
    stats = depth_stats(image.depth, image.valid)
    try:
        window, _ = window_of(image, params, stats)
        plan = _plan_for(job, image, stats, window)
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
    written = save_outputs(outputs, protect)
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
    return FileReport(f"{', '.join(parts)} -> {', '.join(p.name for p in written)}", result.warnings, plan, result)


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


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 all written, 1 some file failed, 2 bad usage).

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
    failed = 0
    started = time.perf_counter()
    claims = StemClaims()  # two inputs whose outputs would share a name: the second's get "-2"
    saved_recipe = False
    for number, path in enumerate(paths, 1):
        name = shown_name(path.name)
        prefix = f"[{number}/{len(paths)}] {name}" if len(paths) > 1 else name
        folder = args.out_dir if args.out_dir is not None else path.parent
        stem = claims.claim(stem_of(path.name), path.resolve(), folder)
        try:
            with native_stderr_silenced():  # OpenEXR's C library prints per bad chunk: this process is ours
                report = process_file(path, job, args.out_dir, args.max_pixels, out, paths, stem)
        except NoDepthChannelError as exc:
            failed += 1
            print(f"{prefix}: error: {exc.problem} with --channel NAME", file=err)
        except DepthReadError as exc:
            failed += 1
            print(f"{prefix}: error: {exc.problem}", file=err)
        except (OSError, MemoryError) as exc:
            failed += 1
            print(f"{prefix}: error: {exc}", file=err)
        except Exception as exc:  # a bug or an unforeseen failure: one line, and the batch goes on
            failed += 1
            print(f"{prefix}: error: unexpected failure ({type(exc).__name__}: {exc})", file=err)
        else:
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
                renamed = (
                    f" (renamed: another input in this run writes {stem_of(path.name)}.*)"
                    if stem != stem_of(path.name)
                    else ""
                )
                print(f"{prefix}: {report.summary}{renamed}", file=out)
    if len(paths) > 1 and not args.quiet:
        done = len(paths) - failed
        print(f"{done} of {len(paths)} files written in {time.perf_counter() - started:.1f} s", file=out)
    return 1 if failed else 0
