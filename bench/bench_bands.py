"""Benchmark of band maps against the single-cutoff map: full resolution and a preview-sized update.

    .venv/bin/python bench/bench_bands.py                    (4096², 5 runs full size, 50 runs preview)
    .venv/bin/python bench/bench_bands.py --size 2048 --runs 9

Scene: ``synthetic.two_subject_depth`` (two figures and a backdrop, float32, a few +inf pixels). The band plan
has five bands (near figure front and back, the gap, the far figure, the backdrop), levels by pixel share.

* full resolution, 8 and 16 bit: ``mapping.map_linear`` as it is in this checkout; the same linear map under the
  float64 rule ``floor((far - d) / (far - near) * L + 0.5)`` computed in chunks (what ``map_linear`` becomes);
  ``band_map.map_bands`` with one band (the same map) and with five bands; ``compress_map`` both ways;
* a preview update: the 768² preview copy ``workspace.preview_indices`` makes, mapped at 8 bits with the
  single cutoff (``map_linear``) and with five bands (plan checks and table included: what a slider move
  costs), and the test-colour image (band index + painting) on top.

Best and median wall time of ``--runs`` calls, in milliseconds; ratios use the best times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daz_depthmap.band_map import map_bands  # noqa: E402
from daz_depthmap.bands import BandPlan, allocate, band_counts, band_index, paint_bands, split_plan  # noqa: E402
from daz_depthmap.exr import depth_image  # noqa: E402
from daz_depthmap.mapping import (  # noqa: E402
    DepthWindow,
    depth_stats,
    depth_window,
    map_linear,
    map_ranked,
    pixel_slices,
    rank_depths,
    rank_index,
)
from daz_depthmap.synthetic import two_subject_depth  # noqa: E402
from daz_depthmap.workspace import preview_indices  # noqa: E402

SPLITS = (180.0, 215.0, 330.0, 405.0)
FAR_CUTOFF = 820.0


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """Best and median wall time of ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def linear_float64(depth: np.ndarray, valid: np.ndarray, window: DepthWindow, top: int) -> np.ndarray:
    """The linear map under the float64 rounding rule, in chunks: ``floor(t * top + 0.5)``."""
    out = np.zeros(depth.shape, np.uint8 if top == 255 else np.uint16)
    flat_depth, flat_valid, flat_out = depth.ravel(), valid.ravel(), out.reshape(-1)
    span = window.far - window.near
    for part in pixel_slices(out.size):
        t = np.subtract(window.far, flat_depth[part], dtype=np.float64)
        t /= span
        np.maximum(t, 0.0, out=t)
        np.minimum(t, 1.0, out=t)
        t *= top
        t += 0.5
        np.floor(t, out=t)
        np.copyto(flat_out[part], t, casting="unsafe", where=flat_valid[part])
    return out


def row(name: str, times: tuple[float, float], base: float | None = None) -> None:
    ratio = f"  {times[0] / base:5.2f}x" if base else ""
    print(f"  {name:<52} best {times[0]:8.2f} ms  median {times[1]:8.2f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="side of the square test image (default 4096)")
    parser.add_argument("--runs", type=int, default=5, help="runs per full-size figure (default 5)")
    parser.add_argument("--preview-runs", type=int, default=50, help="runs per preview figure (default 50)")
    args = parser.parse_args()

    side = args.size
    image = depth_image(two_subject_depth(side, side, seed=0))
    stats = depth_stats(image.depth, image.valid)
    window = depth_window(stats, FAR_CUTOFF)
    plan = split_plan(SPLITS)
    plan = allocate(plan, "pixels", window, band_counts(band_index(image.depth, image.valid, plan, window), 5))
    one = BandPlan()
    print(f"{side}x{side} two-subject scene; window {window.near:.2f}..{window.far:g}; five bands {SPLITS}, levels "
          f"{[b.levels for b in plan.bands]}")  # fmt: skip
    depth, valid, runs = image.depth, image.valid, args.runs

    for bits in (8, 16):
        top = (1 << bits) - 1
        print(f"\n== full resolution, {bits}-bit")
        base = timed(lambda top=top: map_linear(depth, valid, window, top), runs)
        row("map_linear (this checkout: float32)", base)
        f64 = timed(lambda top=top: linear_float64(depth, valid, window, top), runs)
        row("linear map under the float64 rule", f64, base[0])
        row(
            "map_bands, one band of 256 levels",
            timed(lambda b=bits: map_bands(depth, valid, one, window, b), runs),
            base[0],
        )
        bands = timed(lambda b=bits: map_bands(depth, valid, plan, window, b), runs)
        row("map_bands, five bands", bands, base[0])
        print(f"  five bands / float64 linear map: {bands[0] / f64[0]:.2f}x")

    print("\n== full resolution, compress_map (ranks made once per file, not timed)")
    ranks = rank_depths(depth, valid)
    base = timed(lambda: map_ranked(ranks, valid, window, 255), runs)
    row("map_ranked, 8-bit", base)
    row(
        "map_bands with ranks, five bands, 8-bit",
        timed(lambda: map_bands(depth, valid, plan, window, 8, ranks), runs),
        base[0],
    )

    rows, cols = preview_indices(side, side)
    p_depth, p_valid = depth[np.ix_(rows, cols)], valid[np.ix_(rows, cols)]
    shape = "x".join(str(n) for n in p_depth.shape[::-1])
    runs = args.preview_runs
    print(f"\n== preview update, {shape}, 8-bit")
    base = timed(lambda: map_linear(p_depth, p_valid, window, 255), runs)
    row("single cutoff (map_linear)", base)
    row(
        "single cutoff under the float64 rule",
        timed(lambda: linear_float64(p_depth, p_valid, window, 255), runs),
        base[0],
    )
    row("five bands (map_bands)", timed(lambda: map_bands(p_depth, p_valid, plan, window), runs), base[0])

    def coloured() -> np.ndarray:
        mapped = map_bands(p_depth, p_valid, plan, window)
        return paint_bands(mapped, band_index(p_depth, p_valid, plan, window), plan)

    row("five bands + test colours (index + painting)", timed(coloured, runs), base[0])
    p_ranks = rank_index(ranks, p_depth)
    base = timed(lambda: map_ranked(p_ranks, p_valid, window, 255), runs)
    row("compress_map, single cutoff (map_ranked)", base)
    row("compress_map, five bands", timed(lambda: map_bands(p_depth, p_valid, plan, window, 8, p_ranks), runs), base[0])


if __name__ == "__main__":
    main()
