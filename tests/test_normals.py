"""Normal maps from Iray's Normal canvas and from the depth canvas, checked against ray-cast scenes.

The scenes (``tests.synthetic.render_canvases``) have analytic camera-space normals and planar depth seen
through DAZ Studio's default camera (65 mm lens, 36 mm film width).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daz_depthmap.canvas.camera import Camera, camera_from_header, fit_rotation, rotation_angle, rotation_from_header
from daz_depthmap.canvas.normals import (
    NormalParams,
    encode_normals,
    normal_map_from_canvas,
    normal_map_from_depth,
    normals_from_depth,
)
from daz_depthmap.depth.mapping import depth_stats, depth_window, map_linear
from daz_depthmap.exr import DepthReadError, read_depth, read_vectors, valid_depth
from daz_depthmap.output.png import encode_png
from tests.synthetic import Sphere, figure_scene, render_canvases, rotation_matrix, to_world

FACING = [128, 128, 255]
SD15_FACING = [255, 128, 128]


@pytest.fixture(scope="module")
def ball():
    """A sphere on the camera's axis (the centre pixel looks straight at it), nothing behind it."""
    return render_canvases(121, 121, (Sphere((0.0, 0.0, -300.0), 60.0),))


@pytest.fixture(scope="module")
def figure():
    """A sphere and a turned box before a backdrop, 3x3 rays per pixel (soft edges, as a renderer's filter)."""
    return render_canvases(181, 241, figure_scene(), supersample=3)


