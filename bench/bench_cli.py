"""Benchmark of the command line (issue 2): wall time and peak memory at 1200², 2048² and 4096².

    .venv/bin/python bench/bench_cli.py            (or: make bench)
    .venv/bin/python bench/bench_cli.py --sizes 4096 --runs 5 --out /tmp/bench.md

DAZ-like depth EXRs (float32 ``Y``, ZIP, made by ``tests.synthetic``) are written to a temporary folder.
Every measurement is a fresh ``python`` process, run by its own small measuring process: the wall time is taken
around it and its peak RSS is ``ru_maxrss`` of ``RUSAGE_CHILDREN`` in the measuring process, whose only child it
is. (``RUSAGE_CHILDREN`` is a maximum over all children so far, so measuring several commands from one process
would report the largest so far, not each one's own.) Times are the best of ``--runs``; RSS is the largest.

Besides the CLI it measures what no CLI can avoid: the interpreter with its imports, the bare EXR read
(``OpenEXR.File``) and the bare PNG write (``output.write_png`` of the same map). It also profiles the stages of
one CLI run in a fresh process and compares PNG encoders and compression levels. Unix only (``resource``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

#: Runs the command given as arguments as its only child; prints its wall time and peak RSS in bytes.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(json.dumps({"wall": wall, "peak": peak, "status": done.returncode, "stderr": done.stderr.decode()[-3000:]}))
"""

READ_ONLY = "import sys, OpenEXR; OpenEXR.File(sys.argv[1], separate_channels=True).parts[0].channels['Y'].pixels"
WRITE_ONLY = (
    "import sys, numpy as np; from daz_depthmap.output.png import write_png; "
    "write_png(sys.argv[2], np.load(sys.argv[1]))"
)
CLI_VARIANTS = {
    "default": [],
    "auto_mask": ["--depth_cutoff", "auto", "--mask"],
    "compress": ["--compress_map"],
}
CLI_LABELS = {
    "default": "CLI, default options",
    "auto_mask": "CLI `--depth_cutoff auto --mask`",
    "compress": "CLI `--compress_map`",
}
MB = 1e6


