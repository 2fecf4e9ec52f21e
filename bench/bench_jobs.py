"""Benchmark of ``--jobs`` (issue 20): a batch of DAZ-like frames converted with ``--jobs 1`` and ``--jobs N``.

    .venv/bin/python bench/bench_jobs.py                       (64 frames at 2048², N = the CPU count)
    .venv/bin/python bench/bench_jobs.py --size 4096 --frames 8 --jobs 1 2

The frames (float32 ``Y``, ZIP, made by ``tests.synthetic``; four different frames, copied) are written to a
temporary folder. Each run is a fresh ``python -m daz_depthmap`` process; while it runs, its process tree (the
command line, the fork server, the workers) is sampled every 20 ms from ``/proc``: the total is the largest sum of
the tree's resident sizes (VmRSS) seen at once, the per-process peaks are each process's VmHWM at its last sample,
the CPU time is the tree's user + system time (``/proc/PID/stat``) at the last samples, per frame: on a machine
shared with other work the wall-time speed-up says little, the CPU time per frame shows what the workers cost.
Throughput is frames per second of wall time, start-up of the workers included; the speed-up is against ``--jobs
1`` and is printed beside the number of CPUs. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daz_depthmap.cli.pool import cpu_count  # noqa: E402


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _kib(value: str) -> int:
    return int(value.split()[0]) if value else 0


def _tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            status = _status(int(entry))
            if "PPid" in status:
                parents[int(entry)] = int(status["PPid"])
    found, changed = {root}, True
    while changed:
        grown = found | {pid for pid, parent in parents.items() if parent in found}
        changed, found = grown != found, grown
    return sorted(found)


def measure(args: list[str]) -> dict[str, float]:
    """Run the command line; wall time, total peak RSS, the command line's and the largest worker's peak."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "daz_depthmap", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    total = 0
    peaks: dict[int, int] = {}
    cpu: dict[int, float] = {}
    while child.poll() is None:
        rss = 0
        for pid in _tree(child.pid):
            status = _status(pid)
            rss += _kib(status.get("VmRSS", ""))
            peaks[pid] = max(peaks.get(pid, 0), _kib(status.get("VmHWM", "")))
            cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))
        total = max(total, rss)
        time.sleep(0.05)
    wall = time.perf_counter() - start
    err = child.stderr.read().decode() if child.stderr else ""
    if child.returncode:
        raise SystemExit(f"the command line failed ({child.returncode}): {err[-2000:]}")
    main_peak = peaks.pop(child.pid, 0)
    return {"wall": wall, "total": total / 1024, "main": main_peak / 1024,
            "worker": max(peaks.values(), default=0) / 1024, "cpu": sum(cpu.values())}  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (``/proc/PID/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--jobs", type=int, nargs="+", default=None, help="default: 1 and the CPU count")
    parser.add_argument("--runs", type=int, default=2, help="best wall time of this many runs")
    options = parser.parse_args()
    cpus = cpu_count()
    jobs_list = options.jobs or sorted({1, cpus})
    from tests.synthetic import daz_like_depth, write_depth_exr

    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as temp:
        folder = Path(temp)
        frames = []
        for number in range(options.frames):
            frames.append(folder / f"frame_{number:03d}.exr")
            if number < 4:
                write_depth_exr(frames[-1], daz_like_depth(options.size, options.size, seed=number))
            else:
                shutil.copyfile(frames[number % 4], frames[-1])
        print(f"{options.frames} DAZ-like frames at {options.size}x{options.size}; {cpus} CPUs "
              f"({os.cpu_count()} in the machine); Python {sys.version.split()[0]}")  # fmt: skip
        print()
        print("| --jobs | wall time | frames/s | speed-up | CPUs | CPU s/frame | peak RSS total | command line "
              "| largest worker |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        base = None
        for jobs in jobs_list:
            runs = []
            for _ in range(options.runs):
                out = folder / f"out{jobs}"
                shutil.rmtree(out, ignore_errors=True)
                runs.append(measure([*map(str, frames), "--out_dir", str(out), "--jobs", str(jobs), "-q"]))
            best = min(runs, key=lambda run: run["wall"])
            total = max(run["total"] for run in runs)
            worker = max(run["worker"] for run in runs)
            rate = options.frames / best["wall"]
            base = base or rate
            shown_worker = f"{worker:.0f} MB" if jobs > 1 else "(in-process)"
            cpu = best["cpu"] / options.frames
            print(f"| {jobs} | {best['wall']:.2f} s | {rate:.1f} | {rate / base:.2f}x | {cpus} | {cpu:.3f} | "
                  f"{total:.0f} MB | {max(r['main'] for r in runs):.0f} MB | {shown_worker} |")  # fmt: skip


if __name__ == "__main__":
    main()
