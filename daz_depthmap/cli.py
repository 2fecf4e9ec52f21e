"""Command line, compatible with the original ``format_depthmap.py``.

python -m daz_depthmap [--depth_cutoff N|histo|auto] [--compress_map] [--noise] [--mask] FILE.exr [FILE.exr ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from .exr import DepthReadError, NoDepthChannelError, read_depth
from .histogram import advice_lines
from .mapping import depth_stats
from .output import output_paths, save_outputs
from .params import DEFAULT_MAX_PIXELS, DepthParams, parse_cutoff
from .pipeline import NoDepthError, render


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
        return value

    return whole_number


def _cutoff(text: str) -> object:
    try:
        return parse_cutoff(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_max_pixels_argument(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels``: the size limit checked from the header, shared by the command line and the app."""
    parser.add_argument(
        "--max-pixels",
        "--max_pixels",
        type=_at_least(1),
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse images larger than this (default {DEFAULT_MAX_PIXELS:,})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m daz_depthmap",
        description="Turn depth EXRs (DAZ Studio Iray depth canvas, Blender Z, ...) into ControlNet depth maps: "
        "near is white, far is black. Writes NAME.depth.png (and NAME.mask.png) next to each input.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE.exr", help="one or more .exr files")
    parser.add_argument(
        "--depth_cutoff",
        "--depth-cutoff",
        type=_cutoff,
        default=None,
        metavar="N|histo|auto",
        help="clamp depth at N before normalising; 'histo' prints 20-bucket advice and leaves the map unchanged; "
        "'auto' uses the suggested cutoff (the subject's far edge in front of the backdrop)",
    )
    parser.add_argument(
        "--near_cutoff", "--near-cutoff", type=float, default=None, metavar="N", help="clamp nearer depth to N"
    )
    parser.add_argument(
        "--compress_map",
        "--compress-map",
        action="store_true",
        help="spread the distinct depth values evenly over the levels, removing empty depth ranges",
    )
    parser.add_argument("--noise", action="store_true", help="fill the far plane with random grey levels")
    parser.add_argument("--mask", action="store_true", help="also write NAME.mask.png: far plane black, rest white")
    parser.add_argument("--seed", type=_at_least(0), default=None, help="seed for --noise (reproducible output)")
    parser.add_argument("--bits", type=int, choices=(8, 16), default=8, help="bits per pixel of the depth PNG")
    parser.add_argument("--invert", action="store_true", help="input grows toward the camera (disparity)")
    parser.add_argument("--channel", default=None, metavar="NAME", help="channel to read, e.g. Z, depth.Z, part/Z")
    parser.add_argument("--out_dir", "--out-dir", type=Path, default=None, help="write outputs here")
    add_max_pixels_argument(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems and histogram advice")
    return parser


def _describe_range(stats: object) -> str:
    return f"{stats.nearest:g}..{stats.farthest:g}"  # type: ignore[attr-defined]


def process_file(
    path: Path, params: DepthParams, out_dir: Path | None, max_pixels: int, out: TextIO, protect: Sequence[Path]
) -> str:
    """Read, map and write one file; return a one-line summary. Raises on any problem with this file."""
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
    depth_path, mask_path = output_paths(path, out_dir)
    written = save_outputs(result.depth, result.mask, depth_path, mask_path, protect)
    parts = [
        f"channel {image.channel}",
        f"{image.width}x{image.height}",
        f"depth {_describe_range(stats)}",
        f"window {result.window.near:g}..{result.window.far:g}",
    ]
    if stats.invalid_count:
        parts.append(f"{stats.invalid_count} background px")
    if result.suggestion is not None:
        parts.append(f"auto: {result.suggestion.reason}")
    return f"{', '.join(parts)} -> {', '.join(p.name for p in written)}"


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 all written, 1 some file failed, 2 bad usage)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        params = DepthParams(
            depth_cutoff=args.depth_cutoff,
            near_cutoff=args.near_cutoff,
            compress_map=args.compress_map,
            mask=args.mask,
            noise=args.noise,
            seed=args.seed,
            bits=args.bits,
            invert=args.invert,
            channel=args.channel,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return 2
    paths = [Path(f) for f in args.files]
    failed = 0
    started = time.perf_counter()
    claimed: dict[Path, Path] = {}  # output -> the input that writes it in this run
    for number, path in enumerate(paths, 1):
        prefix = f"[{number}/{len(paths)}] {path.name}" if len(paths) > 1 else path.name
        depth_path = output_paths(path, args.out_dir)[0].resolve()
        first = claimed.setdefault(depth_path, path.resolve())
        try:
            if first != path.resolve():
                raise DepthReadError(path, f"skipped: its outputs would overwrite those of {first} in this run")
            summary = process_file(path, params, args.out_dir, args.max_pixels, out, paths)
        except NoDepthChannelError as exc:
            failed += 1
            print(f"{prefix}: error: {exc.problem} with --channel NAME", file=err)
        except DepthReadError as exc:
            failed += 1
            print(f"{prefix}: error: {exc.problem}", file=err)
        except (OSError, MemoryError) as exc:
            failed += 1
            print(f"{prefix}: error: {exc}", file=err)
        else:
            if not args.quiet:
                print(f"{prefix}: {summary}", file=out)
    if len(paths) > 1 and not args.quiet:
        done = len(paths) - failed
        print(f"{done} of {len(paths)} files written in {time.perf_counter() - started:.1f} s", file=out)
    return 1 if failed else 0
