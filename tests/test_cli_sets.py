"""Canvas sets on the command line (issue 10): the canvases of one render given together are one item named after
the scene; --normal and its options; the beauty; bad inputs named in one line; a failed set writes nothing."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from daz_depthmap.cli.main import main
from tests.synthetic import (
    Sphere,
    figure_scene,
    render_canvases,
    rotation_matrix,
    to_world,
    write_depth_exr,
    write_vectors_exr,
)

FACING = [128, 128, 255]
SIZE = 121
DAMAGED = Path(__file__).resolve().parent.parent.parent / "shared" / "testdata" / "exr-damaged"


def run(*args: object) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture(scope="module")
def sphere():
    """A sphere on the camera's axis, as Iray's canvases would hold it."""
    return render_canvases(SIZE, SIZE, (Sphere((0.0, 0.0, -300.0), 60.0),))


def ball_set(folder: Path, scene, name: str = "ball", normal: bool = True, render: bool = True) -> list[Path]:
    """Write ``name-Canvas1-Depth.exr`` (+ ``-Canvas2-Normal.exr``, half floats) (+ ``name.png``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{name}-Canvas1-Depth.exr"]
    write_depth_exr(files[0], scene.depth)
    if normal:
        files.append(folder / f"{name}-Canvas2-Normal.exr")
        write_vectors_exr(files[-1], scene.normals, half=True)
    if render:
        files.append(folder / f"{name}.png")
        cv2.imwrite(str(files[-1]), np.full((SIZE, SIZE, 3), 90, np.uint8))
    return files


def rgb(png_reader, path: Path) -> np.ndarray:
    image = png_reader(path)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, (image.dtype, image.shape)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def rims(scene) -> tuple[int, int, int]:
    """The middle row/column, the first hit column of that row and the first hit row of that column."""
    middle = SIZE // 2
    hit = np.isfinite(scene.depth)
    return middle, int(np.flatnonzero(hit[middle])[0]) + 1, int(np.flatnonzero(hit[:, middle])[0]) + 1


# ----------------------------------------------------------------------------------------------------------------
# A set and its outputs


def test_a_sphere_set_writes_depth_and_normal_named_after_the_scene(tmp_path, sphere, png_reader):
    files = ball_set(tmp_path, sphere)
    render_before = files[-1].read_bytes()
    status, out, err = run(*files, "--normal")
    assert status == 0, err
    assert err == ""
    assert listing(tmp_path) == {f.name for f in files} | {"ball.depth.png", "ball.normal.png"}
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ball: canvas set: Depth ball-Canvas1-Depth.exr, ")
    assert lines[0].endswith("-> ball.depth.png, ball.normal.png")
    assert "Normal canvas in camera space" in lines[0] and "ball.png, the render as saved (not rewritten)" in out
    assert png_reader(tmp_path / "ball.depth.png").shape == (SIZE, SIZE)
    normal = rgb(png_reader, tmp_path / "ball.normal.png")
    middle, left, top = rims(sphere)
    assert normal[middle, middle].tolist() == FACING
    assert normal[middle, left][0] >= 240, "the left rim is red-high"
    assert normal[top, middle][1] >= 240, "the top rim is green-high"
    assert normal[0, 0].tolist() == FACING, "the background faces the camera"
    assert files[-1].read_bytes() == render_before, "the render is not rewritten"


def test_sd15_reverses_the_channels_and_black_background(tmp_path, sphere, png_reader):
    files = ball_set(tmp_path, sphere, render=False)
    status, _, err = run(*files, "--normal", "--normal-convention", "sd15", "--normal_background", "black")
    assert status == 0, err
    normal = rgb(png_reader, tmp_path / "ball.normal.png")
    middle, left, _ = rims(sphere)
    assert normal[middle, middle].tolist() == [255, 128, 128]
    assert normal[middle, left][2] >= 240, "sd15: facing left is blue"
    assert normal[0, 0].tolist() == [0, 0, 0]


def test_without_normal_the_normal_canvas_is_left_alone_and_said(tmp_path, sphere):
    files = ball_set(tmp_path, sphere)
    status, out, err = run(*files)
    assert status == 0, err
    assert listing(tmp_path) == {f.name for f in files} | {"ball.depth.png"}
    assert "the Normal canvas is not converted without --normal" in out


def test_a_world_space_normal_canvas_is_detected_and_turned(tmp_path, png_reader):
    scene = render_canvases(181, 241, figure_scene(), supersample=3)
    depth, normal = tmp_path / "fig-Canvas1-Depth.exr", tmp_path / "fig-Canvas2-Normal.exr"
    write_depth_exr(depth, scene.depth)
    write_vectors_exr(normal, to_world(scene.normals, rotation_matrix(yaw=40, pitch=-20)))
    status, out, err = run(depth, normal, "--normal")
    assert status == 0, err
    assert "world space, turned to camera space" in out
    warnings = err.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("fig: warning: the canvas does not match camera space; turned")
    image = rgb(png_reader, tmp_path / "fig.normal.png")
    facing = scene.normals[..., 2] > 0.999  # the backdrop faces the camera: after turning, it is FACING again
    assert np.abs(image[facing].astype(int) - FACING).max() <= 6


def test_normal_from_depth_without_a_normal_canvas(tmp_path, sphere, png_reader):
    files = ball_set(tmp_path / "asked", sphere, normal=False)
    status, out, err = run(*files, "--normal")
    assert status == 0, err
    assert "ball: warning: no normal map: the set has no Normal canvas" in err and "--normal_from_depth" in err
    assert not (tmp_path / "asked" / "ball.normal.png").exists()
    files = ball_set(tmp_path / "computed", sphere, normal=False)
    status, out, err = run(*files, "--normal_from_depth", "--focal_mm", "65")
    assert status == 0 and err == "", err
    assert "normals: normals from the depth (" in out
    normal = rgb(png_reader, tmp_path / "computed" / "ball.normal.png")
    middle, left, _ = rims(sphere)
    assert normal[middle, middle].tolist() == FACING and normal[middle, left + 1][0] >= 200


def test_a_plain_depth_file_gets_a_normal_map_from_its_depth(tmp_path, sphere, png_reader):
    plain = tmp_path / "plain.exr"
    write_depth_exr(plain, sphere.depth)
    status, out, err = run(plain, "--normal_from_depth")
    assert status == 0, err
    assert listing(tmp_path) == {"plain.exr", "plain.depth.png", "plain.normal.png"}
    assert out.startswith("plain.exr: channel Y, 121x121, ") and "normals from the depth" in out
    assert rgb(png_reader, tmp_path / "plain.normal.png")[SIZE // 2, SIZE // 2].tolist() == FACING


def test_a_set_with_a_normal_canvas_and_no_depth_writes_its_normal_map(tmp_path, sphere):
    normal = tmp_path / "ball-Canvas2-Normal.exr"
    write_vectors_exr(normal, sphere.normals)
    status, out, err = run(normal, "--normal")
    assert status == 0, err
    assert "depth: no Depth canvas, no depth map" in out and out.rstrip().endswith("-> ball.normal.png")
    assert listing(tmp_path) == {normal.name, "ball.normal.png"}
    status, _, err = run(normal, "--out_dir", tmp_path / "none")
    assert status == 1 and "ball: error: nothing to write for this set: add --normal" in err


def test_a_beauty_canvas_becomes_an_srgb_beauty_png(tmp_path, sphere, png_reader):
    colour = np.ones((SIZE, SIZE, 3), np.float32)  # white: the 99th percentile of luminance
    colour[:20, :20] = (1.0, 0.0, 0.0)
    colour[40:60, 40:60] = 0.214  # linear 0.214 is sRGB 0.5
    depth, beauty = tmp_path / "lit-Canvas1-Depth.exr", tmp_path / "lit-Canvas3-Beauty.exr"
    write_depth_exr(depth, sphere.depth)
    write_vectors_exr(beauty, colour)
    status, out, err = run(beauty, depth)
    assert status == 0, err
    assert listing(tmp_path) == {depth.name, beauty.name, "lit.depth.png", "lit.beauty.png"}
    assert "beauty: Beauty canvas lit-Canvas3-Beauty.exr exposed and sRGB-encoded" in out
    image = rgb(png_reader, tmp_path / "lit.beauty.png")
    assert image[5, 5].tolist() == [255, 0, 0] and image[100, 100].tolist() == [255, 255, 255]
    assert abs(int(image[50, 50, 0]) - 128) <= 1


# ----------------------------------------------------------------------------------------------------------------
# Bad inputs: one line naming the file, nothing written for the set


def test_a_one_channel_normal_canvas_is_refused_and_nothing_of_the_set_written(tmp_path, sphere):
    files = ball_set(tmp_path, sphere, normal=False)
    one = tmp_path / "ball-Canvas2-Normal.exr"
    write_depth_exr(one, np.ones((SIZE, SIZE), np.float32))
    status, out, err = run(*files, one, "--normal")
    assert status == 1 and out == ""
    assert err.splitlines() == [
        "ball: error: ball-Canvas2-Normal.exr: has one channel (Y); a Normal canvas needs three (R, G, B or X, Y, Z)"
    ]
    assert listing(tmp_path) == {f.name for f in files} | {one.name}


def test_canvases_of_different_sizes_are_refused(tmp_path, sphere):
    depth = ball_set(tmp_path, sphere, normal=False, render=False)[0]
    small = tmp_path / "ball-Canvas2-Normal.exr"
    write_vectors_exr(small, np.dstack([np.zeros((60, 80)), np.zeros((60, 80)), np.ones((60, 80))]).astype("f4"))
    status, _, err = run(depth, small, "--normal")
    assert status == 1
    assert err.startswith("ball: error: ball-Canvas2-Normal.exr: the Normal canvas is 80x60 pixels but the Depth ")
    assert "is 121x121" in err and len(err.splitlines()) == 1
    beauty = tmp_path / "ball-Canvas3-Beauty.exr"
    write_vectors_exr(beauty, np.ones((60, 80, 3), np.float32))
    status, _, err = run(depth, beauty)
    assert status == 1
    assert err.splitlines() == [
        "ball: error: ball-Canvas3-Beauty.exr: the Beauty canvas is 80x60 pixels but the Depth canvas "
        "ball-Canvas1-Depth.exr is 121x121: they must come from the same render at the same size"
    ]
    assert listing(tmp_path) == {depth.name, small.name, beauty.name}


def test_nan_pixels_in_a_normal_canvas_are_a_warning_and_the_map_is_written(tmp_path, sphere, png_reader):
    depth = ball_set(tmp_path, sphere, normal=False, render=False)[0]
    normals = sphere.normals.copy()
    normals[:2] = np.nan
    normals[5, 5] = np.inf
    canvas = tmp_path / "ball-Canvas2-Normal.exr"
    write_vectors_exr(canvas, normals)
    status, _, err = run(depth, canvas, "--normal", "-q")
    assert status == 0
    assert err.splitlines() == [
        f"ball: warning: {2 * SIZE + 1} pixels hold NaN or infinite values; they are painted as background"
    ]
    assert rgb(png_reader, tmp_path / "ball.normal.png")[0, 0].tolist() == FACING


def test_two_depth_canvases_of_one_scene_are_a_warning(tmp_path, sphere):
    files = ball_set(tmp_path, sphere, normal=False, render=False)
    second = tmp_path / "ball-Canvas7-Depth.exr"
    shutil.copy(files[0], second)
    status, out, err = run(second, files[0], "-q")
    assert status == 0 and out == ""
    assert err.splitlines() == [
        "ball: warning: scene 'ball' has 2 Depth canvases (ball-Canvas1-Depth.exr, ball-Canvas7-Depth.exr); using "
        "ball-Canvas1-Depth.exr"
    ]


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--normal", "--focal_mm", "-5"], "expected a positive number of millimetres, got '-5'"),
        (["--normal", "--film-mm", "nan"], "expected a positive number of millimetres, got 'nan'"),
        (["--normal", "--normal_convention", "dsine"], "invalid choice: 'dsine'"),
        (["--focal_mm", "50"], "--focal_mm applies only with --normal or --normal_from_depth"),
    ],
)
def test_bad_normal_options_are_usage_errors_before_any_file(tmp_path, flags, problem, capsys):
    missing = tmp_path / "absent-Canvas1-Depth.exr"
    try:
        status, _, err = run(missing, *flags)
    except SystemExit as exc:  # argparse's own errors
        status, err = exc.code, capsys.readouterr().err
    assert status == 2
    assert problem in err and "absent" not in err


