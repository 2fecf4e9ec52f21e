"""What one API conversion of a maximal image costs, per option: the peak memory above the server's own and the time.

    .venv/bin/python bench/bench_api_memory.py [--work DIR]

Each case runs :func:`daz_depthmap.http.api.convert` (the route's work: read, map, encode, the answer written a
slice at a time) on a file at the API's pixel limit, in a fresh process, and reports its peak RSS above the RSS it
started with. The files (made once in ``--work``, ~1.3 GB of disk):

* ``typical100``: a two-figure render of 10000x10000 (the default limit of 100 megapixels), one float channel;
* ``twochannel100``: the same size with two float channels in one part (the reader's decoded-bytes limit);
* ``typical40`` and ``noise40``: 6324x6324 (compress_map's 40-megapixel limit), a render and float noise of
  many distinct depths (compress_map's worst case: every depth its own rank).

The README's "HTTP API for scripts" section quotes these figures (2 cores, numpy 1.26).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = [
    ("plain, 8-bit", "typical100", {}),
    ("plain, 8-bit, two channels", "twochannel100", {}),
    ("16-bit", "typical100", {"options": {"bits": 16}}),
    ("mask, cutoff auto", "typical100", {"options": {"mask": True, "depth_cutoff": "auto"}}),
    ("bands auto", "typical100", {"bands": "auto"}),
    ("regions (bands auto)", "typical100", {"bands": "auto", "regions": True}),
    ("regions, split_parts", "typical100", {"bands": "auto", "regions": True, "split_parts": True, "min_area": 10000}),
    ("compress_map, 16-bit", "typical40", {"options": {"compress_map": True, "bits": 16}}),
    ("compress_map, 16-bit, noise", "noise40", {"options": {"compress_map": True, "bits": 16}}),
    ("histogram", "typical100", None),
]


def make_files(work: Path) -> dict[str, Path]:
    import numpy as np
    import OpenEXR

    from tests.synthetic import two_subject_depth

    def write(path: Path, channels: dict[str, np.ndarray]) -> None:  # (the header is the file's: a new one each)
        OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, channels).write(str(path))

    files = {name: work / f"{name}.exr" for name in ("typical100", "twochannel100", "typical40", "noise40")}
    if not files["typical100"].exists():
        big = np.repeat(np.repeat(two_subject_depth(1000, 1000), 10, axis=0), 10, axis=1)
        write(files["typical100"], {"Y": big})
        write(files["twochannel100"], {"Z": big, "A": np.ones_like(big)})
        del big
    if not files["typical40"].exists():
        side = 6324
        write(files["typical40"], {"Y": two_subject_depth(side, side)})
        rng = np.random.default_rng(1)
        noise = np.exp(rng.uniform(np.log(1e-2), np.log(1e7), (side, side))).astype(np.float32)
        write(files["noise40"], {"Y": noise})
    return files


def status(field: str) -> int:
    """A field of /proc/self/status in bytes: ``VmRSS`` now, ``VmHWM`` the peak (the process's own, unlike
    ``ru_maxrss``, which a child of a large parent starts with)."""
    with open("/proc/self/status", encoding="ascii") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field + ":"))


def one(case: int, path: Path) -> None:
    from daz_depthmap.http.api import convert, histogram_report, map_job, reply_pieces

    label, _, fields = CASES[case]
    start = status("VmRSS")
    began = time.perf_counter()
    if fields is None:
        reply = histogram_report(path, path.name, None, False)
    else:
        reply = convert(path, map_job(fields), encoded=True)
    size = sum(len(piece) for piece in reply_pieces(reply))
    took = time.perf_counter() - began
    peak = status("VmHWM")
    print(json.dumps({"label": label, "extra": peak - start, "seconds": took, "answer": size}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "daz_depthmap-bench-api")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        one(args.case, args.file)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    files = make_files(args.work)
    print("| options | file | peak memory | time | answer |\n|---|---|---|---|---|")
    for number, (label, file, _) in enumerate(CASES):
        out = subprocess.run(
            [sys.executable, __file__, "--case", str(number), "--file", str(files[file])],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {label} | {file} | {result['extra'] / 2**30:.2f} GB | {result['seconds']:.1f} s | "
            f"{result['answer'] / 2**20:.1f} MB |"
        )


if __name__ == "__main__":
    main()
