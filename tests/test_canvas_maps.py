"""A canvas set's normal map as the command line and the tab make it: from the Normal canvas file (checked against
the Depth canvas file), from the depth alone, the options in the user's words, the camera from the header or given,
bad inputs named; the legend's colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.canvas.normals.options import NormalOptions, describe_normals, normal_legend, set_normal_map
from daz_depthmap.exr import DepthReadError, read_depth
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


@pytest.fixture(scope="module")
def ball_files(tmp_path_factory) -> tuple[Path, Path]:
    """A sphere on the camera's axis: its Depth canvas (float Y) and Normal canvas (half R, G, B)."""
    folder = tmp_path_factory.mktemp("ball")
    scene = render_canvases(121, 121, (Sphere((0.0, 0.0, -300.0), 60.0),))
    depth, normal = folder / "ball-Canvas1-Depth.exr", folder / "ball-Canvas2-Normal.exr"
    write_depth_exr(depth, scene.depth)
    write_vectors_exr(normal, scene.normals, half=True)
    return depth, normal


def test_a_normal_canvas_becomes_exact_colours(ball_files):
    depth_path, normal_path = ball_files
    depth = read_depth(depth_path)
    result = set_normal_map(normal_path, depth, depth_path)
    assert result is not None
    image = result.image
    row = image.shape[0] // 2
    hit = np.flatnonzero(depth.valid[row])
    assert image[row, row].tolist() == FACING  # the centre faces the camera
    assert image[row, hit[0] + 1][0] >= 240  # the left rim: red high
    column = np.flatnonzero(depth.valid[:, row])
    assert image[column[0] + 1, row][1] >= 240  # the top rim: green high
    assert image[0, 0].tolist() == FACING  # background: "facing the camera"
    assert result.report.depth_error_deg is not None and result.report.depth_error_deg < 3
    assert describe_normals(result).startswith("Normal canvas in camera space, ")


def test_options_in_the_users_words(ball_files):
    depth_path, normal_path = ball_files
    depth = read_depth(depth_path)
    sd15 = set_normal_map(normal_path, depth, depth_path, NormalOptions(convention="sd15", background="black"))
    assert sd15 is not None
    row = sd15.image.shape[0] // 2
    assert sd15.image[row, row].tolist() == [255, 128, 128] and sd15.image[0, 0].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="the normal convention is one of bae, sd15, not 'dsine'"):
        NormalOptions(convention="dsine")
    with pytest.raises(ValueError, match="focal_mm must be a positive number of millimetres"):
        NormalOptions(focal_mm=-5)


def test_from_the_depth_alone_and_the_camera_given(ball_files):
    depth_path, _ = ball_files
    depth = read_depth(depth_path)
    assert set_normal_map(None, depth, depth_path) is None  # no canvas, not asked to compute
    result = set_normal_map(None, depth, depth_path, NormalOptions(from_depth=True, focal_mm=85))
    assert result is not None and result.report.source == "depth"
    assert result.report.camera.source == "given: focal length 85 mm" and result.report.camera.film_width_mm == 36
    row = result.image.shape[0] // 2
    assert result.image[row, row].tolist() == FACING
    assert "normals from the depth (85 mm lens on a 36 mm film width" in describe_normals(result)


def test_world_space_canvas_is_turned_by_the_fitted_rotation(tmp_path):
    scene = render_canvases(181, 241, figure_scene(), supersample=3)
    turn = rotation_matrix(yaw=40, pitch=-20)
    depth_path, normal_path = tmp_path / "fig-Canvas1-Depth.exr", tmp_path / "fig-Canvas2-Normal.exr"
    write_depth_exr(depth_path, scene.depth)
    write_vectors_exr(normal_path, to_world(scene.normals, turn))
    result = set_normal_map(normal_path, read_depth(depth_path), depth_path)
    assert result is not None and result.report.space == "world" and result.report.rotation_source == "depth fit"
    assert "world space, turned to camera space" in describe_normals(result)
    assert result.report.depth_error_deg is not None and result.report.depth_error_deg < 5


def test_bad_inputs_are_named(ball_files, tmp_path):
    depth_path, normal_path = ball_files
    one = tmp_path / "ball-Canvas2-Normal.exr"
    write_depth_exr(one, np.ones((121, 121), np.float32))  # a Normal canvas with one channel
    with pytest.raises(DepthReadError, match=r"ball-Canvas2-Normal\.exr: has one channel \(Y\); .*needs three"):
        set_normal_map(one, None)
    small = tmp_path / "small-Depth.exr"
    write_depth_exr(small, np.full((60, 80), 200.0, np.float32))
    with pytest.raises(DepthReadError, match=r"Normal canvas is 121x121 pixels but the Depth canvas .* is 80x60"):
        set_normal_map(normal_path, read_depth(small), small)
    nan = tmp_path / "nan-Canvas2-Normal.exr"
    vectors = np.zeros((20, 20, 3), np.float32)
    vectors[..., 2] = 1.0
    vectors[:2] = np.nan
    write_vectors_exr(nan, vectors)
    result = set_normal_map(nan, None)
    assert result is not None and result.report.nonfinite_pixels == 40
    assert any("40 pixels hold NaN or infinite values" in n for n in result.report.notes)


def test_the_legend_shows_which_way_is_left_and_up():
    bae = normal_legend("bae", 97)
    assert bae[48, 48].tolist() == FACING
    assert bae[48, 2][0] > 220 and bae[2, 48][1] > 220  # left rim red, top rim green
    assert bae[0, 0].tolist() == [0, 0, 0]
    sd15 = normal_legend("sd15", 97)
    assert sd15[48, 48].tolist() == [255, 128, 128] and sd15[48, 2][2] > 220  # left: blue in sd15
