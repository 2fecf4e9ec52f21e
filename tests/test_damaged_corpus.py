"""OpenEXR's own damaged-file corpus (../shared/testdata/exr-damaged, 121 fuzzer finds) through the command line and
the tab's loader: every file refused in one line naming it, nothing else on stdout or stderr, no traceback, no
hang, no large allocation; a batch goes on past all of them.

Each file runs through the command line's ``main`` in this process (its own peak measured by tracemalloc, which
numpy reports to); the batch of all of them runs once as a real ``python -m daz_depthmap`` process under an
address-space cap, which is where a child adds something: the process's own peak, fd-level output, the exit code."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.cli.main import main
from daz_depthmap.session.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT.parent / "shared" / "testdata" / "exr-damaged"
GOOD = REPO_ROOT.parent / "shared" / "testdata" / "exr" / "synthetic_daz_Y_f32_zip_1200.exr"

#: Limits per damaged file, far above what a refusal costs (0.1–0.3 s, about 60 MB).
SECONDS = 20
PEAK_MB = 400
#: Address-space cap of each child: a runaway allocation fails there instead of on the machine.
ADDRESS_SPACE = 4 << 30

#: The CLI in a child that records its own peak memory (VmHWM) at exit into the file named by $DAZDM_PEAK.
CHILD = f"""
import atexit, os, resource, runpy, sys
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
def record():
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    with open(os.environ["DAZDM_PEAK"], "w") as out:
        out.write(str(peak))
