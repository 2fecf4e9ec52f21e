"""Benchmark of the normal maps at 4096² beside the depth map of the same render.

    .venv/bin/python bench/bench_normals.py                  (4096², best of 3)
    .venv/bin/python bench/bench_normals.py --size 2048 --runs 5

A canvas set is ray-cast by ``tests.synthetic`` (a sphere and a turned box before a backdrop, DAZ Studio's
default 65 mm camera) and written to a temporary folder as DAZ Studio writes it: the Depth canvas as one float
channel ``Y``, the Normal canvas as half-float ``R, G, B`` (and, for comparison, float), both ZIP-compressed. Each
pipeline runs in this process, stage by stage; a stage's time is the best of ``--runs``:

* depth map (the reference): ``read_depth`` + ``depth_stats`` + ``map_linear`` + PNG write (``output.write_png``),
  of the scene's Depth canvas and, as ``bench_cli.py`` measures it, of a DAZ-like depth (``daz_like_depth``: a
  figure with a feathered silhouette and sensor noise, which compresses worse and so reads slower);
* normal map from the Normal canvas: ``read_vectors`` + ``normal_map_from_canvas`` + PNG write;
* the same with the Depth canvas given, so the canvas is checked against the depth (its read counted too);
* normal map from the depth alone: ``read_depth`` + ``normal_map_from_depth`` + PNG write.

Every PNG is written by ``output.write_png`` (8-bit RGB for the normal maps). The goal: each normal map within 2x
of the depth map of the same render.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daz_depthmap.canvas.normals import normal_map_from_canvas, normal_map_from_depth  # noqa: E402
from daz_depthmap.depth.mapping import depth_stats, depth_window, map_linear  # noqa: E402
from daz_depthmap.exr import read_depth, read_vectors  # noqa: E402
from daz_depthmap.output.png import write_png  # noqa: E402
from tests.synthetic import (  # noqa: E402
    daz_like_depth,
    figure_scene,
    render_canvases,
    write_depth_exr,
    write_vectors_exr,
)


def timed(stages: list[tuple[str, Callable[[Any], Any]]], runs: int) -> dict[str, float]:
    """Best seconds of each stage over ``runs`` runs; each stage gets the previous stage's result."""
    best: dict[str, float] = {}
    for _ in range(runs):
        value: Any = None
        for name, stage in stages:
            start = time.perf_counter()
            value = stage(value)
            seconds = time.perf_counter() - start
            best[name] = min(seconds, best.get(name, seconds))
    return best


def depth_map_stages(depth_path: Path, out: Path) -> list[tuple[str, Callable[[Any], Any]]]:
    def mapped(image: Any) -> Any:  # what the CLI does by default
        return map_linear(image.depth, image.valid, depth_window(depth_stats(image.depth, image.valid)))

    return [
        ("read", lambda _: read_depth(depth_path)),
        ("map", mapped),
        ("png", lambda depth: write_png(out / "scene.depth.png", depth)),
    ]


def canvas_stages(normal_path: Path, out: Path, depth_path: Path | None = None) -> list[tuple[str, Callable]]:
    stages: list[tuple[str, Callable[[Any], Any]]] = [("read", lambda _: (read_vectors(normal_path), None))]
    if depth_path is not None:
        stages.append(("read depth", lambda read: (read[0], read_depth(depth_path))))

    def convert(read: Any) -> Any:
        canvas, depth = read
        if depth is None:
            return normal_map_from_canvas(canvas.vectors)
        return normal_map_from_canvas(canvas.vectors, depth=depth.depth, valid=depth.valid)

    return [*stages, ("map", convert), ("png", lambda result: write_png(out / "scene.normal.png", result.image))]


def depth_normal_stages(depth_path: Path, out: Path) -> list[tuple[str, Callable[[Any], Any]]]:
    return [
        ("read", lambda _: read_depth(depth_path)),
        ("map", lambda image: normal_map_from_depth(image.depth, valid=image.valid)),
        ("png", lambda result: write_png(out / "scene.depth-normal.png", result.image)),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096, help="image side in pixels (default 4096)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the best counts (default 3)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        start = time.perf_counter()
        scene = render_canvases(args.size, args.size, figure_scene())
        depth_path, normal_path, float_path, daz_path = (
            out / "scene-Canvas2-Depth.exr",
            out / "scene-Canvas3-Normal.exr",
            out / "scene-float-Normal.exr",
            out / "daz_like.exr",
        )
        write_depth_exr(depth_path, scene.depth)
        write_vectors_exr(normal_path, scene.normals, half=True)
        write_vectors_exr(float_path, scene.normals)
        write_depth_exr(daz_path, daz_like_depth(args.size, args.size))
        print(f"# Normal maps at {args.size}x{args.size} (scenes made in {time.perf_counter() - start:.1f} s)\n")
        paths = (depth_path, normal_path, float_path, daz_path)
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in paths)
        print(f"Files: {sizes}. Best of {args.runs} runs, in this process.\n")

        rows = [
            ("depth map (map_linear) of the scene: the reference", timed(depth_map_stages(depth_path, out), args.runs)),
            ("depth map (map_linear) of a DAZ-like depth", timed(depth_map_stages(daz_path, out), args.runs)),
            ("normal map from the Normal canvas (half)", timed(canvas_stages(normal_path, out), args.runs)),
            ("normal map from the Normal canvas (float)", timed(canvas_stages(float_path, out), args.runs)),
            (
                "normal map from the Normal canvas, checked against the Depth canvas",
                timed(canvas_stages(normal_path, out, depth_path), args.runs),
            ),
            ("normal map from the depth alone", timed(depth_normal_stages(depth_path, out), args.runs)),
        ]
        reference = sum(rows[0][1].values())
        print("| pipeline | read | map | PNG write | total | / depth map |")
        print("|---|---|---|---|---|---|")
        for label, times in rows:
            total = sum(times.values())
            read = sum(v for k, v in times.items() if k.startswith("read"))
            print(
                f"| {label} | {read:.3f} s | {times['map']:.3f} s | {times['png']:.3f} s | {total:.3f} s "
                f"| {total / reference:.2f}x |"
            )


if __name__ == "__main__":
    main()
