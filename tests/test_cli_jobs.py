"""``--jobs N`` (issue 20): a batch converted in worker processes prints exactly what a ``--jobs 1`` run prints, in
the input order, and writes the same bytes; one bad file does not stop it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.synthetic import Sphere, daz_like_depth, render_canvases, write_depth_exr, write_vectors_exr

DAMAGED = Path(__file__).resolve().parent.parent.parent / "shared" / "testdata" / "exr-damaged"
SIZE = 97


def mixed_batch(folder: Path) -> list[str]:
    """Good depth files, a damaged file, a canvas set and a refused file, in a folder; the names in batch order
    (the set's parts apart: it is one item, at its first part's place)."""
    folder.mkdir()
    names = []
    for number in range(4):
        names.append(f"frame{number}.exr")
        write_depth_exr(folder / names[-1], daz_like_depth(160, 128, seed=number))
    damaged = sorted(DAMAGED.glob("*.exr"))
    if not damaged:
        pytest.fail(f"the damaged-file corpus is missing from {DAMAGED}", pytrace=False)
    shutil.copyfile(damaged[0], folder / "damaged.exr")
    scene = render_canvases(SIZE, SIZE, (Sphere((0.0, 0.0, -300.0), 60.0),))
    write_depth_exr(folder / "ball-Canvas1-Depth.exr", scene.depth)
    write_vectors_exr(folder / "ball-Canvas2-Normal.exr", scene.normals, half=True)
    cv2.imwrite(str(folder / "ball.png"), np.full((SIZE, SIZE, 3), 90, np.uint8))
    (folder / "notes.txt").write_text("not a depth file")
    return [names[0], "damaged.exr", names[1], "ball-Canvas1-Depth.exr", "notes.txt", names[2],
            "ball-Canvas2-Normal.exr", "ball.png", names[3], names[0]]  # fmt: skip


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".png", ".json")}


def test_jobs_3_prints_and_writes_what_jobs_1_does(tmp_path, python_runner):
    runs = {}
    for jobs in ("1", "3"):
        folder = tmp_path / f"jobs{jobs}"
        names = mixed_batch(folder)
        args = ["-m", "daz_depthmap", *names, "--normal", "--mask", "--save_recipe", "recipe.json", "--jobs", jobs]
        proc = python_runner(args, cwd=folder)
        # the summary's time is the one thing allowed to differ
        stdout = re.sub(r"written in [\d.]+ s", "written in T s", proc.stdout)
        runs[jobs] = (proc.returncode, stdout, proc.stderr, outputs(folder))
    status, stdout, stderr, written = runs["1"]
    assert status == 1 and "Traceback" not in stderr, stderr
    errors = [line.split(":")[0] for line in stderr.splitlines() if ": error: " in line]
    assert errors == ["[2/8] damaged.exr", "[5/8] notes.txt"]
    assert "recipe saved to recipe.json" in stdout and "frame0.depth.png" in written and "ball.normal.png" in written
    assert "[8/8] frame0.exr: " in stdout  # the same file twice: its outputs are written once more, as before
    assert runs["3"] == runs["1"]


def test_jobs_must_be_a_positive_number(capsys):
    from daz_depthmap.cli.main import main

    with pytest.raises(SystemExit):
        main(["x.exr", "--jobs", "0"])
    assert "expected 1 or more worker processes" in capsys.readouterr().err