# ----------------------------------------------------------------------------------------------------------------
# Batches: order given, names claimed once, a failed set does not stop the others


def test_a_batch_goes_on_past_a_broken_set_in_the_order_given(tmp_path, sphere, png_reader):
    good = ball_set(tmp_path / "in", sphere, name="good")
    broken = ball_set(tmp_path / "in", sphere, name="broken", normal=False, render=False)
    one = tmp_path / "in" / "broken-Canvas2-Normal.exr"
    write_depth_exr(one, np.ones((SIZE, SIZE), np.float32))
    plain = tmp_path / "in" / "plain.exr"
    write_depth_exr(plain, sphere.depth)
    out_dir = tmp_path / "out"
    given = [plain, good[1], one, good[0], broken[0], good[2]]  # each set where its first file is
    status, out, err = run(*given, "--normal_from_depth", "--out_dir", out_dir)
    assert status == 1
    assert err.splitlines() == [
        "[3/3] broken: error: broken-Canvas2-Normal.exr: has one channel (Y); a Normal canvas needs three (R, G, B or "
        "X, Y, Z)"
    ]
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["[1/3] plain.exr", "[2/3] good"]
    assert lines[2].startswith("2 of 3 sets and files written in ")
    assert listing(out_dir) == {"plain.depth.png", "plain.normal.png", "good.depth.png", "good.normal.png"}
    assert rgb(png_reader, out_dir / "good.normal.png")[SIZE // 2, SIZE // 2].tolist() == FACING


def test_plain_depth_files_keep_their_names_lines_and_wording(tmp_path, sphere):
    first, second = tmp_path / "b.exr", tmp_path / "a.exr"
    write_depth_exr(first, sphere.depth)
    write_depth_exr(second, sphere.depth)
    status, out, err = run(first, second, first)
    assert status == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["[1/3] b.exr", "[2/3] a.exr", "[3/3] b.exr"]
    assert lines[0].endswith("-> b.depth.png") and lines[3].startswith("3 of 3 files written")


def test_files_that_fit_nothing_are_refused_one_line_each(tmp_path, sphere):
    files = ball_set(tmp_path, sphere, normal=False, render=False)
    notes, stray = tmp_path / "notes.txt", tmp_path / "stray.png"
    notes.write_text("hello")
    cv2.imwrite(str(stray), np.zeros((4, 4, 3), np.uint8))
    status, out, err = run(notes, files[0], stray)
    assert status == 1
    assert err.splitlines() == [
        "[1/3] notes.txt: error: input files must end in .exr, or be a PNG/JPEG render given with its scene's "
        "canvases (not an EXR, PNG or JPEG file)",
        "[3/3] stray.png: error: input files must end in .exr, or be a PNG/JPEG render given with its scene's "
        "canvases (no canvas of a scene named 'stray' among the files)",
    ]
    assert "[2/3] ball: " in out and "1 of 3 sets and files written" in out


def test_a_set_and_a_plain_file_with_one_name_do_not_overwrite_each_other(tmp_path, sphere):
    files = ball_set(tmp_path, sphere, normal=False, render=False)
    plain = tmp_path / "BALL.exr"
    write_depth_exr(plain, np.ascontiguousarray(sphere.depth[:50, :40]))
    status, out, err = run(files[0], plain)
    assert status == 0, err
    assert listing(tmp_path) == {files[0].name, plain.name, "ball.depth.png", "BALL-2.depth.png"}
    assert "BALL-2.depth.png (renamed: another input in this run writes BALL.*)" in out


def test_damaged_files_named_as_normal_canvases_are_each_refused_in_one_line(tmp_path, sphere, python_runner):
    damaged = sorted(DAMAGED.glob("*.exr"))
    if len(damaged) < 100:
        pytest.fail(f"the damaged-file corpus is missing: expected 121 files in {DAMAGED}", pytrace=False)
    picked = damaged[:5] + [p for p in damaged if "7f171b7ab3a2" in p.name]  # the last is damaged in its pixels
    inputs = []
    for number, path in enumerate(picked, 1):
        inputs.append(tmp_path / f"x{number}-Canvas2-Normal.exr")
        shutil.copy(path, inputs[-1])
    good = ball_set(tmp_path, sphere, render=False)
    out_dir = tmp_path / "out"
    proc = python_runner(["-m", "daz_depthmap", *map(str, inputs), *map(str, good), "--normal", "--out_dir", out_dir])
    total = len(inputs) + 1
    assert proc.returncode == 1
    errors = proc.stderr.splitlines()
    assert len(errors) == len(inputs) and "Traceback" not in proc.stderr, proc.stderr
    for number, line in enumerate(errors, 1):
        assert line.startswith(f"[{number}/{total}] x{number}: error: x{number}-Canvas2-Normal.exr: "), line
        assert "unexpected failure" not in line
    assert proc.stdout.splitlines()[0].startswith(f"[{total}/{total}] ball: ")
    assert listing(out_dir) == {"ball.depth.png", "ball.normal.png"}


def test_a_set_of_other_canvases_says_there_is_nothing_to_write(tmp_path, sphere):
    toon = tmp_path / "room-Canvas5-Toon.exr"
    write_vectors_exr(toon, sphere.normals)
    status, out, err = run(toon, "--out_dir", tmp_path / "out")
    assert status == 1 and out == ""
    assert err.splitlines() == [
        "room: error: nothing to write for this set: it has no Depth, Normal or Beauty canvas, only the Toon canvas "
        "room-Canvas5-Toon.exr"
    ]
    assert not (tmp_path / "out").exists()
