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

from .exr import DepthReadError, MissingBindingsError, NoDepthChannelError, read_depth
from .histogram import advice_lines
from .library_output import native_stderr_silenced
from .mapping import depth_stats
from .naming import StemClaims, output_paths, shown_name, stem_of
from .output import save_outputs
from .params import MAX_PIXELS, OPTIONS, DepthParams, Option, parse_cutoff
from .pipeline import NoDepthError, render


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
    parser.add_argument("--out_dir", "--out-dir", type=Path, default=None, help="write outputs here")
    add_max_pixels_argument(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems and histogram advice")
    return parser


@dataclass(frozen=True)
class FileReport:
    """What the command line says about a file it wrote: one summary line, and warnings (one line each)."""

    summary: str
    warnings: list[str]


def process_file(
    path: Path,
    params: DepthParams,
    out_dir: Path | None,
    max_pixels: int,
    out: TextIO,
    protect: Sequence[Path],
    stem: str | None = None,
) -> FileReport:
    """Read, map and write one file. Raises on any problem with this file."""
    if path.suffix.lower() != ".exr":
        raise DepthReadError(path, "input files must end in .exr")
    image = read_depth(path, params.channel, max_pixels)
    stats = depth_stats(image.depth, image.valid)
    if params.depth_cutoff == "histo" and not stats.empty:
        if len(protect) > 1:
            print(f"== {path.name}", file=out)
        print("\n".join(advice_lines(image.depth, stats)), file=out)
    try:
        result = render(image, params, stats)
    except (NoDepthError, ValueError) as exc:
        raise DepthReadError(path, str(exc)) from None
    depth_path, mask_path = output_paths(path, out_dir, stem)
    outputs = [(depth_path, result.depth)] + ([(mask_path, result.mask)] if result.mask is not None else [])
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
    return FileReport(f"{', '.join(parts)} -> {', '.join(p.name for p in written)}", result.warnings)


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
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return 2
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
    for number, path in enumerate(paths, 1):
        name = shown_name(path.name)
        prefix = f"[{number}/{len(paths)}] {name}" if len(paths) > 1 else name
        folder = args.out_dir if args.out_dir is not None else path.parent
        stem = claims.claim(stem_of(path.name), path.resolve(), folder)
        try:
            with native_stderr_silenced():  # OpenEXR's C library prints per bad chunk: this process is ours
                report = process_file(path, params, args.out_dir, args.max_pixels, out, paths, stem)
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