def child_env() -> dict[str, str]:
    """The environment of the measured processes: the repository importable, and bytecode caching on as for any
    user (some sandboxes set PYTHONDONTWRITEBYTECODE, which would recompile the package on every start)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def measure(command: Sequence[str], runs: int) -> dict[str, float]:
    """Best wall time (s) and largest peak RSS (bytes) of ``command`` over ``runs`` fresh processes."""
    walls, peaks = [], []
    for _ in range(runs):
        done = subprocess.run(
            [PY, "-c", MEASURE, *command], capture_output=True, text=True, cwd=ROOT, env=child_env(), check=True
        )
        report = json.loads(done.stdout)
        if report["status"] != 0:
            raise SystemExit(f"benchmark command failed ({report['status']}): {' '.join(command)}\n{report['stderr']}")
        walls.append(report["wall"])
        peaks.append(report["peak"])
    return {"wall": min(walls), "peak": max(peaks)}


# --------------------------------------------------------------------------------------------------------------
# Stage profile: run in a fresh process (``--stages FILE VARIANT``), prints JSON


def stage_times(path: str, variant: str) -> dict[str, float]:
    """Seconds spent in each stage of one CLI run (what ``daz_depthmap.render.job.run_job`` does for a depth file),
    in this fresh process."""
    marks = [("start", time.perf_counter())]

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))

    from daz_depthmap.cli.main import main  # noqa: F401  (the CLI's own imports, as `python -m daz_depthmap` does them)
    from daz_depthmap.depth.mapping import depth_stats
    from daz_depthmap.exr import read_depth
    from daz_depthmap.output.names import output_paths
    from daz_depthmap.output.png import encode_png, write_atomic
    from daz_depthmap.params import DepthParams
    from daz_depthmap.render.pipeline import render

    mark("import")
    params = DepthParams(
        depth_cutoff="auto" if variant == "auto_mask" else None,
        mask=variant == "auto_mask",
        compress_map=variant == "compress",
    )
    image = read_depth(path)
    mark("read")
    stats = depth_stats(image.depth, image.valid)
    mark("stats")
    result = render(image, params, stats)
    mark("map")
    encoded = [encode_png(result.depth)] + ([encode_png(result.mask)] if result.mask is not None else [])
    mark("encode")
    with tempfile.TemporaryDirectory() as folder:
        for target, data in zip(output_paths(Path(folder) / Path(path).name), encoded, strict=False):
            write_atomic(target, data)
    mark("write")
    return {name: end - begin for (_, begin), (name, end) in itertools.pairwise(marks)}


def stages(path: Path, variant: str, runs: int) -> dict[str, float]:
    """:func:`stage_times` in ``runs`` fresh processes; the best time of each stage."""
    best: dict[str, float] = {}
    for _ in range(runs):
        done = subprocess.run(
            [PY, str(Path(__file__).resolve()), "--stages", str(path), variant],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=child_env(),
            check=True,
        )
        for stage, seconds in json.loads(done.stdout).items():
            best[stage] = min(seconds, best.get(stage, seconds))
    return best


# --------------------------------------------------------------------------------------------------------------
# PNG encoders and levels, in this process


def png_levels(image: np.ndarray, runs: int) -> list[tuple[str, int, float, int]]:
    """(encoder, level, best seconds, bytes) for our encoder (Z_RLE and default zlib strategy) and OpenCV's."""
    import zlib

    from daz_depthmap.output import png as output

    def best(encode: Callable[[], bytes | np.ndarray]) -> tuple[float, int]:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            data = encode()
            times.append(time.perf_counter() - start)
        return min(times), len(data)

    rows = []
    saved = output.PNG_COMPRESSION, output.PNG_STRATEGY
    bits = 8 * image.itemsize
    try:
        for name in ("Z_RLE", "Z_DEFAULT_STRATEGY"):
            output.PNG_STRATEGY = {**saved[1], bits: getattr(zlib, name)}
            for level in (1, 3, 6):
                output.PNG_COMPRESSION = level
                rows.append((f"output.encode_png, zlib {name}", level, *best(lambda: output.encode_png(image))))
    finally:
        output.PNG_COMPRESSION, output.PNG_STRATEGY = saved
    try:
        import cv2
    except ImportError:
        return rows
    for level in (1, 3, 6):
        flags = [cv2.IMWRITE_PNG_COMPRESSION, level]
        rows.append(("cv2.imencode (libpng)", level, *best(lambda f=flags: cv2.imencode(".png", image, f)[1])))
    return rows


# --------------------------------------------------------------------------------------------------------------