atexit.register(record)
sys.argv = ["daz_depthmap", *sys.argv[1:]]
runpy.run_module("daz_depthmap", run_name="__main__")
"""


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.exr"))


def run_cli(args: list[str], peak_file: Path, timeout: float) -> tuple[subprocess.CompletedProcess[str], float, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), DAZDM_PEAK=str(peak_file))
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - started
    peak = float(peak_file.read_text()) if peak_file.is_file() else float("nan")
    return proc, seconds, peak


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """Every damaged file through the command line's ``main``, one call each: ``(status, stdout, stderr, seconds,
    peak MB of Python and numpy allocations, output folder)`` by file name."""
    files = corpus()
    if len(files) < 100:
        pytest.fail(f"the damaged-file corpus is missing: expected 121 files in {CORPUS}", pytrace=False)
    folder = tmp_path_factory.mktemp("damaged-cli")
    found = {}
    for path in files:
        out_dir = folder / path.stem
        out, err = io.StringIO(), io.StringIO()
        tracemalloc.start()
        started = time.perf_counter()
        try:
            status = main([str(path), "--out_dir", str(out_dir)], out=out, err=err)
        finally:
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        found[path.name] = (status, out.getvalue(), err.getvalue(), seconds, peak, out_dir)
    return found


@pytest.mark.parametrize("name", [p.name for p in corpus()] or ["<missing corpus>"])
def test_each_damaged_file_is_one_line_naming_it_and_nothing_else(one_by_one: dict, name: str):
    status, stdout, stderr, seconds, peak, out_dir = one_by_one[name]
    assert status == 1, stderr
    assert stdout == "", f"stdout must stay empty: {stdout[:300]!r}"
    lines = stderr.splitlines()
    assert len(lines) == 1, f"{len(lines)} lines on stderr: {stderr[:600]!r}"
    assert lines[0].startswith(f"{name}: error: "), lines[0]
    assert "Traceback" not in stderr and "Exception" not in stderr
    assert seconds < SECONDS, f"{seconds:.1f} s"
    assert peak < PEAK_MB, f"{peak:.0f} MB"
    assert not out_dir.exists() or not any(out_dir.iterdir()), "nothing written for a damaged file"


def test_a_batch_goes_on_past_every_damaged_file(tmp_path: Path, png_reader):
    files = corpus()
    good = tmp_path / "good.exr"
    good.write_bytes(GOOD.read_bytes())
    out_dir = tmp_path / "out"
    proc, seconds, peak = run_cli([*map(str, files), str(good), "--out_dir", str(out_dir)], tmp_path / "peak", 600)
    total = len(files) + 1
    assert proc.returncode == 1
    errors = proc.stderr.splitlines()
    assert len(errors) == len(files) and "Traceback" not in proc.stderr
    for number, (line, path) in enumerate(zip(errors, files, strict=True), 1):
        assert line.startswith(f"[{number}/{total}] {path.name}: error: "), line
    out = proc.stdout.splitlines()
    assert len(out) == 2 and out[0].startswith(f"[{total}/{total}] good.exr: ") and "good.depth.png" in out[0]
    assert out[1].startswith(f"1 of {total} files written")
    assert png_reader(out_dir / "good.depth.png").shape == (1200, 1200)
    assert peak < PEAK_MB, f"{peak:.0f} MB for the whole batch"
    print(f"\n[damaged batch] {len(files)} damaged + 1 good file: {seconds:.1f} s, peak {peak:.0f} MB")


def test_the_tabs_loader_refuses_each_one_with_a_message_and_prints_nothing(capfd: pytest.CaptureFixture[str]):
    """In the WebUI the library's stdout warning is dropped (only for the reading thread) and the layout check
    refuses the damaged files before the library sees them."""
    files = corpus()
    ws = Workspace()
    result = ws.load([*files, GOOD])
    captured = capfd.readouterr()
    assert result.loaded == [GOOD.name]
    assert len(result.errors) == len(files)
    for message, path in zip(result.errors, files, strict=True):
        assert message.startswith(f"{path.name}: ") and "\n" not in message, message
    assert captured.out == "", captured.out[:500]
    # the one file whose damage only decoding finds makes OpenEXR's C library print to stderr (fd 2 cannot be
    # silenced safely inside the WebUI); nothing else prints
    library = [line for line in captured.err.splitlines() if "(EXR_ERR_" in line]
    assert library == captured.err.splitlines(), captured.err[:800]
    assert {line.split(":")[0] for line in library} <= {str(p) for p in files if "7f171b7ab3a2" in p.name}
    print(f"\n[damaged corpus, in-process] {len(library)} lines of OpenEXR's own on stderr, all about one file")


def test_the_messages_say_what_is_wrong(one_by_one: dict):
    kinds: dict[str, int] = {}
    for _, _, stderr, *_ in one_by_one.values():
        problem = stderr.split(": error: ", 1)[1]
        assert "unexpected failure" not in problem, problem
        key = "image too large" if "above the limit" in problem else problem.split(" (")[0].split(":")[0]
        kinds[key] = kinds.get(key, 0) + 1
    print("\n[damaged corpus] " + json.dumps(kinds, sort_keys=True))
    assert set(kinds) <= {
        "damaged or truncated EXR header",
        "damaged or truncated EXR pixel data",
        "deep EXR",
        "not an OpenEXR file",
        "the file is empty",
        "image too large",
    }, kinds


def test_decompression_bombs_stay_within_the_documented_memory(tmp_path: Path, exr_writer, exr_part):
    """A valid 1x1 image in a 10000x10000 display window (a few hundred bytes) cost 1.37 GB; four float channels of
    zeros (1.6 MB) decoded to 1.6 GB. At the default limit the CLI now needs at most about 6 bytes per output pixel,
    and a part whose decoded pixels would exceed 8 bytes per allowed pixel is refused before decoding."""
    window = exr_writer(
        tmp_path / "window.exr", exr_part({"Z": np.full((1, 1), 5.0, np.float32)}, display=(0, 0, 9999, 9999))
    )
    zeros = np.zeros((5000, 5000), np.float32)
    channels = exr_writer(tmp_path / "channels.exr", exr_part({name: zeros for name in ("R", "G", "B", "Z")}))
    assert window.stat().st_size < 1000 and channels.stat().st_size < 1_000_000
    proc, seconds, window_peak = run_cli([str(window), "-q"], tmp_path / "peak1", 120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert window_peak < 6.5 * 100 + 80, f"{window_peak:.0f} MB for 100 MP of output"
    proc, _, peak = run_cli([str(channels), "-q", "--max-pixels", "30000000"], tmp_path / "peak2", 120)
    assert proc.returncode == 1 and peak < 150, (proc.stderr, peak)
    assert "would take 381 MiB, above the limit of 8 bytes per allowed pixel (229 MiB)" in proc.stderr
    print(f"\n[bombs] 100 MP display window: {seconds:.1f} s, peak {window_peak:.0f} MB")
