"""Benchmark of the tab's server side (issue 3): what a slider move costs, what loading a file costs, memory.

    .venv/bin/python bench/bench_preview.py                 (1200² and 4096², 6 sessions of the app at 4096²)
    .venv/bin/python bench/bench_preview.py --sizes 2048 --runs 50 --sessions 0

Measures the session functions the tab's handlers call, without gradio:

* one preview update (``LoadedFile.render_preview`` after ``Workspace.set_cutoffs``) with a linear map and with
  ``compress_map``, best and median of ``--runs``;
* the PNG encoding of that preview as gradio 3 does it (Pillow, default level), which is the other half of a
  live update's server time;
* the one-off costs: loading a file (EXR read + stats + histogram + both suggestions + preview copy) and the
  ``compress_map`` ranking on its first use (which reads the file again);
* memory: the peak traced by ``tracemalloc`` while loading a file and what stays allocated per loaded file
  (numpy reports its buffers to tracemalloc), before and after the ``compress_map`` ranks exist;
* memory over sessions: the standalone app built in-process with a 4096² file on its command line, its page-load
  handler called ``--sessions`` times as gradio does for each new browser tab, then ``compress_map`` switched on
  in each; the process's resident size (VmRSS) after each step. (``bench_sessions.py`` does the same with real
  browser sessions and uploads, round after round.)

DAZ-like depth EXRs (float32 ``Y``, ZIP) from ``tests.synthetic`` are written to a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daz_depthmap.params import DepthParams  # noqa: E402
from daz_depthmap.session.batch import full_maps  # noqa: E402
from daz_depthmap.session.workspace import Workspace  # noqa: E402
from tests.synthetic import daz_like_depth, write_depth_exr  # noqa: E402


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """Best and median wall time of ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def pil_png(image: object) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")  # what gradio 3's Image.postprocess does
    return out.getvalue()


def mib(size: float) -> str:
    return f"{size / 2**20:7.1f} MiB"


def rss() -> float:
    """This process's resident size in MB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_size(side: int, folder: Path, runs: int) -> None:
    path = folder / f"daz_{side}.exr"
    write_depth_exr(path, daz_like_depth(side, side))
    print(f"\n== {side}x{side} ({path.stat().st_size / 1e6:.1f} MB EXR)")

    # one-off load cost and memory
    tracemalloc.start()
    ws = Workspace(DepthParams(depth_cutoff="auto", seed=1))
    start = time.perf_counter()
    result = ws.load([path])
    load_ms = (time.perf_counter() - start) * 1000
    kept, peak = tracemalloc.get_traced_memory()
    assert result.loaded, result.errors
    entry = ws.require_shown().file
    print(f"load (read + stats + histogram + suggestion + preview copy): {load_ms:8.1f} ms")
    print(f"memory while loading: peak {mib(peak)}; kept per loaded file {mib(kept)} (its arrays {mib(entry.nbytes)})")

    # live preview updates: alternate two cutoffs so each call really changes the map
    cutoffs = [entry.stats.nearest + (entry.stats.farthest - entry.stats.nearest) * f for f in (0.2, 0.25)]
    counter = iter(range(10**9))

    def move() -> object:
        shown = ws.require_shown()
        shown = ws.set_cutoffs(cutoffs[next(counter) % 2], None, shown.file.key, shown.view)
        return entry.render_preview(shown.params)

    preview = move()
    shape = "x".join(str(n) for n in preview.depth.shape[::-1])
    best, median = timed(move, runs)
    print(f"preview update, linear ({shape}):         best {best:6.2f} ms, median {median:6.2f} ms")
    best, median = timed(lambda: pil_png(preview.depth), max(3, runs // 5))
    print(f"  + PNG encoding as gradio 3 does (Pillow):  best {best:6.2f} ms, median {median:6.2f} ms")

    ranked = ws.update(compress_map=True)
    start = time.perf_counter()
    entry.render_preview(ranked.params)
    first_ms = (time.perf_counter() - start) * 1000
    kept_ranked, peak_ranked = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best, median = timed(move, runs)
    print(f"compress_map: first use (ranks once):   {first_ms:8.1f} ms")
    print(f"preview update, compress_map:            best {best:6.2f} ms, median {median:6.2f} ms")
    print(
        f"memory with compress_map ranks: kept {mib(kept_ranked)} (its arrays {mib(entry.nbytes)}; the rest is the "
        f"last preview), peak so far {mib(peak_ranked)}"
    )

    plain = ws.update(compress_map=False)
    start = time.perf_counter()
    maps = full_maps(plain)
    full_ms = (time.perf_counter() - start) * 1000
    print(f"full-resolution maps (download / send):   {full_ms:8.1f} ms ({maps.width}x{maps.height}, file read again)")


def bench_sessions(side: int, folder: Path, sessions: int) -> None:
    """RSS of the standalone app's process as new sessions open, each with the command line's file loaded."""
    import gc

    from daz_depthmap.app import app_context, build_app

    path = folder / f"daz_{side}_app.exr"
    write_depth_exr(path, daz_like_depth(side, side))
    gc.collect()
    start = rss()
    blocks = build_app([path], app_context(folder / "outputs"))
    page_load = next(blocks.fns[i].fn for i, dep in enumerate(blocks.dependencies) if dep["trigger"] == "load")
    options = next(
        blocks.fns[i].fn
        for i, dep in enumerate(blocks.dependencies)
        if dep["trigger"] == "input" and len(dep["inputs"]) == 6  # the session + the five option inputs
    )
    print(f"\n== the app with a {side}x{side} file on its command line, {sessions} sessions")
    print(f"RSS before building the app: {start:6.0f} MB")
    held = []  # what gradio's state holder keeps: every session's token
    for number in range(1, sessions + 1):
        out = page_load(None)
        held.append(next(value for key, value in out.items() if type(key).__name__ == "State"))
        gc.collect()
        print(f"RSS after {number} page loads:    {rss():6.0f} MB")
    for session in held:
        options(session, True, False, False, 1, "8-bit")
    gc.collect()
    print(f"RSS after compress_map in each: {rss():6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1200, 4096], help="square image sides")
    parser.add_argument("--runs", type=int, default=30, help="timed repetitions of a preview update")
    parser.add_argument("--sessions", type=int, default=6, help="page loads of the app with a 4096² file (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dazdm-bench-") as folder:
        if args.sessions:  # first, in a fresh process, so the earlier sizes' memory does not blur the figures
            bench_sessions(4096, Path(folder), args.sessions)
        for side in args.sizes:
            bench_size(side, Path(folder), args.runs)


if __name__ == "__main__":
    main()
