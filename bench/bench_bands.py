"""Benchmark of depth bands against the single-cutoff map (issue 9): the tab's preview update and the command line
at 4096², and the mapping kernels underneath.

    .venv/bin/python bench/bench_bands.py                 (4096²; 5 CLI runs, 30 preview runs)
    .venv/bin/python bench/bench_bands.py --size 2048 --runs 3

Scene: ``synthetic.two_subject_depth`` (two figures and a backdrop, float32 ``Y``, a few +inf pixels), written as a
ZIP EXR the way DAZ Studio writes its canvases. The band plan has five bands (near figure front and back, the gap,
the far figure, the backdrop) with a far cutoff of 820, levels by pixel share, regions on the two figures.

* preview update: what one live request costs the server for a 4096² file — ``LoadedFile.render_preview`` of
  the 768² preview copy (plan settled over the preview's pixels, map, mask, clipped shares), single cutoff vs five
  bands, then the test-colour and region looks; then the same with the PNG the page gets;
* command line: ``python -m daz_depthmap`` in a fresh process (read, map, write PNG), ``--depth_cutoff 820`` vs
  the same with ``--bands`` (five bands), and with ``--regions`` too; best wall time of ``--runs``;
* kernels at full resolution: ``map_linear`` vs ``map_bands`` (one and five bands), 8 and 16 bit.

Best and median wall time, in milliseconds (seconds for the command line); ratios use the best times.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daz_depthmap.bands.levels import map_bands  # noqa: E402
from daz_depthmap.bands.plan import BandPlan  # noqa: E402
from daz_depthmap.bands.spec import parse_band_spec  # noqa: E402
from daz_depthmap.depth.mapping import depth_stats, depth_window, map_linear  # noqa: E402
from daz_depthmap.exr import read_depth  # noqa: E402
from daz_depthmap.params import DepthParams  # noqa: E402
from daz_depthmap.session.banding import BandSettings, LevelMode  # noqa: E402
from daz_depthmap.session.loaded import LoadedFile  # noqa: E402
from tests.synthetic import two_subject_depth, write_depth_exr  # noqa: E402

FAR_CUTOFF = 820.0
SPEC = "180::near front@0,215::near back@0,330::gap,405::far figure@1,*::backdrop"


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """Best and median wall time of ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def row(name: str, times: tuple[float, float], base: float | None = None, unit: str = "ms") -> None:
    ratio = f"  {times[0] / base:5.2f}x" if base else ""
    scale = 1000.0 if unit == "s" else 1.0
    best, median = times[0] / scale, times[1] / scale
    print(f"  {name:<58} best {best:8.3f} {unit:<2} median {median:8.3f} {unit}{ratio}")


def page_png(picture: np.ndarray) -> bytes:
    """The preview as gradio 3 sends it: a PNG written by Pillow."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def cli(args: list[str], runs: int) -> tuple[float, float]:
    """Best and median wall time of the command line in a fresh process, in milliseconds."""

    def run() -> None:
        done = subprocess.run([sys.executable, "-m", "daz_depthmap", "-q", *args], cwd=ROOT, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"the command line failed: {done.stderr.decode(errors='replace')}")

    return timed(run, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="side of the square test image (default 4096)")
    parser.add_argument("--runs", type=int, default=5, help="runs per command-line and kernel figure (default 5)")
    parser.add_argument("--preview-runs", type=int, default=30, help="runs per preview figure (default 30)")
    args = parser.parse_args()

    side = args.size
    with tempfile.TemporaryDirectory(prefix="dazdm-bench-bands-") as folder:
        exr = Path(folder) / "scene.exr"
        write_depth_exr(exr, two_subject_depth(side, side, seed=0))
        print(f"{side}x{side} two-subject scene ({exr.stat().st_size / 1e6:.1f} MB EXR); far cutoff {FAR_CUTOFF:g}; ")
        print(f"five bands: --bands '{SPEC}' (levels by pixel share)")

        # ------------------------------------------------------------------------------------------------------
        print(f"\n== preview update of a {side}² file (LoadedFile.render_preview, 8-bit, without PNG encoding)")
        image = read_depth(exr)
        entry = LoadedFile("scene.exr", exr, image)
        del image
        params = DepthParams(depth_cutoff=FAR_CUTOFF)
        plan = parse_band_spec(SPEC)
        five = BandSettings(plan, LevelMode.PIXELS)
        runs = args.preview_runs
        print(f"  preview copy {len(entry.cols)}x{len(entry.rows)}")
        base = timed(lambda: entry.render_preview(params), runs)
        row("single cutoff", base)
        row("five bands (plan settled, then mapped)", timed(lambda: entry.render_preview(params, five), runs), base[0])
        row("five bands, test colours", timed(lambda: entry.render_preview(params, five, "test"), runs), base[0])
        row("five bands, region map", timed(lambda: entry.render_preview(params, five, "regions"), runs), base[0])
        sixteen = params.with_(bits=16)
        base16 = timed(lambda: entry.render_preview(sixteen), runs)
        row("16-bit single cutoff", base16)
        row("16-bit five bands", timed(lambda: entry.render_preview(sixteen, five), runs), base16[0])
        print("  the same with the PNG the page gets (PIL, as gradio encodes it):")
        for bits_params, name in ((params, "8-bit"), (sixteen, "16-bit")):
            base = timed(lambda p=bits_params: page_png(entry.render_preview(p).picture), runs)
            row(f"{name} single cutoff + PNG", base)
            banded = timed(lambda p=bits_params: page_png(entry.render_preview(p, five).picture), runs)
            row(f"{name} five bands + PNG", banded, base[0])

        # ------------------------------------------------------------------------------------------------------
        print(f"\n== command line on the {side}² file (fresh process: start, read, map, write)")
        out = Path(folder) / "out"
        out.mkdir()
        common = [str(exr), "--depth_cutoff", str(FAR_CUTOFF), "--out_dir", str(out)]
        base = cli(common, args.runs)
        row("--depth_cutoff 820", base, unit="s")
        row("--depth_cutoff 820 --bands (five bands)", cli([*common, "--bands", SPEC], args.runs), base[0], "s")
        row(
            "--depth_cutoff 820 --bands --regions",
            cli([*common, "--bands", SPEC, "--regions"], args.runs),
            base[0],
            "s",
        )
        row("--depth_cutoff 820 --bands auto", cli([*common, "--bands", "auto"], args.runs), base[0], "s")

        # ------------------------------------------------------------------------------------------------------
        print(f"\n== kernels at full resolution ({side}²)")
        image = read_depth(exr)
        window = depth_window(depth_stats(image.depth, image.valid), FAR_CUTOFF)
        fitted = entry.settle(params, five).plan
        assert fitted is not None
        for bits in (8, 16):
            top = (1 << bits) - 1
            base = timed(lambda top=top: map_linear(image.depth, image.valid, window, top), args.runs)
            row(f"{bits}-bit map_linear", base)
            one = timed(lambda b=bits: map_bands(image.depth, image.valid, BandPlan(), window, b), args.runs)
            row(f"{bits}-bit map_bands, one band", one, base[0])
            row(
                f"{bits}-bit map_bands, five bands",
                timed(lambda b=bits: map_bands(image.depth, image.valid, fitted, window, b), args.runs),
                base[0],
            )


if __name__ == "__main__":
    main()
