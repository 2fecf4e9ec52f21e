"""Frame sequences on the command line (issue 20): the frames of an image series (``NAME_000``, ``NAME_001``, ...)
are mapped with the first frame's settings frozen, so a moving figure does not make the rest flicker."""

from __future__ import annotations

import io

import numpy as np
import pytest

from daz_depthmap.canvas.sequences import group_frames, unrecognised_series
from daz_depthmap.cli.main import main
from tests.synthetic import write_depth_exr

BACKDROP, POST = (100, 10), (60, 20)  # a backdrop pixel, a pixel of a post that stays put


def frame(figure_depth: float, left: int) -> np.ndarray:
    """A backdrop at 600 cm, a post at 350 cm, a figure at ``figure_depth`` whose left edge is at ``left``."""
    depth = np.full((120, 160), 600.0, np.float32)
    depth[40:80, 10:30] = 350.0
    depth[30:100, left : left + 30] = figure_depth
    return depth


def run(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def write_walk(folder, names):
    for name, (figure, left) in zip(names, [(220.0, 50), (160.0, 80), (250.0, 110)], strict=True):
        write_depth_exr(folder / f"{name}.exr", frame(figure, left))
    return [folder / f"{name}.exr" for name in names]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_frames_of_a_sequence_get_the_first_frames_window(tmp_path, png_reader, jobs):
    files = write_walk(tmp_path, ["walk_000", "walk_001", "walk_002"])
    status, out, err = run(files[2], files[0], files[1], "--jobs", jobs)  # given out of order: frame 0 leads
    assert status == 0, err
    assert "sequence walk_###: 3 frames mapped the way its first frame walk_000.exr was (window 220..600" in out
    maps = [png_reader(tmp_path / f"walk_00{n}.depth.png") for n in range(3)]
    assert len({int(m[BACKDROP]) for m in maps}) == 1 and len({int(m[POST]) for m in maps}) == 1
    assert int(maps[0][POST]) not in (0, 255)
    assert int(maps[1][40, 90]) == 255  # frame 1's figure is nearer than frame 0's near cutoff: white


def test_without_a_sequence_each_frame_gets_its_own_window(tmp_path, png_reader):
    files = write_walk(tmp_path, ["walk_a", "walk_b", "walk_c"])
    status, out, _ = run(*files, "--jobs", "1")
    assert status == 0 and "sequence" not in out
    posts = {int(png_reader(path.with_name(f"{path.stem}.depth.png"))[POST]) for path in files}
    assert len(posts) == 3  # what the sequence rule prevents: the post flickers


def test_a_recipe_maps_a_sequence_and_no_frame_is_frozen(tmp_path):
    files = write_walk(tmp_path, ["walk_000", "walk_001", "walk_002"])
    recipe = tmp_path / "r.json"
    assert run(files[0], "--save_recipe", recipe, "--depth_cutoff", "500")[0] == 0
    status, out, _ = run(*files, "--recipe", recipe, "--jobs", "1")
    assert status == 0 and "sequence" not in out


def test_numbered_names_of_another_form_are_said(tmp_path):
    files = write_walk(tmp_path, ["walk001", "walk002", "walk003"])
    status, out, _ = run(*files, "--jobs", "1")
    assert status == 0
    assert "note: files named like walk### were mapped each with its own settings" in out


def test_grouping_and_canvas_scene_names():
    stems = ["shot_002", "other", "shot_000", "shot_001", "b_01", "b_1", "c_5"]
    (sequence,) = group_frames(stems)
    assert sequence.name == "shot_###" and sequence.positions == (2, 3, 0) and sequence.numbers == (0, 1, 2)
    assert unrecognised_series(["r.01", "r.02", "shot_001", "x9"]) == ["r.##"]


def test_canvas_sets_of_an_image_series_are_one_sequence(tmp_path, png_reader):
    for number, (figure, left) in enumerate([(220.0, 50), (160.0, 80), (250.0, 110)]):
        write_depth_exr(tmp_path / f"walk_00{number}-Canvas1-Depth.exr", frame(figure, left))
    status, out, err = run(*sorted(tmp_path.glob("*.exr")), "--jobs", "1")
    assert status == 0, err
    assert "sequence walk_###: 3 frames mapped the way its first frame walk_000 was" in out
    maps = [png_reader(tmp_path / f"walk_00{n}.depth.png") for n in range(3)]
    assert len({int(m[POST]) for m in maps}) == 1