def versions() -> str:
    from importlib import metadata

    import numpy

    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    cv2 = next((dist(n) for n in ("opencv-python-headless", "opencv-python") if dist(n) != "not installed"), "none")
    return (
        f"Python {platform.python_version()}, numpy {numpy.__version__}, OpenEXR {dist('OpenEXR')}, "
        f"opencv {cv2}; {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def run(sizes: Sequence[int], runs: int, say: Callable[[str], None]) -> None:
    import numpy as np

    from daz_depthmap.exr import read_depth
    from daz_depthmap.params import DepthParams
    from daz_depthmap.render.pipeline import render
    from tests.synthetic import daz_like_depth, write_depth_exr

    say(f"{versions()}. Best of {runs} runs; each a fresh process.\n")
    say("### Fixed cost: interpreter start and imports\n")
    rows = []
    for label, code in (
        ("`python -c pass`", "pass"),
        ("`python -c 'import numpy, OpenEXR'`", "import numpy, OpenEXR"),
        ("`python -c 'import numpy, cv2, OpenEXR'`", "import numpy, cv2, OpenEXR"),
    ):
        m = measure([PY, "-c", code], runs)
        rows.append((label, f"{m['wall']:.3f}", f"{m['peak'] / MB:.0f}"))
    say("\n".join(table(("start-up", "wall s", "peak RSS MB"), rows)) + "\n")

    summary = []
    with tempfile.TemporaryDirectory(prefix="daz-bench-") as folder:
        tmp = Path(folder)
        for size in sizes:
            exr = tmp / f"daz_{size}.exr"
            write_depth_exr(exr, daz_like_depth(size, size))
            mapped = render(read_depth(exr), DepthParams()).depth
            npy = tmp / f"map_{size}.npy"
            np.save(npy, mapped)

            results = {}
            sizes_out = {}
            for variant, flags in CLI_VARIANTS.items():
                out_dir = tmp / f"{variant}_{size}"
                results[variant] = measure(
                    [PY, "-m", "daz_depthmap", str(exr), "--out_dir", str(out_dir), *flags], runs
                )
                sizes_out[variant] = ", ".join(
                    f"{p.name.split('.', 1)[1]} {p.stat().st_size / MB:.2f} MB" for p in sorted(out_dir.iterdir())
                )
            read = measure([PY, "-c", READ_ONLY, str(exr)], runs)
            write = measure([PY, "-c", WRITE_ONLY, str(npy), str(tmp / f"write_{size}.png")], runs)
            alone = read["wall"] + write["wall"]

            say(f"### {size} x {size} ({size * size / 1e6:.1f} MP), EXR {exr.stat().st_size / MB:.1f} MB\n")
            rows = [
                (CLI_LABELS[v], f"{results[v]['wall']:.3f}", f"{results[v]['peak'] / MB:.0f}", sizes_out[v])
                for v in CLI_VARIANTS
            ]
            rows.append(("EXR read alone (`OpenEXR.File`)", f"{read['wall']:.3f}", f"{read['peak'] / MB:.0f}", ""))
            rows.append(
                (
                    "PNG write alone (`output.write_png`, same map)",
                    f"{write['wall']:.3f}",
                    f"{write['peak'] / MB:.0f}",
                    f"{(tmp / f'write_{size}.png').stat().st_size / MB:.2f} MB",
                )
            )
            rows.append(("read alone + write alone", f"{alone:.3f}", "", ""))
            say("\n".join(table(("what", "wall s", "peak RSS MB", "output"), rows)))
            say(f"\nCLI default / (read + write alone) = {results['default']['wall'] / alone:.2f}x\n")

            rows = []
            for variant in CLI_VARIANTS:
                parts = stages(exr, variant, runs)
                rows.append(
                    (
                        CLI_LABELS[variant],
                        *(f"{parts[k]:.3f}" for k in ("import", "read", "stats", "map", "encode", "write")),
                    )
                )
            say(f"Stages of a CLI run in a fresh process, in-process timers (s, best of {runs} per stage):\n")
            say("\n".join(table(("run", "imports", "read", "stats", "map", "encode", "write"), rows)) + "\n")
            summary.append((size, results, alone))

        largest = max(sizes)
        mapped = np.load(tmp / f"map_{largest}.npy")
        say(f"### PNG encoders and zlib levels ({largest} x {largest} default map, best of {runs})\n")
        rows = [
            (name, level, f"{sec * 1000:.0f}", f"{size / MB:.3f}")
            for name, level, sec, size in png_levels(mapped, runs)
        ]
        say("\n".join(table(("encoder", "level", "ms", "MB"), rows)) + "\n")

    size, results, alone = summary[-1]
    wall, peak = results["default"]["wall"], results["default"]["peak"]
    say(f"### Targets at {size}² (default options)\n")
    say(
        "\n".join(
            table(
                ("target", "measured", "met"),
                [
                    (
                        "end to end within 2x of read + write alone",
                        f"{wall / alone:.2f}x",
                        "yes" if wall <= 2 * alone else "no",
                    ),
                    ("end to end under 0.5 s", f"{wall:.3f} s", "yes" if wall < 0.5 else "no"),
                    ("peak RSS under 350 MB", f"{peak / MB:.0f} MB", "yes" if peak < 350 * MB else "no"),
                ],
            )
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1200, 2048, 4096], help="square image sizes")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (best time is kept)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report (Markdown) to this file")
    parser.add_argument("--stages", nargs=2, metavar=("FILE", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stages:
        print(json.dumps(stage_times(*args.stages)))
        return 0
    if os.name != "posix":
        print("this benchmark needs a Unix system (the resource module)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    started = time.perf_counter()
    run(args.sizes, args.runs, say)
    say(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