def interior(ids: np.ndarray, margin: int = 2) -> np.ndarray:
    """Pixels whose neighbourhood (``margin`` pixels around) shows one solid only."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    return (cv2.erode(ids, kernel) == cv2.dilate(ids, kernel)) & (ids >= 0)


def angles(normals: np.ndarray, reference: np.ndarray) -> np.ndarray:
    unit = reference / np.linalg.norm(reference, axis=-1, keepdims=True).clip(1e-12)
    return np.degrees(np.arccos(np.clip(np.sum(normals * unit, axis=-1), -1.0, 1.0)))


def centre_row(ball) -> tuple[int, np.ndarray]:
    row = ball.depth.shape[0] // 2
    return row, np.flatnonzero(np.isfinite(ball.depth[row]))


# ----------------------------------------------------------------------------------------------------------------
# Colours of the Normal canvas


def test_sphere_centre_is_facing_blue_left_rim_red_top_rim_green(ball):
    image = normal_map_from_canvas(ball.normals).image
    row, hit = centre_row(ball)
    assert image[row, row].tolist() == FACING, "a pixel looking straight at the sphere faces the camera"
    left = image[row, hit[0] + 1]
    assert left[0] >= 240 and abs(int(left[1]) - 128) <= 2, f"the left rim faces left: red high, got {left}"
    right = image[row, hit[-1] - 1]
    assert right[0] <= 15, f"the right rim: red low, got {right}"
    column = np.flatnonzero(np.isfinite(ball.depth[:, row]))
    top = image[column[0] + 1, row]
    assert top[1] >= 240 and abs(int(top[0]) - 128) <= 2, f"the top rim faces up: green high, got {top}"
    assert image[column[-1] - 1, row][1] <= 15, "the bottom rim: green low"


def test_sd15_convention_reverses_the_channels(ball):
    normalbae = normal_map_from_canvas(ball.normals).image
    sd15 = normal_map_from_canvas(ball.normals, NormalParams(convention="sd15"))
    np.testing.assert_array_equal(sd15.image, normalbae[..., ::-1])
    assert sd15.image[60, 60].tolist() == SD15_FACING
    assert sd15.image[0, 0].tolist() == SD15_FACING, "the background is the 1.0 model's facing colour too"
    dsine = normal_map_from_canvas(ball.normals, NormalParams(convention="dsine")).image
    np.testing.assert_array_equal(dsine, normalbae)


def test_background_facing_or_black(ball):
    facing = normal_map_from_canvas(ball.normals)
    black = normal_map_from_canvas(ball.normals, NormalParams(background="black"))
    empty = ~np.isfinite(ball.depth)
    assert (facing.image[empty] == FACING).all()
    assert (black.image[empty] == 0).all()
    np.testing.assert_array_equal(facing.image[~empty], black.image[~empty])
    assert facing.report.background_pixels == np.count_nonzero(empty)


def test_encoding_rounds_half_up_and_renormalises():
    vectors = np.array([[[0, 0, 1], [0.6, 0.8, 0], [-3, 0, 0], [0, 0, 2], [0, 0.1, 0.1], [0, 0, 0]]], np.float32)
    image = encode_normals(vectors)
    assert image[0].tolist() == [
        [128, 128, 255],  # 127.5 rounds up to 128
        [51, 230, 128],  # (1 - 0.6)/2*255 = 51; (1 + 0.8)/2*255 = 229.5 -> 230
        [255, 128, 128],  # length 3, renormalised: facing left
        [128, 128, 255],  # length 2
        FACING,  # length 0.14, below a quarter: background
        FACING,
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(*[st.floats(-1, 1, allow_nan=False) for _ in range(3)]).filter(
        lambda v: math.sqrt(sum(c * c for c in v)) > 0.5
    )
)
def test_every_colour_decodes_to_its_normal_within_one_level(vector):
    n = np.array(vector, np.float64) / np.linalg.norm(vector)
    colour = encode_normals(n.astype(np.float32).reshape(1, 1, 3))[0, 0].astype(np.float64)
    signed = n * [-1, 1, 1]  # colour = 128 + 127.5 * (-x, y, z), rounded down
    slack = 2e-6  # the encoder's offset against float error: 2**-13 of a level
    assert np.all((colour - 128) / 127.5 - slack <= signed) and np.all(signed < (colour - 127) / 127.5 + slack)
    sd15 = encode_normals(n.astype(np.float32).reshape(1, 1, 3), "sd15")[0, 0]
    assert sd15.tolist() == colour[::-1].tolist()


def test_nan_and_infinite_pixels_are_background_and_counted(ball):
    canvas = ball.normals.copy()
    canvas[60, 50] = np.nan
    canvas[60, 51, 0] = np.inf
    canvas[61, 55, 2] = -np.inf
    result = normal_map_from_canvas(canvas)
    assert result.report.nonfinite_pixels == 3
    for y, x in ((60, 50), (60, 51), (61, 55)):
        assert result.image[y, x].tolist() == FACING
    assert "3 pixels hold NaN or infinite values; they are painted as background" in result.report.notes
    assert normal_map_from_canvas(ball.normals).report.nonfinite_pixels == 0


def test_an_already_encoded_map_passes_through(figure):
    encoded = normal_map_from_canvas(figure.normals).image
    as_exr = (encoded / 255.0).astype(np.float32)  # an encoded map saved as a float EXR
    result = normal_map_from_canvas(as_exr)
    assert result.report.passthrough and result.report.space == "encoded"
    np.testing.assert_array_equal(result.image, encoded)
    assert "already holds an encoded normal map" in result.report.notes[0]
    assert not normal_map_from_canvas(figure.normals).report.passthrough, "signed normals are converted"


def test_wrong_shapes_and_options_are_refused(ball):
    with pytest.raises(ValueError, match=r"expected a \(height, width, 3\) array of normals, got shape \(121, 121\)"):
        normal_map_from_canvas(ball.depth)
    with pytest.raises(ValueError, match="convention must be one of normalbae, dsine, sd15, not 'bae'"):
        NormalParams(convention="bae")
    with pytest.raises(ValueError, match="rotation must be a rotation matrix"):
        NormalParams(rotation=((1, 0, 0), (0, 1, 0), (0, 0, -1)))


def test_normal_and_depth_canvases_of_different_sizes_are_refused(ball):
    with pytest.raises(ValueError) as info:
        normal_map_from_canvas(ball.normals[:, :100], depth=ball.depth[:100, :100])
    assert str(info.value) == (
        "the Normal canvas is 100x121 pixels but the Depth canvas is 100x100: they must come from the same render "
        "at the same size"
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_normal_map_png_holds_the_exact_colours(figure, dtype):
    image = normal_map_from_canvas(figure.normals).image.astype(dtype) * (257 if dtype == np.uint16 else 1)
    decoded = cv2.imdecode(np.frombuffer(encode_png(image), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == dtype
    np.testing.assert_array_equal(decoded[..., ::-1], image)  # OpenCV decodes to BGR


# ----------------------------------------------------------------------------------------------------------------
# Camera space is checked, world space turned


def test_a_camera_space_canvas_agrees_with_its_depth(figure):
    result = normal_map_from_canvas(figure.normals, depth=figure.depth)
    report = result.report
    assert report.space == "camera" and report.rotation is None and not report.looks_world
    assert report.depth_error_deg < 1.0
    np.testing.assert_array_equal(result.image, normal_map_from_canvas(figure.normals).image)


def test_a_canvas_seen_from_behind_is_reported_as_world_space(figure):
    world = to_world(figure.normals, rotation_matrix(yaw=160, pitch=-10))
    report = normal_map_from_canvas(world).report
    assert report.looks_world and report.facing_away > 0.9
    assert report.rotation is None, "without depth or a header matrix nothing can turn it"
    assert "this canvas is probably in world space, not camera space" in report.notes[0]
    assert "Give the Depth canvas" in report.notes[0]


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(40, -30, 0), (160, -10, 0), (-75, 20, 15)])
def test_world_space_is_turned_by_a_rotation_fitted_to_the_depth(figure, yaw, pitch, roll):
    truth = rotation_matrix(yaw, pitch, roll)
    world = to_world(figure.normals, truth).astype(np.float16)  # a half-float canvas, as renderers often write
    result = normal_map_from_canvas(world.astype(np.float32), depth=figure.depth)
    report = result.report
    assert report.rotation_source == "depth fit" and report.space == "world"
    assert rotation_angle(report.rotation @ truth.T) < 2.0, "the camera's rotation recovered within 2 degrees"
    assert report.depth_error_deg < 2.0
    expected = normal_map_from_canvas(figure.normals).image
    close = np.abs(result.image.astype(int) - expected).max(axis=2) <= 3
    assert close.mean() > 0.99, "the colours are those of the camera-space canvas"


def test_a_mirrored_canvas_is_fixed_with_a_flip(ball):
    left_handed = ball.normals * np.array([1, 1, -1], np.float32)  # z pointing away from the viewer
    as_read = normal_map_from_canvas(left_handed)
    assert as_read.report.looks_world, "nearly everything faces away: reported"
    flipped = normal_map_from_canvas(left_handed, NormalParams(flip_z=True))
    assert not flipped.report.looks_world
    np.testing.assert_array_equal(flipped.image, normal_map_from_canvas(ball.normals).image)


def test_a_mirrored_canvas_with_its_depth_is_reported_not_forced(figure):
    mirrored = figure.normals * np.array([1, 1, -1], np.float32)
    report = normal_map_from_canvas(mirrored, depth=figure.depth).report
    assert report.depth_error_deg > 10, "no rotation can undo a mirror"
    assert "the canvas may be mirrored (try a flip)" in report.notes[0]
    fixed = normal_map_from_canvas(mirrored, NormalParams(flip_z=True), depth=figure.depth).report
    assert fixed.rotation is None and fixed.depth_error_deg < 1


def test_space_option_camera_trusts_and_world_demands_a_rotation(figure):
    world = to_world(figure.normals, rotation_matrix(yaw=160))
    trusted = normal_map_from_canvas(world, NormalParams(space="camera"), depth=figure.depth).report
    assert trusted.rotation is None and trusted.looks_world and trusted.depth_error_deg > 90
    with pytest.raises(ValueError, match="a world-space Normal canvas needs a rotation to camera space"):
        normal_map_from_canvas(world, NormalParams(space="world"))
    small = to_world(figure.normals, rotation_matrix(pitch=-15))  # faces the camera: only the depth can tell
    assert normal_map_from_canvas(small).report.rotation is None
    turned = normal_map_from_canvas(small, NormalParams(space="world"), depth=figure.depth).report
    assert turned.rotation_source == "depth fit" and abs(turned.rotation_angle_deg - 15) < 1


def test_a_given_rotation_is_applied(figure):
    truth = rotation_matrix(yaw=30)
    params = NormalParams(rotation=tuple(map(tuple, truth)))
    result = normal_map_from_canvas(to_world(figure.normals, truth), params)
    assert result.report.rotation_source == "given"
    expected = normal_map_from_canvas(figure.normals).image
    assert (np.abs(result.image.astype(int) - expected).max(axis=2) <= 1).mean() > 0.999


def _openexr_world_to_camera(world_to_camera: np.ndarray, translation=(5.0, -3.0, 40.0)) -> np.ndarray:
    """A worldToCamera as OpenEXR defines it: row vectors, a left-handed camera looking down +z."""
    to_left_handed = np.diag([1.0, 1.0, -1.0]) @ world_to_camera
    matrix = np.eye(4)
    matrix[:3, :3] = to_left_handed.T
    matrix[3, :3] = translation
    return matrix


def test_rotation_from_header_reads_openexr_worldtocamera():
    truth = rotation_matrix(yaw=25, pitch=-40, roll=5)
    rotation, note = rotation_from_header({"worldToCamera": _openexr_world_to_camera(truth)})
    np.testing.assert_allclose(rotation, truth, atol=1e-9)
    assert "row vectors, as OpenEXR defines it; left-handed camera space" in note
    column = np.eye(4)
    column[:3, :3] = np.diag([1.0, 1.0, -1.0]) @ truth * 2.0  # column vectors, scaled
    column[:3, 3] = (1.0, 2.0, 3.0)
    rotation, note = rotation_from_header({"worldToCamera": column})
    np.testing.assert_allclose(rotation, truth, atol=1e-9)
    assert "column vectors" in note
    assert rotation_from_header({}) == (None, "")
    assert rotation_from_header({"worldToCamera": "camera1"})[0] is None


def test_world_space_canvas_exr_with_worldtocamera_is_turned_without_depth(tmp_path, exr_writer, exr_part, figure):
    truth = rotation_matrix(yaw=170, pitch=-20)
    world = to_world(figure.normals, truth)
    header = {"worldToCamera": _openexr_world_to_camera(truth).astype(np.float32)}
    path = exr_writer(
        tmp_path / "scene-Canvas3-Normal.exr",
        exr_part({c: world[..., i] for i, c in enumerate("RGB")}, half=True, header=header),
    )
    canvas = read_vectors(path)
    result = normal_map_from_canvas(canvas.vectors, header_rotation=rotation_from_header(canvas.attributes))
    assert result.report.rotation_source == "header" and result.report.looks_world
    expected = normal_map_from_canvas(figure.normals).image
    assert (np.abs(result.image.astype(int) - expected).max(axis=2) <= 2).mean() > 0.99


# ----------------------------------------------------------------------------------------------------------------
# Normals from the depth alone


def test_depth_normals_agree_with_the_analytic_ones_away_from_edges(figure):
    normals = normals_from_depth(figure.depth)
    objects = interior(figure.ids) & (figure.ids < 2)  # the sphere and the box, two pixels from any edge
    has = np.linalg.norm(normals, axis=2) > 0
    assert has[interior(figure.ids)].all(), "every pixel inside a surface has a normal"
    errors = angles(normals, figure.normals)[objects]
    assert np.median(errors) < 2.0 and np.percentile(errors, 95) < 5.0, (np.median(errors), np.percentile(errors, 95))


def test_euclidean_distance_needs_its_own_option(figure):
    objects = interior(figure.ids) & (figure.ids < 2)
    euclidean = normals_from_depth(figure.distance, depth_kind="euclidean")
    assert np.percentile(angles(euclidean, figure.normals)[objects], 95) < 5.0
    taken_as_planar = normals_from_depth(figure.distance)
    assert np.median(angles(taken_as_planar, figure.normals)[objects]) > 2.0, "the wrong kind bends the surfaces"


def test_the_camera_focal_length_matters(figure):
    objects = interior(figure.ids) & (figure.ids < 2)
    wide = normals_from_depth(figure.depth, camera=Camera(20.0))
    assert np.median(angles(wide, figure.normals)[objects]) > 10.0
    scene = render_canvases(121, 161, figure_scene(), focal_mm=35.0)
    camera = camera_from_header({"focalLength": 35.0})
    errors = angles(normals_from_depth(scene.depth, camera=camera), scene.normals)[interior(scene.ids)]
    assert np.percentile(errors, 95) < 5.0


def test_a_box_comes_out_as_three_flat_distinct_faces(figure):
    normals = normals_from_depth(figure.depth)
    image = normal_map_from_depth(figure.depth).image
    box = interior(figure.ids) & (figure.ids == 1)
    axes = np.asarray(figure_scene()[1].axes)
    faces = [face for face in np.concatenate([axes, -axes]) if np.count_nonzero(box & (figure.normals @ face > 0.999))]
    assert len(faces) == 3, "three faces of the turned box are visible"
    means, colours = [], []
    for face in faces:
        on_face = box & (figure.normals @ face > 0.999)
        assert np.count_nonzero(on_face) > 100
        assert np.percentile(angles(normals[on_face], face), 95) < 1.0, "each face is flat"
        means.append(normals[on_face].mean(axis=0))
        colours.append(np.median(image[on_face], axis=0))
    for i in range(3):
        for j in range(i + 1, 3):
            cosine = np.dot(means[i], means[j]) / np.linalg.norm(means[i]) / np.linalg.norm(means[j])
            assert abs(math.degrees(math.acos(cosine)) - 90) < 2, "neighbouring faces stand at right angles"
            assert np.abs(colours[i] - colours[j]).max() > 60, "and look clearly different"


def test_depth_map_colours_and_background(ball):
    result = normal_map_from_depth(ball.depth)
    row, hit = centre_row(ball)
    assert result.image[row, row].tolist() == FACING
    assert result.image[row, hit[1]][0] >= 200, "the left side faces left: red high"
    assert result.image[0, 0].tolist() == FACING
    black = normal_map_from_depth(ball.depth, NormalParams(background="black", convention="sd15"))
    assert black.image[0, 0].tolist() == [0, 0, 0]
    assert black.image[row, row].tolist() == SD15_FACING
    assert result.report.source == "depth" and "65 mm lens on a 36 mm film width" in result.report.notes[0]


def test_silhouettes_against_the_backdrop_do_not_smear(figure):
    """Pixels beside a silhouette take their own surface's slope: the backdrop next to the sphere stays facing."""
    image = normal_map_from_depth(figure.depth).image
    backdrop = figure.ids == 2
    beside = backdrop & (cv2.dilate((figure.ids < 2).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    next_to_object = beside & np.isfinite(figure.depth) & (figure.depth > 590)  # pure backdrop pixels
    assert next_to_object.sum() > 50
    assert (np.abs(image[next_to_object].astype(int) - FACING).max(axis=1) <= 1).mean() > 0.99


def test_pixels_that_mix_a_solid_and_the_backdrop_are_edges_not_surfaces(figure):
    """A silhouette pixel's depth is an average of both sides: steep steps on both sides, so no normal at all."""
    mixed = (figure.ids == -2) & (figure.depth > 320) & (figure.depth < 560)  # well between sphere/box and backdrop
    assert mixed.sum() > 100
    assert not (np.linalg.norm(normals_from_depth(figure.depth), axis=2) > 0)[mixed].any()
    assert (normal_map_from_depth(figure.depth).image[mixed] == FACING).all()
    gentle = normals_from_depth(figure.depth, max_slope=1000.0)
    assert (np.linalg.norm(gentle, axis=2) > 0)[mixed].all(), "with no edge threshold they would get one"


def test_float_depth_beats_an_8_bit_depth_map(figure):
    """ControlNet's preprocessors start from an 8-bit image; the float canvas keeps the surfaces."""
    valid = valid_depth(figure.depth)
    eight_bit = map_linear(figure.depth, valid, depth_window(depth_stats(figure.depth, valid)))
    as_depth = np.where(valid, 1000.0 - eight_bit, np.inf).astype(np.float32)
    objects = interior(figure.ids) & (figure.ids < 2)
    from_float = np.median(angles(normals_from_depth(figure.depth), figure.normals)[objects])
    from_8_bit = np.median(angles(normals_from_depth(as_depth), figure.normals)[objects])
    assert from_float < 0.5 and from_8_bit > 10 * max(from_float, 0.5)


# ----------------------------------------------------------------------------------------------------------------
# The camera from the header


@pytest.mark.parametrize(
    ("attributes", "focal", "film"),
    [
        ({}, 65.0, 36.0),
        ({"IFM_focalLength": 50.0}, 50.0, 36.0),
        ({"cameraFocalLength": "85mm", "filmApertureX": 1.417}, 85.0, 1.417 * 25.4),
        ({"focal_length": np.float32(28.0), "filmWidth": 24.0}, 28.0, 24.0),
        ({"fov": 90.0}, 18.0, 36.0),
        ({"aperture": 2.8, "focalLength": -5.0}, 65.0, 36.0),  # an f-number and an impossible focal length
    ],
)
def test_camera_from_header(attributes, focal, film):
    camera = camera_from_header(attributes)
    assert camera.focal_length_mm == pytest.approx(focal) and camera.film_width_mm == pytest.approx(film)
    assert camera.source.startswith("header") == ((focal, film) != (65.0, 36.0))


# ----------------------------------------------------------------------------------------------------------------
# The rotation fit


def test_fit_rotation_recovers_a_rotation_despite_outliers():
    rng = np.random.default_rng(7)
    truth = rotation_matrix(yaw=-120, pitch=35, roll=80)
    source = rng.normal(size=(2000, 3))
    source /= np.linalg.norm(source, axis=1, keepdims=True)
    target = source @ truth.T + rng.normal(scale=0.01, size=source.shape)
    target[:300] = rng.normal(size=(300, 3))  # 15 % garbage
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    fit = fit_rotation(source, target)
    assert rotation_angle(fit.rotation @ truth.T) < 0.5
    assert fit.well_posed and fit.median_error_deg < 1.5
    assert not fit_rotation(np.tile([0.0, 0.0, 1.0], (10, 1)), np.tile([0.0, 1.0, 0.0], (10, 1))).well_posed
    with pytest.raises(ValueError, match="at least three pairs"):
        fit_rotation(source[:2], target[:2])


# ----------------------------------------------------------------------------------------------------------------
# Reading Normal canvases


def _ramps(names, shape=(5, 7)):
    return {name: np.full(shape, i + 1, np.float32) / 10 for i, name in enumerate(names)}


@pytest.mark.parametrize(
    ("channels", "kind", "expected"),
    [
        (["A", "B", "G", "R"], "normal", ("R", "G", "B")),
        (["X", "Y", "Z"], "normal", ("X", "Y", "Z")),
        (["R", "G", "B", "Z", "normal.X", "normal.Y", "normal.Z"], "normal", ("normal.X", "normal.Y", "normal.Z")),
        (["N.x", "N.y", "N.z", "Z"], "normal", ("N.x", "N.y", "N.z")),
        (["ViewLayer.Normal.X", "ViewLayer.Normal.Y", "ViewLayer.Normal.Z"], "normal", None),
        (["R", "G", "B", "normal.X", "normal.Y", "normal.Z"], "colour", ("R", "G", "B")),
    ],
)
def test_read_vectors_picks_the_channels(tmp_path, exr_writer, exr_part, channels, kind, expected):
    expected = expected or tuple(channels)
    data = _ramps(channels)
    path = exr_writer(tmp_path / "c.exr", exr_part(data, half=True))
    canvas = read_vectors(path, kind=kind)
    assert canvas.channels == expected
    for i, name in enumerate(expected):
        np.testing.assert_array_equal(canvas.vectors[..., i], data[name].astype(np.float16).astype(np.float32))
    assert canvas.vectors.dtype == np.float16, "half stays half"
    assert canvas.name == "c.exr"


def test_read_vectors_prefers_a_part_named_normal(tmp_path, exr_writer, exr_part):
    path = exr_writer(
        tmp_path / "multi.exr",
        [exr_part(_ramps("RGB"), name="beauty"), exr_part(_ramps("XYZ"), name="normal")],
    )
    assert read_vectors(path).channels == ("normal/X", "normal/Y", "normal/Z")
    assert read_vectors(path, kind="colour").channels == ("beauty/R", "beauty/G", "beauty/B")
    with pytest.raises(DepthReadError, match="are in different parts"):
        read_vectors(path, channels=["beauty/R", "normal/Y", "normal/Z"])


def test_a_normal_canvas_with_one_channel_is_refused_clearly(tmp_path, exr_writer, exr_part):
    path = exr_writer(tmp_path / "scene-Canvas3-Normal.exr", exr_part({"Y": np.ones((4, 4), np.float32)}))
    with pytest.raises(DepthReadError) as info:
        read_vectors(path)
    assert str(info.value) == (
        "scene-Canvas3-Normal.exr: has one channel (Y); a Normal canvas needs three (R, G, B or X, Y, Z)"
    )
    two = exr_writer(tmp_path / "two.exr", exr_part(_ramps(["R", "G"])))
    with pytest.raises(DepthReadError, match=r"^two.exr: has channels G, R; a Normal canvas needs three"):
        read_vectors(two)


def test_read_vectors_explicit_channels_and_errors(tmp_path, exr_writer, exr_part):
    path = exr_writer(tmp_path / "c.exr", exr_part(_ramps(["R", "G", "B", "P.X", "P.Y", "P.Z"])))
    assert read_vectors(path, channels=["p.x", "p.y", "p.z"]).channels == ("P.X", "P.Y", "P.Z")
    with pytest.raises(DepthReadError, match=r"no channel named 'N.X'; channels: B, G, P.X, P.Y, P.Z, R"):
        read_vectors(path, channels=["N.X", "N.Y", "N.Z"])
    with pytest.raises(ValueError, match="give three channel names"):
        read_vectors(path, channels=["R", "G"])
    with pytest.raises(DepthReadError, match="above the limit of 10 pixels"):
        read_vectors(path, max_pixels=10)


def test_read_vectors_pastes_the_data_window_as_background(tmp_path, exr_writer, exr_part):
    path = exr_writer(tmp_path / "w.exr", exr_part(_ramps("RGB", (3, 4)), origin=(2, 1), display=(0, 0, 9, 7)))
    canvas = read_vectors(path)
    assert canvas.vectors.shape == (8, 10, 3)
    inside = np.zeros((8, 10), bool)
    inside[1:4, 2:6] = True
    assert (canvas.vectors[~inside] == 0).all(), "outside the data window: zero, i.e. background, not NaN"
    np.testing.assert_allclose(canvas.vectors[inside], np.tile([0.1, 0.2, 0.3], (12, 1)), rtol=1e-6)
    assert any("data window" in note for note in canvas.notes)
    result = normal_map_from_canvas(canvas.vectors)
    assert result.report.nonfinite_pixels == 0 and (result.image[~inside] == FACING).all()


@pytest.mark.parametrize("half", [True, False])
def test_a_canvas_set_from_exr_files_converts_end_to_end(tmp_path, exr_writer, exr_part, figure, half):
    world = to_world(figure.normals, rotation_matrix(yaw=50, pitch=-25))
    normal_path = exr_writer(
        tmp_path / "scene-Canvas3-Normal.exr",
        exr_part({c: world[..., i] for i, c in enumerate("RGB")}, half=half, header={"focalLength": 65.0}),
    )
    depth_path = exr_writer(tmp_path / "scene-Canvas2-Depth.exr", exr_part({"Y": figure.depth}))
    canvas, depth = read_vectors(normal_path), read_depth(depth_path)
    assert canvas.vectors.dtype == (np.float16 if half else np.float32)
    camera = camera_from_header(canvas.attributes)
    assert camera.source == "header: focalLength 65 mm, film width 36 mm"
    result = normal_map_from_canvas(canvas.vectors, depth=depth.depth, valid=depth.valid, camera=camera)
    assert result.report.rotation_source == "depth fit"
    expected = normal_map_from_canvas(figure.normals).image
    assert (np.abs(result.image.astype(int) - expected).max(axis=2) <= 3).mean() > 0.99
